"""``pixelprobe scan``: run a scan headless, with a progress bar on a terminal and a summary at the end.

Exit status: 0 when no corrupted file was found among the scanned files (checked now, or unchanged with a
corrupted verdict from before and not marked good), 1 when some were, 2 for usage or configuration errors
(including "a scan is already running"), 130 when the scan was cancelled (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
from typing import IO, Any

from pixelprobe_tui.commands import add_database_option, database_from_args
from pixelprobe_tui.core.discovery import INCOMPLETE_KINDS, display_path, path_from_db
from pixelprobe_tui.core.events import (
    DiscoveryProgress,
    Event,
    PhaseChanged,
    Progress,
    ScanFinished,
    ScanStarted,
)
from pixelprobe_tui.errors import ConfigError

EXIT_CANCELLED = 130


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``scan``."""
    p = subparsers.add_parser(
        "scan",
        help="scan paths (default: the configured scan_paths) for corrupted media",
        description=(
            "Check media files for corruption and store the verdicts. Unchanged files (same size, mtime "
            "and inode) are skipped unless --force. Exit status: 0 no corrupted file, 1 corrupted files "
            "found, 2 usage or configuration error, 130 cancelled."
        ),
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="directories or files (default: scan_paths)")
    p.add_argument("--deep", action="store_true", default=None, help="decode everything (slower, finds more)")
    p.add_argument("--force", action="store_true", default=None, help="check unchanged files again")
    p.add_argument("--workers", type=int, metavar="N", help="files checked in parallel (default: setting)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_database_option(p)
    p.set_defaults(func=run_scan)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressPrinter:
    """An event sink drawing progress on *stream*: a ``\\r`` bar on a terminal (at most ``rate`` updates
    per second), otherwise a plain line per phase and every ``line_interval_s`` seconds."""

    def __init__(
        self, stream: IO[str], *, tty: bool | None = None, rate: float = 4.0, line_interval_s: float = 10.0
    ):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.min_gap = 1.0 / rate
        self.line_interval_s = line_interval_s
        self._lock = threading.Lock()
        self._last = 0.0
        self._bar_shown = False
        self._phase = ""

    def __call__(self, event: Event) -> None:
        if isinstance(event, PhaseChanged):
            self._phase = event.phase
            self._line(f"phase {event.number}/{event.total}: {event.phase}")
        elif isinstance(event, ScanStarted):
            shown = [display_path(r) for r in event.roots[:3]]  # a rescan of chosen files has thousands
            more = len(event.roots) - len(shown)
            roots = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
            self._line(f"scanning {roots}" + (" (deep)" if event.deep else ""))
        elif isinstance(event, DiscoveryProgress):
            self._line(
                f"discovering: {event.files_found} files in {event.directories} directories, "
                f"{event.files_new} to check, {event.files_skipped_unchanged} unchanged",
                transient=True,
            )
        elif isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, ScanFinished):
            self._clear()

    def _progress(self, e: Progress) -> None:
        frac = (
            e.bytes_done / e.bytes_total
            if e.bytes_total
            else (e.files_done / e.files_total if e.files_total else 1)
        )
        frac = min(1.0, max(0.0, frac))
        rate = f"{_size(e.rate_bytes_s)}/s" if e.rate_bytes_s else "-"
        resumed = f" ({e.files_before} before resuming)" if e.files_before else ""
        text = (
            f"{frac * 100:5.1f}% {e.files_done}/{e.files_total} files{resumed}  {rate}  "
            f"ETA {_duration(e.eta_s)}"
        )
        if self.tty:
            width = shutil.get_terminal_size((80, 24)).columns
            bar_w = max(10, min(40, width - len(text) - 4))
            filled = int(bar_w * frac)
            text = f"[{'#' * filled}{'.' * (bar_w - filled)}] {text}"
            current = e.current_files[0] if e.current_files else ""
            room = width - len(text) - 3
            if current and room > 10:
                name = display_path(os.path.basename(current))
                text += "  " + (name if len(name) <= room else "..." + name[-(room - 3) :])
        self._line(text, transient=True)

    def _line(self, text: str, *, transient: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if transient:
                gap = self.min_gap if self.tty else self.line_interval_s
                if now - self._last < gap:
                    return
                self._last = now
            if self.tty:
                width = shutil.get_terminal_size((80, 24)).columns
                line = text[: width - 1]
                if transient:
                    self.stream.write("\r" + line.ljust(width - 1))
                    self._bar_shown = True
                else:
                    self.stream.write(
                        ("\r" + " " * (width - 1) + "\r" if self._bar_shown else "") + line + "\n"
                    )
                    self._bar_shown = False
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def _clear(self) -> None:
        with self._lock:
            if self.tty and self._bar_shown:
                width = shutil.get_terminal_size((80, 24)).columns
                self.stream.write("\r" + " " * (width - 1) + "\r")
                self.stream.flush()
                self._bar_shown = False


# IssueKind value -> (one, many) nouns; loops and links back into walked directories count as one kind.
_ISSUE_NOUNS: dict[str, tuple[str, str]] = {
    "missing_root": ("scan path not found", "scan paths not found"),
    "unreadable_directory": ("unreadable directory", "unreadable directories"),
    "unreadable_entry": ("unreadable entry", "unreadable entries"),
    "special_file": ("special file", "special files"),
    "broken_symlink": ("broken symlink", "broken symlinks"),
    "symlink_loop": ("symlink loop", "symlink loops"),
    "already_visited": ("symlink loop", "symlink loops"),
    "vanished": ("file gone while listed", "files gone while listed"),
    "stalled_directory": ("stalled directory", "stalled directories"),
    "unavailable_root": ("unavailable root", "unavailable roots"),
}
MAX_EXAMPLE_PATHS = 5
_INCOMPLETE = frozenset(k.value for k in INCOMPLETE_KINDS)


def discovery_lines(discovery: dict[str, Any]) -> list[str]:
    """The human lines about what discovery skipped (a ``WalkReport.as_dict()``): one line of counts, e.g.
    ``skipped: 1 special file (named pipe), 2 unreadable directories (run incomplete)``, then up to
    ``MAX_EXAMPLE_PATHS`` example paths (escaped for the terminal) and a pointer to ``--json`` for the rest.
    Empty when nothing was skipped."""
    counts: dict[str, int] = {}
    for kind, n in (discovery.get("issue_counts") or {}).items():
        if n:
            noun = _ISSUE_NOUNS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))[0]
            counts[noun] = counts.get(noun, 0) + int(n)
    if not counts:
        return []
    issues = [i for i in discovery.get("issues") or () if isinstance(i, dict)]
    # What the special files are ("named pipe", "socket"...): the part of their message before the colon.
    special = sorted(
        {
            str(i.get("message", "")).split(" (")[0].split(":")[0]
            for i in issues
            if i.get("kind") == "special_file"
        }
        - {""}
    )
    incomplete = {_ISSUE_NOUNS[k][0] for k in _INCOMPLETE if k in _ISSUE_NOUNS}
    parts = []
    for noun, n in counts.items():
        plural = next((many for one, many in _ISSUE_NOUNS.values() if one == noun), noun)
        text = f"{n:,} {noun if n == 1 else plural}"
        notes = []
        if noun == "special file" and special:
            notes.append(", ".join(special))
        if noun in incomplete:
            notes.append("run incomplete")
        parts.append(text + (f" ({'; '.join(notes)})" if notes else ""))
    lines = ["skipped: " + ", ".join(parts)]
    for issue in issues[:MAX_EXAMPLE_PATHS]:
        path = display_path(path_from_db(str(issue.get("path", ""))))
        lines.append(f"  {path}: {display_path(str(issue.get('message', '')))}")
    total = sum(counts.values())
    if total > min(len(issues), MAX_EXAMPLE_PATHS):
        lines.append(f"  ({total - min(len(issues), MAX_EXAMPLE_PATHS):,} more: --json lists them)")
    return lines


