"""SQLAlchemy 2.0 typed models for the 11 tables of the seed schema.

Column names and tables follow ``shared/spec/database-schema.md``; columns added by this project carry
server defaults so rows written by older code stay valid. Timestamps are stored as UTC.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the backend stores.

    SQLite has no timezone type, so values are stored naive-UTC there and given back their tzinfo on load.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        uuid.UUID: sa.Uuid(),
        dict[str, Any]: sa.JSON(),
    }


class ScanResult(Base):
    """One row per file: its latest verdict and what was known about it then."""

    __tablename__ = "scan_results"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    file_path: Mapped[str] = mapped_column(sa.Text)
    file_hash: Mapped[str | None] = mapped_column(sa.String(160))
    is_corrupted: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    corruption_details: Mapped[str | None] = mapped_column(sa.Text)
    scan_date: Mapped[dt.datetime | None]
    file_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    file_type: Mapped[str | None] = mapped_column(sa.String(100))
    scan_tool: Mapped[str | None] = mapped_column(sa.String(200))
    scan_duration: Mapped[float | None] = mapped_column(sa.Float)
    has_warning: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    warning_details: Mapped[str | None] = mapped_column(sa.Text)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    media_info: Mapped[str | None] = mapped_column(sa.Text)
    file_exists: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    marked_as_good: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    marked_as_good_at: Mapped[dt.datetime | None]
    marked_as_good_by: Mapped[str | None] = mapped_column(sa.String(200))

    # Added by PixelProbe TUI (all with defaults).
    # pending | healthy | warning | corrupted | unreadable | unsupported
    scan_status: Mapped[str] = mapped_column(sa.String(20), default="pending", server_default="pending")
    media_family: Mapped[str | None] = mapped_column(sa.String(20))  # video | audio | image
    file_mtime_ns: Mapped[int | None] = mapped_column(sa.BigInteger)
    file_inode: Mapped[int | None] = mapped_column(sa.BigInteger)
    findings: Mapped[str | None] = mapped_column(sa.Text)  # JSON list of Finding dicts
    deep_scanned: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    discovered_at: Mapped[dt.datetime | None]
    # The content hash at the time the file was marked good: the mark lapses when the content changes.
    marked_as_good_hash: Mapped[str | None] = mapped_column(sa.String(160))
    bitrot_suspected: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    last_verified_at: Mapped[dt.datetime | None]
    # A path too long for an index entry: file_path holds its key, this the whole path (database form);
    # NULL for every other path. ``discovery.path_from_row`` gives the real path (revision 0005).
    file_path_full: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        # The seed's indexes, under the seed's names; the unique index on file_path is the unique key.
        sa.Index("idx_scan_results_file_path", "file_path", unique=True),
        sa.Index("idx_scan_results_corrupted", "is_corrupted"),
        sa.Index("idx_scan_results_scan_date", "scan_date"),
        sa.Index("idx_scan_results_marked_good", "marked_as_good"),
        # Keyset paging for the results view: each sortable column ends in the primary key.
        sa.Index("ix_scan_results_status_id", "scan_status", "id"),
        sa.Index("ix_scan_results_scan_date_id", "scan_date", "id"),
        sa.Index("ix_scan_results_file_size_id", "file_size", "id"),
    )


# Indexes a migration creates only where the server can have them (the pg_trgm index for the path search,
# revision 0002; SQLite's index of long paths, 0007): they are not in the models, so autogenerate must neither
# drop nor expect them.
OPTIONAL_INDEXES = frozenset(
    {"ix_scan_results_file_path_trgm", "ix_scan_result_paths_file_path_trgm", "ix_scan_results_long_paths"}
)
# PostgreSQL only (revision 0004): a copy of each path, kept by triggers, carrying the path search's trigram
# index so that updates of scan_results never touch it. Its own MetaData: never created from the models.
SCAN_RESULT_PATHS = sa.Table(
    "scan_result_paths",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("file_path", sa.Text, nullable=False),
)
OPTIONAL_TABLES = frozenset({"scan_result_paths"})


def include_in_autogenerate(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object`` hook: leave :data:`OPTIONAL_INDEXES` and :data:`OPTIONAL_TABLES` out of
    comparisons."""
    return not (
        (type_ == "index" and name in OPTIONAL_INDEXES) or (type_ == "table" and name in OPTIONAL_TABLES)
    )


