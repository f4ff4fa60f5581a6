"""``pixelprobe check DIR`` walks a directory as a scan does and says what it could not examine."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(240)


def _without_root_powers() -> None:
    """preexec_fn: drop the capabilities that let root ignore file permissions, for this process tree."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; PR_CAPBSET_DROP = 24
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_check_reports_unreadable_directories_and_never_opens_a_fifo(tmp_path, media_factory):
    root = tmp_path / "lib"
    (root / "closed").mkdir(parents=True)
    png = media_factory("png", size=(48, 32))
    shutil.copyfile(png, root / "ok.png")
    shutil.copyfile(png, root / "closed" / "hidden.png")
    (root / "._ok.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble, not media")
    os.mkfifo(root / "pipe.mp4")  # opening it would block until a writer comes
    (root / "closed").chmod(0)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pixelprobe_tui", "check", "--no-media-info", str(root)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=200,
            preexec_fn=_without_root_powers,
        )
    finally:
        (root / "closed").chmod(0o755)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"healthy     {root / 'ok.png'}"]  # no FIFO, no AppleDouble file
    assert f"pixelprobe: {root / 'closed'}: Permission denied" in out.stderr
    assert f"pixelprobe: {root / 'pipe.mp4'}: named pipe (FIFO): skipped, never opened" in out.stderr
    assert "1 path(s) could not be examined" in out.stderr


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path, media_factory):
    for i in range(30):
        shutil.copyfile(media_factory("png", size=(48, 32)), tmp_path / f"p{i:02d}.png")
    command = f"{sys.executable} -m pixelprobe_tui check --json -j 1 {tmp_path} | head -c 10"
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=200
    )
    assert out.stdout == '{"path": "' and "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 141  # the writer's status, as for any Unix tool cut short by the pipe
