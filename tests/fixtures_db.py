"""Database fixtures: a real SQLite file and a real PostgreSQL server, for every database test.

- ``pg_server`` (session): a throwaway PostgreSQL the suite starts itself (temporary directory, free port,
  fsync off), or the server named by ``PIXELPROBE_TEST_DATABASE_URL``. Skipped when no server binaries are
  found, unless ``CI`` is true: then a missing PostgreSQL fails the run.
- ``database_url`` (ids ``sqlite`` and ``postgresql``): a fresh SQLite file in ``tmp_path``, or a fresh
  database on ``pg_server`` dropped after the test. Empty, unless the test also uses ``db``.
- ``db``: a :class:`pixelprobe_tui.db.engine.Database` for ``database_url``, at head, disposed afterwards.
  To keep each test cheap it starts from a copy of a database the runner migrated once per session
  (SQLite: a file copy; PostgreSQL: a copy of a template database, emptied with TRUNCATE and lent again).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database, parse_database_url
from pixelprobe_tui.db.migrate import open_database

TEST_DATABASE_URL_ENV = "PIXELPROBE_TEST_DATABASE_URL"
# When the suite runs as root, PostgreSQL (which refuses root) runs as this existing unprivileged user.
PG_USER_WHEN_ROOT = "nobody"
BACKENDS = ("sqlite", "postgresql")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def find_pg_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin (newest N)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent

    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(bindir) / "initdb").is_file() and (Path(bindir) / "pg_ctl").is_file():
            return Path(bindir)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    admin_url: sa.URL  # a superuser (or CREATEDB) connection to a maintenance database
    description: str
    data_dir: Path | None = None  # the throwaway server's data directory; None for an external server
    _admin: sa.Engine | None = field(default=None, repr=False)

    def admin(self) -> sa.Engine:
        if self._admin is None:
            self._admin = sa.create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
            )
        return self._admin

    def url_for(self, name: str) -> str:
        """The URL of database ``name`` on this server (password included)."""
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create_database(self, template: str | None = None) -> str:
        """Create a database with a unique name (empty, or a copy of ``template``); returns its name."""
        name = f"pixelprobe_test_{uuid.uuid4().hex[:16]}"
        source = template or "template0"
        with self.admin().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting anything still connected to it."""
        with self.admin().connect() as conn:
            force = " WITH (FORCE)" if conn.dialect.server_version_info >= (13,) else ""
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"{force}')

    def dispose(self) -> None:
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None


