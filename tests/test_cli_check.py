"""``pixelprobe check`` and ``pixelprobe doctor``, run as a user would: the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixelprobe_tui.core import samples

pytestmark = pytest.mark.timeout(240)


def _cli(*args: str | bytes, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", *args],
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        timeout=200,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli_check")
    png = samples.generate("png", root / "ok.png", size=(64, 48))
    empty = root / "empty.mp4"
    empty.write_bytes(b"")
    return {"root": root, "png": png, "empty": empty}


def test_check_healthy_file_exits_zero(files):
    proc = _cli("check", str(files["png"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("healthy")
    assert "1 file: 1 healthy" in proc.stderr


def test_check_decodes_a_raw_ac3_stream(tmp_path):
    """A raw AC-3 stream named .ac3 given by name is decoded, not unsupported."""
    import av

    path = tmp_path / "sound.ac3"  # not in the shared directory another test walks
    with av.open(str(path), "w", format="ac3") as out:
        stream = out.add_stream("ac3", rate=48000, layout="mono")
        for start in range(0, 24000, 1536):
            frame = av.AudioFrame(format="s16", layout="mono", samples=1536)
            frame.planes[0].update(bytes((start + i) % 200 for i in range(3072)))
            frame.sample_rate, frame.pts = 48000, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    proc = _cli("check", "--json", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.splitlines()[0])
    assert result["verdict"] == "healthy" and result["family"] == "audio"
    assert result["decisive_tool"].startswith("pyav")


def test_check_corrupted_file_exits_one_with_the_reason(files):
    proc = _cli("check", str(files["png"]), str(files["empty"]))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("healthy") and str(files["png"]) in lines[0]
    assert lines[1].startswith("corrupted") and str(files["empty"]) in lines[1]
    assert "empty file (0 bytes)" in lines[2]


def test_check_json_lines(files):
    proc = _cli("check", "--json", "--no-media-info", str(files["png"]), str(files["root"] / "missing.jpg"))
    assert proc.returncode == 0, proc.stderr  # unreadable is not evidence of corruption
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["verdict"] for r in rows] == ["healthy", "unreadable"]
    assert rows[0]["media_info"] is None
    assert rows[0]["decisive_tool"]


def test_check_walks_directories_and_ignore_patterns_apply(files):
    proc = _cli("check", "--ignore", "empty file", str(files["root"]))
    assert proc.returncode == 0, proc.stdout  # the empty file's only finding is ignored
    assert "(ignored)" in proc.stdout or "ignored)" in proc.stdout
    assert "2 files: 2 healthy" in proc.stderr


def test_check_non_utf8_name(files):
    raw = os.fsencode(files["root"]) + b"/caf\xe9.png"
    with open(raw, "wb") as fh:
        fh.write(files["png"].read_bytes())
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pixelprobe_tui", "check", raw],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=200,
        )
    finally:
        os.unlink(raw)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"healthy")
    assert b"caf\\xe9.png" in proc.stdout  # shown escaped, never a crash


def test_doctor_passes_on_this_machine():
    proc = _cli("doctor", "--json")
    report = json.loads(proc.stdout)
    failed = [c for c in report["cases"] if not c["ok"]]
    assert proc.returncode == 0 and report["ok"], failed
    assert {"valid", "damaged"} <= {c["sample"].split()[0] for c in report["cases"]} | {"valid", "damaged"}
    assert any(c["expected"] == "corrupted" for c in report["cases"])
    assert report["versions"]["pyav"] and report["versions"]["pillow"]


def test_doctor_fails_loudly_when_damage_goes_undetected():
    # An ignore pattern that matches everything blinds the checkers: the doctor must say so.
    proc = _cli("doctor", "--ignore", "re:.")
    assert proc.returncode == 1
    assert "DOCTOR FAILED" in proc.stderr
    assert "empty file: expected corrupted, got healthy" in proc.stderr
    assert "pyav" in proc.stdout  # the library versions are still listed
