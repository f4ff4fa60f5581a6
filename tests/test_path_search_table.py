"""PostgreSQL's path search table (revision 0004): triggers keep ``scan_result_paths`` equal to the paths in
``scan_results`` through every way rows are written, marks and rescans never touch it, the migration fills it
and takes it away again."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.migrate import downgrade, upgrade
from pixelprobe_tui.db.models import SCAN_RESULT_PATHS, ScanResult
from pixelprobe_tui.services import browse, scan_writer
from pixelprobe_tui.services.browse import ResultsBrowser, ResultsQuery, Selection

T0 = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def _postgres_only(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("scan_result_paths is PostgreSQL's (SQLite searches scan_results itself)")


def both(db: Database) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(id, path) of scan_results and of scan_result_paths, by id."""
    r, p = ScanResult.__table__.c, SCAN_RESULT_PATHS.c
    with db.engine.connect() as conn:
        results = [tuple(x) for x in conn.execute(sa.select(r.id, r.file_path).order_by(r.id))]
        paths = [tuple(x) for x in conn.execute(sa.select(p.id, p.file_path).order_by(p.id))]
    return results, paths


def side_versions(db: Database) -> dict[int, str]:
    """id -> xmin (the transaction that wrote the row version) of every scan_result_paths row."""
    with db.engine.connect() as conn:
        return {
            int(i): str(x) for i, x in conn.exec_driver_sql("SELECT id, xmin::text FROM scan_result_paths")
        }


def writer_row(path: str, file_hash: str, size: int = 100) -> dict:
    return {
        "file_path": path,
        "file_hash": file_hash,
        "scan_status": "healthy",
        "file_size": size,
        "file_mtime_ns": 1,
        "scan_date": T0,
        "discovered_at": T0,
    }


def test_every_kind_of_write_keeps_the_side_table_equal(db: Database) -> None:
    _postgres_only(db)
    t = ScanResult.__table__
    with db.engine.begin() as conn:
        conn.execute(sa.insert(t), [{"file_path": f"/m/a{i}.mkv"} for i in range(5)])  # one statement
        conn.execute(sa.insert(t).values(file_path="/m/single.mkv"))
        scan_writer.insert_pending(conn, db.dialect, [{"file_path": "/m/pending.mkv", "discovered_at": T0}])
        scan_writer.insert_pending(
            conn, db.dialect, [{"file_path": "/m/a1.mkv", "discovered_at": T0}]
        )  # known
        # The scan writer: one new path and one known path in the same batch.
        scan_writer.upsert_results(
            conn, db.dialect, [writer_row("/m/new.mkv", "h1"), writer_row("/m/a2.mkv", "h2")]
        )
    results, paths = both(db)
    assert len(results) == 8 and paths == results

    with db.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.file_path == "/m/a3.mkv").values(file_path="/m/Renamed.mkv"))
        conn.execute(sa.update(t).where(t.c.file_path == "/m/a4.mkv").values(file_path="/m/a4.mkv"))  # same
        conn.execute(sa.delete(t).where(t.c.file_path.in_(["/m/a0.mkv", "/m/single.mkv"])))
    results, paths = both(db)
    assert len(results) == 6 and paths == results
    assert ResultsBrowser(db, ResultsQuery(path_text="renamed")).count() == 1
    assert ResultsBrowser(db, ResultsQuery(path_text="a0.mkv")).count() == 0

    with db.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE scan_results CASCADE")
    assert both(db) == ([], [])


def test_marks_and_rescans_leave_the_side_table_alone(db: Database) -> None:
    _postgres_only(db)
    with db.engine.begin() as conn:
        scan_writer.upsert_results(conn, db.dialect, [writer_row(f"/m/f{i}.mkv", f"h{i}") for i in range(20)])
    before = side_versions(db)
    assert len(before) == 20
    assert browse.set_marked_good(db, Selection(query=ResultsQuery()), True, "alice") == 20
    assert browse.set_marked_good(db, Selection(query=ResultsQuery(path_text="f1")), False, None) == 11
    with db.engine.begin() as conn:  # a rescan: new verdicts, new hashes, same paths
        scan_writer.upsert_results(conn, db.dialect, [writer_row(f"/m/f{i}.mkv", f"n{i}") for i in range(20)])
    assert side_versions(db) == before


