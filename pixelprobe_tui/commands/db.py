"""``pixelprobe db``: upgrade the database schema to head, or show its revision."""

from __future__ import annotations

import argparse

from pixelprobe_tui.commands import add_database_option
from pixelprobe_tui.db.engine import ResolvedURL, resolve_database_url, sqlite_path
from pixelprobe_tui.db.migrate import (
    head_revision,
    naming_the_url_source,
    open_and_upgrade,
    open_unmigrated,
    schema_status,
)
from pixelprobe_tui.errors import DatabaseError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``db upgrade`` and ``db current``."""
    db = subparsers.add_parser("db", help="database schema: upgrade, current revision")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    upgrade = actions.add_parser(
        "upgrade", help="create the database or upgrade its schema to the newest revision"
    )
    add_database_option(upgrade)
    upgrade.set_defaults(func=run_upgrade)

    current = actions.add_parser("current", help="show the schema revision of the database (changes nothing)")
    add_database_option(current)
    current.set_defaults(func=run_current)


def _revisions(revs: tuple[str, ...]) -> str:
    return ", ".join(revs) if revs else "none (empty database)"


def run_upgrade(args: argparse.Namespace) -> int:
    """Upgrade to head under the migration lock and say what changed."""
    opened = open_and_upgrade(getattr(args, "database_url", None))
    try:
        where = f"{opened.db.display_url} (from {opened.source})"
        if opened.upgraded:
            print(f"upgraded {where} from {_revisions(opened.before)} to {opened.after.head} (head)")
        else:
            print(f"{where} is already at {opened.after.head} (head)")
    finally:
        opened.db.dispose()
    return 0


def run_current(args: argparse.Namespace) -> int:
    """Print the database's revision and the newest one this pixelprobe knows, without upgrading."""
    resolved = resolve_database_url(getattr(args, "database_url", None))
    with naming_the_url_source(resolved.source):
        return _show_current(resolved)


def _show_current(resolved: ResolvedURL) -> int:
    head = head_revision()
    db = open_unmigrated(resolved.url)
    try:
        path = sqlite_path(db.engine.url)
        if path is not None and not path.exists():
            # Don't let SQLite create an empty file just to report that it's empty.
            print(f"{db.display_url} (from {resolved.source}): no database file yet; head is {head}")
            return 0
        status = schema_status(db)
    finally:
        db.dispose()
    if status.unknown:
        raise DatabaseError(
            f"database {db.display_url} has schema revision {', '.join(status.unknown)}, newer than this "
            f"pixelprobe knows (its newest is {head}): upgrade pixelprobe"
        )
    state = "up to date" if status.at_head else "needs `pixelprobe db upgrade`"
    print(
        f"{db.display_url} (from {resolved.source}): revision {_revisions(status.current)}; head {head}; {state}"
    )
    return 0
