"""The scan writer stores every result it can: a row the database refuses costs that row, not its batch.

Real rows from real CheckResults, written through the real writer thread into SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import threading

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_from_row
from pixelprobe_tui.core.verdict import Finding, Severity, make_result
from pixelprobe_tui.db.models import ScanResult, utcnow
from pixelprobe_tui.services.scan_lock import claim_scan, release_claim
from pixelprobe_tui.services.scan_writer import ResultWriter, ScanCounters, Snapshot, result_row


def _row(path: str, message: str) -> dict:
    result = make_result(path, [Finding(Severity.CORRUPT, "bad_frame", "test", message)], family="video")
    return result_row(result, Snapshot(10, 1, 2), family="video", deep=False, now=utcnow())


def _write(db, rows: list[dict]) -> ResultWriter:
    claim = claim_scan(db, ["/lib"], deep=False, force=False)
    try:
        writer = ResultWriter(db, claim.scan_id, ScanCounters(current=[None]), cancel=threading.Event())
        writer.start()
        for row in rows:
            writer.put(row, row["scan_status"], 10)
        writer.close()
    finally:
        release_claim(claim)
    assert writer.error is None, writer.error
    return writer


def _stored(db) -> dict[str, ScanResult]:
    with db.session() as s:
        return {path_from_row(r.file_path, r.file_path_full): r for r in s.scalars(sa.select(ScanResult))}


def test_messages_with_nul_and_undecodable_bytes_are_stored(db):
    quoting = "cannot decode " + os.fsdecode(b"/lib/caf\xe9.mp4")  # a surrogate no UTF-8 column takes
    rows = [_row("/lib/a.mp4", "frame\x00data"), _row("/lib/b.mp4", quoting), _row("/lib/c.mp4", "plain")]
    _write(db, rows)
    stored = _stored(db)
    assert set(stored) == {"/lib/a.mp4", "/lib/b.mp4", "/lib/c.mp4"}
    assert "frame\\x00data" in stored["/lib/a.mp4"].corruption_details
    assert "caf\ufffd.mp4" in stored["/lib/b.mp4"].corruption_details
    assert all(r.scan_status == "corrupted" for r in stored.values())


def test_a_row_the_database_refuses_does_not_cost_its_batch(db):
    good = [_row(f"/lib/ok{i}.mp4", "plain") for i in range(5)]
    refused = _row("/lib/x.mp4", "plain")
    # What a row without the long-path key looked like: PostgreSQL's index can't hold it.
    refused["file_path"] = "/lib/" + os.urandom(2000).hex() + ".mp4"
    writer = _write(db, [*good[:2], refused, *good[2:]])
    stored = _stored(db)
    assert {f"/lib/ok{i}.mp4" for i in range(5)} <= set(stored)
    if db.dialect == "postgresql":
        assert writer.rows_refused == 1 and len(stored) == 5
    else:  # SQLite has no such limit
        assert writer.rows_refused == 0 and len(stored) == 6


def test_a_failing_last_flush_ends_the_writer_instead_of_hanging_it(db):
    claim = claim_scan(db, ["/lib"], deep=False, force=False)
    try:
        # Batches wait for the stop: the only flush is the last one, and the table is gone by then.
        writer = ResultWriter(
            db, claim.scan_id, ScanCounters(current=[None]), cancel=threading.Event(), max_batch_wait_s=600
        )
        writer.start()
        writer.put(_row("/lib/a.mp4", "plain"), "corrupted", 10)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE scan_results RENAME TO scan_results_away")
        try:
            writer.close()  # hung forever before: the stop was taken by the failed flush
        finally:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE scan_results_away RENAME TO scan_results")
    finally:
        release_claim(claim)
    assert writer.error is not None and writer.rows_written == 0
