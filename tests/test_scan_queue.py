"""A scan queues each worker's next file in its checker child: results must still belong to their files."""

from __future__ import annotations

import os

import sqlalchemy as sa

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.scan import ScanService
from pixelprobe_tui.services.scan_writer import path_to_db


def test_crashes_among_queued_files_are_recorded_on_the_right_files(db, tmp_path):
    # One worker, so every file but the first is queued behind another; crashes and exits in between.
    png = samples.generate_bytes("png", size=(48, 32))
    root = tmp_path / "lib"
    root.mkdir()
    names = ["a.png", "__pixelprobe_segv_b.mp4", "c.png", "__pixelprobe_exit_d.mp4", "e.png", "f.png"]
    for name in names:
        (root / name).write_bytes(png if name.endswith(".png") else b"\0" * 64)
    service = ScanService(db, default_settings(workers=1), child_env={**os.environ, HOOK_ENV: "1"})
    summary = service.start([str(root)])
    assert summary.status == "completed" and summary.files_checked == len(names)
    with db.session() as s:
        rows = {
            r.file_path: (r.scan_status, f"{r.corruption_details or ''} {r.error_message or ''}")
            for r in s.scalars(sa.select(ScanResult)).all()
        }
    for name in names:
        status, message = rows[path_to_db(str(root / name))]
        if "segv" in name:
            assert status == "corrupted" and "decoder crashed (signal 11" in message, (name, status, message)
        elif "exit" in name:
            assert status == "unreadable" and "exited unexpectedly" in message, (name, status, message)
        else:
            assert status == "healthy", (name, status, message)
