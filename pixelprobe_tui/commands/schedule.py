"""``pixelprobe schedule`` (add, list, edit, enable, disable, remove, preview, run), ``run-due`` and ``daemon``.

``schedule run NAME`` runs one schedule now in the foreground. Its exit status is the scan's: 0 nothing wrong
found, 1 corrupted files found (a scan), suspected bitrot (file changes) or a run that did not complete, 2 for
usage or configuration errors (including "a scan is already running" and "this schedule is running
already"), 130 when it was cancelled (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any

from pixelprobe_tui.commands import add_database_option, database_from_args
from pixelprobe_tui.core.schedule import PREVIEW_RUNS, format_local, local_zone, next_runs
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import utcnow
from pixelprobe_tui.services.schedules import (
    POLL_S,
    RETRY_S,
    SCHEDULE_TYPES,
    Runner,
    RunOutcome,
    ScheduleInfo,
    Scheduler,
    ScheduleService,
    default_runners,
    parse_spec,
    run_now,
)

EXIT_CANCELLED = 130

SPEC_HELP = (
    "cron expression in local time ('0 3 * * *', '@daily') or interval ('every 6h', 'every 1d at 03:00')"
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``schedule ...``, ``run-due`` and ``daemon``."""
    schedule = subparsers.add_parser(
        "schedule",
        help="scheduled scans, cleanups and file-change checks",
        description="Cron expressions run in local time; intervals are elapsed time. " + SPEC_HELP + ".",
    )
    actions = schedule.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create a schedule and show its next runs")
    add.add_argument("name", metavar="NAME")
    add.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    add.add_argument("--type", dest="scan_type", default="scan", choices=SCHEDULE_TYPES, help="what to run")
    add.add_argument(
        "--path", dest="paths", action="append", default=[], metavar="DIR", help="scan only DIR (repeatable)"
    )
    add.add_argument("--force-rescan", action="store_true", help="check unchanged files again")
    add.add_argument("--disabled", action="store_true", help="create it disabled")
    add.add_argument("--json", action="store_true", help="machine-readable output")
    add_database_option(add)
    add.set_defaults(func=run_add)

    list_ = actions.add_parser("list", help="show every schedule with its last and next run")
    list_.add_argument("--json", action="store_true", help="machine-readable output")
    add_database_option(list_)
    list_.set_defaults(func=run_list)

    edit = actions.add_parser("edit", help="change a schedule")
    edit.add_argument("name", metavar="NAME")
    edit.add_argument("--spec", metavar="SPEC", help=SPEC_HELP)
    edit.add_argument("--rename", metavar="NEW_NAME")
    edit.add_argument("--type", dest="scan_type", choices=SCHEDULE_TYPES)
    paths = edit.add_mutually_exclusive_group()
    paths.add_argument(
        "--path", dest="paths", action="append", metavar="DIR", help="scan only DIR (repeatable)"
    )
    paths.add_argument("--all-roots", action="store_true", help="scan every configured root")
    force = edit.add_mutually_exclusive_group()
    force.add_argument("--force-rescan", dest="force_rescan", action="store_true", default=None)
    force.add_argument("--no-force-rescan", dest="force_rescan", action="store_false")
    edit.add_argument("--json", action="store_true", help="machine-readable output")
    add_database_option(edit)
    edit.set_defaults(func=run_edit)

    for action, helptext in (
        ("enable", "enable a schedule (its next run is computed from now)"),
        ("disable", "disable a schedule"),
        ("remove", "delete a schedule"),
    ):
        p = actions.add_parser(action, help=helptext)
        p.add_argument("name", metavar="NAME")
        add_database_option(p)
        p.set_defaults(func=run_toggle, action=action)

    run = actions.add_parser(
        "run",
        help="run a schedule now, in the foreground (also a disabled one)",
        description="Runs the schedule's work now with progress on standard error and its summary at the end, "
        "and records it as the schedule's last run. Its next run stays as planned (unless it was due: then "
        "this is that run). Exit status: 0 nothing wrong found, 1 corrupted files (scan), suspected bitrot "
        "(file changes) or an incomplete run, 2 usage or configuration error (also when a scan or this "
        "schedule is already running), 130 cancelled.",
    )
    run.add_argument("name", metavar="NAME", help="the schedule's name or id")
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_database_option(run)
    run.set_defaults(func=run_run)

    preview = actions.add_parser("preview", help="validate a SPEC and show its next runs (changes nothing)")
    preview.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    preview.add_argument("-n", type=int, default=PREVIEW_RUNS, help="how many runs (default 5)")
    add_database_option(preview)  # accepted for symmetry; a preview needs no database
    preview.set_defaults(func=run_preview)

    run_due = subparsers.add_parser(
        "run-due",
        help="run the schedules that are due, once, then exit (for cron or a systemd timer)",
        description="Claims each due schedule in the database, so several machines or processes never run "
        "the same slot twice. A run that finds a scan in progress is given back (it runs on the next "
        "run-due) unless --wait.",
    )
    run_due.add_argument("--wait", action="store_true", help="wait for a running scan instead of giving back")
    run_due.add_argument("--retry", type=float, default=RETRY_S, metavar="SECONDS", help="with --wait")
    run_due.add_argument("--json", action="store_true", help="machine-readable output")
    add_database_option(run_due)
    run_due.set_defaults(func=run_run_due)

    daemon = subparsers.add_parser(
        "daemon",
        help="run due schedules until stopped (SIGTERM or Ctrl-C stops it cleanly)",
    )
    daemon.add_argument("--poll", type=float, default=POLL_S, metavar="SECONDS", help="how often to look")
    daemon.add_argument(
        "--retry", type=float, default=RETRY_S, metavar="SECONDS", help="retry a busy run after"
    )
    add_database_option(daemon)
    daemon.set_defaults(func=run_daemon)


