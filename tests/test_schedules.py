"""services/schedules.py on SQLite and PostgreSQL: CRUD, claims, busy retries, and exactly-once across two
real processes."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.models import ScanReport, ScanSchedule
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.schedules import (
    ScheduleBusy,
    ScheduleError,
    Scheduler,
    ScheduleService,
    claim_due,
    make_owner,
    release,
    run_now,
    start_in_process,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def row(db, name: str) -> ScanSchedule:
    with db.session() as s:
        return s.execute(sa.select(ScanSchedule).where(ScanSchedule.name == name)).scalar_one()


def set_next_run(db, name: str, when: dt.datetime) -> None:
    with db.session() as s:
        s.execute(sa.update(ScanSchedule).where(ScanSchedule.name == name).values(next_run=when))


# -- CRUD ---------------------------------------------------------------------------------------------------


def test_add_list_edit_enable_remove(db, tmp_path):
    svc = ScheduleService(db, tz=UTC)
    nightly = svc.add("nightly", "0 3 * * *", now=T0)
    assert nightly.next_run == dt.datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
    assert (nightly.schedule_type, nightly.schedule_value, nightly.scan_paths) == ("cron", "0 3 * * *", ())
    sweep = svc.add("sweep", "every 6h", scan_type="cleanup", now=T0)
    assert sweep.next_run == T0 + dt.timedelta(hours=6)
    assert [i.name for i in svc.all()] == ["nightly", "sweep"]

    edited = svc.edit("nightly", spec="every 1d at 04:30", paths=[str(tmp_path)], force_rescan=True, now=T0)
    assert edited.next_run == dt.datetime(2026, 1, 6, 4, 30, tzinfo=UTC)
    assert edited.scan_paths == (str(tmp_path),) and edited.force_rescan
    renamed = svc.edit("nightly", new_name="early", now=T0)
    assert renamed.name == "early" and renamed.next_run == edited.next_run

    off = svc.set_active("early", False)
    assert (off.is_active, off.next_run) == (False, None)
    assert svc.due(T0 + dt.timedelta(days=9)) == [svc.get("sweep")]
    on = svc.set_active("early", True, now=T0 + dt.timedelta(days=3))
    assert on.next_run == dt.datetime(2026, 1, 9, 4, 30, tzinfo=UTC)

    assert svc.remove("early").name == "early"
    assert [i.name for i in svc.all()] == ["sweep"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "dup", "spec": "every 1h"}, "already exists"),
        ({"name": " ", "spec": "every 1h"}, "needs a name"),
        ({"name": "x", "spec": "every 1 fortnight"}, "unknown unit"),
        ({"name": "x", "spec": "0 3 * * * *"}, "6 fields, expected 5"),
        ({"name": "x", "spec": "every 1h", "scan_type": "defrag"}, "unknown schedule type 'defrag'"),
        ({"name": "x", "spec": "every 1h", "paths": ["relative/dir"]}, "must be absolute"),
        ({"name": "x", "spec": "every 1h", "scan_type": "cleanup", "paths": ["/srv"]}, "scan schedules only"),
    ],
)
def test_bad_requests_are_config_errors(db, kwargs, message):
    svc = ScheduleService(db, tz=UTC)
    svc.add("dup", "every 1h", now=T0)
    with pytest.raises(ConfigError) as info:
        svc.add(**kwargs, now=T0)
    assert isinstance(info.value, ScheduleError)
    assert message in str(info.value)
    assert [i.name for i in svc.all()] == ["dup"]


def test_unknown_name_lists_known_ones(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("nightly", "@daily", now=T0)
    with pytest.raises(ScheduleError, match=r"no schedule named 'nighty' \(schedules: nightly\)"):
        svc.edit("nighty", spec="@hourly")
    svc.add("other", "@daily", now=T0)
    with pytest.raises(ScheduleError, match="already exists"):
        svc.edit("other", new_name="nightly")


# -- claims -------------------------------------------------------------------------------------------------


def test_claim_is_exactly_once_and_advances_past_missed_slots(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("hourly", "0 * * * *", now=T0)  # next run 13:00
    now = dt.datetime(2026, 1, 7, 9, 20, tzinfo=UTC)  # 45 slots missed
    first = claim_due(db, "a:1:x", now, UTC)
    assert [(c.schedule.name, c.slot) for c in first] == [
        ("hourly", dt.datetime(2026, 1, 5, 13, 0, tzinfo=UTC))
    ]
    assert claim_due(db, "b:2:y", now, UTC) == []  # same moment, other owner: nothing left
    stored = row(db, "hourly")
    assert stored.next_run == dt.datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
    assert (stored.last_run, stored.claimed_by, stored.claimed_at) == (now, "a:1:x", now)
    assert release(db, first[0])
    stored = row(db, "hourly")
    assert (stored.claimed_by, stored.claimed_at, stored.last_run) == (None, None, now)
    assert claim_due(db, "b:2:y", now + dt.timedelta(minutes=39), UTC) == []
    assert len(claim_due(db, "b:2:y", now + dt.timedelta(minutes=40), UTC)) == 1


def test_enabled_schedule_without_next_run_gets_one(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("nightly", "0 3 * * *", now=T0)
    with db.session() as s:
        s.execute(sa.update(ScanSchedule).values(next_run=None))
    assert claim_due(db, make_owner(), T0, UTC) == []
    assert row(db, "nightly").next_run == dt.datetime(2026, 1, 6, 3, 0, tzinfo=UTC)


def test_interval_claim_keeps_the_grid(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("six", "every 6h", now=T0)  # 18:00
    late = dt.datetime(2026, 1, 6, 1, 30, tzinfo=UTC)
    (run,) = claim_due(db, make_owner(), late, UTC)
    assert run.new_next_run == dt.datetime(2026, 1, 6, 6, 0, tzinfo=UTC)


def test_claim_of_a_dead_owner_is_taken_over(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("nightly", "0 3 * * *", now=T0)
    now = dt.datetime(2026, 1, 6, 3, 0, 5, tzinfo=UTC)
    (run,) = claim_due(db, make_owner(), now, UTC)
    # A live owner (this process) with a fresh claim keeps it.
    assert claim_due(db, make_owner(), now + dt.timedelta(minutes=1), UTC) == []
    # The same claim after its lease ran out is taken over, without moving next_run again.
    late = now + dt.timedelta(minutes=11)
    (again,) = claim_due(db, "other:9:z", late, UTC, lease_s=600)
    assert again.reclaimed and again.slot == run.new_next_run and again.new_next_run == run.new_next_run
    assert not release(db, run)  # the first owner's claim is gone: its release changes nothing
    assert release(db, again)

    # An owner on this host whose pid is gone is dead at once.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    ghost = f"{socket.gethostname()}:{dead.stdout.strip()}:dead"
    with db.session() as s:
        s.execute(sa.update(ScanSchedule).values(claimed_by=ghost, claimed_at=late))
    (taken,) = claim_due(db, "me:1:a", late + dt.timedelta(seconds=1), UTC)
    assert taken.reclaimed and taken.schedule.name == "nightly"


def test_busy_run_is_given_back_or_retried(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("nightly", "0 3 * * *", now=T0)
    slot = dt.datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
    busy = {"left": 2}
    ran: list[dt.datetime] = []

    def runner(schedule: ScanSchedule) -> None:
        if busy["left"]:
            busy["left"] -= 1
            raise ScheduleBusy("a scan is already running")
        ran.append(schedule.next_run)

    sched = Scheduler(db, {"scan": runner}, tz=UTC, retry_s=0)
    now = slot + dt.timedelta(minutes=5)
    (outcome,) = sched.run_pending(now)
    assert outcome.status == "busy" and "given back" in outcome.message
    stored = row(db, "nightly")
    assert (stored.next_run, stored.last_run, stored.claimed_by) == (slot, None, None)

    (outcome,) = sched.run_pending(now, keep_busy=True)
    assert outcome.status == "busy" and sched.waiting == ["nightly"]
    assert row(db, "nightly").claimed_by == sched.owner  # kept: no one else may take it meanwhile
    assert claim_due(db, "other:1:b", now, UTC) == []
    (outcome,) = sched.run_pending(now, keep_busy=True)
    assert outcome.status == "ran" and ran == [slot] and sched.waiting == []
    stored = row(db, "nightly")
    assert stored.claimed_by is None and stored.next_run == dt.datetime(2026, 1, 7, 3, 0, tzinfo=UTC)


def test_runs_behind_a_long_run_are_claimed_one_at_a_time(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("first", "every 1h", now=T0 - dt.timedelta(minutes=1))
    svc.add("second", "every 1h", now=T0)
    seen: list[tuple[str, str | None]] = []

    def runner(schedule: ScanSchedule) -> None:
        other = "second" if schedule.name == "first" else "first"
        seen.append((schedule.name, row(db, other).claimed_by))

    outcomes = Scheduler(db, {"scan": runner}, tz=UTC).run_pending(T0 + dt.timedelta(hours=2))
    assert [o.name for o in outcomes] == ["first", "second"]
    # While "first" ran, "second" was not claimed yet: a claim never sits without a heartbeat.
    assert seen == [("first", None), ("second", None)]


def test_waiting_claims_keep_their_lease_and_yield_to_a_takeover(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("nightly", "0 3 * * *", now=T0)
    runs: list[str] = []

    def runner(schedule: ScanSchedule) -> None:
        runs.append(schedule.name)
        raise ScheduleBusy("a scan is already running")

    now = dt.datetime(2026, 1, 6, 3, 5, tzinfo=UTC)
    sched = Scheduler(db, {"scan": runner}, tz=UTC, retry_s=3600, heartbeat_s=0)
    sched.run_pending(now, keep_busy=True)
    first_claim = row(db, "nightly").claimed_at
    time.sleep(0.01)
    assert sched.run_pending(now, keep_busy=True) == []  # not time to retry, but the lease was refreshed
    assert row(db, "nightly").claimed_at > first_claim
    with db.session() as s:  # another process decided we were dead and took the run over
        s.execute(sa.update(ScanSchedule).values(claimed_by="other:1:x"))
    sched.run_pending(now, keep_busy=True)
    assert sched.waiting == [] and runs == ["nightly"]


def test_scheduler_sleeps_until_the_next_slot_not_in_a_hot_loop(db):
    svc = ScheduleService(db, tz=UTC)
    now = dt.datetime.now(UTC)
    svc.add("running elsewhere", "every 1h", now=now - dt.timedelta(hours=2))
    with db.session() as s:  # overdue, but a live process holds it (a long scan)
        s.execute(sa.update(ScanSchedule).values(claimed_by=make_owner(), claimed_at=now))
    sched = Scheduler(db, {}, tz=UTC, poll_s=30)
    assert sched._sleep_s() == 30
    svc.add("soon", "every 1h", now=now - dt.timedelta(minutes=59, seconds=50))
    assert 5 < sched._sleep_s() < 11


def test_failed_run_counts_as_run(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("broken", "every 1h", now=T0)

    def runner(schedule: ScanSchedule) -> None:
        raise RuntimeError("disk on fire")

    (outcome,) = Scheduler(db, {"scan": runner}, tz=UTC).run_pending(T0 + dt.timedelta(hours=2))
    assert (outcome.status, outcome.message) == ("failed", "disk on fire")
    stored = row(db, "broken")
    assert stored.claimed_by is None and stored.next_run == T0 + dt.timedelta(hours=3)


def test_run_now_records_the_run_and_keeps_the_plan(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("nightly", "0 3 * * *", scan_type="cleanup")
    planned = svc.get("nightly").next_run
    seen: list[str] = []

    def ok_runner(schedule: ScanSchedule) -> str:
        assert row(db, "nightly").claimed_by is not None  # held while it runs: nobody else starts it
        seen.append(schedule.name)
        return "summary"

    done = run_now(db, "nightly", {"cleanup": ok_runner}, tz=UTC)
    assert (done.summary, done.outcome.status, seen) == ("summary", "ran", ["nightly"])
    after = row(db, "nightly")
    assert after.last_run is not None and after.next_run == planned and after.claimed_by is None
    last = after.last_run

    def busy_runner(_schedule: ScanSchedule) -> None:
        raise ScheduleBusy("a scan is running")

    with pytest.raises(ScheduleBusy, match="a scan is running"):
        run_now(db, "nightly", {"cleanup": busy_runner}, tz=UTC)
    after = row(db, "nightly")
    assert (after.last_run, after.next_run, after.claimed_by) == (last, planned, None)  # given back

    def broken_runner(_schedule: ScanSchedule) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        run_now(db, "nightly", {"cleanup": broken_runner}, tz=UTC)
    after = row(db, "nightly")
    assert (
        after.last_run > last and after.next_run == planned and after.claimed_by is None
    )  # a failed run ran

    set_next_run(db, "nightly", T0)  # overdue: the run on demand is that run, so the plan moves on
    run_now(db, "nightly", {"cleanup": ok_runner}, tz=UTC)
    assert row(db, "nightly").next_run > dt.datetime.now(UTC)
    assert claim_due(db, make_owner(), tz=UTC) == []

    owner = f"{socket.gethostname()}:{os.getpid()}:other"  # alive: this very process, another scheduler
    with db.session() as s:
        s.execute(sa.update(ScanSchedule).values(claimed_by=owner, claimed_at=dt.datetime.now(UTC)))
    with pytest.raises(ScheduleBusy, match="is running already"):
        run_now(db, "nightly", {"cleanup": ok_runner}, tz=UTC)
    with pytest.raises(ScheduleError, match="no schedule named"):
        run_now(db, "nope", {"cleanup": ok_runner}, tz=UTC)


def test_in_process_scheduler_runs_a_cleanup_schedule(db):
    ScheduleService(db, tz=UTC).add("sweep", "every 1m", scan_type="cleanup", now=dt.datetime.now(UTC))
    with db.session() as s:
        s.execute(sa.update(ScanSchedule).values(next_run=dt.datetime.now(UTC) - dt.timedelta(seconds=1)))
    sched = start_in_process(db, tz=UTC, poll_s=0.2)
    try:
        _wait(
            lambda: row(db, "sweep").claimed_by is None and row(db, "sweep").last_run is not None, 60, "run"
        )
    finally:
        sched.stop(timeout=30)
    with db.session() as s:
        assert s.execute(sa.select(ScanReport.scan_type)).scalars().all() == ["cleanup"]


def test_scheduler_thread_runs_due_and_stops(db):
    svc = ScheduleService(db, tz=UTC)
    svc.add("soon", "every 1m", now=dt.datetime.now(UTC) - dt.timedelta(minutes=2))
    done = threading.Event()
    sched = Scheduler(db, {"scan": lambda s: done.set()}, tz=UTC, poll_s=0.2)
    sched.start()
    try:
        assert done.wait(30)
    finally:
        sched.stop(timeout=30)
    assert not sched._thread.is_alive()
    assert row(db, "soon").last_run is not None


# -- two real processes -------------------------------------------------------------------------------------

RACER = textwrap.dedent(
    """
    import datetime as dt, os, sys, time
    from pixelprobe_tui.db.engine import Database
    from pixelprobe_tui.services.schedules import Scheduler

    url, out, ready, stop = sys.argv[1:5]
    db = Database(url)

    def runner(schedule):
        # One write per run, O_APPEND: lines from both processes never interleave.
        line = f"{schedule.name} {schedule.next_run.isoformat()} {os.getpid()}\\n".encode()
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        time.sleep(0.002)  # widen the window in which the other process sees the row claimed

    sched = Scheduler(db, {"scan": runner}, tz=dt.UTC)
    open(ready + str(os.getpid()), "w").close()
    while not os.path.exists(stop):
        sched.run_pending()
        # A short pause: two racers polling flat out would starve everything else on a 2-core CI machine.
        time.sleep(0.005)
    db.dispose()
    """
)


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.timeout(300)
def test_two_processes_run_each_slot_exactly_once(db, database_url, tmp_path: Path):
    names = [f"s{i:02d}" for i in range(8)]
    svc = ScheduleService(db, tz=UTC)
    far = dt.datetime.now(UTC) + dt.timedelta(days=1)
    for n in names:
        svc.add(n, "every 1h", now=far)  # not due until the test says so
    out, ready, stop = tmp_path / "runs.txt", tmp_path / "ready-", tmp_path / "stop"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, database_url, str(out), str(ready), str(stop)],
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    expected: list[tuple[str, str]] = []
    try:
        _wait(lambda: len(list(tmp_path.glob("ready-*"))) == 2, 120, "both processes to start")

        def consumed() -> bool:
            now = dt.datetime.now(UTC)
            with db.engine.connect() as conn:
                left = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(ScanSchedule)
                    .where(sa.or_(ScanSchedule.next_run <= now, ScanSchedule.claimed_by.is_not(None)))
                ).scalar_one()
            return left == 0

        rounds = 0
        while rounds < 6 or (rounds < 40 and len(_winners(out)) < 2):
            rounds += 1
            slot = dt.datetime.now(UTC) - dt.timedelta(seconds=1, microseconds=rounds)
            with db.session() as s:
                s.execute(sa.update(ScanSchedule).values(next_run=slot))
            expected += [(n, slot.isoformat()) for n in names]
            _wait(consumed, 120, f"round {rounds} to be run")
    finally:
        stop.touch()
        for p in procs:
            try:
                _, err = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            assert p.returncode == 0, err.decode(errors="replace")

    lines = out.read_text().splitlines()
    seen = Counter((name, slot) for name, slot, _pid in (line.split() for line in lines))
    twice = [k for k, c in seen.items() if c > 1]
    assert twice == [], f"run twice: {twice[:5]}"
    assert sorted(seen) == sorted(expected), "a due run was lost or invented"
    assert len(lines) == len(names) * rounds
    assert len(_winners(out)) == 2, "one process never won a claim: the race was not exercised"


def _winners(out: Path) -> set[str]:
    if not out.exists():
        return set()
    return {line.split()[2] for line in out.read_text().splitlines() if line.strip()}
