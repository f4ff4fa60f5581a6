"""Detection benchmark: our isolated checkers against one ``ffmpeg`` process per file.

Generates a mixed corpus (every sample kind, valid and damaged copies) with ``core.samples.make_corpus``,
then, with the same number of workers W:

(a) checks it with ``CheckerPool(W)`` (long-lived checker children, media info included, quick mode);
(b) runs the baseline, ``ffmpeg -nostdin -v error -i FILE -f null -`` once per file (a file is flagged
    when ffmpeg exits non-zero or prints anything at error level).

Ground truth for recall: a damaged file is *detectable* when any reference tool flags it: the ffmpeg full
decode above, Pillow (open + load every frame) for images, ``flac -t``, ``pngcheck``, ``jpeginfo -c`` where
installed (``apt-get install -y flac pngcheck jpeginfo``). Recall is measured on detectable damage and on
all damage; a false alarm is a valid file called corrupted.

``--large`` adds a second round on a few larger, longer videos, to show we are no slower there.

CPU time: for ffmpeg, this process and its reaped children; for us, this process plus each checker
child read from /proc just before the pool closes (children forked from a zygote are not ours to reap;
the zygote's own one-off start-up is not counted). After the summary, a per-kind table gives the mean
check time inside the children; ``--per-kind-cpu`` adds in-process CPU per kind split by checker phase
(sniff, structure, media info, A/V decode, image decode).

Run from the repository root::

    python bench/detection.py --quick          # about a minute
    python bench/detection.py                  # full corpus
    python bench/detection.py --large          # plus the large-video round
    python bench/detection.py --per-kind-cpu   # plus where the CPU goes, per kind and phase
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.isolation import CheckerPool
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Verdict


def ffmpeg_exe() -> str:
    """The ffmpeg binary from imageio-ffmpeg, else from PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if not found:
            sys.exit("bench: no ffmpeg (pip install imageio-ffmpeg, or put ffmpeg on PATH)")
        return found