def _print_info(info: ScheduleInfo, service: ScheduleService, *, with_preview: bool) -> None:
    tz = service.tz
    where = ", ".join(info.scan_paths) if info.scan_paths else "all roots"
    kind = info.scan_type + (f" ({where})" if info.scan_type == "scan" else "")
    force = ", force rescan" if info.force_rescan else ""
    state = "enabled" if info.is_active else "disabled"
    print(f"{info.name}: {kind}{force}, {info.spec.describe()}, {state}")
    if with_preview and info.is_active and info.next_run is not None:
        runs = service.preview(info.spec, now=info.next_run)
        print("next runs:")
        for r in [info.next_run, *runs[: PREVIEW_RUNS - 1]]:
            print(f"  {format_local(r, tz)}")


def _with_db(args: argparse.Namespace) -> tuple[Database, ScheduleService]:
    db = database_from_args(args)
    return db, ScheduleService(db)


def run_add(args: argparse.Namespace) -> int:
    """Create a schedule; print it and its next five runs."""
    db, service = _with_db(args)
    try:
        info = service.add(
            args.name,
            args.spec,
            scan_type=args.scan_type,
            paths=args.paths,
            force_rescan=args.force_rescan,
            active=not args.disabled,
        )
        if args.json:
            print(json.dumps(_with_preview(info, service), indent=2))
        else:
            _print_info(info, service, with_preview=True)
    finally:
        db.dispose()
    return 0


def _with_preview(info: ScheduleInfo, service: ScheduleService) -> dict[str, object]:
    data = info.to_dict()
    runs = []
    if info.is_active and info.next_run is not None:
        runs = [info.next_run, *service.preview(info.spec, PREVIEW_RUNS - 1, now=info.next_run)]
    data["next_runs"] = [r.isoformat() for r in runs]
    return data


