"""Randomized damage sweep: many damages at many positions and seeds, our verdict against reference tools.

For a set of valid files (every sample kind of :mod:`pixelprobe_tui.core.samples` by default, plus
matrix cases of ``tests/media_matrix.py`` by name when run from the repository root), each damage kind is
applied with ``--seeds`` seeds. Every damaged file is judged by the reference tools (a full FFmpeg decode,
Pillow for images, ``flac -t``, ``pngcheck``, ``jpeginfo -c`` where installed; a tool that already rejects
the undamaged original does not count for that source) and by our checker, quick and with ``--deep``.

Printed:

- misses: a reference tool flags the file and we do not say CORRUPTED;
- false alarms: an undamaged original we call CORRUPTED (or UNREADABLE);
- per damage kind: files, detectable ones (a reference flags them), caught, recall.

Damage kinds are those of ``samples.DAMAGES`` (the benchmark's, at seeded positions, including the
realistic zeroed_block, dropped_block, inserted_block, tail_cut, early_cut, dup_block) and
``samples.SWEEP_DAMAGES`` (flip_1, zero_tail, swap_blocks, boundary_cut). A damaged file is
``samples.damage(original, how, random.Random(seed))`` of a sample generated with seed 0 at ``--seconds``
and ``--size``, so a miss replays from its seed alone; ``--keep DIR`` also keeps the originals and every
damaged file (``DIR/damaged/<source>/<source>__<damage>__s<seed><ext>``).

Checks run in long-lived worker processes, one file after another, as a scan's checker children do (so
state one file leaves in a decoder library shows up here too). A worker that dies is replaced; the files
it had in hand are judged again step by step, each step in a process of its own, and listed as CRASHES.

Run from the repository root::

    python bench/damage_sweep.py --family audio,video --seeds 8          # sample kinds only
    python bench/damage_sweep.py --kinds flac,mp3 --damages tail_cut --seeds 50 --deep
    python bench/damage_sweep.py --matrix mp3_vbr,ogg_libvorbis --seeds 5 --keep /tmp/sweep
    python bench/damage_sweep.py --matrix-all --family audio --max-files 400
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # The matrix cases and the reference tools live in tests/media_matrix.py.
    sys.path.insert(0, str(ROOT))

from pixelprobe_tui.core import samples  # noqa: E402
from pixelprobe_tui.core.checkers import check  # noqa: E402
from pixelprobe_tui.core.verdict import CheckOptions, Severity, Verdict  # noqa: E402

try:
    from tests import media_matrix as mm
except ImportError:  # run outside the repository: sample kinds only
    mm = None  # type: ignore[assignment]

ALL_DAMAGES = (*samples.DAMAGES, *samples.SWEEP_DAMAGES)
# A check that takes longer than this is reported as a hang (a verdict of its own, never "caught").
CHECK_TIMEOUT_S = 120


@dataclass(frozen=True)
class Source:
    """One valid file the sweep damages: a sample kind or a matrix case."""

    label: str
    family: str
    ext: str  # with the dot
    path: Path
    matrix: bool = False


@dataclass(frozen=True)
class Job:
    source: Source
    how: str | None  # None: the undamaged original
    seed: int
    path: Path
    skip_tools: frozenset[str] = frozenset()


@dataclass
class Outcome:
    job: Job
    complaints: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)  # "quick" / "deep" -> verdict value
    findings: dict[str, list[str]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Reference tools.


def reference_tools(source: Source) -> dict[str, Callable[[Path], str | None]]:
    """The reference tools for a source: tests/media_matrix.py's, keyed by family and extension."""
    if mm is None:
        sys.exit(
            "damage_sweep: run from the repository root (tests/media_matrix.py holds the reference tools)"
        )
    ext = source.ext.lstrip(".")
    return mm.reference_tools(mm.Case(source.label, ext, source.family, lambda p: None))


