"""Structure checker speed and truncation detection against a full ffmpeg decode, measured in the same run.

For each sample kind: a longer valid file and a copy cut at 70%. Prints, per kind, the structure check time,
the ``ffmpeg -v error -i FILE -f null -`` time, their ratio, and whether each one flags the cut copy
(a file is flagged by ffmpeg when it exits non-zero or prints at error level).

Run from the repository root::

    python bench/structure_speed.py               # about a minute
    python bench/structure_speed.py --seconds 60  # longer media
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.checkers.structure import check
from pixelprobe_tui.core.verdict import Verdict


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_run(exe: str, path: Path) -> tuple[float, bool]:
    """(seconds, flagged) of a full decode."""
    started = time.perf_counter()
    proc = subprocess.run(
        [exe, "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    return time.perf_counter() - started, proc.returncode != 0 or bool(proc.stderr.strip())


def structure_run(path: Path, repeat: int = 5) -> tuple[float, bool]:
    """(median seconds, flagged) of the structure check."""
    times = []
    verdict = Verdict.HEALTHY
    for _ in range(repeat):
        started = time.perf_counter()
        verdict = check(str(path)).verdict
        times.append(time.perf_counter() - started)
    return statistics.median(times), verdict is Verdict.CORRUPTED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of audio/video samples")
    args = parser.parse_args()
    exe = ffmpeg_exe()
    kinds = [k for k in samples.available_kinds()]
    print(f"{'kind':18} {'size':>9} {'structure':>10} {'ffmpeg':>9} {'ratio':>8}  cut copy flagged by")
    ratios = []
    caught = {"structure": 0, "ffmpeg": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            ext = samples.KINDS[kind].extension
            valid = samples.generate(kind, Path(tmp) / f"{kind}{ext}", seconds=args.seconds, size=(320, 240))
            data = valid.read_bytes()
            cut = Path(tmp) / f"{kind}_cut{ext}"
            cut.write_bytes(data[: len(data) * 7 // 10])
            s_time, s_valid_flag = structure_run(valid)
            f_time, _ = ffmpeg_run(exe, valid)
            _, s_cut = structure_run(cut, repeat=1)
            _, f_cut = ffmpeg_run(exe, cut)
            caught["structure"] += s_cut
            caught["ffmpeg"] += f_cut
            ratio = f_time / s_time if s_time else float("inf")
            ratios.append(ratio)
            who = ", ".join(n for n, hit in (("structure", s_cut), ("ffmpeg", f_cut)) if hit) or "neither"
            alarm = "  FALSE ALARM on the valid file" if s_valid_flag else ""
            print(
                f"{kind:18} {len(data) / 1e6:8.2f}M {s_time * 1000:8.2f}ms {f_time * 1000:7.0f}ms "
                f"{ratio:7.0f}x  {who}{alarm}"
            )
    print(
        f"\nmedian speed-up over a full decode: {statistics.median(ratios):.0f}x; "
        f"cut copies flagged: structure {caught['structure']}/{len(kinds)}, ffmpeg {caught['ffmpeg']}/{len(kinds)}"
    )


if __name__ == "__main__":
    main()