def run_list(args: argparse.Namespace) -> int:
    """A table of schedules (local times), or JSON."""
    db, service = _with_db(args)
    try:
        items = service.all()
    finally:
        db.dispose()
    if args.json:
        print(json.dumps([i.to_dict() for i in items], indent=2))
        return 0
    if not items:
        print("no schedules (add one: pixelprobe schedule add NAME '0 3 * * *')")
        return 0
    tz = service.tz
    rows = [("NAME", "TYPE", "WHEN", "ON", "LAST RUN", "NEXT RUN")]
    for i in items:
        rows.append(
            (
                i.name,
                i.scan_type + (" (force)" if i.force_rescan else ""),
                i.schedule_value,
                "yes" if i.is_active else "no",
                format_local(i.last_run, tz),
                format_local(i.next_run, tz) + (" (running)" if i.claimed_by else ""),
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def run_edit(args: argparse.Namespace) -> int:
    """Change a schedule and show it again."""
    db, service = _with_db(args)
    try:
        paths = [] if args.all_roots else args.paths
        info = service.edit(
            args.name,
            new_name=args.rename,
            spec=args.spec,
            scan_type=args.scan_type,
            paths=paths,
            force_rescan=args.force_rescan,
        )
        if args.json:
            print(json.dumps(_with_preview(info, service), indent=2))
        else:
            _print_info(info, service, with_preview=True)
    finally:
        db.dispose()
    return 0


def run_toggle(args: argparse.Namespace) -> int:
    """enable, disable or remove."""
    db, service = _with_db(args)
    try:
        if args.action == "remove":
            info = service.remove(args.name)
            print(f"removed schedule {info.name!r}")
            return 0
        info = service.set_active(args.name, args.action == "enable")
        _print_info(info, service, with_preview=args.action == "enable")
    finally:
        db.dispose()
    return 0


def run_preview(args: argparse.Namespace) -> int:
    """Validate a spec without a database and print its next runs in local time."""

    spec = parse_spec(args.spec)
    tz = local_zone()
    print(spec.describe())
    for r in next_runs(spec, utcnow(), tz, max(1, min(args.n, 100))):
        print(f"  {format_local(r, tz)}")
    return 0


class MaintenanceProgressPrinter:
    """Progress of a cleanup or file-changes run on *stream*: a ``\\r`` line on a terminal (at most four updates
    a second), otherwise a plain line every ``line_interval_s`` seconds and at the end."""

    def __init__(
        self, stream: IO[str], label: str, *, tty: bool | None = None, line_interval_s: float = 10.0
    ):
        self.stream = stream
        self.label = label
        self.tty = stream.isatty() if tty is None else tty
        self.gap = 0.25 if self.tty else line_interval_s
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, p: Any) -> None:
        final = p.phase in ("done", "cancelled", "error")
        now = time.monotonic()
        with self._lock:
            if not final and now - self._last < self.gap:
                return
            self._last = now
            text = f"{self.label}: {p.phase} {p.files_processed:,}/{p.total_files:,} records"
            if hasattr(p, "files_to_delete"):
                text += f", {p.files_to_delete:,} gone"
            else:
                text += f", {p.modified:,} modified, {p.bitrot:,} bitrot suspected, {p.missing:,} missing"
            if self.tty:
                width = shutil.get_terminal_size((80, 24)).columns
                self.stream.write("\r" + text[: width - 1].ljust(width - 1) + ("\n" if final else ""))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()


def _progress_for(scan_type: str, quiet: bool) -> Any:
    if quiet:
        return None
    if scan_type == "scan":
        from pixelprobe_tui.commands.scan import ProgressPrinter

        return ProgressPrinter(sys.stderr)
    return MaintenanceProgressPrinter(sys.stderr, "cleanup" if scan_type == "cleanup" else "file changes")


def exit_status(summary: Any) -> int:
    """The exit status of ``schedule run`` for a run's summary (see the module docstring)."""
    status = getattr(summary, "status", "completed")
    if status == "cancelled":
        return EXIT_CANCELLED
    if status != "completed" or getattr(summary, "any_corrupted", False) or getattr(summary, "bitrot", 0):
        return 1
    return 0


def _print_run_summary(info: ScheduleInfo, summary: Any) -> None:
    from pixelprobe_tui.commands import changes, cleanup
    from pixelprobe_tui.commands.scan import print_summary

    if info.scan_type == "scan":
        print_summary(summary, sys.stdout)
    elif info.scan_type == "cleanup":
        cleanup._print(summary, 50)
    else:
        changes._print(summary, 50)


def run_run(args: argparse.Namespace) -> int:
    """Run one schedule now in the foreground; see the module docstring for the exit status."""
    db, service = _with_db(args)
    try:
        info = service.get(args.name)
        runner_progress = _progress_for(info.scan_type, args.quiet)
        runners = default_runners(db, runner_progress)
        if not args.quiet:
            where = ", ".join(info.scan_paths) if info.scan_paths else "all roots"
            what = f"scan of {where}" if info.scan_type == "scan" else info.scan_type.replace("_", " ")
            print(f"running schedule {info.name!r} now: {what}", file=sys.stderr, flush=True)
        previous = _cancel_on_signals(runners[info.scan_type])
        try:
            with _db_logging(db):
                result = run_now(db, info.id, runners, tz=service.tz)
        finally:
            _restore_signals(previous)
        info = service.get(info.id)
    finally:
        db.dispose()
    if args.json:
        data = {"schedule": info.to_dict(), "summary": result.summary.to_dict()}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_run_summary(info, result.summary)
        nxt = format_local(info.next_run, service.tz) if info.is_active else "- (disabled)"
        print(f"schedule {info.name!r}: last run {format_local(info.last_run, service.tz)}, next run {nxt}")
    return exit_status(result.summary)


def _cancel_on_signals(runner: Runner) -> dict[int, object]:
    """First Ctrl-C (or SIGTERM) cancels the run cleanly; a second Ctrl-C stops at once."""
    asked = {"once": False}

    def handler(signum: int, _frame: FrameType | None) -> None:
        if asked["once"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        asked["once"] = True
        print("\npixelprobe: cancelling the run (Ctrl-C again to stop at once)", file=sys.stderr)
        cancel = getattr(runner, "cancel", None)
        if callable(cancel):
            cancel()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def _outcome_line(o: RunOutcome) -> str:
    slot = format_local(o.slot, local_zone()) if o.slot else "-"
    tail = f": {o.message}" if o.message else ""
    return f"{o.name} ({o.scan_type}, slot {slot}): {o.status}{tail}"


def run_run_due(args: argparse.Namespace) -> int:
    """One pass over due schedules. Exit 1 when a run failed."""
    db = database_from_args(args)
    scheduler = Scheduler(db, default_runners(db), retry_s=max(1.0, args.retry))
    previous = _stop_on_signals(scheduler)
    try:
        with _db_logging(db):
            outcomes = scheduler.run_pending(keep_busy=args.wait)
            while args.wait and scheduler.waiting and not scheduler.stopping:
                time.sleep(min(1.0, scheduler.retry_s))
                outcomes += scheduler.run_pending(keep_busy=True)
            scheduler.stop(timeout=0)
            scheduler.give_back_waiting()
    finally:
        _restore_signals(previous)
        db.dispose()
    if args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=2))
    elif not outcomes:
        print("nothing due")
    else:
        for o in outcomes:
            print(_outcome_line(o))
    return 1 if any(o.status == "failed" for o in outcomes) else 0


