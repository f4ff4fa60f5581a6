"""scan_results.file_path_full: paths too long for an index entry are stored beside their key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 20:20:00

Why. PostgreSQL refuses a btree entry over 2704 bytes, so a file whose path is longer (Linux allows 4095
bytes; the database form of a name that is not UTF-8 can be four times its bytes) could not be stored under
the unique index idx_scan_results_file_path, and the failed insert stopped the whole scan.

What. For such a path ``file_path`` holds a key (``discovery.db_path_key``: the path's beginning, a SHA-256
digest of the whole, the end of the file name; at most ``DB_PATH_MAX_BYTES``), still unique and indexed by the
seed's index, and the new nullable column ``file_path_full`` holds the whole path. Rows already longer than
that (SQLite has no such limit, so a database could have them) are converted here, so the next scan finds
them by their key instead of adding the same file again. The downgrade puts the whole paths back (not on
PostgreSQL, whose index can't hold them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _results() -> sa.Table:
    return sa.table(
        "scan_results",
        sa.column("id", sa.Integer),
        sa.column("file_path", sa.Text),
        sa.column("file_path_full", sa.Text),
    )


def upgrade() -> None:
    with op.batch_alter_table("scan_results") as batch:
        batch.add_column(sa.Column("file_path_full", sa.Text(), nullable=True))
    # The key rule lives in discovery (it is part of the stored format, so it never changes).
    from pixelprobe_tui.core.discovery import DB_PATH_MAX_BYTES, db_path_key

    conn = op.get_bind()
    t = _results()
    # A character is at most four bytes: a path over the limit in bytes has more than limit / 4 characters,
    # so only those candidates come back to be measured here.
    long_rows = conn.execute(
        sa.select(t.c.id, t.c.file_path).where(sa.func.length(t.c.file_path) > DB_PATH_MAX_BYTES // 4)
    ).all()
    for row in long_rows:
        key = db_path_key(row.file_path)
        if key != row.file_path:
            conn.execute(
                sa.update(t).where(t.c.id == row.id).values(file_path=key, file_path_full=row.file_path)
            )


def downgrade() -> None:
    conn = op.get_bind()
    t = _results()
    # PostgreSQL's index can't hold the whole paths: there the keys stay (the paths are lost with the column).
    if conn.dialect.name != "postgresql":
        conn.execute(sa.update(t).where(t.c.file_path_full.is_not(None)).values(file_path=t.c.file_path_full))
    with op.batch_alter_table("scan_results") as batch:
        batch.drop_column("file_path_full")
