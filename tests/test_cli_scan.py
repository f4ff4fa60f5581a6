"""``pixelprobe scan``, ``results`` and ``mark-good`` in a subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixelprobe_tui.commands.scan import ProgressPrinter
from pixelprobe_tui.core.events import PhaseChanged, Progress
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services.scan_lock import claim_scan, release_claim


def run(database_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI; PIXELPROBE_* variables of the test environment are not passed on."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        env=clean,
        stdin=subprocess.DEVNULL,
        timeout=240,
    )


@pytest.fixture
def library(tmp_path, media_factory, damaged_media) -> dict[str, Path]:
    root = tmp_path / "library"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    files = {
        "clip": root / "good" / "clip.mp4",
        "pic": root / "good" / "pic.png",
        "broken": root / "bad" / "broken.flac",
    }
    shutil.copyfile(media_factory("mp4_h264", seconds=1.0, size=(96, 64)), files["clip"])
    shutil.copyfile(media_factory("png", size=(96, 64)), files["pic"])
    shutil.copyfile(damaged_media("flac", "truncated", seconds=1.0), files["broken"])
    return files


def test_scan_summary_exit_status_results_and_mark_good(database_url, library):
    root = library["clip"].parents[1]
    out = run(database_url, "scan", str(root), "--workers", "2")
    assert out.returncode == 1, out.stderr  # a corrupted file was found
    assert "Scan completed" in out.stdout and "corrupted 1" in out.stdout
    assert "phase 3/3: scanning" in out.stderr  # plain progress lines when not on a terminal
    assert "\r" not in out.stderr

    healthy_only = run(database_url, "scan", str(root / "good"), "--json")
    assert healthy_only.returncode == 0, healthy_only.stderr
    summary = json.loads(healthy_only.stdout)
    assert summary["status"] == "completed" and summary["skipped_unchanged"] == 2
    assert summary["files_checked"] == 0 and summary["corrupted"] == 0

    again = run(database_url, "scan", str(root), "--json", "--quiet")
    assert again.returncode == 1  # the known corrupted file still counts, though it was not read again
    assert json.loads(again.stdout)["known_corrupted"] == 1 and again.stderr == ""

    records = json.loads(run(database_url, "results", "--json").stdout)
    assert {r["file_path"] for r in records} == {str(p) for p in library.values()}
    assert set(records[0]) == {c.name for c in ScanResult.__table__.columns} - {"file_path_full"}
    corrupted = json.loads(run(database_url, "results", "--status", "corrupted", "--json").stdout)
    assert [r["file_path"] for r in corrupted] == [str(library["broken"])]
    assert corrupted[0]["is_corrupted"] is True and corrupted[0]["scan_status"] == "corrupted"
    table = run(database_url, "results", "--status", "corrupted")
    assert table.stdout.startswith(f"corrupted   {library['broken']}")

    marked = run(database_url, "mark-good", str(library["broken"]))
    assert marked.returncode == 0 and marked.stdout.startswith("marked good: ")
    assert run(database_url, "scan", str(root), "--quiet").returncode == 0  # marked good: no longer counts
    assert json.loads(run(database_url, "results", "--status", "corrupted", "--json").stdout)[0][
        "marked_as_good"
    ]
    assert run(database_url, "mark-good", "--undo", str(library["broken"])).returncode == 0
    assert run(database_url, "scan", str(root), "--quiet").returncode == 1

    unknown = run(database_url, "mark-good", str(root / "nope.mp4"))
    assert unknown.returncode == 2 and "no scan result for" in unknown.stderr


def test_scan_uses_configured_roots_and_rejects_bad_requests(database_url, library, db):
    root = library["clip"].parents[1]
    none = run(database_url, "scan")
    assert none.returncode == 2 and "no paths given and no scan_paths configured" in none.stderr
    assert "Traceback" not in none.stderr
    bad = run(database_url, "scan", str(root), "--workers", "0")
    assert bad.returncode == 2 and "--workers" in bad.stderr
    typo = run(database_url, "scan", str(root / "nope"))
    assert typo.returncode == 2 and f"no such file or directory: {root / 'nope'}" in typo.stderr

    assert run(database_url, "config", "set", "scan_paths", str(root / "good")).returncode == 0
    configured = run(database_url, "scan", "--json")
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout)["roots"] == [str(root / "good")]

    claim = claim_scan(db, ["/elsewhere"], deep=False, force=False)  # another scan holds the database
    try:
        busy = run(database_url, "scan", str(root))
    finally:
        release_claim(claim)
    assert busy.returncode == 2
    assert busy.stderr.strip().startswith("pixelprobe: error: a scan is already running (phase 0/3")


def test_progress_bar_on_a_terminal_redraws_one_line():
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True, rate=1000)
    printer(PhaseChanged("id", "scanning", 3, 3))
    printer(Progress(5, 10, 500_000, 1_000_000, 2.0, 250_000.0, 2.0, ("/x/a.mp4",)))
    text = stream.getvalue()
    assert text.startswith("phase 3/3: scanning\n")
    bar = text.split("\n", 1)[1]
    assert bar.startswith("\r[") and "50.0% 5/10 files" in bar and "ETA 00:02" in bar and "\n" not in bar
