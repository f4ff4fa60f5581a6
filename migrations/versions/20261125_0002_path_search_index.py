"""A trigram index for the results view's path search on PostgreSQL (when pg_trgm can be had).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:58:00

The path search is a case-insensitive substring match (``file_path ILIKE '%text%'``): no B-tree helps, so
on 1,000,000 results PostgreSQL read the whole table for it (0.3-1.3 s). A GIN index with pg_trgm's
``gin_trgm_ops`` answers it from the index (about 15 ms). pg_trgm ships with PostgreSQL's contrib package and
is a trusted extension (a database owner may create it), but a server may lack contrib or the role may lack
the right: then nothing is created and the search stays a scan. SQLite needs nothing (its scan is fast
enough). The index is outside the models (see ``OPTIONAL_INDEXES`` there), since whether it exists depends
on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_scan_results_file_path_trgm"


def _have_pg_trgm(conn: sa.Connection) -> bool:
    """Make sure the extension is there; False when this server or role cannot have it."""
    available = conn.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first()
    if available is None:
        return False
    try:
        # A savepoint: a refusal (no privilege) must not abort the migration's transaction.
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or not _have_pg_trgm(conn):
        return
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON scan_results USING gin (file_path gin_trgm_ops)"
    )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        # The extension stays: other objects may use it, and it costs nothing unused.
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {INDEX}")
