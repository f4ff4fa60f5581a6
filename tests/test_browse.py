"""The TUI's read models on SQLite and PostgreSQL: keyset pages agree with a plain sort, jumps land where they
should, selections mark files good, and the dashboard counts add up."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import socket
import uuid

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanReport, ScanResult, ScanState
from pixelprobe_tui.services import browse
from pixelprobe_tui.services.browse import ResultsBrowser, ResultsQuery, Selection

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
STATUSES = ["healthy", "healthy", "healthy", "warning", "corrupted", "unreadable", "pending"]


def populate(db: Database, n: int = 240, seed: int = 7) -> list[dict]:
    """Rows with repeated sort values (ties broken by id) and NULL dates and sizes."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        status = rng.choice(STATUSES)
        rows.append(
            {
                "file_path": f"/media/{rng.choice(['Movies', 'music', 'Photos'])}/f{rng.randrange(10_000):05d}_{i}.x",
                "scan_status": status,
                "media_family": rng.choice(["video", "audio", "image", None]),
                "file_size": None
                if status == "pending" or i % 17 == 0
                else rng.choice([10, 2000, 2000, 5_000_000]),
                "scan_date": None if status == "pending" else T0 + dt.timedelta(hours=rng.randrange(5)),
                "marked_as_good": i % 11 == 0,
                "is_corrupted": status == "corrupted",
                "has_warning": status == "warning",
                "file_hash": f"h{i}",
                "file_exists": i % 13 != 0,
            }
        )
    with db.session() as s:
        s.execute(sa.insert(ScanResult), rows)
    with db.engine.connect() as conn:
        stored = conn.execute(sa.select(ScanResult.__table__)).mappings().all()
    return [dict(r) for r in stored]


COLUMN = {"path": "file_path", "status": "scan_status", "date": "scan_date", "size": "file_size"}


def reference(rows: list[dict], q: ResultsQuery) -> list[int]:
    """The display order, computed in Python: by (value, id), NULL values last in both directions."""

    def keep(r: dict) -> bool:
        return (
            (not q.statuses or r["scan_status"] in q.statuses)
            and (not q.families or r["media_family"] in q.families)
            and (not q.path_text or q.path_text.lower() in r["file_path"].lower())
            and (q.marked_good is None or r["marked_as_good"] == q.marked_good)
        )

    col = COLUMN[q.sort]
    kept = [r for r in rows if keep(r)]
    present = sorted(
        (r for r in kept if r[col] is not None), key=lambda r: (r[col], r["id"]), reverse=q.descending
    )
    missing = sorted((r for r in kept if r[col] is None), key=lambda r: r["id"], reverse=q.descending)
    return [r["id"] for r in present + missing]


QUERIES = [
    ResultsQuery(sort=sort, descending=desc)
    for sort in ("path", "status", "date", "size")
    for desc in (False, True)
] + [
    ResultsQuery(statuses=frozenset({"corrupted", "warning"}), sort="date"),
    ResultsQuery(families=frozenset({"video"}), sort="size", descending=True),
    ResultsQuery(path_text="movies", sort="path"),
    ResultsQuery(path_text="50_", marked_good=False, sort="status", descending=True),
    ResultsQuery(statuses=frozenset({"nothing-has-this"})),
]


