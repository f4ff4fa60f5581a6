"""The scan service on SQLite and PostgreSQL, with real generated media and real checker processes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.core.events import FileChecked, PhaseChanged, Progress, ScanFinished, ScanStarted
from pixelprobe_tui.db.models import Exclusion, LogEntry, ScanReport, ScanResult, ScanState, utcnow
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.logs import install_db_logging
from pixelprobe_tui.services.results import iter_results, mark_good
from pixelprobe_tui.services.scan import ScanService
from pixelprobe_tui.services.scan_lock import ScanAlreadyRunning, claim_scan, release_claim
from pixelprobe_tui.services.scan_lock import request_cancel as request_cancel_in_db

SETTINGS = default_settings(workers=2)


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture
def library(tmp_path, media_factory, damaged_media) -> dict[str, Path]:
    """A small library: valid video, image and audio, one truncated FLAC, one junk JPEG, a text file."""
    root = tmp_path / "library"
    files = {
        "video": _copy(media_factory("mp4_h264", seconds=1.0, size=(96, 64)), root / "video" / "clip.mp4"),
        "image": _copy(media_factory("png", size=(96, 64)), root / "images" / "pic.png"),
        "audio": _copy(media_factory("mp3", seconds=1.0), root / "audio" / "song.mp3"),
        "broken": _copy(damaged_media("flac", "truncated", seconds=1.0), root / "audio" / "broken.flac"),
        "junk": _copy(damaged_media("jpg_baseline", "junk", size=(96, 64)), root / "images" / "junk.jpg"),
    }
    (root / "notes.txt").write_text("not media")
    return files


def _rows(db) -> dict[str, ScanResult]:
    with db.session() as s:
        return {r.file_path: r for r in s.scalars(sa.select(ScanResult))}


def test_full_scan_records_verdicts_state_report_and_events(db, library):
    events = []
    summary = ScanService(db, SETTINGS, events.append).start([str(library["video"].parents[1])])

    assert summary.status == "completed"
    assert summary.files_found == summary.files_checked == 5
    assert (summary.healthy, summary.corrupted) == (3, 2)
    assert summary.any_corrupted

    rows = _rows(db)
    assert set(rows) == {str(p) for p in library.values()}
    video = rows[str(library["video"])]
    st = os.stat(library["video"])
    assert video.scan_status == "healthy" and not video.is_corrupted and not video.has_warning
    assert video.file_hash and video.file_hash.startswith("xxh3_128:")
    assert (video.file_size, video.file_mtime_ns, video.file_inode) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert video.media_family == "video" and video.scan_tool and video.scan_date and video.last_verified_at
    assert json.loads(video.media_info)
    broken = rows[str(library["broken"])]
    assert broken.scan_status == "corrupted" and broken.is_corrupted and broken.corruption_details
    assert any(f["severity"] == "corrupt" for f in json.loads(broken.findings))

    with db.session() as s:
        state = s.get(ScanState, uuid.UUID(summary.scan_id))
        report = s.scalars(sa.select(ScanReport)).one()
    assert state.status == "completed" and state.phase == "completed" and state.phase_number == 3
    assert (state.files_processed, state.total_files) == (5, 5)
    assert state.bytes_processed == state.bytes_total == sum(p.stat().st_size for p in library.values())
    assert state.end_time is not None and not state.cancel_requested
    assert report.scan_id == state.id and report.status == "completed" and report.scan_type == "full_scan"
    assert (report.total_files, report.healthy_files, report.corrupted_files) == (5, 3, 2)
    assert report.directories_scanned == [str(library["video"].parents[1])]
    assert report.details["files_found"] == 5

    assert isinstance(events[0], ScanStarted) and isinstance(events[-1], ScanFinished)
    assert [e.phase for e in events if isinstance(e, PhaseChanged)] == ["discovering", "adding", "scanning"]
    assert sorted(e.path for e in events if isinstance(e, FileChecked)) == sorted(map(str, library.values()))
    assert any(isinstance(e, Progress) and e.files_done == 5 for e in events)


def test_incremental_scan_checks_only_new_and_changed_files(db, library, media_factory):
    root = library["video"].parents[1]
    service = ScanService(db, SETTINGS)
    service.start([str(root)])
    before = _rows(db)

    library["image"].write_bytes(media_factory("png", size=(64, 48), seed=1).read_bytes())  # changed
    added = _copy(media_factory("wav", seconds=0.5), root / "audio" / "new.wav")  # new

    summary = service.start([str(root)])
    assert (summary.files_checked, summary.skipped_unchanged) == (2, 4)
    assert summary.known_corrupted == 2  # unchanged, still corrupted: a script must still hear about them
    after = _rows(db)
    assert after[str(added)].scan_status == "healthy"
    assert after[str(library["image"])].file_size == library["image"].stat().st_size
    for key in ("video", "audio", "broken", "junk"):
        assert after[str(library[key])].scan_date == before[str(library[key])].scan_date  # not read again

    forced = service.start([str(root)], force=True)
    assert (forced.files_checked, forced.skipped_unchanged) == (6, 0)
    with db.session() as s:
        types = s.scalars(sa.select(ScanReport.scan_type).order_by(ScanReport.id)).all()
    assert types == ["full_scan", "full_scan", "rescan"]


def test_deep_scan_rechecks_quick_results_once_and_file_scan_rechecks_chosen_files(db, library):
    root = library["video"].parents[1]
    service = ScanService(db, SETTINGS)
    service.start([str(root)])
    deep = service.start([str(root)], deep=True)
    assert deep.files_checked == 5 and all(r.deep_scanned for r in _rows(db).values())
    assert service.start([str(root)], deep=True).files_checked == 0

    with db.session() as s:
        s.add(Exclusion(type="extension", value="png"))
    assert service.start([str(root)], force=True).files_found == 4  # exclusions apply to walks
    one = service.start(files=[str(library["image"])])
    assert (one.files_found, one.files_checked) == (1, 1)  # but not to a file named explicitly
    with db.session() as s:
        assert (
            s.scalars(sa.select(ScanReport.scan_type).order_by(ScanReport.id.desc())).first() == "file_scan"
        )


def test_mark_good_survives_rescans_and_lapses_when_the_content_changes(db, library, damaged_media):
    root = library["video"].parents[1]
    service = ScanService(db, SETTINGS)
    service.start([str(root)])
    outcome = mark_good(db, [str(library["broken"]), str(root / "missing.mp4")], by="tester@host")
    assert outcome.changed == (str(library["broken"]),) and outcome.missing == (str(root / "missing.mp4"),)

    service.start([str(root)], force=True)
    row = _rows(db)[str(library["broken"])]
    assert row.marked_as_good and row.is_corrupted  # the verdict is never rewritten by the mark
    assert row.marked_as_good_by == "tester@host" and row.marked_as_good_hash == row.file_hash
    assert service.start([str(root)]).known_corrupted == 1  # the marked file no longer counts

    library["broken"].write_bytes(damaged_media("flac", "truncated", seed=2, seconds=1.0).read_bytes()[:-100])
    service.start([str(root)])
    assert not _rows(db)[str(library["broken"])].marked_as_good

    assert [r["file_path"] for r in iter_results(db, "corrupted", batch_size=1)] == sorted(
        [str(library["broken"]), str(library["junk"])]
    )


def test_a_second_scan_is_refused_while_one_runs(db, library, tmp_path):
    claim = claim_scan(db, [str(tmp_path)], deep=False, force=False)
    try:
        with pytest.raises(ScanAlreadyRunning, match=r"a scan is already running \(phase 0/3 starting"):
            ScanService(db, SETTINGS).start([str(library["video"].parent)])
    finally:
        release_claim(claim)


def test_an_interrupted_run_is_resumed_without_checking_finished_files_again(db, library):
    root = str(library["video"].parents[1])
    first = ScanService(db, SETTINGS).start([root], force=True)
    before = _rows(db)
    dead = subprocess.Popen(["true"])
    dead.wait()
    # What a kill -9 during a forced rescan leaves: a 'running' row of a dead process, results stored since.
    with db.session() as s:
        s.add(
            ScanState(
                id=uuid.uuid4(),
                phase="scanning",
                phase_number=3,
                status="running",
                start_time=min(r.scan_date for r in before.values()) - dt.timedelta(seconds=5),
                directories=json.dumps([root]),
                force_rescan=True,
                owner=f"{socket.gethostname()}:{dead.pid}",
                heartbeat_at=utcnow(),
            )
        )
    resumed = ScanService(db, SETTINGS).start([root], force=True)
    assert resumed.resumed and resumed.scan_id != first.scan_id
    size = sum(p.stat().st_size for p in library.values())
    assert resumed.already_checked == 5 and resumed.bytes_checked == resumed.already_checked_bytes == size
    assert (resumed.healthy, resumed.corrupted) == (3, 2)  # the report covers the whole run
    assert {k: r.scan_date for k, r in _rows(db).items()} == {k: r.scan_date for k, r in before.items()}
    with db.session() as s:
        states = s.scalars(sa.select(ScanState.status)).all()
    assert sorted(states) == ["completed", "completed"]


def test_cancel_from_another_connection_stops_the_run_and_keeps_finished_results(db, tmp_path, media_factory):
    src = media_factory("mp4_h264", seconds=1.0, size=(96, 64))
    root = tmp_path / "many"
    for i in range(3):
        _copy(src, root / f"clip{i:02d}.mp4")
    # Checked last; the test hook makes its read hang, so the cancel surely finds the run busy.
    _copy(src, root / "zz" / "__pixelprobe_stall.mp4")
    seen = []

    def sink(event):
        if isinstance(event, FileChecked):
            seen.append(event.path)
            if len(seen) == 3:
                assert request_cancel_in_db(db)  # as another process would: through the database only

    service = ScanService(db, default_settings(workers=1), sink, child_env={**os.environ, HOOK_ENV: "1"})
    summary = service.start([str(root)])
    assert summary.status == "cancelled" and summary.files_checked == 3
    with db.session() as s:
        state = s.get(ScanState, uuid.UUID(summary.scan_id))
        statuses = dict(s.execute(sa.select(ScanResult.file_path, ScanResult.scan_status)).all())
        report = s.scalars(sa.select(ScanReport)).one()
    assert state.status == "cancelled" and state.is_cancelled and state.cancel_requested
    assert sorted(statuses.values()) == ["healthy", "healthy", "healthy", "pending"]  # the aborted check
    assert report.status == "cancelled"

    # The next run checks only what the cancelled one left (without the hook, an ordinary valid file).
    assert ScanService(db, SETTINGS).start([str(root)]).files_checked == 1


def test_log_lines_are_tagged_with_the_scan_id_and_not_one_per_file(db, library):
    handler = install_db_logging(db, SETTINGS, logging.getLogger("pixelprobe.scan"))
    try:
        summary = ScanService(db, SETTINGS).start([str(library["video"].parents[1])])
        handler.flush()
    finally:
        logging.getLogger("pixelprobe.scan").removeHandler(handler)
        handler.close()
    with db.session() as s:
        lines = s.scalars(sa.select(LogEntry).where(LogEntry.scan_id == summary.scan_id)).all()
    assert any("phase 3/3" in e.message for e in lines)
    assert any(e.message.startswith("scan completed") for e in lines)
    assert not any(str(library["video"]) in e.message for e in lines)
