"""The footer at 80 columns: every key it shows is whole and on screen, Help and Quit always among them."""

from __future__ import annotations

import os
import socket

import pytest
from textual.widgets._footer import FooterKey

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.details import DetailsScreen
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from tests.tui import demo_data
from tests.tui.conftest import run, wait_for


def footer_problems(app: PixelProbeApp, need: tuple[str, ...] = ("help", "quit")) -> list[str]:
    """What is wrong with the footer on show: keys cut off or hidden behind the palette, Help or Quit missing."""
    keys = list(app.screen.query(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    edge = palette[0].region.x if palette else app.size.width
    problems = []
    for key in keys:
        if key in palette:
            continue
        text = key.render().plain
        if key.region.right > edge or key.region.width < len(text.rstrip()):
            problems.append(f"{text.strip()!r} cut off")
    actions = {k.action for k in keys}
    problems += [f"no {a}" for a in need if a not in actions]
    return problems


@pytest.mark.parametrize(
    "mode", ["dashboard", "results", "details", "reports", "logs", "settings", "schedules"]
)
def test_every_footer_fits_80_columns_with_help_and_quit(demo_db: Database, mode: str) -> None:
    # A scan running elsewhere: the dashboard offers x Cancel scan too, its longest footer.
    demo_data.add_running_scan(demo_db, owner=f"{socket.gethostname()}:{os.getpid()}")

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            if mode == "dashboard":
                await wait_for(
                    pilot, lambda: any(k.action == "cancel_scan" for k in app.screen.query(FooterKey))
                )
            elif mode == "details":
                await pilot.press("2")
                grid = app.screen.query_one(ResultsGrid)
                await wait_for(pilot, lambda: grid.cursor_row is not None, what="first page")
                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), what="details")
            else:
                await pilot.press(
                    str(["results", "reports", "logs", "settings", "schedules"].index(mode) + 2)
                )
            # The footer is composed after the screen: wait for it, then it must be right.
            await wait_for(pilot, lambda: footer_problems(app) == [], what="footer", timeout=5)

    run(body())


@pytest.mark.parametrize(("key", "back"), [("2", "focus_grid"), ("4", "focus_log")], ids=["results", "logs"])
def test_in_the_search_field_the_footer_shows_the_way_back(demo_db: Database, key: str, back: str) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(key)
            await pilot.pause(0.3)

            def actions() -> set[str]:
                return {k.action for k in app.screen.query(FooterKey)}

            assert back not in actions() and app.focused is not None and app.focused.id in ("grid", "log")
            await pilot.press("slash")
            await wait_for(pilot, lambda: back in actions(), what="esc in the footer")
            assert "focus_search" not in actions()
            assert footer_problems(app, need=("help",)) == []  # q types a q here; f1 still opens the help
            await pilot.press("escape")
            await wait_for(pilot, lambda: back not in actions(), what="esc gone from the footer")
            assert app.focused is not None and app.focused.id in ("grid", "log")

    run(body())
