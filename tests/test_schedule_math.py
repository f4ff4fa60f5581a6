"""Cron and interval maths of core/schedule.py: DST in two zones, day-of-week numbering, month ends."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pixelprobe_tui.core.schedule import (
    ScheduleSpecError,
    advance,
    local_to_utc,
    next_run,
    next_runs,
    parse_schedule,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold)


def walls(runs: list[dt.datetime], tz: ZoneInfo) -> list[str]:
    return [r.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") for r in runs]


# -- parsing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "interval"),
    [
        ("every 6h", "every 6h", dt.timedelta(hours=6)),
        ("every 30m", "every 30m", dt.timedelta(minutes=30)),
        ("every 1d", "every 1d", dt.timedelta(days=1)),
        ("every 1w", "every 1w", dt.timedelta(weeks=1)),
        ("Every  2 hours", "every 2h", dt.timedelta(hours=2)),
        ("every 14d", "every 2w", dt.timedelta(days=14)),
        ("every 90 minutes", "every 90m", dt.timedelta(minutes=90)),
        ("every 48h", "every 2d", dt.timedelta(days=2)),
    ],
)
def test_intervals_parse(text, canonical, interval):
    spec = parse_schedule(text)
    assert (spec.kind, spec.text, spec.interval) == ("interval", canonical, interval)


def test_daily_at_is_cron():
    spec = parse_schedule("every 1d at 03:00")
    assert (spec.kind, spec.text) == ("cron", "0 3 * * *")
    assert parse_schedule("every day at 7:05").text == "5 7 * * *"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty schedule"),
        ("every", "bad interval"),
        ("every 0m", "shortest interval is 1 minute"),
        ("every 5 fortnights", "unknown unit 'fortnights'"),
        ("every 400d", "longest interval"),
        ("every 2d at 03:00", "only with 'every 1d'"),
        ("every 1d at 25:00", "not a time of day"),
        ("0 3 * * * *", "6 fields, expected 5 (seconds and years are not supported)"),
        ("0 0 3 * * * 2030", "7 fields"),
        ("0 3 * *", "4 fields, expected 5"),
        ("61 * * * *", "bad cron expression '61 * * * *'"),
        ("hello world foo bar baz", "bad cron expression"),
        ("0 0 30 2 *", "never matches"),
        ("@reboot", "unknown nickname"),
    ],
)
def test_bad_specs_have_clear_messages(text, message):
    with pytest.raises(ScheduleSpecError) as info:
        parse_schedule(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_nicknames_and_forced_kind():
    assert parse_schedule("@daily").cron == "0 0 * * *"
    assert parse_schedule("@weekly").cron == "0 0 * * 0"
    with pytest.raises(ScheduleSpecError):
        parse_schedule("0 3 * * *", kind="interval")
    assert parse_schedule("every 6h", kind="interval").interval == dt.timedelta(hours=6)


# -- cron in local time across DST --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "before_change", "expected"),
    [
        # Europe/Berlin springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST).
        (
            BERLIN,
            utc(2026, 3, 27, 12),
            ["2026-03-28 03:00 CET", "2026-03-29 03:00 CEST", "2026-03-30 03:00 CEST"],
        ),
        # America/New_York springs forward on 2026-03-08 (02:00 EST -> 03:00 EDT).
        (
            NEW_YORK,
            utc(2026, 3, 6, 12),
            ["2026-03-07 03:00 EST", "2026-03-08 03:00 EDT", "2026-03-09 03:00 EDT"],
        ),
        # Falls back on 2026-10-25 (Berlin) and 2026-11-01 (New York).
        (
            BERLIN,
            utc(2026, 10, 23, 12),
            ["2026-10-24 03:00 CEST", "2026-10-25 03:00 CET", "2026-10-26 03:00 CET"],
        ),
        (
            NEW_YORK,
            utc(2026, 10, 30, 12),
            ["2026-10-31 03:00 EDT", "2026-11-01 03:00 EST", "2026-11-02 03:00 EST"],
        ),
    ],
)
def test_daily_cron_keeps_wall_clock_across_dst(tz, before_change, expected):
    runs = next_runs(parse_schedule("0 3 * * *"), before_change, tz, 3)
    assert walls(runs, tz) == expected
    # 03:00 local is 02:00 UTC in winter and 01:00 UTC in summer in Berlin: the UTC times really differ.
    assert len({r.time() for r in runs}) == 2


def test_spring_forward_gap_runs_once_at_end_of_gap():
    spec = parse_schedule("30 2 * * *")
    runs = next_runs(spec, utc(2026, 3, 27, 12), BERLIN, 3)
    assert walls(runs, BERLIN) == ["2026-03-28 02:30 CET", "2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]
    assert runs[1] == utc(2026, 3, 29, 1, 0)

    # Four slots inside the gap (02:00 .. 02:45) collapse into one run at 03:00.
    quarter = parse_schedule("*/15 2 * * *")
    runs = next_runs(quarter, local(BERLIN, 2026, 3, 28, 23), BERLIN, 2)
    assert walls(runs, BERLIN) == ["2026-03-29 03:00 CEST", "2026-03-30 02:00 CEST"]

    ny = next_runs(spec, utc(2026, 3, 7, 12), NEW_YORK, 2)
    assert walls(ny, NEW_YORK) == ["2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]


def test_fall_back_repeat_runs_once():
    spec = parse_schedule("30 2 * * *")
    runs = next_runs(spec, utc(2026, 10, 24, 12), BERLIN, 2)
    # 02:30 happens twice on 2026-10-25 (CEST, then CET): one run, at the first.
    assert runs[0] == local(BERLIN, 2026, 10, 25, 2, 30, fold=0).astimezone(UTC)
    assert walls(runs, BERLIN) == ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]
    # Asked from inside the repeated hour (after the first 02:30), the next run is the next day's.
    second_pass = local(BERLIN, 2026, 10, 25, 2, 10, fold=1)
    assert walls([next_run(spec, second_pass, BERLIN)], BERLIN) == ["2026-10-26 02:30 CET"]

    hourly = parse_schedule("0 * * * *")
    runs = next_runs(hourly, local(BERLIN, 2026, 10, 25, 0, 30), BERLIN, 4)
    # 02:00 runs once (CEST); the repeated 02:00 CET is not a second run; 03:00 CET follows.
    assert walls(runs, BERLIN) == [
        "2026-10-25 01:00 CEST",
        "2026-10-25 02:00 CEST",
        "2026-10-25 03:00 CET",
        "2026-10-25 04:00 CET",
    ]
    assert runs[2] - runs[1] == dt.timedelta(hours=2)


def test_local_to_utc_gap_and_fold():
    assert local_to_utc(dt.datetime(2026, 3, 8, 2, 15), NEW_YORK) == utc(2026, 3, 8, 7, 0)
    assert local_to_utc(dt.datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert local_to_utc(dt.datetime(2026, 7, 1, 12, 0), NEW_YORK) == utc(2026, 7, 1, 16, 0)


# -- calendar rules -----------------------------------------------------------------------------------------


def test_day_of_week_zero_and_seven_are_sunday():
    start = utc(2026, 11, 25)  # a Wednesday
    for field in ("0", "7", "sun"):
        runs = next_runs(parse_schedule(f"0 12 * * {field}"), start, UTC, 3)
        assert [r.strftime("%a %d") for r in runs] == ["Sun 29", "Sun 06", "Sun 13"]
    monday = next_runs(parse_schedule("0 12 * * 1"), start, UTC, 1)
    assert monday[0].strftime("%a") == "Mon"
    weekdays = next_runs(parse_schedule("0 9 * * 1-5"), start, UTC, 5)
    assert [r.strftime("%a") for r in weekdays] == ["Wed", "Thu", "Fri", "Mon", "Tue"]


def test_day_31_only_in_long_months_and_last_day():
    runs = next_runs(parse_schedule("0 0 31 * *"), utc(2026, 1, 1), UTC, 7)
    assert [r.strftime("%m-%d") for r in runs] == [
        "01-31",
        "03-31",
        "05-31",
        "07-31",
        "08-31",
        "10-31",
        "12-31",
    ]
    last = next_runs(parse_schedule("0 0 L * *"), utc(2027, 12, 1), UTC, 4)
    assert [r.strftime("%Y-%m-%d") for r in last] == ["2027-12-31", "2028-01-31", "2028-02-29", "2028-03-31"]
    leap = next_runs(parse_schedule("0 0 29 2 *"), utc(2026, 1, 1), UTC, 2)
    assert [r.year for r in leap] == [2028, 2032]


def test_day_fields_are_ored_like_cron():
    runs = next_runs(parse_schedule("0 0 13 * 5"), utc(2026, 11, 1), UTC, 4)
    # Friday or the 13th: Fri 6, Fri 13 (both), Fri 20, Fri 27.
    assert [r.day for r in runs] == [6, 13, 20, 27]
    runs = next_runs(parse_schedule("0 0 1 * 1"), utc(2026, 11, 25), UTC, 3)
    assert [r.strftime("%a %d") for r in runs] == ["Mon 30", "Tue 01", "Mon 07"]


def test_result_is_strictly_after_and_utc():
    spec = parse_schedule("0 3 * * *")
    at_slot = local(BERLIN, 2026, 6, 1, 3, 0)
    nxt = next_run(spec, at_slot, BERLIN)
    assert nxt.tzinfo is UTC
    assert nxt == local(BERLIN, 2026, 6, 2, 3, 0).astimezone(UTC)
    with pytest.raises(ValueError):
        next_run(spec, dt.datetime(2026, 1, 1), BERLIN)


# -- intervals and the missed-run policy --------------------------------------------------------------------


def test_interval_is_elapsed_time_across_dst():
    spec = parse_schedule("every 1d")
    start = local(BERLIN, 2026, 3, 28, 3, 0)
    runs = next_runs(spec, start, BERLIN, 2)
    assert runs[0] - start == dt.timedelta(hours=24)
    # 24 hours after 03:00 CET on the day of the change is 04:00 CEST.
    assert walls(runs, BERLIN) == ["2026-03-29 04:00 CEST", "2026-03-30 04:00 CEST"]


def test_interval_with_anchor_keeps_its_grid():
    spec = parse_schedule("every 6h")
    anchor = utc(2026, 1, 1, 0, 0)
    assert next_run(spec, utc(2026, 1, 1, 13, 7), UTC, anchor=anchor) == utc(2026, 1, 1, 18, 0)
    assert next_run(spec, utc(2026, 1, 1, 18, 0), UTC, anchor=anchor) == utc(2026, 1, 2, 0, 0)
    assert next_run(spec, utc(2025, 12, 31), UTC, anchor=anchor) == anchor


def test_missed_runs_collapse_into_one():
    cron = parse_schedule("0 * * * *")
    slot = utc(2026, 1, 1, 0, 0)
    now = utc(2026, 1, 3, 10, 17)  # 58 slots were missed
    assert advance(cron, slot, now, UTC) == utc(2026, 1, 3, 11, 0)
    every = parse_schedule("every 6h")
    assert advance(every, slot, now, UTC) == utc(2026, 1, 3, 12, 0)
    # A run on time advances by exactly one slot.
    assert advance(every, slot, slot, UTC) == utc(2026, 1, 1, 6, 0)
    assert advance(cron, slot, slot + dt.timedelta(seconds=3), UTC) == utc(2026, 1, 1, 1, 0)
