"""The database fixtures themselves: both backends are real, fresh and isolated."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.migrate import head_revision, schema_status
from pixelprobe_tui.db.models import ALL_TABLES, ScanResult
from tests.fixtures_db import backend_of, find_pg_bindir

REPO = Path(__file__).resolve().parent.parent


def test_database_url_is_empty(database_url):
    engine = sa.create_engine(database_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_db_is_at_head_with_all_tables(db):
    assert schema_status(db).current == (head_revision(),)
    tables = set(sa.inspect(db.engine).get_table_names())
    assert set(ALL_TABLES) <= tables
    assert len(ALL_TABLES) == 12  # the 11 seed tables and verdict_history


def test_db_starts_empty_and_writes_stay_in_one_test(db):
    # Run twice (the template must not collect rows written by earlier tests).
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ScanResult)) == 0
        s.add(ScanResult(file_path="/m/a.mkv"))
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ScanResult)) == 1


def test_db_dialect_matches_the_test_id(db, request):
    assert request.node.callspec.id == db.dialect


PROBE_TEST = """
import tests.fixtures_db as fixtures_db

fixtures_db.find_pg_bindir = lambda: None  # as on a machine without PostgreSQL server binaries


def test_needs_postgresql(pg_server):
    pass
"""


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("true", "1 error")])
def test_missing_postgresql_skips_except_in_ci(tmp_path, ci, outcome):
    (tmp_path / "test_probe.py").write_text(PROBE_TEST)
    env = {k: v for k, v in os.environ.items() if k not in ("PIXELPROBE_TEST_DATABASE_URL", "CI")}
    env["CI"] = ci
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.fixtures_db",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert outcome in proc.stdout, proc.stdout
    assert "PostgreSQL unavailable" in proc.stdout
    assert proc.returncode == (1 if ci else 0)


def test_backend_is_read_from_the_test_id():
    assert backend_of("tests/test_x.py::test_y[postgresql]") == "postgresql"
    assert backend_of("tests/test_x.py::test_y[sqlite-3]") == "sqlite"
    assert backend_of("tests/test_x.py::test_y[a-postgresql-b]") == "postgresql"
    assert backend_of("tests/test_x.py::test_y") is None


def test_db_a_test_fills_the_database(db):
    with db.session() as s:
        s.add_all([ScanResult(file_path=f"/m/{i}.mkv") for i in range(3)])


def test_db_the_next_test_gets_it_empty_with_ids_from_one(db):
    # Runs after the test above on the same backend: a recycled database must come back empty.
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ScanResult)) == 0
        row = ScanResult(file_path="/m/first.mkv")
        s.add(row)
        s.flush()
        assert row.id == 1


def test_db_a_test_that_changes_the_schema(db):
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_test_only ON scan_results (file_type)")


def test_db_the_next_test_gets_the_schema_unchanged(db):
    assert "ix_test_only" not in {ix["name"] for ix in sa.inspect(db.engine).get_indexes("scan_results")}


SERVER_PROBE = """
import time


def test_hold_the_server(pg_server):
    print("DATADIR", pg_server.data_dir, flush=True)
    time.sleep(120)
"""


def postmasters_of(data_dir: str) -> list[int]:
    """Live processes whose command line names ``data_dir`` (the postmaster and its children)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                line for line in (proc / "status").read_text().splitlines() if line.startswith("State:")
            )
        except (OSError, StopIteration):
            continue
        if data_dir in cmdline and "zombie" not in state and "postgres" in cmdline:
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_throwaway_server_goes_away_with_the_session(tmp_path, how):
    if os.environ.get("PIXELPROBE_TEST_DATABASE_URL") or find_pg_bindir() is None:
        pytest.skip("needs PostgreSQL server binaries for a throwaway server")
    (tmp_path / "test_probe.py").write_text(SERVER_PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.fixtures_db",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=env,
        # As from a terminal: SIGINT raises KeyboardInterrupt (background jobs inherit it ignored).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        data_dir = None
        for line in proc.stdout:
            if line.startswith("DATADIR "):
                data_dir = line.split(" ", 1)[1].strip()
                break
        assert data_dir, "the probe session never got a server"
        assert postmasters_of(data_dir)
        proc.send_signal(how)
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 30  # after kill -9 the watchdog notices within a few seconds
        while (postmasters_of(data_dir) or Path(data_dir).exists()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert postmasters_of(data_dir) == []
        assert not Path(data_dir).parent.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
