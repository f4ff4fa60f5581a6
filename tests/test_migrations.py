"""The Alembic history on both backends: up, down, up again; no drift from the models; a safe concurrent start."""

import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.migrate import (
    _run_locked,
    downgrade,
    head_revision,
    migrations_dir,
    open_and_upgrade,
    open_database,
    schema_status,
    upgrade,
)
from pixelprobe_tui.db.models import (
    ALL_TABLES,
    OPTIONAL_TABLES,
    Base,
    ScanReport,
    ScanResult,
    ScanState,
    VerdictHistory,
    include_in_autogenerate,
)

SEED_INDEXES = {
    "scan_results": {
        "idx_scan_results_file_path",
        "idx_scan_results_corrupted",
        "idx_scan_results_scan_date",
        "idx_scan_results_marked_good",
    },
    "scan_reports": {"idx_scan_reports_scan_id", "idx_scan_reports_created"},
}


def tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"} - OPTIONAL_TABLES


def drift(db: Database) -> list:
    """What autogenerate would put in a new revision: must be nothing."""
    with db.engine.connect() as conn:
        opts = {
            "compare_type": True,
            "target_metadata": Base.metadata,
            "include_object": include_in_autogenerate,
        }
        ctx = MigrationContext.configure(conn, opts=opts)
        return compare_metadata(ctx, Base.metadata)


@pytest.fixture
def empty_db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def test_upgrade_downgrade_upgrade(empty_db):
    assert tables(empty_db) == set()
    assert schema_status(empty_db).current == ()

    status = upgrade(empty_db)
    assert status.current == (head_revision(),)
    assert tables(empty_db) == set(ALL_TABLES)

    status = downgrade(empty_db, "base")
    assert status.current == ()
    assert tables(empty_db) == set()

    upgrade(empty_db)
    assert tables(empty_db) == set(ALL_TABLES)
    assert drift(empty_db) == []
    # The schema is usable after the round trip: a report pointing at a scan, a result with defaults.
    with empty_db.session() as s:
        state = ScanState()
        s.add(state)
        s.flush()
        s.add(ScanReport(scan_id=state.id))
        s.add(ScanResult(file_path="/m/a.mkv"))
    with empty_db.session() as s:
        row = s.scalars(sa.select(ScanResult)).one()
        assert (row.scan_status, row.is_corrupted, row.file_exists) == ("pending", False, True)


def test_autogenerate_finds_no_difference_between_models_and_migrations(db):
    assert drift(db) == []


def test_seed_indexes_exist_under_their_names(db):
    inspector = sa.inspect(db.engine)
    for table, names in SEED_INDEXES.items():
        found = {ix["name"]: ix for ix in inspector.get_indexes(table)}
        assert names <= set(found), f"{table}: missing {names - set(found)}"
    file_path_ix = next(
        ix for ix in inspector.get_indexes("scan_results") if ix["name"] == "idx_scan_results_file_path"
    )
    assert file_path_ix["unique"]


def test_file_path_is_unique(db):
    with pytest.raises(sa.exc.IntegrityError), db.session() as s:
        s.add_all([ScanResult(file_path="/m/same.mkv"), ScanResult(file_path="/m/same.mkv")])


def test_upgrade_at_head_changes_nothing(db):
    before = schema_status(db)
    assert upgrade(db) == before


def test_processes_starting_together_upgrade_once(database_url):
    # Without the lock the losers fail with "table already exists" (or a duplicate alembic_version row).
    env = {k: v for k, v in os.environ.items() if k != "PIXELPROBE_DATABASE_URL"}
    cmd = [sys.executable, "-m", "pixelprobe_tui", "db", "upgrade", "--database-url", database_url]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert sum("upgraded" in out for out, _err in outputs) == 1, outputs
    database = Database(database_url)
    try:
        with database.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [
                head_revision()
            ]
        assert tables(database) == set(ALL_TABLES)
    finally:
        database.dispose()


def test_threads_released_together_upgrade_once(database_url):
    # Same race, started on a barrier: each thread has its own engine (own connections, own lock file handle).
    count = 4
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def start(i: int) -> None:
        barrier.wait()
        try:
            opened = open_and_upgrade(database_url)
            outcomes[i] = opened.upgraded
            opened.db.dispose()
        except Exception as exc:  # reported below with the others
            outcomes[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes, key=str) == [False] * (count - 1) + [True], outcomes


def test_scripts_are_found_in_the_checkout():
    # In an editable checkout the scripts are the top-level migrations/ directory (a wheel puts them in the package).
    assert (migrations_dir() / "env.py").is_file()
    assert any((migrations_dir() / "versions").glob("*.py"))


@pytest.mark.slow
def test_a_built_wheel_ships_and_finds_its_migrations(tmp_path):
    # A non-editable install has no checkout around it: the scripts must be inside the package.
    repo = Path(__file__).resolve().parent.parent
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(repo)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("pixelprobe_tui-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
    assert "pixelprobe_tui/migrations/env.py" in names
    assert any(n.startswith("pixelprobe_tui/migrations/versions/") and n.endswith(".py") for n in names)

    # Run the unpacked package (first on sys.path, ahead of the editable checkout).
    env = {k: v for k, v in os.environ.items() if k != "PIXELPROBE_DATABASE_URL"}
    env["PYTHONPATH"] = str(site)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    db_path = tmp_path / "wheel.db"
    run = subprocess.run(
        [sys.executable, "-c", SHOW_AND_UPGRADE, f"sqlite:///{db_path}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str(site / "pixelprobe_tui" / "migrations"), head_revision()]


SHOW_AND_UPGRADE = """
import sys
import zipfile
from pathlib import Path
from pixelprobe_tui.db.migrate import migrations_dir, open_database, schema_status
print(migrations_dir())
db = open_database(sys.argv[1])
print(schema_status(db).current[0])
"""


def test_sqlite_batch_rebuild_keeps_the_rows_that_reference_the_table(tmp_path):
    # Batch mode copies, drops and renames a SQLite table: with foreign keys on during the migration, dropping
    # scan_results would cascade into verdict_history and silently empty it.
    db = open_database(f"sqlite:///{tmp_path / 'fk.db'}")
    try:
        with db.session() as s:
            result = ScanResult(file_path="/m/a.mkv", scan_status="healthy")
            s.add(result)
            s.flush()
            s.add(VerdictHistory(result_id=result.id, scan_status="healthy"))

        def rebuild(cfg) -> None:
            ops = Operations(MigrationContext.configure(cfg.attributes["connection"]))
            with ops.batch_alter_table("scan_results", recreate="always"):
                pass

        _run_locked(db, 30, rebuild, skip_at_head=False)
        with db.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(VerdictHistory)).scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # back on for normal use
    finally:
        db.dispose()
