"""Checker child start-up: from scratch against forked from the warm zygote.

For each way of starting a child, in a fresh interpreter each round:

- start: from ``CheckerChild.start()`` to the child's hello (a zygote already running and warm for the
  forked case; the zygote's own start is printed separately: it is paid once per process);
- first JPEG: the first check of a JPEG in that child (a child from scratch imports numpy/simplejpeg
  and Pillow's plugins then; a forked child has them from the zygote);
- respawn: a crash (segfault test hook) and the next check on a fresh child, as a scan worker sees it.

Medians over ``--rounds`` rounds, with min-max. CPU seconds of the child are read from /proc.

    python bench/checker_startup.py [--rounds N]
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


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
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


if __name__ == "__main__":
    main()
