"""Bad input for the scan engine: every case gets a clear result or report, never a crash, hang or lost data.

Most cases are about the file system, so they run on SQLite only; names that are not valid UTF-8 are about
storage too and run on both databases.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.core.discovery import path_from_db
from pixelprobe_tui.core.events import FileChecked, PhaseChanged
from pixelprobe_tui.core.isolation import IsolationConfig
from pixelprobe_tui.db.models import ScanReport, ScanResult
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.scan import ScanService

SETTINGS = default_settings(workers=2)
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _rows(db) -> dict[str, ScanResult]:
    with db.session() as s:
        return {path_from_db(r.file_path): r for r in s.scalars(sa.select(ScanResult))}


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


@sqlite_only
def test_special_files_symlinks_empty_files_and_media_named_directories(db, tmp_path, media_factory):
    root = tmp_path / "lib"
    clip = _copy(media_factory("mp4_h264", seconds=1.0, size=(96, 64)), root / "clip.mp4")
    inner = _copy(media_factory("png", size=(96, 64)), root / "folder.mp4" / "inner.png")  # a directory
    (root / "empty.mp4").write_bytes(b"")
    os.mkfifo(root / "pipe.mp4")  # opening it would block forever
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.mp3"))
    devices = 0
    try:
        os.mknod(root / "dev.mkv", 0o600 | 0o020000, os.makedev(1, 3))  # a character device (/dev/null)
        devices = 1
    except PermissionError:
        pass
    os.symlink("b.mp4", root / "a.mp4")
    os.symlink("a.mp4", root / "b.mp4")
    os.symlink("missing.mp4", root / "dead.mp4")
    try:
        summary = ScanService(db, SETTINGS).start([str(root)])
    finally:
        sock.close()

    assert summary.status == "completed" and summary.incomplete_reason is None
    rows = _rows(db)
    assert set(rows) == {str(clip), str(inner), str(root / "empty.mp4")}
    assert rows[str(clip)].scan_status == "healthy" and rows[str(inner)].scan_status == "healthy"
    empty = rows[str(root / "empty.mp4")]
    assert empty.scan_status == "corrupted" and "empty file" in empty.corruption_details
    counts = summary.discovery["issue_counts"]
    assert counts["special_file"] == 2 + devices
    assert counts["symlink_loop"] == 2 and counts["broken_symlink"] == 1
    with db.session() as s:
        details = s.scalars(sa.select(ScanReport.details)).one()
    assert {i["kind"] for i in details["issues"]} == {"special_file", "symlink_loop", "broken_symlink"}


@sqlite_only
def test_the_same_path_twice_nested_roots_and_link_loops_check_each_file_once(db, tmp_path, media_factory):
    root = tmp_path / "lib"
    files = [
        _copy(media_factory("png", size=(96, 64)), root / "a.png"),
        _copy(media_factory("png", size=(96, 64)), root / "sub" / "b.png"),
        _copy(media_factory("mp3", seconds=0.5), root / "sub" / "deeper" / "c.mp3"),
    ]
    os.symlink("..", root / "sub" / "up")  # a loop when links are followed
    os.symlink(root, tmp_path / "alias")
    checked: list[str] = []

    def sink(event):
        if isinstance(event, FileChecked):
            checked.append(event.path)

    settings = default_settings(workers=2, follow_symlinks=True)
    roots = [str(root), str(root), str(root / "sub"), str(tmp_path / "alias"), str(root / "sub" / "b.png")]
    summary = ScanService(db, settings, sink).start(roots)
    assert sorted(checked) == sorted(map(str, files))
    assert summary.files_found == summary.files_checked == 3
    assert len(summary.discovery["roots_dropped"]) == 4
    assert summary.discovery["issue_counts"].get("already_visited", 0) >= 1


@sqlite_only
def test_files_deleted_or_truncated_between_discovery_and_check(db, tmp_path, media_factory):
    root = tmp_path / "lib"
    gone = _copy(media_factory("mp4_h264", seconds=1.0, size=(96, 64)), root / "gone.mp4")
    cut = _copy(media_factory("mp4_h264", seconds=1.0, size=(96, 64)), root / "cut.mp4")

    def sink(event):
        # Runs in the scan's thread after discovery, before any file is checked.
        if isinstance(event, PhaseChanged) and event.phase == "scanning":
            gone.unlink()
            with open(cut, "r+b") as fh:
                fh.truncate(cut.stat().st_size // 2)

    summary = ScanService(db, default_settings(workers=1), sink).start([str(root)])
    assert summary.status == "completed" and summary.files_checked == 2
    rows = _rows(db)
    assert rows[str(gone)].scan_status == "unreadable" and not rows[str(gone)].file_exists
    assert rows[str(gone)].error_message
    st = cut.stat()
    truncated = rows[str(cut)]
    assert (truncated.file_size, truncated.file_mtime_ns) == (
        st.st_size,
        st.st_mtime_ns,
    )  # not the stale stat
    assert truncated.scan_status in ("corrupted", "unreadable")


def test_awkward_names_are_stored_and_given_back_exactly(db, database_url, tmp_path, media_factory):
    root = tmp_path / "lib"
    root.mkdir()
    png = media_factory("png", size=(96, 64))
    names = [os.fsdecode(b"caf\xe9.png"), "new\nline.png", "-rf.png", "тест 🎞.png"]
    for name in names:
        shutil.copyfile(png, os.path.join(str(root), name))
    summary = ScanService(db, SETTINGS).start([str(root)])
    assert summary.healthy == 4
    assert set(_rows(db)) == {os.path.join(str(root), n) for n in names}

    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    out = subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "results", "--database-url", database_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (
        "new\\nline.png" in out.stdout and "caf\\xe9.png" in out.stdout and len(out.stdout.splitlines()) == 4
    )

    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixelprobe_tui",
            "scan",
            "--force",
            "--json",
            "--database-url",
            database_url,
            "--",
            "-rf.png",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["files_checked"] == 1


def _without_root_powers() -> None:
    """preexec_fn: drop the capabilities that let root ignore file permissions, for this process tree."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; PR_CAPBSET_DROP = 24
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@sqlite_only
def test_permission_denied_file_and_directory(db, database_url, tmp_path, media_factory):
    root = tmp_path / "lib"
    ok = _copy(media_factory("png", size=(96, 64)), root / "ok.png")
    locked = _copy(media_factory("png", size=(96, 64)), root / "locked.png")
    hidden = _copy(media_factory("png", size=(96, 64)), root / "closed" / "inside.png")
    locked.chmod(0)
    hidden.parent.chmod(0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "pixelprobe_tui",
                "scan",
                str(root),
                "--json",
                "--database-url",
                database_url,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            preexec_fn=_without_root_powers,
        )
    finally:
        hidden.parent.chmod(0o755)
        locked.chmod(0o644)
    assert out.returncode == 0, out.stderr  # nothing corrupted: unreadable is not corrupt
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed"
    assert "1 directory unreadable" in summary["incomplete_reason"]
    rows = _rows(db)
    assert set(rows) == {str(ok), str(locked)}
    assert rows[str(ok)].scan_status == "healthy"
    assert rows[str(locked)].scan_status == "unreadable" and not rows[str(locked)].is_corrupted
    assert "permission denied" in rows[str(locked)].error_message.lower()
    with db.session() as s:
        report = s.scalars(sa.select(ScanReport)).one()
    assert report.error_message.startswith("run incomplete: 1 directory unreadable")


