"""File changes and bitrot on SQLite and PostgreSQL, with real media recorded by a real scan first.

Bitrot is simulated the way it looks on disk: one byte flipped in place, the modification time put back with
``os.utime(ns=...)``. Every such file must be flagged with its old hash kept; no untouched file may be.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_from_db, path_to_db
from pixelprobe_tui.core.hashing import hash_file
from pixelprobe_tui.db.models import FileChangesState, ScanReport, ScanResult, ScanSchedule
from pixelprobe_tui.services.changes import BITROT_CODE, FileChangesService, latest_state, request_cancel
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.results import iter_results, mark_good
from pixelprobe_tui.services.scan import ScanService
from pixelprobe_tui.services.scan_lock import ScanAlreadyRunning, claim_scan, release_claim
from pixelprobe_tui.services.schedules import default_runners

SETTINGS = default_settings(workers=2)
KINDS = {
    "a.png": ("png", {"size": (64, 48), "seed": 0}),
    "b.png": ("png", {"size": (64, 48), "seed": 1}),
    "c.jpg": ("jpg_baseline", {"size": (64, 48)}),
    "d.bmp": ("bmp", {"size": (64, 48)}),
    "e.wav": ("wav", {"seconds": 0.5}),
    "f.flac": ("flac", {"seconds": 0.5}),
    "g.mp3": ("mp3", {"seconds": 0.5}),
}


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Flip one byte in place and put size and mtime back as they were: what bitrot looks like."""
    st = os.stat(path)
    pos = st.st_size // 2 if offset is None else offset
    with open(path, "r+b") as fh:
        fh.seek(pos)
        byte = fh.read(1)
        fh.seek(pos)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns


def rows(db) -> dict[str, ScanResult]:
    with db.session() as s:
        return {path_from_db(r.file_path): r for r in s.scalars(sa.select(ScanResult))}


@pytest.fixture
def library(tmp_path: Path, media_factory) -> dict[str, Path]:
    """Two roots of real media, recorded by a real scan."""
    files: dict[str, Path] = {}
    for name, (kind, kwargs) in KINDS.items():
        dst = tmp_path / "lib" / "sub" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(media_factory(kind, **kwargs), dst)
        files[name] = dst
    other = tmp_path / "other"
    other.mkdir()
    for name in ("a.png", "c.jpg"):
        shutil.copyfile(files[name], other / name)
        files[f"other/{name}"] = other / name
    return files


@pytest.fixture
def scanned(db, library, tmp_path) -> dict[str, Path]:
    # One checker process: starting a second costs more than it saves on nine small files.
    summary = ScanService(db, SETTINGS, workers=1).start([str(tmp_path / "lib"), str(tmp_path / "other")])
    assert summary.status == "completed" and summary.files_checked == len(library)
    assert all(r.file_hash and r.file_hash.startswith("xxh3_128:") for r in rows(db).values())
    return library


def test_nothing_changed_verifies_every_file(db, scanned):
    before = rows(db)
    summary = FileChangesService(db, SETTINGS).run()
    assert summary.status == "completed"
    assert (summary.checked, summary.unchanged) == (len(scanned), len(scanned))
    assert summary.modified == summary.bitrot == summary.missing == summary.unreadable == 0
    after = rows(db)
    for path, row in after.items():
        assert row.file_hash == before[path].file_hash
        assert not row.bitrot_suspected
        assert row.last_verified_at >= before[path].last_verified_at


def test_flipped_bytes_with_restored_mtime_are_all_bitrot_and_keep_their_hash(db, scanned):
    rotten = [scanned[n] for n in ("a.png", "c.jpg", "e.wav", "f.flac", "g.mp3")]
    untouched = [p for p in scanned.values() if p not in rotten]
    mark_good(db, [str(scanned["e.wav"])])
    before = rows(db)
    assert before[str(scanned["e.wav"])].marked_as_good
    for p in rotten:
        flip_byte(p)

    progress = []
    summary = FileChangesService(db, SETTINGS, progress.append).run()

    assert summary.status == "completed"
    assert summary.bitrot == len(rotten)
    assert summary.modified == summary.missing == summary.unreadable == 0
    assert summary.unchanged == len(untouched)
    assert summary.rescanned == len(rotten)
    assert sorted(b["path"] for b in summary.bitrot_files) == sorted(str(p) for p in rotten)
    after = rows(db)
    for p in rotten:
        row, old = after[str(p)], before[str(p)]
        assert row.bitrot_suspected, p
        assert row.file_hash == old.file_hash, "the new content must never become the baseline silently"
        current = hash_file(p)
        assert current != old.file_hash
        findings = json.loads(row.findings)
        rot = [f for f in findings if f["code"] == BITROT_CODE]
        assert len(rot) == 1 and old.file_hash in rot[0]["message"] and current in rot[0]["message"]
        assert row.has_warning and old.file_hash in row.warning_details
        assert row.scan_status != "healthy"  # still decodes at best: a warning
        assert not row.marked_as_good
    for p in untouched:
        assert not after[str(p)].bitrot_suspected, p
        assert after[str(p)].file_hash == before[str(p)].file_hash
    # The broken PNG CRC is found by the rescan.
    assert after[str(scanned["a.png"])].scan_status == "corrupted"

    flagged = {path_from_db(r["file_path"]) for r in iter_results(db, "bitrot")}
    assert flagged == {str(p) for p in rotten}

    with db.session() as s:
        state = s.scalars(sa.select(FileChangesState)).one()
        report = s.scalars(sa.select(ScanReport).where(ScanReport.scan_type == "file_changes")).one()
    assert state.phase == "done" and state.end_time is not None and not state.is_cancelled
    assert state.files_processed == state.total_files == len(scanned)
    assert report.status == "completed" and report.details["bitrot"] == len(rotten)
    assert report.details["unchanged"] == len(untouched) and report.total_files == len(scanned)
    assert progress[-1].phase == "done"
    latest = latest_state(db)
    assert latest is not None and latest.id == state.id

    # Checked again: still suspected, still the old hash (rot does not heal by being looked at twice).
    again = FileChangesService(db, SETTINGS).run()
    assert again.bitrot == len(rotten) and again.unchanged == len(untouched)
    assert all(rows(db)[str(p)].file_hash == before[str(p)].file_hash for p in rotten)


