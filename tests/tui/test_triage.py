"""Triage comforts on a real SQLite database: the results grid's Problem column, and jumping from the dashboard's
Files panel (keys and clicks) to the results filtered by a verdict."""

from __future__ import annotations

import json

import sqlalchemy as sa
from textual.widgets import Select

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services.browse import PROBLEM_CHARS, ResultsBrowser
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.details import DetailsScreen
from pixelprobe_tui.tui.screens.results import ResultsScreen
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid, column_widths
from tests.tui.conftest import run, text_of, wait_for


def expected_problem(db: Database, row_id: int) -> str:
    """What the Problem column should say, worked out from the stored row the long way."""
    with db.engine.connect() as conn:
        r = conn.execute(sa.select(ScanResult.__table__).where(ScanResult.id == row_id)).mappings().one()
    if r["scan_status"] in ("healthy", "pending"):
        return ""
    if r["error_message"]:
        return r["error_message"]
    findings = json.loads(r["findings"])
    return findings[0]["message"]  # the demo rows carry one finding each


def line_text(grid: ResultsGrid, y: int) -> str:
    return "".join(segment.text for segment in grid.render_line(y))


def status_count(db: Database, *statuses: str) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(ScanResult).where(ScanResult.scan_status.in_(statuses))
            ).scalar_one()
        )


def test_problem_column_shows_what_is_wrong_on_wide_screens_only(demo_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=60)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("2")
            grid = app.screen.query_one(ResultsGrid)
            await wait_for(pilot, lambda: grid.count and grid.row_at(grid.page_rows - 1), what="a full page")
            assert "Problem" in line_text(grid, 0)
            path_width, problem_width = column_widths(grid.line_width)
            assert problem_width >= 16 and path_width > problem_width
            seen = set()
            for y in range(1, grid.page_rows + 1):
                row = grid.row_at(grid.scroll_offset.y + y - 1)
                assert row is not None
                want = expected_problem(demo_db, row.id)
                assert row.problem == want, row
                cell = line_text(grid, y)[-problem_width:]
                shown = want if len(want) <= problem_width else want[: problem_width - 1] + "…"
                assert cell == shown.ljust(problem_width), (cell, want)
                seen.add(row.status)
            assert "healthy" in seen and seen & {"warning", "corrupted", "unreadable"}, seen

            # The cursor row's whole problem is in the status line too (the column may cut it).
            app.screen.filter_status("corrupted")  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.query_.statuses == {"corrupted"} and grid.cursor_row)
            await pilot.pause(0.1)
            status = text_of(app.screen.query_one("#status-line").content, width=300)
            assert expected_problem(demo_db, grid.cursor_row.id) in status  # type: ignore[union-attr]

            # Narrow: the column goes, the path takes the room.
            await pilot.resize_terminal(90, 30)
            await pilot.pause(0.2)
            assert "Problem" not in line_text(grid, 0)
            assert column_widths(grid.line_width)[1] == 0

    run(body())


def test_problem_text_is_one_short_printable_line(db: Database) -> None:
    """On both databases: long stored details reach the grid as their first line, cut to PROBLEM_CHARS by the
    query, without the tool prefix; rows with only a findings list show its worst active finding."""
    details = "\n".join(f"[pyav] bad frame {i} \x1b[31m" + "x" * 500 for i in range(200))  # ~100 kB
    findings = [
        {"severity": "info", "code": "i", "tool": "t", "message": "just so you know"},
        {"severity": "corrupt", "code": "c", "tool": "t", "message": "ignored damage", "ignored": True},
        {"severity": "warning", "code": "w", "tool": "t", "message": "odd timestamps"},
    ]
    rows = [
        {"file_path": "/zz/long.mkv", "scan_status": "corrupted", "corruption_details": details},
        {"file_path": "/zz/ok.mkv", "scan_status": "healthy", "warning_details": "[x] stale"},
        {"file_path": "/zz/old.mkv", "scan_status": "warning", "findings": json.dumps(findings)},
        {
            "file_path": "/zz/io.mkv",
            "scan_status": "unreadable",
            "error_message": "[reader] [Errno 5] I/O error",
        },
        {"file_path": "/zz/new.mkv", "scan_status": "pending"},
    ]
    with db.engine.begin() as conn:
        for row in rows:
            conn.execute(sa.insert(ScanResult).values(media_family="video", **row))
    problems = {r.path: r.problem for r in ResultsBrowser(db).page_after(None, 10)}
    assert problems["/zz/ok.mkv"] == problems["/zz/new.mkv"] == ""  # healthy and pending rows say nothing
    assert problems["/zz/old.mkv"] == "odd timestamps"
    assert problems["/zz/io.mkv"] == "[Errno 5] I/O error"
    long = problems["/zz/long.mkv"]
    assert long.startswith("bad frame 0 \\x1b[31mxxx") and "\n" not in long and "\x1b" not in long
    assert len(long) <= PROBLEM_CHARS + 10  # cut in the query (escaping adds a few characters)


def test_dashboard_keys_and_clicks_open_filtered_results(demo_db: Database) -> None:
    corrupted = status_count(demo_db, "corrupted")
    problems = status_count(demo_db, "warning", "corrupted", "unreadable")

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=60)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "Total" in text_of(app.screen.query_one("#totals").content))

            async def results_for(statuses: set[str], bitrot: bool = False) -> ResultsGrid:
                await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen), what="results screen")
                grid = app.screen.query_one(ResultsGrid)
                await wait_for(
                    pilot,
                    lambda: (
                        grid.query_.statuses == statuses
                        and grid.query_.bitrot == bitrot
                        and grid.count is not None
                    ),
                    what=f"results of {statuses}",
                )
                return grid

            # The first jump builds the results screen with the filter already set.
            await pilot.press("c")
            grid = await results_for({"corrupted"})
            assert grid.count == corrupted
            assert app.screen.query_one("#status", Select).value == "corrupted"
            await wait_for(pilot, lambda: grid.cursor_row is not None)
            assert grid.cursor_row.status == "corrupted"  # type: ignore[union-attr]

            # Later jumps change the screen that is there; other filters stay.
            grid.set_query(grid.query_.with_changes(families=frozenset({"video"})))
            await pilot.press("1")
            await pilot.press("p")
            grid = await results_for({"warning", "corrupted", "unreadable"})
            assert grid.query_.families == {"video"}
            assert app.screen.query_one("#status", Select).value == "problems"
            grid.set_query(grid.query_.with_changes(families=frozenset()))
            await wait_for(pilot, lambda: grid.count == problems, what="all problems")

            await pilot.press("1", "b")
            await results_for(set(), bitrot=True)
            assert app.screen.query_one("#status", Select).value == "bitrot"

            # A click on the Warning line of the Files panel (border, then Healthy, then Warning).
            await pilot.press("1")
            await wait_for(pilot, lambda: app.screen.id != "results" and app.screen.query("#totals"))
            assert await pilot.click("#totals", offset=(4, 2))
            await results_for({"warning"})
            assert app.screen.query_one("#status", Select).value == "warning"

            # Total: every file again.
            await pilot.press("1")
            assert await pilot.click("#totals", offset=(4, 10))
            grid = await results_for(set())
            assert app.screen.query_one("#status", Select).value == Select.NULL

            # A details screen left open in Results is closed by a jump: the filtered list shows.
            await wait_for(pilot, lambda: grid.cursor_row is not None)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), what="details")
            await pilot.press("1", "c")
            await results_for({"corrupted"})
            assert len(app.screen_stack) == 1

    run(body())
