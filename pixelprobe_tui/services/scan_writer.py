"""The scan's one writer: batches check results into ``scan_results`` and keeps ``scan_state`` current.

Worker threads hand finished rows to :meth:`ResultWriter.put` (a bounded queue, so a slow database slows the
workers instead of filling memory). The writer thread upserts about ``batch_size`` rows per transaction and,
a few times a second, writes the run's counters and heartbeat into its ``scan_state`` row, reads back
``cancel_requested`` (so a cancel from another process arrives within about half a second) and sends a
:class:`~pixelprobe_tui.core.events.Progress` event. A kill loses at most the batch in the queue.

:func:`result_row` is the one mapping from a :class:`CheckResult` to a ``scan_results`` row;
:func:`upsert_results` the one statement that stores rows, on SQLite and PostgreSQL alike
(``INSERT ... ON CONFLICT (file_path) DO UPDATE``); :func:`record_verdict_changes` adds a ``verdict_history``
row, in the same transaction, for each stored verdict that differs from the file's last recorded one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pixelprobe_tui.core.discovery import display_path, path_from_row, path_to_db
from pixelprobe_tui.core.events import Event, Progress, ProgressEstimator
from pixelprobe_tui.core.verdict import CheckResult, Severity, Verdict
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult, ScanState, UTCDateTime, VerdictHistory, utcnow
from pixelprobe_tui.services.logs import scan_context

log = logging.getLogger("pixelprobe.scan")

_INT64 = 1 << 63


def signed_inode(inode: int | None) -> int | None:
    """*inode* wrapped into a signed 64-bit integer (``file_inode`` is a BIGINT; st_ino can reach 2**64)."""
    if inode is None:
        return None
    return inode - (1 << 64) if inode >= _INT64 else inode


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Size, mtime and inode of a file as recorded with its verdict (``None`` = unknown: check again)."""

    size: int | None
    mtime_ns: int | None
    inode: int | None


_ERROR_VERDICTS = (Verdict.UNREADABLE, Verdict.UNSUPPORTED)


def result_row(
    result: CheckResult,
    snapshot: Snapshot,
    *,
    family: str | None,
    deep: bool,
    now: dt.datetime,
    file_exists: bool = True,
) -> dict[str, Any]:
    """The ``scan_results`` columns a check result sets (everything but the marked-good record)."""
    verdict = result.verdict
    active = result.active_findings
    if verdict in _ERROR_VERDICTS:
        error = result.summary((Severity.UNREADABLE, Severity.UNSUPPORTED)) or str(verdict)
    else:
        error = None
    media_family = result.family if result.family and result.family != "unknown" else family
    key, full = path_to_db(result.path), path_to_db(result.path, full=True)
    row: dict[str, Any] = {
        "file_path": key,
        "file_path_full": full if full != key else None,
        "file_hash": result.content_hash,
        "is_corrupted": verdict == Verdict.CORRUPTED,
        "corruption_details": "\n".join(f.describe() for f in active if f.severity == Severity.CORRUPT)
        or None,
        "has_warning": verdict == Verdict.WARNING or any(f.severity == Severity.WARNING for f in active),
        "warning_details": "\n".join(f.describe() for f in active if f.severity == Severity.WARNING) or None,
        "error_message": error,
        "scan_status": str(verdict),
        "findings": json.dumps([f.to_dict() for f in result.findings]) if result.findings else None,
        "scan_tool": (result.decisive_tool or "")[:200] or None,
        "scan_duration": round(result.duration_s, 4),
        "media_info": json.dumps(dict(result.media_info), default=str) if result.media_info else None,
        "file_type": (result.container or "")[:100] or None,
        "media_family": media_family,
        "file_size": snapshot.size if snapshot.size is not None else result.file_size,
        "file_mtime_ns": snapshot.mtime_ns,
        "file_inode": signed_inode(snapshot.inode),
        "scan_date": now,
        "last_verified_at": now,
        "discovered_at": now,
        "deep_scanned": deep,
        "file_exists": file_exists,
    }
    for column in _TEXT_COLUMNS:
        row[column] = db_text(row[column])
    return row