def test_every_flip_anywhere_in_the_file_is_found_and_nothing_else(db, tmp_path, media_factory):
    sources = [
        media_factory("png", size=(64, 48), seed=2),
        media_factory("bmp", size=(64, 48)),
        media_factory("wav", seconds=0.5),
    ]
    root = tmp_path / "many"
    files = []
    for i in range(30):
        dst = root / f"d{i % 3}" / f"f{i:02d}{sources[i % 3].suffix}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sources[i % 3], dst)
        files.append(dst)
    assert ScanService(db, SETTINGS, workers=1).start([str(root)]).files_checked == len(files)
    before = rows(db)
    rng = random.Random(6)
    rotten = rng.sample(files, 12)
    for n, p in enumerate(rotten):
        size = p.stat().st_size
        flip_byte(p, [0, size - 1, size // 2][n] if n < 3 else rng.randrange(size))

    summary = FileChangesService(db, SETTINGS).run()

    assert summary.bitrot == len(rotten) and summary.unchanged == len(files) - len(rotten)
    after = rows(db)
    assert {str(p) for p in files if after[str(p)].bitrot_suspected} == {str(p) for p in rotten}
    assert all(after[str(p)].file_hash == before[str(p)].file_hash for p in files)


def test_restored_file_clears_the_flag(db, scanned):
    p = scanned["e.wav"]
    original = p.read_bytes()
    st = os.stat(p)
    flip_byte(p)
    assert FileChangesService(db, SETTINGS).run().bitrot == 1
    p.write_bytes(original)  # restored from a backup
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    summary = FileChangesService(db, SETTINGS).run()
    assert (summary.bitrot, summary.restored) == (0, 1)
    row = rows(db)[str(p)]
    assert not row.bitrot_suspected and row.scan_status == "healthy"


def test_modified_file_takes_the_new_baseline_and_the_mark_lapses(db, scanned, media_factory):
    target = scanned["b.png"]
    touched = scanned["d.bmp"]
    mark_good(db, [str(target)])
    before = rows(db)
    assert before[str(target)].marked_as_good and before[str(target)].marked_as_good_hash
    old_mtime = os.stat(target).st_mtime_ns
    shutil.copyfile(media_factory("png", size=(80, 60), seed=7), target)  # an edit: new content
    os.utime(target, ns=(old_mtime + 5_000_000_000, old_mtime + 5_000_000_000))
    t_mtime = os.stat(touched).st_mtime_ns + 7_000_000_000
    os.utime(touched, ns=(t_mtime, t_mtime))  # touched only: same content

    summary = FileChangesService(db, SETTINGS).run()

    assert (summary.modified, summary.bitrot, summary.missing) == (1, 0, 0)
    assert summary.modified_paths == [str(target)]
    assert summary.unchanged == len(scanned) - 1 and summary.touched == 1
    assert summary.rescanned == 1
    row = rows(db)[str(target)]
    assert row.file_hash == hash_file(target) != before[str(target)].file_hash
    assert row.file_mtime_ns == old_mtime + 5_000_000_000 and row.file_size == os.stat(target).st_size
    assert not row.marked_as_good and not row.bitrot_suspected
    assert row.scan_status == "healthy"
    assert rows(db)[str(touched)].file_mtime_ns == t_mtime  # snapshot follows a touch
    # The new baseline holds: the next check finds nothing.
    again = FileChangesService(db, SETTINGS).run()
    assert again.unchanged == len(scanned) and again.modified == again.bitrot == 0


def test_missing_files_but_not_absent_storage(db, scanned, tmp_path):
    gone = scanned["f.flac"]
    gone.unlink()
    for name in ("a.png", "c.jpg"):  # the second root is emptied: looks like an unmounted disk
        scanned[f"other/{name}"].unlink()

    summary = FileChangesService(db, SETTINGS).run()

    assert summary.missing == 1 and summary.missing_paths == [str(gone)]
    assert summary.skipped_unavailable_root == 2
    assert summary.bitrot == summary.modified == 0
    assert [r.root for r in summary.unavailable_roots] == [str(tmp_path / "other")]
    after = rows(db)
    assert not after[str(gone)].file_exists
    assert after[str(scanned["other/a.png"])].file_exists and after[str(scanned["other/c.jpg"])].file_exists

    shutil.rmtree(tmp_path / "other")  # unplugged
    summary = FileChangesService(db, SETTINGS).run()
    assert summary.missing == 1 and summary.skipped_unavailable_root == 2
    assert all(rows(db)[str(scanned[f"other/{n}"])].file_exists for n in ("a.png", "c.jpg"))


def test_a_rescanned_file_that_goes_is_missing(db, scanned):
    # A rescan of chosen files records them as the "roots" of its scan: they must not count as storage roots.
    p = scanned["g.mp3"]
    with open(p, "ab") as fh:
        fh.write(b"\0" * 32)
    assert FileChangesService(db, SETTINGS).run().modified == 1
    p.unlink()
    summary = FileChangesService(db, SETTINGS).run()
    assert summary.missing == 1 and summary.missing_paths == [str(p)]
    assert summary.skipped_unavailable_root == 0 and not summary.unavailable_roots


def test_paths_limit_the_check(db, scanned, tmp_path):
    flip_byte(scanned["a.png"])
    flip_byte(scanned["other/a.png"])
    summary = FileChangesService(db, SETTINGS).run([tmp_path / "other"])
    assert summary.checked == 2 and summary.bitrot == 1
    assert [b["path"] for b in summary.bitrot_files] == [str(scanned["other/a.png"])]
    assert not rows(db)[str(scanned["a.png"])].bitrot_suspected
    # A file path works too, and a path that only shares a prefix is not "below" it.
    single = FileChangesService(db, SETTINGS).run([scanned["a.png"]])
    assert (single.checked, single.bitrot) == (1, 1)
    assert FileChangesService(db, SETTINGS).run([str(tmp_path / "oth")]).checked == 0


def test_unreadable_is_not_bitrot(db, scanned):
    # A recorded file replaced by a FIFO: never opened (that would block), unreadable, neither bitrot nor gone.
    p = scanned["c.jpg"]
    p.unlink()
    os.mkfifo(p)
    summary = FileChangesService(db, SETTINGS).run()
    assert summary.unreadable == 1 and summary.bitrot == summary.missing == summary.modified == 0
    assert summary.unreadable_examples == [(str(p), "not a regular file")]
    row = rows(db)[str(p)]
    assert not row.bitrot_suspected and row.file_exists


def test_file_changes_schedule_runs_the_check(db, scanned, tmp_path):
    flip_byte(scanned["other/c.jpg"])
    schedule = ScanSchedule(
        name="weekly bitrot",
        scan_type="file_changes",
        schedule_value="0 3 * * 0",
        scan_paths=[path_to_db(str(tmp_path / "other"))],
    )
    default_runners(db)["file_changes"](schedule)
    with db.session() as s:
        report = s.scalars(sa.select(ScanReport).where(ScanReport.scan_type == "file_changes")).one()
    assert report.details["checked"] == 2 and report.details["bitrot"] == 1
    assert rows(db)[str(scanned["other/c.jpg"])].bitrot_suspected


def test_cancel_in_process_and_from_the_database(db, scanned):
    svc = FileChangesService(db, SETTINGS, lambda _p: svc.cancel())
    summary = svc.run()
    assert summary.status == "cancelled"

    asked = []
    other = FileChangesService(
        db, SETTINGS, lambda _p: asked.append(request_cancel(db)) if not asked else None
    )
    summary = other.run()
    assert asked == [True] and summary.status == "cancelled"
    assert not request_cancel(db)  # nothing running any more

    with db.session() as s:
        states = s.scalars(sa.select(FileChangesState)).all()
        reports = s.scalars(sa.select(ScanReport).where(ScanReport.scan_type == "file_changes")).all()
    assert len(states) == 2 and all(st.is_cancelled and st.phase == "cancelled" for st in states)
    assert [r.status for r in reports] == ["cancelled", "cancelled"]


def test_refuses_while_a_scan_is_running(db, scanned, tmp_path):
    claim = claim_scan(db, [path_to_db(str(tmp_path / "lib"))], deep=False, force=False)
    try:
        with pytest.raises(ScanAlreadyRunning, match="scan is running"):
            FileChangesService(db, SETTINGS).run()
    finally:
        release_claim(claim)
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(FileChangesState)) == 0
