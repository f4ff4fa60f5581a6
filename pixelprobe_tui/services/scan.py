"""The scan engine: discovery, incremental selection, checking in worker threads, one writer, a report.

``ScanService(db, settings, sink).start(paths)`` runs one scan in the caller's thread (the TUI calls it from
a thread worker) and returns a :class:`ScanSummary`. A run has three phases, recorded in its ``scan_state``
row: 1 *discovering* (walk the roots and compare each file with its row: unchanged files are skipped),
2 *adding* (record new files as ``pending`` rows), 3 *scanning* (check the selected files in N worker
threads, each with its own checker child process; one writer thread stores the results).

- Incremental: a file whose size, mtime_ns and inode equal the snapshot stored with its last verdict is not
  read again, unless ``force`` (or, for a deep scan, its last check was not deep).
- Resume: a run killed mid-way leaves its ``scan_state`` row ``running``. The next start with the same
  request (roots, deep, force) takes it over and checks only the files without a result from that run;
  its progress, ETA and report count the whole run (the part before the interruption included). A
  single-file scan leaves an interrupted run alone (still resumable); any other request closes it as
  ``interrupted`` with its own ScanReport, and :attr:`ScanSummary.closed_interrupted` says so. Nothing
  is lost either way: finished files keep their verdicts and incremental checks skip them.
- Cancel: :meth:`ScanService.request_cancel` (any thread) or ``scan_lock.request_cancel`` (any process)
  sets ``cancel_requested``; workers stop taking files, running checks are aborted, finished results stay.
- Stalled storage: a check that times out waiting for the file is unreadable; ``stall_limit`` of those in a
  row under one root mark the root unavailable: its remaining files are left alone (not failed) and the run
  is reported incomplete. Discovery runs the walk in a thread it can leave behind (``walk_guarded``): a
  listing that makes no progress for ``stall_timeout_s`` is reported (a root: unavailable), the walk goes on
  with the rest, and a cancel ends discovery at once even while a listing is blocked.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import (
    DiscoveredFile,
    Exclusions,
    IssueKind,
    ResolvedRoots,
    WalkIssue,
    display_path,
    json_path_fields,
    json_path_list_fields,
    json_safe,
    path_from_db,
    path_to_db,
    resolve_roots_within,
    walk_guarded,
)
from pixelprobe_tui.core.events import (
    DiscoveryIssueFound,
    DiscoveryProgress,
    Event,
    FileChecked,
    PhaseChanged,
    ScanFinished,
    ScanStarted,
    ScanStatus,
)
from pixelprobe_tui.core.isolation import CheckerChild, IsolationConfig, StatAfter, prestart
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Finding, IgnoreRules, Severity, Verdict
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import (
    Exclusion,
    IgnoredErrorPattern,
    ScanReport,
    ScanResult,
    ScanState,
    utcnow,
)
from pixelprobe_tui.errors import ConfigError, PixelProbeError
from pixelprobe_tui.services.config import ConfigService, Settings
from pixelprobe_tui.services.logs import scan_context
from pixelprobe_tui.services.scan_lock import (
    ScanAlreadyRunning,
    ScanClaim,
    claim_scan,
    release_claim,
    release_run,
)
from pixelprobe_tui.services.scan_lock import request_cancel as request_cancel_in_db
from pixelprobe_tui.services.scan_writer import (
    ResultWriter,
    ScanCounters,
    Snapshot,
    insert_pending,
    result_row,
    signed_inode,
)

log = logging.getLogger("pixelprobe.scan")

DISCOVERY_BATCH = 1000  # files compared with the database per query
FIRST_DISCOVERY_BATCH = 50  # small, so checker processes start early when there is work
PENDING_BATCH = 500  # pending rows per insert
MAX_LOGGED_ISSUES = 50  # discovery problems logged one per line; the rest are counted
_STALL_CODES = frozenset({"timeout"})
_STAT_WAIT_S = 10.0  # a stat left to this process (after a crash) is given up, not waited for, after this
_ABORT_CODES = frozenset({"checker_killed", "checker_failed"})


class ScanError(PixelProbeError):
    """The scan could not go on (database unreachable, checker cannot start); the run is marked error."""


@dataclass
class ScanSummary:
    """What one run did. ``corrupted`` counts files found corrupted by this run's checks; ``known_corrupted``
    unchanged files whose stored verdict is corrupted (and not marked good)."""

    scan_id: str
    status: str  # completed | cancelled | error
    roots: list[str]
    deep: bool
    force: bool
    resumed: bool = False
    files_found: int = 0
    files_checked: int = 0
    bytes_checked: int = 0
    skipped_unchanged: int = 0
    already_checked: int = 0  # done by the interrupted part of a resumed run (included in files_checked)
    already_checked_bytes: int = 0  # their bytes (included in bytes_checked)
    closed_interrupted: list[str] = field(default_factory=list)  # other requests' interrupted runs, closed
    healthy: int = 0
    warning: int = 0
    corrupted: int = 0
    unreadable: int = 0
    unsupported: int = 0
    known_corrupted: int = 0
    skipped_unavailable: int = 0  # files under roots declared unavailable (storage stalled)
    unavailable_roots: list[str] = field(default_factory=list)
    directories: int = 0
    duration_s: float = 0.0  # this start's time; a resumed run's part before the interruption is not in it
    started_at: str = ""
    ended_at: str = ""
    incomplete_reason: str | None = None
    error: str | None = None
    discovery: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.unreadable + self.unsupported

    @property
    def any_corrupted(self) -> bool:
        """Whether the scanned files include any corrupted one (checked now or known from before)."""
        return self.corrupted + self.known_corrupted > 0

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values. Paths are text, with a ``<key>_b64`` sibling holding the raw
        bytes of names that are not UTF-8 (``discovery.json_path_fields``: the CLI's one rule)."""
        d = json_safe(dict(self.__dict__))
        d["errors"] = self.errors
        d.update(json_path_list_fields("roots", self.roots))
        d.update(json_path_list_fields("unavailable_roots", self.unavailable_roots))
        d["discovery"] = _discovery_json(self.discovery)
        return d


