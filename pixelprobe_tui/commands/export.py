"""``pixelprobe export results|reports``: CSV or JSON, streamed to a file or standard output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from pixelprobe_tui.commands import add_database_option, database_from_args
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.browse import FAMILIES, STATUSES, ResultsQuery
from pixelprobe_tui.services.exports import atomic_output, export_reports, export_results, format_for

REPORT_STATUSES = ("completed", "cancelled", "error", "interrupted", "running")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``export results`` and ``export reports``."""
    export = subparsers.add_parser(
        "export",
        help="write results or reports as CSV or JSON",
        description="Streams rows (constant memory, any number of rows). Paths are file system paths, "
        "times ISO 8601 UTC. With -o the file appears only once complete.",
    )
    what = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)

    results = what.add_parser("results", help="one record per file (scan_results)")
    results.add_argument(
        "--status", action="append", default=[], metavar="STATUS", help=f"only these ({', '.join(STATUSES)})"
    )
    results.add_argument(
        "--family", action="append", default=[], metavar="TYPE", help=f"only these ({', '.join(FAMILIES)})"
    )
    results.add_argument("--path-contains", default="", metavar="TEXT", help="only paths containing TEXT")
    exists = results.add_mutually_exclusive_group()
    exists.add_argument("--missing", action="store_true", help="only records whose file is gone")
    exists.add_argument("--existing", action="store_true", help="only records whose file exists")
    _common(results)
    results.set_defaults(func=run_results)

    reports = what.add_parser("reports", help="one record per finished run (scan_reports)")
    reports.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="STATUS",
        help=f"only these ({', '.join(REPORT_STATUSES)})",
    )
    reports.add_argument("--type", dest="scan_types", action="append", default=[], metavar="TYPE",
                         help="only these scan types (e.g. full_scan, cleanup)")  # fmt: skip
    _common(reports)
    reports.set_defaults(func=run_reports)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("csv", "json"), help="default: from -o's extension, else csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    add_database_option(p)


def _choices(values: Iterable[str], allowed: tuple[str, ...], what: str) -> frozenset[str]:
    chosen = {v.strip().lower() for raw in values for v in raw.split(",") if v.strip()}
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise ConfigError(f"unknown {what} {', '.join(unknown)} (one of {', '.join(allowed)})")
    return frozenset(chosen)


def _run(args: argparse.Namespace, write) -> int:  # type: ignore[no-untyped-def]
    fmt = format_for(args.output, args.format)
    db = database_from_args(args)
    try:
        if args.output:
            with atomic_output(args.output) as fh:
                count = write(db, fh, fmt)
            print(f"exported {count} {args.export_command} to {args.output} ({fmt})", file=sys.stderr)
        else:
            sys.stdout.flush()
            count = write(db, sys.stdout.buffer, fmt)
            sys.stdout.buffer.flush()
    finally:
        db.dispose()
    return 0


def run_results(args: argparse.Namespace) -> int:
    """Export scan results, filtered like the results view."""
    query = ResultsQuery(
        statuses=_choices(args.status, STATUSES, "status"),
        families=_choices(args.family, FAMILIES, "type"),
        path_text=args.path_contains,
    )
    file_exists = False if args.missing else True if args.existing else None
    return _run(args, lambda db, fh, fmt: export_results(db, fh, fmt, query, file_exists=file_exists))


def run_reports(args: argparse.Namespace) -> int:
    """Export run reports."""
    statuses = _choices(args.status, REPORT_STATUSES, "report status")
    types = frozenset(t.strip() for raw in args.scan_types for t in raw.split(",") if t.strip())
    return _run(args, lambda db, fh, fmt: export_reports(db, fh, fmt, statuses=statuses, scan_types=types))
