"""``pixelprobe doctor``: prove on known samples that the checkers still detect damage.

A library upgrade (FFmpeg, Pillow, libmediainfo) can silently change what is detected. The doctor generates
tiny valid and damaged samples (``core.samples.doctor_samples``), checks them through the same isolated
checker children as a scan, and fails loudly (exit 1, a list of what went wrong) if any valid file is not
healthy or any damaged file is not judged as expected.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelprobe_tui.core.verdict import CheckOptions, CheckResult


@dataclass(frozen=True)
class DoctorCase:
    """One known-answer check: what was expected and what the checkers said."""

    sample: str
    path: str
    expected: str
    result: CheckResult

    @property
    def ok(self) -> bool:
        return self.result.verdict.value == self.expected

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "file": Path(self.path).name,
            "expected": self.expected,
            "got": self.result.verdict.value,
            "ok": self.ok,
            "decisive_tool": self.result.decisive_tool,
            "findings": [f.describe() for f in self.result.active_findings],
        }


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` command."""
    p = subparsers.add_parser(
        "doctor",
        help="check that the checkers still detect known damage",
        description="Generate tiny valid and damaged samples, check them, and exit 1 if any verdict is wrong.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-j", "--workers", type=int, default=2, help="checker processes (default: %(default)s)")
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PATTERN",
        help="apply ignore patterns (substring or re:REGEX) to see whether they would hide real damage",
    )
    p.set_defaults(func=run)


def run_doctor(workers: int = 2, ignore: Sequence[str] = ()) -> tuple[list[DoctorCase], dict[str, str]]:
    """Generate the samples, check them in checker children, and return the cases and tool versions.

    ``ignore`` patterns are applied as in a scan, so the doctor can show that a pattern hides real damage.
    """
    from pixelprobe_tui.core import samples
    from pixelprobe_tui.core.isolation import CheckerPool

    with tempfile.TemporaryDirectory(prefix="pixelprobe-doctor-") as tmp:
        cases = samples.doctor_samples(tmp)
        # Each valid original once (several damaged samples share one), then every damaged sample.
        plan: list[tuple[str, str, str]] = []
        seen: set[Path] = set()
        for case in cases:
            if case.valid not in seen:
                seen.add(case.valid)
                plan.append((f"valid {case.kind}", str(case.valid), "healthy"))
        plan += [(case.name, str(case.damaged), case.expected) for case in cases]
        with CheckerPool(max(1, workers)) as pool:
            # Deep mode: the doctor is about what the decoders detect, not only the cheap walks.
            results = list(pool.check_many([p for _, p, _ in plan], CheckOptions(deep=True), ignore))
            versions = dict(pool.tool_versions)
    return [
        DoctorCase(name, path, expected, r) for (name, path, expected), r in zip(plan, results, strict=True)
    ], versions


def _table(cases: list[DoctorCase]) -> str:
    width = max(len(c.sample) for c in cases)
    lines = [f"{'sample':<{width}}  {'expected':<10} {'got':<11} ok"]
    for c in cases:
        lines.append(
            f"{c.sample:<{width}}  {c.expected:<10} {c.result.verdict.value:<11} {'yes' if c.ok else 'NO'}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    cases, versions = run_doctor(args.workers, args.ignore)
    failed = [c for c in cases if not c.ok]
    if args.json:
        report = {"ok": not failed, "cases": [c.to_dict() for c in cases], "versions": versions}
        print(json.dumps(report, indent=2))
        return 1 if failed else 0
    print(_table(cases))
    print()
    print("libraries:")
    width = max((len(name) for name in versions), default=0)
    for name, version in sorted(versions.items()):
        print(f"  {name:<{width}}  {version}")
    print()
    if not failed:
        print(f"doctor: all {len(cases)} samples judged as expected")
        return 0
    print(
        f"DOCTOR FAILED: {len(failed)} of {len(cases)} samples were not judged as expected.", file=sys.stderr
    )
    print("A library upgrade may have changed what the checkers detect:", file=sys.stderr)
    for c in failed:
        detail = "; ".join(f.describe() for f in c.result.active_findings) or "no findings"
        print(
            f"  - {c.sample}: expected {c.expected}, got {c.result.verdict.value} ({detail})", file=sys.stderr
        )
    return 1
