"""``pixelprobe changes``: hash recorded files again; report modified, bitrot-suspected and missing files.

Exit status: 0 when the check completed without bitrot, 1 when bitrot is suspected (or the run was cancelled
or stopped), 2 for usage and configuration errors (including "a scan is running").
"""

from __future__ import annotations

import argparse
import json
import sys

from pixelprobe_tui.commands import add_database_option, cancelled_by_signals, database_from_args
from pixelprobe_tui.commands.schedule import MaintenanceProgressPrinter
from pixelprobe_tui.core.discovery import display_path
from pixelprobe_tui.services.changes import ChangesSummary, FileChangesService


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``changes``."""
    p = subparsers.add_parser(
        "changes",
        help="re-hash recorded files: find modified files, suspected bitrot and missing files",
        description="Hash every recorded file (under PATH, default all) again and compare with the stored "
        "hash. Modified files (new size or mtime) are rescanned and take the new hash as their baseline. "
        "A changed content with unchanged size and mtime is flagged as suspected bitrot: the stored hash is "
        "kept and the file is rescanned. A mark-as-good lapses when the content changed. Exit status 1 "
        "when bitrot is suspected.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="only records at or below these paths")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="paths listed per kind in text output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_database_option(p)
    p.set_defaults(func=run_changes)


def run_changes(args: argparse.Namespace) -> int:
    """Run one file-changes check and print what it found."""
    db = database_from_args(args)
    try:
        progress = None if args.quiet else MaintenanceProgressPrinter(sys.stderr, "file changes")
        svc = FileChangesService(db, progress=progress)
        with cancelled_by_signals(svc.cancel):
            summary = svc.run(args.paths or None)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        _print(summary, max(0, args.limit))
    return 1 if summary.bitrot or summary.status != "completed" else 0


def _print(s: ChangesSummary, limit: int) -> None:
    for r in s.unavailable_roots:
        print(f"root unavailable: {display_path(r.root)} ({r.reason}); {r.records} record(s) left alone")
    for item in s.bitrot_files[:limit]:
        print(
            f"BITROT   {display_path(item['path'])}  (stored {item['stored_hash']}, now {item['current_hash']})"
        )
    for title, paths in (("modified", s.modified_paths), ("missing", s.missing_paths)):
        for path in paths[:limit]:
            print(f"{title:<8} {display_path(path)}")
    for path, reason in s.unreadable_examples[:limit]:
        print(f"unreadable {display_path(path)} ({display_path(reason)})")
    if s.rescan_error:
        print(
            f"pixelprobe: {s.rescan_skipped} changed file(s) not rescanned: {s.rescan_error}", file=sys.stderr
        )
    print(
        f"file changes {s.status}: {s.checked} checked, {s.unchanged} unchanged, {s.modified} modified, "
        f"{s.bitrot} bitrot suspected, {s.missing} missing, {s.unreadable} unreadable, {s.rescanned} rescanned"
        + (f", {s.skipped_unavailable_root} under unavailable roots" if s.skipped_unavailable_root else "")
        + f" ({s.duration:.1f} s)"
    )
    if s.status != "completed":
        print(f"pixelprobe: file-changes check {s.status}", file=sys.stderr)
