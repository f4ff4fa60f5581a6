"""The rows a maintenance run (orphan cleanup, file changes) leaves in the database: a progress row in its state
table (``cleanup_state`` or ``file_changes_state``) while it runs, closed at the end together with a
``scan_reports`` row in one transaction.

One home for this bookkeeping so that both runs close their state, honour a cancel asked for from another
process and describe themselves in the report the same way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import CleanupState, FileChangesState, ScanReport, utcnow

StateModel = type[CleanupState] | type[FileChangesState]


def one_line(exc: BaseException) -> str:
    """The first line of an error's text (its type name when it has none), for a status or a report."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def request_cancel(db: Database, state: StateModel) -> bool:
    """Ask the run of this kind going on in any process to stop; returns whether one was running."""
    stmt = (
        sa.update(state).where(state.end_time.is_(None), state.phase != "done").values(cancel_requested=True)
    )
    with db.engine.begin() as conn:
        return conn.execute(stmt).rowcount > 0


@dataclass(frozen=True)
class MaintenanceRecord:
    """The state row of one run: :meth:`open` it, :meth:`progress` it, :meth:`close` it."""

    db: Database
    state: StateModel
    state_id: uuid.UUID
    started: dt.datetime

    @classmethod
    def open(
        cls, db: Database, state: StateModel, *, phase: str, total: int, started: dt.datetime | None = None
    ) -> MaintenanceRecord:
        """Insert the state row of a run that starts now with *total* records to look at."""
        started = started or utcnow()
        state_id = uuid.uuid4()
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(state).values(id=state_id, phase=phase, total_files=total, start_time=started)
            )
        return cls(db, state, state_id, started)

    def progress(self, **values: Any) -> bool:
        """Write progress columns (``phase``, ``files_processed`` ...); returns whether a cancel was asked for."""
        state = self.state
        with self.db.engine.begin() as conn:
            conn.execute(sa.update(state).where(state.id == self.state_id).values(**values))
            wanted = conn.execute(sa.select(state.cancel_requested).where(state.id == self.state_id)).scalar()
        return bool(wanted)

    def cancel_requested(self) -> bool:
        """Whether another process asked this run to stop."""
        state = self.state
        with self.db.engine.connect() as conn:
            return bool(
                conn.execute(sa.select(state.cancel_requested).where(state.id == self.state_id)).scalar()
            )

    def close(
        self,
        *,
        status: str,
        state_values: Mapping[str, Any],
        report: Mapping[str, Any] | None,
        scan_type: str,
        seconds: float,
        roots: Sequence[str],
        error: BaseException | None,
        error_message: str | None = None,
    ) -> int | None:
        """End the run: close its state row and (unless *report* is None) add its ``scan_reports`` row.

        *state_values* are the final progress columns; *report* the run's counts (``total_files``,
        ``healthy_files`` ...) plus ``details``. Returns the report id. A database failure while closing is
        raised, unless the run already failed with *error* (that one is what the caller raises).
        """
        ended = utcnow()
        state = self.state
        report_id: int | None = None
        try:
            with self.db.engine.begin() as conn:
                conn.execute(
                    sa.update(state)
                    .where(state.id == self.state_id)
                    .values(
                        phase="done" if status == "completed" else status,
                        end_time=ended,
                        is_cancelled=status == "cancelled",
                        **state_values,
                    )
                )
                if report is not None:
                    report_id = conn.execute(
                        sa.insert(ScanReport)
                        .values(
                            scan_type=scan_type,
                            start_time=self.started,
                            end_time=ended,
                            status=status,
                            duration_seconds=seconds,
                            error_message=one_line(error) if error is not None else error_message,
                            directories_scanned=[path_to_db(r) for r in roots],
                            **report,
                        )
                        .returning(ScanReport.id)
                    ).scalar_one()
        except sa.exc.SQLAlchemyError:
            if error is None:
                raise
        return report_id