def test_search_on_the_side_table_matches_the_plain_search(db: Database) -> None:
    _postgres_only(db)
    t = ScanResult.__table__
    names = ["/Media/Holiday/A_1.MKV", "/media/holiday/b%1.mkv", "/media/work/c.mkv", "/x/HOLIDAY.jpg"]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(t), [{"file_path": n} for n in names])
    for text in ("holiday", "A_1", "%1", "_", "work/c", "nothing"):
        side = {r.id for r in ResultsBrowser(db, ResultsQuery(path_text=text)).page_after(None, 10)}
        with db.engine.connect() as conn:
            # The portable condition (any other dialect name) reads scan_results.file_path itself.
            plain = set(
                conn.execute(sa.select(t.c.id).where(*ResultsQuery(path_text=text).conditions())).scalars()
            )
        assert side == plain, text


def test_downgrade_and_upgrade_move_the_index_and_refill_the_table(db: Database) -> None:
    _postgres_only(db)
    t = ScanResult.__table__
    with db.engine.begin() as conn:
        conn.execute(sa.insert(t), [{"file_path": f"/m/d{i}.mkv"} for i in range(7)])
        has_trgm = conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first()

    def objects() -> tuple[set[str], set[str]]:
        inspector = sa.inspect(db.engine)
        return set(inspector.get_table_names()), {ix["name"] for ix in inspector.get_indexes("scan_results")}

    downgrade(db, "0003")  # through 0005 and 0004
    tables, indexes = objects()
    assert "scan_result_paths" not in tables
    assert ("ix_scan_results_file_path_trgm" in indexes) == bool(has_trgm)
    with db.engine.begin() as conn:  # no trigger is left behind to write into a missing table
        conn.execute(sa.insert(t).values(file_path="/m/after-downgrade.mkv"))
        conn.execute(sa.delete(t).where(t.c.file_path == "/m/d0.mkv"))

    upgrade(db)
    tables, indexes = objects()
    assert "scan_result_paths" in tables and "ix_scan_results_file_path_trgm" not in indexes
    results, paths = both(db)
    assert len(results) == 7 and paths == results
    assert ResultsBrowser(db, ResultsQuery(path_text="after-downgrade")).count() == 1


def test_a_long_path_is_searched_by_its_whole_path_not_its_key(db: Database) -> None:
    _postgres_only(db)
    long_path = "/m/" + "deep/" * 700 + "needle-in-the-middle/" + "more/" * 100 + "clip.mkv"
    key, whole = path_to_db(long_path), path_to_db(long_path, full=True)
    assert key != whole and "needle" not in key  # the key keeps the beginning and the name only
    with db.engine.begin() as conn:
        scan_writer.upsert_results(conn, db.dialect, [{**writer_row(key, "h1"), "file_path_full": whole}])
    with db.engine.connect() as conn:
        stored = conn.execute(sa.select(SCAN_RESULT_PATHS.c.file_path)).scalar_one()
    assert stored == whole
    (row,) = ResultsBrowser(db, ResultsQuery(path_text="NEEDLE-in")).page_after(None, 5)
    assert row.path == long_path
    assert browse.selected_paths(db, Selection(ids=frozenset({row.id}))) == [long_path]

    renamed = whole.replace("needle", "thread")
    with db.engine.begin() as conn:  # the whole path changes, the key (beginning and name) does not
        conn.execute(sa.update(ScanResult.__table__).values(file_path_full=renamed))
    assert ResultsBrowser(db, ResultsQuery(path_text="needle")).count() == 0
    assert ResultsBrowser(db, ResultsQuery(path_text="thread-in")).count() == 1
