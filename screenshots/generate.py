"""Regenerate the SVG screenshots of every screen from demo data: ``python screenshots/generate.py``.

Builds a throwaway SQLite database with realistic demo rows (the same generator the TUI tests use), adds a
scan "running in another process" so the live panel has something to show, drives the real app headless and
writes one SVG per screen next to this script.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere: the demo data lives in tests/tui

from pixelprobe_tui.db.engine import Database  # noqa: E402
from pixelprobe_tui.db.migrate import open_database  # noqa: E402
from pixelprobe_tui.services.schedules import ScheduleService  # noqa: E402
from pixelprobe_tui.tui.app import PixelProbeApp  # noqa: E402
from pixelprobe_tui.tui.screens.details import DetailsScreen  # noqa: E402
from pixelprobe_tui.tui.screens.schedules import SchedulesScreen  # noqa: E402
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid  # noqa: E402
from tests.tui import demo_data  # noqa: E402

SIZE = (120, 34)
ROWS = 20_000


async def _until(pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get ready")
        await pilot.pause(0.05)


async def _results(pilot) -> ResultsGrid:  # type: ignore[no-untyped-def]
    await pilot.press("2")
    grid = pilot.app.screen.query_one(ResultsGrid)
    await _until(pilot, lambda: grid.count is not None and grid.row_at(grid.page_rows - 1) is not None)
    return grid


async def dashboard(pilot) -> None:  # type: ignore[no-untyped-def]
    await _until(pilot, lambda: "1,234" in str(pilot.app.screen.query_one("#live-status").content))
    await pilot.pause(0.5)


async def results(pilot) -> None:  # type: ignore[no-untyped-def]
    grid = await _results(pilot)
    await pilot.press("down", "down", "down", "space", "space", "down")
    assert grid.selected_count == 2


async def results_problems(pilot) -> None:  # type: ignore[no-untyped-def]
    grid = await _results(pilot)
    pilot.app.screen.query_one("#status").value = "problems"
    await _until(
        pilot, lambda: grid.query_.statuses and grid.count is not None and grid.cursor_row is not None
    )
    await pilot.press("o", "o")
    await _until(pilot, lambda: grid.query_.sort == "date" and grid.row_at(grid.page_rows - 1) is not None)


async def details(pilot) -> None:  # type: ignore[no-untyped-def]
    grid = await _results(pilot)
    pilot.app.screen.query_one("#status").value = "corrupted"
    await _until(
        pilot, lambda: grid.query_.statuses and grid.count is not None and grid.cursor_row is not None
    )
    await pilot.press("down", "enter")
    await _until(pilot, lambda: isinstance(pilot.app.screen, DetailsScreen) and pilot.app.screen.detail)


def _press(*keys: str) -> Callable[..., Awaitable[None]]:
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press(*keys)
        await pilot.pause(0.5)

    return run


async def help_screen(pilot) -> None:  # type: ignore[no-untyped-def]
    await _results(pilot)
    await pilot.press("question_mark")
    await pilot.pause(0.3)


async def scan_dialog(pilot) -> None:  # type: ignore[no-untyped-def]
    # Opened directly: "s" refuses while the demo's scan runs, and whether the dashboard knew of it yet when
    # the key came was a matter of timing.
    from pixelprobe_tui.tui.screens.scan_dialog import ScanDialog

    await pilot.app.push_screen(ScanDialog())
    await _until(pilot, lambda: isinstance(pilot.app.screen, ScanDialog))
    await pilot.pause(0.5)


SHOTS: dict[str, Callable[..., Awaitable[None]]] = {
    "dashboard": dashboard,
    "results": results,
    "results-problems": results_problems,
    "details": details,
    "help": help_screen,
    "reports": _press("3"),
    "logs": _press("4"),
    "settings": _press("5"),
    "schedules": _press("6"),
    "schedule-form": _press("6", "down", "e"),
    "scan-dialog": scan_dialog,
}


async def shoot(url: str, name: str, steps: Callable[..., Awaitable[None]]) -> str:
    db = open_database(url)
    try:
        app = PixelProbeApp(db, poll_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await steps(pilot)
            await pilot.pause(0.2)
            return app.export_screenshot(title=f"PixelProbe: {name}")
    finally:
        db.dispose()


def add_demo_schedules(db: Database) -> None:
    """A few schedules of every type, their next runs computed from the demo data's "now"."""
    service = ScheduleService(db)
    now = demo_data.NOW
    service.add("nightly movies", "0 3 * * *", paths=["/srv/media/Movies", "/srv/media/TV"], now=now)
    service.add("weekly deep", "@weekly", force_rescan=True, now=now)
    service.add("photos every 6h", "every 6h", paths=["/srv/media/Photos"], now=now)
    service.add("orphans", "every 1d", scan_type="cleanup", now=now)
    service.add("bitrot check", "0 4 * * 0", scan_type="file_changes", now=now)
    service.add("month end", "0 1 L * *", active=False, now=now)


def add_demo_history(db: Database) -> None:
    """Earlier verdicts for the details screen: each corrupted file was healthy, with other content, a month
    before it was found corrupted."""
    import datetime as dt
    import json

    import sqlalchemy as sa

    from pixelprobe_tui.db.models import ScanResult, VerdictHistory

    with db.session() as s:
        rows = s.execute(
            sa.select(ScanResult.id, ScanResult.scan_date, ScanResult.file_hash, ScanResult.findings).where(
                ScanResult.scan_status == "corrupted"
            )
        ).all()
        for rid, date, file_hash, findings in rows:
            when = date or demo_data.NOW
            s.add(
                VerdictHistory(
                    result_id=rid,
                    checked_at=when - dt.timedelta(days=31),
                    scan_status="healthy",
                    file_hash=f"xxh3_128:{rid:032x}",
                )
            )
            first = json.loads(findings)[0] if findings else None
            summary = f"{first['tool']}: {first['message']}" if first else None
            s.add(
                VerdictHistory(
                    result_id=rid,
                    checked_at=when,
                    scan_status="corrupted",
                    is_corrupted=True,
                    summary=summary,
                    file_hash=file_hash,
                )
            )


def main() -> int:
    os.environ["TZ"] = "UTC"
    time.tzset()
    SchedulesScreen.clock = staticmethod(lambda: demo_data.NOW)  # the form's preview: stable pictures
    with tempfile.TemporaryDirectory(prefix="pixelprobe-shots-") as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        db = open_database(url)
        demo_data.populate(db, ROWS, reports=8)
        demo_data.add_running_scan(db, owner=f"{socket.gethostname()}:{os.getpid()}")
        demo_data.add_demo_logs_and_rules(db)
        add_demo_schedules(db)
        add_demo_history(db)
        db.dispose()
        for name, steps in SHOTS.items():
            svg = asyncio.run(shoot(url, name, steps))
            (HERE / f"{name}.svg").write_text(svg, encoding="utf-8")
            print(f"wrote screenshots/{name}.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