def _insert_for(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise ValueError(f"unsupported database dialect {dialect!r}")


def upsert_results(conn: Connection, dialect: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update *rows* (from :func:`result_row`) by ``file_path``, in the caller's transaction.

    A user's "marked as good" is kept, except that it lapses when the content hash differs from the hash
    recorded at marking time. ``bitrot_suspected`` is set when the content changed while size and mtime did
    not, cleared when the content changed with them, kept otherwise.
    """
    if rows:
        # One statement executed for many parameter sets: compiled once per process, not per batch.
        conn.execute(_upsert_statement(dialect, tuple(rows[0])), list(rows))


@functools.cache
def _upsert_statement(dialect: str, columns: tuple[str, ...]) -> Any:
    t = cast(sa.Table, ScanResult.__table__)
    stmt = _insert_for(dialect)(t)
    new = stmt.excluded
    hash_changed = sa.and_(
        t.c.file_hash.is_not(None), new.file_hash.is_not(None), t.c.file_hash != new.file_hash
    )
    updates: dict[str, Any] = {c: getattr(new, c) for c in columns if c not in ("file_path", "discovered_at")}
    updates["discovered_at"] = sa.func.coalesce(t.c.discovered_at, new.discovered_at)
    updates["marked_as_good"] = sa.case(
        (
            sa.and_(
                t.c.marked_as_good_hash.is_not(None),
                new.file_hash.is_not(None),
                t.c.marked_as_good_hash != new.file_hash,
            ),
            sa.false(),
        ),
        else_=t.c.marked_as_good,
    )
    updates["bitrot_suspected"] = sa.case(
        (
            sa.and_(hash_changed, t.c.file_size == new.file_size, t.c.file_mtime_ns == new.file_mtime_ns),
            sa.true(),
        ),
        (hash_changed, sa.false()),
        else_=t.c.bitrot_suspected,
    )
    return stmt.on_conflict_do_update(index_elements=[t.c.file_path], set_=updates)


_TEXT_COLUMNS = ("corruption_details", "warning_details", "error_message", "scan_tool", "file_type")
_DETAIL_COLUMNS = (
    "corruption_details",
    "warning_details",
    "findings",
    "media_info",
    "scan_tool",
    "file_type",
)


def db_text(text: str | None) -> str | None:
    """*text* as any database stores it: NUL characters escaped, stray surrogates (a message quoting a name
    that is not UTF-8) as U+FFFD."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def plain_row(row: dict[str, Any], reason: str) -> dict[str, Any]:
    """*row* without the details a database refused: the verdict, path, snapshot and hash stay, and
    ``error_message`` says what was dropped (the next check of the file tries the details again)."""
    plain = {**row, **dict.fromkeys(_DETAIL_COLUMNS)}
    plain["error_message"] = db_text(f"details not stored: {reason}")[:500]  # type: ignore[index]
    return plain


# SQLSTATE classes of data the database refuses: data exception, integrity violation, program limit exceeded.
_REFUSED_SQLSTATE = ("22", "23", "54")


def _refused_row(exc: sa.exc.DBAPIError) -> bool:
    """Whether *exc* is the database refusing data (a value, a limit), not failing (connection, locks)."""
    if exc.connection_invalidated:
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_REFUSED_SQLSTATE)
    return isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError)


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _shown(row: dict[str, Any]) -> str:
    return display_path(path_from_row(row["file_path"], row.get("file_path_full")))


SUMMARY_LINES = 2  # finding lines kept in a verdict_history row
SUMMARY_CHARS = 300


def verdict_summary(row: dict[str, Any]) -> str | None:
    """The first finding lines of a :func:`result_row` row (corrupt first, then warnings, then the error)."""
    lines: list[str] = []
    for key in ("corruption_details", "warning_details", "error_message"):
        lines.extend(line for line in (row.get(key) or "").splitlines() if line.strip())
        if len(lines) >= SUMMARY_LINES:
            break
    text = "\n".join(lines[:SUMMARY_LINES])
    return text[:SUMMARY_CHARS] or None


def record_verdict_changes(
    conn: Connection, rows: Sequence[dict[str, Any]], scan_id: uuid.UUID | None
) -> None:
    """After :func:`upsert_results` stored *rows*, add a ``verdict_history`` row for each file whose stored
    status or content hash differs from its latest history row (or that has none yet), in the caller's
    transaction. An unchanged rescan adds nothing. One ``INSERT ... SELECT`` run for the batch's parameter
    sets: the comparison happens in the database, with no query per row from here.
    """
    if not rows:
        return
    now = utcnow()
    params = [
        {
            "h_path": row["file_path"],
            "h_scan_id": scan_id,
            "h_checked_at": row.get("scan_date") or now,
            "h_summary": verdict_summary(row),
        }
        for row in rows
    ]
    conn.execute(_history_statement(), params)


