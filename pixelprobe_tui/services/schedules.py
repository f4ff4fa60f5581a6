"""Schedules: stored CRUD, due runs claimed exactly once across processes, and the scheduler that runs them.

Exactly once. Every process that runs schedules (the TUI, ``pixelprobe daemon``, ``pixelprobe run-due`` from
cron) calls :func:`claim_due`. A claim is one conditional UPDATE, a compare-and-set on what the process read::

    UPDATE scan_schedules SET next_run = :advanced, last_run = :now, claimed_by = :me, claimed_at = :now
     WHERE id = :id AND next_run = :seen_next_run AND claimed_by IS NULL AND is_active

Only one process can change a row from the ``next_run`` it saw, so only one runs that slot; the others see
``rowcount == 0`` and move on. No table lock, no advisory lock: it works the same on SQLite and PostgreSQL.

Never lost. The claim stays on the row (``claimed_by``) while the run lasts, and the runner refreshes
``claimed_at`` every :data:`HEARTBEAT_S`; finishing clears it. A claim whose owner died (same host and the
pid is gone, or no heartbeat for :data:`LEASE_S`) is taken over and the run is done again. A run that cannot
start because a scan is already running (:class:`ScheduleBusy`) keeps its claim and is retried every
``retry_s`` seconds by the scheduler thread; a one-shot ``run-due`` (or a scheduler being stopped) gives the
slot back instead (``next_run`` and ``last_run`` restored), so the next process to look runs it.

Missed runs (see :mod:`pixelprobe_tui.core.schedule`): a schedule found overdue runs once, and its next run
becomes the first slot after now.

Disabled schedules have no next run; enabling one computes it from the current time (runs missed while it
was disabled are not made up).

Run now. :func:`run_now` runs one schedule on demand (``pixelprobe schedule run``, the Schedules screen), also a
disabled one. It claims the row like a due run (a schedule already running anywhere is refused), sets
``last_run``, and leaves the plan alone: ``next_run`` moves only when the schedule was due anyway, in which
case the run on demand is that due run. A run that cannot start because a scan is going on is given back
(``last_run`` restored) and reported as busy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import json_path_list_fields, path_from_db, path_to_db
from pixelprobe_tui.core.schedule import (
    PREVIEW_RUNS,
    ScheduleSpec,
    ScheduleSpecError,
    advance,
    local_zone,
    next_run,
    next_runs,
    parse_schedule,
)
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanSchedule, utcnow
from pixelprobe_tui.errors import ConfigError, PixelProbeError

log = logging.getLogger("pixelprobe.schedules")

SCHEDULE_TYPES = ("scan", "cleanup", "file_changes")
MAX_NAME_CHARS = 200
LEASE_S = 600.0
HEARTBEAT_S = 60.0
RETRY_S = 60.0
POLL_S = 30.0
RELEASE_ATTEMPTS = 6

_T = cast(sa.Table, ScanSchedule.__table__)
_C = _T.c


class ScheduleError(ConfigError):
    """A bad schedule request: unknown name, duplicate name, bad spec, type or path."""


class ScheduleBusy(PixelProbeError):
    """Raised by a runner when its work cannot start now (a scan is already running): try again later."""


@dataclass(frozen=True)
class ScheduleInfo:
    """One stored schedule, detached from any session."""

    id: int
    name: str
    scan_type: str
    schedule_type: str
    schedule_value: str
    scan_paths: tuple[str, ...]  # file system paths (decoded); empty = all configured roots
    is_active: bool
    last_run: dt.datetime | None
    next_run: dt.datetime | None
    created_at: dt.datetime | None
    force_rescan: bool
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = None

    @property
    def spec(self) -> ScheduleSpec:
        """The parsed schedule (raises ScheduleSpecError for a row edited into nonsense outside pixelprobe)."""
        kind = self.schedule_type if self.schedule_type in ("cron", "interval") else None
        return parse_schedule(self.schedule_value, kind)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO 8601 UTC times; paths as the CLI prints them, ``discovery.json_path_fields``)."""

        def iso(v: dt.datetime | None) -> str | None:
            return v.astimezone(dt.UTC).isoformat() if v is not None else None

        return {
            "id": self.id,
            "name": self.name,
            "scan_type": self.scan_type,
            "schedule_type": self.schedule_type,
            "schedule_value": self.schedule_value,
            **json_path_list_fields("scan_paths", self.scan_paths),
            "is_active": self.is_active,
            "force_rescan": self.force_rescan,
            "last_run": iso(self.last_run),
            "next_run": iso(self.next_run),
            "created_at": iso(self.created_at),
            "claimed_by": self.claimed_by,
            "claimed_at": iso(self.claimed_at),
        }

    def to_model(self) -> ScanSchedule:
        """A transient ScanSchedule with these values (what runners receive)."""
        return ScanSchedule(
            id=self.id,
            name=self.name,
            scan_type=self.scan_type,
            schedule_type=self.schedule_type,
            schedule_value=self.schedule_value,
            scan_paths=[path_to_db(p) for p in self.scan_paths],
            is_active=self.is_active,
            last_run=self.last_run,
            next_run=self.next_run,
            created_at=self.created_at,
            force_rescan=self.force_rescan,
            claimed_by=self.claimed_by,
            claimed_at=self.claimed_at,
        )


