"""What the next start does with an interrupted run, and honest progress for a resumed one.

An interrupted run is what a kill -9 leaves: a ``running`` scan_state row whose owner is gone, and the
verdicts it stored. Real scans with real checker processes, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.commands.scan import ProgressPrinter, print_summary
from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.core.events import PhaseChanged, Progress
from pixelprobe_tui.db.models import ScanReport, ScanResult, ScanState, utcnow
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.scan import ScanService
from pixelprobe_tui.services.scan_lock import ScanAlreadyRunning, claim_scan, owner_alive, release_claim

SETTINGS = default_settings(workers=2)


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture
def library(tmp_path, media_factory, damaged_media) -> dict[str, Path]:
    root = tmp_path / "library"
    return {
        "video": _copy(media_factory("mp4_h264", seconds=1.0, size=(96, 64)), root / "video" / "clip.mp4"),
        "image": _copy(media_factory("png", size=(96, 64)), root / "images" / "pic.png"),
        "broken": _copy(damaged_media("flac", "truncated", seconds=1.0), root / "audio" / "broken.flac"),
    }


def _dead_owner() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def _interrupted(db, roots: list[str], *, force: bool, start: dt.datetime, owner: str | None = None, **kw):
    """Leave what a kill -9 of a run started at *start* leaves (its verdicts must already be stored)."""
    scan_id = uuid.uuid4()
    values = {
        "phase": "scanning",
        "phase_number": 3,
        "files_processed": 2,
        "total_files": 9,
        "heartbeat_at": utcnow(),
        **kw,
    }
    with db.session() as s:
        s.add(
            ScanState(
                id=scan_id,
                status="running",
                start_time=start,
                directories=json.dumps([path_to_db(r) for r in roots]),
                force_rescan=force,
                owner=owner or _dead_owner(),
                **values,
            )
        )
    return scan_id


def _scan_dates(db) -> dict[str, dt.datetime]:
    with db.session() as s:
        return dict(s.execute(sa.select(ScanResult.file_path, ScanResult.scan_date)).all())


def test_a_different_request_closes_the_interrupted_run_with_its_report(db, library, tmp_path, media_factory):
    root = str(library["video"].parents[1])
    ScanService(db, SETTINGS).start([root], force=True)  # the verdicts the interrupted run stored
    start = min(_scan_dates(db).values()) - dt.timedelta(seconds=1)
    old = _interrupted(db, [root], force=True, start=start)
    other = _copy(media_factory("png", size=(64, 48)), tmp_path / "other" / "x.png")

    summary = ScanService(db, SETTINGS).start([str(other.parent)])  # different roots and options
    assert summary.status == "completed" and not summary.resumed and summary.files_checked == 1
    assert len(summary.closed_interrupted) == 1
    assert summary.closed_interrupted[0].startswith(f"an interrupted forced scan of {root} (started ")
    assert summary.closed_interrupted[0].endswith("2/9 files)")
    with db.session() as s:
        state = s.get(ScanState, old)
        report = s.scalars(sa.select(ScanReport).where(ScanReport.scan_id == old)).one()
    assert (
        state.status == "interrupted" and state.end_time is not None and "interrupted" in state.error_message
    )
    assert report.status == "interrupted" and report.scan_type == "rescan"
    assert (report.total_files, report.healthy_files, report.corrupted_files) == (3, 2, 1)
    assert report.directories_scanned == [root]
    assert report.details["closed_by_scan"] == summary.scan_id and report.details["total_files"] == 9

    out = io.StringIO()
    print_summary(summary, out)
    assert out.getvalue().startswith(f"Closed an interrupted forced scan of {root} (started ")

    # Its finished files are not lost: an ordinary scan of its roots does not read them again.
    again = ScanService(db, SETTINGS).start([root])
    assert again.files_checked == 0 and again.skipped_unchanged == 3 and not again.closed_interrupted


def test_a_single_file_scan_leaves_the_interrupted_run_resumable(db, library):
    root = str(library["video"].parents[1])
    ScanService(db, SETTINGS).start([root], force=True)
    start = min(_scan_dates(db).values()) - dt.timedelta(seconds=1)
    old = _interrupted(db, [root], force=True, start=start)

    one = ScanService(db, SETTINGS).start(files=[str(library["image"])])
    assert one.files_checked == 1 and not one.resumed and not one.closed_interrupted
    with db.session() as s:
        assert s.get(ScanState, old).status == "running"  # untouched, and no report for it yet
        assert not s.scalars(sa.select(ScanReport).where(ScanReport.scan_id == old)).all()

    dates = _scan_dates(db)
    resumed = ScanService(db, SETTINGS).start([root], force=True)
    assert resumed.resumed and resumed.scan_id == str(old)
    assert resumed.already_checked == 3 and resumed.files_checked == 3
    assert _scan_dates(db) == dates  # nothing checked twice


def test_a_reused_pid_does_not_keep_a_dead_run_alive(db, library):
    root = str(library["video"].parents[1])
    # The pid recorded as owner now belongs to a process started after the run's last heartbeat.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = f"{socket.gethostname()}:{stranger.pid}"
        last_seen = utcnow() - dt.timedelta(minutes=5)
        assert not owner_alive(owner, last_seen)
        assert owner_alive(owner, utcnow() + dt.timedelta(seconds=5))  # it is the owner if it was there
        old = _interrupted(db, [root], force=False, start=last_seen, heartbeat_at=last_seen, owner=owner)
        summary = ScanService(db, SETTINGS).start([root])
    finally:
        stranger.kill()
        stranger.wait()
    assert summary.status == "completed" and summary.resumed and summary.scan_id == str(old)


def test_a_live_owner_still_blocks(db, library, tmp_path):
    claim = claim_scan(db, [str(tmp_path)], deep=False, force=False)
    try:
        with pytest.raises(ScanAlreadyRunning):
            ScanService(db, SETTINGS).start(files=[str(library["image"])])
    finally:
        release_claim(claim)


def test_a_resumed_run_reports_progress_over_the_whole_run(db, library, media_factory):
    root = library["video"].parents[1]
    ScanService(db, SETTINGS).start([str(root)], force=True)
    start = min(_scan_dates(db).values()) - dt.timedelta(seconds=1)
    _interrupted(db, [str(root)], force=True, start=start)
    before_bytes = sum(p.stat().st_size for p in library.values())
    # What the interrupted part had not reached yet.
    left = [_copy(media_factory("png", size=(64, 48), seed=i), root / "late" / f"n{i}.png") for i in range(2)]
    left_bytes = sum(p.stat().st_size for p in left)

    events = []
    summary = ScanService(db, SETTINGS, events.append).start([str(root)], force=True)
    assert summary.resumed and summary.already_checked == 3 and summary.files_checked == 5
    assert summary.already_checked_bytes == before_bytes
    assert summary.bytes_checked == before_bytes + left_bytes

    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and all(e.files_total == 5 and e.files_before == 3 for e in progress)
    assert all(e.bytes_total == before_bytes + left_bytes for e in progress)
    assert progress[0].files_done >= 3 and progress[-1].files_done == 5
    assert progress[-1].bytes_done == progress[-1].bytes_total
    # The earlier part is never throughput: a rate is measured over this part's files only.
    assert all(e.rate_files_s == 0 for e in progress if e.files_done == 3)
    with db.session() as s:
        state = s.get(ScanState, uuid.UUID(summary.scan_id))
        report = s.scalars(sa.select(ScanReport).where(ScanReport.scan_id == state.id)).one()
    assert report.total_files == 5 and report.details["bytes_checked"] == before_bytes + left_bytes
    assert (report.details["files_checked_this_part"], report.details["bytes_checked_this_part"]) == (
        2,
        left_bytes,
    )
    assert (state.files_processed, state.total_files) == (5, 5)
    assert state.bytes_processed == state.bytes_total == before_bytes + left_bytes

    out = io.StringIO()
    print_summary(summary, out)
    assert "5 checked (3 before the interruption)" in out.getvalue()


def test_progress_line_says_how_much_was_done_before_resuming():
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=False, line_interval_s=0)
    printer(PhaseChanged("id", "scanning", 3, 3))
    printer(Progress(85, 100, 850, 1000, 1.0, 10.0, 15.0, (), files_before=80))
    assert "85.0% 85/100 files (80 before resuming)" in stream.getvalue() and "ETA 00:15" in stream.getvalue()


def test_the_start_line_names_a_few_roots_not_thousands():
    from pixelprobe_tui.core.events import ScanStarted

    stream = io.StringIO()
    ProgressPrinter(stream, tty=False)(
        ScanStarted("id", tuple(f"/lib/f{i}.mp4" for i in range(5000)), False, False)
    )
    assert stream.getvalue() == "scanning /lib/f0.mp4, /lib/f1.mp4, /lib/f2.mp4 and 4997 more\n"


def test_a_run_that_escapes_early_does_not_block_this_process_forever(db, library):
    root = str(library["video"].parents[1])

    def stop_at_once(event):
        raise KeyboardInterrupt  # as a second Ctrl-C can, before the run has recorded anything

    with pytest.raises(KeyboardInterrupt):
        ScanService(db, SETTINGS, stop_at_once).start([root])
    summary = ScanService(db, SETTINGS).start([root])  # refused before: "a scan is already running"
    assert summary.status == "completed" and summary.resumed and summary.files_checked == 3


def test_a_file_recorded_as_gone_that_is_back_unchanged_exists_again(db, library):
    root = str(library["video"].parents[1])
    ScanService(db, SETTINGS).start([root])
    with db.session() as s:  # what cleanup's "mark" does while a disk is away
        s.execute(sa.update(ScanResult).values(file_exists=False))
    summary = ScanService(db, SETTINGS).start([root])
    assert summary.skipped_unchanged == 3 and summary.files_checked == 0  # not read again
    with db.session() as s:
        assert s.scalars(sa.select(ScanResult.file_exists)).all() == [True, True, True]


def test_a_closed_run_of_thousands_of_files_is_described_in_a_line():
    from pixelprobe_tui.services.scan_lock import InterruptedRun

    run = InterruptedRun(
        uuid.uuid4(), [f"/lib/f{i}.mp4" for i in range(4000)], False, True, None, None, 5, 4000, None
    )
    assert run.describe() == (
        "an interrupted forced scan of /lib/f0.mp4, /lib/f1.mp4, /lib/f2.mp4 and 3997 more (5/4000 files)"
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # the advisory lock is PostgreSQL's
def test_the_postgresql_lock_connection_is_probed_so_a_vanished_scanner_frees_it(db, tmp_path):
    claim = claim_scan(db, [str(tmp_path)], deep=False, force=False)
    try:
        conn = claim._lock_conn
        assert conn is not None
        settings = {
            name: conn.exec_driver_sql(f"SHOW {name}").scalar()
            for name in (
                "tcp_keepalives_idle",
                "tcp_keepalives_interval",
                "tcp_keepalives_count",
                "tcp_user_timeout",
            )
        }
        conn.rollback()
    finally:
        release_claim(claim)
    assert settings == {
        "tcp_keepalives_idle": "20",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": "60000",
    }
