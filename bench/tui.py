"""Benchmark the results view at scale: ``python bench/tui.py [--rows 1000000] [--no-postgres]``.

Builds a database with N results (SQLite; then the same on a throwaway PostgreSQL when its binaries are
there), runs the real app headless and measures, from the user's side:

- launch: app start to the first painted page of Results (goal <= 1 s after the app is up);
- page-down latency: PgDn until the new cursor row is on screen, p50/p95 over 40 presses (goal <= 50 ms);
- jump to end: End until the last row is on screen;
- filter change and sort change: until the first rows of the new query are on screen (goal <= 300 ms);
- mark good on a 10,000-row selection (service call, one transaction), picked by ids and as a shift-range
  (the median of three each);
- resident memory of the process after all that (goal <= 150 MB with 1,000,000 results);
- PostgreSQL against SQLite (goal: within 2x).

Each number is printed with its goal and the ratio to it; a ratio <= 1.00 meets the goal. The baseline of the
PostgreSQL ratios is the SQLite run of the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from pixelprobe_tui.db.engine import Database  # noqa: E402
from pixelprobe_tui.db.migrate import open_database  # noqa: E402
from pixelprobe_tui.db.models import ScanResult  # noqa: E402
from pixelprobe_tui.services import browse  # noqa: E402
from pixelprobe_tui.services.browse import ResultsBrowser, ResultsQuery, Selection  # noqa: E402

GOALS = {
    "launch_s": 1.0,
    "page_down_p95_s": 0.050,
    "filter_s": 0.300,
    "sort_s": 0.300,
    "filter_sort_s": 0.300,
    "search_s": 0.300,
    "rss_mb": 150.0,
}
STATUSES = ["healthy"] * 90 + ["warning"] * 5 + ["corrupted"] * 3 + ["unreadable", "pending"]
FAMILIES = ["video", "audio", "image"]
BATCH = 20_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fill(db: Database, rows: int, seed: int = 5) -> float:
    """Insert ``rows`` results in batches; returns the seconds it took."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    table = ScanResult.__table__
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            # The throwaway server commits asynchronously; VACUUM cannot mark pages all-visible until the
            # inserting commit is flushed, so right after an async commit it leaves the visibility map empty
            # and every index-only scan (counts, jumps) reads the heap. A real install's autovacuum would
            # get there later: make this commit durable so the VACUUM below does what autovacuum would.
            conn.exec_driver_sql("SET LOCAL synchronous_commit = on")
        for start in range(0, rows, BATCH):
            batch = []
            for i in range(start, min(rows, start + BATCH)):
                status = rng.choice(STATUSES)
                batch.append(
                    {
                        "file_path": f"/srv/media/lib{i % 97:02d}/dir{i % 1009:04d}/file{i:07d}.mkv",
                        "scan_status": status,
                        "media_family": FAMILIES[i % 3],
                        "file_size": rng.randrange(10**5, 10**10),
                        "scan_date": None
                        if status == "pending"
                        else base + dt.timedelta(seconds=rng.randrange(10**7)),
                        "is_corrupted": status == "corrupted",
                        "has_warning": status == "warning",
                        "marked_as_good": False,
                        "file_exists": True,
                    }
                )
            conn.execute(sa.insert(table), batch)
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) scan_results")
            visible = conn.exec_driver_sql(
                "SELECT relallvisible::float / greatest(relpages, 1) FROM pg_class WHERE relname = 'scan_results'"
            ).scalar_one()
            print(f"[postgresql] all-visible pages after VACUUM: {visible:.0%}", flush=True)
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t0


async def _until(pilot: Any, condition: Any, timeout: float = 60.0) -> float:
    t0 = time.perf_counter()
    while not condition():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("condition not met")
        await pilot.pause(0.001)
    return time.perf_counter() - t0


