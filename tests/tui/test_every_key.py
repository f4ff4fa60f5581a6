"""Every key of every screen, pressed once on a real database at 80x24: none crashes the app, and none leaves it
stuck in a dialog or screen that Esc (or the mode key, after a jump) does not leave."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.tui.app import PixelProbeApp, _bindings
from pixelprobe_tui.tui.screens.dashboard import DashboardScreen
from pixelprobe_tui.tui.screens.logs import LogsScreen
from pixelprobe_tui.tui.screens.reports import ReportsScreen
from pixelprobe_tui.tui.screens.results import ResultsScreen
from pixelprobe_tui.tui.screens.schedules import SchedulesScreen
from pixelprobe_tui.tui.screens.settings import SettingsScreen
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from tests.tui.conftest import run, wait_for

SCREENS = {
    "1": (DashboardScreen,),
    "2": (ResultsScreen, ResultsGrid),
    "3": (ReportsScreen,),
    "4": (LogsScreen,),
    "5": (SettingsScreen,),
    "6": (SchedulesScreen,),
}


def first_keys(classes: tuple[type, ...]) -> list[str]:
    keys = []
    for cls in classes:
        for binding in _bindings(cls):
            if isinstance(binding, Binding):
                keys.append(binding.key.split(",")[0].strip())
    return keys


@pytest.mark.parametrize("mode_key", list(SCREENS), ids=[c[0].__name__ for c in SCREENS.values()])
def test_every_key_of_a_screen_works_without_a_crash(
    demo_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode_key: str
) -> None:
    monkeypatch.chdir(tmp_path)  # exports land here
    classes = SCREENS[mode_key]
    screen_class = classes[0]

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(mode_key)
            await wait_for(pilot, lambda: isinstance(app.screen, screen_class), what=screen_class.__name__)
            for key in first_keys(classes):
                await pilot.press(key)
                await pilot.pause(0.2)
                for _ in range(4):  # a dialog or a pushed screen: Esc goes back
                    if isinstance(app.screen, screen_class):
                        break
                    await pilot.press("escape")
                    await pilot.pause(0.2)
                if not isinstance(app.screen, screen_class):  # a jump to another screen (Dashboard: p, c ...)
                    await pilot.press(mode_key)
                    await pilot.pause(0.2)
                if app.screen.focused is not None and app.screen.focused.id in ("search", "retention"):
                    await pilot.press("escape")  # out of a text field, or the next key would be typed
                assert isinstance(app.screen, screen_class), f"{key!r} left {type(app.screen).__name__}"
                assert app.return_code is None, f"{key!r} ended the app"
            # Let the workers the keys started end before the app closes.
            await wait_for(pilot, lambda: not app.scan_running_here, timeout=60, what="scans started")

    run(body())


def test_every_key_of_the_details_works_without_a_crash(demo_db: Database) -> None:
    from pixelprobe_tui.tui.screens.details import DetailsScreen

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            grid = app.screen.query_one(ResultsGrid)
            await wait_for(pilot, lambda: grid.cursor_row is not None, what="first page")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen) and app.screen.detail)
            for key in first_keys((DetailsScreen,))[1:]:  # all but Back, which comes last
                await pilot.press(key)
                await pilot.pause(0.2)
                assert isinstance(app.screen, DetailsScreen), f"{key!r} left the details"
            await wait_for(pilot, lambda: not app.scan_running_here, timeout=60, what="rescans started")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen), what="back")

    run(body())