def print_summary(summary: Any, out: IO[str]) -> None:
    """The human end-of-run summary of a scan (also used by ``schedule run``)."""
    s = summary
    head = {"completed": "Scan completed", "cancelled": "Scan cancelled", "error": "Scan failed"}[s.status]
    for closed in s.closed_interrupted:
        out.write(f"Closed {closed}: its verdicts are kept (see its report)\n")
    out.write(f"{head}{' (resumed)' if s.resumed else ''} in {_duration(s.duration_s)}: ")
    before = f" ({s.already_checked} before the interruption)" if s.already_checked else ""
    out.write(
        f"{s.files_checked} checked{before}, {s.skipped_unchanged} unchanged skipped, {s.files_found} found\n"
    )
    out.write(
        f"  healthy {s.healthy}   warning {s.warning}   corrupted {s.corrupted}   "
        f"unreadable {s.unreadable}   unsupported {s.unsupported}\n"
    )
    if s.known_corrupted:
        out.write(f"  {s.known_corrupted} unchanged file(s) were already known to be corrupted\n")
    if s.skipped_unavailable:
        out.write(f"  {s.skipped_unavailable} file(s) skipped on unavailable storage\n")
    for line in discovery_lines(s.discovery):
        out.write(f"  {line}\n")
    if s.incomplete_reason:
        out.write(f"  run incomplete: {s.incomplete_reason}\n")
    if s.any_corrupted:
        out.write("  list them with: pixelprobe results --status corrupted\n")
    out.flush()


def run_scan(args: argparse.Namespace) -> int:
    """Run one scan and print its summary; see the module docstring for the exit status."""
    from pixelprobe_tui.services.config import ConfigService
    from pixelprobe_tui.services.logs import install_db_logging
    from pixelprobe_tui.services.scan import ScanService

    if args.workers is not None and not 1 <= args.workers <= 64:
        raise ConfigError("--workers must be between 1 and 64")
    # A path typed on the command line that does not exist is a mistake; a configured root that is missing
    # (an unmounted drive) is reported by the scan as incomplete instead.
    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise ConfigError(f"no such file or directory: {display_path(missing[0])}")
    db = database_from_args(args)
    handler = None
    try:
        settings = ConfigService(db).load()
        handler = install_db_logging(db, settings)
        sink = None if args.quiet else ProgressPrinter(sys.stderr)
        service = ScanService(db, settings, sink, workers=args.workers)
        previous = _install_cancel_handlers(service)
        try:
            summary = service.start(args.paths or None, deep=args.deep, force=args.force)
        finally:
            for signum, handler_before in previous.items():
                signal.signal(signum, handler_before)
    finally:
        if handler is not None:
            import logging

            logging.getLogger().removeHandler(handler)
            handler.close()
        db.dispose()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_summary(summary, sys.stdout)
    if summary.status == "cancelled":
        return EXIT_CANCELLED
    return 1 if summary.any_corrupted else 0


def _install_cancel_handlers(service: Any) -> dict[int, Any]:
    """First Ctrl-C (or SIGTERM) cancels the scan cleanly; a second Ctrl-C stops at once."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    state = {"asked": False}

    def on_signal(signum: int, _frame: object) -> None:
        if state["asked"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        state["asked"] = True
        print("\npixelprobe: cancelling the scan (Ctrl-C again to stop at once)", file=sys.stderr)
        service.request_cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, on_signal)
    return previous
