"""Start a scan from the dashboard with real checkers on generated media, watch it end, see its verdicts."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanReport, ScanResult
from pixelprobe_tui.services.config import ConfigService
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.scan_dialog import ScanDialog, parse_paths
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from tests.tui.conftest import run, text_of, wait_for


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def test_start_a_scan_from_the_dashboard(
    empty_db: Database, tmp_path: Path, media_factory, damaged_media
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "library"
    _copy(media_factory("png", size=(64, 48)), root / "pic.png")
    _copy(media_factory("mp3", seconds=1.0), root / "song.mp3")
    _copy(damaged_media("flac", "truncated", seconds=1.0), root / "broken.flac")
    ConfigService(empty_db).set("workers", "1")

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ScanDialog))
            # A path that does not exist is refused in the dialog.
            await pilot.press(*"/no/such/dir", "ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, ScanDialog)
            assert "does not exist" in text_of(app.screen.query_one("#problems").content)
            app.screen.query_one("#paths").value = str(root)  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert not isinstance(app.screen, ScanDialog)
            await wait_for(pilot, lambda: app.last_scan_update is not None, timeout=60, what="bridge update")
            await wait_for(
                pilot,
                lambda: app.last_scan_update is not None and app.last_scan_update.finished is not None,
                timeout=120,
                what="scan end",
            )
            finished = app.last_scan_update.finished  # type: ignore[union-attr]
            assert (finished.files_total, finished.corrupted) == (3, 1)
            assert any("Scan completed" in (n.title or "") for n in app._notifications)
            totals = app.screen.query_one("#totals")

            def total_line() -> str:
                return next((ln for ln in text_of(totals.content).splitlines() if "Total" in ln), "")

            await wait_for(pilot, lambda: total_line().split()[-1:] == ["3"], what="totals")
            await pilot.press("2")
            grid = app.screen.query_one(ResultsGrid)
            await wait_for(pilot, lambda: grid.count == 3 and grid.row_at(2) is not None, what="rows")
            assert {grid.row_at(i).status for i in range(3)} >= {"corrupted", "healthy"}  # type: ignore[union-attr]

            # Deep scan of the cursor row (the broken file) from the results.
            app.screen.query_one("#status").value = "corrupted"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.count == 1 and grid.cursor_row is not None, what="filter")
            first_update = app.last_scan_update
            await pilot.press("D")
            await wait_for(
                pilot,
                lambda: (
                    app.last_scan_update is not first_update
                    and app.last_scan_update is not None
                    and app.last_scan_update.finished is not None
                ),
                timeout=120,
                what="deep scan end",
            )
            assert app.last_scan_update.finished.files_total == 1  # type: ignore[union-attr]
        with empty_db.engine.connect() as conn:
            deep = dict(conn.execute(sa.select(ScanResult.file_path, ScanResult.deep_scanned)).all())
        assert deep[str(root / "broken.flac")] is True
        assert deep[str(root / "pic.png")] is False
        with empty_db.engine.connect() as conn:
            assert set(conn.execute(sa.select(ScanReport.status)).scalars()) == {"completed"}

    run(body())


def test_parse_paths(tmp_path: Path) -> None:
    paths, problems = parse_paths(f" {tmp_path} ")
    assert paths == (str(tmp_path),) and problems == []
    paths, problems = parse_paths("")
    assert paths == () and problems


def test_quit_during_a_scan_asks_then_stops_the_scan_and_quits(
    empty_db: Database, tmp_path: Path, media_factory
) -> None:  # type: ignore[no-untyped-def]
    from pixelprobe_tui.tui.widgets.confirm import ConfirmDialog

    root = tmp_path / "library"
    _copy(media_factory("png", size=(64, 48)), root / "pic.png")
    db_file = tmp_path / "empty.db"
    # Another process writing holds the database: the scan waits to record its start, so it is still
    # running, whatever the machine's speed, when q comes.
    holder = sqlite3.connect(db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            app.start_scan([str(root)], deep=False, force=True)
            await pilot.pause(0.3)
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question")
            await pilot.press("n")  # no: the scan goes on
            await pilot.pause(0.2)
            assert app.scan_running_here and app.return_code is None
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the question again")
            await pilot.press("y")
            await pilot.pause(0.3)
            assert app.return_code is None  # not before the scan has stopped
            holder.execute("COMMIT")
            await wait_for(pilot, lambda: app.return_code is not None, timeout=60, what="exit")

    try:
        run(body())
    finally:
        holder.close()
    with empty_db.engine.connect() as conn:
        statuses = conn.execute(sa.select(ScanReport.status)).scalars().all()
        checked = conn.execute(sa.select(sa.func.count()).select_from(ScanResult)).scalar_one()
    assert "completed" not in statuses and checked == 0, (statuses, checked)  # stopped, not run to its end


def test_the_scan_dialog_says_its_keys(empty_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ScanDialog))
            subtitle = str(app.screen.query_one("Vertical").border_subtitle)
            assert "ctrl+s starts" in subtitle and "Esc cancels" in subtitle
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ScanDialog), what="closed by Esc")

    run(body())
