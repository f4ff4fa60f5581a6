"""Rescan from the details screen with real checkers, and path completion in the scan dialog."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services.config import ConfigService
from pixelprobe_tui.services.scan import ScanService
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.details import DetailsScreen
from pixelprobe_tui.tui.widgets.path_suggester import complete
from tests.tui.conftest import run, text_of, wait_for


def test_rescan_from_details_shows_the_new_verdict(empty_db: Database, tmp_path: Path, media_factory) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "library"
    root.mkdir()
    picture = root / "pic.png"
    picture.write_bytes(Path(media_factory("png", size=(64, 48))).read_bytes())
    ConfigService(empty_db).set("workers", "1")
    ScanService(empty_db).start([str(root)])
    with empty_db.session() as s:
        result_id, status = s.execute(sa.select(ScanResult.id, ScanResult.scan_status)).one()
    assert status == "healthy"
    # The file is damaged afterwards: cut in half.
    data = picture.read_bytes()
    picture.write_bytes(data[: len(data) // 2])

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(100, 40)) as pilot:
            app.push_screen(DetailsScreen(result_id))
            await wait_for(
                pilot,
                lambda: isinstance(app.screen, DetailsScreen) and app.screen.detail is not None,
                what="details loaded",
            )
            assert "healthy" in text_of(app.screen.query_one("#fields").content)
            await pilot.press("r")
            await wait_for(
                pilot,
                lambda: (
                    isinstance(app.screen, DetailsScreen)
                    and app.screen.detail is not None
                    and app.screen.detail.fields.get("scan_status") == "corrupted"
                ),
                timeout=120,
                what="new verdict shown",
            )
            assert "corrupted" in text_of(app.screen.query_one("#fields").content)

    run(body())


def test_path_completion(tmp_path: Path) -> None:
    (tmp_path / "Movies").mkdir()
    (tmp_path / "Music").mkdir()
    (tmp_path / "music.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    base = str(tmp_path)
    assert complete(base + "/Mo") == base + "/Movies/"
    # Two matches share only "Mu": nothing beyond what was typed, so no suggestion.
    assert complete(base + "/M") is None
    assert complete(base + "/mu") == base + "/music.txt"
    assert complete(base + "/nothing") is None
    assert complete(base + "/.h") == base + "/.hidden/"
    # Only the last of several paths is completed.
    assert complete(f"/srv{os.pathsep}{base}/Mov") == f"/srv{os.pathsep}{base}/Movies/"
    assert complete("") is None


def test_path_checks_in_dialogs_do_not_wait_on_storage_that_never_answers(tmp_path: Path) -> None:
    import subprocess
    import sys

    probe = (
        "import time, sys; from pixelprobe_tui.tui.screens.scan_dialog import parse_paths;"
        "from pixelprobe_tui.tui.widgets.schedule_form import path_problems;"
        "t = time.monotonic(); hung = sys.argv[1] + '/__pixelprobe_hang_nfs';"
        "print(parse_paths(hung)[1], path_problems([hung]), parse_paths(sys.argv[1] + '/gone')[1],"
        " round(time.monotonic() - t))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PIXELPROBE_TEST_HOOKS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    hung = f"{tmp_path}/__pixelprobe_hang_nfs"
    # The silent mount is not refused (the scan reports it), the schedule form warns, a missing path is refused.
    assert proc.stdout.startswith(f"[] ([], ['{hung}'])"), proc.stdout
    assert f"{tmp_path}/gone: does not exist" in proc.stdout
    assert int(proc.stdout.split()[-1]) < 10
