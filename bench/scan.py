"""Scan engine benchmark: orchestration overhead, incremental rescan speed, memory at 100,000 files.

(a) Full scan of a generated mixed corpus (valid and damaged video, audio, images) with 2 workers into a
    fresh SQLite database, against the decode floor measured in the same run: the same checkers in the same
    number of checker child processes, in a loop, with no database and no content hash. Prints files/s,
    MB/s and the overhead ratio (goal: <= 1.15), and the ratio again with the floor charged the checker
    processes' start-up (which a scan pays once per run).
(b) Incremental rescan of N unchanged small files (goal: <= 10 s for 100,000), against the bare discovery
    walk of the same tree as a floor.
(c) Peak RSS of the scanning process (checker children excluded: they are capped and recycled on their
    own) during the first full scan of N small files and of N/10, to show it does not grow with the library
    (goal: <= 300 MB at 100,000).

Every measurement runs in a fresh interpreter. Trees and corpora are kept under /tmp for later runs.

    python bench/scan.py [--files N] [--per-kind K] [--workers W] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
if mode == "scan":
    root, url, workers, force = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
    from pixelprobe_tui.db.migrate import open_database
    from pixelprobe_tui.services.config import default_settings
    from pixelprobe_tui.services.scan import ScanService
    db = open_database(url)
    service = ScanService(db, default_settings(workers=workers))
    t0 = time.perf_counter()
    s = service.start([root], force=force)
    elapsed = time.perf_counter() - t0
    out = {"seconds": elapsed, "checked": s.files_checked, "skipped": s.skipped_unchanged,
           "found": s.files_found, "bytes": s.bytes_checked, "status": s.status}
elif mode == "floor":
    root, workers = sys.argv[2], int(sys.argv[3])
    from pixelprobe_tui.core.discovery import walk
    from pixelprobe_tui.core.isolation import CheckerPool
    from pixelprobe_tui.core.verdict import CheckOptions
    paths = [f.path for f in walk([root])]
    size = sum(os.path.getsize(p) for p in paths)
    with CheckerPool(workers) as pool:
        t_start = time.perf_counter()
        pool.start()
        startup = time.perf_counter() - t_start
        t0 = time.perf_counter()
        results = list(pool.check_many(paths, CheckOptions(want_hash=False)))
        elapsed = time.perf_counter() - t0
    out = {"seconds": elapsed, "startup": startup, "checked": len(results), "bytes": size}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000, help="small files for (b) and (c)")
    parser.add_argument("--per-kind", type=int, default=24, help="corpus files per media kind for (a)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="skip (a)")
    parser.add_argument("--skip-small", action="store_true", help="skip (b) and (c)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pixelprobe-bench-scan-db-")
    try:
        if not args.skip_full:
            corpus = build_corpus(args.per_kind)
            floor = child("floor", corpus, str(args.workers))
            scan = child("scan", corpus, f"sqlite:///{work}/a.db", str(args.workers), "0")
            mb = scan["bytes"] / 1e6
            print(
                f"(a) full scan of {scan['checked']} files ({mb:.1f} MB), {args.workers} workers: "
                f"{scan['checked'] / scan['seconds']:.1f} files/s, {mb / scan['seconds']:.2f} MB/s; "
                f"decode floor {floor['checked'] / floor['seconds']:.1f} files/s, "
                f"{mb / floor['seconds']:.2f} MB/s; overhead ratio {scan['seconds'] / floor['seconds']:.3f} "
                "(goal <= 1.15)"
            )
            # The scan's time includes starting its checker processes (a fixed cost per run, not per file);
            # the floor's loop does not. This ratio charges the floor the same start-up.
            with_start = floor["seconds"] + floor["startup"]
            print(
                f"    checker start-up {floor['startup']:.2f} s; overhead ratio against floor + start-up "
                f"{scan['seconds'] / with_start:.3f}"
            )

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
