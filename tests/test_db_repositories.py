"""The seed's example queries, on a real SQLite file and a real PostgreSQL database."""

import datetime as dt

import pytest

from pixelprobe_tui.db.models import ScanResult, ScanSchedule
from pixelprobe_tui.db.repositories import (
    CorruptionStatistics,
    corruption_statistics,
    due_schedules,
    files_needing_rescan,
)

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def result(path, **kw):
    return ScanResult(file_path=path, **kw)


def test_statistics_of_an_empty_table_are_zero(db):
    with db.session() as s:
        assert corruption_statistics(s) == CorruptionStatistics(0, 0, 0)


def test_statistics_leave_out_files_marked_good(db):
    with db.session() as s:
        s.add_all(
            [
                result("/m/ok.mkv"),
                result("/m/bad1.mkv", is_corrupted=True),
                result("/m/bad2.mkv", is_corrupted=True, has_warning=True),
                result("/m/warn.flac", has_warning=True),
                result("/m/bad-but-good.mkv", is_corrupted=True, marked_as_good=True),
                result("/m/warn-but-good.jpg", has_warning=True, marked_as_good=True),
            ]
        )
    with db.session() as s:
        assert corruption_statistics(s) == CorruptionStatistics(
            total_files=4, corrupted_files=2, warning_files=2
        )


def test_rescan_lists_old_scans_oldest_first_with_limit(db):
    with db.session() as s:
        s.add_all(
            [
                result("/m/10d.mkv", scan_date=NOW - dt.timedelta(days=10), file_hash="h10"),
                result("/m/30d.mkv", scan_date=NOW - dt.timedelta(days=30), file_hash="h30"),
                result("/m/8d.mkv", scan_date=NOW - dt.timedelta(days=8)),
                result("/m/1d.mkv", scan_date=NOW - dt.timedelta(days=1)),
                # Exactly at the cutoff is not older than it.
                result("/m/7d.mkv", scan_date=NOW - dt.timedelta(days=7)),
                result("/m/never.mkv"),
            ]
        )
    with db.session() as s:
        rows = files_needing_rescan(s, older_than_days=7, now=NOW)
        assert [r.file_path for r in rows] == ["/m/30d.mkv", "/m/10d.mkv", "/m/8d.mkv"]
        assert rows[0].file_hash == "h30"
        assert rows[0].scan_date == NOW - dt.timedelta(days=30)
        assert rows[0].scan_date.tzinfo is not None
        assert [r.file_path for r in files_needing_rescan(s, older_than_days=7, limit=2, now=NOW)] == [
            "/m/30d.mkv",
            "/m/10d.mkv",
        ]
        assert [r.file_path for r in files_needing_rescan(s, older_than_days=20, now=NOW)] == ["/m/30d.mkv"]


def test_rescan_compares_instants_not_wall_clock_strings(db):
    # 9 days old in UTC, written with a +05:00 offset: a string comparison of local times would get it wrong.
    plus5 = dt.timezone(dt.timedelta(hours=5))
    with db.session() as s:
        s.add(result("/m/tz.mkv", scan_date=(NOW - dt.timedelta(days=9)).astimezone(plus5)))
    with db.session() as s:
        assert [r.file_path for r in files_needing_rescan(s, 7, now=NOW.astimezone(plus5))] == ["/m/tz.mkv"]
        assert files_needing_rescan(s, 10, now=NOW) == []


def test_rescan_rejects_nonsense_arguments(db):
    with db.session() as s, pytest.raises(ValueError):
        files_needing_rescan(s, older_than_days=-1)
    with db.session() as s, pytest.raises(ValueError):
        files_needing_rescan(s, limit=0)


def schedule(name, next_run, active=True):
    return ScanSchedule(name=name, schedule_value="0 3 * * *", next_run=next_run, is_active=active)


def test_due_schedules_are_active_and_not_in_the_future(db):
    with db.session() as s:
        s.add_all(
            [
                schedule("later", NOW + dt.timedelta(minutes=1)),
                schedule("exactly-now", NOW),
                schedule("overdue", NOW - dt.timedelta(hours=3)),
                schedule("paused", NOW - dt.timedelta(days=1), active=False),
                schedule("never-planned", None),
            ]
        )
    with db.session() as s:
        assert [x.name for x in due_schedules(s, now=NOW)] == ["overdue", "exactly-now"]
        assert [x.name for x in due_schedules(s, now=NOW + dt.timedelta(minutes=1))] == [
            "overdue",
            "exactly-now",
            "later",
        ]


def test_queries_default_to_the_real_clock(db):
    with db.session() as s:
        s.add(schedule("past", dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
        s.add(schedule("future", dt.datetime(2999, 1, 1, tzinfo=dt.UTC)))
        s.add(result("/m/old.mkv", scan_date=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    with db.session() as s:
        assert [x.name for x in due_schedules(s)] == ["past"]
        assert [r.file_path for r in files_needing_rescan(s)] == ["/m/old.mkv"]