@sqlite_only
def test_stalled_storage_marks_a_file_unreadable_and_a_dead_root_unavailable(db, tmp_path, media_factory):
    png = media_factory("png", size=(96, 64))
    dead = tmp_path / "dead"
    for i in range(3):
        _copy(png, dead / f"__pixelprobe_stall_{i}.mp4")  # the test hook: a read that never returns
    flaky = tmp_path / "flaky"
    one_stall = _copy(png, flaky / "__pixelprobe_stall.mp4")
    after = _copy(png, flaky / "zz_fine.png")
    fine = _copy(png, tmp_path / "fine" / "ok.png")
    fast = IsolationConfig(min_timeout_s=1.0, base_timeout_s=0.0, progress_grace_s=0.5, busy_cpu_share=0.5)
    service = ScanService(
        db,
        default_settings(workers=1),
        isolation=fast,
        child_env={**os.environ, HOOK_ENV: "1"},
        stall_limit=2,
    )
    summary = service.start([str(dead), str(flaky), str(fine)])

    assert summary.status == "completed"
    assert summary.unavailable_roots == [str(dead)] and summary.skipped_unavailable == 3
    assert "1 root(s) unavailable (storage stalled)" in summary.incomplete_reason
    rows = _rows(db)
    assert {p for p, r in rows.items() if r.scan_status == "pending"} == {
        str(dead / f"__pixelprobe_stall_{i}.mp4") for i in range(3)
    }  # left unchecked, not failed
    assert rows[str(one_stall)].scan_status == "unreadable"  # one stall, then the root answered again
    assert "storage stalled" in rows[str(one_stall)].error_message
    assert rows[str(after)].scan_status == rows[str(fine)].scan_status == "healthy"
