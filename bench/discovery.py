"""Discovery speed and memory over 100,000 empty media files.

Creates the tree once under /tmp (100 directories x 1,000 files, kept for later runs), then in fresh
interpreters times ``walk()`` over it and, as a baseline measured in the same run, ``os.walk`` + ``os.lstat``
per file (the obvious standard-library way). Prints files/s, the ratio to the baseline, and the peak RSS of
the walking process. The page cache is warm (the tree was just created or read): this measures the CPU
side, which is what the incremental-rescan goal (100k unchanged files in <= 10 s) depends on.

    python bench/discovery.py [--files N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TREE = "/tmp/pixelprobe-bench-discovery"
EXTS = ("jpg", "mp4", "mp3", "png", "mkv", "flac", "heic", "mov")

CHILD = r"""
import json, os, resource, sys, time
mode, root = sys.argv[1], sys.argv[2]
from pixelprobe_tui.core.discovery import walk
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
n = 0
if mode == "walk":
    w = walk([root])
    for f in w:
        n += 1
    issues = len(w.report.issues)
else:
    issues = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.lstat(os.path.join(dirpath, name))
            n += 1
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"files": n, "issues": issues, "seconds": elapsed, "base_rss_kb": base_rss, "peak_rss_kb": peak}))
"""


def build_tree(total: int) -> str:
    root = f"{TREE}-{total}"
    marker = root + ".complete"  # beside the tree, so it is not counted
    if os.path.exists(marker):
        return root
    per_dir = 1000
    t0 = time.perf_counter()
    for i in range(0, total, per_dir):
        d = os.path.join(root, f"d{i // per_dir:04d}")
        os.makedirs(d, exist_ok=True)
        for j in range(i, min(i + per_dir, total)):
            fd = os.open(os.path.join(d, f"f{j:06d}.{EXTS[j % len(EXTS)]}"), os.O_WRONLY | os.O_CREAT, 0o644)
            os.close(fd)
    open(marker, "w").close()
    print(f"created {total} files under {root} in {time.perf_counter() - t0:.1f} s")
    return root


def run(mode: str, root: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, root], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = build_tree(args.files)

    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for mode in ("walk", "os.walk+lstat"):
            r = run(mode, root)
            if mode not in best or r["seconds"] < best[mode]["seconds"]:
                best[mode] = r
    w, b = best["walk"], best["os.walk+lstat"]
    print(f"files in tree:         {args.files} (walk yielded {w['files']}, {w['issues']} issues)")
    for mode, r in best.items():
        print(
            f"{mode:<22} {r['seconds']:.3f} s  {r['files'] / r['seconds']:,.0f} files/s  "
            f"peak RSS {r['peak_rss_kb'] / 1024:.1f} MB "
            f"(+{(r['peak_rss_kb'] - r['base_rss_kb']) / 1024:.1f} MB over the interpreter after import)"
        )
    print(f"walk / baseline time:  {w['seconds'] / b['seconds']:.2f}")


if __name__ == "__main__":
    main()
