"""Scan engine benchmark: orchestration overhead, incremental rescan speed, memory at 100,000 files.

(a) Full scan of a generated mixed corpus (valid and damaged video, audio, images) with W workers (2 by
    default) into a fresh SQLite database, against the decode floor measured in the same run: the same
    checkers in the same number of checker child processes, in a loop, with no database and no content
    hash. Scan and floor alternate ``--repeat`` times (the machine is shared: the median of the per-pair
    ratios with their spread is printed, and the ratio of the best runs, since load only ever adds time).
    Two ratios (goal: <= 1.15):

    - against the floor *with* the checker processes' start-up (the headline): a fresh process starts its
      checker zygote and forks W children (see core.zygote), then checks every file. A scan pays exactly
      that start-up too, once per run, so what remains of the ratio is the orchestration: discovery,
      the database, hashing, ScanState, threads.
    - against the floor's loop alone (start-up not charged to the floor, charged to the scan): the
      definition of the first session. With checker start-up now a fixed ~0.25 s per process (it used to
      be ~0.3 s per child plus ~0.1 s at each child's first image) and checks getting faster, this ratio
      mostly measures the corpus size: on 216 files it is the start-up, not the orchestration.

    Also printed: the CPU ratio (CPU seconds of the whole process tree, start-up included on both sides:
    what the orchestration costs in work, whatever the load of a shared machine does to wall time), the
    scan's time to its first result (its share of start-up) and the floor's start-up.
(b) Incremental rescan of N unchanged small files (goal: <= 10 s for 100,000), against the bare discovery
    walk of the same tree as a floor.
(c) Peak RSS of the scanning process (checker children excluded: they are capped and recycled on their
    own) during the first full scan of N small files and of N/10, to show it does not grow with the library
    (goal: <= 300 MB at 100,000).

Every measurement runs in a fresh interpreter. Trees and corpora are kept under /tmp for later runs.

    python bench/scan.py [--files N] [--per-kind K] [--workers W] [--repeat R] [--skip-full] [--skip-small]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TREE = "/tmp/pixelprobe-bench-scan"
CORPUS = "/tmp/pixelprobe-bench-scan-corpus"
EXTS = ("jpg", "mp4", "mp3", "png", "mkv", "flac", "heic", "mov")

CHILD = r"""
import json, os, resource, sys, time
mode = sys.argv[1]

def tree_cpu():
    # CPU seconds of this process, its reaped children and every checker zygote with its reaped children
    # (forked checker children are the zygote's, not ours). Load on a shared machine stretches wall time
    # but hardly CPU time, so this ratio is the steadier one.
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    from pixelprobe_tui.core import zygote
    for z in list(zygote._shared.values()):
        try:
            with open(f"/proc/{z.pid}/stat", "rb") as fh:
                raw = fh.read()
        except (OSError, TypeError):
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total

if mode == "scan":
    root, url, workers, force = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
    from pixelprobe_tui.db.migrate import open_database
    from pixelprobe_tui.services.config import default_settings
    from pixelprobe_tui.services.scan import ScanService
    db = open_database(url)
    first = []
    def sink(event):
        if not first and type(event).__name__ == "FileChecked":
            first.append(time.perf_counter())
    service = ScanService(db, default_settings(workers=workers), sink)
    cpu0 = tree_cpu()
    t0 = time.perf_counter()
    s = service.start([root], force=force)
    elapsed = time.perf_counter() - t0
    cpu = tree_cpu() - cpu0
    out = {"seconds": elapsed, "checked": s.files_checked, "skipped": s.skipped_unchanged,
           "found": s.files_found, "bytes": s.bytes_checked, "status": s.status,
           "first_result": (first[0] - t0) if first else None, "cpu": cpu}
elif mode == "floor":
    root, workers = sys.argv[2], int(sys.argv[3])
    from pixelprobe_tui.core.discovery import walk
    from pixelprobe_tui.core.isolation import CheckerPool
    from pixelprobe_tui.core.verdict import CheckOptions
    paths = [f.path for f in walk([root])]
    size = sum(os.path.getsize(p) for p in paths)
    cpu0 = tree_cpu()
    with CheckerPool(workers) as pool:
        t_start = time.perf_counter()
        pool.start()
        startup = time.perf_counter() - t_start
        t0 = time.perf_counter()
        results = list(pool.check_many(paths, CheckOptions(want_hash=False)))
        elapsed = time.perf_counter() - t0
    cpu = tree_cpu() - cpu0
    out = {"seconds": elapsed, "startup": startup, "checked": len(results), "bytes": size, "cpu": cpu}
