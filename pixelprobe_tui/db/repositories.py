"""Repository queries for the seed's examples, written once for SQLite and PostgreSQL.

The seed wrote them against SQLite (``datetime('now', '-7 days')``, ``is_corrupted = 1``); here the clock is
read in Python and bound as a UTC parameter, and booleans compare with ``sa.true()``/``sa.false()``, so the
same statement runs on both backends and a test can pass its own ``now``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pixelprobe_tui.db.models import ScanResult, ScanSchedule, utcnow


@dataclass(frozen=True)
class CorruptionStatistics:
    """Counts over the files not marked good."""

    total_files: int
    corrupted_files: int
    warning_files: int


@dataclass(frozen=True)
class RescanCandidate:
    file_path: str
    file_hash: str | None
    scan_date: dt.datetime


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def corruption_statistics(session: Session) -> CorruptionStatistics:
    """Total, corrupted and warning counts, leaving out files a person marked as good."""
    row = session.execute(
        sa.select(
            sa.func.count(),
            _count_where(ScanResult.is_corrupted == sa.true()),
            _count_where(ScanResult.has_warning == sa.true()),
        ).where(ScanResult.marked_as_good == sa.false())
    ).one()
    return CorruptionStatistics(
        total_files=int(row[0]), corrupted_files=int(row[1]), warning_files=int(row[2])
    )


def files_needing_rescan(
    session: Session, older_than_days: float = 7, limit: int = 1000, now: dt.datetime | None = None
) -> list[RescanCandidate]:
    """Files last scanned more than ``older_than_days`` before ``now``, oldest first, at most ``limit``.

    Files never scanned (no scan_date) are not listed: they are pending, not due for a rescan.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    cutoff = (now or utcnow()) - dt.timedelta(days=older_than_days)
    rows = session.execute(
        sa.select(ScanResult.file_path, ScanResult.file_hash, ScanResult.scan_date)
        .where(ScanResult.scan_date < cutoff)
        .order_by(ScanResult.scan_date.asc(), ScanResult.id.asc())
        .limit(limit)
    )
    return [RescanCandidate(file_path=p, file_hash=h, scan_date=d) for p, h, d in rows]


def due_schedules(session: Session, now: dt.datetime | None = None) -> list[ScanSchedule]:
    """Active schedules whose next run is at or before ``now``, the most overdue first."""
    return list(
        session.scalars(
            sa.select(ScanSchedule)
            .where(ScanSchedule.is_active == sa.true(), ScanSchedule.next_run <= (now or utcnow()))
            .order_by(ScanSchedule.next_run.asc(), ScanSchedule.id.asc())
        )
    )
