"""The database fixtures themselves: both backends are real, fresh and isolated."""

import sqlalchemy as sa

from pixelprobe_tui.db.migrate import head_revision, schema_status
from pixelprobe_tui.db.models import ALL_TABLES, ScanResult


def test_database_url_is_empty(database_url):
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_db_is_at_head_with_all_tables(db):
    assert schema_status(db).current == (head_revision(),)
    tables = set(sa.inspect(db.engine).get_table_names())
    assert set(ALL_TABLES) <= tables
    assert len(ALL_TABLES) == 11


def test_db_starts_empty_and_writes_stay_in_one_test(db):
    # Run twice (the template must not collect rows written by earlier tests).
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ScanResult)) == 0
        s.add(ScanResult(file_path="/m/a.mkv"))
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ScanResult)) == 1


def test_db_dialect_matches_the_test_id(db, request):
    assert request.node.callspec.id == db.dialect
