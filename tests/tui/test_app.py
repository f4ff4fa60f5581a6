"""The app shell: modes, keys with ids, help, themes, the size guard, the dashboard and its live scan panel."""

from __future__ import annotations

import os
import socket

import sqlalchemy as sa
from textual.widgets import Static

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult, ScanState
from pixelprobe_tui.services import browse
from pixelprobe_tui.tui.app import PixelProbeApp, known_binding_ids
from pixelprobe_tui.tui.key_help import DESCRIPTIONS, section_of
from pixelprobe_tui.tui.screens.dashboard import DashboardScreen
from pixelprobe_tui.tui.screens.help import HelpScreen
from pixelprobe_tui.tui.screens.results import ResultsScreen
from pixelprobe_tui.tui.screens.too_small import TooSmallScreen
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from tests.tui import demo_data
from tests.tui.conftest import run, text_of, wait_for

ME = f"{socket.gethostname()}:{os.getpid()}"


def static_text(app: PixelProbeApp, selector: str) -> str:
    return text_of(app.screen.query_one(selector).content)  # type: ignore[attr-defined]


def test_dashboard_shows_totals_by_type_and_last_scans(demo_db: Database) -> None:
    totals = browse.totals(demo_db)

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 32)) as pilot:
            assert isinstance(app.screen, DashboardScreen)
            await wait_for(pilot, lambda: "Total" in static_text(app, "#totals"), what="totals")
            text = static_text(app, "#totals")
            for label, key in (("Healthy", "healthy"), ("Corrupted", "corrupted"), ("Pending", "pending")):
                line = next(line for line in text.splitlines() if line.strip().startswith(label))
                assert line.split()[-1] == f"{totals.status(key):,}"
            assert f"{totals.marked_good:,}" in next(ln for ln in text.splitlines() if "Marked good" in ln)
            families = static_text(app, "#families")
            video = next(ln for ln in families.splitlines() if ln.strip().startswith("video"))
            assert video.split()[1] == f"{sum(totals.by_family['video'].values()):,}"
            await wait_for(pilot, lambda: "full_scan" in static_text(app, "#reports"), what="reports")
            assert "cancelled" in static_text(app, "#reports")
            assert "No scan running" in static_text(app, "#live-status")

    run(body())


def test_mode_keys_and_the_mode_bar_switch_screens(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            seen = {}
            for key, mode in (("2", "results"), ("3", "reports"), ("4", "logs"), ("5", "settings"), ("6", "schedules"), ("1", "dashboard")):  # fmt: skip
                await pilot.press(key)
                await pilot.pause()
                seen[mode] = app.current_mode
            assert seen == {m: m for m in seen}
            # Click "Results" in the mode bar.
            bar_text = " PixelProbe  1 Dashboard  2 Results "
            await pilot.click("ModeBar", offset=(bar_text.index("Results"), 0))
            await pilot.pause()
            assert app.current_mode == "results" and isinstance(app.screen, ResultsScreen)

    run(body())


def test_help_says_what_every_key_does_grouped_by_screen_this_one_first(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05, keymap={"results.mark_good": "G"})
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await pilot.pause()
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            titles = [title for title, _rows in app.screen.sections]
            assert titles[:2] == ["Results", "Everywhere"] and {"Dashboard", "Schedules"} <= set(titles)
            rows = {binding_id: (keys, what) for keys, what, binding_id in app.screen.rows}
            assert {
                "results.mark_good",
                "grid.toggle_select",
                "mode.dashboard",
                "dashboard.start_scan",
            } <= set(rows)
            assert rows["results.mark_good"] == (
                "G",
                DESCRIPTIONS["results.mark_good"],
            )  # the key as remapped
            assert rows["app.help"][0] == "? f1"
            assert len(rows["grid.open"][1]) > len("Details")  # a sentence, not the footer's label
            shown = "".join(text_of(s.render(), width=70) for s in app.screen.query(Static))
            assert "Results (this screen)" in shown
            assert "[keymap]" in shown  # the hint is plain text: Rich markup ate "[keymap]" once
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, ResultsScreen)

    run(body())


def test_every_key_has_a_full_description_and_a_section() -> None:
    ids = known_binding_ids()
    assert sorted(ids - set(DESCRIPTIONS)) == []  # a new key needs its sentence in key_help.DESCRIPTIONS
    assert sorted(set(DESCRIPTIONS) - ids) == []  # and a sentence of a key that is gone goes too
    assert [i for i in ids if section_of(i) == "Other"] == []
    assert all(text.endswith(".") and len(text) > 12 for text in DESCRIPTIONS.values())


