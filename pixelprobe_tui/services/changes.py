"""File changes and bitrot: hash every recorded file again and compare it with the hash stored at its last check.

For each record with a stored content hash (under the given paths, or everywhere), one of:

- *unchanged*: same hash. ``last_verified_at`` is set; a changed mtime alone (a ``touch``) updates the stored
  snapshot so the next incremental scan skips the file. A file flagged as bitrot whose content is back to
  the stored hash (restored from a backup) is *restored*: the flag is cleared and the file rescanned.
- *modified*: the hash differs and the size or mtime differs too (or the file changed while it was read).
  The file is rescanned, which adopts the new hash as its baseline and clears a bitrot flag; a mark-as-good
  lapses.
- *bitrot suspected*: the hash differs while size and ``mtime_ns`` are unchanged. Nobody wrote the file, yet
  its content changed. The record keeps its old hash (the new content is never adopted silently),
  ``bitrot_suspected`` is set, a ``bitrot_suspected`` warning finding names both hashes, the mark-as-good
  lapses, and the file is rescanned to learn whether it still decodes.
- *missing*: the file is gone by cleanup's "storage present" rule (:class:`~.cleanup.PresenceJudge`): its
  root exists, lists and is not empty, and so does the nearest directory above the file. Marked
  ``file_exists = false``. A record under an unmounted or unplugged root is counted as
  ``skipped_unavailable_root`` instead.
- *unreadable*: stat or read failed, or the read stalled for ``stall_timeout_s`` (never bitrot). After
  :data:`STALLS_PER_ROOT` stalls in a row under one root the root's remaining records are skipped.

Records are read in id-ordered batches (memory does not grow with the library) and hashed by
``settings.workers`` threads, streaming each file. Rescans go through :class:`~.scan.ScanService` in file
mode, in chunks of :data:`RESCAN_BATCH`, so they take the scan lock like any scan; a run refuses to start
while a scan is running (:class:`~.scan_lock.ScanAlreadyRunning`). Progress lives in a
``file_changes_state`` row (phase, files processed of total, ``cancel_requested``); cancel with
:meth:`FileChangesService.cancel` or :func:`request_cancel` from another process. Each run ends with a
``scan_reports`` row of type ``file_changes`` whose details hold the counts.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import (
    display_path,
    json_path_fields,
    json_path_list_fields,
    json_safe,
    path_from_row,
    path_to_db,
)
from pixelprobe_tui.core.hashing import HASH_ALGORITHM, StorageStalled, hash_file, parse_hash
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import FileChangesState, ScanResult, utcnow
from pixelprobe_tui.errors import DatabaseError
from pixelprobe_tui.services import maintenance_record
from pixelprobe_tui.services.cleanup import PresenceJudge, RootStatus, known_roots, root_statuses
from pixelprobe_tui.services.config import ConfigService, Settings
from pixelprobe_tui.services.maintenance_record import MaintenanceRecord, one_line
from pixelprobe_tui.services.scan_lock import ScanAlreadyRunning, describe_state, running_scan
from pixelprobe_tui.services.scan_writer import signed_inode

log = logging.getLogger("pixelprobe.changes")

CHUNK = 500  # records read and hashed per batch
RESCAN_BATCH = 500  # changed files per rescan run
PROGRESS_EVERY_S = 0.5
STALLS_PER_ROOT = 3
EXAMPLES = 100  # paths kept per outcome in the summary
BITROT_CODE = "bitrot_suspected"

_RESULTS = cast(sa.Table, ScanResult.__table__)
_R = _RESULTS.c
_GONE_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR})


@dataclass(frozen=True)
class ChangesProgress:
    """Progress of a run, for a progress bar."""

    phase: str  # hashing | rescanning | done | cancelled | error
    files_processed: int
    total_files: int
    modified: int
    bitrot: int
    missing: int


@dataclass
class ChangesSummary:
    """What one run found and did."""

    status: str = "completed"  # completed | cancelled | error
    checked: int = 0
    unchanged: int = 0
    touched: int = 0  # unchanged content, new mtime: snapshot updated (part of unchanged)
    modified: int = 0
    bitrot: int = 0
    restored: int = 0  # flagged as bitrot before, content back to the stored hash
    missing: int = 0
    unreadable: int = 0
    skipped_unavailable_root: int = 0
    skipped_other_algorithm: int = 0  # stored hash of another algorithm: cannot be compared
    rescanned: int = 0
    rescan_skipped: int = 0  # changed files not rescanned (a scan held the database, cancel)
    rescan_error: str | None = None
    marks_lapsed: int = 0
    duration: float = 0.0
    roots: list[RootStatus] = field(default_factory=list)
    # File system paths (``display_path`` them to print); JSON gets them as the CLI prints paths.
    bitrot_files: list[dict[str, str]] = field(default_factory=list)  # path, stored_hash, current_hash
    modified_paths: list[str] = field(default_factory=list)
    missing_paths: list[str] = field(default_factory=list)
    unreadable_examples: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    changes_id: str | None = None
    report_id: int | None = None

    @property
    def unavailable_roots(self) -> list[RootStatus]:
        return [r for r in self.roots if not r.available]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checked": self.checked,
            "unchanged": self.unchanged,
            "touched": self.touched,
            "modified": self.modified,
            "bitrot": self.bitrot,
            "restored": self.restored,
            "missing": self.missing,
            "unreadable": self.unreadable,
            "skipped_unavailable_root": self.skipped_unavailable_root,
            "skipped_other_algorithm": self.skipped_other_algorithm,
            "rescanned": self.rescanned,
            "rescan_skipped": self.rescan_skipped,
            "rescan_error": self.rescan_error,
            "marks_lapsed": self.marks_lapsed,
            "roots": [r.to_dict() for r in self.roots],
            "bitrot_files": [{**f, **json_path_fields("path", f["path"])} for f in self.bitrot_files],
            **json_path_list_fields("modified_paths", self.modified_paths),
            **json_path_list_fields("missing_paths", self.missing_paths),
            "unreadable_examples": [
                {**json_path_fields("path", p), "reason": json_safe(r)} for p, r in self.unreadable_examples
            ],
            "changes_id": self.changes_id,
            "report_id": self.report_id,
            "duration": round(self.duration, 3),
        }


@dataclass(frozen=True)
class _Outcome:
    """What the look at one record found (made in a hashing thread)."""

    kind: str  # unchanged | modified | bitrot | restored | missing | unreadable | unavailable | skipped
    row: Any
    path: str
    new_hash: str | None = None
    stat: os.stat_result | None = None
    reason: str | None = None


def request_cancel(db: Database) -> bool:
    """Ask a file-changes run in any process to stop; returns whether one was running."""
    return maintenance_record.request_cancel(db, FileChangesState)


def latest_state(db: Database) -> FileChangesState | None:
    """The newest ``file_changes_state`` row (a run in progress has ``end_time`` None), for progress displays."""
    with db.session() as s:
        row = s.scalars(
            sa.select(FileChangesState).order_by(FileChangesState.start_time.desc()).limit(1)
        ).first()
        if row is not None:
            s.expunge(row)
        return row


def _under(paths: Sequence[str]) -> Any:
    """SQL condition: ``file_path`` is one of *paths* or below one of them (prefix test, both databases)."""
    conds = []
    for p in paths:
        stored = path_to_db(p)
        prefix = stored.rstrip("/") + "/"
        conds.append(_R.file_path == stored)
        conds.append(sa.func.substr(_R.file_path, 1, len(prefix)) == prefix)
    return sa.or_(*conds)


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


class FileChangesService:
    """Runs file-changes / bitrot checks of one database (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        progress: Callable[[ChangesProgress], None] | None = None,
        *,
        workers: int | None = None,
    ):
        self.db = db
        self.settings = settings if settings is not None else ConfigService(db).load()
        self.progress = progress
        self.workers = max(1, workers or self.settings.workers)
        self._cancel = threading.Event()
        self._scan: Any = None  # the ScanService of a rescan in progress
        self._stalls: dict[str, int] = {}
        self._stall_lock = threading.Lock()

    def cancel(self) -> None:
        """Stop the running check soon (flag only: safe in a signal handler)."""
        self._cancel.set()
        scan = self._scan
        if scan is not None:
            scan.request_cancel()

    def run(self, paths: Iterable[str | os.PathLike[str]] | None = None) -> ChangesSummary:
        """Check the records under *paths* (default: every record) and act on what changed.

        Raises :class:`ScanAlreadyRunning` when a scan holds the database, ``DatabaseError`` when the
        database fails mid-run (the run is recorded as ``error`` when possible).
        """
        wanted = [os.path.normpath(os.path.abspath(os.fsdecode(p))) for p in paths or ()]
        busy = running_scan(self.db)
        if busy is not None:
            raise ScanAlreadyRunning(
                f"a scan is running ({describe_state(busy)}); check file changes when it has ended"
            )
        self._cancel.clear()
        self._stalls.clear()
        started, t0 = utcnow(), time.monotonic()
        root_list = known_roots(self.db, self.settings)
        root_list += [p for p in wanted if p not in root_list]
        judge = PresenceJudge(root_list)
        cond = sa.and_(_R.file_hash.is_not(None), _under(wanted) if wanted else sa.true())
        summary = ChangesSummary()
        with self.db.engine.connect() as conn:
            total = int(
                conn.execute(sa.select(sa.func.count()).select_from(_RESULTS).where(cond)).scalar_one()
            )
        record = MaintenanceRecord.open(
            self.db, FileChangesState, phase="hashing", total=total, started=started
        )
        summary.changes_id = str(record.state_id)
        run = _Run(self, judge, summary, record, total)
        error: BaseException | None = None
        try:
            run.walk(cond)
        except BaseException as exc:  # recorded in the run's state and report below, then raised again
            error = exc
            summary.status = "error"
        if summary.status != "error" and self._cancel.is_set():
            summary.status = "cancelled"
        summary.roots = root_statuses(judge, root_list)
        summary.skipped_unavailable_root += sum(judge.root_records.values())
        summary.duration = time.monotonic() - t0
        self._finish(summary, record, wanted or root_list, error, run.processed)
        if isinstance(error, sa.exc.SQLAlchemyError):
            raise DatabaseError(f"file-changes check stopped: {one_line(error)}") from error
        if error is not None:
            raise error
        return summary

    # -- one record (hashing threads) --------------------------------------------------------------------

    def _inspect(self, row: Any, judge: PresenceJudge) -> _Outcome:
        try:
            return self._look(row, judge)
        except Exception as exc:  # one odd record (a path the OS rejects ...) must not end the run
            path = path_from_row(row.file_path, row.file_path_full)
            log.warning("%s: cannot check: %s", display_path(path), exc)
            return _Outcome("unreadable", row, path, reason=one_line(exc))

    def _look(self, row: Any, judge: PresenceJudge) -> _Outcome:
        path = path_from_row(row.file_path, row.file_path_full)  # a long path's key is not its path
        if self._cancel.is_set():
            return _Outcome("skipped", row, path)
        try:
            algorithm, _digest = parse_hash(row.file_hash)
        except ValueError:
            algorithm = ""
        if algorithm != HASH_ALGORITHM:
            return _Outcome("other_algorithm", row, path)
        root = judge.root_of(path)
        with self._stall_lock:
            if self._stalls.get(root, 0) >= STALLS_PER_ROOT:
                return _Outcome("unavailable", row, path, reason="root stalled")
        try:
            before = os.stat(path)
        except OSError as exc:
            if exc.errno in _GONE_ERRNOS:
                return self._absent(row, path, judge)
            return _Outcome("unreadable", row, path, reason=exc.strerror or str(exc))
        if not stat.S_ISREG(before.st_mode):
            return _Outcome("unreadable", row, path, reason="not a regular file")
        try:
            new_hash = hash_file(path, stall_timeout=self.settings.stall_timeout_s)
        except StorageStalled as exc:
            with self._stall_lock:
                self._stalls[root] = self._stalls.get(root, 0) + 1
            return _Outcome("unreadable", row, path, reason=str(exc))
        except OSError as exc:
            if exc.errno in _GONE_ERRNOS:
                return self._absent(row, path, judge)
            return _Outcome("unreadable", row, path, reason=exc.strerror or str(exc))
        with self._stall_lock:
            self._stalls[root] = 0
        try:
            after = os.stat(path)
        except OSError:
            after = None
        if after is None or _stat_key(after) != _stat_key(before):
            # Written to while we read it: someone is changing it, which is a modification, not rot.
            return _Outcome("modified", row, path, new_hash, after, "changed while it was read")
        if new_hash == row.file_hash:
            kind = "restored" if row.bitrot_suspected else "unchanged"
            return _Outcome(kind, row, path, new_hash, after)
        if row.file_size == after.st_size and row.file_mtime_ns == after.st_mtime_ns:
            return _Outcome("bitrot", row, path, new_hash, after)
        return _Outcome("modified", row, path, new_hash, after)

    def _absent(self, row: Any, path: str, judge: PresenceJudge) -> _Outcome:
        verdict, reason, _root = judge.judge(path)
        if verdict == "gone":
            return _Outcome("missing", row, path)
        if verdict == "root_unavailable":
            return _Outcome("unavailable", row, path, reason=reason)
        return _Outcome("unreadable", row, path, reason=reason or "absent, but its storage is unverifiable")

    # -- the end -------------------------------------------------------------------------------------------

    def _finish(
        self,
        summary: ChangesSummary,
        record: MaintenanceRecord,
        roots: list[str],
        error: BaseException | None,
        processed: int,
    ) -> None:
        summary.report_id = record.close(
            status=summary.status,
            state_values={"files_processed": processed},
            report={
                "total_files": summary.checked,
                "healthy_files": summary.unchanged,
                "warning_files": summary.bitrot,
                "error_files": summary.unreadable,
                "details": summary.to_dict(),
            },
            scan_type="file_changes",
            seconds=summary.duration,
            roots=roots,
            error=error,
            error_message=summary.rescan_error,
        )
        log.info(
            "file changes %s: %d checked, %d unchanged, %d modified, %d bitrot suspected, %d missing, "
            "%d unreadable, %d rescanned (%.1f s)",
            summary.status,
            summary.checked,
            summary.unchanged,
            summary.modified,
            summary.bitrot,
            summary.missing,
            summary.unreadable,
            summary.rescanned,
            summary.duration,
        )
        if self.progress is not None:
            self.progress(
                ChangesProgress(
                    "done" if summary.status == "completed" else summary.status,
                    processed,
                    processed,
                    summary.modified,
                    summary.bitrot,
                    summary.missing,
                )
            )