# ---------------------------------------------------------------------------------------------------------
# Work done in the pool.


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def judge(job: Job, deep: bool) -> Outcome:
    """Run the reference tools and our checker (quick, and deep when asked) on one file."""
    out = Outcome(job)
    for tool, complaint in reference_tools(job.source).items():
        if tool in job.skip_tools:
            continue
        said = complaint(job.path)
        if said is not None:
            out.complaints[tool] = said
    modes = [("quick", CheckOptions())] + ([("deep", CheckOptions(deep=True))] if deep else [])
    for mode, options in modes:
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(CHECK_TIMEOUT_S)
        try:
            result = check(str(job.path), options)
            out.verdicts[mode] = result.verdict.value
            out.findings[mode] = [f.describe() for f in result.findings if f.severity is not Severity.INFO]
        except _Timeout:
            out.verdicts[mode] = "hang"
            out.findings[mode] = [f"no verdict after {CHECK_TIMEOUT_S} s"]
        finally:
            signal.alarm(0)
    return out


# ---------------------------------------------------------------------------------------------------------
# Sources and jobs.


def build_sources(args: argparse.Namespace, workdir: Path) -> list[Source]:
    families = set(args.family.split(",")) if args.family else {"audio", "video"}
    sources: list[Source] = []
    kinds = args.kinds.split(",") if args.kinds else [] if args.matrix_only else samples.available_kinds()
    w, h = (int(v) for v in args.size.split("x"))
    for kind in kinds:
        info = samples.KINDS[kind]
        if not args.kinds and info.family not in families:
            continue
        path = workdir / "originals" / f"{kind}{info.extension}"
        samples.generate(kind, path, seconds=args.seconds, size=(w, h), seed=0)
        sources.append(Source(kind, info.family, info.extension, path))
    names: list[str] = []
    if args.matrix or args.matrix_all:
        if mm is None:
            sys.exit("damage_sweep: --matrix needs tests/media_matrix.py (run from the repository root)")
        names = args.matrix.split(",") if args.matrix else [c.name for c in mm.CASES]
    for name in names:
        case = mm.BY_NAME[name]
        if args.matrix_all and case.family not in families:
            continue
        path = workdir / "originals" / case.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            case.build(path)
        except (mm.Unavailable, RuntimeError, OSError) as exc:
            print(f"skip matrix case {name}: {str(exc)[-160:]}", file=sys.stderr)
            continue
        sources.append(Source(name, case.family, "." + case.ext, path, matrix=True))
    return sources


def make_jobs(sources: list[Source], damages: list[str], seeds: list[int], workdir: Path) -> list[Job]:
    jobs: list[Job] = []
    for src in sources:
        jobs.append(Job(src, None, 0, src.path))
        data = src.path.read_bytes()
        for how in damages:
            seen: set[bytes] = set()
            for seed in seeds:
                hurt = samples.damage(data, how, random.Random(seed))
                if hurt == data or hurt in seen:
                    continue  # a damage that changed nothing (or repeats a seed) judges nothing new
                seen.add(hurt)
                path = workdir / "damaged" / src.label / f"{src.label}__{how}__s{seed}{src.ext}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(hurt)
                jobs.append(Job(src, how, seed, path))
    return jobs


# ---------------------------------------------------------------------------------------------------------
# Report.


def _caught(o: Outcome) -> bool:
    return all(v in (Verdict.CORRUPTED.value, "crash") for v in o.verdicts.values())