def test_a_keymap_remaps_a_binding_by_id(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05, keymap={"mode.results": "f3"})
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("2")
            await pilot.pause()
            assert app.current_mode == "dashboard"  # "2" no longer switches
            await pilot.press("f3")
            await pilot.pause()
            assert app.current_mode == "results"

    run(body())


def test_theme_toggles_between_light_and_dark(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            assert app.current_theme.dark
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert not app.current_theme.dark
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert app.current_theme.dark

    run(body())


def test_a_small_terminal_gets_a_clear_message_until_it_grows(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(70, 20)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, TooSmallScreen)
            message = text_of(app.screen.query_one("#too-small-message").content)
            assert "70x20" in message and "80x24" in message
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)
            await pilot.resize_terminal(79, 30)
            await pilot.pause()
            assert isinstance(app.screen, TooSmallScreen)

    run(body())


def footer_actions(app: PixelProbeApp) -> set[str]:
    """The actions the footer offers now (bindings a screen's check_action hides are left out)."""
    return {b.action for _, b, enabled, _ in app.screen.active_bindings.values() if b.show and enabled}


def test_end_of_scan_line_counts_what_was_read_and_what_was_not() -> None:
    from pixelprobe_tui.core.events import ScanFinished, ScanStatus
    from pixelprobe_tui.tui.app import scan_summary_line

    first = ScanFinished("id", ScanStatus.COMPLETED, files_total=204, corrupted=63, warning=1)
    assert scan_summary_line(first) == "204 files checked: 63 corrupted, 1 warning, 0 unreadable"
    again = ScanFinished("id", ScanStatus.COMPLETED, files_total=1, skipped_unchanged=203)
    assert scan_summary_line(again) == (
        "1 file checked: 0 corrupted, 0 warnings, 0 unreadable; 203 unchanged, not read again"
    )
    partial = ScanFinished("id", ScanStatus.COMPLETED, incomplete_reason="1 unreadable directory")
    assert scan_summary_line(partial).endswith(". Incomplete: 1 unreadable directory")


def test_live_panel_follows_a_scan_running_in_another_process(demo_db: Database) -> None:
    scan_id = demo_data.add_running_scan(demo_db, owner=ME, files_done=1234, files_total=5000)

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_for(
                pilot, lambda: "1,234/5,000 files" in static_text(app, "#live-status"), what="live"
            )
            assert "cancel_scan" in footer_actions(app)  # offered only while a scan runs
            assert "Phase 3/3 scanning" in static_text(app, "#live-status")
            assert "Stalker (1979).mkv" in static_text(app, "#live-workers")
            with demo_db.session() as s:
                s.execute(
                    sa.update(ScanState).values(files_processed=2500, bytes_processed=2500 * 800_000_000)
                )
            await wait_for(
                pilot, lambda: "2,500/5,000 files" in static_text(app, "#live-status"), what="update"
            )
            assert "ETA" in static_text(app, "#live-status")
            await pilot.press("x")
            await pilot.pause()

            def cancel_flag() -> bool:
                with demo_db.engine.connect() as conn:
                    return bool(conn.execute(sa.select(ScanState.cancel_requested)).scalar())

            await wait_for(pilot, cancel_flag, what="cancel_requested")
            # The other process ends its run: the panel goes idle.
            with demo_db.session() as s:
                s.execute(sa.update(ScanState).values(status="cancelled"))
            await wait_for(pilot, lambda: "No scan running" in static_text(app, "#live-status"), what="idle")
            await wait_for(pilot, lambda: "cancel_scan" not in footer_actions(app), what="x hidden")
        assert scan_id

    run(body())


def marked_good(db: Database, result_id: int) -> bool:
    with db.engine.connect() as conn:
        return bool(
            conn.execute(sa.select(ScanResult.marked_as_good).where(ScanResult.id == result_id)).scalar()
        )


def test_the_palette_has_one_keys_command_and_the_screen_s_actions(demo_db: Database) -> None:
    with demo_db.engine.begin() as conn:
        conn.execute(sa.update(ScanResult).values(marked_as_good=False))

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await pilot.pause()
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert titles.count("Keys") == 1 and "binding id" in commands["Keys"].help
            mark = DESCRIPTIONS["results.mark_good"].rstrip(".")
            assert commands[mark].help == "key g · results.mark_good"
            assert DESCRIPTIONS["dashboard.start_scan"].rstrip(".") not in titles  # this screen's only
            await commands[mark].callback()  # does what g does
            first = app.screen.query_one(ResultsGrid).cursor_row
            await wait_for(pilot, lambda: first is not None and marked_good(demo_db, first.id), what="marked")
            commands["Keys"].callback()
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)

    run(body())
