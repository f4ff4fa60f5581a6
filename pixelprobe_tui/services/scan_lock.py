"""One scan at a time per database, across processes: the ScanState row is the lock.

A run owns the ``scan_state`` row with ``status = 'running'``; it proves it is alive by refreshing
``heartbeat_at`` and naming itself in ``owner`` (``host:pid``). A second start finds that row and refuses
with :class:`ScanAlreadyRunning`. A row whose owner is dead (same host, pid gone) or whose heartbeat is older
than :data:`STALE_AFTER_S` belongs to an interrupted run (crash, kill -9, power loss): the next start takes
it over and resumes it when it asks for the same roots and options, or marks it ``interrupted``.

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

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanState, utcnow
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child its parent has not reaped yet still answers signal 0: a zombie is dead.
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
        return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] != b"Z"
    except OSError:
        return True


def owner_alive(owner: str | None, heartbeat: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """Whether the run recorded with *owner* and *heartbeat* is still going."""
    now = now or utcnow()
    host, _, pid = (owner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return _pid_alive(int(pid))
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
    interrupted: list[uuid.UUID] = field(default_factory=list)  # stale runs closed as 'interrupted'
    _lock_conn: Connection | None = None  # PostgreSQL: holds the advisory lock


def _same_request(row: Any, directories: Sequence[str], deep: bool, force: bool) -> bool:
    try:
        stored = json.loads(row.directories or "[]")
    except ValueError:
        return False
    return stored == list(directories) and bool(row.deep_scan) == deep and bool(row.force_rescan) == force


def _claim_in(
    conn: Connection, directories: list[str], deep: bool, force: bool, owner: str, *, check_alive: bool
) -> ScanClaim:
    t = cast(sa.Table, ScanState.__table__)
    now = utcnow()
    rows = conn.execute(sa.select(t).where(t.c.status == "running").order_by(t.c.start_time.desc())).all()
    if check_alive:
        for row in rows:
            if owner_alive(row.owner, row.heartbeat_at, now):
                raise ScanAlreadyRunning(f"a scan is already running ({describe_state(row)})")
    resume = next((r for r in rows if _same_request(r, directories, deep, force)), None)
    closed = [r.id for r in rows if resume is None or r.id != resume.id]
    if closed:
        conn.execute(
            sa.update(t)
            .where(t.c.id.in_(closed))
            .values(status="interrupted", end_time=sa.func.coalesce(t.c.heartbeat_at, t.c.start_time))
        )
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
        return ScanClaim(resume.id, resume.start_time or now, True, directories, deep, force, owner, closed)
    scan_id = uuid.uuid4()
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
    return ScanClaim(scan_id, now, False, directories, deep, force, owner, closed)


def claim_scan(db: Database, directories: list[str], *, deep: bool, force: bool) -> ScanClaim:
    """Become the one running scan of *db*, resuming an interrupted run of the same request if any.

    *directories* are the roots in database form. Raises :class:`ScanAlreadyRunning` when another live
    process (or thread) is scanning.
    """
    owner = owner_name()
    if db.dialect == "postgresql":
        lock_conn = db.engine.connect()
        try:
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
                claim = _claim_in(conn, directories, deep, force, owner, check_alive=False)
        except BaseException:
            _unlock(lock_conn)
            raise
        claim._lock_conn = lock_conn
        return claim
    with db.engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            claim = _claim_in(conn, directories, deep, force, owner, check_alive=True)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    return claim


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
