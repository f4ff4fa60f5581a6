"""A small partial index of the rows whose path is stored under a key (SQLite only).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 21:05:00

The results view's path search must match a long path's whole path (``file_path_full``, revision 0005), not
only its key. On SQLite the search walks ``file_path`` in an index, which has no ``file_path_full``: asking for
it on every row read the table for every row (2.2 s instead of 0.2 s on 1,000,000 results). The search now
asks ``file_path`` first and looks at ``file_path_full`` only for the rows that have one, which this index
lists (it holds just those rows, so it costs nothing for the others). PostgreSQL searches its
``scan_result_paths`` table (revisions 0004, 0006) instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_scan_results_long_paths"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.get_bind().exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON scan_results (id) WHERE file_path_full IS NOT NULL"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.get_bind().exec_driver_sql(f"DROP INDEX IF EXISTS {INDEX}")
