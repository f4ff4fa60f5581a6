"""One snapshot per screen (pytest-textual-snapshot, Textual pinned in pyproject.toml), on demo data.

Update after an intended change with ``python -m pytest tests/tui/test_snapshots.py --snapshot-update`` and
look at the SVGs in ``tests/tui/__snapshots__`` before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.details import DetailsScreen
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from tests.tui.conftest import text_of, wait_for


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times are shown in local time: make it the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _results_ready(pilot) -> ResultsGrid:  # type: ignore[no-untyped-def]
    grid = pilot.app.screen.query_one(ResultsGrid)
    await wait_for(pilot, lambda: grid.count is not None and grid.row_at(min(grid.count, grid.page_rows) - 1))
    return grid


def _dashboard_ready(pilot):  # type: ignore[no-untyped-def]
    async def ready() -> None:
        screen = pilot.app.screen
        await wait_for(pilot, lambda: "Total" in text_of(screen.query_one("#totals").content))
        await wait_for(pilot, lambda: "full_scan" in text_of(screen.query_one("#reports").content))
        await pilot.pause(0.2)

    return ready()


async def _steady_cursors(pilot) -> None:  # type: ignore[no-untyped-def]
    # A blinking cursor would make the picture depend on the moment it is taken.
    from textual.widgets import Input

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause(0.1)


def test_dashboard(snap_compare, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _dashboard_ready(pilot)

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(80, 24), run_before=run_before
    )


def test_results(snap_compare, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("2")
        await _results_ready(pilot)
        await pilot.press("down", "down", "space", "space")

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(80, 24), run_before=run_before
    )


def test_results_filtered_light(snap_compare, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("2", "ctrl+t")
        await _results_ready(pilot)
        pilot.app.screen.query_one("#status").value = "problems"
        grid = pilot.app.screen.query_one(ResultsGrid)
        await wait_for(pilot, lambda: grid.query_.statuses and grid.count is not None and grid.cursor_row)
        await pilot.press("o", "o")  # sort by date, newest first
        await wait_for(pilot, lambda: grid.query_.sort == "date" and grid.cursor_row is not None)

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(120, 30), run_before=run_before
    )


def test_details(snap_compare, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("2")
        await _results_ready(pilot)
        pilot.app.screen.query_one("#status").value = "corrupted"
        grid = pilot.app.screen.query_one(ResultsGrid)
        await wait_for(pilot, lambda: grid.query_.statuses and grid.count is not None and grid.cursor_row)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DetailsScreen) and pilot.app.screen.detail)

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(80, 30), run_before=run_before
    )


def test_help(snap_compare, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("2")
        await _results_ready(pilot)
        await pilot.press("question_mark")

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(100, 40), run_before=run_before
    )


@pytest.mark.parametrize("key", ["3", "4", "5", "6"], ids=["reports", "logs", "settings", "schedules"])
def test_other_modes(snap_compare, demo_db: Database, key: str) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press(key)
        await pilot.pause(0.3)

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(80, 24), run_before=run_before
    )


def test_scan_dialog(snap_compare, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _dashboard_ready(pilot)
        await pilot.press("s")
        await pilot.pause(0.3)
        await _steady_cursors(pilot)

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(80, 24), run_before=run_before
    )


def test_too_small(snap_compare, demo_db: Database) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(PixelProbeApp(demo_db, poll_interval=60), terminal_size=(60, 16))


def _demo_schedules(db: Database) -> None:
    """Four schedules with next runs computed from a fixed moment (stable snapshots)."""
    import datetime as dt

    import sqlalchemy as sa

    from pixelprobe_tui.db.models import ScanSchedule
    from pixelprobe_tui.services.schedules import ScheduleService

    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    service = ScheduleService(db, dt.UTC)
    service.add("nightly movies", "0 3 * * *", paths=["/srv/media/Movies", "/srv/media/TV"], now=now)
    service.add("weekly deep", "@weekly", force_rescan=True, now=now)
    service.add("orphans", "every 1d", scan_type="cleanup", now=now)
    service.add("bitrot check", "0 4 * * 0", scan_type="file_changes", active=False, now=now)
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(ScanSchedule)
            .where(ScanSchedule.name == "nightly movies")
            .values(last_run=dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC))
        )


@pytest.mark.parametrize("form", [False, True], ids=["list", "form"])
def test_schedules(snap_compare, demo_db: Database, monkeypatch: pytest.MonkeyPatch, form: bool) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from pixelprobe_tui.tui.screens.schedules import SchedulesScreen

    monkeypatch.setattr(
        SchedulesScreen, "clock", staticmethod(lambda: dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))
    )
    _demo_schedules(demo_db)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("6")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "schedules", None))
        if form:
            await pilot.press("down", "e")
            await pilot.pause(0.3)
            await _steady_cursors(pilot)

    assert snap_compare(
        PixelProbeApp(demo_db, poll_interval=60), terminal_size=(80, 24), run_before=run_before
    )