@functools.cache
def _history_statement() -> Any:
    r = cast(sa.Table, ScanResult.__table__)
    h = cast(sa.Table, VerdictHistory.__table__)
    earlier = h.alias("earlier")  # an alias, so the subquery is not correlated to the EXISTS's table
    latest = (
        sa.select(earlier.c.id)
        .where(earlier.c.result_id == r.c.id)
        .order_by(earlier.c.checked_at.desc(), earlier.c.id.desc())
        .limit(1)
        .correlate(r)
        .scalar_subquery()
    )
    unchanged = (
        sa.exists()
        .where(
            h.c.id == latest,
            h.c.scan_status == r.c.scan_status,
            h.c.file_hash.is_not_distinct_from(r.c.file_hash),
        )
        .correlate(r)
    )
    source = sa.select(
        r.c.id,
        sa.bindparam("h_scan_id", type_=sa.Uuid()),
        sa.bindparam("h_checked_at", type_=UTCDateTime()),
        r.c.scan_status,
        r.c.is_corrupted,
        r.c.has_warning,
        sa.bindparam("h_summary", type_=sa.Text()),
        r.c.file_hash,
        r.c.deep_scanned,
    ).where(r.c.file_path == sa.bindparam("h_path", type_=sa.Text()), ~unchanged)
    columns = [
        "result_id",
        "scan_id",
        "checked_at",
        "scan_status",
        "is_corrupted",
        "has_warning",
        "summary",
        "file_hash",
        "deep_scanned",
    ]
    return sa.insert(h).from_select(columns, source)


def insert_pending(conn: Connection, dialect: str, rows: Sequence[dict[str, Any]]) -> None:
    """Record newly discovered files as ``pending`` rows (existing rows are left alone)."""
    if not rows:
        return
    t = cast(sa.Table, ScanResult.__table__)
    stmt = _insert_for(dialect)(t).on_conflict_do_nothing(index_elements=[t.c.file_path])
    conn.execute(stmt, list(rows))


@dataclass
class ScanCounters:
    """The run's live numbers: written by the scan's threads, read by the writer for ``scan_state``.

    Plain attribute updates of ints are atomic under the GIL; each field has one writing thread.
    """

    phase: str = "starting"
    phase_number: int = 0
    total_phases: int = 3
    phase_current: int = 0
    phase_total: int = 0
    directories: int = 0
    files_found: int = 0
    files_total: int = 0  # files to check in phase 3
    bytes_total: int = 0
    files_done: int = 0  # results received by the writer
    bytes_done: int = 0
    # Done by a resumed run before its interruption: part of every total and count this run reports.
    files_before: int = 0
    bytes_before: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: {str(v): 0 for v in Verdict})
    current: list[str | None] = field(default_factory=list)  # the file each worker is on


_STOP = object()