def ffmpeg_flags(exe: str, path: str) -> bool:
    """True when a full ffmpeg decode reports an error for *path*."""
    proc = subprocess.run(
        [exe, "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return proc.returncode != 0 or bool(proc.stderr.strip())


def pillow_flags(path: str) -> bool:
    """True when Pillow cannot open or fully load every frame of an image."""
    from PIL import Image, ImageSequence

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    try:
        with Image.open(path) as im:
            for frame in ImageSequence.Iterator(im):
                frame.load()
    except Exception:  # any failure is a detection for the reference
        return True
    return False


def _tool(cmd: list[str]) -> Callable[[str], bool] | None:
    if shutil.which(cmd[0]) is None:
        return None

    def flags(path: str) -> bool:
        proc = subprocess.run(
            [*cmd, path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return proc.returncode != 0

    return flags


def reference_tools(kind: str) -> dict[str, Callable[[str], bool]]:
    """Reference checkers (besides the ffmpeg baseline) that apply to a sample kind."""
    family = samples.KINDS[kind].family
    ext = samples.KINDS[kind].extension
    tools: dict[str, Callable[[str], bool] | None] = {}
    if family == "image":
        tools["pillow"] = pillow_flags
    if ext == ".flac":
        tools["flac -t"] = _tool(["flac", "-t", "-s", "-w"])
    if ext == ".png":
        tools["pngcheck"] = _tool(["pngcheck", "-q"])
    if ext == ".jpg":
        tools["jpeginfo"] = _tool(["jpeginfo", "-c"])
    return {name: fn for name, fn in tools.items() if fn is not None}


@dataclass
class Run:
    """One checker's answers over the corpus: flagged paths, wall time and CPU time."""

    name: str
    flagged: dict[str, bool]
    seconds: float
    startup: float = 0.0  # one-off cost included in seconds (starting the checker children)
    cpu: float = 0.0  # CPU seconds of this process and its finished children during the run


def _cpu_now() -> float:
    """CPU seconds used so far by this process and by its children that have been waited for.

    Wall time on a machine shared with other work measures the load as much as the checker; CPU time
    does not, so the report gives both.
    """
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _pid_cpu(pid: int | None) -> float:
    """CPU seconds used so far by the live process *pid* (0 when it is gone or unknown)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
        rest = raw[raw.rfind(b")") + 2 :].split()  # the command name may contain spaces
        return (int(rest[11]) + int(rest[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def run_ours(paths: Sequence[str], workers: int, deep: bool) -> tuple[Run, list[CheckResult]]:
    """Check *paths* with a fresh CheckerPool; the time includes starting the children.

    CPU time is this process plus each checker child, read from /proc just before the pool closes:
    children forked from a zygote are not ours to wait for, so RUSAGE_CHILDREN would miss them.
    """
    cpu = _self_cpu()
    started = time.perf_counter()
    with CheckerPool(workers) as pool:
        pool.start()
        startup = time.perf_counter() - started
        results = list(pool.check_many(paths, CheckOptions(deep=deep)))
        children_cpu = sum(_pid_cpu(child.pid) for child in pool.children)
    seconds = time.perf_counter() - started
    flagged = {r.path: r.verdict == Verdict.CORRUPTED for r in results}
    return Run("pixelprobe", flagged, seconds, startup, _self_cpu() - cpu + children_cpu), results


def run_ffmpeg(paths: Sequence[str], workers: int) -> Run:
    exe = ffmpeg_exe()
    cpu = _cpu_now()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        flags = list(pool.map(lambda p: ffmpeg_flags(exe, p), paths))
    seconds = time.perf_counter() - started
    return Run("ffmpeg per file", dict(zip(paths, flags, strict=True)), seconds, cpu=_cpu_now() - cpu)


def ground_truth(items: Sequence[samples.CorpusItem], ffmpeg: Run, workers: int) -> dict[str, set[str]]:
    """For each damaged file, the reference tools that flag it (the ffmpeg run counts as one)."""

    def flags_of(item: samples.CorpusItem) -> set[str]:
        path = str(item.path)
        found = {"ffmpeg"} if ffmpeg.flagged[path] else set()
        found |= {name for name, fn in reference_tools(item.kind).items() if fn(path)}
        return found

    damaged = [i for i in items if i.damage is not None]
    with ThreadPoolExecutor(workers) as pool:
        return dict(zip((str(i.path) for i in damaged), pool.map(flags_of, damaged), strict=True))


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}% ({n}/{d})" if d else "   n/a"


def report(
    items: Sequence[samples.CorpusItem], runs: list[Run], truth: dict[str, set[str]], workers: int
) -> None:
    damaged = [str(i.path) for i in items if i.damage is not None]
    valid = [str(i.path) for i in items if i.damage is None]
    detectable = [p for p in damaged if truth[p]]
    kinds = len({i.kind for i in items})
    print(
        f"corpus: {len(items)} files ({kinds} kinds), {len(damaged)} damaged, "
        f"{len(detectable)} flagged by a reference tool; workers={workers}"
    )
    print(
        f"{'':18} {'files/s':>8} {'CPU ms/file':>11}  {'recall (detectable)':<20} {'recall (all damage)':<20} "
        "false alarms"
    )
    for run in runs:
        rate = len(items) / run.seconds if run.seconds else float("inf")
        recall_ref = sum(run.flagged[p] for p in detectable)
        recall_all = sum(run.flagged[p] for p in damaged)
        false = sum(run.flagged[p] for p in valid)
        print(
            f"{run.name:<18} {rate:8.1f} {1000 * run.cpu / len(items):11.2f}  "
            f"{_pct(recall_ref, len(detectable)):<20} {_pct(recall_all, len(damaged)):<20} {false}/{len(valid)}"
        )
    ours, base = runs[0], runs[1]
    print(f"throughput ratio (pixelprobe / ffmpeg per file): {base.seconds / ours.seconds:.2f}x")
    if ours.cpu > 0:
        print(
            f"CPU ratio (ffmpeg per file / pixelprobe; independent of other load): {base.cpu / ours.cpu:.2f}x"
        )
    steady = ours.seconds - ours.startup
    print(
        f"  pixelprobe children start once in {ours.startup:.2f} s (included above); after that "
        f"{len(items) / steady:.1f} files/s, ratio {base.seconds / steady:.2f}x"
    )
    kind_of = {str(i.path): (i.kind, i.damage) for i in items}
    misses = Counter(kind_of[p] for p in detectable if not ours.flagged[p])
    if misses:
        print(
            "missed (flagged by a reference, not by us): "
            + ", ".join(f"{k}/{d} x{n}" for (k, d), n in sorted(misses.items()))
        )
    extra = [p for p in damaged if ours.flagged[p] and not truth[p]]
    if extra:
        print(f"found beyond every reference tool: {len(extra)} damaged files")
    false = Counter(kind_of[p][0] for p in valid if ours.flagged[p])
    if false:
        print(
            "FALSE ALARMS (valid called corrupted): "
            + ", ".join(f"{k} x{n}" for k, n in sorted(false.items()))
        )
    by_tool: dict[str, int] = defaultdict(int)
    for tools in truth.values():
        for t in tools:
            by_tool[t] += 1
    print("reference detections: " + ", ".join(f"{t} {n}" for t, n in sorted(by_tool.items())))


def _kind_of(items: Sequence[samples.CorpusItem]) -> dict[str, str]:
    return {str(i.path): i.kind for i in items}


def _phase_timers() -> tuple[dict[str, float], Callable[[], None]]:
    """Wrap the dispatcher's checker entry points with CPU timers; returns the totals and an undo."""
    from pixelprobe_tui.core import checkers, media
    from pixelprobe_tui.core.checkers import mediainfo

    totals: dict[str, float] = defaultdict(float)
    undo: list[tuple[object, str, object]] = []

    def wrap(owner: object, name: str, phase: str) -> None:
        original = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            t = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                totals[phase] += time.process_time() - t

        undo.append((owner, name, original))
        setattr(owner, name, timed)

    wrap(media, "sniff", "sniff")
    wrap(mediainfo, "media_info", "mediainfo")
    for name in ("structure", "av", "image"):
        module = checkers._load(name)
        if module is not None:
            wrap(module, "check", name)

    def restore() -> None:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)

    return totals, restore


def per_kind_report(
    items: Sequence[samples.CorpusItem], results: Sequence[CheckResult], deep: bool | None
) -> None:
    """Where the time goes, per sample kind: mean check time in the children (wall, from each result)
    and, when *deep* is not None, CPU per check in this process split by checker phase (two passes,
    the first one warms up imports and caches)."""
    from pixelprobe_tui.core import checkers

    kind_of = _kind_of(items)
    wall: dict[str, list[float]] = defaultdict(list)
    for r in results:
        wall[kind_of[r.path]].append(r.duration_s or 0.0)
    cpu: dict[str, float] = defaultdict(float)
    phases: dict[tuple[str, str], float] = defaultdict(float)
    if deep is not None:
        options = CheckOptions(deep=deep)
        for p in kind_of:
            checkers.check(p, options, on_duration=lambda s: None)
        totals, restore = _phase_timers()
        try:
            for p, kind in kind_of.items():
                before = dict(totals)
                t = time.process_time()
                checkers.check(p, options, on_duration=lambda s: None)
                cpu[kind] += time.process_time() - t
                for phase, value in totals.items():
                    phases[(kind, phase)] += value - before.get(phase, 0.0)
        finally:
            restore()
    names = ["sniff", "structure", "mediainfo", "av", "image"]
    header = f"{'kind':<16} {'n':>3} {'child ms':>8}"
    if deep is not None:
        header += f" {'CPU ms':>7} " + " ".join(f"{n:>9}" for n in names)
    print("per kind (mean per file):\n" + header)
    total_n = 0
    total_cpu = 0.0
    for kind in sorted(wall, key=lambda k: -sum(wall[k]) / len(wall[k])):
        n = len(wall[kind])
        line = f"{kind:<16} {n:3d} {1000 * sum(wall[kind]) / n:8.2f}"
        if deep is not None:
            line += f" {1000 * cpu[kind] / n:7.2f} " + " ".join(
                f"{1000 * phases[(kind, name)] / n:9.2f}" for name in names
            )
        total_n += n
        total_cpu += cpu[kind]
        print(line)
    if deep is not None and total_n:
        split = " ".join(
            f"{name} {1000 * sum(v for (k, p), v in phases.items() if p == name) / total_n:.2f}"
            for name in names
        )
        print(f"in-process CPU: {1000 * total_cpu / total_n:.2f} ms/file ({split})")


def large_round(root: Path, workers: int, quick: bool) -> None:
    """Larger, longer videos: wall time of ours against ffmpeg per file (start-up is negligible here)."""
    seconds, size, per_kind = (10.0, (960, 540), 1) if quick else (30.0, (1280, 720), 2)
    paths = []
    for i, kind in enumerate(["mp4_h264_aac", "mkv_h264", "mp4_hevc", "webm_vp9"] * per_kind):
        ext = samples.KINDS[kind].extension
        paths.append(
            str(samples.generate(kind, root / f"large_{i}{ext}", seconds=seconds, size=size, seed=i))
        )
    total_mb = sum(os.path.getsize(p) for p in paths) / 1048576
    ours, _ = run_ours(paths, workers, deep=False)
    base = run_ffmpeg(paths, workers)
    steady = ours.seconds - ours.startup
    print(
        f"large video: {len(paths)} files of {seconds:.0f} s at {size[0]}x{size[1]} ({total_mb:.1f} MB): "
        f"pixelprobe {ours.seconds:.1f} s ({steady:.1f} s after start-up), ffmpeg per file {base.seconds:.1f} s; "
        f"ratio {base.seconds / ours.seconds:.2f}x ({base.seconds / steady:.2f}x); "
        f"CPU {ours.cpu:.1f} s vs {base.cpu:.1f} s ({base.cpu / ours.cpu if ours.cpu else 0:.2f}x); "
        f"flagged (all valid): {sum(ours.flagged.values())} / {sum(base.flagged.values())}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpus, fast run")
    parser.add_argument("--workers", type=int, default=2, help="workers for both sides (default 2)")
    parser.add_argument("--per-kind", type=int, default=None, help="files per sample kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deep", action="store_true", help="our checkers in deep mode")
    parser.add_argument("--large", action="store_true", help="also time a few large videos")
    parser.add_argument("--keep", metavar="DIR", help="build the corpus in DIR and keep it")
    parser.add_argument(
        "--per-kind-cpu",
        action="store_true",
        help="also check the corpus in this process and give the CPU cost per kind and per checker phase",
    )
    args = parser.parse_args(argv)
    per_kind = args.per_kind or (6 if args.quick else 16)

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pixelprobe-bench-"))
    try:
        t0 = time.perf_counter()
        items = samples.make_corpus(root / "corpus", per_kind=per_kind, damaged_fraction=0.5, seed=args.seed)
        print(f"corpus built in {time.perf_counter() - t0:.1f} s under {root}")
        paths = [str(i.path) for i in items]
        ours, results = run_ours(paths, args.workers, args.deep)
        base = run_ffmpeg(paths, args.workers)
        truth = ground_truth(items, base, args.workers)
        report(items, [ours, base], truth, args.workers)
        per_kind_report(items, results, args.deep if args.per_kind_cpu else None)
        if args.large:
            large_round(root, args.workers, args.quick)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
