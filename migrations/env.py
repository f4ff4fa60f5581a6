"""Alembic environment for PixelProbe: one history for SQLite and PostgreSQL.

The runner (pixelprobe_tui.db.migrate) passes an open connection in ``config.attributes["connection"]``
so the migration runs inside its lock and transaction. The plain ``alembic`` command works too: it uses
``sqlalchemy.url`` from the config if set, else the URL pixelprobe itself would use.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from pixelprobe_tui.db.engine import create_engine, resolve_database_url
from pixelprobe_tui.db.models import Base, UTCDateTime, include_in_autogenerate

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our type decorators as the plain SQLAlchemy types they store, so scripts don't import models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        include_object=include_in_autogenerate,
        **kwargs,
    )


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or resolve_database_url().url


def _run_on(connection: Connection) -> None:
    # Batch mode on SQLite: its ALTER TABLE can't change or drop most things, so Alembic copies the table.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as connection:
            _run_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
