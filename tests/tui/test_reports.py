"""The reports screen: history newest first, details of the highlighted run, exports as JSON and CSV; and the
results export of a selection."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services import browse
from pixelprobe_tui.services.browse import ResultsBrowser, ResultsQuery, Selection
from pixelprobe_tui.tui.app import PixelProbeApp
from pixelprobe_tui.tui.screens.reports import ReportsScreen
from pixelprobe_tui.tui.screens.results import export_selection
from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid
from tests.tui.conftest import run, text_of, wait_for


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "exports"
    out.mkdir()
    monkeypatch.chdir(out)
    return out


def test_history_details_and_exports(demo_db: Database, in_tmp: Path) -> None:
    reports = browse.recent_reports(demo_db, 100)

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("3")
            screen = app.screen
            assert isinstance(screen, ReportsScreen)
            await wait_for(pilot, lambda: len(screen.reports) == len(reports), what="history")
            assert [r.id for r in screen.reports] == [r.id for r in reports]
            assert f"#{reports[0].id}" in text_of(screen.query_one("#report-text").content)
            await pilot.press("down", "down")
            details = text_of(screen.query_one("#report-text").content)
            assert f"#{reports[2].id}" in details and reports[2].status in details
            await pilot.press("j")
            await wait_for(pilot, lambda: list(in_tmp.glob("*.json")), what="json export")
            await pilot.press("v")
            await wait_for(pilot, lambda: list(in_tmp.glob("*.csv")), what="csv export")
        (js,) = in_tmp.glob("pixelprobe-reports-*.json")
        data = json.loads(js.read_text())
        assert [d["id"] for d in data] == [r.id for r in reports]
        assert data[0]["directories_scanned"] == ["/srv/media"] and data[0]["start_time"].startswith(
            "2026-11-20"
        )
        (cs,) = in_tmp.glob("pixelprobe-reports-*.csv")
        rows = list(csv.DictReader(cs.open()))
        assert [int(r["id"]) for r in rows] == [r.id for r in reports]
        assert rows[0]["directories_scanned"] == '["/srv/media"]'

    run(body())


def test_empty_history(empty_db: Database, in_tmp: Path) -> None:
    async def body() -> None:
        app = PixelProbeApp(empty_db, poll_interval=0.05)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("3", "j")
            await pilot.pause(0.2)
            assert "No scans yet" in text_of(app.screen.query_one("#report-text").content)
        assert not list(in_tmp.iterdir())

    run(body())


def test_results_export_of_the_filter(demo_db: Database, in_tmp: Path) -> None:
    corrupted = ResultsQuery(statuses=frozenset({"corrupted"}))
    n = ResultsBrowser(demo_db, corrupted).count()

    async def body() -> None:
        app = PixelProbeApp(demo_db, poll_interval=0.05)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("2")
            grid = app.screen.query_one(ResultsGrid)
            app.screen.query_one("#status").value = "corrupted"  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: grid.count == n and grid.cursor_row is not None)
            await pilot.press("a", "E")
            await wait_for(pilot, lambda: list(in_tmp.glob("*.csv")), what="export")
        (cs,) = in_tmp.glob("pixelprobe-results-*.csv")
        rows = list(csv.DictReader(cs.open()))
        assert len(rows) == n and {r["scan_status"] for r in rows} == {"corrupted"}
        assert all(json.loads(r["findings"])[0]["severity"] == "corrupt" for r in rows)

    run(body())


def test_export_selection_by_ids_and_all_but_some(
    demo_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = frozenset(ResultsBrowser(demo_db).ids(limit=7))
    path = str(tmp_path / "out.json")
    assert export_selection(demo_db, Selection(ids=ids), path, "json") == (path, 7)
    assert sorted(d["id"] for d in json.loads(Path(path).read_text())) == sorted(ids)

    corrupted = ResultsQuery(statuses=frozenset({"corrupted"}))
    every = ResultsBrowser(demo_db, corrupted).ids()
    path = str(tmp_path / "but.csv")
    assert (
        export_selection(demo_db, Selection(query=corrupted, excluded=frozenset(every[:2])), path, "csv")[1]
        == len(every) - 2
    )
    with open(path, newline="") as f:
        assert {int(r["id"]) for r in csv.DictReader(f)} == set(every[2:])

    monkeypatch.setattr("pixelprobe_tui.tui.screens.results.EXPORT_MAX_IDS", 3)
    with pytest.raises(ConfigError, match="at most 3"):
        export_selection(demo_db, Selection(ids=ids), str(tmp_path / "big.json"), "json")
    assert not (tmp_path / "big.json").exists()


def test_report_details_read_well_and_print_odd_names_safely() -> None:
    import os

    from pixelprobe_tui.core.discovery import path_to_db
    from pixelprobe_tui.tui.screens.reports import report_details

    odd = os.fsdecode(b"/mnt/caf\xe9\x1b[31m")  # not UTF-8, and an escape sequence in the name
    row = browse.ReportRow(
        id=7, scan_id=None, scan_type="cleanup", status="completed", start_time=None, end_time=None,
        duration_s=2.0, total_files=40, healthy=25, warning=0, corrupted=0, errors=0,
        directories=[path_to_db(odd)], error_message=None,
        details={"missing": 15, "missing_paths": [f"/lib/gone{i:02d}.jpg" for i in range(15)], "roots": [],
                 "unverifiable_examples": [{"path": "/lib/x.jpg", "reason": "permission denied"}]},
    )  # fmt: skip
    shown = text_of(report_details(row))
    assert "/mnt/caf\\xe9\\x1b[31m" in shown and "\x1b" not in shown  # escaped, never sent raw
    assert "/lib/gone00.jpg" in shown and "/lib/gone09.jpg" in shown and "/lib/gone10.jpg" not in shown
    assert "… and 5 more" in shown
    assert "path: /lib/x.jpg, reason: permission denied" in shown
    assert "roots" not in shown  # empty details are left out


def test_report_detail_labels_are_whole_at_80_columns() -> None:
    from pixelprobe_tui.tui.screens.reports import report_details

    row = browse.ReportRow(
        id=3, scan_id=None, scan_type="full_scan", status="completed", start_time=None, end_time=None,
        duration_s=8.0, total_files=850, healthy=662, warning=0, corrupted=188, errors=0,
        directories=["/srv/media"], error_message=None,
        details={"skipped_unchanged": 12, "files_found": 850, "unavailable_roots": ["/mnt/nas"]},
    )  # fmt: skip
    shown = text_of(report_details(row), width=76)  # the panel's width in an 80-column terminal
    for label in ("skipped unchanged", "files found", "unavailable roots"):
        assert label in shown
    assert "…" not in shown
