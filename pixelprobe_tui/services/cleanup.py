"""Orphan cleanup: find records whose files no longer exist, mark them, and delete them when asked.

Safe by design. Storage that is absent must never look like files that were deleted, so a record counts as
*gone* only when all of these hold:

1. its root is present: the root exists, is a directory, can be listed and is **not empty** (an unmounted
   mountpoint is an empty directory; a missing root is a drive that is not plugged in). Roots are the
   configured ``scan_paths`` plus the roots of earlier scans (``scan_state.directories``); a record under
   none of them has its own parent directory as its root;
2. the file's ``lstat`` fails with "no such file" (any other error, such as permission denied or an I/O
   error, proves nothing);
3. the nearest directory that still exists on the way from the file up to its root can be listed and is not
   empty. So a deleted folder counts as gone, while a nested mount that is now an empty directory does not;
4. the file is still absent when looked at again after those checks.

Everything else is *unverifiable* and left alone. A missing or empty root is reported as "root unavailable"
with how many records it holds.

Modes: ``preview`` changes nothing (a dry run: the list of what would go), ``mark`` sets ``file_exists =
false`` on gone records (and back to true for records whose file is back), ``apply`` marks and then deletes
them. Each run keeps its progress in a ``cleanup_state`` row (phase, files processed of total, files to
delete; cancel through :meth:`CleanupService.cancel` or :func:`request_cancel` from another process) and, unless
it is a preview, ends with a ``scan_reports`` row of type ``cleanup``.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import (
    display_path,
    json_path_fields,
    json_path_list_fields,
    json_safe,
    path_from_db,
    path_from_row,
    path_to_db,
)
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import CleanupState, ScanResult, ScanState, utcnow
from pixelprobe_tui.errors import ConfigError, DatabaseError
from pixelprobe_tui.services import maintenance_record
from pixelprobe_tui.services.config import ConfigService, Settings
from pixelprobe_tui.services.maintenance_record import MaintenanceRecord, one_line

Mode = Literal["preview", "mark", "apply"]
MODES: tuple[Mode, ...] = ("preview", "mark", "apply")
CHUNK = 1000
PROGRESS_EVERY_S = 0.5
PREVIEW_LIMIT = 1000

_RESULTS = cast(sa.Table, ScanResult.__table__)
_R = _RESULTS.c
_GONE_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR})


@dataclass(frozen=True)
class RootStatus:
    """One root and whether its records can be judged."""

    root: str
    available: bool
    reason: str | None = None  # why not: "missing", "empty (not mounted?)", "cannot list: ..."
    records: int = 0  # records under it (counted for unavailable roots)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the root as the CLI prints paths (text, plus ``root_b64`` for a name not UTF-8)."""
        return {
            **json_path_fields("root", self.root),
            "available": self.available,
            "reason": json_safe(self.reason),
            "records": self.records,
        }


@dataclass(frozen=True)
class CleanupProgress:
    """Progress of a run, for a progress bar."""

    phase: str
    files_processed: int
    total_files: int
    files_to_delete: int


