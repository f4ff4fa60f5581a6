"""``pixelprobe check FILE...``: check files now, without a database.

Files run through the same isolated checker children as a scan. Directories are walked as a scan walks them
(``discovery.walk``); what could not be examined (an unreadable directory) or was left alone (a FIFO with a
media name) is said on stderr. Exit status 1 when any file is corrupted, 0 otherwise (unreadable and
unsupported files are reported but are not evidence of damage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from pixelprobe_tui.core.discovery import (
    IssueKind,
    WalkIssue,
    display_path,
    is_dir_within,
    json_path_fields,
    json_safe,
    walk_guarded,
)
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, IgnoreRules, Severity, Verdict
from pixelprobe_tui.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check`` command."""
    p = subparsers.add_parser(
        "check",
        help="check files for corruption now (no database)",
        description="Check media files for corruption and print one verdict per file. "
        "Directories are walked for media files. Exit status 1 if any file is corrupted.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to check")
    p.add_argument(
        "--deep", action="store_true", help="decode fully even when a cheap check already found damage"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per file (JSON Lines)")
    p.add_argument(
        "-j",
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="checker processes (default: %(default)s)",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PATTERN",
        help="ignore findings matching PATTERN (substring, or re:REGEX); repeatable",
    )
    p.add_argument("--no-media-info", action="store_true", help="skip the media info summary")
    p.add_argument("--memory-mb", type=int, default=None, help="address-space cap per checker process")
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up on a file read or directory listing that makes no progress for this long "
        "(a dead network mount; default 60, 0 waits forever)",
    )
    p.set_defaults(func=run)


def expand(
    paths: Iterable[str],
    on_issue: Callable[[WalkIssue], None] | None = None,
    stall_timeout_s: float = 60.0,
) -> Iterator[str]:
    """Files as given, and media files under directories, walked as a scan walks them (name order, junk
    skipped, symlinks not followed, FIFOs and devices never opened, a directory whose listing makes no
    progress for *stall_timeout_s* given up on). What a walk could not examine or left alone (an unreadable
    or stalled directory, a FIFO with a media name) goes to *on_issue*."""
    for path in paths:
        is_dir = is_dir_within(path, stall_timeout_s)
        if is_dir is None:
            if on_issue is not None:
                message = f"no answer from storage for {stall_timeout_s:g} s; not checked"
                on_issue(WalkIssue(IssueKind.UNAVAILABLE_ROOT, path, message))
            continue
        if is_dir:
            w = walk_guarded([path], stall_timeout_s=stall_timeout_s, on_error=on_issue)
            try:
                yield from (f.path for f in w)
            finally:
                w.close()  # the consumer stopped early (an error, Ctrl-C): don't leave the walking thread waiting
        else:
            yield path


def json_record(result: CheckResult) -> dict[str, object]:
    """One ``check --json`` line: ``path`` as text, plus ``path_b64`` (the raw bytes) for a name that is not
    UTF-8, the same rule as every JSON the CLI prints (``discovery.json_path_fields``)."""
    record = json_safe(result.to_dict())
    record.update(json_path_fields("path", result.path))
    return record


def format_result(result: CheckResult) -> str:
    """Verdict and path on one line, then one indented line per finding."""
    lines = [f"{result.verdict.value:<11} {display_path(result.path)}"]
    for finding in result.findings:
        if finding.severity == Severity.INFO:
            continue
        lines.append(f"{'':11} {display_path(finding.describe())}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from pixelprobe_tui.core.isolation import CheckerPool, IsolationConfig

    options = CheckOptions(deep=args.deep, want_media_info=not args.no_media_info)
    limits: dict[str, float] = {}
    if args.memory_mb is not None:
        limits["memory_mb"] = args.memory_mb
    if args.stall_timeout is not None:
        if args.stall_timeout < 0:
            raise ConfigError("--stall-timeout must be 0 or more seconds")
        limits["stall_timeout_s"] = args.stall_timeout
    config = IsolationConfig(**limits)  # type: ignore[arg-type]
    rules = IgnoreRules(args.ignore)
    counts: Counter[str] = Counter()
    unexamined = 0

    def on_issue(issue: WalkIssue) -> None:
        nonlocal unexamined
        unexamined += issue.makes_incomplete
        print(f"pixelprobe: {display_path(issue.path)}: {issue.message}", file=sys.stderr, flush=True)

    with CheckerPool(max(1, args.workers), config) as pool:
        files = expand(args.paths, on_issue, config.stall_timeout_s)
        for result in pool.check_many(files, options, rules):
            counts[result.verdict.value] += 1
            if args.json:
                print(json.dumps(json_record(result), ensure_ascii=False), flush=True)
            else:
                print(format_result(result), flush=True)
    if not args.json:
        total = sum(counts.values())
        parts = ", ".join(f"{counts[v.value]} {v.value}" for v in Verdict if counts[v.value])
        print(f"{total} file{'s' if total != 1 else ''}: {parts or 'nothing checked'}", file=sys.stderr)
    if unexamined:
        print(f"pixelprobe: {unexamined} path(s) could not be examined (see above)", file=sys.stderr)
    return 1 if counts[Verdict.CORRUPTED.value] else 0