@contextmanager
def _db_logging(db: Database) -> Iterator[None]:
    """Store this command's log records in the database too, so the TUI's Logs screen shows scheduled runs."""
    from pixelprobe_tui.services.config import ConfigService
    from pixelprobe_tui.services.logs import install_db_logging

    handler = install_db_logging(db, ConfigService(db).load())
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _stop_on_signals(scheduler: Scheduler) -> dict[int, object]:
    asked = {"once": False}

    def handler(signum: int, _frame: FrameType | None) -> None:
        # Flags only: the scheduler ends the current step (the scan cancels) and exits its loop.
        if asked["once"] and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        asked["once"] = True
        print(
            f"pixelprobe: {signal.Signals(signum).name}: stopping after the current step "
            "(Ctrl-C again to stop at once)",
            file=sys.stderr,
        )
        scheduler.stop(timeout=0)

    previous: dict[int, object] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signals(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def run_daemon(args: argparse.Namespace) -> int:
    """Run due schedules until SIGTERM/SIGINT; a busy run waits and retries."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    db = database_from_args(args)

    def show(o: RunOutcome) -> None:
        print(_outcome_line(o), flush=True)

    scheduler = Scheduler(
        db, default_runners(db), poll_s=max(0.2, args.poll), retry_s=max(0.2, args.retry), on_outcome=show
    )
    previous = _stop_on_signals(scheduler)
    print(f"pixelprobe daemon: running schedules of {db.display_url} (owner {scheduler.owner})", flush=True)
    try:
        with _db_logging(db):
            scheduler.serve()
    finally:
        _restore_signals(previous)
        db.dispose()
    print("pixelprobe daemon: stopped", flush=True)
    return 0
