"""The results screen on a real SQLite database: paging, jumps, filters, search, sorting, selection, mark good,
copy, details, and new rows appearing while a scan runs."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services.browse import ResultsBrowser, ResultsQuery
from pixelprobe_tui.services.results import who
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.details import DetailsScreen
from pixelprobe_tui.tui.screens.results import ResultsScreen
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from tests.tui import demo_data
from tests.tui.conftest import DEMO_ROWS, run, text_of, wait_for


def all_ids(db: Database, query: ResultsQuery) -> list[int]:
    browser = ResultsBrowser(db, query)
    return [r.id for r in browser.page_after(None, 10**6)]


async def open_results(pilot, app: PixelProbeApp) -> ResultsGrid:  # type: ignore[no-untyped-def]
    await pilot.press("2")
    grid = app.screen.query_one(ResultsGrid)
    await wait_for(pilot, lambda: grid.count is not None and grid.cursor_row is not None, what="first page")
    return grid


def marked(db: Database, ids: list[int]) -> list[tuple[bool, str | None]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(ScanResult.marked_as_good, ScanResult.marked_as_good_by)
            .where(ScanResult.id.in_(ids))
            .order_by(ScanResult.id)
        ).all()
    return [(bool(r[0]), r[1]) for r in rows]


def test_grid_pages_through_the_rows_in_order(demo_db: Database) -> None:
    expected = all_ids(demo_db, ResultsQuery())

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            assert grid.count == DEMO_ROWS
            assert grid.cursor_row.id == expected[0]  # type: ignore[union-attr]
            await pilot.press("down", "down")
            assert grid.cursor == 2 and grid.cursor_row.id == expected[2]  # type: ignore[union-attr]
            await pilot.press("pagedown")
            await wait_for(pilot, lambda: grid.cursor_row is not None)
            assert grid.cursor == 2 + grid.page_rows
            assert grid.cursor_row.id == expected[grid.cursor]  # type: ignore[union-attr]
            await pilot.press("end")
            await wait_for(pilot, lambda: grid.cursor_row is not None, what="last row")
            assert grid.cursor == DEMO_ROWS - 1 and grid.cursor_row.id == expected[-1]  # type: ignore[union-attr]
            assert grid.scroll_offset.y == DEMO_ROWS - grid.page_rows
            await pilot.press("home")
            await wait_for(pilot, lambda: grid.cursor_row is not None)
            assert grid.cursor_row.id == expected[0]  # type: ignore[union-attr]
            status = text_of(app.screen.query_one("#status-line").content)
            assert f"1/{DEMO_ROWS:,} files" in status

    run(body())


def test_filters_search_and_sort_change_the_rows(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            screen = app.screen
            screen.query_one("#status").value = "corrupted"  # type: ignore[attr-defined]
            want = all_ids(demo_db, ResultsQuery(statuses=frozenset({"corrupted"})))
            await wait_for(
                pilot, lambda: grid.count == len(want) and grid.cursor_row is not None, what="status"
            )
            assert grid.cursor_row.id == want[0] and grid.cursor_row.status == "corrupted"  # type: ignore[union-attr]

            screen.query_one("#status").value = "problems"  # type: ignore[attr-defined]
            want = all_ids(demo_db, ResultsQuery(statuses=frozenset({"warning", "corrupted", "unreadable"})))
            await wait_for(pilot, lambda: grid.count == len(want), what="problems")

            screen.query_one("#family").value = "audio"  # type: ignore[attr-defined]
            q = ResultsQuery(
                statuses=frozenset({"warning", "corrupted", "unreadable"}), families=frozenset({"audio"})
            )
            await wait_for(pilot, lambda: grid.count == len(all_ids(demo_db, q)), what="family")

            screen.query_one("#status").clear()  # type: ignore[attr-defined]
            screen.query_one("#family").clear()  # type: ignore[attr-defined]
            await pilot.press("slash")
            await pilot.press(*"twin peaks")
            await pilot.press("enter")
            want = all_ids(demo_db, ResultsQuery(path_text="twin peaks"))
            assert want
            await wait_for(
                pilot, lambda: grid.count == len(want) and grid.cursor_row is not None, what="search"
            )
            assert "Twin Peaks" in grid.cursor_row.path  # type: ignore[union-attr]
            assert grid.has_focus

            await pilot.press("o")  # path -> status
            want = all_ids(demo_db, ResultsQuery(path_text="twin peaks", sort="status"))
            await wait_for(pilot, lambda: grid.cursor_row is not None and grid.query_.sort == "status")
            assert grid.cursor_row.id == want[0]  # type: ignore[union-attr]
            await pilot.press("O")
            want = all_ids(demo_db, ResultsQuery(path_text="twin peaks", sort="status", descending=True))
            await wait_for(pilot, lambda: grid.cursor_row is not None and grid.query_.descending)
            assert grid.cursor_row.id == want[0]  # type: ignore[union-attr]

            await pilot.press("slash", *"no such file", "enter")
            await wait_for(pilot, lambda: grid.count == 0, what="empty")

    run(body())


def test_select_mark_good_and_unmark(demo_db: Database) -> None:
    expected = all_ids(demo_db, ResultsQuery())

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            await pilot.press("space", "space", "shift+down", "shift+down")
            # space selects rows 0 and 1 and moves on; each shift+down extends the range by one row.
            chosen = sorted(expected[:5])
            assert grid.selected_count == 5 and grid.cursor == 4
            before = dict(zip(chosen, marked(demo_db, chosen), strict=True))
            await pilot.press("g")
            await wait_for(pilot, lambda: all(m for m, _ in marked(demo_db, chosen)), what="marked")
            after = dict(zip(chosen, marked(demo_db, chosen), strict=True))
            # Rows marked earlier keep their mark (and who made it); the others are marked by us now.
            assert all(after[i] == (before[i] if before[i][0] else (True, who())) for i in chosen)
            assert any(not before[i][0] for i in chosen)
            await pilot.press("u")
            await wait_for(pilot, lambda: not any(m for m, _ in marked(demo_db, chosen)), what="unmarked")
            assert {by for _, by in marked(demo_db, chosen)} == {None}

            # Nothing selected: the cursor row.
            grid.clear_selection()
            await pilot.press("end")
            await wait_for(pilot, lambda: grid.cursor_row is not None)
            await pilot.press("g")
            await wait_for(pilot, lambda: marked(demo_db, [expected[-1]])[0][0], what="cursor row marked")

    run(body())


def test_select_all_in_filter_marks_exactly_the_filtered_rows(demo_db: Database) -> None:
    corrupted = ResultsQuery(statuses=frozenset({"corrupted"}))
    want = all_ids(demo_db, corrupted)
    others = sorted(set(all_ids(demo_db, ResultsQuery())) - set(want))
    before_others = marked(demo_db, others)
    first_before = marked(demo_db, want[:1])

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            app.screen.query_one("#status").value = "corrupted"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.count == len(want) and grid.cursor_row is not None)
            await pilot.press("a")
            assert grid.selected_count == len(want)
            await pilot.press("space")  # leave the first one out
            assert grid.selected_count == len(want) - 1
            await pilot.press("g")
            await wait_for(pilot, lambda: all(m for m, _ in marked(demo_db, sorted(want[1:]))), what="marked")
            assert marked(demo_db, others) == before_others
            assert marked(demo_db, want[:1]) == first_before  # the row left out is untouched

    run(body())


def test_copy_path_and_details(demo_db: Database) -> None:
    corrupted = all_ids(demo_db, ResultsQuery(statuses=frozenset({"corrupted"})))
    with demo_db.engine.connect() as conn:
        path, findings = conn.execute(
            sa.select(ScanResult.file_path, ScanResult.findings).where(ScanResult.id == corrupted[0])
        ).one()

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 36)) as pilot:
            grid = await open_results(pilot, app)
            app.screen.query_one("#status").value = "corrupted"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.count == len(corrupted) and grid.cursor_row is not None)
            await pilot.press("c")
            await wait_for(pilot, lambda: app.clipboard == path, what="clipboard")
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: isinstance(app.screen, DetailsScreen) and app.screen.detail is not None
            )
            screen = app.screen
            assert isinstance(screen, DetailsScreen)
            fields = text_of(screen.query_one("#fields").content)
            assert "corrupted" in fields and "Content hash" in fields
            found = text_of(screen.query_one("#findings").content)
            import json

            first = json.loads(findings)[0]
            assert first["tool"] in found and first["message"][:30] in found
            if "at_seconds" in first:
                assert f"{first['at_seconds']:.2f} s" in found
            await pilot.press("g")
            await wait_for(pilot, lambda: marked(demo_db, [corrupted[0]])[0][0], what="marked from details")
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, ResultsScreen)

    run(body())


def test_new_results_appear_while_a_scan_runs(demo_db: Database) -> None:
    demo_data.add_running_scan(demo_db, owner=f"{socket.gethostname()}:{os.getpid()}")

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            assert grid.count == DEMO_ROWS
            await pilot.pause(0.5)
            with demo_db.session() as s:
                s.add(
                    ScanResult(
                        file_path="/srv/media/AAA new.mkv", scan_status="healthy", media_family="video"
                    )
                )
                from pixelprobe_tui.db.models import ScanState

                s.execute(sa.update(ScanState).values(files_processed=1235))
            await wait_for(pilot, lambda: grid.count == DEMO_ROWS + 1, what="live row")
            await wait_for(
                pilot, lambda: grid.row_at(0) is not None and grid.row_at(0).path == "/srv/media/AAA new.mkv"
            )

    run(body())


def test_an_empty_database_says_so(empty_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("2")
            grid = app.screen.query_one(ResultsGrid)
            await wait_for(pilot, lambda: grid.count == 0)
            await pilot.press("g", "enter", "end", "space")
            await pilot.pause()
            assert grid.selected_count == 0

    run(body())


def test_date_filter(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            app.screen.query_one("#since").value = "-30"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.query_.date_to is not None and grid.count is not None)
            assert grid.count == ResultsBrowser(demo_db, grid.query_).count()
            app.screen.query_one("#since").value = "30"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.query_.date_from is not None and grid.count is not None)
            recent = grid.query_
            assert grid.count == ResultsBrowser(demo_db, recent).count()
            assert all(
                r.scan_date is not None and r.scan_date >= recent.date_from
                for r in ResultsBrowser(demo_db, recent).page_after(None, 1000)
            )  # type: ignore[operator]

    run(body())


def test_date_range() -> None:
    import datetime as dt

    from pixelprobe_tui.tui.screens.results import date_range

    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    assert date_range(None, now) == {"date_from": None, "date_to": None}
    assert date_range("7", now) == {"date_from": dt.datetime(2026, 11, 18, tzinfo=dt.UTC), "date_to": None}
    assert date_range("-30", now) == {"date_from": None, "date_to": dt.datetime(2026, 10, 26, tzinfo=dt.UTC)}


def test_the_mouse_moves_the_cursor_selects_and_sorts(demo_db: Database) -> None:
    expected = all_ids(demo_db, ResultsQuery())

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            await pilot.click(ResultsGrid, offset=(40, 4))  # the 4th row (line 0 is the header)
            assert grid.cursor == 3 and grid.cursor_row.id == expected[3]  # type: ignore[union-attr]
            await pilot.click(ResultsGrid, offset=(40, 6), shift=True)
            assert grid.selected_count == 3
            await pilot.click(ResultsGrid, offset=(40, 2), control=True)
            assert grid.selected_count == 4
            await pilot.click(ResultsGrid, offset=(4, 0))  # the "Status" title sorts by status
            assert grid.query_.sort == "status" and not grid.query_.descending
            await pilot.click(ResultsGrid, offset=(4, 0))
            assert grid.query_.descending
            await wait_for(pilot, lambda: grid.cursor_row is not None)
            want = all_ids(demo_db, ResultsQuery(sort="status", descending=True))
            assert grid.cursor_row.id == want[0]  # type: ignore[union-attr]
            await pilot.double_click(ResultsGrid, offset=(40, 1))
            from pixelprobe_tui.tui.screens.details import DetailsScreen

            await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen))

    run(body())


def line_text(grid: ResultsGrid, index: int) -> str:
    """The text the grid paints for row ``index`` (on screen now)."""
    return grid.render_line(index - grid.scroll_offset.y + 1).text


def test_shift_ranges_cover_rows_that_were_never_loaded(demo_db: Database) -> None:
    expected = all_ids(demo_db, ResultsQuery(sort="size", descending=True))
    assert len(expected) > 2 * 128  # more rows than the grid loads at first (blocks of 128)

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            grid.set_query(ResultsQuery(sort="size", descending=True))
            await wait_for(pilot, lambda: grid.count is not None and grid.cursor_row is not None)
            await pilot.press("down", "down", "down")
            await pilot.press("shift+end")  # from row 3 to the last row, in one key
            assert grid.selected_count == len(expected) - 3
            selection = grid.selection()
            assert not selection.ids and len(selection.ranges) == 1  # a range, not a list of ids
            await pilot.press("home", "space")  # row 0 picked on its own; row 1 and 2 stay out
            assert grid.selected_count == len(expected) - 2
            await pilot.press("end")
            await wait_for(pilot, lambda: grid.cursor_row is not None)
            await pilot.press("space")  # the last row leaves the range
            assert grid.selected_count == len(expected) - 3
            await pilot.press("g")
            want = {expected[0], *expected[3:-1]}
            await wait_for(pilot, lambda: all(m for m, _ in marked(demo_db, sorted(want))), what="marked")
            others = [expected[1], expected[2], expected[-1]]
            assert [m for m, _ in marked(demo_db, others)] == [m for m, _ in before_others]

    with demo_db.engine.connect() as conn:
        ids = all_ids(demo_db, ResultsQuery(sort="size", descending=True))
        conn.execute(sa.update(ScanResult).values(marked_as_good=False))
        conn.commit()
    before_others = marked(demo_db, [ids[1], ids[2], ids[-1]])
    run(body())


def test_shift_moves_grow_and_shrink_the_range_from_its_anchor(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            await pilot.press("down", "down", "down", "down", "down")
            await pilot.press("shift+pagedown")
            assert grid.selected_count == grid.page_rows + 1 and grid.cursor == 5 + grid.page_rows
            await pilot.press("shift+home")  # past the anchor: now rows 0..5
            assert grid.selected_count == 6 and grid.cursor == 0
            await pilot.press("down", "down", "down", "down", "down", "down", "down", "down", "down", "down")
            await pilot.press("shift+down")  # a second range, 10..11, the first one stays
            assert grid.selected_count == 8
            assert line_text(grid, 3).startswith("●") and not line_text(grid, 7).startswith("●")
            await pilot.press("A")
            assert grid.selected_count == 0 and grid.selection().ranges == ()

    run(body())


def test_bitrot_rows_are_marked_and_filterable(demo_db: Database) -> None:
    expected = all_ids(demo_db, ResultsQuery())
    rotten = expected[1]
    with demo_db.engine.begin() as conn:
        conn.execute(sa.update(ScanResult).values(bitrot_suspected=False))
        conn.execute(sa.update(ScanResult).where(ScanResult.id == rotten).values(bitrot_suspected=True))

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            assert "≠" in line_text(grid, 1) and "≠" not in line_text(grid, 0) + line_text(grid, 2)
            bitrot_bg = grid.get_component_rich_style("results-grid--bitrot").bgcolor
            assert bitrot_bg is not None
            segments = list(grid.render_line(2))  # row 1, not under the cursor: tinted
            assert all(seg.style.bgcolor == bitrot_bg for seg in segments if seg.text.strip())
            await pilot.press("down")
            status = app.screen.query_one("#status-line")
            await wait_for(pilot, lambda: "bitrot" in text_of(status.render()), what="status line")
            app.screen.query_one("#status").value = "bitrot"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.count == 1 and grid.cursor_row is not None, what="filter")
            assert grid.cursor_row.id == rotten  # type: ignore[union-attr]

    run(body())


class GatedBrowser(ResultsBrowser):
    """The real browser whose pages wait for a gate, so a test can act before a page arrives (key_at and
    count are not held: the actions and the count need them)."""

    gate = threading.Event()

    def page_after(self, key, n):  # type: ignore[no-untyped-def]
        self.gate.wait(30)
        return super().page_after(key, n)

    def page_before(self, key, n):  # type: ignore[no-untyped-def]
        self.gate.wait(30)
        return super().page_before(key, n)

    def page_at(self, offset, n):  # type: ignore[no-untyped-def]
        self.gate.wait(30)
        return super().page_at(offset, n)


def test_a_range_ending_on_a_row_never_loaded_is_resolved_off_the_ui_thread(
    demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = all_ids(demo_db, ResultsQuery())
    with demo_db.engine.begin() as conn:
        conn.execute(sa.update(ScanResult).values(marked_as_good=False))
    monkeypatch.setattr("pixelprobe_tui.tui.screens.results.ResultsBrowser", GatedBrowser)
    GatedBrowser.gate.set()
    ui_thread_statements: list[str] = []
    ui_thread = threading.get_ident()

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if threading.get_ident() == ui_thread:
            ui_thread_statements.append(statement)

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            await pilot.press("down", "down", "down")
            GatedBrowser.gate.clear()  # no page arrives from now on
            sa.event.listen(demo_db.engine, "before_cursor_execute", record)
            try:
                await pilot.press("shift+end")
                assert grid.cursor == DEMO_ROWS - 1 and grid.cursor_row is None  # the last row never loaded
                assert grid.selection().ranges == ((3, grid.row_at(3).key, DEMO_ROWS - 1, None),)  # type: ignore[union-attr]
                await pilot.press("g")
                # Read from a thread: the test's own queries must not count as the UI thread's.
                for _ in range(400):
                    if await asyncio.to_thread(lambda: all(m for m, _ in marked(demo_db, expected[3:]))):
                        break
                    await pilot.pause(0.05)
            finally:
                sa.event.remove(demo_db.engine, "before_cursor_execute", record)
                GatedBrowser.gate.set()
            assert ui_thread_statements == []
            assert all(m for m, _ in marked(demo_db, expected[3:]))
            assert [m for m, _ in marked(demo_db, expected[:3])] == [False, False, False]

    run(body())


def test_export_of_one_file_says_one_result(
    demo_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # exports go to the current directory

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            await open_results(pilot, app)
            await pilot.press("e")  # nothing selected: the row under the cursor
            note = await wait_for(
                pilot,
                lambda: next((n for n in app._notifications if "Wrote" in n.message), None),
                what="export",
            )
            assert note.message.startswith("Wrote 1 result to ")
            written = list(tmp_path.glob("pixelprobe-results-*.json"))
            assert len(written) == 1 and note.message.endswith(str(written[0]))

    run(body())


def test_coming_back_to_the_results_shows_what_changed_meanwhile(demo_db: Database) -> None:
    first = all_ids(demo_db, ResultsQuery())[0]

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            grid = await open_results(pilot, app)
            assert grid.cursor_row.id == first and grid.cursor_row.status != "unreadable"  # type: ignore[union-attr]
            await pilot.press("1")
            await pilot.pause(0.2)
            # A scan ran (here or elsewhere) while the Dashboard was on show, and ended.
            await asyncio.to_thread(set_status, demo_db, first, "unreadable")
            await pilot.press("2")
            await wait_for(
                pilot,
                lambda: grid.cursor_row is not None and grid.cursor_row.status == "unreadable",
                what="the changed row",
                timeout=5,
            )

    run(body())


def set_status(db: Database, result_id: int, status: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.update(ScanResult).where(ScanResult.id == result_id).values(scan_status=status))


def test_an_empty_database_says_how_to_fill_it(empty_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            grid = app.screen.query_one(ResultsGrid)
            await wait_for(pilot, lambda: grid.count == 0, what="the count")
            assert "s on the Dashboard" in line_text(grid, 0)
            grid.set_query(ResultsQuery(path_text="nothing like this"))
            await wait_for(pilot, lambda: grid.count == 0, what="the filtered count")
            assert "No files match: path ~ 'nothing like this'" in line_text(grid, 0)

    run(body())


CJK_PATH = "/srv/photos/写真_夏休み_2024年_家族旅行_北海道_最終版_その二.png"


def test_wide_characters_are_fitted_by_cells() -> None:
    from rich.cells import cell_len

    from pixelprobe_tui.tui.widgets.results_grid import fit_path, fit_text

    for width in (1, 2, 9, 10, 28, 80):
        path, text = fit_path(CJK_PATH, width), fit_text(CJK_PATH, width)
        assert cell_len(path) == width and cell_len(text) == width
    assert fit_path(CJK_PATH, 12).endswith("その二.png") and fit_path(CJK_PATH, 12).startswith("…")
    assert fit_text(CJK_PATH, 16) == "/srv/photos/写… "  # 真 would overrun: one blank cell


def test_a_path_in_wide_characters_keeps_its_file_name_at_80_columns(empty_db: Database) -> None:
    from rich.cells import cell_len

    from pixelprobe_tui.core.discovery import path_to_db

    with empty_db.engine.begin() as conn:
        conn.execute(
            sa.insert(ScanResult),
            [{"file_path": path_to_db(CJK_PATH), "scan_status": "corrupted", "media_family": "image"}],
        )

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            grid = await open_results(pilot, app)
            await pilot.press("down")  # the cursor off the row: its plain text
            line = line_text(grid, 0)
            assert line.rstrip().endswith("その二.png")  # the file name, not the middle of the path
            assert cell_len(line) == grid.line_width

    run(body())
