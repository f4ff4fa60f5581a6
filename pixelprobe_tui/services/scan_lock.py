"""One scan at a time per database, across processes: the ScanState row is the lock.

A run owns the ``scan_state`` row with ``status = 'running'``; it proves it is alive by refreshing
``heartbeat_at`` and naming itself in ``owner`` (``host:pid``). A second start finds that row and refuses
with :class:`ScanAlreadyRunning`. A row whose owner is dead (same host and the pid gone, or the pid now
belongs to a process started after the run's last heartbeat) or, for another host, whose heartbeat is older
than :data:`STALE_AFTER_S` belongs to an interrupted run (crash, kill -9, power loss). What the next start
does with it (:func:`claim_scan`):

- the same request (roots, deep, force): takes it over and resumes it;
- a single-file scan (``keep_interrupted``): leaves it as it is, still resumable later;
- any other request: closes it as ``interrupted`` with a :class:`ScanReport` of what it did (verdicts it
  stored, how far it got) and returns it in :attr:`ScanClaim.interrupted`, so the caller can say so. Its
  finished files keep their verdicts, and an incremental scan does not check them again.

- SQLite: the check and the claim happen in one ``BEGIN IMMEDIATE`` transaction, which SQLite serialises
  across processes, so two starts cannot both see "no running scan".
- PostgreSQL: ``pg_try_advisory_lock`` on a connection held for the whole run. The server releases it when
  that connection dies, so whoever gets it knows any ``running`` row is left over from a dead process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pixelprobe_tui.core.discovery import display_path, path_from_db
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanReport, ScanResult, ScanState, utcnow
from pixelprobe_tui.errors import PixelProbeError

#: A heartbeat older than this means the owner is gone (used when the owner's pid cannot be checked).
STALE_AFTER_S = 30.0
# Any constant works as long as every pixelprobe process uses the same one ("PXPRSCAN" in ASCII).
SCAN_LOCK_KEY = 0x5058505253434E41 & 0x7FFF_FFFF_FFFF_FFFF


class ScanAlreadyRunning(PixelProbeError):
    """Another scan holds the database (message says which phase and how far it is)."""


def owner_name() -> str:
    """``host:pid`` of this process, as stored in ``ScanState.owner``."""
    return f"{socket.gethostname()}:{os.getpid()}"


# A process start time read from /proc is exact to a clock tick, boot time to a second.
_START_SLACK_S = 2.0


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", "rb") as fh:
            for line in fh:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _pid_alive(pid: int, last_seen: dt.datetime | None = None) -> bool:
    """Whether *pid* runs and can be the process that was alive at *last_seen* (its last heartbeat).

    After a crash or a reboot the pid may belong to another process; one started after *last_seen* cannot
    be the owner, so the run is not reported running forever."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return True  # no /proc: trust the signal
    fields = raw[raw.rfind(b")") + 2 :].split()
    # A killed child its parent has not reaped yet still answers signal 0: a zombie is dead.
    if not fields or fields[0] == b"Z":
        return False
    boot = _boot_time()
    if last_seen is None or boot is None or len(fields) < 20:
        return True
    try:
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime
    except (ValueError, OSError):
        return True
    last = (
        last_seen.timestamp()
        if last_seen.tzinfo is not None
        else last_seen.replace(tzinfo=dt.UTC).timestamp()
    )
    return started <= last + _START_SLACK_S


