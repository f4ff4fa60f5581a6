"""System-level errors that the CLI and the TUI turn into one clear line (exit status 2)."""


class PixelProbeError(Exception):
    """A problem the user can fix: bad configuration, unreachable database, bad arguments.

    The message is shown as is, on one line, without a traceback.
    """


class DatabaseError(PixelProbeError):
    """The database cannot be reached, opened or upgraded."""


class ConfigError(PixelProbeError):
    """An unknown configuration key or an invalid value."""
