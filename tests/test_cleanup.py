"""Orphan cleanup on SQLite and PostgreSQL: absent storage (empty or missing root, emptied nested mount) never
loses a record; really deleted files are marked, then deleted with apply."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_from_db, path_to_db
from pixelprobe_tui.db.models import CleanupState, ScanReport, ScanResult, ScanState
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.cleanup import CleanupService, known_roots, request_cancel
from pixelprobe_tui.services.config import default_settings


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def add_records(db, paths) -> None:
    with db.session() as s:
        for p in paths:
            s.add(ScanResult(file_path=path_to_db(os.fsdecode(p)), scan_status="healthy", file_size=1))


def stored(db) -> dict[str, bool]:
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(ScanResult.file_path, ScanResult.file_exists)).all()
    return {path_from_db(p): bool(e) for p, e in rows}


@pytest.fixture
def library(tmp_path: Path):
    """Three roots: present (with a deleted file, a deleted folder, an emptied nested mount), empty, missing."""
    present = tmp_path / "present"
    kept = touch(present / "kept.jpg")
    deleted = touch(present / "deleted.jpg")
    in_folder = touch(present / "old album" / "track.flac")
    touch(present / "Photos" / "other.jpg")  # keeps the folder non-empty after its sibling goes
    sibling = touch(present / "Photos" / "gone.jpg")
    nested_mount = present / "nas"  # looks like an unmounted nested mountpoint: an empty directory
    nas_file = nested_mount / "movies" / "film.mkv"
    nested_mount.mkdir()
    odd_name = os.fsencode(present) + b"/caf\xe9-\xff.png"  # not UTF-8: stored through path_to_db
    with open(odd_name, "wb") as fh:
        fh.write(b"x")
    odd_gone = os.fsencode(present) + b"/gone-\xfe.png"

    empty_root = tmp_path / "empty"
    empty_root.mkdir()
    empty_files = [empty_root / "a.mkv", empty_root / "sub" / "b.mkv"]
    missing_root = tmp_path / "unplugged"
    missing_files = [missing_root / "c.mkv", missing_root / "deep" / "d.mkv"]

    all_paths = [
        kept,
        deleted,
        in_folder,
        sibling,
        nas_file,
        odd_name,
        odd_gone,
        *empty_files,
        *missing_files,
    ]
    deleted.unlink()
    shutil.rmtree(present / "old album")
    sibling.unlink()
    return {
        "roots": [str(present), str(empty_root), str(missing_root)],
        "all": [os.fsdecode(p) for p in all_paths],
        "gone": sorted(os.fsdecode(p) for p in (deleted, in_folder, sibling, odd_gone)),
        "present": str(present),
        "empty": str(empty_root),
        "missing": str(missing_root),
    }


def service(db, library) -> CleanupService:
    return CleanupService(db, default_settings(scan_paths=library["roots"]))


def test_preview_changes_nothing(db, library):
    add_records(db, library["all"])
    before = stored(db)
    summary = service(db, library).run("preview")
    assert stored(db) == before
    assert summary.missing == 4 and summary.marked == 0 and summary.deleted == 0
    assert summary.checked == len(library["all"])
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ScanReport)).scalar_one() == 0


def test_mark_then_apply_deletes_only_really_gone_files(db, library):
    add_records(db, library["all"])
    svc = service(db, library)
    marked = svc.run("mark")
    assert marked.status == "completed"
    gone_now = sorted(p for p, exists in stored(db).items() if not exists)
    assert gone_now == library["gone"]
    assert marked.marked == 4 and marked.deleted == 0

    unavailable = {r.root: (r.reason, r.records) for r in marked.unavailable_roots}
    assert unavailable == {library["empty"]: ("empty (not mounted?)", 2), library["missing"]: ("missing", 2)}
    assert marked.skipped_unavailable_root == 4
    assert marked.unverifiable == 1  # the file under the emptied nested mount
    assert "empty" in marked.unverifiable_examples[0][1]

    applied = svc.run("apply")
    assert applied.deleted == 4 and applied.marked == 0  # already marked by the first run
    left = stored(db)
    assert sorted(left) == sorted(set(library["all"]) - set(library["gone"]))
    assert all(left.values())

    with db.engine.connect() as conn:
        reports = conn.execute(sa.select(ScanReport).order_by(ScanReport.id)).all()
        states = conn.execute(sa.select(CleanupState)).all()
    assert [(r.scan_type, r.status) for r in reports] == [("cleanup", "completed")] * 2
    assert reports[1].details["deleted"] == 4
    assert {d["root"] for d in reports[1].details["roots"] if not d["available"]} == {
        library["empty"],
        library["missing"],
    }
    assert len(states) == 2 and all(s.phase == "done" and s.end_time is not None for s in states)
    assert all(s.files_processed == len(library["all"]) for s in states)


def test_records_of_empty_or_missing_roots_are_never_deleted(db, library):
    only_absent = [p for p in library["all"] if p.startswith((library["empty"], library["missing"]))]
    add_records(db, only_absent)
    summary = service(db, library).run("apply")
    assert summary.deleted == 0 and summary.missing == 0
    assert stored(db) == dict.fromkeys(only_absent, True)


def test_roots_come_from_earlier_scans_too(db, library):
    # No configured roots: the empty root is known only from a scan's record, and still protects its files.
    with db.session() as s:
        s.add(ScanState(directories=json.dumps([path_to_db(library["empty"])]), status="completed"))
    add_records(db, [p for p in library["all"] if p.startswith(library["empty"])])
    svc = CleanupService(db, default_settings(scan_paths=[]))
    assert known_roots(db, svc.settings) == [library["empty"]]
    assert svc.run("apply").deleted == 0
    # A record under no known root has its parent directory as root: missing parent => left alone.
    add_records(db, [os.path.join(library["missing"], "x.mkv")])
    assert svc.run("apply").deleted == 0


def test_a_file_rescanned_on_its_own_is_not_taken_for_a_root(db, library):
    # A rescan of chosen files records each file as its "root"; once deleted, the file must still count as
    # gone (its real root is present), not as unplugged storage.
    deleted = os.path.join(library["present"], "deleted.jpg")
    with db.session() as s:
        s.add(ScanState(directories=json.dumps([path_to_db(deleted)]), status="completed"))
    add_records(db, [deleted])
    svc = CleanupService(db, default_settings(scan_paths=[library["present"]]))
    assert known_roots(db, svc.settings) == [library["present"]]
    assert svc.run("mark").marked == 1
    assert stored(db) == {deleted: False}


def test_file_that_comes_back_is_marked_present_again(db, library, tmp_path):
    add_records(db, library["all"])
    svc = service(db, library)
    svc.run("mark")
    touch(Path(library["present"]) / "deleted.jpg")
    summary = svc.run("mark")
    assert summary.restored == 1
    assert stored(db)[os.path.join(library["present"], "deleted.jpg")] is True


def test_cancel_and_bad_mode(db, library):
    add_records(db, library["all"])
    svc = service(db, library)
    svc.cancel()
    with pytest.raises(ConfigError):
        svc.run("delete-everything")  # type: ignore[arg-type]
    assert request_cancel(db) is False  # nothing running

    calls = []

    class Stopping(CleanupService):
        def _progress(self, *args, **kwargs):
            calls.append(1)
            self.cancel()
            super()._progress(*args, **kwargs)

    import pixelprobe_tui.services.cleanup as cleanup_module

    old = cleanup_module.CHUNK
    cleanup_module.CHUNK = 2
    try:
        summary = Stopping(db, default_settings(scan_paths=library["roots"])).run("apply")
    finally:
        cleanup_module.CHUNK = old
    assert summary.status == "cancelled" and summary.checked == 2
    with db.engine.connect() as conn:
        state = conn.execute(sa.select(CleanupState)).one()
    assert state.is_cancelled and state.phase == "cancelled"


def test_json_summary_gives_names_that_are_not_utf8_back_exactly(db, tmp_path: Path):
    import base64
    import json

    root = tmp_path / "lib"
    touch(root / "kept.jpg")
    gone = os.path.join(os.fsencode(root), b"caf\xe9\n.jpg")  # not UTF-8, and a line break
    add_records(db, [root / "kept.jpg", gone])
    summary = CleanupService(db, default_settings()).run("preview", roots=[str(root)])
    data = json.loads(json.dumps(summary.to_dict()))  # what `cleanup --json` prints, parsed back
    assert data["missing_paths"] == [os.fsdecode(gone).replace("\udce9", "\ufffd")]
    assert [base64.b64decode(b) for b in data["missing_paths_b64"]] == [gone]
    assert data["roots"][0]["root"] == str(root) and "root_b64" not in data["roots"][0]