@dataclass
class CleanupSummary:
    """What one run found and did."""

    mode: Mode
    status: str = "completed"  # completed | cancelled | error
    checked: int = 0
    present: int = 0
    missing: int = 0  # records judged gone
    marked: int = 0  # set file_exists = false by this run
    restored: int = 0  # set file_exists = true again (the file is back)
    deleted: int = 0
    unverifiable: int = 0  # absent, but the evidence is not conclusive (left alone)
    skipped_unavailable_root: int = 0
    roots: list[RootStatus] = field(default_factory=list)
    # File system paths (``display_path`` them to print): gone records (the first PREVIEW_LIMIT), and a few
    # (path, reason) left alone.
    preview: list[str] = field(default_factory=list)
    unverifiable_examples: list[tuple[str, str]] = field(default_factory=list)
    cleanup_id: str | None = None
    report_id: int | None = None
    seconds: float = 0.0

    @property
    def unavailable_roots(self) -> list[RootStatus]:
        return [r for r in self.roots if not r.available]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; paths as the CLI prints them (``discovery.json_path_fields``)."""
        return {
            "mode": self.mode,
            "status": self.status,
            "checked": self.checked,
            "present": self.present,
            "missing": self.missing,
            "marked": self.marked,
            "restored": self.restored,
            "deleted": self.deleted,
            "unverifiable": self.unverifiable,
            "skipped_unavailable_root": self.skipped_unavailable_root,
            "roots": [r.to_dict() for r in self.roots],
            **json_path_list_fields("missing_paths", self.preview),
            "missing_paths_truncated": self.missing > len(self.preview),
            "unverifiable_examples": [
                {**json_path_fields("path", p), "reason": json_safe(r)} for p, r in self.unverifiable_examples
            ],
            "cleanup_id": self.cleanup_id,
            "report_id": self.report_id,
            "seconds": round(self.seconds, 3),
        }


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _list_dir(path: str) -> tuple[bool, str | None]:
    """(usable, reason): a directory that exists, can be listed and has at least one entry."""
    try:
        with os.scandir(path) as it:
            for _entry in it:
                return True, None
        return False, "empty (not mounted?)"
    except FileNotFoundError:
        return False, "missing"
    except NotADirectoryError:
        return False, "not a directory"
    except OSError as exc:
        return False, f"cannot list: {exc.strerror or exc}"


class _Judge:
    """Decides present / gone / unverifiable for paths, caching what it learns about directories."""

    def __init__(self, roots: Iterable[str]):
        self.roots = sorted({os.path.normpath(r) for r in roots}, key=len, reverse=True)
        self._dirs: dict[str, tuple[bool, str | None]] = {}
        self.root_records: dict[str, int] = {}

    def root_of(self, path: str) -> str:
        for r in self.roots:
            if _within(path, r):
                return r
        return os.path.dirname(path) or "/"

    def dir_ok(self, path: str) -> tuple[bool, str | None]:
        verdict = self._dirs.get(path)
        if verdict is None:
            verdict = _list_dir(path)
            self._dirs[path] = verdict
        return verdict

    def judge(self, path: str) -> tuple[str, str | None, str]:
        """("present" | "gone" | "unverifiable" | "root_unavailable", reason, root)."""
        root = self.root_of(path)
        ok, reason = self.dir_ok(root)
        if not ok:
            self.root_records[root] = self.root_records.get(root, 0) + 1
            return "root_unavailable", reason, root
        status, why = _absent(path)
        if status != "absent":
            return status, why, root
        # The nearest existing directory between the file and its root must be listable and not empty.
        parent = os.path.dirname(path)
        while True:
            try:
                exists = os.path.isdir(parent)
            except OSError:
                exists = False
            if exists or parent == root or len(parent) <= len(root):
                break
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            return "unverifiable", f"{display_path(parent)} is not a directory", root
        ok, reason = self.dir_ok(parent)
        if not ok:
            return "unverifiable", f"directory {display_path(parent)} {reason}", root
        status, why = _absent(path)  # look again: storage may have come back meanwhile
        if status != "absent":
            return status, why, root
        return "gone", None, root


#: The "storage present" rule, public for other maintenance services (file changes) that must not take an
#: unmounted disk for thousands of deleted files.
PresenceJudge = _Judge


def _absent(path: str) -> tuple[str, str | None]:
    try:
        os.lstat(path)
        return "present", None
    except OSError as exc:
        if exc.errno in _GONE_ERRNOS:
            return "absent", None
        return "unverifiable", exc.strerror or str(exc)


def known_roots(db: Database, settings: Settings) -> list[str]:
    """The configured scan paths plus the roots earlier scans recorded, without duplicates.

    A rescan of chosen files records each file as its "root"; those are left out (a record's own path, or a
    regular file): taken for a root, a deleted file would look like unplugged storage and never be missing,
    and thousands of them would slow down every root lookup.
    """
    roots: dict[str, None] = {}
    for r in settings.scan_paths:
        roots[os.path.normpath(r)] = None
    with db.engine.connect() as conn:
        for (directories,) in conn.execute(sa.select(ScanState.directories).distinct()):
            for r in _json_paths(directories):
                if os.path.isabs(r):
                    roots.setdefault(r, None)
    candidates = list(roots)
    files: set[str] = set()
    with db.engine.connect() as conn:
        for i in range(0, len(candidates), CHUNK):
            chunk = {path_to_db(r): r for r in candidates[i : i + CHUNK]}
            found = conn.execute(sa.select(_R.file_path).where(_R.file_path.in_(list(chunk)))).scalars()
            files.update(chunk[f] for f in found)
    return [r for r in candidates if r not in files and not os.path.isfile(r)]


def _json_paths(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [os.path.normpath(path_from_db(v)) for v in value if isinstance(v, str) and v]


def request_cancel(db: Database) -> bool:
    """Ask a cleanup running in any process to stop; returns whether one was running."""
    return maintenance_record.request_cancel(db, CleanupState)


def root_statuses(judge: PresenceJudge, root_list: Iterable[str]) -> list[RootStatus]:
    """Every root a run looked at (the given ones, then those the judge met), available or not."""
    out: list[RootStatus] = []
    seen: set[str] = set()
    for r in [*(os.path.normpath(x) for x in root_list), *judge.root_records]:
        if r in seen:
            continue
        seen.add(r)
        ok, reason = judge.dir_ok(r)
        out.append(RootStatus(r, ok, reason, judge.root_records.get(r, 0)))
    return out


class CleanupService:
    """Runs orphan cleanups of one database (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        *,
        progress: Callable[[CleanupProgress], None] | None = None,
        preview_limit: int = PREVIEW_LIMIT,
    ):
        self.db = db
        self.settings = settings if settings is not None else ConfigService(db).load()
        self.progress = progress
        self.preview_limit = preview_limit
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop the running cleanup after the current record (flag only: safe in a signal handler)."""
        self._cancel.set()

    def run(self, mode: Mode = "mark", roots: Iterable[str] | None = None) -> CleanupSummary:
        """Check every record and act per *mode*; returns the summary. *roots* overrides the known roots."""
        if mode not in MODES:
            raise ConfigError(f"unknown cleanup mode {mode!r} (one of {', '.join(MODES)})")
        self._cancel.clear()
        started, t0 = utcnow(), time.monotonic()
        root_list = list(roots) if roots is not None else known_roots(self.db, self.settings)
        judge = _Judge(root_list)
        summary = CleanupSummary(mode=mode)
        with self.db.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(ScanResult)).scalar_one())
        record = MaintenanceRecord.open(self.db, CleanupState, phase="checking", total=total, started=started)
        summary.cleanup_id = str(record.state_id)
        error: BaseException | None = None
        try:
            self._walk(judge, summary, record, total, mode)
        except sa.exc.SQLAlchemyError as exc:
            error = exc
            summary.status = "error"
        if summary.status != "error" and self._cancel.is_set():
            summary.status = "cancelled"
        summary.roots = root_statuses(judge, root_list)
        summary.skipped_unavailable_root = sum(r.records for r in summary.unavailable_roots)
        summary.seconds = time.monotonic() - t0
        self._finish(summary, record, root_list, error)
        if error is not None:
            raise DatabaseError(f"cleanup stopped: {one_line(error)}") from error
        return summary

    def _walk(
        self, judge: _Judge, summary: CleanupSummary, record: MaintenanceRecord, total: int, mode: Mode
    ) -> None:
        last_id = 0
        last_progress = 0.0
        while not self._cancel.is_set():
            with self.db.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(_R.id, _R.file_path, _R.file_path_full, _R.file_exists)
                    .where(_R.id > last_id)
                    .order_by(_R.id)
                    .limit(CHUNK)
                ).all()
            if not rows:
                break
            last_id = rows[-1].id
            gone: list[int] = []
            back: list[int] = []
            for r in rows:
                if self._cancel.is_set():
                    break
                path = path_from_row(r.file_path, r.file_path_full)  # a long path's key is not its path
                verdict, reason, _root = judge.judge(path)
                summary.checked += 1
                if verdict == "present":
                    summary.present += 1
                    if not r.file_exists:
                        back.append(r.id)
                elif verdict == "gone":
                    summary.missing += 1
                    gone.append(r.id)
                    if len(summary.preview) < self.preview_limit:
                        summary.preview.append(path)
                elif verdict == "unverifiable":
                    summary.unverifiable += 1
                    if len(summary.unverifiable_examples) < 20:
                        summary.unverifiable_examples.append((path, reason or "unknown"))
            if mode != "preview":
                self._write(gone, back, summary, mode)
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                self._progress(record, "checking", summary, total)

    def _write(self, gone: list[int], back: list[int], summary: CleanupSummary, mode: Mode) -> None:
        with self.db.engine.begin() as conn:
            if back:
                summary.restored += conn.execute(
                    sa.update(_RESULTS)
                    .where(_R.id.in_(back), _R.file_exists == sa.false())
                    .values(file_exists=True)
                ).rowcount
            if gone:
                summary.marked += conn.execute(
                    sa.update(_RESULTS)
                    .where(_R.id.in_(gone), _R.file_exists == sa.true())
                    .values(file_exists=False)
                ).rowcount
                if mode == "apply":
                    # Only rows still marked absent: a scan that found the file again in between wins.
                    summary.deleted += conn.execute(
                        sa.delete(_RESULTS).where(_R.id.in_(gone), _R.file_exists == sa.false())
                    ).rowcount

    def _progress(self, record: MaintenanceRecord, phase: str, summary: CleanupSummary, total: int) -> None:
        if record.progress(phase=phase, files_processed=summary.checked, files_to_delete=summary.missing):
            self._cancel.set()
        if self.progress is not None:
            self.progress(CleanupProgress(phase, summary.checked, total, summary.missing))

    def _finish(
        self,
        summary: CleanupSummary,
        record: MaintenanceRecord,
        root_list: list[str],
        error: BaseException | None,
    ) -> None:
        report: dict[str, Any] | None = None
        if summary.mode != "preview":
            details = summary.to_dict()
            details["missing_paths"] = details["missing_paths"][:100]
            if "missing_paths_b64" in details:
                details["missing_paths_b64"] = details["missing_paths_b64"][:100]
            report = {
                "total_files": summary.checked,
                "healthy_files": summary.present,
                "error_files": summary.unverifiable,
                "details": details,
            }
        summary.report_id = record.close(
            status=summary.status,
            state_values={"files_processed": summary.checked, "files_to_delete": summary.missing},
            report=report,
            scan_type="cleanup",
            seconds=summary.seconds,
            roots=root_list,
            error=error,
        )
        if self.progress is not None:
            self.progress(CleanupProgress("done", summary.checked, summary.checked, summary.missing))