class ThrowawayPostgres:
    """initdb + pg_ctl in a temporary directory on a free port; stopped and deleted by :meth:`stop`."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.tmp = Path(tempfile.mkdtemp(prefix="pixelprobe-pg-"))
        self.data = self.tmp / "data"
        self.log = self.tmp / "server.log"
        self.port = 0
        self._user: pwd.struct_passwd | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._started = False
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: hand the directory to an unprivileged user.
            self._user = pwd.getpwnam(PG_USER_WHEN_ROOT)
            os.chown(self.tmp, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.tmp, 0o700)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        # Output goes to a file, never a pipe: the postmaster pg_ctl leaves behind would hold a pipe open.
        out_path = self.tmp / "pg_ctl.out"
        with open(out_path, "a") as out:
            if self._user is not None:
                os.fchown(out.fileno(), self._user.pw_uid, self._user.pw_gid)
            proc = subprocess.run(
                [str(self.bindir / args[0]), *args[1:]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                cwd=self.tmp,
                # Its own session: a Ctrl-C in the terminal reaches pytest (which stops the server), not postgres.
                start_new_session=True,
                **self._as_user(),
            )
        if check and proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed (exit {proc.returncode}):\n{self.output_tail()}")
        return proc

    def _as_user(self) -> dict[str, object]:
        if self._user is None:
            return {}
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": str(self.tmp)}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": [], "env": env}

    def output_tail(self, lines: int = 15) -> str:
        text = ""
        for path in (self.tmp / "pg_ctl.out", self.log):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> sa.URL:
        """Initialise and start the server; returns the superuser URL of its ``postgres`` database."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")  # fmt: skip
        last_error: Exception | None = None
        for _attempt in range(3):  # another process may grab the free port before the server binds it
            self.port = _free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-p {self.port}",
                    f"-k {self.tmp}",  # the socket lives in our directory, not /var/run/postgresql
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c shared_buffers=16MB",
                    "-c max_connections=100",
                ]
            )
            proc = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                             "-o", options, "start", check=False)  # fmt: skip
            if proc.returncode == 0:
                self._started = True
                self._start_watchdog()
                return sa.URL.create(
                    "postgresql+psycopg",
                    username="postgres",
                    host="127.0.0.1",
                    port=self.port,
                    database="postgres",
                )
            last_error = RuntimeError(f"pg_ctl start failed:\n{self.output_tail()}")
        raise last_error or RuntimeError("pg_ctl start failed")

    def _start_watchdog(self) -> None:
        # If pytest dies without running its teardown (SIGKILL), stop the server and delete its files anyway.
        script = (
            f"while [ -d /proc/{os.getpid()} ]; do sleep 2; done; "
            f'"{self.bindir / "pg_ctl"}" -D "{self.data}" -m immediate stop >/dev/null 2>&1; rm -rf "{self.tmp}"'
        )
        self._watchdog = subprocess.Popen(
            ["sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **self._as_user(),  # type: ignore[arg-type]
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory. Safe to call twice."""
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", check=False)
        if self._watchdog is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._watchdog.pid, signal.SIGTERM)
            with contextlib.suppress(Exception):
                self._watchdog.wait(timeout=10)
            self._watchdog = None
        shutil.rmtree(self.tmp, ignore_errors=True)


# What the terminal summary reports about the PostgreSQL the tests used.
_pg_description: str | None = None


def _unavailable(reason: str) -> None:
    if running_in_ci():
        pytest.fail(f"PostgreSQL unavailable with CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for this test session (see the module docstring)."""
    global _pg_description
    external = os.environ.get(TEST_DATABASE_URL_ENV)
    if external:
        url = parse_database_url(external)
        server = PostgresServer(admin_url=url, description=f"{TEST_DATABASE_URL_ENV} ({url.host}:{url.port})")
        try:
            with server.admin().connect() as conn:
                version = conn.exec_driver_sql("SHOW server_version").scalar()
        except sa.exc.DBAPIError as exc:
            pytest.fail(f"{TEST_DATABASE_URL_ENV} is set but unusable: {str(exc.orig).splitlines()[0]}")
        _pg_description = f"PostgreSQL {version} from {server.description}"
        yield server
        server.dispose()
        return

    bindir = find_pg_bindir()
    if bindir is None:
        _unavailable(
            "no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
        )
    assert bindir is not None
    instance = ThrowawayPostgres(bindir)
    atexit.register(instance.stop)  # belt and braces: also when the session ends abnormally
    try:
        admin_url = instance.start()
    except Exception as exc:
        instance.stop()
        _unavailable(str(exc))
        raise
    server = PostgresServer(
        admin_url=admin_url,
        description=f"throwaway server on 127.0.0.1:{instance.port}",
        data_dir=instance.data,
    )
    try:
        with server.admin().connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        _pg_description = f"PostgreSQL {version}, {server.description} ({bindir})"
        yield server
    finally:
        server.dispose()
        instance.stop()
        atexit.unregister(instance.stop)


# Everything about the schema that a test could change: columns, defaults, indexes.
_SCHEMA_FINGERPRINT = """
SELECT md5(coalesce((SELECT string_agg(concat_ws(':', table_name, column_name, data_type, is_nullable,
                                                 column_default), ',' ORDER BY table_name, ordinal_position)
                     FROM information_schema.columns WHERE table_schema = 'public'), '')
           || coalesce((SELECT string_agg(indexdef, ',' ORDER BY indexname)
                        FROM pg_indexes WHERE schemaname = 'public'), ''))
"""


class RecycledDatabases:
    """Migrated PostgreSQL databases lent to one test at a time and emptied afterwards.

    A fresh copy of the migrated template costs about half a second on a busy machine; emptying a database
    with TRUNCATE costs a few tens of milliseconds. A database whose schema or revision a test changed is
    dropped instead of reused.
    """

    def __init__(self, server: PostgresServer):
        self.server = server
        self.template = server.create_database()
        open_database(server.url_for(self.template)).dispose()  # CREATE ... TEMPLATE needs it unconnected
        self._free: list[str] = []
        self._lent: set[str] = set()
        self.fingerprint, self.revisions = self._inspect(self.template)

    def _inspect(self, name: str) -> tuple[str, list[str]]:
        engine = sa.create_engine(self.server.url_for(name), poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                fingerprint = conn.exec_driver_sql(_SCHEMA_FINGERPRINT).scalar_one()
                revisions = list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
            return fingerprint, revisions
        finally:
            engine.dispose()

    def checkout(self) -> str:
        name = self._free.pop() if self._free else self.server.create_database(template=self.template)
        self._lent.add(name)
        return name

    def checkin(self, name: str) -> None:
        self._lent.discard(name)
        if self._empty(name):
            self._free.append(name)
        else:
            self.server.drop_database(name)

    def _empty(self, name: str) -> bool:
        try:
            with self.server.admin().connect() as conn:
                # Whatever the test left connected (a leaked session) would block TRUNCATE.
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
            if self._inspect(name) != (self.fingerprint, self.revisions):
                return False
            engine = sa.create_engine(self.server.url_for(name), poolclass=sa.NullPool)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                    tables = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
                    quoted = ", ".join(f'"{t}"' for t in tables)
                    conn.exec_driver_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
            finally:
                engine.dispose()
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def close(self) -> None:
        for name in [*self._free, *self._lent, self.template]:
            self.server.drop_database(name)
        self._free.clear()
        self._lent.clear()


@pytest.fixture(scope="session")
def _pg_recycled(pg_server: PostgresServer) -> Iterator[RecycledDatabases]:
    databases = RecycledDatabases(pg_server)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session by the runner."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    open_database(f"sqlite:///{path}").dispose()  # the last close checkpoints the WAL into the file
    return path


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend (already migrated when the test also uses ``db``)."""
    migrated = "db" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "pixelprobe.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    if migrated:
        recycled: RecycledDatabases = request.getfixturevalue("_pg_recycled")
        name = recycled.checkout()
        try:
            yield server.url_for(name)
        finally:
            recycled.checkin(name)
        return
    name = server.create_database()
    try:
        yield server.url_for(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A Database for ``database_url``, opened (and so upgraded to head) by the runner."""
    database = open_database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def backend_of(nodeid: str) -> str | None:
    """Which database a test ran on, from its id (``test_x[postgresql]``, ``test_y[sqlite-foo]``)."""
    match = re.search(r"\[(?:.*-)?(sqlite|postgresql)(?:-.*)?\]$", nodeid)
    return match.group(1) if match else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs on the PostgreSQL server of the pg_server fixture")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    """One line per backend, so a run shows that the PostgreSQL tests really ran (or why not)."""
    counts: dict[str, dict[str, int]] = {b: {} for b in BACKENDS}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            backend = backend_of(getattr(report, "nodeid", ""))
            if backend is None or (outcome == "passed" and report.when != "call"):
                continue
            counts[backend][outcome] = counts[backend].get(outcome, 0) + 1
    if not any(counts.values()):
        return
    terminalreporter.section("database backends", sep="-")
    for backend in BACKENDS:
        summary = ", ".join(f"{n} {outcome}" for outcome, n in counts[backend].items()) or "no tests"
        extra = f"  [{_pg_description}]" if backend == "postgresql" and _pg_description else ""
        terminalreporter.write_line(f"{backend}: {summary}{extra}")


__all__ = [
    "PostgresServer",
    "RecycledDatabases",
    "ThrowawayPostgres",
    "backend_of",
    "find_pg_bindir",
    "running_in_ci",
]
