"""A real ``pixelprobe scan`` killed with SIGKILL mid-scan, then resumed; and one stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.db.models import ScanResult, ScanState

FILES = 60


@pytest.fixture
def corpus(tmp_path, media_factory):
    src = media_factory("mp4_h264", seconds=1.0, size=(96, 64))
    root = tmp_path / "lib"
    root.mkdir()
    for i in range(FILES - 1):
        shutil.copyfile(src, root / f"clip{i:03d}.mp4")
    # Checked last (files before subdirectories); with the test hook on, its read hangs, so the scan is
    # surely still running whenever the kill comes. Without the hook it is an ordinary valid file.
    (root / "zz").mkdir()
    shutil.copyfile(src, root / "zz" / "__pixelprobe_stall.mp4")
    return root


def _scan(database_url: str, root, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pixelprobe_tui",
            "scan",
            str(root),
            "--workers",
            "1",
            "--json",
            *extra,
            "--database-url",
            database_url,
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**clean, **(env or {})},
    )


def _checked(db) -> dict[str, object]:
    with db.session() as s:
        rows = s.execute(
            sa.select(ScanResult.file_path, ScanResult.scan_date).where(ScanResult.scan_status != "pending")
        ).all()
    return dict(rows)


def _wait_for_results(db, proc: subprocess.Popen[str], n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(_checked(db)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the scan stored no results in time"
        time.sleep(0.05)


def test_kill_9_mid_scan_keeps_the_database_consistent_and_the_next_run_resumes(db, database_url, corpus):
    proc = _scan(database_url, corpus, env={HOOK_ENV: "1"})
    _wait_for_results(db, proc, 6)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)

    # Consistent: every row is either pending or a complete verdict; the run is left 'running'.
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    with db.session() as s:
        rows = s.scalars(sa.select(ScanResult)).all()
        state = s.scalars(sa.select(ScanState)).one()
    assert len(rows) == FILES
    done = [r for r in rows if r.scan_status != "pending"]
    assert 6 <= len(done) < FILES
    for r in done:
        assert r.scan_status == "healthy" and r.file_hash and r.file_mtime_ns and r.last_verified_at
    assert state.status == "running" and state.owner.endswith(f":{proc.pid}")
    before = _checked(db)

    again = _scan(database_url, corpus)
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0, err
    summary = json.loads(out)
    assert summary["resumed"] and summary["scan_id"] == str(state.id)
    assert summary["already_checked"] == len(before)
    assert summary["files_checked"] == FILES and summary["healthy"] == FILES
    after = _checked(db)
    assert len(after) == FILES
    assert {p: after[p] for p in before} == before  # finished files were not checked again
    with db.session() as s:
        final = s.get(ScanState, uuid.UUID(summary["scan_id"]))
    assert final.status == "completed" and final.end_time is not None


def test_ctrl_c_during_a_hung_check_cancels_cleanly_with_exit_status_130(
    db, database_url, tmp_path, media_factory
):
    src = media_factory("mp4_h264", seconds=1.0, size=(96, 64))
    root = tmp_path / "lib"
    (root / "zz").mkdir(parents=True)
    for i in range(5):
        shutil.copyfile(src, root / f"clip{i}.mp4")
    # Checked last (files before subdirectories): the test hook makes its read hang far past 30 s.
    shutil.copyfile(src, root / "zz" / "__pixelprobe_stall.mp4")
    proc = _scan(database_url, root, env={HOOK_ENV: "1"})
    _wait_for_results(db, proc, 5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)  # the hung check is aborted, not waited for
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "cancelled" and summary["files_checked"] == 5
    assert "cancelling the scan" in err and "Traceback" not in err
    with db.session() as s:
        state = s.scalars(sa.select(ScanState)).one()
        hung = s.scalars(sa.select(ScanResult).where(ScanResult.file_path.like("%__pixelprobe_stall%"))).one()
    assert state.status == "cancelled" and state.is_cancelled
    assert hung.scan_status == "pending"  # an aborted check is no verdict
