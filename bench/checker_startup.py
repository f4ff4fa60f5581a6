"""Checker child start-up: from scratch against forked from the warm zygote.

For each way of starting a child, in a fresh interpreter each round:

- start: from ``CheckerChild.start()`` to the child's hello (a zygote already running and warm for the
  forked case; the zygote's own start is printed separately: it is paid once per process);
- first JPEG: the first check of a JPEG in that child (a child from scratch imports numpy/simplejpeg
  and Pillow's plugins then; a forked child has them from the zygote);
- respawn: a crash (segfault test hook) and the next check on a fresh child, as a scan worker sees it.

``--phases`` adds where the zygote's own start-up goes, replayed step by step in a fresh interpreter set
up as the zygote is (single-threaded numpy, collector off): the interpreter itself, each library import,
our checker modules, the version probe, then each part of the warm-up. Wall and CPU milliseconds per step.

Medians over ``--rounds`` rounds, with min-max. CPU seconds of the child are read from /proc.

    python bench/checker_startup.py [--rounds N] [--phases]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, sys, time
from pixelprobe_tui.core import zygote
from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.core.isolation import CheckerChild, IsolationConfig
forked, jpeg, crash = sys.argv[1] == "1", sys.argv[2], sys.argv[3]
env = {**os.environ, HOOK_ENV: "1"}
cfg = IsolationConfig(fork_server=forked)
out = {}
if forked:
    t = time.perf_counter()
    z = zygote.shared(env)
    out["zygote_ready"] = time.perf_counter() - t
    z.warm.wait(120)
    out["zygote_warm"] = time.perf_counter() - t
child = CheckerChild(cfg, env=env)
t = time.perf_counter()
child.start()
out["start"] = time.perf_counter() - t
t = time.perf_counter()
child.check(jpeg)
out["first_jpeg"] = time.perf_counter() - t
with open(f"/proc/{child.pid}/stat", "rb") as fh:
    raw = fh.read()
fields = raw[raw.rfind(b")") + 2 :].split()
out["child_cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
t = time.perf_counter()
child.check(crash)
child.check(jpeg)
out["respawn"] = time.perf_counter() - t
child.close()
print(json.dumps(out))
"""


PHASES = r"""
import gc, json, time
gc.disable()
out = {}
def step(name, fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    out[name] = (time.perf_counter() - w, time.process_time() - c)
step("zygote module (stdlib)", lambda: __import__("pixelprobe_tui.core.zygote"))
step("PyAV (FFmpeg)", lambda: __import__("av"))
step("Pillow", lambda: __import__("PIL.Image"))
step("pillow-heif", lambda: __import__("pillow_heif"))
step("pymediainfo", lambda: __import__("pymediainfo"))
step("core.media", lambda: __import__("pixelprobe_tui.core.media"))
from pixelprobe_tui.core import checkers
for name in ("structure", "av", "flac", "image", "mediainfo"):
    step(f"checkers.{name}", lambda name=name: checkers._load(name))
step("tool_versions()", checkers.tool_versions)
from PIL import Image
step("warm: Image.init()", Image.init)
step("warm: numpy + simplejpeg", lambda: __import__("simplejpeg"))
from pixelprobe_tui.core import zygote
step("warm: tiny checks", zygote._warm_up)
step("gc.freeze()", gc.freeze)
print(json.dumps(out))
"""


def phases(rounds: int) -> None:
    """Where the zygote's start-up goes, step by step, in fresh interpreters."""
    import os
    import time

    from pixelprobe_tui.core.zygote import _SINGLE_THREAD_ENV

    env = {**os.environ, **_SINGLE_THREAD_ENV}
    bare: list[float] = []
    steps: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
        bare.append(time.perf_counter() - t)
        proc = subprocess.run([sys.executable, "-c", PHASES], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"phase replay failed:\n{proc.stderr[-3000:]}")
        for name, value in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            steps.setdefault(name, []).append(tuple(value))
    print(f"zygote start-up by phase (median ms wall / CPU over {rounds} rounds):")
    print(f"  {'interpreter (python -c pass)':<30} {statistics.median(bare) * 1000:6.1f}")
    total_w = total_c = 0.0
    for name, values in steps.items():
        w = statistics.median(v[0] for v in values)
        c = statistics.median(v[1] for v in values)
        total_w, total_c = total_w + w, total_c + c
        print(f"  {name:<30} {w * 1000:6.1f} / {c * 1000:5.1f}")
    print(f"  {'sum of the steps':<30} {total_w * 1000:6.1f} / {total_c * 1000:5.1f}")


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--phases", action="store_true", help="also break the zygote's start-up down")
    args = parser.parse_args()
    from pixelprobe_tui.core import samples

    with tempfile.TemporaryDirectory(prefix="pixelprobe-bench-startup-") as tmp:
        jpeg = str(samples.generate("jpg_baseline", f"{tmp}/a.jpg", size=(320, 240)))
        crash = f"{tmp}/__pixelprobe_segv.mp4"
        with open(crash, "wb") as fh:
            fh.write(b"\0" * 64)
        runs: dict[str, list[dict[str, float]]] = {"1": [], "0": []}
        for _ in range(args.rounds):
            for forked in ("1", "0"):  # alternate, so that load from others hits both alike
                proc = subprocess.run(
                    [sys.executable, "-c", CHILD, forked, jpeg, crash], capture_output=True, text=True
                )
                if proc.returncode != 0:
                    raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
                runs[forked].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for forked, name in (("0", "from scratch"), ("1", "forked from the zygote")):
        r = runs[forked]
        line = (
            f"{name:>23}: start {_spread([x['start'] for x in r])}, first JPEG "
            f"{_spread([x['first_jpeg'] for x in r])}, child CPU by then {_spread([x['child_cpu'] for x in r])}, "
            f"crash + respawn + check {_spread([x['respawn'] for x in r])}"
        )
        print(line)
    z = runs["1"]
    print(
        f"{'zygote (once a process)':>23}: ready {_spread([x['zygote_ready'] for x in z])}, "
        f"warm {_spread([x['zygote_warm'] for x in z])}"
    )
    if args.phases:
        phases(args.rounds)


if __name__ == "__main__":
    main()
