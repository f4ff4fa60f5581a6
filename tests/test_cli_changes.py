"""``pixelprobe changes`` and ``pixelprobe results --status bitrot``: the real CLI in subprocesses, on SQLite and
PostgreSQL, over real media recorded by ``pixelprobe scan``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pixelprobe_tui.core.discovery import path_from_db, path_to_db
from pixelprobe_tui.services.scan_lock import claim_scan, release_claim


def run(database_url: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def flip_byte(path: Path) -> None:
    st = os.stat(path)
    with open(path, "r+b") as fh:
        fh.seek(st.st_size // 2)
        byte = fh.read(1)
        fh.seek(st.st_size // 2)
        fh.write(bytes([byte[0] ^ 0x01]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_changes_command_json_and_exit_status(db, database_url, tmp_path, media_factory):
    root = tmp_path / "lib"
    root.mkdir()
    names = {
        "a.png": media_factory("png", size=(64, 48)),
        "b.wav": media_factory("wav", seconds=0.5),
        "c.jpg": media_factory("jpg_baseline", size=(64, 48)),
        "d.bmp": media_factory("bmp", size=(64, 48)),
    }
    files = {n: root / n for n in names}
    for n, src in names.items():
        shutil.copyfile(src, files[n])
    scan = run(database_url, "scan", str(root), "--workers", "1", "-q")
    assert scan.returncode == 0, scan.stderr

    clean = run(database_url, "changes", "--json")
    assert clean.returncode == 0, clean.stderr
    # Progress goes to stderr (not a terminal here: plain lines), the JSON alone to stdout.
    assert "file changes: done 4/4 records, 0 modified, 0 bitrot suspected, 0 missing" in clean.stderr
    out = json.loads(clean.stdout)
    assert out["status"] == "completed"
    assert (out["checked"], out["unchanged"], out["modified"], out["bitrot"], out["missing"]) == (
        4,
        4,
        0,
        0,
        0,
    )

    flip_byte(files["b.wav"])  # bitrot
    with open(files["c.jpg"], "ab") as fh:  # an edit: size and mtime change
        fh.write(b"\0" * 16)
    files["d.bmp"].unlink()  # deleted

    found = run(database_url, "changes", str(root), "--json")
    assert found.returncode == 1, found.stderr
    out = json.loads(found.stdout)
    assert (out["modified"], out["bitrot"], out["missing"], out["unchanged"], out["unreadable"]) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert [b["path"] for b in out["bitrot_files"]] == [str(files["b.wav"])]
    assert out["bitrot_files"][0]["stored_hash"] != out["bitrot_files"][0]["current_hash"]
    assert out["modified_paths"] == [str(files["c.jpg"])] and out["missing_paths"] == [str(files["d.bmp"])]
    assert isinstance(out["report_id"], int)

    listed = run(database_url, "results", "--status", "bitrot", "--json")
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert [path_from_db(r["file_path"]) for r in records] == [str(files["b.wav"])]
    assert records[0]["bitrot_suspected"] is True
    assert records[0]["file_hash"] == out["bitrot_files"][0]["stored_hash"]

    text = run(database_url, "changes", str(root))
    assert text.returncode == 1
    assert f"BITROT   {files['b.wav']}" in text.stdout and "1 bitrot suspected" in text.stdout

    bad = run(database_url, "changes", "--limit", "many")
    assert bad.returncode == 2 and "invalid int value" in bad.stderr


def test_changes_command_refuses_while_a_scan_runs(db, database_url, tmp_path):
    claim = claim_scan(db, [path_to_db(str(tmp_path))], deep=False, force=False)
    try:
        busy = run(database_url, "changes", "--json")
    finally:
        release_claim(claim)
    assert busy.returncode == 2 and busy.stdout == ""
    lines = busy.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pixelprobe: error: a scan is running"), busy.stderr