class ResultWriter:
    """The writer thread of one scan run. Start it with :meth:`start`, end it with :meth:`close`."""

    def __init__(
        self,
        db: Database,
        scan_id: uuid.UUID,
        counters: ScanCounters,
        *,
        cancel: threading.Event,
        sink: Callable[[Event], None] | None = None,
        batch_size: int = 100,
        state_interval_s: float = 0.25,
        progress_interval_s: float = 0.25,
        max_batch_wait_s: float = 0.5,
    ) -> None:
        self.db = db
        self.scan_id = scan_id
        self.counters = counters
        self.cancel = cancel
        self.sink = sink
        self.batch_size = batch_size
        self.state_interval_s = state_interval_s
        self.progress_interval_s = progress_interval_s
        self.max_batch_wait_s = max_batch_wait_s
        self.cancel_requested = False  # a cancel was read from the database
        self.error: BaseException | None = None
        self.rows_written = 0
        self.rows_refused = 0  # results the database would not take even in their plainest form
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=batch_size * 4)
        self._estimator: ProgressEstimator | None = None
        self._thread = threading.Thread(target=self._run, name="pixelprobe-scan-writer", daemon=True)
        self._dialect = db.dialect

    def start(self) -> None:
        self._thread.start()

    def put(self, row: dict[str, Any], verdict: str, size: int) -> None:
        """Queue one result row (blocks while the queue is full, unless the writer has failed)."""
        while True:
            if self.error is not None:
                return
            try:
                self._queue.put((row, verdict, size), timeout=0.5)
                return
            except queue.Full:
                continue

    def start_checking(self, files_total: int, bytes_total: int) -> None:
        """Phase 3 begins: the estimator starts from here."""
        self._estimator = ProgressEstimator(files_total, bytes_total)

    def close(self) -> None:
        """Write what is queued, the final counters, and stop the thread."""
        # Until the thread is gone, not just until one stop is queued: a final flush that fails puts the
        # thread in its draining loop, which needs a stop of its own.
        while self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=0.5)
            self._thread.join(0.5)

    # -- the thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        with scan_context(self.scan_id):
            try:
                self._loop()
            except BaseException as exc:  # handed to the scan's thread, which ends the run with an error
                self.error = exc
                self.cancel.set()
                log.error("scan writer failed: %s", exc)
                # Keep draining so workers blocked in put() can finish.
                while True:
                    try:
                        if self._queue.get(timeout=0.5) is _STOP:
                            return
                    except queue.Empty:
                        continue

    def _loop(self) -> None:
        batch: list[dict[str, Any]] = []
        first_at = 0.0
        next_state = 0.0
        next_progress = 0.0
        c = self.counters
        while True:
            now = time.monotonic()
            timeout = min(next_state, first_at + self.max_batch_wait_s if batch else next_state) - now
            try:
                item = self._queue.get(timeout=max(0.0, timeout))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._flush(batch)
                self._write_state()
                self._emit_progress(time.monotonic())
                return
            if item is not None:
                row, verdict, size = item
                if not batch:
                    first_at = time.monotonic()
                batch.append(row)
                c.files_done += 1
                c.bytes_done += size
                c.verdicts[verdict] = c.verdicts.get(verdict, 0) + 1
            now = time.monotonic()
            if batch and (len(batch) >= self.batch_size or now - first_at >= self.max_batch_wait_s):
                self._flush(batch)
                batch = []
            if now >= next_state:
                self._write_state()
                next_state = now + self.state_interval_s
            if now >= next_progress:
                self._emit_progress(now)
                next_progress = now + self.progress_interval_s

    def _store(self, rows: list[dict[str, Any]]) -> None:
        with self.db.engine.begin() as conn:
            upsert_results(conn, self._dialect, rows)
            record_verdict_changes(conn, rows, self.scan_id)
        self.rows_written += len(rows)

    def _flush(self, batch: list[dict[str, Any]]) -> None:
        """Store *batch* in one transaction; if the database refuses it, store its rows one by one, so one
        row it can't take costs that row (stored plainer, or at worst skipped and logged), not the batch."""
        if not batch:
            return
        try:
            self._store(batch)
        except sa.exc.DBAPIError as exc:
            if not _refused_row(exc):
                raise  # the database itself is in trouble: the scan stops with a clear error
            for row in batch:
                self._store_alone(row)

    def _store_alone(self, row: dict[str, Any]) -> None:
        try:
            self._store([row])
            return
        except sa.exc.DBAPIError as exc:
            if not _refused_row(exc):
                raise
            reason = _one_line(exc)
        plain = plain_row(row, reason)
        try:
            self._store([plain])
            log.warning("%s: result stored without its details: %s", _shown(row), reason)
        except sa.exc.DBAPIError as exc:
            if not _refused_row(exc):
                raise
            self.rows_refused += 1
            log.error("%s: the database refused its result: %s", _shown(row), _one_line(exc))

    def _write_state(self) -> None:
        c = self.counters
        t = cast(sa.Table, ScanState.__table__)
        current = [p for p in c.current if p]
        values = {
            "phase": c.phase,
            "phase_number": c.phase_number,
            "total_phases": c.total_phases,
            "phase_current": c.phase_current,
            "phase_total": c.phase_total,
            "files_processed": c.files_before + c.files_done,
            "total_files": c.files_before + c.files_total,
            "bytes_processed": c.bytes_before + c.bytes_done,
            "bytes_total": c.bytes_before + c.bytes_total,
            "current_files": json.dumps([path_to_db(p, full=True) for p in current]) if current else None,
            "heartbeat_at": utcnow(),
        }
        with self.db.engine.begin() as conn:
            requested = conn.execute(
                sa.update(t).where(t.c.id == self.scan_id).values(**values).returning(t.c.cancel_requested)
            ).scalar()
        if requested and not self.cancel_requested:
            self.cancel_requested = True
            self.cancel.set()

    def _emit_progress(self, now: float) -> None:
        if self.sink is None or self._estimator is None:
            return
        c = self.counters
        est = self._estimator
        files_done, bytes_done = c.files_before + c.files_done, c.bytes_before + c.bytes_done
        est.set_totals(c.files_before + c.files_total, c.bytes_before + c.bytes_total)
        # Rates come from differences between samples, so the earlier part (there from the first sample)
        # never shows up as throughput; the ETA is what is left over the rate measured now.
        e = est.feed(now, files_done, bytes_done)
        self.sink(
            Progress(
                files_done=files_done,
                files_total=c.files_before + c.files_total,
                bytes_done=bytes_done,
                bytes_total=c.bytes_before + c.bytes_total,
                rate_files_s=e.rate_files_s,
                rate_bytes_s=e.rate_bytes_s,
                eta_s=e.eta_s,
                current_files=tuple(p for p in c.current if p),
                files_before=c.files_before,
            )
        )
