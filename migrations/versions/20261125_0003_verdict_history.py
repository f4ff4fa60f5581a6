"""verdict_history: a file's earlier verdicts, one row per change (not per scan).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:05:00

A new table, so nothing existing changes: older code that does not know it keeps working (deleting a
``scan_results`` row removes its history through the foreign key's ON DELETE CASCADE; SQLite enforces it
because the engine turns ``foreign_keys`` on). Boolean defaults are sa.false() as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "verdict_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Uuid(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scan_status", sa.String(length=20), nullable=False),
        _flag("is_corrupted"),
        _flag("has_warning"),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("file_hash", sa.String(length=160), nullable=True),
        _flag("deep_scanned"),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["scan_results.id"],
            name=op.f("fk_verdict_history_result_id_scan_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdict_history")),
    )
    op.create_index("ix_verdict_history_result_id_checked_at", "verdict_history", ["result_id", "checked_at"])


def downgrade() -> None:
    # Dropping the table drops its index and foreign key.
    op.drop_table("verdict_history")
