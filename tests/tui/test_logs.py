"""The logs screen: level, scan and text filters, follow mode, and editing retention and excluded loggers."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from textual.geometry import Region
from textual.pilot import Pilot

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import LogEntry, ScanReport
from pixelprobe_tui.services import browse
from pixelprobe_tui.services.config import ConfigService
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.logs import LogsScreen
from tests.tui.conftest import on_screen, run, wait_for

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
SCAN = "2b4f3c6e-0000-4000-8000-000000000001"


def add_logs(db: Database) -> None:
    rows = [
        ("INFO", "pixelprobe.scan", "scan started over /srv/media", SCAN),
        ("DEBUG", "pixelprobe.discovery", "walked 12 directories", SCAN),
        ("WARNING", "pixelprobe.scan", "slow storage under /srv/media/nas", SCAN),
        ("ERROR", "pixelprobe.check", "decoder crashed: signal 11 on /srv/media/a.mkv", SCAN),
        ("INFO", "pixelprobe.cli", "config set workers 4", None),
    ]
    with db.session() as s:
        for i, (level, logger, message, scan) in enumerate(rows):
            s.add(
                LogEntry(
                    level=level,
                    logger_name=logger,
                    message=message,
                    scan_id=scan,
                    timestamp=T0 + dt.timedelta(seconds=i),
                )
            )
        s.add(ScanReport(scan_id=None, scan_type="full_scan", status="completed", start_time=T0))


def add_entry(db: Database, message: str) -> None:
    with db.session() as s:
        s.add(LogEntry(level="INFO", logger_name="pixelprobe.scan", message=message, timestamp=T0))


def shown(screen: LogsScreen) -> list[str]:
    return [strip.text for strip in screen.query_one("#log").lines]  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def logs_screen(
    db: Database, size: tuple[int, int], entries: int
) -> AsyncIterator[tuple[Pilot[Any], LogsScreen]]:
    """The Logs screen at ``size``, once it shows ``entries`` entries: (pilot, screen)."""
    async with on_screen(db, "4", LogsScreen, size) as (pilot, screen):
        await wait_for(pilot, lambda: screen.shown == entries, what=f"{entries} entries")
        yield pilot, screen


def test_filters_and_follow(empty_db: Database) -> None:
    add_logs(empty_db)

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("4")
            screen = app.screen
            assert isinstance(screen, LogsScreen)
            await wait_for(pilot, lambda: screen.shown == 5, what="all entries")
            assert "config set workers 4" in shown(screen)[-1]

            # Each filter has a key that opens its list.
            for key, which in (("l", "#level"), ("s", "#scan")):
                await pilot.press(key)
                select = screen.query_one(which)
                await wait_for(
                    pilot, lambda select=select: select.expanded and select.has_focus_within, what=which
                )
                await pilot.press("escape")
                await wait_for(pilot, lambda select=select: not select.expanded, what=f"{which} closed")
            screen.query_one("#log").focus()
            screen.query_one("#level").value = "WARNING"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: screen.shown == 2, what="warning+")
            assert any("decoder crashed" in line for line in shown(screen))

            screen.query_one("#level").clear()  # type: ignore[attr-defined]
            await pilot.press("slash", *"storage", "enter")
            await wait_for(
                pilot, lambda: screen.shown == 1 and "slow storage" in shown(screen)[0], what="search"
            )

            # Follow mode: a new matching entry appears without a key press.
            with empty_db.session() as s:
                s.add(
                    LogEntry(
                        level="INFO",
                        logger_name="x",
                        message="storage back",
                        timestamp=T0 + dt.timedelta(minutes=1),
                    )
                )
            await wait_for(pilot, lambda: screen.shown == 2, what="followed entry")
            await pilot.press("f")
            assert not screen.follow
            with empty_db.session() as s:
                s.add(
                    LogEntry(
                        level="INFO",
                        logger_name="x",
                        message="storage again",
                        timestamp=T0 + dt.timedelta(minutes=2),
                    )
                )
            await pilot.pause(0.4)
            assert screen.shown == 2

    run(body())


def test_log_entries_of_one_scan(empty_db: Database) -> None:
    add_logs(empty_db)
    rows = browse.log_entries(empty_db, scan_id=SCAN)
    assert [r.level for r in rows] == ["INFO", "DEBUG", "WARNING", "ERROR"]
    assert [r.message for r in browse.log_entries(empty_db, min_level="error")] == [
        "decoder crashed: signal 11 on /srv/media/a.mkv"
    ]
    assert len(browse.log_entries(empty_db, limit=2)) == 2
    assert browse.log_entries(empty_db, limit=2)[-1].message == "config set workers 4"
    first = browse.log_entries(empty_db)[0].id
    assert len(browse.log_entries(empty_db, after_id=first)) == 4
    assert browse.log_entries(empty_db, text="100%_") == []


def test_edit_retention_and_excluded_loggers(empty_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("4")
            screen = app.screen
            retention = screen.query_one("#retention")
            await wait_for(pilot, lambda: retention.value == "30", what="settings")  # type: ignore[attr-defined]
            retention.value = "7"  # type: ignore[attr-defined]
            screen.query_one("#excluded").value = "sqlalchemy, urllib3"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await wait_for(
                pilot, lambda: ConfigService(empty_db).load().log_retention_days == 7, what="saved"
            )
            assert ConfigService(empty_db).load().excluded_loggers == ("sqlalchemy", "urllib3")
            # A bad value is refused with a message; nothing changes.
            retention.value = "-3"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: any("Could not" in (n.title or "") for n in app._notifications))
            assert ConfigService(empty_db).load().log_retention_days == 7

    run(body())


def test_no_entries(empty_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("4")
            screen = app.screen
            await wait_for(pilot, lambda: shown(screen), what="message")  # type: ignore[arg-type]
            assert "No log entries yet" in shown(screen)[0]  # type: ignore[arg-type]
            await pilot.press("slash", *"nothing like this", "enter")  # a filter that matches nothing says so
            await wait_for(pilot, lambda: "No log entries match" in shown(screen)[0], what="filtered")  # type: ignore[arg-type]
        with empty_db.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(LogEntry)).scalar() == 0

    run(body())


def test_a_long_message_wraps_whole_at_80_columns(empty_db: Database) -> None:
    add_entry(
        empty_db,
        "scan completed: 850 checked (662 healthy, 188 corrupted); 3 directories stalled: /srv/nas/old",
    )

    async def body() -> None:
        async with logs_screen(empty_db, (80, 24), entries=1) as (pilot, screen):
            await pilot.pause(0.2)
            text = " ".join(line.rstrip() for line in shown(screen))
            assert "stalled: /srv/nas/old" in text.replace("  ", " ")  # its end too, on a line below
            assert all(len(line.rstrip()) <= 80 for line in shown(screen))

    run(body())


def test_the_log_shows_how_many_entries_and_whether_it_follows(empty_db: Database) -> None:
    add_logs(empty_db)

    async def body() -> None:
        async with logs_screen(empty_db, (80, 24), entries=5) as (pilot, screen):
            log = screen.query_one("#log")

            def top_line() -> str:  # the log's top border, where its title is
                return "".join(
                    strip.text for strip in log.render_lines(Region(0, 0, log.outer_size.width, 1))
                )

            assert "5 entries · following" in top_line()
            await pilot.press("f")
            await wait_for(pilot, lambda: "paused (f follows)" in top_line(), what="paused")

    run(body())


def test_the_scan_filter_key_does_not_read_like_starting_a_scan(empty_db: Database) -> None:
    from textual.widgets._footer import FooterKey

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4")
            await wait_for(
                pilot, lambda: any(k.key == "s" for k in app.screen.query(FooterKey)), what="footer"
            )
            (key,) = [k for k in app.screen.query(FooterKey) if k.key == "s"]
            assert key.description == "By scan"  # "s Scan" starts a scan on the Dashboard

    run(body())


def test_the_log_is_laid_out_again_when_the_terminal_narrows(empty_db: Database) -> None:
    add_entry(
        empty_db,
        "a message long enough to need two lines at 80 columns but only one at 120 columns, as we see",
    )

    async def body() -> None:
        async with logs_screen(empty_db, (140, 24), entries=1) as (pilot, screen):
            await pilot.pause(0.2)
            assert len([line for line in shown(screen) if line.strip()]) == 1
            await pilot.resize_terminal(80, 24)
            await wait_for(
                pilot,
                lambda: (
                    len([ln for ln in shown(screen) if ln.strip()]) == 2
                    and all(len(ln.rstrip()) <= 80 for ln in shown(screen))
                ),
                what="the entry wrapped at the new width",
                timeout=5,
            )

    run(body())
