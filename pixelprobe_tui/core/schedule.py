"""Schedule maths: parse cron expressions and intervals, and compute when a schedule runs next.

Two kinds of specification:

- **cron**: five fields (minute hour day-of-month month day-of-week), or ``@hourly``, ``@daily``,
  ``@midnight``, ``@weekly``, ``@monthly``, ``@yearly``/``@annually``. Validated with croniter; six- and
  seven-field forms (seconds, years) are refused. Day of week 0 and 7 both mean Sunday; ``L`` in the
  day-of-month field means the month's last day; ``0 0 31 * *`` runs only in months that have a 31st. When both
  day fields are restricted a day matches either of them (classic cron). An expression that never matches
  (``0 0 30 2 *``) is refused.
- **interval**: ``every 30m``, ``every 6h``, ``every 1d``, ``every 2w`` (also ``every 6 hours`` ...), at least one
  minute and at most a year. An interval is elapsed time: ``every 1d`` is 24 hours, so across a DST change it
  runs an hour earlier or later on the wall clock. ``every 1d at 03:00`` is shorthand for the cron expression
  ``0 3 * * *``.

Cron expressions are evaluated in **local time** (the zone passed as ``tz``), so ``0 3 * * *`` means 03:00 on
the wall clock all year. Daylight-saving changes:

- spring forward (a wall-clock time that does not exist, e.g. 02:30 in Europe/Berlin on the last Sunday of
  March): the slot runs once at the first instant after the gap (03:00 local). Several slots inside one gap
  (``*/15 2 * * *``) collapse into that single run.
- fall back (a wall-clock time that happens twice): the slot runs once, at its first occurrence. A
  ``*/15 * * * *`` schedule therefore pauses during the repeated hour instead of running twice per slot.

Missed runs: when a process finds a schedule whose next run is in the past (the machine was off, no daemon
was running), it runs the schedule ONCE, not once per missed slot, and moves the next run to the first slot
after now. For an interval the slots keep their grid (``next_run + k * interval``), so a late run does not make
the schedule drift.

Everything here is pure: aware UTC datetimes in and out, the zone passed explicitly.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

ScheduleKind = Literal["cron", "interval"]

MIN_INTERVAL = dt.timedelta(minutes=1)
MAX_INTERVAL = dt.timedelta(days=366)
PREVIEW_RUNS = 5

_UNITS: dict[str, dt.timedelta] = {
    "m": dt.timedelta(minutes=1),
    "min": dt.timedelta(minutes=1),
    "mins": dt.timedelta(minutes=1),
    "minute": dt.timedelta(minutes=1),
    "minutes": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
    "hr": dt.timedelta(hours=1),
    "hrs": dt.timedelta(hours=1),
    "hour": dt.timedelta(hours=1),
    "hours": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "day": dt.timedelta(days=1),
    "days": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
    "week": dt.timedelta(weeks=1),
    "weeks": dt.timedelta(weeks=1),
}
_SHORT_UNIT = {dt.timedelta(minutes=1): "m", dt.timedelta(hours=1): "h", dt.timedelta(days=1): "d"}
_INTERVAL = re.compile(r"every\s+(\d+)?\s*([a-z]+)(?:\s+at\s+(\d{1,2}):(\d{2}))?", re.IGNORECASE)
_NICKNAMES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# A DST change never moves a wall clock by more than this (the largest in the tz database is 2 hours), so
# starting the cron walk this far before "after" cannot miss a slot whose first occurrence is after it.
_DST_MARGIN = dt.timedelta(hours=3)
_CRON_FORMAT_HINT = "minute hour day-of-month month day-of-week, e.g. '0 3 * * *'"


class ScheduleSpecError(ValueError):
    """A schedule text that is neither a valid cron expression nor an interval; the message says why."""


@dataclass(frozen=True)
class ScheduleSpec:
    """A parsed schedule: ``kind`` and the canonical text stored in ``scan_schedules.schedule_value``."""

    kind: ScheduleKind
    text: str
    interval: dt.timedelta | None = None  # for kind == "interval"
    cron: str | None = None  # five fields, for kind == "cron"

    def describe(self) -> str:
        """A short human description ("every 6h", "cron 0 3 * * * (local time)")."""
        if self.kind == "interval":
            return self.text
        return f"cron {self.text} (local time)"


def parse_schedule(text: str, kind: ScheduleKind | None = None) -> ScheduleSpec:
    """Parse a cron expression or an interval; raises :class:`ScheduleSpecError` with a clear message.

    *kind* forces one reading (as stored in ``scan_schedules.schedule_type``); by default an ``every ...`` text
    is an interval and anything else a cron expression.
    """
    raw = " ".join(str(text).split())
    if not raw:
        raise ScheduleSpecError(
            "empty schedule: give a cron expression ('0 3 * * *') or an interval ('every 6h')"
        )
    is_interval = raw.lower().startswith("every")
    if kind == "interval" or (kind is None and is_interval):
        return _parse_interval(raw)
    if kind not in (None, "cron"):
        raise ScheduleSpecError(f"unknown schedule type {kind!r} (cron or interval)")
    return _parse_cron(raw)


def _parse_interval(raw: str) -> ScheduleSpec:
    m = _INTERVAL.fullmatch(raw)
    if m is None:
        raise ScheduleSpecError(
            f"bad interval {raw!r}: write 'every N' and a unit m, h, d or w (e.g. 'every 30m', 'every 6h')"
        )
    count = int(m.group(1)) if m.group(1) else 1  # "every day" is "every 1d"
    unit_text, hour, minute = m.group(2).lower(), m.group(3), m.group(4)
    unit = _UNITS.get(unit_text)
    if unit is None:
        raise ScheduleSpecError(f"bad interval {raw!r}: unknown unit {unit_text!r} (use m, h, d or w)")
    if hour is not None:
        # "every 1d at 03:00" is a daily wall-clock time: that is what cron is for.
        h, mi = int(hour), int(minute)
        if count != 1 or unit != dt.timedelta(days=1):
            raise ScheduleSpecError(
                f"bad interval {raw!r}: 'at HH:MM' works only with 'every 1d'; use a cron expression for "
                "other calendars (e.g. '0 3 */2 * *' or '0 3 * * 1')"
            )
        if h > 23 or mi > 59:
            raise ScheduleSpecError(f"bad interval {raw!r}: {hour}:{minute} is not a time of day")
        return _parse_cron(f"{mi} {h} * * *")
    interval = count * unit
    if interval < MIN_INTERVAL:
        raise ScheduleSpecError(f"bad interval {raw!r}: the shortest interval is 1 minute")
    if interval > MAX_INTERVAL:
        raise ScheduleSpecError(f"bad interval {raw!r}: the longest interval is 366 days")
    return ScheduleSpec("interval", f"every {_interval_text(interval)}", interval=interval)


def _interval_text(interval: dt.timedelta) -> str:
    seconds = int(interval.total_seconds())
    if seconds % (7 * 86400) == 0:
        return f"{seconds // (7 * 86400)}w"
    for unit, suffix in sorted(_SHORT_UNIT.items(), reverse=True):
        size = int(unit.total_seconds())
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds // 60}m"  # unreachable: intervals are whole minutes


def _parse_cron(raw: str) -> ScheduleSpec:
    lowered = raw.lower()
    if lowered.startswith("@"):
        fields_text = _NICKNAMES.get(lowered)
        if fields_text is None:
            raise ScheduleSpecError(
                f"bad cron expression {raw!r}: unknown nickname (use {', '.join(sorted(_NICKNAMES))})"
            )
    else:
        fields_text = raw
    fields = fields_text.split(" ")
    if len(fields) != 5:
        extra = " (seconds and years are not supported)" if len(fields) in (6, 7) else ""
        raise ScheduleSpecError(
            f"bad cron expression {raw!r}: {len(fields)} fields, expected 5{extra}: {_CRON_FORMAT_HINT}"
        )
    try:
        itr = croniter(fields_text, dt.datetime(2000, 1, 1))
    except CroniterError as exc:
        raise ScheduleSpecError(f"bad cron expression {raw!r}: {_croniter_reason(exc)}") from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ScheduleSpecError(f"bad cron expression {raw!r}: {exc}") from None
    try:
        itr.get_next(dt.datetime)
    except CroniterBadDateError:
        raise ScheduleSpecError(f"cron expression {raw!r} never matches a date") from None
    canonical = lowered if lowered.startswith("@") else fields_text
    return ScheduleSpec("cron", canonical, cron=fields_text)


def _croniter_reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    # croniter repeats the expression in brackets: "[61 * * * *] is not acceptable, out of range".
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return f"{text} ({_CRON_FORMAT_HINT})"


def _require_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("schedule times must be timezone-aware")
    return moment.astimezone(dt.UTC)


def local_to_utc(naive: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The instant a wall-clock time in *tz* denotes, under the DST policy of this module.

    A time in a spring-forward gap maps to the end of the gap; a time that happens twice maps to its first
    occurrence.
    """
    first = naive.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(dt.UTC)
    # zoneinfo reads a nonexistent time with the offset from before the gap; converting back then gives a
    # different wall-clock time. The gap ends where the offset after the change starts.
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        after = naive.replace(tzinfo=tz, fold=1)
        gap_end_guess = after.astimezone(dt.UTC)
        # Walk back to the exact transition: the earliest instant whose wall-clock time is past *naive*.
        lo, hi = min(utc, gap_end_guess), max(utc, gap_end_guess)
        while hi - lo > dt.timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if mid.astimezone(tz).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        return hi.replace(microsecond=0) if hi.microsecond else hi
    return utc