class ScanState(Base):
    """Progress of a scan run (one row per run)."""

    __tablename__ = "scan_state"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    phase: Mapped[str] = mapped_column(sa.String(40), default="idle", server_default="idle")
    files_processed: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    total_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    start_time: Mapped[dt.datetime | None]
    end_time: Mapped[dt.datetime | None]
    is_cancelled: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    directories: Mapped[str | None] = mapped_column(sa.Text)
    force_rescan: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    phase_number: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    total_phases: Mapped[int] = mapped_column(sa.Integer, default=3, server_default="3")
    phase_current: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    phase_total: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    cancel_requested: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    # Added by PixelProbe TUI.
    # running | completed | cancelled | error | interrupted
    status: Mapped[str] = mapped_column(sa.String(20), default="running", server_default="running")
    deep_scan: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    bytes_processed: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    bytes_total: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    current_files: Mapped[str | None] = mapped_column(sa.Text)  # JSON list: the file each worker is on
    heartbeat_at: Mapped[dt.datetime | None]
    owner: Mapped[str | None] = mapped_column(sa.String(200))  # host:pid of the running process
    error_message: Mapped[str | None] = mapped_column(sa.Text)


class ScanReport(Base):
    """Summary of a finished run (scan, cleanup, file changes)."""

    __tablename__ = "scan_reports"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("scan_state.id", ondelete="SET NULL"))
    scan_type: Mapped[str] = mapped_column(sa.String(40), default="full_scan")
    start_time: Mapped[dt.datetime | None]
    end_time: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(sa.String(20), default="completed")
    total_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    corrupted_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    warning_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    error_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    healthy_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    duration_seconds: Mapped[float | None] = mapped_column(sa.Float)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    directories_scanned: Mapped[Any | None] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    # Added by PixelProbe TUI: free-form details (bitrot counts, cleanup counts ...).
    details: Mapped[Any | None] = mapped_column(sa.JSON)

    __table_args__ = (
        sa.Index("idx_scan_reports_scan_id", "scan_id"),
        sa.Index("idx_scan_reports_created", "created_at"),
    )


class ScanSchedule(Base):
    __tablename__ = "scan_schedules"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    scan_type: Mapped[str] = mapped_column(sa.String(40), default="scan", server_default="scan")
    schedule_type: Mapped[str] = mapped_column(sa.String(20), default="cron", server_default="cron")
    schedule_value: Mapped[str] = mapped_column(sa.String(200))
    scan_paths: Mapped[Any | None] = mapped_column(sa.JSON)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    last_run: Mapped[dt.datetime | None]
    next_run: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    force_rescan: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    # Added by PixelProbe TUI: a claim so a due run happens exactly once across processes.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    claimed_at: Mapped[dt.datetime | None]

    __table_args__ = (sa.Index("ix_scan_schedules_active_next_run", "is_active", "next_run"),)


class ScanConfiguration(Base):
    __tablename__ = "scan_configurations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    value: Mapped[Any | None] = mapped_column(sa.JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Exclusion(Base):
    __tablename__ = "exclusions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(sa.String(20))  # 'path' or 'extension'
    value: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("type", "value"),)


class IgnoredErrorPattern(Base):
    __tablename__ = "ignored_error_patterns"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    pattern: Mapped[str] = mapped_column(sa.Text, unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CleanupState(Base):
    __tablename__ = "cleanup_state"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    phase: Mapped[str] = mapped_column(sa.String(40), default="idle", server_default="idle")
    files_processed: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    total_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    start_time: Mapped[dt.datetime | None]
    end_time: Mapped[dt.datetime | None]
    is_cancelled: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    files_to_delete: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    cancel_requested: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class FileChangesState(Base):
    __tablename__ = "file_changes_state"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    phase: Mapped[str] = mapped_column(sa.String(40), default="idle", server_default="idle")
    files_processed: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    total_files: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    start_time: Mapped[dt.datetime | None]
    end_time: Mapped[dt.datetime | None]
    is_cancelled: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    cancel_requested: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class LogEntry(Base):
    __tablename__ = "log_entries"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    celery_task_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    timestamp: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    level: Mapped[str] = mapped_column(sa.String(20), index=True)
    logger_name: Mapped[str | None] = mapped_column(sa.String(200))
    message: Mapped[str] = mapped_column(sa.Text)
    traceback: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_log_entries_scan_id_timestamp", "scan_id", "timestamp"),)


class AppConfig(Base):
    __tablename__ = "app_config"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    value: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VerdictHistory(Base):
    """A file's earlier verdicts: one row each time a scan stored a verdict that differed from the last one.

    Added by PixelProbe TUI (not in the seed schema). Written by the scan writer in the transaction that
    stores the verdict; an unchanged rescan adds nothing, so the table grows with changes, not with scans.
    """

    __tablename__ = "verdict_history"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    result_id: Mapped[int] = mapped_column(sa.ForeignKey("scan_results.id", ondelete="CASCADE"))
    scan_id: Mapped[uuid.UUID | None]
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    scan_status: Mapped[str] = mapped_column(sa.String(20))
    is_corrupted: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    has_warning: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    summary: Mapped[str | None] = mapped_column(sa.Text)  # the first finding lines
    file_hash: Mapped[str | None] = mapped_column(sa.String(160))
    deep_scanned: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    __table_args__ = (sa.Index("ix_verdict_history_result_id_checked_at", "result_id", "checked_at"),)


ALL_TABLES = [m.__tablename__ for m in Base.__subclasses__()]