async def ui_run(db: Database) -> dict[str, float]:
    from pixelprobe_tui.tui.app import PixelProbeApp
    from pixelprobe_tui.tui.widgets.results_grid import ResultsGrid

    out: dict[str, float] = {}
    app = PixelProbeApp(db, poll_interval=3600)
    t_start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        out["app_up_s"] = time.perf_counter() - t_start
        await pilot.pause(0.5)  # the dashboard's first loads
        # Switch directly (a Pilot key press also waits for the app to go idle, which is not what a user sees).
        t0 = time.perf_counter()
        app.switch_mode("results")
        await _until(pilot, lambda: len(app.screen.query(ResultsGrid)) > 0)
        grid = app.screen.query_one(ResultsGrid)
        await _until(pilot, lambda: grid.row_at(grid.page_rows - 1) is not None)
        out["launch_s"] = time.perf_counter() - t0
        await _until(pilot, lambda: grid.count is not None)
        out["count_s"] = time.perf_counter() - t0

        def paint() -> None:
            # What the compositor asks of the grid for one frame: every visible line.
            for y in range(grid.size.height):
                grid.render_line(y)

        async def timed(action: Any, ready: Any) -> float:
            t0 = time.perf_counter()
            action()
            await _until(pilot, ready)
            paint()
            return time.perf_counter() - t0

        # Pilot's own cost of one key press (an unbound key), for reference.
        t0 = time.perf_counter()
        await pilot.press("f12")
        out["pilot_press_overhead_s"] = time.perf_counter() - t0

        samples = []
        for _ in range(40):
            samples.append(await timed(grid.action_page_down, lambda: grid.cursor_row is not None))
            await pilot.pause()
        samples.sort()
        out["page_down_p50_s"] = statistics.median(samples)
        out["page_down_p95_s"] = samples[int(len(samples) * 0.95) - 1]

        out["jump_end_s"] = await timed(
            grid.action_last, lambda: grid.cursor_row is not None and grid.cursor == (grid.count or 0) - 1
        )
        out["jump_home_s"] = await timed(grid.action_first, lambda: grid.cursor_row is not None)

        def full_page() -> bool:
            return (
                grid.count == 0
                or grid.row_at(min(grid.count or grid.page_rows, grid.page_rows) - 1) is not None
            )

        async def change(query: ResultsQuery) -> float:
            # The median of three changes to the query, each from the plain list: the machine is shared.
            times = []
            for _ in range(3):
                grid.set_query(ResultsQuery())
                await _until(pilot, lambda: full_page() and grid.count is not None)
                await pilot.pause(0.05)
                times.append(await timed(lambda: grid.set_query(query), full_page))
            return statistics.median(times)

        corrupted = ResultsQuery(statuses=frozenset({"corrupted"}))
        out["filter_s"] = await change(corrupted)
        out["sort_s"] = await change(ResultsQuery(sort="size", descending=True))
        out["filter_sort_s"] = await change(corrupted.with_changes(sort="date", descending=True))
        out["search_s"] = await change(ResultsQuery(path_text="dir0042"))
        t0 = time.perf_counter()
        await _until(pilot, lambda: grid.count is not None)
        out["search_count_s"] = out["search_s"] + time.perf_counter() - t0
    out["rss_mb"] = rss_mb()
    return out


