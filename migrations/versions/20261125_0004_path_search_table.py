"""Move the path search's trigram index off scan_results, into a narrow side table (PostgreSQL only).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 20:10:00

Why. On PostgreSQL an UPDATE that changes an indexed column is not a HOT update: the new row version gets an
entry in every index of the table. ``marked_as_good`` is indexed (the seed's idx_scan_results_marked_good, which
stays), so marking files good, and every rescan (the scan writer rewrites the row; ``scan_date`` is indexed too),
also paid for a GIN insert of ~40 trigrams per row into the pg_trgm index of revision 0002: on 1,000,000 results
that index alone added about 90 ms of server CPU (and 12 MB of WAL) to marking 10,000 files good.

What. ``scan_result_paths (id, file_path)`` holds a copy of each path with the GIN index; the path search reads
it (``services.browse``). Triggers keep it in step with scan_results: rows inserted (statement level, from the
transition table, so a batch of 100 costs one INSERT), a path changed (row level, and only for an UPDATE that
sets ``file_path`` to a different value: nothing the scan writer or a mark does), rows deleted, the table
truncated. The table exists on every PostgreSQL (the search then scans a table a third as wide) and gets the
GIN index where pg_trgm can be had; SQLite needs nothing. Like revision 0002's index it is outside the models
(``models.OPTIONAL_TABLES``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "scan_result_paths"
INDEX = "ix_scan_result_paths_file_path_trgm"
OLD_INDEX = "ix_scan_results_file_path_trgm"  # revision 0002's, on scan_results

# One function per event; each trigger is named after its function.
_FUNCTIONS = {
    "scan_result_paths_insert": f"""
        INSERT INTO {TABLE} (id, file_path) SELECT id, file_path FROM inserted_rows;
        RETURN NULL;""",
    "scan_result_paths_update": f"""
        UPDATE {TABLE} SET file_path = NEW.file_path WHERE id = NEW.id;
        RETURN NULL;""",
    "scan_result_paths_delete": f"""
        DELETE FROM {TABLE} p USING deleted_rows d WHERE p.id = d.id;
        RETURN NULL;""",
    "scan_result_paths_truncate": f"""
        TRUNCATE {TABLE};
        RETURN NULL;""",
}
_TRIGGERS = {
    "scan_result_paths_insert": "AFTER INSERT ON scan_results REFERENCING NEW TABLE AS inserted_rows "
    "FOR EACH STATEMENT",
    "scan_result_paths_update": "AFTER UPDATE OF file_path ON scan_results FOR EACH ROW "
    "WHEN (OLD.file_path IS DISTINCT FROM NEW.file_path)",
    "scan_result_paths_delete": "AFTER DELETE ON scan_results REFERENCING OLD TABLE AS deleted_rows "
    "FOR EACH STATEMENT",
    "scan_result_paths_truncate": "AFTER TRUNCATE ON scan_results FOR EACH STATEMENT",
}


def _have_pg_trgm(conn: sa.Connection) -> bool:
    """Make sure the extension is there; False when this server or role cannot have it (as in 0002)."""
    if conn.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first() is None:
        return False
    try:
        with conn.begin_nested():  # a refusal must not abort the migration's transaction
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, file_path text NOT NULL)")
    conn.exec_driver_sql(f"INSERT INTO {TABLE} (id, file_path) SELECT id, file_path FROM scan_results")
    for name, body in _FUNCTIONS.items():
        conn.exec_driver_sql(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$"
        )
        conn.exec_driver_sql(f"CREATE TRIGGER {name} {_TRIGGERS[name]} EXECUTE FUNCTION {name}()")
    if _have_pg_trgm(conn):
        conn.exec_driver_sql(f"CREATE INDEX {INDEX} ON {TABLE} USING gin (file_path gin_trgm_ops)")
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {OLD_INDEX}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for name in _FUNCTIONS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON scan_results")
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")  # drops its index
    if _have_pg_trgm(conn):
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {OLD_INDEX} ON scan_results USING gin (file_path gin_trgm_ops)"
        )
