"""Start the TUI: prepare the terminal environment, then import Textual and run the app.

This module imports no Textual at import time: Textual reads ``TEXTUAL_FPS`` and ``TEXTUAL_ANIMATIONS`` when
it is first imported, so they must be set before. ``pixelprobe`` (no command) calls :func:`run`.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.errors import ConfigError

# Over SSH every repaint crosses the network: fewer frames, no animations.
REMOTE_FPS = "15"
KEYMAP_ENV = "PIXELPROBE_KEYMAP"


def is_remote_session(environ: Mapping[str, str]) -> bool:
    """True when the terminal is at the other end of an SSH connection (or mosh)."""
    return any(environ.get(name) for name in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")) or (
        "mosh" in environ.get("TERM_PROGRAM", "").lower()
    )


def prepare_environment(environ: MutableMapping[str, str]) -> bool:
    """Turn animations off and throttle repaints for remote or basic terminals; returns "remote".

    Values the user set explicitly are kept.
    """
    remote = is_remote_session(environ)
    basic = environ.get("TERM", "") in ("linux", "dumb", "vt100", "vt220")
    if remote or basic:
        environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    if remote:
        environ.setdefault("TEXTUAL_FPS", REMOTE_FPS)
    return remote


def keymap_path(environ: Mapping[str, str]) -> Path:
    """Where the key remapping file lives: ``$PIXELPROBE_KEYMAP``, else ``keymap.toml`` in the config dir."""
    if environ.get(KEYMAP_ENV):
        return Path(environ[KEYMAP_ENV])
    from platformdirs import user_config_dir

    return Path(user_config_dir("pixelprobe")) / "keymap.toml"


def load_keymap(path: Path) -> dict[str, str]:
    """Binding id -> keys, from a TOML file with a ``[keymap]`` table (``"results.mark_good" = "m"``).

    A missing file is an empty keymap; a malformed one is a ConfigError with one line.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read key map {str(path)!r}: {exc}") from None
    table = data.get("keymap", {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError(f"key map {str(path)!r}: [keymap] must map binding ids to key strings")
    return {str(k): v for k, v in table.items()}


def run(db: Database, environ: MutableMapping[str, str] | None = None) -> int:
    """Run the app on ``db`` (already upgraded) until the user quits; returns the exit code."""
    env = os.environ if environ is None else environ
    remote = prepare_environment(env)
    keymap = load_keymap(keymap_path(env))
    from pixelprobe_tui.services.config import ConfigService
    from pixelprobe_tui.services.logs import install_db_logging
    from pixelprobe_tui.services.schedules import start_in_process
    from pixelprobe_tui.tui.app import PixelProbeApp

    # Log records go to the database (the Logs screen reads them), never to the terminal the app draws on;
    # scheduled runs happen while the app is open.
    handler = install_db_logging(db, ConfigService(db).load())
    scheduler = start_in_process(db)
    try:
        app = PixelProbeApp(db, remote=remote, keymap=keymap)
        app.run()
        return app.return_code or 0
    finally:
        scheduler.stop()
        logging.getLogger().removeHandler(handler)
        handler.close()
