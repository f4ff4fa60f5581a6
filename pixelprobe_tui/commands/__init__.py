"""Command modules of the ``pixelprobe`` CLI, one per command group, and what they share."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `pixelprobe check` must not pay for the database layers
    from pixelprobe_tui.db.engine import Database

DATABASE_URL_HELP = "database URL (default: $PIXELPROBE_DATABASE_URL, else SQLite in the user data dir)"


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """Accept ``--database-url`` after a subcommand too (``pixelprobe db upgrade --database-url URL``).

    The default is SUPPRESS so a subcommand that doesn't get the option keeps the value given before it.
    """
    parser.add_argument("--database-url", metavar="URL", default=argparse.SUPPRESS, help=DATABASE_URL_HELP)


def database_from_args(args: argparse.Namespace) -> Database:
    """Open the database the arguments name (or the default) and upgrade it to head; DatabaseError on failure."""
    from pixelprobe_tui.db.migrate import open_database

    return open_database(getattr(args, "database_url", None))


@contextmanager
def cancelled_by_signals(cancel: Callable[[], object]) -> Iterator[None]:
    """Call ``cancel()`` on SIGINT or SIGTERM while the block runs (the run then ends cleanly), then restore."""

    def handler(_signum: int, _frame: object) -> None:
        cancel()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
