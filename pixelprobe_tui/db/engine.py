"""Engine factory: SQLite in the user data dir by default, PostgreSQL through ``postgresql+psycopg://``.

URL resolution order: ``--database-url`` > ``PIXELPROBE_DATABASE_URL`` > the default SQLite file.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from pixelprobe_tui.errors import DatabaseError

ENV_DATABASE_URL = "PIXELPROBE_DATABASE_URL"

# SQLite waits this long for another writer before giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_POOL_SIZE = 10
POSTGRES_CONNECT_TIMEOUT_S = 10


def default_database_path() -> Path:
    """The SQLite file used when no URL is given: ``pixelprobe.db`` in the platform's user data dir."""
    import platformdirs

    return Path(platformdirs.user_data_dir("pixelprobe", appauthor=False)) / "pixelprobe.db"


@dataclass(frozen=True)
class ResolvedURL:
    url: str
    source: str  # "--database-url" | "PIXELPROBE_DATABASE_URL" | "default"


def resolve_database_url(cli_value: str | None = None) -> ResolvedURL:
    """Pick the database URL: the command-line value, else the environment, else the default SQLite file."""
    if cli_value:
        return ResolvedURL(cli_value, "--database-url")
    env = os.environ.get(ENV_DATABASE_URL)
    if env:
        return ResolvedURL(env, ENV_DATABASE_URL)
    return ResolvedURL(f"sqlite:///{default_database_path()}", "default")


def parse_database_url(url: str) -> URL:
    """Parse and normalise ``url``; raises DatabaseError with one line when it is malformed or unsupported.

    ``postgresql://`` and ``postgres://`` mean the psycopg 3 driver, the only PostgreSQL driver we ship.
    """
    expected = "expected sqlite:///PATH or postgresql+psycopg://USER@HOST[:PORT]/DB"
    try:
        parsed = make_url(url.strip())
    except Exception:
        raise DatabaseError(f"malformed database URL {_redact(url)!r}: {expected}") from None
    try:
        _ = parsed.port  # parsed lazily: a non-numeric port fails only here
    except ValueError:
        raise DatabaseError(f"malformed database URL {_redact(url)!r}: the port is not a number") from None
    name = parsed.drivername
    if name in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if name in ("sqlite", "sqlite+pysqlite"):
        return parsed
    raise DatabaseError(
        f"unsupported database URL {display_url(parsed)!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


def display_url(url: str | URL) -> str:
    """The URL with any password hidden, for messages and logs."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return _redact(url)


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    db = url.database
    if url.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser()


def _redact(url: str) -> str:
    # Best effort for strings make_url could not parse: drop anything between "://" and "@".
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def _switch_to_wal(cur) -> None:  # type: ignore[no-untyped-def]
    """Put the database in WAL mode (a persistent setting: later connections find it done).

    The switch needs the database to itself, and SQLite can answer "database is locked" at once, busy timeout
    or not, when processes open a new database together: retry for a while, as the other one is switching too.
    """
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    try:
        # busy_timeout first: switching to WAL itself needs a lock another process may hold.
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        cur.close()


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings each backend needs. Raises DatabaseError on a bad URL.

    SQLite: WAL, synchronous=NORMAL, busy_timeout, foreign_keys=ON on every connection; the parent directory
    is created. PostgreSQL: psycopg 3, a pool of 10 with pre-ping.
    """
    parsed = parse_database_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = sqlite_path(parsed)
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseError(
                        f"cannot create the database directory {str(path.parent)!r}: {exc.strerror or exc}"
                    ) from None
            with warnings.catch_warnings():
                # The driver only warns about query arguments it ignores; a typo there must not pass silently.
                warnings.simplefilter("error", sa.exc.SAWarning)
                engine = sa.create_engine(
                    parsed,
                    connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                )
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return sa.create_engine(
            parsed,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=5,
            pool_pre_ping=True,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        )
    except DatabaseError:
        raise
    except Exception as exc:
        # Unknown query arguments, missing driver modules and the like.
        raise DatabaseError(f"cannot use database URL {display_url(parsed)!r}: {_first_line(exc)}") from None


class Database:
    """An engine and the one session factory of the process."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with the password hidden."""
        return display_url(self.engine.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as s:
            yield s

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"
