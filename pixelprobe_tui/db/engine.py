"""Engine factory: SQLite in the user data dir by default, PostgreSQL through ``postgresql+psycopg://``.

URL resolution order: ``--database-url`` > ``PIXELPROBE_DATABASE_URL`` > the default SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from pixelprobe_tui.errors import DatabaseError

ENV_DATABASE_URL = "PIXELPROBE_DATABASE_URL"


def default_database_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("pixelprobe", appauthor=False)) / "pixelprobe.db"


@dataclass(frozen=True)
class ResolvedURL:
    url: str
    source: str  # "--database-url" | "PIXELPROBE_DATABASE_URL" | "default"


def resolve_database_url(cli_value: str | None = None) -> ResolvedURL:
    if cli_value:
        return ResolvedURL(cli_value, "--database-url")
    env = os.environ.get(ENV_DATABASE_URL)
    if env:
        return ResolvedURL(env, ENV_DATABASE_URL)
    return ResolvedURL(f"sqlite:///{default_database_path()}", "default")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings each backend needs. Raises DatabaseError on a bad URL."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseError(f"malformed database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(
            parsed,
            pool_size=10,
            max_overflow=5,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10},
        )
    raise DatabaseError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


class Database:
    """An engine and the one session factory of the process."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as s:
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