def work_cpu_s(db: Database) -> float:
    """CPU seconds spent so far by this process and, on a PostgreSQL server on this machine, by the
    server processes of this database: the work a mark costs, which a busy shared machine does not inflate
    the way it inflates wall time."""
    total = time.process_time()
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            pids = conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            ).scalars()
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:  # not on this machine, or gone
                    continue
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def service_run(db: Database) -> dict[str, float]:
    out: dict[str, float] = {}
    # The median of three jumps, each by a new browser (as after a sort change): one sample on a shared
    # machine is mostly noise. Before the marks: on PostgreSQL a changed row clears its heap page's
    # all-visible bit, and index-only scans (the jump) read the heap for those pages until a VACUUM.
    jumps = []
    for _ in range(3):
        browser = ResultsBrowser(db, ResultsQuery(sort="size", descending=True))
        t0 = time.perf_counter()
        browser.page_at(500_000, 128)
        jumps.append(time.perf_counter() - t0)
    out["offset_jump_500k_s"] = statistics.median(jumps)
    # Mark good: the median of three 10,000-row selections (distinct rows, so each is real work), picked
    # one by one (ids) and as a shift-range of the size-sorted listing (two end keys).
    healthy = ResultsBrowser(db, ResultsQuery(statuses=frozenset({"healthy"}))).ids(limit=30_000)
    marks, cpu = [], []
    for i in range(3):
        ids = healthy[i * 10_000 : (i + 1) * 10_000]
        c0, t0 = work_cpu_s(db), time.perf_counter()
        changed = browse.set_marked_good(db, Selection(ids=frozenset(ids)), True, "bench")
        marks.append(time.perf_counter() - t0)
        cpu.append(work_cpu_s(db) - c0)
        assert changed == len(ids)
    out["mark_good_10k_s"] = statistics.median(marks)
    out["mark_good_10k_cpu_s"] = statistics.median(cpu)
    by_size = ResultsQuery(sort="size", descending=True)
    browser = ResultsBrowser(db, by_size)
    browse.set_marked_good(db, Selection(query=ResultsQuery(marked_good=True)), False, None)  # start over
    ranges = []
    total = browser.count()
    size = min(10_000, total // 10)  # 10,000 rows from the 100,000th, 200,000th and 300,000th on 1,000,000
    for i in range(3):
        start = total * (i + 1) // 10
        first, last = browser.key_at(start), browser.key_at(start + size - 1)
        selection = Selection(ranges=((first, last),), within=by_size)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        changed = browse.set_marked_good(db, selection, True, "bench")
        ranges.append(time.perf_counter() - t0)
        assert changed == size, changed
    out["mark_range_10k_s"] = statistics.median(ranges)
    return out


def measure(label: str, url: str, rows: int) -> dict[str, float]:
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            have = conn.execute(sa.select(sa.func.count()).select_from(ScanResult.__table__)).scalar_one()
        if have not in (0, rows):
            raise SystemExit(
                f"{db.display_url} holds {have:,} results, not {rows:,}: use another --sqlite-file"
            )
        if have == 0:
            print(f"[{label}] inserting {rows:,} results…", flush=True)
            fill_s = fill(db, rows)
            print(f"[{label}] inserted in {fill_s:.1f} s", flush=True)
        with db.engine.begin() as conn:  # a previous run's marks must not change what is measured
            table = ScanResult.__table__
            conn.execute(
                sa.update(table).where(table.c.marked_as_good == sa.true()).values(marked_as_good=False)
            )
        result = asyncio.run(ui_run(db))
        result.update(service_run(db))
        return result
    finally:
        db.dispose()


def report(label: str, r: dict[str, float], baseline: dict[str, float] | None) -> None:
    print(f"\n{label}")
    for key, value in r.items():
        unit = "MB" if key.endswith("_mb") else "ms"
        shown = value if unit == "MB" else value * 1000
        line = f"  {key:<20} {shown:10.1f} {unit}"
        if key in GOALS:
            goal = GOALS[key]
            line += f"   goal {goal * (1 if unit == 'MB' else 1000):.0f} {unit}, ratio {value / goal:.2f}"
        if baseline and key in baseline and baseline[key] > 0 and key != "rss_mb":
            line += f"   vs SQLite x{value / baseline[key]:.2f}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--sqlite-file",
        help="keep the SQLite database in this file and reuse it next time (filling takes minutes)",
    )
    args = parser.parse_args()
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    results: dict[str, dict[str, float]] = {}
    if args.sqlite_file:
        results["SQLite"] = measure("sqlite", f"sqlite:///{os.path.abspath(args.sqlite_file)}", args.rows)
    else:
        with tempfile.TemporaryDirectory(prefix="pixelprobe-bench-") as tmp:
            results["SQLite"] = measure("sqlite", f"sqlite:///{tmp}/bench.db", args.rows)
    report(f"SQLite, {args.rows:,} results", results["SQLite"], None)
    if not args.no_postgres:
        from tests.fixtures_db import ThrowawayPostgres, find_pg_bindir

        bindir = find_pg_bindir()
        if bindir is None:
            print("\nPostgreSQL: no server binaries found; skipped")
        else:
            server = ThrowawayPostgres(bindir)
            try:
                admin = server.start()
                engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
                with engine.connect() as conn:
                    conn.exec_driver_sql('CREATE DATABASE "bench"')
                engine.dispose()
                url = admin.set(database="bench").render_as_string(hide_password=False)
                # A separate process would be fairer for memory; RSS here includes the SQLite run.
                results["PostgreSQL"] = measure("postgresql", url, args.rows)
                report(f"PostgreSQL, {args.rows:,} results", results["PostgreSQL"], results["SQLite"])
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
