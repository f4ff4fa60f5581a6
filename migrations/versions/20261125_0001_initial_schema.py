"""Initial schema: the 11 seed tables, the seed's indexes and PixelProbe TUI's added columns.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 17:12:33

Written for both backends: boolean defaults are sa.false()/sa.true() (SQLite renders 0/1, PostgreSQL
false/true), timestamps are timezone-aware (stored naive UTC on SQLite by the models' UTCDateTime).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _flag(name: str, default: bool) -> sa.Column:
    return sa.Column(name, sa.Boolean(), server_default=sa.true() if default else sa.false(), nullable=False)


def _count(name: str, default: str = "0", type_: type[sa.types.TypeEngine] = sa.Integer) -> sa.Column:
    return sa.Column(name, type_(), server_default=default, nullable=False)


def _progress_columns() -> list[sa.Column]:
    """The columns scan_state, cleanup_state and file_changes_state share."""
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("phase", sa.String(length=40), server_default="idle", nullable=False),
        _count("files_processed"),
        _count("total_files"),
        _ts("start_time"),
        _ts("end_time"),
        _flag("is_cancelled", False),
    ]


def upgrade() -> None:
    op.create_table(
        "scan_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("file_hash", sa.String(length=160), nullable=True),
        _flag("is_corrupted", False),
        sa.Column("corruption_details", sa.Text(), nullable=True),
        _ts("scan_date"),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_type", sa.String(length=100), nullable=True),
        sa.Column("scan_tool", sa.String(length=200), nullable=True),
        sa.Column("scan_duration", sa.Float(), nullable=True),
        _flag("has_warning", False),
        sa.Column("warning_details", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("media_info", sa.Text(), nullable=True),
        _flag("file_exists", True),
        _flag("marked_as_good", False),
        _ts("marked_as_good_at"),
        sa.Column("marked_as_good_by", sa.String(length=200), nullable=True),
        sa.Column("scan_status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("media_family", sa.String(length=20), nullable=True),
        sa.Column("file_mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("file_inode", sa.BigInteger(), nullable=True),
        sa.Column("findings", sa.Text(), nullable=True),
        _flag("deep_scanned", False),
        _ts("discovered_at"),
        sa.Column("marked_as_good_hash", sa.String(length=160), nullable=True),
        _flag("bitrot_suspected", False),
        _ts("last_verified_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_results")),
    )
    # The seed's indexes under the seed's names; the unique one is file_path's unique key.
    op.create_index("idx_scan_results_file_path", "scan_results", ["file_path"], unique=True)
    op.create_index("idx_scan_results_corrupted", "scan_results", ["is_corrupted"])
    op.create_index("idx_scan_results_scan_date", "scan_results", ["scan_date"])
    op.create_index("idx_scan_results_marked_good", "scan_results", ["marked_as_good"])
    # Keyset paging for the results view.
    op.create_index("ix_scan_results_status_id", "scan_results", ["scan_status", "id"])
    op.create_index("ix_scan_results_scan_date_id", "scan_results", ["scan_date", "id"])
    op.create_index("ix_scan_results_file_size_id", "scan_results", ["file_size", "id"])

    op.create_table(
        "scan_state",
        *_progress_columns(),
        sa.Column("directories", sa.Text(), nullable=True),
        _flag("force_rescan", False),
        _count("phase_number"),
        _count("total_phases", "3"),
        _count("phase_current"),
        _count("phase_total"),
        _flag("cancel_requested", False),
        sa.Column("status", sa.String(length=20), server_default="running", nullable=False),
        _flag("deep_scan", False),
        _count("bytes_processed", type_=sa.BigInteger),
        _count("bytes_total", type_=sa.BigInteger),
        sa.Column("current_files", sa.Text(), nullable=True),
        _ts("heartbeat_at"),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_state")),
    )

    op.create_table(
        "scan_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scan_id", sa.Uuid(), nullable=True),
        sa.Column("scan_type", sa.String(length=40), nullable=False),
        _ts("start_time"),
        _ts("end_time"),
        sa.Column("status", sa.String(length=20), nullable=False),
        _count("total_files"),
        _count("corrupted_files"),
        _count("warning_files"),
        _count("error_files"),
        _count("healthy_files"),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("directories_scanned", sa.JSON(), nullable=True),
        _ts("created_at", nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scan_state.id"],
            name=op.f("fk_scan_reports_scan_id_scan_state"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_reports")),
    )
    op.create_index("idx_scan_reports_scan_id", "scan_reports", ["scan_id"])
    op.create_index("idx_scan_reports_created", "scan_reports", ["created_at"])

    op.create_table(
        "scan_schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scan_type", sa.String(length=40), server_default="scan", nullable=False),
        sa.Column("schedule_type", sa.String(length=20), server_default="cron", nullable=False),
        sa.Column("schedule_value", sa.String(length=200), nullable=False),
        sa.Column("scan_paths", sa.JSON(), nullable=True),
        _flag("is_active", True),
        _ts("last_run"),
        _ts("next_run"),
        _ts("created_at", nullable=False),
        _flag("force_rescan", False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        _ts("claimed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_scan_schedules_name")),
    )
    op.create_index("ix_scan_schedules_active_next_run", "scan_schedules", ["is_active", "next_run"])

    op.create_table(
        "scan_configurations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_configurations")),
        sa.UniqueConstraint("key", name=op.f("uq_scan_configurations_key")),
    )

    op.create_table(
        "exclusions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusions")),
        sa.UniqueConstraint("type", "value", name=op.f("uq_exclusions_type_value")),
    )

    op.create_table(
        "ignored_error_patterns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _flag("is_active", True),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ignored_error_patterns")),
        sa.UniqueConstraint("pattern", name=op.f("uq_ignored_error_patterns_pattern")),
    )

    op.create_table(
        "cleanup_state",
        *_progress_columns(),
        _count("files_to_delete"),
        _flag("cancel_requested", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cleanup_state")),
    )

    op.create_table(
        "file_changes_state",
        *_progress_columns(),
        _flag("cancel_requested", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_changes_state")),
    )

    op.create_table(
        "log_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=True),
        sa.Column("celery_task_id", sa.String(length=64), nullable=True),
        _ts("timestamp", nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("logger_name", sa.String(length=200), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entries")),
    )
    op.create_index("ix_log_entries_scan_id_timestamp", "log_entries", ["scan_id", "timestamp"])
    op.create_index(op.f("ix_log_entries_timestamp"), "log_entries", ["timestamp"])
    op.create_index(op.f("ix_log_entries_level"), "log_entries", ["level"])
    op.create_index(op.f("ix_log_entries_scan_id"), "log_entries", ["scan_id"])
    op.create_index(op.f("ix_log_entries_celery_task_id"), "log_entries", ["celery_task_id"])

    op.create_table(
        "app_config",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_config")),
        sa.UniqueConstraint("key", name=op.f("uq_app_config_key")),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; scan_reports goes before scan_state because of its foreign key.
    for table in (
        "app_config",
        "log_entries",
        "file_changes_state",
        "cleanup_state",
        "ignored_error_patterns",
        "exclusions",
        "scan_configurations",
        "scan_schedules",
        "scan_reports",
        "scan_state",
        "scan_results",
    ):
        op.drop_table(table)
