"""The path search table holds a long path's whole path, not its index key (PostgreSQL only).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 20:50:00

Revision 0005 stores a path too long for an index entry under a key in ``file_path`` and the whole path in
``file_path_full``. The search table of revision 0004 copied ``file_path``, so a search for text in the middle
of such a path could miss it. Its triggers now copy ``coalesce(file_path_full, file_path)`` (what the file is
called) and follow changes of either column; the rows of long paths are refreshed here. The update trigger
still fires only for an UPDATE that sets one of the two columns to a different value. SQLite needs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "scan_result_paths"
_WHOLE = "coalesce(file_path_full, file_path)"


def _replace(insert_source: str, update_value: str, columns: str, when: str) -> None:
    conn = op.get_bind()
    conn.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION scan_result_paths_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {TABLE} (id, file_path) SELECT id, {insert_source} FROM inserted_rows; "
        "RETURN NULL; END $$"
    )
    conn.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION scan_result_paths_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"UPDATE {TABLE} SET file_path = {update_value} WHERE id = NEW.id; RETURN NULL; END $$"
    )
    conn.exec_driver_sql("DROP TRIGGER scan_result_paths_update ON scan_results")
    conn.exec_driver_sql(
        f"CREATE TRIGGER scan_result_paths_update AFTER UPDATE OF {columns} ON scan_results FOR EACH ROW "
        f"WHEN ({when}) EXECUTE FUNCTION scan_result_paths_update()"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace(
        _WHOLE,
        "coalesce(NEW.file_path_full, NEW.file_path)",
        "file_path, file_path_full",
        "OLD.file_path IS DISTINCT FROM NEW.file_path OR OLD.file_path_full IS DISTINCT FROM NEW.file_path_full",
    )
    op.get_bind().exec_driver_sql(
        f"UPDATE {TABLE} p SET file_path = r.file_path_full FROM scan_results r "
        "WHERE r.id = p.id AND r.file_path_full IS NOT NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace("file_path", "NEW.file_path", "file_path", "OLD.file_path IS DISTINCT FROM NEW.file_path")
    op.get_bind().exec_driver_sql(
        f"UPDATE {TABLE} p SET file_path = r.file_path FROM scan_results r "
        "WHERE r.id = p.id AND r.file_path_full IS NOT NULL"
    )
