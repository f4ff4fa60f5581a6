"""The ``pixelprobe`` command. Headless commands never import Textual."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from pixelprobe_tui import __version__
from pixelprobe_tui.errors import PixelProbeError

# Each module in pixelprobe_tui/commands/ defines register(subparsers); its parsers set ``func``.
COMMAND_MODULES: list[str] = [
    "db",
    "config",
    "check",
    "doctor",
    "scan",
    "results",
    "schedule",
    "cleanup",
    "export",
    "changes",
]


# Commands registered by a module of another name.
_COMMAND_MODULE_OF = {"mark-good": "results", "run-due": "schedule", "daemon": "schedule"}


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in *argv* (the first word that isn't an option or an option's value)."""
    args = iter(argv)
    for arg in args:
        if arg == "--database-url":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with *command*, only that command's module is loaded (when it is one of ours),
    so ``pixelprobe check`` starts without the database layers the other commands import."""
    parser = argparse.ArgumentParser(
        prog="pixelprobe",
        description="Find corrupted media files (video, audio, images). Without a command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"pixelprobe {__version__}")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="database URL (default: $PIXELPROBE_DATABASE_URL, else SQLite in the user data dir)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    module = _COMMAND_MODULE_OF.get(command or "", command)
    if module in COMMAND_MODULES:
        importlib.import_module(f"pixelprobe_tui.commands.{module}").register(sub)
        if command in sub.choices:
            return parser
        # Not where we expected it: fall back to every command (a fresh parser, so no duplicates).
        return build_parser()
    for name in COMMAND_MODULES:
        importlib.import_module(f"pixelprobe_tui.commands.{name}").register(sub)
    return parser


# Commands that check files: their checker zygote starts at once, so its ~0.3 s of library imports overlaps
# loading the commands and opening the database.
_CHECKING_COMMANDS = {"scan", "check", "doctor"}


def main(argv: Sequence[str] | None = None) -> int:
    command = _command_of(sys.argv[1:] if argv is None else argv)
    if command in _CHECKING_COMMANDS:
        from pixelprobe_tui.core.isolation import prestart

        prestart()
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        func = getattr(args, "func", None)
        if func is None:
            return _run_tui(args)
        return int(func(args) or 0)
    except PixelProbeError as exc:
        print(f"pixelprobe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pixelprobe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`pixelprobe results --json | head`): stop quietly, as Unix tools do, and
        # keep the interpreter's final flush from failing on the closed pipe.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE


def _run_tui(args: argparse.Namespace) -> int:
    """No command: open the database (upgrading it first) and run the TUI, imported only now."""
    from pixelprobe_tui.db.migrate import open_database
    from pixelprobe_tui.tui import launch

    db = open_database(getattr(args, "database_url", None))
    try:
        return launch.run(db)
    finally:
        db.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