@pytest.mark.parametrize(
    "query", QUERIES, ids=lambda q: f"{q.sort}-{'desc' if q.descending else 'asc'}-{q.describe()}"
)
def test_pages_follow_the_reference_order(db: Database, query: ResultsQuery) -> None:
    rows = populate(db)
    expected = reference(rows, query)
    browser = ResultsBrowser(db, query)
    assert browser.count() == len(expected)

    forward: list[int] = []
    key = None
    while True:
        page = browser.page_after(key, 23)
        if not page:
            break
        forward += [r.id for r in page]
        key = page[-1].key
    assert forward == expected

    backward: list[int] = []
    key = None
    while True:
        page = browser.page_before(key, 19)
        if not page:
            break
        backward = [r.id for r in page] + backward
        key = page[0].key
    assert backward == expected

    n = len(expected)
    for offset in sorted({0, 1, n // 3, max(0, n - 5), max(0, n - 1), n, n + 9}):
        got = [r.id for r in browser.page_at(offset, 7)]
        assert got == expected[offset : offset + 7], offset
        key = browser.key_at(offset)
        assert (key[1] if key else None) == (expected[offset] if offset < len(expected) else None)


def test_rows_carry_display_paths_and_fields(db: Database) -> None:
    with db.session() as s:
        s.add(
            ScanResult(
                file_path="/m/evil\x1b[31mname.mp4",
                scan_status="corrupted",
                media_family="video",
                file_size=5,
            )
        )
        s.add(ScanResult(file_path="/m/rotten.mp4", scan_status="healthy", bitrot_suspected=True))
    row, rotten = ResultsBrowser(db).page_after(None, 5)
    assert row.path == "/m/evil\\x1b[31mname.mp4"
    assert (row.status, row.family, row.size, row.marked_good) == ("corrupted", "video", 5, False)
    assert (row.bitrot, rotten.bitrot) == (False, True)
    assert [r.id for r in ResultsBrowser(db, ResultsQuery(bitrot=True)).page_after(None, 5)] == [rotten.id]


def test_path_filter_treats_wildcards_literally(db: Database) -> None:
    with db.session() as s:
        s.add_all([ScanResult(file_path="/a/100%_done.mkv"), ScanResult(file_path="/a/100x-done.mkv")])
    found = ResultsBrowser(db, ResultsQuery(path_text="100%_")).page_after(None, 10)
    assert [r.path for r in found] == ["/a/100%_done.mkv"]


@pytest.mark.parametrize(
    "query", [q for q in QUERIES if q.sort in ("date", "size")], ids=lambda q: q.describe()
)
def test_a_first_jump_lands_in_either_segment(db: Database, query: ResultsQuery) -> None:
    # A fresh browser per jump: the NULL-valued rows (last) must be found without a count made beforehand.
    expected = reference(populate(db), query)
    for offset in (0, 5, len(expected) - 20, len(expected) - 1, len(expected)):
        key = ResultsBrowser(db, query).key_at(offset)
        assert (key[1] if key else None) == (expected[offset] if offset < len(expected) else None), offset
        got = [r.id for r in ResultsBrowser(db, query).page_at(offset, 4)]
        assert got == expected[offset : offset + 4], offset


def test_path_search_is_case_insensitive_on_both_databases(db: Database) -> None:
    with db.session() as s:
        s.add_all(
            [ScanResult(file_path="/Media/Holiday2026/A.MKV"), ScanResult(file_path="/media/work/b.mkv")]
        )
    found = ResultsBrowser(db, ResultsQuery(path_text="holiday2026/a.mkv")).page_after(None, 10)
    assert [r.path for r in found] == ["/Media/Holiday2026/A.MKV"]
    assert ResultsBrowser(db, ResultsQuery(path_text="MEDIA")).count() == 2


def test_path_search_uses_the_trigram_index_on_postgresql(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the trigram index is PostgreSQL's")
    with db.engine.connect() as conn:
        if conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first() is None:
            pytest.skip("this server has no pg_trgm: the search stays a scan")
    populate(db)
    browser = ResultsBrowser(db, ResultsQuery(path_text="f0042"))
    stmt = browser._non_null_segment().order_by(*browser._order(forward=True)).limit(10)
    sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.begin() as conn:
        # The table is tiny, so the planner would rather scan it: forbid that to see the index can serve.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
    assert "ix_scan_result_paths_file_path_trgm" in plan, plan


def test_unknown_sort_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sort key"):
        ResultsQuery(sort="colour")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query", QUERIES, ids=lambda q: f"{q.sort}-{'desc' if q.descending else 'asc'}-{q.describe()}"
)
def test_a_range_is_every_row_between_its_ends_in_the_listing(db: Database, query: ResultsQuery) -> None:
    expected = reference(populate(db), query)
    n = len(expected)
    if n == 0:
        assert browse.count_selected(db, Selection(query=query)) == 0
        return
    browser = ResultsBrowser(db, query)
    # Whole list, a middle stretch, one row, and stretches that end in (or lie inside) the NULL segment.
    for first, last in sorted(
        {(0, n - 1), (n // 3, 2 * n // 3), (n // 2, n // 2), (5 % n, n - 1), (n - 3, n - 1)}
    ):
        first = max(0, first)
        keys = (browser.key_at(first), browser.key_at(last))
        assert None not in keys
        selection = Selection(ranges=(keys,), within=query)  # type: ignore[arg-type]
        want = expected[first : last + 1]
        assert browse.selected_ids(db, selection, limit=n) == sorted(want), (first, last)
        assert browse.count_selected(db, selection) == len(want)


def test_ranges_ids_and_exclusions_combine(db: Database) -> None:
    rows = populate(db, n=200)
    query = ResultsQuery(sort="date", descending=True)
    expected = reference(rows, query)
    browser = ResultsBrowser(db, query)
    ranges = ((browser.key_at(10), browser.key_at(40)), (browser.key_at(30), browser.key_at(60)))
    picked = {expected[0], expected[20], expected[150]}  # one inside a range, two outside
    excluded = {expected[11], expected[59], expected[150]}  # an exclusion never removes a picked row
    selection = Selection(
        ids=frozenset(picked),
        ranges=ranges,
        within=query,
        excluded=frozenset(excluded),  # type: ignore[arg-type]
    )
    want = (set(expected[10:61]) - excluded) | picked
    assert browse.selected_ids(db, selection, limit=1000) == sorted(want)
    assert browse.count_selected(db, selection) == len(want)
    with pytest.raises(ValueError, match="more than 10"):
        browse.selected_ids(db, selection, limit=10)
    by_id = {r["id"]: r for r in rows}
    assert browse.selected_paths(db, selection) == sorted(by_id[i]["file_path"] for i in want)
    already = sum(1 for i in want if by_id[i]["marked_as_good"])
    assert browse.set_marked_good(db, selection, True, "erin") == len(want) - already
    assert {r.id for r in ResultsBrowser(db, ResultsQuery(marked_good=True)).page_after(None, 1000)} >= want


def test_ranges_need_their_query() -> None:
    with pytest.raises(ValueError, match="within"):
        Selection(ranges=(((None, 1), (None, 2)),))


def test_mark_good_by_ids_and_by_filter(db: Database) -> None:
    rows = populate(db, n=120)
    unmarked = [r["id"] for r in rows if not r["marked_as_good"]][:30]
    when = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    assert browse.set_marked_good(db, Selection(ids=frozenset(unmarked)), True, "alice", now=when) == 30
    # Doing it again changes nothing: the rows are already marked.
    assert browse.set_marked_good(db, Selection(ids=frozenset(unmarked)), True, "alice", now=when) == 0
    with db.engine.connect() as conn:
        got = conn.execute(
            sa.select(
                ScanResult.marked_as_good,
                ScanResult.marked_as_good_by,
                ScanResult.marked_as_good_at,
                ScanResult.marked_as_good_hash,
                ScanResult.file_hash,
                ScanResult.scan_status,
            ).where(ScanResult.id.in_(unmarked))
        ).all()
    assert all(r[0] and r[1] == "alice" and r[2] == when and r[3] == r[4] for r in got)

    corrupted = ResultsQuery(statuses=frozenset({"corrupted"}))
    excluded = ResultsBrowser(db, corrupted).ids(limit=1)
    n_corrupted = ResultsBrowser(db, corrupted).count()
    already = ResultsBrowser(db, corrupted.with_changes(marked_good=True)).count()
    changed = browse.set_marked_good(
        db, Selection(query=corrupted, excluded=frozenset(excluded)), True, "bob"
    )
    assert changed == n_corrupted - already - (0 if _marked(db, excluded[0]) else 1)

    marked_now = ResultsBrowser(db, ResultsQuery(marked_good=True)).count()
    assert browse.set_marked_good(db, Selection(query=ResultsQuery()), False, None) == marked_now
    assert ResultsBrowser(db, ResultsQuery(marked_good=True)).count() == 0
    with db.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).where(ScanResult.marked_as_good_by.is_not(None))).scalar()
            == 0
        )


def _marked(db: Database, result_id: int) -> bool:
    with db.engine.connect() as conn:
        return bool(
            conn.execute(sa.select(ScanResult.marked_as_good).where(ScanResult.id == result_id)).scalar()
        )


def test_mark_good_never_touches_the_verdict(db: Database) -> None:
    rows = populate(db, n=60)
    browse.set_marked_good(db, Selection(query=ResultsQuery()), True, "carol")
    with db.engine.connect() as conn:
        after = dict(conn.execute(sa.select(ScanResult.id, ScanResult.scan_status)).all())
    assert after == {r["id"]: r["scan_status"] for r in rows}


def test_empty_selection_changes_nothing(db: Database) -> None:
    populate(db, n=20)
    assert browse.set_marked_good(db, Selection(), True, "dave") == 0
    assert browse.selected_paths(db, Selection()) == []


def test_selected_paths_decode_stored_paths(db: Database) -> None:
    rows = populate(db, n=40)
    ids = frozenset(r["id"] for r in rows[:5])
    assert browse.selected_paths(db, Selection(ids=ids)) == sorted(r["file_path"] for r in rows[:5])
    by_query = browse.selected_paths(db, Selection(query=ResultsQuery(path_text="music")))
    assert by_query == sorted(r["file_path"] for r in rows if "music" in r["file_path"])


def test_totals_add_up(db: Database) -> None:
    rows = populate(db)
    t = browse.totals(db)
    assert t.total == len(rows)
    for status in set(STATUSES):
        assert t.status(status) == sum(r["scan_status"] == status for r in rows)
    assert t.marked_good == sum(r["marked_as_good"] for r in rows)
    assert t.missing == sum(not r["file_exists"] for r in rows)
    assert sum(n for fam in t.by_family.values() for n in fam.values()) == len(rows)
    assert t.by_family["other"]["healthy"] == sum(
        r["media_family"] is None and r["scan_status"] == "healthy" for r in rows
    )


def test_totals_of_an_empty_database(db: Database) -> None:
    t = browse.totals(db)
    assert (t.total, t.marked_good, t.missing, t.by_status, t.by_family) == (0, 0, 0, {}, {})


def test_result_detail_parses_findings_and_media_info(db: Database) -> None:
    findings = [
        {
            "severity": "corrupt",
            "code": "decode_error",
            "tool": "pyav",
            "message": "bad block",
            "at_seconds": 12.5,
        },
        {"nonsense": True},
        {"severity": "warning", "code": "meta", "tool": "pillow", "message": "odd EXIF"},
    ]
    with db.session() as s:
        row = ScanResult(
            file_path="/m/a.mp4",
            scan_status="corrupted",
            findings=json.dumps(findings),
            media_info=json.dumps({"duration": 3.0, "streams": [{"codec": "h264"}]}),
        )
        s.add(row)
        s.flush()
        rid = row.id
    d = browse.result_detail(db, rid)
    assert d is not None
    assert [(f.tool, f.at_seconds) for f in d.findings] == [("pyav", 12.5), ("pillow", None)]
    assert d.media_info["streams"][0]["codec"] == "h264"
    assert d.fields["scan_status"] == "corrupted" and d.raw_path == "/m/a.mp4"
    assert browse.result_detail(db, rid + 1000) is None


def test_result_detail_keeps_non_json_media_info_as_text(db: Database) -> None:
    with db.session() as s:
        row = ScanResult(file_path="/m/b.jpg", media_info="1920x1080 JPEG", findings="not json")
        s.add(row)
        s.flush()
        rid = row.id
    d = browse.result_detail(db, rid)
    assert d is not None and d.media_info == "1920x1080 JPEG" and d.findings == ()


def test_live_scan_reads_the_running_scan_state(db: Database) -> None:
    assert browse.live_scan(db) is None
    running = uuid.uuid4()
    me = f"{socket.gethostname()}:{os.getpid()}"
    with db.session() as s:
        s.add(ScanState(id=uuid.uuid4(), status="completed", start_time=T0, owner=me))
        # Left "running" by a process that is gone, and newer: not live.
        s.add(
            ScanState(
                id=uuid.uuid4(), status="running", start_time=T0 + dt.timedelta(hours=1), owner="nohost:1"
            )
        )
        s.add(
            ScanState(
                id=running,
                status="running",
                phase="checking",
                phase_number=2,
                total_phases=3,
                files_processed=5,
                total_files=20,
                bytes_processed=250,
                bytes_total=1000,
                start_time=T0 + dt.timedelta(minutes=1),
                current_files=json.dumps(["/m/a.mkv", "/m/b\nc.mkv", path_to_db("/m/caf\udce9.mkv")]),
                directories=json.dumps(["/m"]),
                owner=me,
            )
        )
    live = browse.live_scan(db)
    assert live is not None and live.id == str(running)
    assert (live.phase, live.files_processed, live.total_files, live.fraction) == ("checking", 5, 20, 0.25)
    assert live.current_files == ("/m/a.mkv", "/m/b\\nc.mkv", "/m/caf\\xe9.mkv") and live.directories == (
        "/m",
    )


def test_recent_reports_newest_first(db: Database) -> None:
    with db.session() as s:
        for i in range(5):
            s.add(
                ScanReport(
                    scan_type="full_scan",
                    status="completed",
                    total_files=i,
                    healthy_files=i,
                    created_at=T0 + dt.timedelta(days=i),
                    directories_scanned=["/m"],
                )
            )
    got = browse.recent_reports(db, limit=3)
    assert [r.total_files for r in got] == [4, 3, 2]
    assert got[0].directories == ["/m"]


@pytest.mark.parametrize(
    ("n", "text"), [(None, ""), (0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (2_500_000_000, "2.5 GB")]
)
def test_format_size(n: int | None, text: str) -> None:
    assert browse.format_size(n) == text


def test_a_long_path_shows_searches_and_selects_as_its_whole_path(db: Database) -> None:
    long_path = "/m/" + "deep/" * 700 + "needle/" + "x" * 20 + ".mkv"
    key, whole = path_to_db(long_path), path_to_db(long_path, full=True)
    assert key != whole
    with db.session() as s:
        s.add(ScanResult(file_path=key, file_path_full=whole))
        s.add(ScanResult(file_path="/m/short.mkv"))
    (row,) = ResultsBrowser(db, ResultsQuery(path_text="NEEDLE")).page_after(None, 5)
    assert row.path == long_path
    assert browse.selected_paths(db, Selection(ids=frozenset({row.id}))) == [long_path]
    detail = browse.result_detail(db, row.id)
    assert detail is not None and detail.raw_path == long_path


def test_sqlite_reads_whole_paths_only_for_long_paths(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL searches scan_result_paths")
    populate(db, n=50)
    browser = ResultsBrowser(db, ResultsQuery(path_text="f0042"))
    stmt = browser._non_null_segment().order_by(*browser._order(forward=True)).limit(10)
    sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    # The walk of the path index reads no row; file_path_full comes from the rows the partial index lists.
    assert "USING INDEX idx_scan_results_file_path" in plan and "ix_scan_results_long_paths" in plan, plan