def _discovery_json(discovery: dict[str, Any]) -> dict[str, Any]:
    """A ``WalkReport.as_dict()`` (paths in database form) with its paths as the CLI prints paths."""
    d = json_safe(dict(discovery))
    if "roots" in discovery:
        d.update(json_path_list_fields("roots", [path_from_db(r) for r in discovery["roots"]]))
    if "roots_dropped" in discovery:
        d["roots_dropped"] = [
            {**json_path_fields("root", path_from_db(r)), "reason": json_safe(why)}
            for r, why in discovery["roots_dropped"]
        ]
    if "issues" in discovery:
        d["issues"] = [
            {**json_safe(i), **json_path_fields("path", path_from_db(i["path"]))} for i in discovery["issues"]
        ]
    return d


def _scan_type(files: bool, deep: bool, force: bool) -> str:
    if files:
        return "file_scan"
    if deep:
        return "deep_scan"
    return "rescan" if force else "full_scan"


class _WorkSpool:
    """The files selected for checking, spooled to an unnamed temporary file.

    A first scan of a large library selects every file; keeping them on disk instead of in a list keeps the
    scan's memory flat whatever the library size. Items are pickled ``(DiscoveredFile, is_new)`` tuples
    (pickle keeps surrogate-escaped names intact).
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="pixelprobe-scan-")  # noqa: SIM115 (closed in close())
        self.count = 0
        self.new = 0
        self.bytes = 0

    def append(self, f: DiscoveredFile, is_new: bool) -> None:
        # One pickle per item: a long-lived Unpickler would keep every item it ever loaded in its memo.
        pickle.dump((tuple(f), is_new), self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1
        self.new += is_new
        self.bytes += f.size

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[DiscoveredFile, bool]]:
        self._file.flush()
        self._file.seek(0)
        for _ in range(self.count):
            raw, is_new = pickle.load(self._file)
            yield DiscoveredFile(*raw), is_new

    def close(self) -> None:
        self._file.close()


class _RootHealth:
    """Consecutive stalls per root. Stalled results are held back until the root answers again (then
    they are real per-file stalls) or the root is declared unavailable (then they are dropped)."""

    def __init__(self, roots: Sequence[str], limit: int) -> None:
        self._roots = frozenset(roots)  # distinct and never nested (effective_roots)
        self.limit = limit
        self._lock = threading.Lock()
        self._held: dict[str, list[tuple[dict[str, Any], str, int]]] = {}
        self._streak: dict[str, int] = {}
        self.unavailable: set[str] = set()
        self.dropped = 0

    def root_of(self, path: str) -> str:
        """The root *path* is under ("" for none). Walks up the path, so a rescan of 10,000 chosen files
        (10,000 roots) costs a few set lookups per file, not a pass over every root."""
        while path not in self._roots:
            parent = os.path.dirname(path)
            if parent == path:
                return ""
            path = parent
        return path

    def is_unavailable(self, root: str) -> bool:
        return root in self.unavailable

    def stalled(self, root: str, item: tuple[dict[str, Any], str, int]) -> bool:
        """Hold a stalled result; True when this stall made the root unavailable."""
        with self._lock:
            if root in self.unavailable:
                self.dropped += 1
                return False
            self._held.setdefault(root, []).append(item)
            self._streak[root] = self._streak.get(root, 0) + 1
            if self._streak[root] >= self.limit:
                self.unavailable.add(root)
                self.dropped += len(self._held.pop(root, []))
                return True
            return False

    def answered(self, root: str) -> list[tuple[dict[str, Any], str, int]]:
        """The root gave a normal result: its held stalls are released as results."""
        with self._lock:
            self._streak[root] = 0
            return self._held.pop(root, [])

    def release_all(self) -> list[tuple[dict[str, Any], str, int]]:
        with self._lock:
            items = [i for held in self._held.values() for i in held]
            self._held.clear()
            return items


class ScanService:
    """Runs scans of one database. ``settings`` defaults to the database's configuration.

    *sink* receives engine events from the scan's threads (it must not block). *isolation* and
    *child_env* override the checker children's limits and environment (tests); *stall_limit* is how many
    stalls in a row make a root unavailable.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        sink: Callable[[Event], None] | None = None,
        *,
        workers: int | None = None,
        isolation: IsolationConfig | None = None,
        child_env: dict[str, str] | None = None,
        stall_limit: int = 3,
    ) -> None:
        self.db = db
        self.settings = settings if settings is not None else ConfigService(db).load()
        self.sink = sink
        self.workers = max(1, workers or self.settings.workers)
        self.isolation = isolation or IsolationConfig(
            memory_mb=self.settings.memory_limit_mb,
            min_timeout_s=self.settings.check_timeout_min_s,
            s_per_mb=self.settings.check_timeout_per_mb_s,
            s_per_media_s=self.settings.check_timeout_per_media_s,
            progress_grace_s=self.settings.stall_timeout_s,
            stall_timeout_s=self.settings.stall_timeout_s,
        )
        self.child_env = child_env
        self.stall_limit = max(1, stall_limit)
        self._cancel = threading.Event()
        self._scan_id: uuid.UUID | None = None
        self._starting = False  # start() is before its claim (resolving roots)
        self._sink_failed = False

    # -- public API ------------------------------------------------------------------------------------

    @property
    def scan_id(self) -> str | None:
        """The id of the run in progress (None between runs)."""
        return str(self._scan_id) if self._scan_id is not None else None

    def request_cancel(self, scan_id: str | uuid.UUID | None = None) -> bool:
        """Ask a running scan to stop (this service's run at once; any process's through the database).

        Returns whether a running scan was found.
        """
        local = (self._scan_id is not None and (scan_id is None or str(scan_id) == str(self._scan_id))) or (
            self._starting and scan_id is None
        )
        if local:
            # No database write here: this may run in a signal handler while the scan's own thread holds
            # the SQLite write lock. The run records the cancel in its state when it ends.
            self._cancel.set()
            return True
        try:
            found = request_cancel_in_db(self.db, scan_id if scan_id is not None else self._scan_id)
        except sa.exc.SQLAlchemyError:
            found = False
        return found

    def start(
        self,
        paths: Iterable[str | os.PathLike[str]] | None = None,
        *,
        deep: bool | None = None,
        force: bool | None = None,
        files: Iterable[str | os.PathLike[str]] | None = None,
    ) -> ScanSummary:
        """Scan *paths* (default: the configured ``scan_paths``), or check exactly *files* again.

        Blocks until the run ends and returns its summary. Raises :class:`ScanAlreadyRunning` when another
        scan holds the database, ``ConfigError`` for a bad request, :class:`ScanError` when the database
        fails mid-run. Such a run is recorded as ``error`` if the database still answers (the next start is a
        new run), else it stays ``running`` and the next start of the same request resumes it; either way its
        finished results are kept and an incremental scan does not check them again.
        """
        # The checker zygote's imports (~0.3 s) overlap the claim, the rules and the first discovery batch.
        prestart(self.isolation, self.child_env)
        file_mode = files is not None
        if file_mode:
            assert files is not None
            roots = [os.fsdecode(p) for p in files]
            force = True
            if not roots:
                raise ConfigError("no files given")
        elif paths is not None and (roots := [os.fsdecode(p) for p in paths]):
            pass
        else:
            roots = list(self.settings.scan_paths)
            if not roots:
                raise ConfigError(
                    "no paths given and no scan_paths configured (pixelprobe config set scan_paths PATH)"
                )
        deep = self.settings.deep_scan_default if deep is None else deep
        force = self.settings.rescan_unchanged if force is None else force
        # A cancel from here on is kept for the run, which then ends at once as cancelled: resolving a root
        # on a dead mount blocks (realpath stats it) until the stall time, or until that cancel.
        self._cancel.clear()
        self._starting = True
        try:
            resolved = resolve_roots_within(
                roots, self.isolation.stall_timeout_s, cancelled=self._cancel.is_set
            )
            kept, dropped = resolved.kept, resolved.dropped
            exclusions, ignore = self._rules()
            claim = claim_scan(
                self.db,
                [path_to_db(r, full=True) for r in kept],
                deep=deep,
                force=force,
                keep_interrupted=file_mode,
            )
            self._scan_id = claim.scan_id
        finally:
            self._starting = False
        try:
            with scan_context(claim.scan_id):
                for closed in claim.interrupted:
                    log.warning(
                        "closed %s (scan %s): a scan with a different request started; its verdicts are kept",
                        closed.describe(),
                        closed.scan_id,
                    )
                if claim.resumed:
                    log.info("resuming interrupted scan %s started %s", claim.scan_id, claim.start_time)
                run = _Run(self, claim, roots, kept, dropped, exclusions, ignore, file_mode)
                run.resolved = resolved
                return run.run()
        except BaseException:
            # A run that escapes before it records its end must not stay "running" under this (live)
            # process, which would refuse every later scan here; left ownerless, the next start resumes it.
            release_run(self.db, claim)
            raise
        finally:
            self._scan_id = None
            release_claim(claim)

    # -- helpers ---------------------------------------------------------------------------------------

    def _rules(self) -> tuple[Exclusions, IgnoreRules]:
        with self.db.session() as s:
            rows = s.execute(sa.select(Exclusion.type, Exclusion.value)).all()
            patterns = s.scalars(
                sa.select(IgnoredErrorPattern.pattern).where(IgnoredErrorPattern.is_active.is_(True))
            ).all()
        try:
            exclusions = Exclusions([(r.type, r.value) for r in rows])
        except ValueError as exc:
            raise ConfigError(f"bad exclusion rule: {exc}") from None
        return exclusions, IgnoreRules(patterns)

    def emit(self, event: Event) -> None:
        """Send *event* to the sink; a failing sink is logged once and never stops the scan."""
        if self.sink is None:
            return
        try:
            self.sink(event)
        except Exception:
            if not self._sink_failed:
                self._sink_failed = True
                log.exception("scan event sink failed; further failures are not logged")