def _info(row: Any) -> ScheduleInfo:
    paths = row.scan_paths if isinstance(row.scan_paths, list) else []
    return ScheduleInfo(
        id=row.id,
        name=row.name,
        scan_type=row.scan_type,
        schedule_type=row.schedule_type,
        schedule_value=row.schedule_value,
        scan_paths=tuple(path_from_db(str(p)) for p in paths),
        is_active=bool(row.is_active),
        last_run=row.last_run,
        next_run=row.next_run,
        created_at=row.created_at,
        force_rescan=bool(row.force_rescan),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
    )


def schedule_paths(schedule: ScanSchedule) -> list[str]:
    """The file system paths of a schedule handed to a runner (empty: all configured roots)."""
    paths = schedule.scan_paths if isinstance(schedule.scan_paths, list) else []
    return [path_from_db(str(p)) for p in paths]


def _validate_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise ScheduleError("a schedule needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise ScheduleError(f"schedule name too long ({len(name)} characters, at most {MAX_NAME_CHARS})")
    return name


def _validate_type(scan_type: str) -> str:
    t = str(scan_type).strip().lower().replace("-", "_")
    if t not in SCHEDULE_TYPES:
        raise ScheduleError(f"unknown schedule type {scan_type!r} (one of {', '.join(SCHEDULE_TYPES)})")
    return t


def _validate_paths(paths: Iterable[str], scan_type: str) -> list[str]:
    out: list[str] = []
    for p in paths:
        text = os.fsdecode(p)
        if not text:
            continue
        if not os.path.isabs(text):
            raise ScheduleError(f"schedule paths must be absolute: {text!r}")
        norm = os.path.normpath(text)
        if os.path.exists(norm) and not os.path.isdir(norm):
            raise ScheduleError(f"schedule path {text!r} is not a directory")
        if norm not in out:
            out.append(norm)
    if out and scan_type != "scan":
        raise ScheduleError(f"paths apply to scan schedules only (this one is {scan_type})")
    return out


def parse_spec(text: str) -> ScheduleSpec:
    """Parse a schedule text; ScheduleError (a ConfigError: one clear CLI line) when it is bad."""
    try:
        return parse_schedule(text)
    except ScheduleSpecError as exc:
        raise ScheduleError(str(exc)) from None


class ScheduleService:
    """Create, list, change and delete schedules, keeping ``next_run`` true. *tz*: the local zone."""

    def __init__(self, db: Database, tz: dt.tzinfo | None = None):
        self.db = db
        self.tz = tz if tz is not None else local_zone()

    def all(self) -> list[ScheduleInfo]:
        """Every schedule, by name."""
        with self.db.engine.connect() as conn:
            return [_info(r) for r in conn.execute(sa.select(_T).order_by(_C.name))]

    def get(self, name: str | int) -> ScheduleInfo:
        """One schedule by name (or id); ScheduleError when there is none."""
        with self.db.engine.connect() as conn:
            row = self._find(conn, name)
        return _info(row)

    def _find(self, conn: sa.Connection, name: str | int) -> Any:
        row = conn.execute(sa.select(_T).where(_C.name == str(name))).first()
        if row is None and (isinstance(name, int) or str(name).isdigit()):
            row = conn.execute(sa.select(_T).where(_C.id == int(name))).first()
        if row is None:
            known = conn.execute(sa.select(_C.name).order_by(_C.name)).scalars().all()
            hint = f" (schedules: {', '.join(known)})" if known else " (there are no schedules)"
            raise ScheduleError(f"no schedule named {str(name)!r}{hint}")
        return row

    def add(
        self,
        name: str,
        spec: str,
        *,
        scan_type: str = "scan",
        paths: Sequence[str] = (),
        force_rescan: bool = False,
        active: bool = True,
        now: dt.datetime | None = None,
    ) -> ScheduleInfo:
        """Validate and store a new schedule; its next run is computed from *now*."""
        name = _validate_name(name)
        parsed = parse_spec(spec)
        scan_type = _validate_type(scan_type)
        clean_paths = _validate_paths(paths, scan_type)
        now = now or utcnow()
        values = {
            "name": name,
            "scan_type": scan_type,
            "schedule_type": parsed.kind,
            "schedule_value": parsed.text,
            "scan_paths": [path_to_db(p) for p in clean_paths] or None,
            "is_active": active,
            "next_run": next_run(parsed, now, self.tz) if active else None,
            "force_rescan": force_rescan,
            "created_at": now,
        }
        try:
            with self.db.engine.begin() as conn:
                if conn.execute(sa.select(_C.id).where(_C.name == name)).first() is not None:
                    raise ScheduleError(f"a schedule named {name!r} already exists")
                new_id = conn.execute(sa.insert(_T).values(**values).returning(_C.id)).scalar_one()
        except sa.exc.IntegrityError:
            raise ScheduleError(f"a schedule named {name!r} already exists") from None
        return self.get(new_id)

    def edit(
        self,
        name: str | int,
        *,
        new_name: str | None = None,
        spec: str | None = None,
        scan_type: str | None = None,
        paths: Sequence[str] | None = None,
        force_rescan: bool | None = None,
        now: dt.datetime | None = None,
    ) -> ScheduleInfo:
        """Change some fields; a new spec recomputes the next run from *now*. ``paths=[]`` means all roots."""
        now = now or utcnow()
        changes: dict[str, Any] = {}
        with self.db.engine.begin() as conn:
            row = self._find(conn, name)
            if new_name is not None:
                changes["name"] = _validate_name(new_name)
                if changes["name"] != row.name:
                    clash = conn.execute(sa.select(_C.id).where(_C.name == changes["name"])).first()
                    if clash is not None:
                        raise ScheduleError(f"a schedule named {changes['name']!r} already exists")
            effective_type = _validate_type(scan_type) if scan_type is not None else row.scan_type
            if scan_type is not None:
                changes["scan_type"] = effective_type
            if paths is not None:
                clean = _validate_paths(paths, effective_type)
                changes["scan_paths"] = [path_to_db(p) for p in clean] or None
            elif scan_type is not None and effective_type != "scan":
                changes["scan_paths"] = None
            if force_rescan is not None:
                changes["force_rescan"] = force_rescan
            if spec is not None:
                parsed = parse_spec(spec)
                changes["schedule_type"] = parsed.kind
                changes["schedule_value"] = parsed.text
                if row.is_active:
                    changes["next_run"] = next_run(parsed, now, self.tz)
            if changes:
                try:
                    conn.execute(sa.update(_T).where(_C.id == row.id).values(**changes))
                except sa.exc.IntegrityError:
                    raise ScheduleError(f"a schedule named {new_name!r} already exists") from None
            row_id = row.id
        return self.get(row_id)

    def set_active(self, name: str | int, active: bool, now: dt.datetime | None = None) -> ScheduleInfo:
        """Enable (next run computed from *now*) or disable (no next run) a schedule."""
        now = now or utcnow()
        with self.db.engine.begin() as conn:
            row = self._find(conn, name)
            if bool(row.is_active) != active:
                nxt = next_run(_info(row).spec, now, self.tz) if active else None
                conn.execute(sa.update(_T).where(_C.id == row.id).values(is_active=active, next_run=nxt))
            row_id = row.id
        return self.get(row_id)

    def remove(self, name: str | int) -> ScheduleInfo:
        """Delete a schedule; returns what it was."""
        with self.db.engine.begin() as conn:
            row = self._find(conn, name)
            conn.execute(sa.delete(_T).where(_C.id == row.id))
        return _info(row)

    def due(self, now: dt.datetime | None = None) -> list[ScheduleInfo]:
        """Active schedules whose next run is at or before *now* (claimed or not), earliest first."""
        now = now or utcnow()
        stmt = sa.select(_T).where(_C.is_active == sa.true(), _C.next_run <= now).order_by(_C.next_run, _C.id)
        with self.db.engine.connect() as conn:
            return [_info(r) for r in conn.execute(stmt)]

    def preview(
        self, spec: str | ScheduleSpec, n: int = PREVIEW_RUNS, now: dt.datetime | None = None
    ) -> list[dt.datetime]:
        """The next *n* runs of a spec from *now* (aware UTC); ScheduleError for a bad spec."""
        parsed = spec if isinstance(spec, ScheduleSpec) else parse_spec(spec)
        return next_runs(parsed, now or utcnow(), self.tz, n)


# ---------------------------------------------------------------------------------------------------------
# Claims


def make_owner() -> str:
    """A claim owner name: ``host:pid:token`` (the token tells two schedulers of one process apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
        return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] != b"Z"  # a zombie is dead
    except OSError:
        return True


def claim_is_stale(
    owner: str | None, claimed_at: dt.datetime | None, now: dt.datetime, lease_s: float
) -> bool:
    """Whether a claim's owner is gone: its process on this host has exited, or it missed its lease."""
    if owner is None:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid_text.isdigit() and not _pid_alive(int(pid_text)):
        return True
    return claimed_at is None or (now - claimed_at).total_seconds() > lease_s


@dataclass(frozen=True)
class ClaimedRun:
    """A run this process owns: run it, then :func:`release` it."""

    schedule: ScheduleInfo  # as claimed: next_run is the slot being run
    slot: dt.datetime | None  # the next_run that came due
    owner: str
    claimed_at: dt.datetime
    previous_last_run: dt.datetime | None
    new_next_run: dt.datetime | None
    reclaimed: bool = False  # taken over from a dead owner


def claim_due(
    db: Database,
    owner: str,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
    *,
    lease_s: float = LEASE_S,
    limit: int | None = None,
    exclude: Collection[int] = (),
) -> list[ClaimedRun]:
    """Claim due schedules (and runs whose owner died) for *owner*; see the module docstring.

    *limit* stops after that many claims (a scheduler claims one run at a time, so runs waiting behind a
    long one are not claimed and left without a heartbeat); *exclude* skips schedule ids.
    """
    now = now or utcnow()
    tz = tz if tz is not None else local_zone()
    stmt = (
        sa.select(_T)
        .where(
            _C.is_active == sa.true(),
            sa.or_(_C.next_run <= now, _C.next_run.is_(None), _C.claimed_by.is_not(None)),
        )
        .order_by(_C.next_run, _C.id)
    )
    with db.engine.connect() as conn:
        candidates = [_info(r) for r in conn.execute(stmt)]
    claimed: list[ClaimedRun] = []
    for info in candidates:
        if info.id in exclude:
            continue
        reclaim = info.claimed_by is not None
        if reclaim and not claim_is_stale(info.claimed_by, info.claimed_at, now, lease_s):
            continue  # someone is running it right now; an overdue slot waits for them to finish
        try:
            spec = info.spec
        except ScheduleSpecError as exc:
            log.error("schedule %r has an invalid spec and is skipped: %s", info.name, exc)
            continue
        if info.next_run is None and not reclaim:
            # Enabled without a next run (written by another tool): give it one, from now; nothing is due.
            with db.engine.begin() as conn:
                conn.execute(
                    sa.update(_T)
                    .where(_C.id == info.id, _C.next_run.is_(None), _C.claimed_by.is_(None))
                    .values(next_run=next_run(spec, now, tz))
                )
            continue
        due = info.next_run is not None and info.next_run <= now
        new_next = advance(spec, info.next_run, now, tz) if due and info.next_run else info.next_run
        cas = sa.and_(
            _C.id == info.id,
            _C.is_active == sa.true(),
            _C.next_run.is_not_distinct_from(info.next_run),
            _C.claimed_by.is_not_distinct_from(info.claimed_by),
            _C.claimed_at.is_not_distinct_from(info.claimed_at),
        )
        values = {"next_run": new_next, "last_run": now, "claimed_by": owner, "claimed_at": now}
        with db.engine.begin() as conn:
            won = conn.execute(sa.update(_T).where(cas).values(**values)).rowcount == 1
        if not won:
            continue
        if reclaim:
            log.warning("schedule %r: taking over the run of %s, which stopped without finishing", info.name,
                        info.claimed_by)  # fmt: skip
        snapshot = dataclasses.replace(info, last_run=now, claimed_by=owner, claimed_at=now)
        claimed.append(
            ClaimedRun(
                schedule=snapshot,
                slot=info.next_run,
                owner=owner,
                claimed_at=now,
                previous_last_run=info.last_run,
                new_next_run=new_next,
                reclaimed=reclaim,
            )
        )
        if limit is not None and len(claimed) >= limit:
            break
    return claimed


def heartbeat(db: Database, run: ClaimedRun, now: dt.datetime | None = None) -> bool:
    """Refresh a claim's lease; False when the claim is no longer ours."""
    stmt = (
        sa.update(_T)
        .where(_C.id == run.schedule.id, _C.claimed_by == run.owner)
        .values(claimed_at=now or utcnow())
    )
    with db.engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def release(db: Database, run: ClaimedRun, *, ran: bool = True) -> bool:
    """End a claim. ``ran=False`` gives the slot back (next_run and last_run restored) for another attempt."""
    values: dict[str, Any] = {"claimed_by": None, "claimed_at": None}
    if not ran:
        values["last_run"] = run.previous_last_run
        if run.slot is not None:
            # Only move next_run back: an edit made meanwhile may already have set an earlier time.
            values["next_run"] = sa.case(
                (sa.or_(_C.next_run.is_(None), _C.next_run > run.slot), run.slot), else_=_C.next_run
            )
    stmt = sa.update(_T).where(_C.id == run.schedule.id, _C.claimed_by == run.owner).values(**values)
    with db.engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def release_firmly(db: Database, run: ClaimedRun, *, ran: bool) -> None:
    """:func:`release`, retried through database blips (a lost release would leave a stale claim, and another
    process would run the slot again after the lease)."""
    delay = 0.5
    for attempt in range(RELEASE_ATTEMPTS):
        try:
            release(db, run, ran=ran)
            return
        except sa.exc.SQLAlchemyError as exc:
            if attempt == RELEASE_ATTEMPTS - 1:
                log.error("schedule %r: could not release its claim: %s", run.schedule.name, exc)
                raise
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def claim_now(
    db: Database,
    name: str | int,
    owner: str,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
    *,
    lease_s: float = LEASE_S,
) -> ClaimedRun:
    """Claim one schedule for a run on demand (see "Run now" in the module docstring).

    Raises ScheduleError for an unknown name or a spec edited into nonsense, ScheduleBusy when the schedule
    is running already (in this or another process) or changed while it was being claimed.
    """
    now = now or utcnow()
    tz = tz if tz is not None else local_zone()
    info = ScheduleService(db, tz).get(name)
    if info.claimed_by is not None and not claim_is_stale(info.claimed_by, info.claimed_at, now, lease_s):
        raise ScheduleBusy(f"schedule {info.name!r} is running already ({info.claimed_by})")
    try:
        spec = info.spec
    except ScheduleSpecError as exc:
        raise ScheduleError(f"schedule {info.name!r} has an invalid spec: {exc}") from None
    due = info.is_active and info.next_run is not None and info.next_run <= now
    new_next = advance(spec, info.next_run, now, tz) if due and info.next_run else info.next_run
    cas = sa.and_(
        _C.id == info.id,
        _C.next_run.is_not_distinct_from(info.next_run),
        _C.claimed_by.is_not_distinct_from(info.claimed_by),
        _C.claimed_at.is_not_distinct_from(info.claimed_at),
    )
    values = {"next_run": new_next, "last_run": now, "claimed_by": owner, "claimed_at": now}
    with db.engine.begin() as conn:
        won = conn.execute(sa.update(_T).where(cas).values(**values)).rowcount == 1
    if not won:
        raise ScheduleBusy(f"schedule {info.name!r} was started or changed elsewhere just now; try again")
    return ClaimedRun(
        schedule=dataclasses.replace(info, last_run=now, claimed_by=owner, claimed_at=now),
        slot=info.next_run if due else None,
        owner=owner,
        claimed_at=now,
        previous_last_run=info.last_run,
        new_next_run=new_next,
        reclaimed=info.claimed_by is not None,
    )


# ---------------------------------------------------------------------------------------------------------
# Running


Runner = Callable[[ScanSchedule], object]
"""Does the work of one schedule type and returns its summary. May raise ScheduleBusy (retry later) or any
error (the run failed). A runner object may also have ``cancel()``, called from another thread to stop it."""


@dataclass(frozen=True)
class RunOutcome:
    """What became of one claimed run."""

    name: str
    scan_type: str
    slot: dt.datetime | None
    status: str  # "ran" | "failed" | "busy" (given back, or waiting to retry) | "skipped"
    message: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scan_type": self.scan_type,
            "slot": self.slot.isoformat() if self.slot else None,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


class _Lease:
    """Refreshes the ``claimed_at`` of every claim the scheduler holds from a background thread while a run
    lasts (the running one and busy ones waiting for a retry)."""

    def __init__(self, db: Database, runs: Callable[[], list[ClaimedRun]], every_s: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(db, runs, every_s), name="pixelprobe-schedule-lease", daemon=True
        )

    def _beat(self, db: Database, runs: Callable[[], list[ClaimedRun]], every_s: float) -> None:
        while not self._stop.wait(every_s):
            for run in runs():
                try:
                    if not heartbeat(db, run):
                        log.warning("schedule %r: another process took over the claim", run.schedule.name)
                except sa.exc.SQLAlchemyError as exc:  # a blip must not kill the run; the next beat retries
                    log.warning("could not refresh the claim of schedule %r: %s", run.schedule.name, exc)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class _Waiting:
    run: ClaimedRun
    retry_at: float  # time.monotonic()
    attempts: int = 1


@dataclass
class Scheduler:
    """Runs due schedules of one database, one at a time, with *runners* per schedule type.

    Call :meth:`run_pending` for one pass (``pixelprobe run-due``), or :meth:`start` for a background thread
    that polls (the TUI, ``pixelprobe daemon``) and :meth:`stop` to end it.
    """

    db: Database
    runners: Mapping[str, Runner]
    tz: dt.tzinfo = field(default_factory=local_zone)
    owner: str = field(default_factory=make_owner)
    poll_s: float = POLL_S
    retry_s: float = RETRY_S
    lease_s: float = LEASE_S
    heartbeat_s: float = HEARTBEAT_S
    on_outcome: Callable[[RunOutcome], None] | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiting: list[_Waiting] = []
        self._current: Runner | None = None
        self._lock = threading.Lock()
        self._last_beat = 0.0

    # -- one pass -----------------------------------------------------------------------------------------

    def run_pending(self, now: dt.datetime | None = None, *, keep_busy: bool = False) -> list[RunOutcome]:
        """Claim and run what is due now. Busy runs are given back, or kept for retry with *keep_busy*."""
        self._beat_waiting()
        outcomes = [self._retry(w) for w in self._due_retries()]
        handled: set[int] = set()
        while not self._stop.is_set():
            # One claim at a time: what is due behind a long run is claimed only when its turn comes.
            claims = claim_due(
                self.db, self.owner, now, self.tz, lease_s=self.lease_s, limit=1, exclude=handled
            )
            if not claims:
                break
            handled.add(claims[0].schedule.id)
            outcomes.append(self._run(claims[0], keep_busy=keep_busy))
        return [o for o in outcomes if o is not None]

    def _held(self) -> list[ClaimedRun]:
        with self._lock:
            return [w.run for w in self._waiting]

    def _beat_waiting(self) -> None:
        if time.monotonic() - self._last_beat < self.heartbeat_s:
            return
        self._last_beat = time.monotonic()
        for w in list(self._waiting):
            try:
                mine = heartbeat(self.db, w.run)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("could not refresh the claim of schedule %r: %s", w.run.schedule.name, exc)
                continue
            if not mine:  # taken over (we looked dead): the new owner runs it
                with self._lock:
                    self._waiting = [x for x in self._waiting if x is not w]

    def _due_retries(self) -> list[_Waiting]:
        now = time.monotonic()
        with self._lock:
            ready = [w for w in self._waiting if w.retry_at <= now]
            self._waiting = [w for w in self._waiting if w.retry_at > now]
        return ready

    def _retry(self, waiting: _Waiting) -> RunOutcome | None:
        if self._stop.is_set():
            self._release(waiting.run, ran=False)
            return None
        outcome = self._run(waiting.run, keep_busy=True, attempts=waiting.attempts + 1)
        return outcome

    def _run(self, run: ClaimedRun, *, keep_busy: bool, attempts: int = 1) -> RunOutcome:
        info = run.schedule
        runner = self.runners.get(info.scan_type)
        started = time.monotonic()
        if runner is None:
            self._release(run, ran=True)
            message = f"no runner for schedule type {info.scan_type!r}"
            log.error("schedule %r: %s", info.name, message)
            return self._report(RunOutcome(info.name, info.scan_type, run.slot, "failed", message))
        with self._lock:
            self._current = runner
        try:
            with _Lease(self.db, lambda: [run, *self._held()], self.heartbeat_s):
                runner(info.to_model())
        except ScheduleBusy as exc:
            if keep_busy and not self._stop.is_set():
                with self._lock:
                    self._waiting.append(_Waiting(run, time.monotonic() + self.retry_s, attempts))
                message = f"{exc}; retrying in {self.retry_s:g} s (attempt {attempts})"
            else:
                self._release(run, ran=False)
                message = f"{exc}; given back, it runs on the next pass"
            log.info("schedule %r is waiting: %s", info.name, message)
            return self._report(
                RunOutcome(info.name, info.scan_type, run.slot, "busy", message, time.monotonic() - started)
            )
        except Exception as exc:
            self._release(run, ran=True)
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error(
                "schedule %r failed: %s", info.name, message, exc_info=not isinstance(exc, PixelProbeError)
            )
            return self._report(
                RunOutcome(info.name, info.scan_type, run.slot, "failed", message, time.monotonic() - started)
            )
        finally:
            with self._lock:
                self._current = None
        self._release(run, ran=True)
        log.info("schedule %r ran (slot %s)", info.name, run.slot)
        return self._report(
            RunOutcome(info.name, info.scan_type, run.slot, "ran", "", time.monotonic() - started)
        )

    def _release(self, run: ClaimedRun, *, ran: bool) -> None:
        release_firmly(self.db, run, ran=ran)

    def _report(self, outcome: RunOutcome) -> RunOutcome:
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except Exception:  # a listener's bug must not stop the scheduler
                log.exception("schedule outcome listener failed")
        return outcome

    # -- background thread --------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run in a daemon thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve, name="pixelprobe-scheduler", daemon=True)
        self._thread.start()
        return self._thread

    def serve(self) -> None:
        """Poll and run until :meth:`stop` (the body of the thread; ``pixelprobe daemon`` calls it directly)."""
        while not self._stop.is_set():
            try:
                self.run_pending(keep_busy=True)
            except sa.exc.SQLAlchemyError as exc:
                log.error("scheduler: database error, retrying in %g s: %s", self.poll_s, exc)
            self._stop.wait(self._sleep_s())
        self.give_back_waiting()

    def _sleep_s(self) -> float:
        wait = self.poll_s
        with self._lock:
            if self._waiting:
                wait = min(wait, max(0.0, min(w.retry_at for w in self._waiting) - time.monotonic()))
        # Wake up for the next future slot. Rows already due were just looked at: they are claimed by
        # someone else (or unreadable), so they wait for the next poll instead of making a hot loop.
        now = utcnow()
        try:
            with self.db.engine.connect() as conn:
                soonest = conn.execute(
                    sa.select(sa.func.min(_C.next_run)).where(
                        _C.is_active == sa.true(), _C.claimed_by.is_(None), _C.next_run > now
                    )
                ).scalar()
        except sa.exc.SQLAlchemyError:
            soonest = None
        if soonest is not None:
            wait = min(wait, (soonest - now).total_seconds() + 0.05)
        return max(0.0, wait)

    def give_back_waiting(self) -> None:
        """Give back every busy run still waiting for a retry, so another process (or pass) runs it."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for w in waiting:
            try:
                self._release(w.run, ran=False)
            except sa.exc.SQLAlchemyError as exc:
                log.error("could not give back schedule %r: %s", w.run.schedule.name, exc)

    def stop(self, *, cancel_running: bool = True, timeout: float | None = None) -> None:
        """Stop claiming runs; ask the running one to cancel (if its runner can); give back waiting runs.

        Safe from a signal handler when *timeout* is 0 (it only sets flags).
        """
        self._stop.set()
        if cancel_running:
            with self._lock:
                current = self._current
            cancel = getattr(current, "cancel", None)
            if callable(cancel):
                cancel()
        if timeout != 0 and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def waiting(self) -> list[str]:
        """Names of busy runs waiting for a retry."""
        with self._lock:
            return [w.run.schedule.name for w in self._waiting]


# ---------------------------------------------------------------------------------------------------------
# The runners of the real work


class _ServiceRunner:
    """Runs one schedule type with a service made per run; ``cancel()`` reaches the run in progress.

    A scan already running (ScanAlreadyRunning) becomes ScheduleBusy, so the scheduler retries the run later.
    """

    def __init__(self, db: Database, progress: Callable[[Any], None] | None = None):
        self.db = db
        self.progress = progress  # the service's progress callback (a scan's event sink)
        self._service: Any = None

    def __call__(self, schedule: ScanSchedule) -> Any:
        from pixelprobe_tui.services.scan_lock import ScanAlreadyRunning

        service = self._service = self._make()
        try:
            return self._work(service, schedule)
        except ScanAlreadyRunning as exc:
            raise ScheduleBusy(str(exc)) from None
        finally:
            self._service = None

    def cancel(self) -> None:
        service = self._service
        if service is not None:
            service.cancel()

    def _make(self) -> Any:
        raise NotImplementedError

    def _work(self, service: Any, schedule: ScanSchedule) -> Any:
        raise NotImplementedError


class ScanRunner(_ServiceRunner):
    """Runs a scan schedule with the scan engine: its own paths or all configured roots."""

    def _make(self) -> Any:
        from pixelprobe_tui.services.config import ConfigService
        from pixelprobe_tui.services.scan import ScanService

        return ScanService(self.db, ConfigService(self.db).load(), self.progress)

    def _work(self, service: Any, schedule: ScanSchedule) -> Any:
        return service.start(schedule_paths(schedule) or None, force=True if schedule.force_rescan else None)

    def cancel(self) -> None:
        service = self._service
        if service is not None:
            service.request_cancel()


class CleanupRunner(_ServiceRunner):
    """Runs a cleanup schedule: marks records of vanished files (``file_exists = false``) and reports them.

    A schedule never deletes records: deleting needs ``pixelprobe cleanup --apply`` or the TUI's confirmation.
    """

    def _make(self) -> Any:
        from pixelprobe_tui.services.cleanup import CleanupService

        return CleanupService(self.db, progress=self.progress)

    def _work(self, service: Any, schedule: ScanSchedule) -> Any:
        return service.run(mode="mark")


class FileChangesRunner(_ServiceRunner):
    """Runs a file-changes schedule: re-hash recorded files, flag bitrot, rescan modified files."""

    def _make(self) -> Any:
        from pixelprobe_tui.services.changes import FileChangesService

        return FileChangesService(self.db, progress=self.progress)

    def _work(self, service: Any, schedule: ScanSchedule) -> Any:
        return service.run(schedule_paths(schedule) or None)


def default_runners(db: Database, progress: Callable[[Any], None] | None = None) -> dict[str, Runner]:
    """The runners for every schedule type, bound to *db*. *progress* receives each run's progress: scan
    events (:mod:`pixelprobe_tui.core.events`), CleanupProgress or ChangesProgress, from worker threads."""
    return {
        "scan": ScanRunner(db, progress),
        "cleanup": CleanupRunner(db, progress),
        "file_changes": FileChangesRunner(db, progress),
    }


@dataclass(frozen=True)
class RunNowResult:
    """A run on demand that ended: what became of it, and the summary its runner returned."""

    outcome: RunOutcome
    summary: Any  # ScanSummary, CleanupSummary or ChangesSummary


def run_now(
    db: Database,
    name: str | int,
    runners: Mapping[str, Runner],
    *,
    owner: str | None = None,
    tz: dt.tzinfo | None = None,
    lease_s: float = LEASE_S,
    heartbeat_s: float = HEARTBEAT_S,
) -> RunNowResult:
    """Run one schedule now, in this thread, and release it (see "Run now" in the module docstring).

    Raises ScheduleError (unknown name), ScheduleBusy (the schedule or a scan is running already: nothing
    was recorded), or the runner's error after recording the run. Stop it with the runner's ``cancel()``.
    """
    run = claim_now(db, name, owner or make_owner(), tz=tz, lease_s=lease_s)
    info = run.schedule
    runner = runners.get(info.scan_type)
    if runner is None:
        release_firmly(db, run, ran=False)
        raise ScheduleError(f"no runner for schedule type {info.scan_type!r}")
    log.info("schedule %r: run now (by %s)", info.name, run.owner)
    started = time.monotonic()
    try:
        with _Lease(db, lambda: [run], heartbeat_s):
            summary = runner(info.to_model())
    except ScheduleBusy:
        release_firmly(db, run, ran=False)
        raise
    except Exception as exc:
        release_firmly(db, run, ran=True)
        log.error("schedule %r failed: %s", info.name, str(exc).strip().splitlines()[0] if str(exc).strip()
                  else type(exc).__name__, exc_info=not isinstance(exc, PixelProbeError))  # fmt: skip
        raise
    except BaseException:  # stopped at once (a second Ctrl-C): give a due slot back so it runs again
        release_firmly(db, run, ran=False)
        raise
    release_firmly(db, run, ran=True)
    status = getattr(summary, "status", "completed")
    log.info("schedule %r ran on demand: %s", info.name, status)
    outcome = RunOutcome(info.name, info.scan_type, run.slot, "ran", str(status), time.monotonic() - started)
    return RunNowResult(outcome, summary)


def start_in_process(db: Database, **options: Any) -> Scheduler:
    """Start the scheduler an interactive app runs while it is open (default runners, background thread).

    Call ``stop()`` on the result when the app closes: a running scheduled scan is cancelled (it resumes on
    its next start) and busy runs waiting for a retry are given back to other processes.
    """
    scheduler = Scheduler(db, default_runners(db), **options)
    scheduler.start()
    return scheduler
