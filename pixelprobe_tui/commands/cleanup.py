"""``pixelprobe cleanup``: find records of files that no longer exist; mark them, delete them with --apply."""

from __future__ import annotations

import argparse
import json
import sys

from pixelprobe_tui.commands import add_database_option, cancelled_by_signals, database_from_args
from pixelprobe_tui.commands.schedule import MaintenanceProgressPrinter
from pixelprobe_tui.core.discovery import display_path
from pixelprobe_tui.services.cleanup import CleanupService, CleanupSummary


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``cleanup``."""
    cleanup = subparsers.add_parser(
        "cleanup",
        help="find records of vanished files: mark them, delete with --apply",
        description="A record counts as gone only when its root is present (exists, lists, not empty) and "
        "the nearest existing directory above the file lists and is not empty: an unplugged drive or an "
        "unmounted (empty) mountpoint deletes nothing. Without --apply, gone records are only marked "
        "(file_exists = false).",
    )
    mode = cleanup.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", help="delete the records of gone files")
    mode.add_argument("--dry-run", action="store_true", help="change nothing, only list what is gone")
    cleanup.add_argument("--json", action="store_true", help="machine-readable summary")
    cleanup.add_argument("--limit", type=int, default=50, metavar="N", help="paths listed in text output")
    cleanup.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_database_option(cleanup)
    cleanup.set_defaults(func=run_cleanup)


def run_cleanup(args: argparse.Namespace) -> int:
    """Run one cleanup and print what it found and did."""
    mode = "apply" if args.apply else "preview" if args.dry_run else "mark"
    db = database_from_args(args)
    try:
        progress = None if args.quiet else MaintenanceProgressPrinter(sys.stderr, "cleanup")
        svc = CleanupService(db, progress=progress)
        with cancelled_by_signals(svc.cancel):
            summary = svc.run(mode)  # type: ignore[arg-type]
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        _print(summary, max(0, args.limit))
    return 0 if summary.status == "completed" else 1


def _print(s: CleanupSummary, limit: int) -> None:
    for r in s.unavailable_roots:
        print(f"root unavailable: {display_path(r.root)} ({r.reason}); {r.records} record(s) left alone")
    if s.preview:
        title = {"preview": "would go", "mark": "gone (marked)", "apply": "gone (deleted)"}[s.mode]
        print(f"{title}:")
        for p in s.preview[:limit]:
            print(f"  {display_path(p)}")
        if s.missing > min(limit, len(s.preview)):
            print(f"  ... and {s.missing - min(limit, len(s.preview))} more")
    for path, reason in s.unverifiable_examples[:10]:
        print(f"left alone: {display_path(path)} ({display_path(reason)})")
    done = {
        "preview": f"{s.missing} gone (dry run: nothing changed)",
        "mark": f"{s.missing} gone, {s.marked} newly marked; delete them with --apply",
        "apply": f"{s.missing} gone, {s.deleted} deleted",
    }[s.mode]
    restored = f", {s.restored} back again" if s.restored else ""
    print(
        f"cleanup {s.status}: {s.checked} records checked, {done}{restored}, {s.unverifiable} unverifiable, "
        f"{s.skipped_unavailable_root} under unavailable roots ({s.seconds:.1f} s)"
    )
    if s.status != "completed":
        print(f"pixelprobe: cleanup {s.status}", file=sys.stderr)