def owner_alive(owner: str | None, heartbeat: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """Whether the run recorded with *owner* and *heartbeat* is still going (a run without owner is not)."""
    if not owner:
        return False
    now = now or utcnow()
    host, _, pid = (owner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return _pid_alive(int(pid), heartbeat)
    return heartbeat is not None and (now - heartbeat).total_seconds() < STALE_AFTER_S


def describe_state(row: Any) -> str:
    """``phase 3/3 scanning, 120/5000 files, started 2026-11-25 17:00 UTC by host:123``."""
    parts = [f"phase {row.phase_number}/{row.total_phases} {row.phase}"]
    if row.phase == "scanning" or row.total_files:
        parts.append(f"{row.files_processed}/{row.total_files} files")
    elif row.phase_total or row.phase_current:
        parts.append(f"{row.phase_current} files found")
    if row.start_time is not None:
        parts.append(f"started {row.start_time:%Y-%m-%d %H:%M:%S} UTC")
    if row.owner:
        parts.append(f"by {row.owner}")
    return ", ".join(parts)


@dataclass(frozen=True)
class InterruptedRun:
    """A run left ``running`` by a dead process that a start with a different request closed."""

    scan_id: uuid.UUID
    directories: list[str]  # database form
    deep: bool
    force: bool
    start_time: dt.datetime | None
    last_seen: dt.datetime | None  # its last heartbeat
    files_processed: int
    total_files: int
    owner: str | None

    def describe(self) -> str:
        """``an interrupted scan of /a, /b (started 2026-11-25 17:00:00 UTC, 120/5000 files)``."""
        shown = [display_path(path_from_db(d)) for d in self.directories[:3]]  # a file scan has thousands
        more = len(self.directories) - len(shown)
        roots = (", ".join(shown) or "(no roots)") + (f" and {more} more" if more > 0 else "")
        kind = " ".join(w for w, on in (("deep", self.deep), ("forced", self.force)) if on)
        when = f"started {self.start_time:%Y-%m-%d %H:%M:%S} UTC, " if self.start_time is not None else ""
        return (
            f"an interrupted {kind + ' ' if kind else ''}scan of {roots} "
            f"({when}{self.files_processed}/{self.total_files} files)"
        )


@dataclass
class ScanClaim:
    """The right to run one scan, held until :func:`release_claim`."""

    scan_id: uuid.UUID
    start_time: dt.datetime
    resumed: bool
    directories: list[str]
    deep: bool
    force: bool
    owner: str
    interrupted: list[InterruptedRun] = field(default_factory=list)  # closed by this claim, with a report
    _lock_conn: Connection | None = None  # PostgreSQL: holds the advisory lock


def _same_request(row: Any, directories: Sequence[str], deep: bool, force: bool) -> bool:
    try:
        stored = json.loads(row.directories or "[]")
    except ValueError:
        return False
    return stored == list(directories) and bool(row.deep_scan) == deep and bool(row.force_rescan) == force


def _stored_directories(row: Any) -> list[str]:
    try:
        value = json.loads(row.directories or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


#: Results stored this long after a run's last heartbeat still count as its own (the writer's last batch).
_LAST_BATCH_S = 5.0


def _close_interrupted(conn: Connection, row: Any, now: dt.datetime, closed_by: uuid.UUID) -> InterruptedRun:
    """Mark *row* ``interrupted`` and write its report, from the verdicts it stored before it died."""
    t = cast(sa.Table, ScanState.__table__)
    r = cast(sa.Table, ScanResult.__table__)
    start = row.start_time
    last_seen = row.heartbeat_at or start
    end = last_seen or now
    counts: dict[str, int] = {}
    if start is not None:
        # One scan at a time: what got a verdict between its start and its last sign of life is its work.
        stmt = (
            sa.select(r.c.scan_status, sa.func.count())
            .where(r.c.scan_date >= start, r.c.scan_date <= end + dt.timedelta(seconds=_LAST_BATCH_S))
            .group_by(r.c.scan_status)
        )
        counts = {status: n for status, n in conn.execute(stmt).all()}
    run = InterruptedRun(
        scan_id=row.id,
        directories=_stored_directories(row),
        deep=bool(row.deep_scan),
        force=bool(row.force_rescan),
        start_time=start,
        last_seen=last_seen,
        files_processed=int(row.files_processed or 0),
        total_files=int(row.total_files or 0),
        owner=row.owner,
    )
    checked = sum(n for status, n in counts.items() if status != "pending")
    message = (
        f"interrupted: the scanning process ({row.owner or 'unknown'}) stopped after {checked} file(s) got a "
        "verdict; closed when a scan with a different request started. The files it did not reach are "
        "checked by the next scan of these roots."
    )
    conn.execute(
        sa.update(t)
        .where(t.c.id == row.id)
        .values(status="interrupted", end_time=end, current_files=None, error_message=message)
    )
    scan_type = "deep_scan" if run.deep else ("rescan" if run.force else "full_scan")
    duration = (end - start).total_seconds() if start is not None and end is not None else None
    conn.execute(
        sa.insert(cast(sa.Table, ScanReport.__table__)).values(
            scan_id=row.id,
            scan_type=scan_type,
            start_time=start,
            end_time=end,
            status="interrupted",
            total_files=checked,
            corrupted_files=counts.get("corrupted", 0),
            warning_files=counts.get("warning", 0),
            error_files=counts.get("unreadable", 0) + counts.get("unsupported", 0),
            healthy_files=counts.get("healthy", 0),
            duration_seconds=duration,
            error_message=message,
            directories_scanned=run.directories,
            details={
                "interrupted": True,
                "owner": row.owner,
                "phase": row.phase,
                "files_processed": run.files_processed,
                "total_files": run.total_files,
                "bytes_processed": int(row.bytes_processed or 0),
                "bytes_total": int(row.bytes_total or 0),
                "closed_at": now.isoformat(),
                "closed_by_scan": str(closed_by),
            },
            created_at=now,
        )
    )
    return run


def _claim_in(
    conn: Connection,
    directories: list[str],
    deep: bool,
    force: bool,
    owner: str,
    *,
    check_alive: bool,
    keep_interrupted: bool,
) -> ScanClaim:
    t = cast(sa.Table, ScanState.__table__)
    now = utcnow()
    rows = conn.execute(sa.select(t).where(t.c.status == "running").order_by(t.c.start_time.desc())).all()
    if check_alive:
        for row in rows:
            if owner_alive(row.owner, row.heartbeat_at, now):
                raise ScanAlreadyRunning(f"a scan is already running ({describe_state(row)})")
    resume = (
        None
        if keep_interrupted
        else next((r for r in rows if _same_request(r, directories, deep, force)), None)
    )
    scan_id = resume.id if resume is not None else uuid.uuid4()
    closed = [] if keep_interrupted else [r for r in rows if resume is None or r.id != resume.id]
    interrupted = [_close_interrupted(conn, r, now, scan_id) for r in closed]
    common = {
        "status": "running",
        "owner": owner,
        "heartbeat_at": now,
        "cancel_requested": False,
        "is_cancelled": False,
        "end_time": None,
        "error_message": None,
        "current_files": None,
    }
    if resume is not None:
        conn.execute(sa.update(t).where(t.c.id == resume.id).values(**common))
        return ScanClaim(
            resume.id, resume.start_time or now, True, directories, deep, force, owner, interrupted
        )
    conn.execute(
        sa.insert(t).values(
            id=scan_id,
            phase="starting",
            phase_number=0,
            total_phases=3,
            start_time=now,
            directories=json.dumps(directories),
            force_rescan=force,
            deep_scan=deep,
            **common,
        )
    )
    return ScanClaim(scan_id, now, False, directories, deep, force, owner, interrupted)


def claim_scan(
    db: Database, directories: list[str], *, deep: bool, force: bool, keep_interrupted: bool = False
) -> ScanClaim:
    """Become the one running scan of *db*, resuming an interrupted run of the same request if any.

    *directories* are the roots in database form. Interrupted runs of other requests are closed with a
    report (see the module docstring), unless *keep_interrupted* (a single-file scan): then they are left
    resumable and nothing is resumed. Raises :class:`ScanAlreadyRunning` when another live process (or
    thread) is scanning.
    """
    owner = owner_name()
    if db.dialect == "postgresql":
        lock_conn = db.engine.connect()
        try:
            _keep_alive_checked(lock_conn)
            got = lock_conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": SCAN_LOCK_KEY}).scalar()
            lock_conn.commit()  # a session-level lock outlives the transaction
            if not got:
                with db.engine.connect() as conn:
                    t = cast(sa.Table, ScanState.__table__)
                    row = conn.execute(
                        sa.select(t).where(t.c.status == "running").order_by(t.c.start_time.desc()).limit(1)
                    ).first()
                what = describe_state(row) if row is not None else "starting"
                raise ScanAlreadyRunning(f"a scan is already running ({what})")
            with db.engine.begin() as conn:
                claim = _claim_in(
                    conn,
                    directories,
                    deep,
                    force,
                    owner,
                    check_alive=False,
                    keep_interrupted=keep_interrupted,
                )
        except BaseException:
            _unlock(lock_conn)
            raise
        claim._lock_conn = lock_conn
        return claim
    with db.engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            claim = _claim_in(
                conn, directories, deep, force, owner, check_alive=True, keep_interrupted=keep_interrupted
            )
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    return claim


#: How the server probes the lock's connection: a scanning machine that vanishes (power loss, network gone)
#: frees the lock within about a minute, not after the system's TCP timeout of hours.
_LOCK_KEEPALIVE = {
    "tcp_keepalives_idle": "20",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "60000",
}


def _keep_alive_checked(conn: Connection) -> None:
    """Have the server notice soon when this connection's client is gone (TCP connections only; settings
    the server doesn't know are skipped)."""
    for name, value in _LOCK_KEEPALIVE.items():
        try:
            with conn.begin_nested():
                conn.execute(sa.text("SELECT set_config(:n, :v, false)"), {"n": name, "v": value})
        except sa.exc.DBAPIError:
            continue
    conn.commit()


def _unlock(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.rollback()
        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": SCAN_LOCK_KEY})
        conn.commit()
    with contextlib.suppress(Exception):
        conn.close()


def release_claim(claim: ScanClaim) -> None:
    """Give up the PostgreSQL advisory lock (the row's final status is written by the scan itself)."""
    if claim._lock_conn is not None:
        _unlock(claim._lock_conn)
        claim._lock_conn = None


def release_run(db: Database, claim: ScanClaim) -> None:
    """Leave the claimed run ownerless if it is still ``running`` (it ended without recording its end):
    the next start then treats it as interrupted (resumes or closes it). Best effort: never raises."""
    t = cast(sa.Table, ScanState.__table__)
    with contextlib.suppress(Exception), db.engine.begin() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.id == claim.scan_id, t.c.status == "running", t.c.owner == claim.owner)
            .values(owner=None, current_files=None)
        )


def request_cancel(db: Database, scan_id: uuid.UUID | str | None = None) -> bool:
    """Ask the running scan (or the one with *scan_id*) to stop; works from any thread or process.

    Returns whether a running scan was found.
    """
    t = cast(sa.Table, ScanState.__table__)
    cond = t.c.status == "running"
    if scan_id is not None:
        cond = sa.and_(
            cond, t.c.id == (scan_id if isinstance(scan_id, uuid.UUID) else uuid.UUID(str(scan_id)))
        )
    with db.session() as s:
        result = s.execute(sa.update(t).where(cond).values(cancel_requested=True))
        return bool(getattr(result, "rowcount", 0))


def running_scan(db: Database) -> Any | None:
    """The ``scan_state`` row of the scan running now (alive owner), or None."""
    t = cast(sa.Table, ScanState.__table__)
    with db.session() as s:
        rows = s.execute(sa.select(t).where(t.c.status == "running").order_by(t.c.start_time.desc())).all()
    for row in rows:
        if owner_alive(row.owner, row.heartbeat_at):
            return row
    return None
