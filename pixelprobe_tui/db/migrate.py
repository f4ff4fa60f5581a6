"""Alembic runner: find the migration scripts, upgrade to head under a lock, open a ready database.

Every command calls :func:`open_database`, so a database is always at head before anything reads it.
Two processes starting together serialise on a lock (PostgreSQL: a transaction-scoped advisory lock;
SQLite: an exclusive file lock next to the database file, on top of SQLite's own locking).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

import pixelprobe_tui
from pixelprobe_tui.db.engine import (
    ENV_DATABASE_URL,
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    display_url,
    parse_database_url,
    resolve_database_url,
    sqlite_path,
)
from pixelprobe_tui.errors import DatabaseError

# Any constant works as long as every pixelprobe process uses the same one ("PXPRMIGR" in ASCII).
ADVISORY_LOCK_KEY = 0x5058505240494752 & 0x7FFF_FFFF_FFFF_FFFF
LOCK_TIMEOUT_S = 300.0
_LOCK_POLL_S = 0.1


def migrations_dir() -> Path:
    """The Alembic script directory: ``pixelprobe_tui/migrations`` in an installed wheel, else the checkout's
    top-level ``migrations/`` (editable install or source tree)."""
    package_dir = Path(pixelprobe_tui.__file__).resolve().parent
    for candidate in (package_dir / "migrations", package_dir.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseError(f"migration scripts not found next to {package_dir} (broken installation)")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code (no alembic.ini needed), optionally bound to an open connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _script_directory(location: str) -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", location)
    return ScriptDirectory.from_config(cfg)


def script_directory() -> ScriptDirectory:
    """The parsed migration scripts (cached per process)."""
    return _script_directory(str(migrations_dir()))


def head_revision() -> str:
    """The newest revision the scripts know."""
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise DatabaseError(
            f"migration scripts have {len(heads)} heads {heads}; expected one (broken installation)"
        )
    return heads[0]


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands against the migration scripts."""

    current: tuple[str, ...]  # revisions stored in alembic_version; empty for a new database
    head: str
    unknown: tuple[str, ...]  # stored revisions the scripts do not have: the schema is newer than the code

    @property
    def at_head(self) -> bool:
        return self.current == (self.head,)


def _status(connection: Connection) -> SchemaStatus:
    current = tuple(MigrationContext.configure(connection).get_current_heads())
    known = {rev.revision for rev in script_directory().walk_revisions()}
    unknown = tuple(rev for rev in current if rev not in known)
    return SchemaStatus(current=current, head=head_revision(), unknown=unknown)


def _refuse_newer(status: SchemaStatus, db: Database) -> None:
    if status.unknown:
        raise DatabaseError(
            f"database {db.display_url} has schema revision {', '.join(status.unknown)}, newer than this "
            f"pixelprobe knows (its newest is {status.head}): upgrade pixelprobe"
        )


def schema_status(db: Database) -> SchemaStatus:
    """Read the database's revision without changing anything."""
    with _translate_errors(db), db.engine.connect() as conn:
        return _status(conn)


@contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseError(f"cannot create the lock file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseError(
                        f"timed out after {timeout:.0f} s waiting for another pixelprobe to finish "
                        f"upgrading the database (lock {str(path)!r})"
                    ) from None
                time.sleep(_LOCK_POLL_S)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _pg_advisory_xact_lock(conn: Connection, timeout: float) -> None:
    # Transaction-scoped: released by the commit or rollback that ends the migration, even if we crash.
    deadline = time.monotonic() + timeout
    while not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY))).scalar():
        if time.monotonic() > deadline:
            raise DatabaseError(
                f"timed out after {timeout:.0f} s waiting for another pixelprobe to finish upgrading the database"
            )
        time.sleep(_LOCK_POLL_S)


def upgrade(db: Database, revision: str = "head", *, lock_timeout: float = LOCK_TIMEOUT_S) -> SchemaStatus:
    """Upgrade ``db`` to ``revision`` under the migration lock; returns the status afterwards.

    Refuses (DatabaseError) a database whose revision the scripts do not know.
    """
    return _upgrade(db, revision, lock_timeout)[1]


def _upgrade(db: Database, revision: str, lock_timeout: float) -> tuple[SchemaStatus, SchemaStatus]:
    """(status before, status after); "before" is read under the lock when the lock was needed."""
    with _translate_errors(db):
        if revision == "head":
            with db.engine.connect() as conn:
                status = _status(conn)
            _refuse_newer(status, db)
            if status.at_head:
                return status, status  # the common case: no lock, no Alembic run
        return _run_locked(db, lock_timeout, lambda cfg: command.upgrade(cfg, revision), skip_at_head=True)


def downgrade(db: Database, revision: str, *, lock_timeout: float = LOCK_TIMEOUT_S) -> SchemaStatus:
    """Downgrade ``db`` to ``revision`` (``"base"`` drops every table) under the migration lock."""
    with _translate_errors(db):
        run = lambda cfg: command.downgrade(cfg, revision)  # noqa: E731
        return _run_locked(db, lock_timeout, run, skip_at_head=False)[1]