else:
    from pixelprobe_tui.core.discovery import walk
    t0 = time.perf_counter()
    n = sum(1 for _ in walk([sys.argv[2]]))
    out = {"seconds": time.perf_counter() - t0, "found": n}
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(*args: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build_tree(total: int) -> str:
    """N files of a few bytes in directories of 1,000 (content is junk: each check is cheap)."""
    root = f"{TREE}-{total}"
    marker = root + ".complete"
    if os.path.exists(marker):
        return root
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    for i in range(0, total, 1000):
        d = os.path.join(root, f"d{i // 1000:04d}")
        os.makedirs(d, exist_ok=True)
        for j in range(i, min(i + 1000, total)):
            with open(os.path.join(d, f"f{j:06d}.{EXTS[j % len(EXTS)]}"), "wb") as fh:
                fh.write(b"not media %d\n" % j)
    open(marker, "w").close()
    print(f"created {total} files under {root} in {time.perf_counter() - t0:.1f} s")
    return root


def build_corpus(per_kind: int) -> str:
    root = f"{CORPUS}-{per_kind}"
    marker = root + ".complete"
    if os.path.exists(marker):
        return root
    from pixelprobe_tui.core import samples

    shutil.rmtree(root, ignore_errors=True)
    kinds = [
        "mp4_h264_aac",
        "mkv_h264",
        "webm_vp9",
        "mp3",
        "flac",
        "ogg_vorbis",
        "jpg_baseline",
        "png",
        "webp",
    ]
    items = samples.make_corpus(
        root, per_kind=per_kind, kinds=kinds, seconds=4.0, size=(320, 240), variants=2
    )
    open(marker, "w").close()
    print(f"created a corpus of {len(items)} files under {root}")
    return root


def _spread(values: list[float], fmt: str = "{:.3f}") -> str:
    """Median, with min-max when there is more than one value."""
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report_full(floors: list[dict[str, float]], scans: list[dict[str, float]], workers: int) -> None:
    """Print (a): throughput of the median run and both overhead ratios, each as median (min-max)."""
    scan_s = [s["seconds"] for s in scans]
    loop_s = [f["seconds"] for f in floors]
    full_s = [f["seconds"] + f["startup"] for f in floors]
    scan, floor = statistics.median(scan_s), statistics.median(loop_s)
    n, mb = scans[0]["checked"], scans[0]["bytes"] / 1e6
    print(
        f"(a) full scan of {n} files ({mb:.1f} MB), {workers} workers, {len(scans)} runs: "
        f"{n / scan:.1f} files/s, {mb / scan:.2f} MB/s; decode floor {n / floor:.1f} files/s, "
        f"{mb / floor:.2f} MB/s"
    )
    # Ratios per run pair (floor and scan measured back to back), then their median and spread.
    with_start = [s / f for s, f in zip(scan_s, full_s, strict=True)]
    loop_only = [s / f for s, f in zip(scan_s, loop_s, strict=True)]
    # Load from other processes only ever adds time: the best run of each is the least disturbed.
    best_start = min(scan_s) / min(full_s)
    best_loop = min(scan_s) / min(loop_s)
    print(
        f"    overhead ratio against floor + checker start-up {_spread(with_start)}, best runs "
        f"{best_start:.3f} (goal <= 1.15)"
    )
    print(
        f"    overhead ratio against the floor's loop alone   {_spread(loop_only)}, best runs {best_loop:.3f}"
    )
    cpu = [s["cpu"] / f["cpu"] for s, f in zip(scans, floors, strict=True)]
    print(f"    CPU ratio (checker processes included; both with start-up) {_spread(cpu)}")
    firsts = [s["first_result"] for s in scans if s.get("first_result") is not None]
    print(
        f"    seconds: scan {_spread(scan_s)}, floor loop {_spread(loop_s)}, floor start-up "
        f"{_spread([f['startup'] for f in floors])}, scan's first result after {_spread(firsts)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000, help="small files for (b) and (c)")
    # 48 per kind (432 files): with checks at ~5 ms of CPU, 216 files are over in about a second and a
    # shared machine's noise swamps the ratio.
    parser.add_argument("--per-kind", type=int, default=48, help="corpus files per media kind for (a)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="alternating floor/scan runs for (a)")
    parser.add_argument("--skip-full", action="store_true", help="skip (a)")
    parser.add_argument("--skip-small", action="store_true", help="skip (b) and (c)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pixelprobe-bench-scan-db-")
    try:
        if not args.skip_full:
            corpus = build_corpus(args.per_kind)
            floors, scans = [], []
            for i in range(max(1, args.repeat)):
                floors.append(child("floor", corpus, str(args.workers)))
                scans.append(child("scan", corpus, f"sqlite:///{work}/a{i}.db", str(args.workers), "0"))
            report_full(floors, scans, args.workers)

        small = max(1, args.files // 10)
        for n in () if args.skip_small else (small, args.files):
            root = build_tree(n)
            url = f"sqlite:///{work}/c{n}.db"
            first = child("scan", root, url, str(args.workers), "0")
            print(
                f"(c) first scan of {first['checked']} small files: {first['seconds']:.1f} s "
                f"({first['checked'] / first['seconds']:.0f} files/s), peak RSS {first['peak_rss_mb']:.0f} MB "
                "(goal <= 300 MB at 100,000, flat in N)"
            )
            if n == args.files:
                walk_floor = child("walk", root)
                again = child("scan", root, url, str(args.workers), "0")
                print(
                    f"(b) incremental rescan of {again['skipped']} unchanged files ({again['checked']} checked): "
                    f"{again['seconds']:.2f} s (goal <= 10 s at 100,000); bare walk {walk_floor['seconds']:.2f} s, "
                    f"ratio {again['seconds'] / walk_floor['seconds']:.1f}; peak RSS {again['peak_rss_mb']:.0f} MB"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
