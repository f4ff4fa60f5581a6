"""`pixelprobe db ...` in a subprocess: it builds the schema on both backends, and bad input gets one clear
line on stderr, exit status 2, no traceback."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.migrate import head_revision
from pixelprobe_tui.db.models import ALL_TABLES, OPTIONAL_TABLES

SEED_INDEXES = {
    "idx_scan_results_file_path",
    "idx_scan_results_corrupted",
    "idx_scan_results_scan_date",
    "idx_scan_results_marked_good",
    "idx_scan_reports_scan_id",
    "idx_scan_reports_created",
}


def cli(*args: str, env: dict | None = None, cwd: Path | None = None, prefix: list[str] | None = None):
    """Run the real CLI; PIXELPROBE_DATABASE_URL from the caller's environment never leaks in."""
    full_env = {k: v for k, v in os.environ.items() if k != "PIXELPROBE_DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "pixelprobe_tui", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def assert_clean_failure(proc, *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr that names the problem."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("pixelprobe: error: ")
    for fragment in fragments:
        assert fragment in line, line
    return line


def schema_of(url: str) -> tuple[set[str], set[str], list[str]]:
    database = Database(url)
    try:
        inspector = sa.inspect(database.engine)
        names = set(inspector.get_table_names())
        indexes = {ix["name"] for t in names for ix in inspector.get_indexes(t)}
        with database.engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        return names, indexes, versions
    finally:
        database.dispose()


def test_db_upgrade_creates_all_tables_and_seed_indexes(database_url):
    proc = cli("db", "upgrade", "--database-url", database_url)
    assert proc.returncode == 0, proc.stderr
    assert "upgraded" in proc.stdout and head_revision() in proc.stdout
    names, indexes, versions = schema_of(database_url)
    # PostgreSQL also gets the path-search side table (revision 0004); SQLite never does.
    expected_optional = OPTIONAL_TABLES if database_url.startswith("postgresql") else set()
    assert names == set(ALL_TABLES) | {"alembic_version"} | expected_optional
    assert len(ALL_TABLES) == 12  # the 11 seed tables and verdict_history
    assert indexes >= SEED_INDEXES
    assert versions == [head_revision()]

    again = cli("db", "upgrade", "--database-url", database_url)
    assert again.returncode == 0 and "already at" in again.stdout
    current = cli("db", "current", "--database-url", database_url)
    assert current.returncode == 0 and f"revision {head_revision()}" in current.stdout
    assert "up to date" in current.stdout


def test_database_url_before_the_command_and_from_the_environment(tmp_path):
    before = tmp_path / "before.db"
    assert cli("--database-url", f"sqlite:///{before}", "db", "upgrade").returncode == 0
    assert before.is_file()
    env_db = tmp_path / "env.db"
    proc = cli("db", "upgrade", env={"PIXELPROBE_DATABASE_URL": f"sqlite:///{env_db}"})
    assert proc.returncode == 0 and "from PIXELPROBE_DATABASE_URL" in proc.stdout
    assert env_db.is_file()
    # The option beats the environment, wherever it is given.
    after = tmp_path / "after.db"
    proc = cli(
        "db", "upgrade", "--database-url", f"sqlite:///{after}", env={"PIXELPROBE_DATABASE_URL": "bad://"}
    )
    assert proc.returncode == 0, proc.stderr
    assert after.is_file()


def test_default_database_lives_in_the_user_data_dir(tmp_path):
    proc = cli("db", "upgrade", env={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert proc.returncode == 0, proc.stderr
    assert "from default" in proc.stdout
    assert (tmp_path / "data" / "pixelprobe" / "pixelprobe.db").is_file()


def test_current_does_not_create_or_upgrade(tmp_path):
    path = tmp_path / "none.db"
    proc = cli("db", "current", "--database-url", f"sqlite:///{path}")
    assert proc.returncode == 0 and "no database file yet" in proc.stdout
    assert not path.exists()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_unreachable_postgresql_server():
    url = f"postgresql+psycopg://someone:secret@127.0.0.1:{closed_port()}/pixelprobe"
    line = assert_clean_failure(cli("db", "upgrade", "--database-url", url), "cannot connect", "127.0.0.1")
    assert "secret" not in line


def test_missing_postgresql_database(pg_server):
    url = pg_server.url_for("pixelprobe_no_such_database")
    assert_clean_failure(cli("db", "upgrade", "--database-url", url), "cannot connect", "does not exist")


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("not a url", "malformed database URL"),
        ("postgresql://user:pw@host:notaport/db", "malformed database URL"),
        ("mysql://user@host/db", "unsupported database URL"),
        ("postgresql+psycopg2://user@host/db", "unsupported database URL"),
        ("sqlite:///db.sqlite?bogus_option=1", "database URL"),
    ],
)
def test_malformed_or_unsupported_url(url, fragment, tmp_path):
    assert_clean_failure(cli("db", "upgrade", "--database-url", url, cwd=tmp_path), fragment)


def test_malformed_url_from_the_environment():
    proc = cli("db", "upgrade", env={"PIXELPROBE_DATABASE_URL": "::nonsense::"})
    assert_clean_failure(proc, "malformed", "from $PIXELPROBE_DATABASE_URL")


@pytest.fixture
def obey_permissions() -> list[str]:
    """A command prefix under which permission bits apply: root ignores them, so as root drop the
    capabilities that bypass them (the process stays root, so it can still run the interpreter)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a directory read-only for this process")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_new_database_in_a_read_only_directory(tmp_path, obey_permissions):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = cli(
            "db", "upgrade", "--database-url", f"sqlite:///{ro}/pixelprobe.db", prefix=obey_permissions
        )
        assert_clean_failure(proc, "not writable", str(ro))
        assert not (ro / "pixelprobe.db").exists()
    finally:
        ro.chmod(0o755)


def test_existing_database_in_a_read_only_directory(tmp_path, obey_permissions):
    ro = tmp_path / "ro"
    ro.mkdir()
    path = ro / "pixelprobe.db"
    assert cli("db", "upgrade", "--database-url", f"sqlite:///{path}").returncode == 0
    # The file itself stays writable: only the directory (where SQLite puts -wal and -shm) is read-only.
    ro.chmod(0o555)
    try:
        before = path.read_bytes()
        proc = cli("db", "upgrade", "--database-url", f"sqlite:///{path}", prefix=obey_permissions)
        assert_clean_failure(proc, "not writable", str(ro))
        assert path.read_bytes() == before
    finally:
        ro.chmod(0o755)


def test_sqlite_path_that_is_a_directory_or_not_a_database(tmp_path):
    assert_clean_failure(cli("db", "upgrade", "--database-url", f"sqlite:///{tmp_path}"), "is a directory")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just some text that is long enough to matter" * 100)
    assert_clean_failure(cli("db", "upgrade", "--database-url", f"sqlite:///{junk}"), "not a SQLite database")
    assert junk.read_bytes().startswith(b"this is not a database")


def test_schema_newer_than_the_code(database_url):
    assert cli("db", "upgrade", "--database-url", database_url).returncode == 0
    database = Database(database_url)
    try:
        with database.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
    finally:
        database.dispose()
    for action in ("upgrade", "current"):
        proc = cli("db", action, "--database-url", database_url)
        assert_clean_failure(proc, "f00dfeedbeef", "newer than this pixelprobe", "upgrade pixelprobe")
    # Nothing was touched: the unknown revision and every table are still there.
    names, _indexes, versions = schema_of(database_url)
    assert versions == ["f00dfeedbeef"]
    assert set(ALL_TABLES) <= names