def _run_locked(
    db: Database, lock_timeout: float, run: Callable[[Config], None], *, skip_at_head: bool
) -> tuple[SchemaStatus, SchemaStatus]:
    path = sqlite_path(db.engine.url)
    if db.dialect == "sqlite" and path is not None:
        lock_path = path.with_name(path.name + ".migrate-lock")
        with _file_lock(lock_path, lock_timeout), _sqlite_foreign_keys_off(db) as conn, conn.begin():
            before = _check_and_run(conn, db, run, skip_at_head)
    else:
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                _pg_advisory_xact_lock(conn, lock_timeout)
            before = _check_and_run(conn, db, run, skip_at_head)
    with db.engine.connect() as conn:
        return before, _status(conn)


@contextmanager
def _sqlite_foreign_keys_off(db: Database) -> Iterator[Connection]:
    """A connection with foreign keys off for the migration, on again before it goes back to the pool.

    Batch mode rebuilds a SQLite table by copy, drop and rename; with foreign keys on, the drop would cascade
    into every table that references it (verdict_history -> scan_results). The pragma only takes effect
    outside a transaction, hence the commits around it.
    """
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def _check_and_run(
    conn: Connection, db: Database, run: Callable[[Config], None], skip_at_head: bool
) -> SchemaStatus:
    # Look again under the lock: another process may have upgraded (or the schema may be newer) meanwhile.
    status = _status(conn)
    _refuse_newer(status, db)
    if not (skip_at_head and status.at_head):
        run(alembic_config(conn))
    return status


def open_database(url: str | None = None) -> Database:
    """Resolve the URL (argument > $PIXELPROBE_DATABASE_URL > default file), open it and upgrade it to head.

    Every failure (malformed or unreachable URL, unwritable directory, schema newer than the code, failed
    migration) raises DatabaseError with one clear line.
    """
    return open_and_upgrade(url).db


@dataclass(frozen=True)
class OpenedDatabase:
    """What :func:`open_and_upgrade` did: the ready database, where its URL came from, before and after."""

    db: Database
    source: str  # "--database-url" | "PIXELPROBE_DATABASE_URL" | "default"
    before: tuple[str, ...]
    after: SchemaStatus

    @property
    def upgraded(self) -> bool:
        return self.before != self.after.current


def open_and_upgrade(url: str | None = None) -> OpenedDatabase:
    """Like :func:`open_database`, but also report the revision the database had before."""
    resolved = resolve_database_url(url)
    with naming_the_url_source(resolved.source):
        db = open_unmigrated(resolved.url)
        try:
            before, after = _upgrade(db, "head", LOCK_TIMEOUT_S)
        except BaseException:
            db.dispose()
            raise
    return OpenedDatabase(db=db, source=resolved.source, before=before.current, after=after)


@contextmanager
def naming_the_url_source(source: str) -> Iterator[None]:
    """Add "(URL from $PIXELPROBE_DATABASE_URL)" to DatabaseErrors when the URL came from the environment:
    the user may not know the variable is set."""
    try:
        yield
    except DatabaseError as exc:
        if source == ENV_DATABASE_URL:
            raise DatabaseError(f"{exc} (URL from ${ENV_DATABASE_URL})") from None
        raise


def open_unmigrated(url: str) -> Database:
    """A Database for ``url`` after the checks that give clear messages, without touching its schema."""
    parsed = parse_database_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        _check_sqlite_path(path)
    return Database(url)


def _check_sqlite_path(path: Path) -> None:
    # SQLite's own message ("unable to open database file") does not say why; these checks do.
    if path.is_dir():
        raise DatabaseError(f"{str(path)!r} is a directory, not a database file")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise DatabaseError(f"cannot use {str(path)!r}: {str(parent)!r} is not a directory")
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        raise DatabaseError(
            f"database directory {str(parent)!r} is not writable "
            f"(SQLite needs to create {path.name}-wal and {path.name}-shm next to the database)"
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseError(f"database file {str(path)!r} is not readable and writable")


@contextmanager
def _translate_errors(db: Database) -> Iterator[None]:
    """Turn driver and Alembic failures into DatabaseError with one line that says what and where."""
    try:
        yield
    except DatabaseError:
        raise
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(_describe_dbapi_error(db, exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"database {db.display_url}: {_first_line(exc)}") from None
    except CommandError as exc:
        raise DatabaseError(f"cannot migrate database {db.display_url}: {_first_line(exc)}") from None
    except OSError as exc:
        raise DatabaseError(f"database {db.display_url}: {exc.strerror or exc}") from None


def _describe_dbapi_error(db: Database, exc: sa.exc.DBAPIError) -> str:
    orig = exc.orig
    detail = _first_line(orig) if orig is not None else _first_line(exc)
    if db.dialect == "sqlite":
        path = sqlite_path(db.engine.url)
        where = str(path) if path is not None else db.display_url
        if isinstance(orig, sqlite3.DatabaseError) and "file is not a database" in detail:
            return f"{where!r} is not a SQLite database"
        if "locked" in detail:
            return (
                f"database {where!r} stayed locked by another process for "
                f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s: {detail}"
            )
        return f"cannot use SQLite database {where!r}: {detail}"
    if isinstance(exc, sa.exc.OperationalError) and not exc.connection_invalidated:
        detail = detail.removeprefix("connection failed: ")
        return f"cannot connect to database {db.display_url}: {detail}"
    return f"database {db.display_url}: {detail}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


__all__ = [
    "OpenedDatabase",
    "SchemaStatus",
    "alembic_config",
    "display_url",
    "downgrade",
    "head_revision",
    "migrations_dir",
    "naming_the_url_source",
    "open_and_upgrade",
    "open_database",
    "open_unmigrated",
    "schema_status",
    "script_directory",
    "upgrade",
]
