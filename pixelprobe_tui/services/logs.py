"""Log records into the ``log_entries`` table without slowing the code that logs.

``DatabaseLogHandler.emit`` only formats the record and puts it in a bounded queue (never blocking: when the
queue is full the record is dropped and counted). A daemon writer thread drains the queue in batches and
inserts each batch in one transaction; after drops it stores one WARNING "dropped N log records (queue full)".
The same thread purges entries older than the retention period now and then.

Records are tagged with the scan they belong to through the context variable ``current_scan_id`` (set it with
``scan_context(scan_id)``), read at emit time in the thread that logs. Threads do not inherit context
variables: a worker thread enters ``scan_context`` itself, or is started with ``contextvars.copy_context().run``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import LogEntry
from pixelprobe_tui.services.config import Settings

current_scan_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pixelprobe_scan_id", default=None
)

HANDLER_LOGGER_NAME = "pixelprobe.logs"
MAX_MESSAGE_CHARS = 100_000  # one runaway message must not bloat the table
PURGE_CHUNK = 5_000


@contextmanager
def scan_context(scan_id: object | None) -> Iterator[None]:
    """Tag every record logged in this context (this thread or task) with ``scan_id``."""
    token = current_scan_id.set(None if scan_id is None else str(scan_id))
    try:
        yield
    finally:
        current_scan_id.reset(token)


@dataclass
class _Flush:
    """A marker the writer answers once everything queued before it is written (or abandoned)."""

    done: threading.Event


_STOP = object()


class DatabaseLogHandler(logging.Handler):
    """A logging handler that stores records as LogEntry rows from a background writer thread.

    ``queue_size`` bounds the memory held for unwritten records; ``batch_size`` and ``flush_interval``
    bound how many rows go in one transaction and how long a record waits. ``close_timeout`` bounds how
    long ``flush()`` and ``close()`` wait when the database is slow or down.
    """

    def __init__(
        self,
        db: Database,
        *,
        level: int | str = logging.NOTSET,
        excluded_loggers: Iterable[str] = (),
        retention_days: int = 0,
        queue_size: int = 10_000,
        batch_size: int = 200,
        flush_interval: float = 0.5,
        close_timeout: float = 5.0,
        purge_interval: float = 6 * 3600,
    ):
        super().__init__(level)
        self.db = db
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.close_timeout = close_timeout
        self.purge_interval = purge_interval
        self.retention_days = retention_days
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self._excluded: tuple[str, ...] = ()
        self._excluded_cache: dict[str, bool] = {}
        self.set_excluded_loggers(excluded_loggers)
        self._drop_lock = threading.Lock()
        self._dropped_pending = 0  # drops not yet reported in the table
        self.dropped_total = 0  # every record this handler ever dropped
        self.written_total = 0
        self._last_stderr = 0.0
        self._suppressed_errors = 0
        self._closed = False
        self._stop = threading.Event()
        self._exc_formatter = logging.Formatter()
        self._unwritten = 0
        after_fork = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := after_fork()) and m())
        self._writer = threading.Thread(target=self._run, name="pixelprobe-log-writer", daemon=True)
        self._writer.start()

    # ----- the caller's side: fast, never blocks -----

    def set_excluded_loggers(self, names: Iterable[str]) -> None:
        """Skip records from these loggers and their children (``a.b`` excludes ``a.b`` and ``a.b.c``)."""
        self._excluded = tuple(n for n in names if n)
        self._excluded_cache = {}  # replaced, not cleared: emit() may be reading the old one

    def is_excluded(self, logger_name: str) -> bool:
        """Whether records of ``logger_name`` are skipped."""
        cache = self._excluded_cache
        hit = cache.get(logger_name)
        if hit is None:
            hit = any(logger_name == n or logger_name.startswith(n + ".") for n in self._excluded)
            cache[logger_name] = hit
        return hit

    def emit(self, record: logging.LogRecord) -> None:
        # The writer's own database work must not feed back into the queue.
        if self._closed or threading.current_thread() is self._writer or self.is_excluded(record.name):
            return
        try:
            row = self._row(record)
        except Exception:
            self.handleError(record)
            return
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            with self._drop_lock:
                self._dropped_pending += 1
                self.dropped_total += 1

    def _row(self, record: logging.LogRecord) -> dict[str, Any]:
        message = record.getMessage()
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + " [truncated]"
        tb: str | None = None
        if record.exc_info:
            tb = self._exc_formatter.formatException(record.exc_info)
        elif record.exc_text:
            tb = record.exc_text
        if record.stack_info:
            tb = f"{tb}\n{record.stack_info}" if tb else record.stack_info
        return {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC),
            "level": record.levelname[:20],
            "logger_name": record.name[:200],
            "message": message,
            "traceback": tb,
            "scan_id": current_scan_id.get(),
        }

    def flush(self) -> None:
        """Wait (at most ``close_timeout`` seconds) until every record emitted so far is written."""
        self._flush_until(time.monotonic() + self.close_timeout)

    def _flush_until(self, deadline: float) -> bool:
        if not self._writer.is_alive():
            return False
        marker = _Flush(threading.Event())
        try:
            self._queue.put(marker, timeout=max(0.0, deadline - time.monotonic()))
        except queue.Full:
            return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Write what is queued and stop the writer, waiting at most ``close_timeout`` seconds in all."""
        if not self._closed:
            deadline = time.monotonic() + self.close_timeout
            self._flush_until(deadline)
            self._closed = True
            self._stop.set()
            with suppress(queue.Full):  # the writer also watches the stop event
                self._queue.put_nowait(_STOP)
            self._writer.join(max(0.0, deadline - time.monotonic()))
            left = self._queue.qsize() + self._unwritten
            if self._writer.is_alive() or left:
                self._report(f"log handler closed with about {left} record(s) not written to the database")
        super().close()

    def _after_fork(self) -> None:
        # A forked child (e.g. a checker process) has the queue but no writer thread: stop collecting.
        self._closed = True

    # ----- the writer's side -----

    def _take_dropped(self) -> int:
        with self._drop_lock:
            n, self._dropped_pending = self._dropped_pending, 0
        return n

    def _run(self) -> None:
        next_purge = time.monotonic() + min(5.0, self.purge_interval)
        batch: list[dict[str, Any]] = []
        markers: list[_Flush] = []
        backoff = 0.0
        stopping = False
        while True:
            # Gather a batch: wait for the first item, then take what is there up to batch_size.
            if not batch and not markers and not stopping:
                try:
                    item = self._queue.get(timeout=self.flush_interval)
                except queue.Empty:
                    item = None
                stopping = self._collect(item, batch, markers) or self._stop.is_set()
            while len(batch) < self.batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if self._collect(item, batch, markers):
                    stopping = True
                if markers:
                    break  # answer a flush as soon as what came before it is written
            dropped = self._take_dropped()
            if dropped:
                batch.append(self._drop_row(dropped))
            if batch:
                try:
                    self._insert(batch)
                except Exception as exc:
                    # Keep the batch and try again later; new records pile up in the bounded queue meanwhile.
                    if dropped:
                        batch.pop()
                        with self._drop_lock:
                            self._dropped_pending += dropped
                    self._report(f"cannot write log records to the database: {exc}")
                    backoff = min(30.0, backoff * 2 or 0.5)
                    if stopping or self._stop.wait(backoff):
                        self._unwritten = len(batch)
                        for m in markers:
                            m.done.set()
                        return
                    continue
                self.written_total += len(batch)
                batch = []
                backoff = 0.0
            for m in markers:
                m.done.set()
            markers = []
            if stopping and self._queue.empty():
                return
            if self.retention_days > 0 and time.monotonic() >= next_purge:
                next_purge = time.monotonic() + self.purge_interval
                try:
                    purge_old_logs(self.db, self.retention_days)
                except Exception as exc:
                    self._report(f"cannot purge old log entries: {exc}")

    @staticmethod
    def _collect(item: Any, batch: list[dict[str, Any]], markers: list[_Flush]) -> bool:
        """Sort one queue item; True when it is the stop marker."""
        if item is None:
            return False
        if item is _STOP:
            return True
        if isinstance(item, _Flush):
            markers.append(item)
        else:
            batch.append(item)
        return False

    @staticmethod
    def _drop_row(dropped: int) -> dict[str, Any]:
        return {
            "timestamp": dt.datetime.now(dt.UTC),
            "level": "WARNING",
            "logger_name": HANDLER_LOGGER_NAME,
            "message": f"dropped {dropped} log record{'s' if dropped != 1 else ''} (queue full)",
            "traceback": None,
            "scan_id": None,
        }

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert one batch in one transaction (a seam for tests that need a slow or failing writer)."""
        with self.db.session() as s:
            s.execute(sa.insert(LogEntry), rows)

    def _report(self, message: str) -> None:
        """Tell stderr about the handler's own trouble, at most once a minute; never through logging."""
        now = time.monotonic()
        if self._last_stderr and now - self._last_stderr < 60:
            self._suppressed_errors += 1
            return
        more = (
            f" ({self._suppressed_errors} similar message(s) suppressed)" if self._suppressed_errors else ""
        )
        self._last_stderr = now
        self._suppressed_errors = 0
        with suppress(Exception):  # stderr may be closed at interpreter exit
            sys.stderr.write(f"pixelprobe: log handler: {message.splitlines()[0] if message else ''}{more}\n")


