"""Streamed exports on SQLite and PostgreSQL: 100,000 rows in CSV and JSON, parsed back, in flat memory."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import os
import tracemalloc
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.db.models import ScanReport, ScanResult
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.browse import ResultsQuery
from pixelprobe_tui.services.exports import (
    REPORT_COLUMNS,
    RESULT_COLUMNS,
    atomic_output,
    export_reports,
    export_results,
    format_for,
    spreadsheet_text,
)

N = 100_000
WHEN = dt.datetime(2026, 11, 25, 17, 0, 0, 123456, tzinfo=dt.UTC)
ODD_NAME = os.fsdecode(b"/media/caf\xe9 \xff.jpg")  # not UTF-8 on disk


def fill(db, n: int = N) -> None:
    rows = [
        {
            "file_path": f"/media/library/folder {i // 1000:03d}/file {i:06d}.mkv",
            "scan_status": "corrupted" if i % 10 == 0 else "healthy",
            "is_corrupted": i % 10 == 0,
            "corruption_details": 'decode error at 12.5 s, "quoted", comma' if i % 10 == 0 else None,
            "file_size": 1_000_000 + i,
            "scan_date": WHEN,
            "media_family": "video",
            "file_exists": True,
        }
        for i in range(n)
    ]
    with db.engine.begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(sa.insert(ScanResult.__table__), rows[start : start + 10_000])


def export_to_file(db, path: Path, fmt: str, query: ResultsQuery | None = None) -> tuple[int, int]:
    """(rows, peak traced bytes) of one export to *path*."""
    tracemalloc.start()
    try:
        with open(path, "wb") as fh:
            count = export_results(db, fh, fmt, query)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


@pytest.mark.timeout(600)
def test_100k_rows_csv_and_json_in_flat_memory(db, tmp_path: Path):
    fill(db)
    csv_path, json_path, small_path = tmp_path / "all.csv", tmp_path / "all.json", tmp_path / "some.csv"

    count, peak_csv = export_to_file(db, csv_path, "csv")
    assert count == N
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == RESULT_COLUMNS
        rows = list(reader)
    assert len(rows) == N
    assert rows[0]["file_path"] == "/media/library/folder 000/file 000000.mkv"
    assert rows[0]["corruption_details"] == 'decode error at 12.5 s, "quoted", comma'
    assert (rows[0]["is_corrupted"], rows[1]["is_corrupted"], rows[1]["corruption_details"]) == (
        "true",
        "false",
        "",
    )
    assert rows[5]["scan_date"] == "2026-11-25T17:00:00.123456+00:00"
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    del rows

    count, peak_json = export_to_file(db, json_path, "json")
    assert count == N
    records = json.loads(json_path.read_text(encoding="utf-8"))
    assert len(records) == N
    assert tuple(records[0]) == RESULT_COLUMNS
    assert records[0]["is_corrupted"] is True and records[1]["corruption_details"] is None
    assert records[-1]["file_size"] == 1_000_000 + N - 1
    assert dt.datetime.fromisoformat(records[7]["scan_date"]) == WHEN
    del records

    # A tenth of the rows (the corrupted ones) needs about the same memory as all of them: memory does not
    # grow with the row count. And it stays far below the size of the data.
    count, peak_small = export_to_file(db, small_path, "csv", ResultsQuery(statuses=frozenset({"corrupted"})))
    assert count == N // 10
    size = csv_path.stat().st_size
    print(f"\nexport peaks: csv {peak_csv / 1e6:.2f} MB, json {peak_json / 1e6:.2f} MB, "
          f"10% subset {peak_small / 1e6:.2f} MB; data {size / 1e6:.1f} MB")  # fmt: skip
    assert peak_csv < size / 5 and peak_json < size / 5
    assert peak_csv < 3 * peak_small + 2_000_000


def test_filters_order_and_odd_names(db, tmp_path: Path):
    fill(db, 30)
    with db.session() as s:
        s.add(ScanResult(file_path=path_to_db(ODD_NAME), scan_status="warning", file_exists=False))
    out = io.BytesIO()
    query = ResultsQuery(statuses=frozenset({"corrupted", "warning"}), sort="path", descending=True)
    assert export_results(db, out, "json", query) == 4
    records = json.loads(out.getvalue().decode("utf-8"))  # valid UTF-8 even with the odd name
    # The CLI's one rule: readable text with U+FFFD, and the raw bytes in base64 beside it.
    assert records[-1]["file_path"] == "/media/caf\ufffd \ufffd.jpg"
    assert base64.b64decode(records[-1]["file_path_b64"]) == os.fsencode(ODD_NAME)
    assert all("file_path_b64" not in r for r in records[:-1])
    assert [r["file_path"] for r in records[:-1]] == [
        f"/media/library/folder 000/file {i:06d}.mkv" for i in (20, 10, 0)
    ]
    out = io.BytesIO()
    assert export_results(db, out, "csv", file_exists=False) == 1
    assert os.fsencode(ODD_NAME) in out.getvalue()  # the CSV carries the name's original bytes
    out = io.BytesIO()
    assert export_results(db, out, "json", ResultsQuery(statuses=frozenset({"unsupported"}))) == 0
    assert json.loads(out.getvalue()) == []


def test_reports_export(db):
    with db.session() as s:
        s.add(ScanReport(scan_type="full_scan", status="completed", total_files=10, start_time=WHEN))
        s.add(ScanReport(scan_type="cleanup", status="completed", details={"deleted": 3, "roots": ["/x"]}))
        s.add(ScanReport(scan_type="full_scan", status="error", error_message="disk gone"))
    out = io.BytesIO()
    assert export_reports(db, out, "json") == 3
    records = json.loads(out.getvalue())
    assert tuple(records[0]) == REPORT_COLUMNS
    assert records[1]["details"] == {"deleted": 3, "roots": ["/x"]}
    assert records[0]["start_time"] == WHEN.isoformat()
    out = io.BytesIO()
    assert export_reports(db, out, "csv", statuses={"completed"}, scan_types={"cleanup"}) == 1
    row = next(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert json.loads(row["details"]) == {"deleted": 3, "roots": ["/x"]}


def test_atomic_output_and_format_choice(db, tmp_path: Path):
    outdir = tmp_path / "exports"
    outdir.mkdir()
    target = outdir / "out.csv"
    with pytest.raises(ConfigError), atomic_output(target) as fh:
        export_results(db, fh, "xml")  # type: ignore[arg-type]
    assert list(outdir.iterdir()) == []  # neither the file nor a temporary left behind
    with atomic_output(target) as fh:
        export_results(db, fh, "csv")
    assert target.read_text() == ",".join(RESULT_COLUMNS) + "\n"
    assert format_for("x.JSON", None) == "json" and format_for(None, None) == "csv"
    assert format_for("x.json", "csv") == "csv"
    with pytest.raises(ConfigError):
        format_for(None, "yaml")


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\uff1d1+1"]


def test_csv_cells_never_run_as_formulas_and_the_escape_reverses(db):
    texts = [*FORMULAS, "'already quoted", "plain", "a=b", "-"]
    with db.session() as s:
        for i, t in enumerate(texts):
            s.add(ScanResult(file_path=f"/lib/{i:02d}.mkv", scan_status="corrupted", corruption_details=t,
                             file_size=-5 if i == 0 else 7))  # fmt: skip
        s.add(ScanReport(scan_type="cleanup", status="error", error_message="=1+1 disk gone"))
    out = io.BytesIO()
    assert export_results(db, out, "csv") == len(texts)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode(), newline="")))
    cells = [r["corruption_details"] for r in rows]
    for cell in cells:  # nothing a spreadsheet would evaluate
        assert cell[:1] not in "=+-@\t\r\uff1d", cell
    assert cells[: len(FORMULAS)] == ["'" + t for t in FORMULAS]
    assert cells[len(FORMULAS) :] == ["''already quoted", "plain", "a=b", "'-"]
    assert [c[1:] if c.startswith("'") else c for c in cells] == texts  # one apostrophe off: the text
    assert rows[0]["file_size"] == "-5"  # numbers stay numbers
    assert rows[0]["file_path"] == "/lib/00.mkv"

    out = io.BytesIO()
    export_reports(db, out, "csv")
    assert next(csv.DictReader(io.StringIO(out.getvalue().decode())))["error_message"] == "'=1+1 disk gone"
    out = io.BytesIO()
    export_results(db, out, "csv", spreadsheet_safe=False)  # for scripts that want the cells as stored
    assert [
        r["corruption_details"] for r in csv.DictReader(io.StringIO(out.getvalue().decode(), newline=""))
    ] == texts
    out = io.BytesIO()
    export_results(db, out, "json")  # JSON is not for spreadsheets: text as stored
    assert [r["corruption_details"] for r in json.loads(out.getvalue())] == texts
    assert spreadsheet_text("=x") == "'=x" and spreadsheet_text("/a/=b") == "/a/=b"

    with db.session() as s:  # a name with line breaks (legal on Linux) stays one record
        s.add(ScanResult(file_path="/lib/line\rbreak\n=x.mkv", scan_status="healthy", file_exists=False))
    out = io.BytesIO()
    assert export_results(db, out, "csv", file_exists=False) == 1
    (row,) = csv.DictReader(io.StringIO(out.getvalue().decode(), newline=""))
    assert row["file_path"] == "/lib/line\rbreak\n=x.mkv" and row["scan_status"] == "healthy"


def test_report_paths_round_trip_in_json_and_csv(db):
    odd_root = os.fsdecode(b"/mnt/d\xe9j\xe0")
    with db.session() as s:
        s.add(ScanReport(scan_type="full_scan", status="completed",
                         directories_scanned=[path_to_db(odd_root), "/srv/media"]))  # fmt: skip
    out = io.BytesIO()
    export_reports(db, out, "json")
    (record,) = json.loads(out.getvalue().decode("utf-8"))
    assert record["directories_scanned"] == ["/mnt/d\ufffdj\ufffd", "/srv/media"]
    raw = record["directories_scanned_b64"]
    assert base64.b64decode(raw[0]) == os.fsencode(odd_root) and raw[1] is None
    out = io.BytesIO()
    export_reports(db, out, "csv")
    assert os.fsencode(odd_root) in out.getvalue()  # CSV: the original bytes, as for file paths
