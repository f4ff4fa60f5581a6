"""The Schedules screen on a real SQLite database: add through the form (preview visible), refuse a bad spec,
toggle, delete; the orphan cleanup preview, its confirmation and its cancel; a file-changes check; and the
bitrot filter on the Results screen and the dashboard."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services.browse import ResultsBrowser, ResultsQuery
from pixelprobe_tui.services.schedules import ScheduleService
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.schedules import SchedulesScreen
from pixelprobe_tui.tui.widgets.confirm import CleanupConfirm, ConfirmDialog
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from pixelprobe_tui.tui.widgets.schedule_form import ScheduleForm
from tests.tui.conftest import run, text_of, wait_for

FIXED_NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC here, and "now" for the form's preview is fixed."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(SchedulesScreen, "clock", staticmethod(lambda: FIXED_NOW))
    yield
    monkeypatch.undo()
    time.tzset()


async def open_schedules(pilot, app: PixelProbeApp) -> SchedulesScreen:  # type: ignore[no-untyped-def]
    await pilot.press("6")
    screen = app.screen
    assert isinstance(screen, SchedulesScreen)
    await pilot.pause(0.1)
    return screen


def table_text(screen: SchedulesScreen) -> list[list[str]]:
    table = screen.query_one("#schedules", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_add_a_cron_schedule_through_the_form_with_its_preview(empty_db: Database, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            assert "No schedules yet" in str(screen.query_one("#empty", Static).content)
            await pilot.press("n")
            form = await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm) and app.screen)
            await pilot.press(*"nightly")
            form.query_one("#spec", Input).focus()
            await pilot.press(*"30 2 * * 1-5")
            preview = text_of(form.query_one("#preview", Static).content)
            # Friday 2026-11-20 12:00 UTC: next weekday slots at 02:30 local (UTC here).
            assert "next 5 runs" in preview
            for day in ("2026-11-23 02:30", "2026-11-24 02:30", "2026-11-27 02:30"):
                assert day in preview
            assert "2026-11-21" not in preview and "2026-11-22" not in preview  # the weekend
            form.query_one("#paths", Input).value = str(library)
            form.query_one("#force", Checkbox).value = True
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is screen and screen.schedules, what="saved")
            rows = table_text(screen)
            assert rows[0][:4] == ["nightly", "scan +force", "30 2 * * 1-5", "on"]
            assert rows[0][6] == str(library)
            # The highlighted schedule in full below the table (80 columns cut the table's paths).
            summary = text_of(screen.query_one("#schedule-summary", Static).content)
            assert f"nightly: scan of {library} (unchanged files too)" in summary.replace("\n", " ")

    run(body())
    (info,) = ScheduleService(empty_db).all()
    assert (info.name, info.schedule_type, info.schedule_value) == ("nightly", "cron", "30 2 * * 1-5")
    assert info.scan_paths == (str(library),) and info.force_rescan and info.is_active
    assert info.next_run is not None and info.next_run.hour == 2 and info.next_run.minute == 30


def test_an_invalid_spec_shows_an_error_and_saves_nothing(empty_db: Database) -> None:
    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_schedules(pilot, app)
            await pilot.press("n")
            form = await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm) and app.screen)
            form.query_one("#name", Input).value = "broken"
            form.query_one("#spec", Input).value = "61 * * * *"
            await pilot.pause(0.1)
            assert "✗" in text_of(form.query_one("#preview", Static).content)
            await pilot.press("ctrl+s")
            await pilot.pause(0.2)
            assert app.screen is form  # still open
            assert "Fix the schedule" in str(form.query_one("#error", Static).content)
            # A relative path is refused too, with its own message.
            form.query_one("#spec", Input).value = "every 6h"
            form.query_one("#paths", Input).value = "relative/dir"
            await pilot.pause(0.1)
            assert "absolute" in text_of(form.query_one("#paths-note", Static).content)
            await pilot.press("ctrl+s")
            await pilot.pause(0.2)
            assert app.screen is form
            await pilot.press("escape")
            assert isinstance(app.screen, SchedulesScreen)

    run(body())
    assert ScheduleService(empty_db).all() == []


def test_a_duplicate_name_keeps_the_form_open_with_the_services_message(empty_db: Database) -> None:
    ScheduleService(empty_db).add("taken", "every 1d")

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_schedules(pilot, app)
            await pilot.press("n")
            form = await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm) and app.screen)
            form.query_one("#name", Input).value = "taken"
            form.query_one("#spec", Input).value = "every 6h"
            await pilot.press("ctrl+s")
            error = form.query_one("#error", Static)
            await wait_for(pilot, lambda: "already exists" in str(error.content), what="the refusal")
            assert app.screen is form

    run(body())
    assert [i.schedule_value for i in ScheduleService(empty_db).all()] == ["every 1d"]


def test_toggle_edit_and_delete(empty_db: Database) -> None:
    service = ScheduleService(empty_db)
    service.add("a-cleanup", "every 1d", scan_type="cleanup")
    service.add("b-scan", "0 3 * * *")

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            await wait_for(pilot, lambda: len(screen.schedules) == 2, what="rows")
            await pilot.press("down", "space")
            await wait_for(pilot, lambda: not service.get("b-scan").is_active, what="off")
            await wait_for(pilot, lambda: table_text(screen)[1][3] == "off", what="row off")
            assert table_text(screen)[1][4] == "-"
            await pilot.press("t")
            await wait_for(pilot, lambda: service.get("b-scan").is_active, what="on again")
            # Edit: change the type to file changes (paths and force are disabled for it).
            await pilot.press("e")
            form = await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm) and app.screen)
            assert form.query_one("#spec", Input).value == "0 3 * * *"
            form.query_one("#type", Select).value = "file_changes"
            await pilot.pause(0.1)
            assert form.query_one("#paths", Input).disabled
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: service.get("b-scan").scan_type == "file_changes", what="edited")
            # Delete: cancelling keeps it, confirming removes it.
            await wait_for(pilot, lambda: app.screen is screen)
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("n")
            await pilot.pause(0.2)
            assert len(service.all()) == 2
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_for(pilot, lambda: len(screen.schedules) == 1, what="row gone")
            assert table_text(screen)[0][0] == "a-cleanup"

    run(body())
    assert [i.name for i in service.all()] == ["a-cleanup"]


def _library(tmp_path: Path, db: Database) -> tuple[list[str], list[str]]:
    """A root with files that exist and records of files that were deleted; returns (present, gone)."""
    root = tmp_path / "lib"
    (root / "photos").mkdir(parents=True)
    present = []
    for i in range(3):
        f = root / "photos" / f"keep{i}.jpg"
        f.write_bytes(b"x" * 10)
        present.append(str(f))
    gone = [str(root / "photos" / f"gone{i}.jpg") for i in range(2)]
    with db.session() as s:
        s.execute(
            sa.insert(ScanResult),
            [
                {"file_path": path_to_db(p), "scan_status": "healthy", "media_family": "image"}
                for p in present + gone
            ],
        )
    return present, gone


def _stored(db: Database) -> dict[str, bool]:
    with db.engine.connect() as conn:
        return {
            r[0]: bool(r[1]) for r in conn.execute(sa.select(ScanResult.file_path, ScanResult.file_exists))
        }


@pytest.mark.parametrize("answer", ["y", "escape"])
def test_cleanup_preview_then_confirm_or_cancel(empty_db: Database, tmp_path: Path, answer: str) -> None:
    present, gone = _library(tmp_path, empty_db)

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            await pilot.press("c")
            confirm = await wait_for(pilot, lambda: isinstance(app.screen, CleanupConfirm) and app.screen)
            shown = text_of(confirm.query_one("#summary", Static).content)
            assert "5 records checked: 2 files are gone, 3 present" in shown
            assert "gone0.jpg" in shown and "gone1.jpg" in shown
            assert len(_stored(empty_db)) == 5  # a preview changes nothing
            await pilot.press(answer)
            status = screen.query_one("#maint-status", Static)
            want = "2 records deleted" if answer == "y" else "Cleanup cancelled"
            await wait_for(pilot, lambda: want in text_of(status.content), what=want)

    run(body())
    stored = _stored(empty_db)
    if answer == "y":
        assert sorted(stored) == sorted(path_to_db(p) for p in present)
    else:
        assert len(stored) == 5 and all(stored.values())


def test_cleanup_mark_only_keeps_the_records_marked_missing(empty_db: Database, tmp_path: Path) -> None:
    _present, gone = _library(tmp_path, empty_db)

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, CleanupConfirm))
            await pilot.press("m")
            status = screen.query_one("#maint-status", Static)
            await wait_for(pilot, lambda: "2 marked missing" in text_of(status.content), what="marked")

    run(body())
    stored = _stored(empty_db)
    assert len(stored) == 5
    assert [p for p, exists in stored.items() if not exists] == [path_to_db(p) for p in gone]


def test_file_changes_check_runs_in_a_worker_and_shows_its_summary(
    empty_db: Database, tmp_path: Path
) -> None:
    from pixelprobe_tui.core.hashing import hash_file

    f = tmp_path / "lib" / "a.jpg"
    f.parent.mkdir()
    f.write_bytes(b"original content")
    st = f.stat()
    stored_hash = hash_file(str(f))
    with empty_db.session() as s:
        s.execute(
            sa.insert(ScanResult).values(
                file_path=path_to_db(str(f)),
                scan_status="healthy",
                media_family="image",
                file_hash=stored_hash,
                file_size=st.st_size,
            )
        )

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            await pilot.press("f")
            status = screen.query_one("#maint-status", Static)
            await wait_for(pilot, lambda: "File changes completed" in text_of(status.content), what="summary")
            assert "1 checked, 1 unchanged" in text_of(status.content)

    run(body())


def test_bitrot_filter_shows_only_flagged_rows(demo_db: Database) -> None:
    with demo_db.engine.begin() as conn:
        ids = conn.execute(sa.select(ScanResult.id).order_by(ScanResult.id).limit(40)).scalars().all()
        flagged = [ids[3], ids[17], ids[38]]
        conn.execute(sa.update(ScanResult).where(ScanResult.id.in_(flagged)).values(bitrot_suspected=True))
    assert ResultsBrowser(demo_db, ResultsQuery(bitrot=True)).count() == 3

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            totals = app.screen.query_one("#totals", Static)
            await wait_for(pilot, lambda: "Bitrot suspected" in text_of(totals.content), what="totals")
            line = [ln for ln in text_of(totals.content).splitlines() if "Bitrot suspected" in ln][0]
            assert line.split()[-1] == "3"
            await pilot.press("2")
            grid = app.screen.query_one(ResultsGrid)
            await wait_for(pilot, lambda: grid.count is not None, what="first count")
            app.screen.query_one("#status", Select).value = "bitrot"
            await wait_for(pilot, lambda: grid.query_.bitrot and grid.count == 3, what="filtered")
            await wait_for(pilot, lambda: grid.row_at(2) is not None, what="rows")
            assert sorted(grid.row_at(i).id for i in range(3)) == sorted(flagged)  # type: ignore[union-attr]
            assert "bitrot suspected" in str(app.screen.query_one("#status-line", Static).content)
            app.screen.query_one("#status", Select).value = "problems"
            await wait_for(pilot, lambda: not grid.query_.bitrot and grid.count not in (None, 3))

    run(body())


def test_the_mouse_adds_selects_and_deletes(empty_db: Database) -> None:
    service = ScheduleService(empty_db)
    service.add("first", "every 1d")
    service.add("second", "every 2d")

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.click("ModeBar", offset=(72, 0))  # "6 Schedules" in the mode bar
            screen = await wait_for(pilot, lambda: isinstance(app.screen, SchedulesScreen) and app.screen)
            await wait_for(pilot, lambda: len(screen.schedules) == 2, what="rows")
            await pilot.click("#schedules", offset=(3, 2))  # the second row (the header is row 0)
            assert screen.selected() is not None and screen.selected().name == "second"  # type: ignore[union-attr]
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.click("#yes")
            await wait_for(pilot, lambda: len(screen.schedules) == 1, what="deleted")
            await pilot.press("n")
            form = await wait_for(pilot, lambda: isinstance(app.screen, ScheduleForm) and app.screen)
            form.query_one("#name", Input).value = "clicked"
            form.query_one("#spec", Input).value = "every 12h"
            await pilot.click("#save")
            await wait_for(pilot, lambda: len(screen.schedules) == 2, what="added")

    run(body())
    assert [i.name for i in service.all()] == ["clicked", "first"]


def test_run_now_scans_in_the_background_and_records_the_run(
    empty_db: Database, tmp_path: Path, media_factory
) -> None:
    import shutil
    import sqlite3

    root = tmp_path / "library"
    root.mkdir()
    shutil.copyfile(media_factory("png", size=(64, 48)), root / "pic.png")
    service = ScheduleService(empty_db)
    service.add("lib", "0 3 * * *", paths=[str(root)])
    planned = service.get("lib").next_run

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            await wait_for(pilot, lambda: len(screen.schedules) == 1, what="rows")
            # One run at a time: a cleanup asked for while the run goes on is refused with a message. A scan
            # of one file ends in milliseconds, so another connection holds the write lock meanwhile: the
            # run waits for it (SQLite's busy timeout) with its claim not yet written.
            writer = sqlite3.connect(tmp_path / "empty.db", isolation_level=None)
            writer.execute("BEGIN IMMEDIATE")
            try:
                await pilot.press("r")
                status = screen.query_one("#maint-status", Static)
                await wait_for(
                    pilot, lambda: "Run of 'lib': starting" in text_of(status.content), what="started"
                )
                await pilot.press("c")
                refusal = "Run of 'lib' is going on (x stops it)"
                await wait_for(
                    pilot, lambda: any(n.message == refusal for n in app._notifications), what="refusal"
                )
                assert "x" in screen.active_bindings and not isinstance(app.screen, CleanupConfirm)
            finally:
                writer.execute("ROLLBACK")
                writer.close()
            await wait_for(
                pilot, lambda: "Run of 'lib': Scan completed" in text_of(status.content), 120, what="summary"
            )
            assert "1 checked" in text_of(status.content)
            assert "x" not in screen.active_bindings  # "Stop run" is offered only while a run goes on
            # The table shows the recorded last run once it has read the schedules again.
            await wait_for(pilot, lambda: table_text(screen)[0][5] != "-", what="last run shown")

    run(body())
    info = service.get("lib")
    assert info.last_run is not None and info.next_run == planned and info.claimed_by is None
    with empty_db.engine.connect() as conn:
        stored = conn.execute(sa.select(ScanResult.file_path, ScanResult.scan_status)).all()
    assert stored == [(path_to_db(str(root / "pic.png")), "healthy")]


def test_run_now_while_a_scan_holds_the_database_says_so_and_records_nothing(
    empty_db: Database, tmp_path: Path
) -> None:
    from pixelprobe_tui.db.models import ScanState
    from pixelprobe_tui.services.scan_lock import claim_scan, release_claim

    service = ScheduleService(empty_db)
    service.add("lib", "0 3 * * *", paths=[str(tmp_path)])
    claim = claim_scan(empty_db, ["/elsewhere"], deep=False, force=False)  # another process's scan

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            await wait_for(pilot, lambda: len(screen.schedules) == 1, what="rows")
            await pilot.press("r")
            status = screen.query_one("#maint-status", Static)
            await wait_for(pilot, lambda: "not started" in text_of(status.content), what="refusal")
            assert "a scan is already running" in text_of(status.content)
            assert screen._job is None  # free for the next run

    try:
        run(body())
    finally:
        release_claim(claim)
        with empty_db.session() as s:
            s.execute(sa.update(ScanState).where(ScanState.id == claim.scan_id).values(status="completed"))
    info = service.get("lib")
    assert info.last_run is None and info.claimed_by is None


@pytest.mark.parametrize("key", ["3", "4", "5", "6"], ids=["reports", "logs", "settings", "schedules"])
def test_every_footer_key_fits_in_80_columns(demo_db: Database, key: str) -> None:
    """Over SSH at 80x24 every action of these screens is on screen: its footer key lies wholly inside the
    terminal, Help and Quit included, and `?` lists it with its binding id."""
    from textual.binding import Binding
    from textual.widgets._footer import FooterKey

    from pixelprobe_tui.tui.screens.help import HelpScreen

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(key)
            await pilot.pause(0.3)
            screen = app.screen
            wanted = {b.action for _ns, b, _on, _tip in screen.active_bindings.values() if b.show}
            keys = [k for k in screen.query(FooterKey) if not k.has_class("-command-palette")]
            assert {k.action for k in keys} == wanted and {"help", "quit"} <= wanted
            palette = screen.query_one("FooterKey.-command-palette").region
            for k in keys:  # wholly visible: as wide as its text, and left of the palette key docked right
                assert k.region.width >= k.render().cell_len > 0, f"{k.description!r} is cut"
                assert k.region.right <= palette.x, f"{k.description!r} is hidden under the palette key"
            own = [b for b in screen.BINDINGS if isinstance(b, Binding)]
            assert own and all(b.id for b in own)  # every key of the screen can be remapped by its id
            await pilot.press("question_mark")
            help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
            listed = {binding_id for _keys, _what, binding_id in help_screen.rows}
            offered = {b.id for b in own if screen.check_action(b.action, ()) is not False}
            assert offered <= listed, offered - listed  # `?` lists every key the screen offers now

    run(body())


def test_cleanup_reads_nothing_on_the_ui_thread(empty_db: Database, tmp_path: Path) -> None:
    import threading

    _library(tmp_path, empty_db)
    ui_thread, on_ui_thread = threading.get_ident(), []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if threading.get_ident() == ui_thread:
            on_ui_thread.append(statement)

    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_schedules(pilot, app)
            sa.event.listen(empty_db.engine, "before_cursor_execute", record)
            try:
                await pilot.press("c")  # the preview, then the cleanup itself
                await wait_for(pilot, lambda: isinstance(app.screen, CleanupConfirm))
                await pilot.press("y")
                status = screen.query_one("#maint-status", Static)
                await wait_for(pilot, lambda: "2 records deleted" in text_of(status.content), what="deleted")
            finally:
                sa.event.remove(empty_db.engine, "before_cursor_execute", record)

    run(body())
    assert on_ui_thread == []
