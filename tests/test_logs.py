"""DatabaseLogHandler against a real database: tagging, exclusions, drops under a locked database, purge."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import LogEntry
from pixelprobe_tui.services import logs
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.logs import (
    DatabaseLogHandler,
    current_scan_id,
    install_db_logging,
    purge_old_logs,
    scan_context,
)

_counter = iter(range(10**9))


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A fresh logger that does not propagate, so tests neither see nor disturb other handlers."""
    lg = logging.getLogger(f"pp_test_{next(_counter)}")
    lg.setLevel(logging.DEBUG)
    lg.propagate = False
    yield lg
    for h in list(lg.handlers):
        lg.removeHandler(h)


@pytest.fixture
def handler(db, logger) -> Iterator[DatabaseLogHandler]:
    h = DatabaseLogHandler(db, close_timeout=30)
    logger.addHandler(h)
    yield h
    h.close()


def rows(db: Database) -> list[LogEntry]:
    with db.session() as s:
        return list(s.scalars(sa.select(LogEntry).order_by(LogEntry.id)))


@contextmanager
def write_lock(db: Database) -> Iterator[None]:
    """Hold the database's write lock from another connection, so the handler's inserts wait."""
    if db.dialect == "sqlite":
        conn = sqlite3.connect(db.engine.url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("LOCK TABLE log_entries IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.rollback()


def test_records_are_stored_with_level_logger_and_traceback(db, logger, handler):
    logger.info("hello %s", "world")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("it failed")
    handler.flush()
    got = rows(db)
    assert [(r.level, r.logger_name, r.message) for r in got] == [
        ("INFO", logger.name, "hello world"),
        ("ERROR", logger.name, "it failed"),
    ]
    assert got[0].traceback is None
    assert "ValueError: boom" in (got[1].traceback or "")
    assert got[0].timestamp.tzinfo is not None
    assert abs(got[0].timestamp - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_scan_id_comes_from_the_context_of_the_logging_thread(db, logger, handler):
    def work(scan_id: str) -> None:
        with scan_context(scan_id):
            for i in range(20):
                logger.info("%s item %d", scan_id, i)

    threads = [threading.Thread(target=work, args=(f"scan-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    logger.info("outside")
    for t in threads:
        t.join()
    with scan_context("outer"):
        with scan_context("inner"):
            logger.info("nested")
        logger.info("back to outer")
        # A thread started with a copy of this context carries the scan id along.
        ctx = contextvars.copy_context()
        t = threading.Thread(target=ctx.run, args=(logger.info, "copied context"))
        t.start()
        t.join()
        # A plain thread does not inherit context variables.
        t = threading.Thread(target=logger.info, args=("plain thread",))
        t.start()
        t.join()
    assert current_scan_id.get() is None
    handler.flush()
    got = rows(db)
    assert len(got) == 85
    for r in got:
        if " item " in r.message:
            assert r.message.startswith(f"{r.scan_id} item "), r.message
    by_message = {r.message: r.scan_id for r in got}
    assert by_message["outside"] is None
    assert by_message["nested"] == "inner"
    assert by_message["back to outer"] == "outer"
    assert by_message["copied context"] == "outer"
    assert by_message["plain thread"] is None


def test_scan_id_is_captured_at_emit_time_not_when_written(db, logger, handler):
    with write_lock(db):  # the writer cannot insert until the context is long gone
        with scan_context(42):
            logger.warning("inside")
        logger.warning("after")
    handler.flush()
    assert [(r.message, r.scan_id) for r in rows(db)] == [("inside", "42"), ("after", None)]


def test_excluded_loggers_and_their_children_are_skipped(db, logger, handler):
    name = logger.name
    handler.set_excluded_loggers([f"{name}.noisy"])
    for suffix in ["", ".noisy", ".noisy.child", ".noisy.child.deeper", ".noisyneighbour", ".other"]:
        logging.getLogger(name + suffix).warning("from %s", name + suffix)
    handler.set_excluded_loggers([name])  # updated live: now the whole tree is excluded
    logging.getLogger(name + ".other").warning("after update")
    handler.flush()
    assert [r.logger_name for r in rows(db)] == [name, name + ".noisyneighbour", name + ".other"]
    assert handler.is_excluded(name + ".x") and not handler.is_excluded(name + "x")


def test_full_queue_drops_and_counts_instead_of_blocking(db, logger):
    h = DatabaseLogHandler(db, queue_size=3, batch_size=2, close_timeout=30)
    logger.addHandler(h)
    try:
        with write_lock(db):
            for i in range(50):
                logger.info("record %d", i)  # would hang here if emit() blocked on a full queue
            dropped = h.dropped_total
        h.flush()
        got = rows(db)
    finally:
        h.close()
    warnings = [r for r in got if r.logger_name == logs.HANDLER_LOGGER_NAME]
    kept = [r for r in got if r.logger_name == logger.name]
    assert dropped > 0
    assert len(kept) + dropped == 50
    assert warnings and all(r.level == "WARNING" for r in warnings)
    reported = 0
    for w in warnings:
        words = w.message.split()
        assert words[0] == "dropped" and w.message.endswith("(queue full)"), w.message
        reported += int(words[1])
    assert reported == dropped
    # What was kept is in order: the oldest records went in before the queue filled.
    assert [r.message for r in kept] == [f"record {i}" for i in range(len(kept))]


@pytest.mark.timeout(120)
def test_close_returns_while_the_database_is_locked(db, logger, capsys):
    h = DatabaseLogHandler(db, close_timeout=1)
    logger.addHandler(h)
    with write_lock(db):
        logger.error("cannot be written yet")
        h.close()  # bounded: returns although the insert is still waiting for the lock
        logger.error("after close")  # ignored, not queued
    assert "not written to the database" in capsys.readouterr().err


def test_writer_failure_goes_to_stderr_and_the_batch_is_retried(db, logger, capsys):
    h = DatabaseLogHandler(db, close_timeout=60)
    logger.addHandler(h)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE log_entries RENAME TO log_entries_away")
    try:
        logger.warning("kept through the outage")
        # Wait until the writer has failed at least once (it reports to stderr, not through logging).
        for _ in range(600):
            if h._last_stderr:
                break
            threading.Event().wait(0.05)
    finally:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE log_entries_away RENAME TO log_entries")
    h.flush()
    h.close()
    err = capsys.readouterr().err
    assert "cannot write log records to the database" in err
    assert len(err.strip().splitlines()) == 1
    assert [r.message for r in rows(db)] == ["kept through the outage"]


def test_the_writers_own_database_logging_is_not_stored(db):
    # SQLAlchemy logs every statement at INFO, including the handler's own INSERTs: those must not loop.
    sa_logger = logging.getLogger("sqlalchemy.engine.Engine")
    parent = logging.getLogger("sqlalchemy")
    old_level = sa_logger.level
    h = DatabaseLogHandler(db, close_timeout=30)
    parent.addHandler(h)
    sa_logger.setLevel(logging.INFO)
    try:
        with db.session() as s:
            s.execute(sa.text("SELECT 12345"))
        h.flush()
        h.flush()
    finally:
        sa_logger.setLevel(old_level)
        parent.removeHandler(h)
        h.close()
    messages = [r.message for r in rows(db)]
    assert any("SELECT 12345" in m for m in messages)
    assert not any("INSERT INTO log_entries" in m for m in messages)


def _add(db: Database, when: dt.datetime, message: str) -> None:
    with db.session() as s:
        s.add(LogEntry(timestamp=when, level="INFO", logger_name="t", message=message))


def test_purge_deletes_only_entries_past_retention(db):
    now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    for days, name in [(40, "old"), (30.01, "just past"), (29.99, "just inside"), (0, "new")]:
        _add(db, now - dt.timedelta(days=days), name)
    assert purge_old_logs(db, 0, now=now) == 0  # 0 keeps everything
    assert purge_old_logs(db, 30, now=now) == 2
    assert [r.message for r in rows(db)] == ["just inside", "new"]
    assert purge_old_logs(db, 30, now=now) == 0


def test_purge_works_in_chunks(db, monkeypatch):
    now = dt.datetime.now(dt.UTC)
    for i in range(10):
        _add(db, now - dt.timedelta(days=100 + i), f"old {i}")
    _add(db, now, "new")
    monkeypatch.setattr(logs, "PURGE_CHUNK", 3)
    assert purge_old_logs(db, 30) == 10
    assert [r.message for r in rows(db)] == ["new"]


def test_writer_purges_on_its_own(db, logger):
    _add(db, dt.datetime.now(dt.UTC) - dt.timedelta(days=90), "ancient")
    h = DatabaseLogHandler(db, retention_days=30, purge_interval=0.0, close_timeout=30)
    logger.addHandler(h)
    try:
        for _ in range(600):
            if not any(r.message == "ancient" for r in rows(db)):
                break
            threading.Event().wait(0.05)
        logger.info("fresh")
        h.flush()
    finally:
        h.close()
    assert [r.message for r in rows(db)] == ["fresh"]


def test_install_db_logging_uses_level_and_exclusions_from_settings(db, logger):
    settings = default_settings(log_level="warning", excluded_loggers=[logger.name + ".quiet"])
    logger.setLevel(logging.NOTSET)
    h = install_db_logging(db, settings, logger=logger, close_timeout=30)
    try:
        assert logger.level == logging.WARNING
        logger.info("too low")
        logger.warning("stored")
        logging.getLogger(logger.name + ".quiet").error("excluded")
        h.flush()
    finally:
        logger.removeHandler(h)
        h.close()
    assert [r.message for r in rows(db)] == ["stored"]
    assert h.retention_days == 30