def report(outcomes: list[Outcome], modes: list[str]) -> int:
    valid = [o for o in outcomes if o.job.how is None]
    damaged = [o for o in outcomes if o.job.how is not None]
    alarms = [
        o
        for o in valid
        if any(v in ("corrupted", "unreadable", "hang", "crash") for v in o.verdicts.values())
    ]
    misses = [o for o in damaged if o.complaints and not _caught(o)]
    hangs = [o for o in outcomes if "hang" in o.verdicts.values()]
    crashes = [o for o in outcomes if "crash" in o.verdicts.values() or "reference" in o.complaints]
    print(f"\nfiles: {len(valid)} originals, {len(damaged)} damaged; modes: {', '.join(modes)}")
    print(f"\nFALSE ALARMS ({len(alarms)})")
    for o in alarms:
        print(f"  {o.job.source.label}: {o.verdicts} {o.findings}")
    print(f"\nMISSES ({len(misses)})")
    for o in sorted(misses, key=lambda o: (o.job.source.label, o.job.how or "", o.job.seed)):
        tools = "; ".join(f"{t}: {c[:120]}" for t, c in o.complaints.items())
        print(f"  {o.job.source.label} {o.job.how} seed={o.job.seed} ours={o.verdicts}")
        print(f"      reference: {tools}")
        for mode in modes:
            print(f"      {mode}: {o.findings.get(mode, [])[:3]}")
        # A verdict that depends on what the worker checked before (a decoder that logs a message once
        # per process) is a different bug from a check that misses the damage outright.
        fresh = {mode: _in_child(_our_verdict, o.job, mode == "deep") for mode in modes}
        said = {mode: r[1][0] if r[0] else "crash" for mode, r in fresh.items()}  # type: ignore[index]
        if said != o.verdicts:
            print(f"      in a fresh process: {said} (the verdict depends on earlier checks in the process)")
    if crashes:
        print(
            f"\nCRASHES ({len(crashes)}: our checker or a reference tool died; a real scan's isolation "
            "calls a checker crash corrupted)"
        )
        for o in crashes:
            print(f"  {o.job.source.label} {o.job.how} seed={o.job.seed} ours={o.verdicts} {o.complaints}")
    if hangs:
        print(f"\nHANGS ({len(hangs)})")
        for o in hangs:
            print(f"  {o.job.source.label} {o.job.how} seed={o.job.seed}")
    print("\nPER DAMAGE KIND (detectable: a reference tool flags it; caught: CORRUPTED in every mode)")
    print(f"  {'damage':<18} {'files':>6} {'detect':>7} {'caught':>7} {'recall':>7} {'extra':>6}")
    by_how: dict[str, list[Outcome]] = defaultdict(list)
    for o in damaged:
        by_how[o.job.how or ""].append(o)
    tot = Counter()
    for how in sorted(by_how, key=lambda h: ALL_DAMAGES.index(h) if h in ALL_DAMAGES else 99):
        rows = by_how[how]
        det = [o for o in rows if o.complaints]
        caught = [o for o in det if _caught(o)]
        # We call it corrupted, the references see nothing: fine (we know more) but worth a look.
        extra = [o for o in rows if not o.complaints and _caught(o)]
        recall = f"{100 * len(caught) / len(det):.1f}%" if det else "-"
        print(f"  {how:<18} {len(rows):>6} {len(det):>7} {len(caught):>7} {recall:>7} {len(extra):>6}")
        tot.update(files=len(rows), det=len(det), caught=len(caught), extra=len(extra))
    recall = f"{100 * tot['caught'] / tot['det']:.1f}%" if tot["det"] else "-"
    print(f"  {'ALL':<18} {tot['files']:>6} {tot['det']:>7} {tot['caught']:>7} {recall:>7} {tot['extra']:>6}")
    return 1 if misses or alarms else 0


