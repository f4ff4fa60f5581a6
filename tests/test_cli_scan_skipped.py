"""``pixelprobe scan``'s human summary names what discovery skipped (special files, unreadable directories)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from pixelprobe_tui.commands.scan import MAX_EXAMPLE_PATHS, discovery_lines


def run_scan(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "scan", *args, "--database-url", db_url],
        capture_output=True,
        text=True,
        env=clean,
        stdin=subprocess.DEVNULL,
        timeout=240,
    )


def test_summary_names_a_fifo_with_a_media_name(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    Image.new("RGB", (16, 16), "red").save(root / "pic.png")
    os.mkfifo(root / "clip.mp4")
    os.mkfifo(root / "evil\x1b[2Jname.mkv")  # an escape sequence in a name must not reach the terminal raw
    db = f"sqlite:///{tmp_path / 'pp.db'}"

    out = run_scan(db, "-q", str(root))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "  skipped: 2 special files (named pipe)" in lines, out.stdout
    assert f"    {root / 'clip.mp4'}: named pipe (FIFO): skipped, never opened" in lines
    assert any(line.startswith(f"    {root}/evil\\x1b[2Jname.mkv: ") for line in lines), out.stdout
    assert "\x1b" not in out.stdout
    assert "more: --json" not in out.stdout  # every example is shown
    assert "healthy 1" in out.stdout  # the real file was still checked

    as_json = json.loads(run_scan(db, "-q", "--json", "--force", str(root)).stdout)
    assert as_json["discovery"]["issue_counts"] == {"special_file": 2}


def test_summary_caps_examples_and_points_at_json(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    for i in range(MAX_EXAMPLE_PATHS + 2):
        os.mkfifo(root / f"pipe{i}.flac")
    out = run_scan(f"sqlite:///{tmp_path / 'pp.db'}", "-q", str(root))
    assert out.returncode == 0, out.stderr
    examples = [line for line in out.stdout.splitlines() if line.startswith("    ") and "pipe" in line]
    assert len(examples) == MAX_EXAMPLE_PATHS
    assert "    (2 more: --json lists them)" in out.stdout.splitlines()


def test_discovery_lines_say_which_kinds_leave_the_run_incomplete() -> None:
    report = {
        "issue_counts": {
            "special_file": 1,
            "unreadable_directory": 2,
            "symlink_loop": 1,
            "already_visited": 1,
        },
        "issues": [
            {"kind": "unreadable_directory", "path": "/m/a", "message": "permission denied"},
            {"kind": "special_file", "path": "/m/s.mp4", "message": "socket: skipped, never opened"},
        ],
    }
    lines = discovery_lines(report)
    assert lines[0] == (
        "skipped: 1 special file (socket), 2 unreadable directories (run incomplete), 2 symlink loops"
    )
    assert lines[1:3] == ["  /m/a: permission denied", "  /m/s.mp4: socket: skipped, never opened"]
    assert lines[3] == "  (3 more: --json lists them)"
    assert discovery_lines({}) == []
    assert discovery_lines({"issue_counts": {"vanished": 0}}) == []


def test_stalled_storage_is_named_and_leaves_the_run_incomplete() -> None:
    report = {"issue_counts": {"stalled_directory": 2, "unavailable_root": 1}, "issues": []}
    assert discovery_lines(report)[0] == (
        "skipped: 2 stalled directories (run incomplete), 1 unavailable root (run incomplete)"
    )