def purge_old_logs(db: Database, retention_days: int, now: dt.datetime | None = None) -> int:
    """Delete log entries older than ``retention_days`` (0 or less keeps everything). Returns the count.

    Deletes in chunks of a few thousand rows, one transaction each, so a large purge never holds the
    write lock for long (SQLite has a single writer).
    """
    if retention_days <= 0:
        return 0
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    total = 0
    while True:
        with db.session() as s:
            ids = (
                sa.select(LogEntry.id).where(LogEntry.timestamp < cutoff).limit(PURGE_CHUNK).scalar_subquery()
            )
            result = cast("sa.CursorResult[Any]", s.execute(sa.delete(LogEntry).where(LogEntry.id.in_(ids))))
            deleted = result.rowcount or 0
        total += deleted
        if deleted < PURGE_CHUNK:
            return total


def install_db_logging(
    db: Database, settings: Settings, logger: logging.Logger | None = None, **options: Any
) -> DatabaseLogHandler:
    """Attach a DatabaseLogHandler configured from ``settings`` to ``logger`` (default: the root logger).

    The logger's level is lowered to ``settings.log_level`` if needed so those records reach the handler.
    ``options`` go to DatabaseLogHandler (queue_size, batch_size ...). Call ``handler.close()`` (or let
    ``logging.shutdown`` at exit do it) and remove it with ``logger.removeHandler(handler)``.
    """
    target = logger or logging.getLogger()
    level = logging.getLevelName(settings.log_level)
    handler = DatabaseLogHandler(
        db,
        level=level,
        excluded_loggers=settings.excluded_loggers,
        retention_days=settings.log_retention_days,
        **options,
    )
    if target.level == logging.NOTSET or target.level > level:
        target.setLevel(level)
    target.addHandler(handler)
    return handler