# ---------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--family", help="audio,video,image (default audio,video); filters kinds and --matrix-all"
    )
    ap.add_argument("--kinds", help="sample kinds, comma-separated (default: every available kind)")
    ap.add_argument("--matrix", help="tests/media_matrix.py case names, comma-separated")
    ap.add_argument("--matrix-all", action="store_true", help="every matrix case of the chosen families")
    ap.add_argument("--matrix-only", action="store_true", help="no sample kinds, only matrix cases")
    ap.add_argument("--damages", help=f"comma-separated, default all: {','.join(ALL_DAMAGES)}")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per damage kind and source (default 5)")
    ap.add_argument("--seed-base", type=int, default=1, help="first seed (default 1)")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of the sample kinds (default 1 s)")
    ap.add_argument("--size", default="96x64", help="video size of the sample kinds (default 96x64)")
    ap.add_argument("--deep", action="store_true", help="also check with deep=True")
    ap.add_argument("--workers", type=int, default=2, help="processes (1: sequential; default 2)")
    ap.add_argument("--max-files", type=int, default=3000, help="cap on damaged files (runtime cap)")
    ap.add_argument("--keep", type=Path, help="keep originals and damaged files in this directory")
    args = ap.parse_args(argv)

    damages = args.damages.split(",") if args.damages else list(ALL_DAMAGES)
    unknown = [d for d in damages if d not in ALL_DAMAGES]
    if unknown:
        ap.error(f"unknown damage kinds: {', '.join(unknown)}")
    seeds = list(range(args.seed_base, args.seed_base + args.seeds))
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="pixelprobe-sweep-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        sources = build_sources(args, workdir)
        jobs = make_jobs(sources, damages, seeds, workdir)
        originals = [j for j in jobs if j.how is None]
        damaged = [j for j in jobs if j.how is not None]
        if len(damaged) > args.max_files:
            # Keep a seeded, even sample so a cap still covers every source and damage kind.
            damaged = random.Random(0).sample(damaged, args.max_files)
        # Tools that reject an undamaged original cannot judge its damage.
        rejecting: dict[str, frozenset[str]] = {}
        for j in originals:
            rejecting[j.source.label] = frozenset(
                t for t, fn in reference_tools(j.source).items() if fn(j.path) is not None
            )
            if rejecting[j.source.label]:
                print(
                    f"note: {j.source.label}: reference rejects the original: {sorted(rejecting[j.source.label])}"
                )
        jobs = [Job(j.source, j.how, j.seed, j.path, rejecting[j.source.label]) for j in originals + damaged]
        print(f"{len(sources)} sources, {len(jobs)} files, {len(damages)} damage kinds, {len(seeds)} seeds")
        outcomes = run_all(jobs, args.deep, args.workers)
        modes = ["quick"] + (["deep"] if args.deep else [])
        status = report(outcomes, modes)
        print(f"\n{time.monotonic() - started:.0f} s; files kept in {workdir}" if args.keep else "")
        return status
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run_all(jobs: list[Job], deep: bool, workers: int) -> list[Outcome]:
    """Judge every job in a pool of *workers* processes (1: one at a time, still out of process).

    At most *workers* jobs are in flight, so when a worker dies (a decoder or a reference library crashed
    on the file) the suspects are known: each is judged again step by step, every step in a process of
    its own (:func:`judge_isolated`), and the sweep goes on with a fresh pool.
    """
    outcomes: list[Outcome] = []
    queue = list(reversed(jobs))
    while queue:
        with ProcessPoolExecutor(max(1, workers)) as pool:
            running: dict[Future[Outcome], Job] = {}
            broken: list[Job] = []
            while queue or running:
                while queue and len(running) < max(1, workers):
                    job = queue.pop()
                    running[pool.submit(judge, job, deep)] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = running.pop(fut)
                    try:
                        outcomes.append(fut.result())
                    except BrokenProcessPool:
                        broken.append(job)
                if broken:
                    broken.extend(running.values())
                    break
                _progress(len(outcomes), len(jobs))
        for job in broken:
            outcomes.append(judge_isolated(job, deep))
    return outcomes


def _in_child(fn: Callable[..., object], *args: object) -> tuple[bool, object]:
    """Run ``fn(*args)`` in a forked process: (True, its result) or (False, the exit code it died with)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def run() -> None:
        child.send(fn(*args))

    proc = ctx.Process(target=run)
    proc.start()
    child.close()
    try:
        result = parent.recv() if parent.poll(CHECK_TIMEOUT_S * 3) else None
        proc.join(5)
        if proc.exitcode == 0 and result is not None:
            return True, result
        return False, proc.exitcode
    except EOFError:
        proc.join(5)
        return False, proc.exitcode
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()


def _complaints(job: Job) -> dict[str, str]:
    out = {}
    for tool, complaint in reference_tools(job.source).items():
        if tool not in job.skip_tools and (said := complaint(job.path)) is not None:
            out[tool] = said
    return out


def judge_isolated(job: Job, deep: bool) -> Outcome:
    """Like :func:`judge`, each step in its own process: a step that crashes is named in the outcome.

    A reference tool that crashes has flagged the file; our checker crashing counts as ``crash`` (the
    isolation layer makes that a corrupted verdict in a real scan) and is listed for a look.
    """
    out = Outcome(job)
    ok, said = _in_child(_complaints, job)
    if ok:
        out.complaints = dict(said)  # type: ignore[call-overload]
    else:
        out.complaints = {"reference": f"a reference tool crashed (exit {said})"}
    modes = [("quick", False)] + ([("deep", True)] if deep else [])
    for mode, is_deep in modes:
        ok, result = _in_child(_our_verdict, job, is_deep)
        if ok:
            out.verdicts[mode], out.findings[mode] = result  # type: ignore[misc]
        else:
            out.verdicts[mode] = "crash"
            out.findings[mode] = [f"checker process died (exit {result})"]
    return out


def _our_verdict(job: Job, deep: bool) -> tuple[str, list[str]]:
    result = check(str(job.path), CheckOptions(deep=deep))
    return result.verdict.value, [f.describe() for f in result.findings if f.severity is not Severity.INFO]


def _progress(done: int, total: int) -> None:
    if os.isatty(2) and (done % 20 == 0 or done == total):
        print(f"\r{done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
