"""``pixelprobe results`` (list verdicts, for scripts) and ``pixelprobe mark-good`` (record a person's call).

``results --json`` prints a JSON array of records keyed by the ``scan_results`` column names, streamed so a
large table does not have to fit in memory. ``file_path`` is the file system path: exact when the name is
valid UTF-8, with invalid bytes as U+FFFD otherwise, and then a ``file_path_b64`` field holds the raw bytes
(see ``discovery.json_path_fields``). The plain listing escapes control characters and invalid bytes
(``display_path``), so a hostile file name cannot drive the terminal. ``mark-good`` exits 2 when a path has
no result in the database.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pixelprobe_tui.commands import add_database_option, database_from_args
from pixelprobe_tui.core.discovery import (
    display_path,
    json_path_fields,
    json_safe,
    path_from_row,
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``results`` and ``mark-good``."""
    from pixelprobe_tui.services.results import STATUS_CHOICES

    p = subparsers.add_parser(
        "results",
        help="list stored verdicts",
        description="List stored verdicts (error = unreadable or unsupported files).",
    )
    p.add_argument("--status", choices=STATUS_CHOICES, default="all", help="which verdicts (default: all)")
    p.add_argument("--json", action="store_true", help="a JSON array of records keyed by column name")
    add_database_option(p)
    p.set_defaults(func=run_results)

    m = subparsers.add_parser(
        "mark-good",
        help="mark files as good (their verdict is kept; the mark lapses when the content changes)",
    )
    m.add_argument("paths", nargs="+", metavar="PATH")
    m.add_argument("--undo", action="store_true", help="remove the mark instead")
    add_database_option(m)
    m.set_defaults(func=run_mark_good)


def _detail(row: dict[str, Any]) -> str:
    text = row.get("corruption_details") or row.get("error_message") or row.get("warning_details") or ""
    return display_path(text.splitlines()[0]) if text else ""


def json_record(row: dict[str, Any]) -> dict[str, Any]:
    """A ``scan_results`` row (from ``iter_results``) as the record ``results --json`` prints: the real
    path (plus ``file_path_b64`` for a name that is not UTF-8), and no text a strict JSON parser rejects."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "file_path_full":
            continue  # a storage detail of long paths: file_path is the whole path here
        if key == "file_path" and value is not None:
            out.update(json_path_fields("file_path", path_from_row(value, row.get("file_path_full"))))
        else:
            out[key] = json_safe(value)  # a message quoting a name that is not UTF-8 gets U+FFFD
    return out


def run_results(args: argparse.Namespace) -> int:
    """Print the verdicts with the chosen status, as a table or as JSON."""
    from pixelprobe_tui.services.results import iter_results

    db = database_from_args(args)
    out = sys.stdout
    try:
        rows = iter_results(db, args.status)
        if args.json:
            out.write("[")
            n = 0
            for row in rows:
                line = json.dumps(json_record(row), ensure_ascii=False, default=str)
                out.write(("," if n else "") + "\n  " + line)
                n += 1
            out.write("\n]\n" if n else "]\n")
            return 0
        n = 0
        for row in rows:
            n += 1
            mark = " (marked good)" if row.get("marked_as_good") else ""
            path = display_path(path_from_row(row["file_path"], row.get("file_path_full")))
            detail = _detail(row)
            out.write(f"{row['scan_status']:<11} {path}{mark}" + (f"  -- {detail}" if detail else "") + "\n")
        if n == 0:
            print(f"no results with status {args.status}", file=sys.stderr)
        return 0
    finally:
        db.dispose()


def run_mark_good(args: argparse.Namespace) -> int:
    """Mark (or unmark) the given files; 2 when some have no result."""
    from pixelprobe_tui.services.results import mark_good

    db = database_from_args(args)
    try:
        outcome = mark_good(db, args.paths, undo=args.undo)
    finally:
        db.dispose()
    verb = "unmarked" if args.undo else "marked good"
    for p in outcome.changed:
        print(f"{verb}: {display_path(p)}")
    for p in outcome.missing:
        print(f"pixelprobe: error: no scan result for {display_path(p)} (scan it first)", file=sys.stderr)
    return 2 if outcome.missing else 0
