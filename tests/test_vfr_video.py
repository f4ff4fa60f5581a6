"""Variable-frame-rate video is valid video.

Phones and screen recorders write frames at irregular times, some closer together than the stream's guessed
frame rate. Two frames may then round to one slot of that rate's grid: a full ``ffmpeg -f null`` decode
complains ("non monotonically increasing dts to muxer", its own encoder's time base), but nothing in the
file is damaged. The frame-slot check (``frame_timing``) must only judge constant-rate streams.
"""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest

from pixelprobe_tui.core.checkers import check
from pixelprobe_tui.core.verdict import CheckOptions, Verdict

av = pytest.importorskip("av")
np = pytest.importorskip("numpy")


def _steps(pattern: str, n: int = 120) -> list[int]:
    """Frame times in ms: ``jitter`` (33 +- 12 ms), ``burst`` (60 fps runs inside 30 fps), ``screen``
    (10 ms to 200 ms, as a screen recorder writes only changes)."""
    rng = random.Random(1)
    choices = {
        "jitter": lambda: 33 + rng.randint(-12, 12),
        "burst": lambda: rng.choice([16, 17, 33, 34]),
        "screen": lambda: rng.choice([10, 20, 33, 50, 100, 200]),
    }[pattern]
    times, t = [], 0
    for _ in range(n):
        times.append(t)
        t += choices()
    return times


def _write(path: Path, times_ms: list[int]) -> None:
    ms = Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = ms
        stream.codec_context.time_base = ms
        stream.options = {"threads": "1"}
        for i, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), i * 7 % 256, dtype="uint8"), format="rgb24"
            )
            frame.pts, frame.time_base = t, ms
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov"])
@pytest.mark.parametrize("pattern", ["jitter", "burst", "screen"])
def test_variable_frame_rate_video_is_healthy(tmp_path: Path, pattern: str, ext: str) -> None:
    path = tmp_path / f"{pattern}.{ext}"
    _write(path, _steps(pattern))
    for options in (CheckOptions(), CheckOptions(deep=True)):
        result = check(str(path), options)
        assert result.verdict is Verdict.HEALTHY, (options.deep, [f.describe() for f in result.findings])
