"""Engine factory and URL handling: what each backend is given, and where the URL comes from."""

import argparse

import pytest
import sqlalchemy as sa

from pixelprobe_tui.commands import add_database_option, database_from_args
from pixelprobe_tui.db.engine import (
    ENV_DATABASE_URL,
    default_database_path,
    display_url,
    parse_database_url,
    resolve_database_url,
)
from pixelprobe_tui.db.migrate import head_revision, schema_status
from pixelprobe_tui.errors import DatabaseError


def test_url_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    assert resolve_database_url(None).source == "default"
    assert resolve_database_url(None).url == f"sqlite:///{tmp_path / 'pixelprobe' / 'pixelprobe.db'}"
    assert default_database_path() == tmp_path / "pixelprobe" / "pixelprobe.db"
    monkeypatch.setenv(ENV_DATABASE_URL, "sqlite:///env.db")
    assert resolve_database_url(None) == resolve_database_url("")  # an empty option is no option
    assert resolve_database_url(None).url == "sqlite:///env.db"
    assert resolve_database_url("sqlite:///cli.db").url == "sqlite:///cli.db"
    assert resolve_database_url("sqlite:///cli.db").source == "--database-url"


@pytest.mark.parametrize(
    "scheme", ["postgresql", "postgres", "postgresql+psycopg"], ids=["plain", "short", "explicit"]
)
def test_postgresql_urls_mean_psycopg3(scheme):
    assert parse_database_url(f"{scheme}://u@h/db").drivername == "postgresql+psycopg"


def test_display_url_hides_the_password():
    assert "secret" not in display_url("postgresql+psycopg://me:secret@h/db")
    assert "secret" not in display_url(parse_database_url("postgresql://me:secret@h/db"))


@pytest.mark.parametrize("url", ["", "nonsense", "mysql://h/db", "postgresql+asyncpg://h/db", "oracle://h"])
def test_bad_urls_are_refused_with_one_line(url):
    with pytest.raises(DatabaseError) as info:
        parse_database_url(url)
    assert "\n" not in str(info.value)


def test_each_backend_gets_its_settings(db):
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000}
    else:
        assert db.engine.url.drivername == "postgresql+psycopg"
        assert db.engine.pool.size() == 10
        assert db.engine.pool._pre_ping


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO scan_reports (scan_id, scan_type, status, created_at) "
                "VALUES (:id, 'full_scan', 'completed', CURRENT_TIMESTAMP)"
            ),
            {"id": "0" * 32 if db.dialect == "sqlite" else "00000000-0000-0000-0000-000000000000"},
        )


def test_database_option_after_the_subcommand_wins(database_url, tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    sub = parser.add_subparsers(dest="command")
    add_database_option(sub.add_parser("thing"))
    before_only = parser.parse_args(["--database-url", database_url, "thing"])
    assert before_only.database_url == database_url
    both = parser.parse_args(
        ["--database-url", "sqlite:///elsewhere.db", "thing", "--database-url", database_url]
    )
    assert both.database_url == database_url
    database = database_from_args(both)
    try:
        assert schema_status(database).current == (head_revision(),)
    finally:
        database.dispose()