class _Run:
    """One scan run: the state of a single :meth:`ScanService.start` call."""

    def __init__(
        self,
        service: ScanService,
        claim: ScanClaim,
        roots: list[str],
        kept: list[str],
        dropped: list[tuple[str, str]],
        exclusions: Exclusions,
        ignore: IgnoreRules,
        file_mode: bool,
    ) -> None:
        self.svc = service
        self.db = service.db
        self.claim = claim
        self.roots = roots
        self.kept = kept
        self.dropped = dropped
        self.exclusions = exclusions
        self.ignore = ignore
        self.file_mode = file_mode
        self.deep = claim.deep
        self.force = claim.force
        self.cancel = service._cancel
        self.counters = ScanCounters(current=[None] * service.workers)
        self.writer = ResultWriter(
            self.db, claim.scan_id, self.counters, cancel=self.cancel, sink=service.sink
        )
        self.health = _RootHealth(kept, service.stall_limit)
        self.options = CheckOptions(
            deep=self.deep, want_hash=True, max_image_pixels=service.settings.max_image_pixels
        )
        self.summary = ScanSummary(
            scan_id=str(claim.scan_id),
            status=ScanStatus.COMPLETED,
            roots=list(kept),
            deep=self.deep,
            force=self.force,
            resumed=claim.resumed,
            closed_interrupted=[run.describe() for run in claim.interrupted],
        )
        self.resumed_verdicts: dict[str, int] = {}
        self.children: list[CheckerChild] = []
        self._starting: list[threading.Thread] = []
        self.aborted: set[int] = set()
        self.discarded = 0
        self.left_unchecked = 0  # files a worker had taken (queued in its child) when the run was cancelled
        self.work_finished = False  # every selected file got its result
        self.stalled_roots: list[str] = []  # roots whose listing never answered during discovery
        self.resolved: ResolvedRoots | None = None  # the roots as start() resolved them (not done twice)
        self._started = time.monotonic()

    # -- the run ---------------------------------------------------------------------------------------

    def run(self) -> ScanSummary:
        svc = self.svc
        svc.emit(ScanStarted(str(self.claim.scan_id), tuple(self.kept), self.deep, self.force))
        log.info(
            "scan %s: %s%s%s over %s",
            "resumed" if self.claim.resumed else "started",
            "deep " if self.deep else "",
            "forced " if self.force else "",
            _scan_type(self.file_mode, self.deep, self.force),
            ", ".join(display_path(r) for r in self.kept) or "(no roots)",
        )
        self.writer.start()
        error: BaseException | None = None
        walk_report = None
        try:
            to_check, walk_report = self._discover()
            try:
                if not self.cancel.is_set():
                    self._add(to_check)
                if not self.cancel.is_set():
                    self._check(to_check)
            finally:
                to_check.close()
        except BaseException as exc:  # recorded in the run's state below, then raised again
            error = exc
            self.cancel.set()
        finally:
            with contextlib.suppress(BaseException):
                for item in self.health.release_all():
                    self.writer.put(*item)
            self.writer.close()
            for th in self._starting:
                th.join()  # a child still starting would otherwise outlive close() below
            for child in self.children:
                with contextlib.suppress(Exception):
                    child.close()
        if error is None and self.writer.error is not None:
            error = self.writer.error
        # A cancel that arrives after the last file was checked cancels nothing.
        cancelled = self.cancel.is_set() and not self.work_finished
        status = (
            ScanStatus.ERROR
            if error is not None
            else (ScanStatus.CANCELLED if cancelled else ScanStatus.COMPLETED)
        )
        self._finish(status, error, walk_report)
        if error is not None:
            if isinstance(error, PixelProbeError):
                raise error
            if isinstance(error, KeyboardInterrupt):
                raise error
            raise ScanError(f"scan stopped: {_one_line(error)}") from error
        return self.summary

    # -- phase 1 ---------------------------------------------------------------------------------------

    def _set_phase(self, name: str, number: int, total: int = 0) -> None:
        c = self.counters
        c.phase, c.phase_number, c.phase_current, c.phase_total = name, number, 0, total
        self.svc.emit(PhaseChanged(str(self.claim.scan_id), name, number, c.total_phases))
        log.info("phase %d/%d: %s", number, c.total_phases, name)

    def _discover(self) -> tuple[_WorkSpool, Any]:
        svc, c, s = self.svc, self.counters, self.summary
        self._set_phase("discovering", 1)
        issues_logged = 0

        def on_issue(issue: WalkIssue) -> None:
            nonlocal issues_logged
            svc.emit(DiscoveryIssueFound(issue.kind.value, issue.path, issue.message))
            if issue.kind == IssueKind.UNAVAILABLE_ROOT:
                self.stalled_roots.append(issue.path)
            if issues_logged < MAX_LOGGED_ISSUES:
                issues_logged += 1
                level = logging.WARNING if issue.makes_incomplete else logging.INFO
                log.log(level, "%s: %s", display_path(issue.path), issue.message)

        # The same patience as a check's read: a listing silent for stall_timeout_s is a dead mount.
        w = walk_guarded(
            self.roots,
            stall_timeout_s=svc.isolation.stall_timeout_s,
            cancelled=self.cancel.is_set,
            resolved=self.resolved,
            # Files the user named one by one are checked even if a rule would exclude them from a walk.
            exclusions=None if self.file_mode else self.exclusions,
            follow_symlinks=svc.settings.follow_symlinks,
            on_error=on_issue,
        )
        to_check = _WorkSpool()
        batch: list[DiscoveredFile] = []
        next_event = 0.0
        # An error mid-walk (the database) must not leave the walking thread waiting to hand files over.
        with contextlib.closing(w), self.db.engine.connect() as conn:
            limit = FIRST_DISCOVERY_BATCH
            cancelled = self.cancel.is_set
            for f in w:
                if cancelled():  # per file: a slow share must not delay a cancel by a whole batch
                    w.close()
                    break
                batch.append(f)
                if len(batch) >= limit:
                    self._classify(conn, batch, to_check)
                    batch = []
                    limit = DISCOVERY_BATCH
                    if to_check.count:
                        self._prestart_children()
                    c.phase_current = w.report.files_found
                    c.directories = w.report.directories_visited
                    now = time.monotonic()
                    if now >= next_event:
                        next_event = now + 0.25
                        svc.emit(self._discovery_event(w.report, len(to_check)))
            if batch:
                self._classify(conn, batch, to_check)
        rep = w.report
        c.phase_current = rep.files_found
        c.directories = rep.directories_visited
        svc.emit(self._discovery_event(rep, len(to_check)))
        s.files_found = rep.files_found
        s.directories = rep.directories_visited
        return to_check, rep

    def _discovery_event(self, rep: Any, selected: int) -> DiscoveryProgress:
        return DiscoveryProgress(
            directories=rep.directories_visited,
            files_found=rep.files_found,
            files_new=selected,
            files_skipped_unchanged=self.summary.skipped_unchanged,
        )

    def _classify(self, conn: Any, batch: list[DiscoveredFile], out: _WorkSpool) -> None:
        """Append the files of *batch* that need a check (with "is new") to *out*; count the others."""
        t = cast(sa.Table, ScanResult.__table__)
        by_path = {path_to_db(f.path): f for f in batch}
        rows = conn.execute(
            sa.select(
                t.c.file_path,
                t.c.file_size,
                t.c.file_mtime_ns,
                t.c.file_inode,
                t.c.scan_status,
                t.c.deep_scanned,
                t.c.scan_date,
                t.c.is_corrupted,
                t.c.marked_as_good,
                t.c.file_exists,
            ).where(t.c.file_path.in_(list(by_path)))
        ).all()
        conn.rollback()  # end the read transaction: never hold a snapshot open across batches
        known = {r.file_path: r for r in rows}
        # Recorded as gone (cleanup marks them), yet here: an unchanged file is not read again, so say it
        # exists now, or the results would go on calling it missing.
        back = [r.file_path for r in rows if not r.file_exists]
        if back:
            with self.db.engine.begin() as wconn:
                wconn.execute(sa.update(t).where(t.c.file_path.in_(back)).values(file_exists=True))
        run_start = self.claim.start_time
        s = self.summary
        for db_path, f in by_path.items():
            row = known.get(db_path)
            if row is None:
                out.append(f, True)
                continue
            if row.scan_status == "pending":
                out.append(f, False)
                continue
            same = (
                row.file_size == f.size
                and row.file_mtime_ns == f.mtime_ns
                and row.file_inode == signed_inode(f.inode)
            )
            # scan_date, not last_verified_at: a hash-only ``changes`` run in between moves the latter.
            done_this_run = self.claim.resumed and row.scan_date is not None and row.scan_date >= run_start
            if same and done_this_run and (row.deep_scanned or not self.deep):
                s.already_checked += 1
                s.already_checked_bytes += f.size
                self.resumed_verdicts[row.scan_status] = self.resumed_verdicts.get(row.scan_status, 0) + 1
                continue
            if same and not self.force and (row.deep_scanned or not self.deep):
                s.skipped_unchanged += 1
                if row.is_corrupted and not row.marked_as_good:
                    s.known_corrupted += 1
                continue
            out.append(f, False)

    # -- phase 2 ---------------------------------------------------------------------------------------

    def _add(self, to_check: _WorkSpool) -> None:
        self._set_phase("adding", 2, to_check.new)
        now = utcnow()
        dialect = self.db.dialect
        new = (f for f, is_new in to_check if is_new)
        done = 0
        while chunk := list(itertools.islice(new, PENDING_BATCH)):
            if self.cancel.is_set():
                return
            rows = [
                {
                    "file_path": path_to_db(f.path),
                    "file_path_full": _full_if_key(f.path),
                    "scan_status": "pending",
                    "file_size": f.size,
                    "media_family": f.family,
                    "discovered_at": now,
                    "file_exists": True,
                }
                for f in chunk
            ]
            with self.db.engine.begin() as conn:
                insert_pending(conn, dialect, rows)
            done += len(chunk)
            self.counters.phase_current = done

    # -- phase 3 ---------------------------------------------------------------------------------------

    def _check(self, to_check: _WorkSpool) -> None:
        c = self.counters
        c.files_total = len(to_check)
        c.bytes_total = to_check.bytes
        # A resumed run's earlier part counts in its progress (not in its rates: those are measured).
        c.files_before = self.summary.already_checked
        c.bytes_before = self.summary.already_checked_bytes
        self._set_phase("scanning", 3, c.files_total)
        self.writer.start_checking(c.files_total, c.bytes_total)
        if not to_check:
            self.work_finished = True
            return
        n = min(self.svc.workers, len(to_check))
        self._prestart_children()
        work = iter(to_check)
        work_lock = threading.Lock()
        failures: list[BaseException] = []

        def next_item() -> DiscoveredFile | None:
            with work_lock:
                item = next(work, None)
            return None if item is None else item[0]

        def worker(i: int) -> None:
            with scan_context(self.claim.scan_id):
                f = None
                try:
                    f = None if self.cancel.is_set() else next_item()
                    while f is not None:
                        # The next file is taken now and queued in the child behind this one (``then``): the
                        # child starts it the moment it answers, instead of idling while this thread stores
                        # the result and asks again.
                        following = next_item()
                        self._check_one(i, f, following)
                        f = following
                        if self.cancel.is_set():
                            break
                except BaseException as exc:
                    failures.append(exc)
                    self.cancel.set()
                finally:
                    if f is not None:
                        with work_lock:
                            self.left_unchecked += 1
                    c.current[i] = None

        threads = [
            threading.Thread(target=worker, args=(i,), name=f"pixelprobe-scan-worker-{i}", daemon=True)
            for i in range(n)
        ]
        for th in threads:
            th.start()
        aborted = False
        while any(th.is_alive() for th in threads):
            for th in threads:
                th.join(0.1)
            if self.cancel.is_set() and not aborted:
                aborted = True
                # Cancel must not wait for a long decode: kill the children; their results are discarded.
                self.aborted.update(range(n))
                for child in self.children:
                    child.abort()
        if failures:
            raise failures[0]
        self.work_finished = next_item() is None and self.discarded == 0 and self.left_unchecked == 0

    def _prestart_children(self) -> None:
        """Start the checker processes in the background (about a second each), overlapping discovery."""
        if self.children:
            return
        self.children = [
            CheckerChild(self.svc.isolation, self.svc.child_env) for _ in range(self.svc.workers)
        ]

        def start(child: CheckerChild) -> None:
            # A failed start is reported by the first check on this child, in the scan's thread.
            with contextlib.suppress(Exception):
                child.start()

        for child in self.children:
            th = threading.Thread(target=start, args=(child,), name="pixelprobe-checker-start", daemon=True)
            th.start()
            self._starting.append(th)

    def _check_one(self, i: int, f: DiscoveredFile, following: DiscoveredFile | None = None) -> None:
        c = self.counters
        root = self.health.root_of(f.path)
        if self.health.is_unavailable(root):
            self.summary.skipped_unavailable += 1
            return
        c.current[i] = f.path
        child = self.children[i]
        snapshot = Snapshot(f.size, f.mtime_ns, f.inode)
        file_exists = True
        then = following.path if following is not None else None
        result, stat = child.check_and_stat(f.path, self.options, self.ignore, then=then)
        if self._discard(i, result):
            return
        stalled = result.verdict == Verdict.UNREADABLE and any(
            x.code in _STALL_CODES for x in result.findings
        )
        if not stalled:
            # The verdict is only current if the file is still what discovery saw; a file being written
            # gets one more check, then is recorded without a snapshot so the next scan checks it again.
            after = _snapshot_after(f.path, stat)
            if after is None:
                file_exists = not any(x.code == "vanished" for x in result.findings)
                snapshot = Snapshot(None, None, None)
            elif after != snapshot:
                snapshot = after
                result, stat = child.check_and_stat(f.path, self.options, self.ignore)
                if self._discard(i, result):
                    return
                if _snapshot_after(f.path, stat) != snapshot:
                    snapshot = Snapshot(None, None, None)
                    note = Finding(
                        Severity.INFO,
                        "changed_during_check",
                        "pixelprobe",
                        "file changed while it was checked",
                    )
                    result = _with_finding(result, note)
        row = result_row(
            result, snapshot, family=f.family, deep=self.deep, now=utcnow(), file_exists=file_exists
        )
        item = (row, str(result.verdict), f.size)
        if stalled:
            if self.health.stalled(root, item):
                log.warning(
                    "%s: %d reads in a row stalled; root reported unavailable, its remaining files are skipped",
                    display_path(root),
                    self.health.limit,
                )
            c.current[i] = None
            return
        for held in self.health.answered(root):
            self.writer.put(*held)
        self.writer.put(*item)
        self.svc.emit(FileChecked(f.path, result.verdict, result.duration_s))
        c.current[i] = None

    def _discard(self, i: int, result: CheckResult) -> bool:
        """A check cut short by cancel says nothing about the file: drop it (the file stays unchecked)."""
        if i in self.aborted and any(x.code in _ABORT_CODES for x in result.findings):
            self.discarded += 1
            return True
        return False

    # -- the end ---------------------------------------------------------------------------------------

    def _finish(self, status: ScanStatus, error: BaseException | None, walk_report: Any) -> None:
        s, c = self.summary, self.counters
        now = utcnow()
        for verdict, n in c.verdicts.items():
            setattr(s, verdict, getattr(s, verdict) + n)
        for verdict, n in self.resumed_verdicts.items():
            if hasattr(s, verdict) and verdict != "pending":
                setattr(s, verdict, getattr(s, verdict) + n)
        s.files_checked = c.files_done + s.already_checked
        s.bytes_checked = c.bytes_done + s.already_checked_bytes
        s.skipped_unavailable += self.health.dropped
        s.unavailable_roots = sorted(self.health.unavailable.union(self.stalled_roots))
        s.status = str(status)
        s.duration_s = round(time.monotonic() - self._started, 3)
        s.started_at = self.claim.start_time.isoformat()
        s.ended_at = now.isoformat()
        reasons = []
        if walk_report is not None:
            s.discovery = walk_report.as_dict()
            if walk_report.incomplete_reason:
                reasons.append(walk_report.incomplete_reason)
        if self.writer.rows_refused:
            reasons.append(f"{self.writer.rows_refused} result(s) refused by the database (see the log)")
        if self.health.unavailable:
            reasons.append(
                f"{len(self.health.unavailable)} root(s) unavailable (storage stalled): "
                + ", ".join(display_path(r) for r in s.unavailable_roots)
            )
        s.incomplete_reason = "; ".join(reasons) or None
        if error is not None:
            s.error = _one_line(error)
        message = s.error or (f"run incomplete: {s.incomplete_reason}" if s.incomplete_reason else None)
        details = {
            "resumed": s.resumed,
            "deep": s.deep,
            "force": s.force,
            "files_found": s.files_found,
            "skipped_unchanged": s.skipped_unchanged,
            "already_checked": s.already_checked,
            "already_checked_bytes": s.already_checked_bytes,
            # duration_seconds is this part's time: rates come from these, not from the run's totals
            "files_checked_this_part": c.files_done,
            "bytes_checked_this_part": c.bytes_done,
            "closed_interrupted": s.closed_interrupted,
            "known_corrupted": s.known_corrupted,
            "unreadable": s.unreadable,
            "unsupported": s.unsupported,
            "bytes_checked": s.bytes_checked,
            "skipped_unavailable": s.skipped_unavailable,
            "unavailable_roots": [path_to_db(r, full=True) for r in s.unavailable_roots],
            "incomplete_reason": s.incomplete_reason,
            "discovery": {k: v for k, v in s.discovery.items() if k != "issues"},
            "issues": s.discovery.get("issues", [])[:100],
        }
        final_phase = {"completed": "completed", "cancelled": "cancelled"}.get(s.status, "error")
        try:
            with self.db.session() as session:
                session.execute(
                    sa.update(ScanState)
                    .where(ScanState.id == self.claim.scan_id)
                    .values(
                        status=s.status,
                        phase=final_phase,
                        end_time=now,
                        is_cancelled=status == ScanStatus.CANCELLED,
                        files_processed=c.files_before + c.files_done,
                        total_files=c.files_before + c.files_total,
                        bytes_processed=c.bytes_before + c.bytes_done,
                        bytes_total=c.bytes_before + c.bytes_total,
                        current_files=None,
                        heartbeat_at=now,
                        error_message=message,
                    )
                )
                session.add(
                    ScanReport(
                        scan_id=self.claim.scan_id,
                        scan_type=_scan_type(self.file_mode, self.deep, self.force),
                        start_time=self.claim.start_time,
                        end_time=now,
                        status=s.status,
                        total_files=s.files_checked,
                        corrupted_files=s.corrupted,
                        warning_files=s.warning,
                        error_files=s.errors,
                        healthy_files=s.healthy,
                        duration_seconds=s.duration_s,
                        error_message=message,
                        directories_scanned=[path_to_db(r, full=True) for r in self.kept],
                        details=details,
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            log.error("could not record the end of scan %s: %s", self.claim.scan_id, _one_line(exc))
            if error is None:
                s.status = str(ScanStatus.ERROR)
                s.error = f"could not record the end of the scan: {_one_line(exc)}"
        self.svc.emit(
            ScanFinished(
                scan_id=str(self.claim.scan_id),
                status=ScanStatus(s.status),
                files_total=s.files_checked,
                healthy=s.healthy,
                warning=s.warning,
                corrupted=s.corrupted,
                unreadable=s.unreadable,
                unsupported=s.unsupported,
                skipped_unchanged=s.skipped_unchanged,
                duration_s=s.duration_s,
                incomplete_reason=s.incomplete_reason,
            )
        )
        log.info(
            "scan %s: %d checked (%d healthy, %d warning, %d corrupted, %d unreadable, %d unsupported), "
            "%d unchanged skipped, %.1f s%s",
            s.status,
            s.files_checked,
            s.healthy,
            s.warning,
            s.corrupted,
            s.unreadable,
            s.unsupported,
            s.skipped_unchanged,
            s.duration_s,
            f"; incomplete: {s.incomplete_reason}" if s.incomplete_reason else "",
        )


def _full_if_key(path: str) -> str | None:
    """``file_path_full`` for *path*: its whole database form when ``file_path`` holds a key, else None."""
    full = path_to_db(path, full=True)
    return None if path_to_db(path) == full else full


def _stat(path: str) -> Snapshot | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return Snapshot(st.st_size, st.st_mtime_ns, st.st_ino)


def _snapshot_after(path: str, stat: StatAfter | None) -> Snapshot | None:
    """The file's state after its check (None: gone or unknown), as the checker child stat'ed it.

    Only when the child gave no stat (it crashed) does this thread stat the file, and then it waits at most
    ``_STAT_WAIT_S``: a worker must never hang on storage that stalls.
    """
    if stat is not None:
        return Snapshot(stat.size, stat.mtime_ns, stat.inode) if stat.exists else None
    box: list[Snapshot | None] = []
    th = threading.Thread(target=lambda: box.append(_stat(path)), name="pixelprobe-stat", daemon=True)
    th.start()
    th.join(_STAT_WAIT_S)
    return box[0] if box else None


def _with_finding(result: CheckResult, finding: Finding) -> CheckResult:
    from dataclasses import replace

    return replace(result, findings=(*result.findings, finding))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


__all__ = [
    "ScanAlreadyRunning",
    "ScanError",
    "ScanService",
    "ScanSummary",
]