def next_run(
    spec: ScheduleSpec,
    after: dt.datetime,
    tz: dt.tzinfo,
    *,
    anchor: dt.datetime | None = None,
) -> dt.datetime:
    """The first run strictly after *after* (aware), as an aware UTC datetime.

    Cron runs are wall-clock slots in *tz*. Interval runs are ``after + interval``, or, with *anchor* (a
    previous slot), the first ``anchor + k * interval`` after *after*, so late runs keep the grid.
    """
    after = _require_utc(after)
    if spec.kind == "interval":
        assert spec.interval is not None
        if anchor is None:
            return after + spec.interval
        anchor = _require_utc(anchor)
        if anchor > after:
            return anchor
        steps = (after - anchor) // spec.interval + 1
        return anchor + steps * spec.interval
    assert spec.cron is not None
    start_local = after.astimezone(tz).replace(tzinfo=None) - _DST_MARGIN
    itr = croniter(spec.cron, start_local)
    while True:
        candidate = local_to_utc(itr.get_next(dt.datetime), tz)
        if candidate > after:
            return candidate


def next_runs(
    spec: ScheduleSpec,
    after: dt.datetime,
    tz: dt.tzinfo,
    n: int = PREVIEW_RUNS,
    *,
    anchor: dt.datetime | None = None,
) -> list[dt.datetime]:
    """The next *n* runs after *after* (aware UTC datetimes, increasing)."""
    runs: list[dt.datetime] = []
    moment = after
    for _ in range(n):
        moment = next_run(spec, moment, tz, anchor=anchor)
        anchor = None if spec.kind == "cron" else moment
        runs.append(moment)
    return runs


def advance(spec: ScheduleSpec, slot: dt.datetime, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The next run after running *slot* at *now*: the first slot after both (the missed-run policy)."""
    slot, now = _require_utc(slot), _require_utc(now)
    if spec.kind == "interval":
        return next_run(spec, max(slot, now), tz, anchor=slot)
    return next_run(spec, max(slot, now), tz)


def local_zone() -> dt.tzinfo:
    """The zone of this machine: ``$TZ`` when it names a zone, else ``/etc/localtime``, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "/zoneinfo/"
        if marker in target:
            return ZoneInfo(target.split(marker, 1)[1])
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def format_local(moment: dt.datetime | None, tz: dt.tzinfo) -> str:
    """``2026-03-29 03:00 CEST (Sun)`` for a run time; ``-`` for None."""
    if moment is None:
        return "-"
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M %Z (%a)").replace("  ", " ")