def bitrot_finding(stored_hash: str, current_hash: str) -> dict[str, Any]:
    """The warning finding (``Finding.to_dict`` form) recorded on a file suspected of bitrot."""
    return {
        "severity": "warning",
        "code": BITROT_CODE,
        "tool": "pixelprobe",
        "message": (
            f"bitrot suspected: content changed while size and modification time did not "
            f"(stored {stored_hash}, now {current_hash})"
        ),
    }


class _Run:
    """The state of one :meth:`FileChangesService.run` call: the batch loop, the writes, the rescans."""

    def __init__(
        self,
        svc: FileChangesService,
        judge: PresenceJudge,
        summary: ChangesSummary,
        record: MaintenanceRecord,
        total: int,
    ) -> None:
        self.svc = svc
        self.db = svc.db
        self.judge = judge
        self.summary = summary
        self.record = record
        self.total = total
        self.cancel = svc._cancel
        self.phase = "hashing"
        self._last_progress = 0.0
        self.processed = 0
        # Changed files waiting for their rescan: (outcome, kind).
        self.pending: list[_Outcome] = []

    def walk(self, cond: Any) -> None:
        last_id = 0
        with ThreadPoolExecutor(max_workers=self.svc.workers, thread_name_prefix="pixelprobe-hash") as pool:
            while not self.cancel.is_set():
                with self.db.engine.connect() as conn:
                    rows = conn.execute(
                        sa.select(
                            _R.id,
                            _R.file_path,
                            _R.file_path_full,
                            _R.file_hash,
                            _R.file_size,
                            _R.file_mtime_ns,
                            _R.file_inode,
                            _R.file_exists,
                            _R.bitrot_suspected,
                        )
                        .where(cond, _R.id > last_id)
                        .order_by(_R.id)
                        .limit(CHUNK)
                    ).all()
                if not rows:
                    break
                last_id = rows[-1].id
                outcomes = []
                for outcome in pool.map(lambda r: self.svc._inspect(r, self.judge), rows):
                    outcomes.append(outcome)
                    self._count(outcome)
                    self._maybe_progress()
                self._write(outcomes)
                if len(self.pending) >= RESCAN_BATCH:
                    self._rescan()
        if self.pending:
            self._rescan()
        self._maybe_progress(force=True)

    def _count(self, o: _Outcome) -> None:
        s = self.summary
        if o.kind == "skipped":
            return
        self.processed += 1  # every record looked at, judged or not: what the progress bar counts
        if o.kind == "other_algorithm":
            s.skipped_other_algorithm += 1
            return
        if o.kind == "unavailable":
            if o.reason == "root stalled":  # unmounted roots are counted by the judge
                s.skipped_unavailable_root += 1
            return
        s.checked += 1
        display = display_path(o.path)
        if o.kind == "unchanged":
            s.unchanged += 1
        elif o.kind == "restored":
            s.restored += 1
        elif o.kind == "modified":
            s.modified += 1
            if len(s.modified_paths) < EXAMPLES:
                s.modified_paths.append(o.path)
        elif o.kind == "bitrot":
            s.bitrot += 1
            log.warning("bitrot suspected: %s (stored %s, now %s)", display, o.row.file_hash, o.new_hash)
            if len(s.bitrot_files) < EXAMPLES * 10:
                s.bitrot_files.append(
                    {"path": o.path, "stored_hash": o.row.file_hash, "current_hash": o.new_hash or ""}
                )
        elif o.kind == "missing":
            s.missing += 1
            if len(s.missing_paths) < EXAMPLES:
                s.missing_paths.append(o.path)
        elif o.kind == "unreadable":
            s.unreadable += 1
            if len(s.unreadable_examples) < 20:
                s.unreadable_examples.append((o.path, o.reason or "unknown"))

    # -- writes --------------------------------------------------------------------------------------------

    def _write(self, outcomes: list[_Outcome]) -> None:
        now = utcnow()
        verified: list[int] = []
        touched: list[dict[str, Any]] = []
        gone: list[int] = []
        back: list[int] = []  # recorded as gone earlier, present now
        lapse: list[dict[str, Any]] = []
        flag: list[int] = []
        for o in outcomes:
            if o.kind in ("unchanged", "restored", "modified", "bitrot") and not o.row.file_exists:
                back.append(o.row.id)
            if o.kind == "unchanged":
                st = o.stat
                assert st is not None
                if (o.row.file_size, o.row.file_mtime_ns, o.row.file_inode) != (
                    st.st_size,
                    st.st_mtime_ns,
                    signed_inode(st.st_ino),
                ):
                    self.summary.touched += 1
                    touched.append(
                        {
                            "rid": o.row.id,
                            "size": st.st_size,
                            "mtime": st.st_mtime_ns,
                            "inode": signed_inode(st.st_ino),
                        }
                    )
                else:
                    verified.append(o.row.id)
            elif o.kind == "missing":
                gone.append(o.row.id)
            elif o.kind in ("modified", "bitrot"):
                lapse.append({"rid": o.row.id, "new": o.new_hash})
                if o.kind == "bitrot":
                    flag.append(o.row.id)
                self.pending.append(o)
            elif o.kind == "restored":
                self.pending.append(o)
        with self.db.engine.begin() as conn:
            if verified:
                conn.execute(
                    sa.update(_RESULTS)
                    .where(_R.id.in_(verified))
                    .values(last_verified_at=now, file_exists=True)
                )
            if touched:
                conn.execute(
                    sa.update(_RESULTS)
                    .where(_R.id == sa.bindparam("rid"))
                    .values(
                        file_size=sa.bindparam("size"),
                        file_mtime_ns=sa.bindparam("mtime"),
                        file_inode=sa.bindparam("inode"),
                        last_verified_at=now,
                        file_exists=True,
                    ),
                    touched,
                )
            if back:
                conn.execute(sa.update(_RESULTS).where(_R.id.in_(back)).values(file_exists=True))
            if gone:
                conn.execute(
                    sa.update(_RESULTS)
                    .where(_R.id.in_(gone), _R.file_exists == sa.true())
                    .values(file_exists=False)
                )
            if flag:
                # At once, before the rescan: a run that dies later still leaves the flag.
                conn.execute(sa.update(_RESULTS).where(_R.id.in_(flag)).values(bitrot_suspected=True))
            if lapse:
                # The content is no longer what the person looked at: the mark lapses (a mark made at the
                # new content, which cannot normally happen, stays).
                result = conn.execute(
                    sa.update(_RESULTS)
                    .where(
                        _R.id == sa.bindparam("rid"),
                        _R.marked_as_good == sa.true(),
                        sa.or_(
                            _R.marked_as_good_hash.is_(None), _R.marked_as_good_hash != sa.bindparam("new")
                        ),
                    )
                    .values(marked_as_good=False),
                    lapse,
                )
                self.summary.marks_lapsed += max(0, result.rowcount)

    # -- rescans -------------------------------------------------------------------------------------------

    def _rescan(self) -> None:
        """Check the changed files again through the scan engine, then put the bitrot records right."""
        from pixelprobe_tui.services.scan import ScanService

        batch, self.pending = self.pending, []
        if self.cancel.is_set():
            self.summary.rescan_skipped += len(batch)
            self._fix_bitrot([o for o in batch if o.kind == "bitrot"])
            return
        self.phase = "rescanning"
        self._maybe_progress(force=True)
        # No more checker processes than files: each one takes about a second to start.
        scan = ScanService(self.db, self.svc.settings, workers=min(self.svc.workers, len(batch)))
        self.svc._scan = scan
        watcher = threading.Thread(target=self._watch_cancel, args=(scan,), daemon=True)
        done = threading.Event()
        self._watch_done = done
        watcher.start()
        try:
            result = scan.start(files=[o.path for o in batch], force=True)
            self.summary.rescanned += result.files_checked
            if result.status != "completed":
                self.summary.rescan_skipped += max(0, len(batch) - result.files_checked)
        except ScanAlreadyRunning as exc:
            self.summary.rescan_skipped += len(batch)
            self.summary.rescan_error = str(exc)
            log.warning("changed files not rescanned: %s", exc)
        except Exception as exc:  # a failed rescan must not lose the bitrot flags below
            self.summary.rescan_skipped += len(batch)
            self.summary.rescan_error = f"rescan failed: {str(exc).splitlines()[0] if str(exc) else exc!r}"
            log.error("%s", self.summary.rescan_error)
        finally:
            done.set()
            watcher.join()
            self.svc._scan = None
            self.phase = "hashing"
        self._fix_bitrot([o for o in batch if o.kind == "bitrot"])
        restored = [o.row.id for o in batch if o.kind == "restored"]
        if restored:
            with self.db.engine.begin() as conn:
                conn.execute(
                    sa.update(_RESULTS)
                    .where(_R.id.in_(restored))
                    .values(bitrot_suspected=False, last_verified_at=utcnow(), file_exists=True)
                )

    def _watch_cancel(self, scan: Any) -> None:
        """During a rescan the batch loop is blocked: carry a cancel from the database to the scan."""
        while not self._watch_done.wait(PROGRESS_EVERY_S):
            if self.cancel.is_set() or self._cancel_requested():
                self.cancel.set()
                scan.request_cancel()
                return

    def _fix_bitrot(self, items: list[_Outcome]) -> None:
        """Keep the stored hash (the rescan wrote the new one), keep the flag, record both hashes."""
        if not items:
            return
        with self.db.engine.begin() as conn:
            current = {
                r.id: r
                for r in conn.execute(
                    sa.select(_R.id, _R.findings, _R.warning_details, _R.scan_status).where(
                        _R.id.in_([o.row.id for o in items])
                    )
                )
            }
            params = []
            for o in items:
                row = current.get(o.row.id)
                if row is None:
                    continue
                finding = bitrot_finding(o.row.file_hash, o.new_hash or "")
                try:
                    findings = json.loads(row.findings) if row.findings else []
                except ValueError:
                    findings = []
                if not isinstance(findings, list):
                    findings = []
                findings = [f for f in findings if not (isinstance(f, dict) and f.get("code") == BITROT_CODE)]
                findings.insert(0, finding)
                warn_lines = [
                    line
                    for line in (row.warning_details or "").splitlines()
                    if not line.startswith("bitrot suspected:")
                ]
                params.append(
                    {
                        "rid": o.row.id,
                        "old_hash": o.row.file_hash,
                        "findings": json.dumps(findings),
                        "warning": "\n".join([finding["message"], *warn_lines]),
                        # A bitrot file that still decodes is not healthy: it warns.
                        "status": "warning" if row.scan_status in ("healthy", "pending") else row.scan_status,
                    }
                )
            if params:
                conn.execute(
                    sa.update(_RESULTS)
                    .where(_R.id == sa.bindparam("rid"))
                    .values(
                        file_hash=sa.bindparam("old_hash"),
                        bitrot_suspected=True,
                        marked_as_good=False,
                        findings=sa.bindparam("findings"),
                        warning_details=sa.bindparam("warning"),
                        has_warning=True,
                        scan_status=sa.bindparam("status"),
                    ),
                    params,
                )

    # -- progress ------------------------------------------------------------------------------------------

    def _cancel_requested(self) -> bool:
        return self.record.cancel_requested()

    def _maybe_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        s = self.summary
        if self.record.progress(phase=self.phase, files_processed=self.processed):
            self.svc.cancel()
        if self.svc.progress is not None:
            self.svc.progress(
                ChangesProgress(self.phase, self.processed, self.total, s.modified, s.bitrot, s.missing)
            )


__all__ = [
    "BITROT_CODE",
    "ChangesProgress",
    "ChangesSummary",
    "FileChangesService",
    "bitrot_finding",
    "latest_state",
    "request_cancel",
]
