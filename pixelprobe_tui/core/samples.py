"""Generate small, realistic media samples (valid and damaged) for tests, `pixelprobe doctor` and benchmarks.

Every sample is built at runtime with PyAV (video, audio) or Pillow / pillow-heif (images), so no binary
fixtures live in the repository. Content moves (gradients, shapes, seeded noise; mixed tones with an
envelope) so encoders produce non-trivial bitstreams that a damaged byte really breaks.

Damage is applied to bytes with a seeded :class:`random.Random`, so a corpus is reproducible.
"""

from __future__ import annotations

import functools
import math
import os
import random
import re
import struct
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image, ImageDraw

__all__ = [
    "DAMAGES",
    "KINDS",
    "CorpusItem",
    "DoctorSample",
    "SWEEP_DAMAGES",
    "SampleKind",
    "available_kinds",
    "avif_available",
    "damage",
    "damage_detectable",
    "damage_file",
    "doctor_expectations",
    "doctor_samples",
    "generate",
    "generate_bytes",
    "heic_available",
    "iter_kinds",
    "kind_available",
    "make_corpus",
]

Size = tuple[int, int]

VIDEO_FPS = 25
AUDIO_RATE = 44100
OPUS_RATE = 48000  # libopus only accepts 48/24/16/12/8 kHz


@dataclass(frozen=True)
class SampleKind:
    """One kind of sample: its name, media family and file extension (with the dot)."""

    name: str
    family: str  # "video" | "audio" | "image"
    extension: str
    description: str


@dataclass(frozen=True)
class _AVSpec:
    """How to encode one PyAV kind: container format plus optional video and audio codecs."""

    container: str
    video: str | None = None
    audio: str | None = None
    video_options: tuple[tuple[str, str], ...] = ()
    audio_rate: int = AUDIO_RATE
    pix_fmt: str = "yuv420p"
    container_options: tuple[tuple[str, str], ...] = ()
    bits: int = 16  # audio sample depth: 16 or 24


_X264 = (("preset", "veryfast"), ("threads", "1"), ("crf", "28"))
# With its assembly paths x264 gave different bytes from run to run for identical input frames (in up to
# a third of runs at some sizes); its C paths are reproducible but about four times slower. Up to this
# many pixels per frame we take the C paths, so test-sized samples are byte-identical; larger benchmark
# videos keep the speed.
_X264_REPRODUCIBLE_PIXELS = 320 * 240
_X265 = (("preset", "ultrafast"), ("x265-params", "log-level=none:pools=none:frame-threads=1"))
_VP9 = (("deadline", "realtime"), ("cpu-used", "8"), ("threads", "1"), ("b", "200k"))
_MPEG4 = (("threads", "1"), ("qscale", "5"))
_SVTAV1 = (("preset", "12"), ("crf", "40"), ("svtav1-params", "lp=1"))

_AV_SPECS: dict[str, _AVSpec] = {
    "mp4_h264": _AVSpec("mp4", video="libx264", video_options=_X264),
    "mp4_h264_aac": _AVSpec("mp4", video="libx264", audio="aac", video_options=_X264),
    "mp4_faststart": _AVSpec(
        "mp4",
        video="libx264",
        audio="aac",
        video_options=_X264,
        container_options=(("movflags", "+faststart"),),
    ),
    "mp4_fragmented": _AVSpec(
        "mp4",
        video="libx264",
        audio="aac",
        video_options=_X264,
        container_options=(("movflags", "+frag_keyframe+empty_moov+default_base_moof"),),
    ),
    "mkv_h264": _AVSpec("matroska", video="libx264", video_options=_X264),
    "mov_h264": _AVSpec("mov", video="libx264", video_options=_X264),
    "ts_h264": _AVSpec("mpegts", video="libx264", video_options=_X264),
    "mp4_hevc": _AVSpec("mp4", video="libx265", video_options=_X265),
    "webm_vp9": _AVSpec("webm", video="libvpx-vp9", video_options=_VP9),
    "webm_vp9_opus": _AVSpec(
        "webm", video="libvpx-vp9", audio="libopus", video_options=_VP9, audio_rate=OPUS_RATE
    ),
    "mp4_av1": _AVSpec("mp4", video="libsvtav1", video_options=_SVTAV1),
    "avi_mpeg4": _AVSpec("avi", video="mpeg4", video_options=_MPEG4),
    "mp3": _AVSpec("mp3", audio="libmp3lame"),
    "flac": _AVSpec("flac", audio="flac"),
    "flac_24bit": _AVSpec("flac", audio="flac", bits=24),
    "ogg_vorbis": _AVSpec("ogg", audio="vorbis"),
    "opus": _AVSpec("ogg", audio="libopus", audio_rate=OPUS_RATE),
    "m4a_aac": _AVSpec("ipod", audio="aac"),
    "mp4_audio_only": _AVSpec("mp4", audio="aac"),
    "mkv_audio": _AVSpec("matroska", audio="libopus", audio_rate=OPUS_RATE),
    "wav": _AVSpec("wav", audio="pcm_s16le"),
    "wav_24bit": _AVSpec("wav", audio="pcm_s24le", bits=24),
    "aiff": _AVSpec("aiff", audio="pcm_s16be"),
}

KINDS: dict[str, SampleKind] = {
    k.name: k
    for k in [
        SampleKind("mp4_h264", "video", ".mp4", "H.264 in MP4"),
        SampleKind("mp4_h264_aac", "video", ".mp4", "H.264 + AAC in MP4"),
        SampleKind("mp4_faststart", "video", ".mp4", "H.264 + AAC in MP4 with the moov index first"),
        SampleKind("mp4_fragmented", "video", ".mp4", "H.264 + AAC in fragmented MP4 (moof boxes)"),
        SampleKind("mkv_h264", "video", ".mkv", "H.264 in Matroska"),
        SampleKind("mov_h264", "video", ".mov", "H.264 in QuickTime"),
        SampleKind("ts_h264", "video", ".ts", "H.264 in MPEG-TS"),
        SampleKind("mp4_hevc", "video", ".mp4", "HEVC (x265) in MP4"),
        SampleKind("webm_vp9", "video", ".webm", "VP9 in WebM"),
        SampleKind("webm_vp9_opus", "video", ".webm", "VP9 + Opus in WebM"),
        SampleKind("mp4_av1", "video", ".mp4", "AV1 (SVT-AV1) in MP4"),
        SampleKind("avi_mpeg4", "video", ".avi", "MPEG-4 Part 2 in AVI"),
        SampleKind("mp3", "audio", ".mp3", "MP3 (LAME) with ID3v2 and an Info frame (frame count)"),
        SampleKind("flac", "audio", ".flac", "FLAC with STREAMINFO MD5"),
        SampleKind("flac_24bit", "audio", ".flac", "24-bit FLAC with STREAMINFO MD5"),
        SampleKind("ogg_vorbis", "audio", ".ogg", "Vorbis in Ogg (audio-only Ogg)"),
        SampleKind("opus", "audio", ".opus", "Opus in Ogg"),
        SampleKind("m4a_aac", "audio", ".m4a", "AAC in M4A"),
        SampleKind("mp4_audio_only", "audio", ".mp4", "AAC in an MP4 with no video stream"),
        SampleKind("mkv_audio", "audio", ".mkv", "Opus in a Matroska .mkv with no video stream"),
        SampleKind("wav", "audio", ".wav", "PCM s16le WAV"),
        SampleKind("wav_24bit", "audio", ".wav", "PCM s24le WAV"),
        SampleKind("aiff", "audio", ".aiff", "PCM s16be AIFF"),
        SampleKind("jpg_baseline", "image", ".jpg", "baseline JPEG"),
        SampleKind("jpg_progressive", "image", ".jpg", "progressive JPEG"),
        SampleKind("png", "image", ".png", "PNG"),
        SampleKind("gif_animated", "image", ".gif", "animated GIF"),
        SampleKind("bmp", "image", ".bmp", "BMP"),
        SampleKind("tiff", "image", ".tiff", "multi-page TIFF (3 pages)"),
        SampleKind("webp", "image", ".webp", "lossy WebP"),
        SampleKind("webp_animated", "image", ".webp", "animated WebP"),
        SampleKind("apng", "image", ".png", "animated PNG"),
        SampleKind("heic", "image", ".heic", "HEIC (pillow-heif / x265)"),
        SampleKind("avif", "image", ".avif", "AVIF (Pillow)"),
    ]
}

# Frame counts for multi-frame images: enough to be animated, small enough to stay tiny.
_ANIMATION_FRAMES = 8
_TIFF_PAGES = 3


def heic_available() -> bool:
    """Whether pillow-heif in this environment can *encode* HEIC (it needs an HEVC encoder)."""
    try:
        import pillow_heif

        return bool(pillow_heif.libheif_info().get("HEIF"))
    except Exception:  # an import or probe failure only means "not available"
        return False


def avif_available() -> bool:
    """Whether this Pillow build can encode AVIF."""
    try:
        from PIL import features

        return bool(features.check("avif"))
    except Exception:  # an old Pillow without the feature name
        return False


def kind_available(kind: str) -> bool:
    """Whether *kind* can be generated here: its encoders exist in this PyAV / Pillow / pillow-heif."""
    if kind == "heic":
        return heic_available()
    if kind == "avif":
        return avif_available()
    spec = _AV_SPECS.get(kind)
    if spec is None:
        return kind in KINDS
    needed = {c for c in (spec.video, spec.audio) if c}
    return needed <= av.codecs_available


def available_kinds() -> list[str]:
    """Names of every kind that can be generated here (``heic``, ``avif``, ``mp4_av1`` need extra encoders)."""
    return [name for name in KINDS if kind_available(name)]


# --------------------------------------------------------------------------------------------------------
# Content: pictures and sound that change over time.


class _Painter:
    """Draws frame *i* of a seeded moving scene: shifting gradient, two moving shapes, light noise."""

    def __init__(self, size: Size, seed: int, frames: int) -> None:
        w, h = size
        self.size = size
        self.frames = max(frames, 1)
        rng = random.Random(seed)
        # A gradient twice as wide as the frame; each frame crops a shifted window so the background pans.
        ramp = Image.linear_gradient("L").resize((2 * w, h))
        vramp = Image.linear_gradient("L").rotate(90).resize((2 * w, h))
        inv = ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        self.background = Image.merge("RGB", (ramp, vramp, inv))
        self.noise = [
            Image.frombytes("L", size, rng.randbytes(w * h)).convert("RGB") for _ in range(min(4, frames))
        ]
        self.colors = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(2)]
        self.phase = rng.random() * math.tau

    def frame(self, i: int) -> Image.Image:
        w, h = self.size
        t = i / self.frames
        x0 = int(w * t) % w
        img = self.background.crop((x0, 0, x0 + w, h))
        draw = ImageDraw.Draw(img)
        r = max(4, min(w, h) // 5)
        cx = int((w - 2 * r) * (0.5 + 0.5 * math.sin(math.tau * t + self.phase))) + r
        cy = int((h - 2 * r) * (0.5 + 0.5 * math.cos(math.tau * t))) + r
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=self.colors[0])
        bx = int((w - r) * t)
        by = int((h - r) * (1 - t))
        draw.rectangle((bx, by, bx + r, by + r), fill=self.colors[1], outline=(0, 0, 0))
        draw.text((2, 2), f"{i:03d}", fill=(255, 255, 255))
        return Image.blend(img, self.noise[i % len(self.noise)], 0.08)


@functools.lru_cache(maxsize=16)
def _tone_pcm(seconds: float, rate: int, seed: int, bits: int = 16) -> bytes:
    """Interleaved stereo PCM in native byte order: three mixed sine tones under an attack/release envelope.

    16-bit samples are int16; 24-bit samples are int32 holding the 24-bit value in the top bits (FFmpeg's
    s32 layout), so the low byte is zero and a 24-bit encoder keeps every bit.
    """
    rng = random.Random(seed)
    freqs = [rng.uniform(180, 400), rng.uniform(500, 900), rng.uniform(1200, 3000)]
    gains = [0.35, 0.2, 0.08]
    n = max(1, int(seconds * rate))
    attack, release = int(0.05 * rate), int(0.2 * rate)
    full = (1 << (bits - 1)) - 1
    shift = 0 if bits == 16 else 32 - bits
    pcm = array("h" if bits == 16 else "i")
    step = [math.tau * f / rate for f in freqs]
    for i in range(n):
        env = min(1.0, i / attack if attack else 1.0, (n - i) / release if release else 1.0)
        # A slow tremolo keeps the spectrum moving so the codec has something to code.
        trem = 0.8 + 0.2 * math.sin(math.tau * 3 * i / rate)
        s = sum(g * math.sin(st * i) for g, st in zip(gains, step, strict=True)) * env * trem
        pcm.append(int(s * full) << shift)
        pcm.append(int(s * 0.8 * full) << shift)
    return pcm.tobytes()


# --------------------------------------------------------------------------------------------------------
# Encoders.


def _video_stream(out: OutputContainer, spec: _AVSpec, size: Size) -> VideoStream:
    assert spec.video is not None
    if spec.video == "libsvtav1":
        # SVT-AV1 prints its banner straight to stderr unless told otherwise; keep test output readable.
        os.environ.setdefault("SVT_LOG", "1")
    options = dict(spec.video_options)
    if spec.video == "libx264" and size[0] * size[1] <= _X264_REPRODUCIBLE_PIXELS:
        options["x264-params"] = "no-asm=1"
    stream = out.add_stream(spec.video, rate=VIDEO_FPS, options=options)
    assert isinstance(stream, VideoStream)
    stream.width, stream.height = size
    stream.pix_fmt = spec.pix_fmt
    # A keyframe every second, like real footage: several GOPs, so damage in one can be recovered from.
    stream.codec_context.gop_size = VIDEO_FPS
    stream.codec_context.flags |= av.codec.context.Flags.bitexact
    # One encoder thread: encoders are only reproducible byte for byte without threads.
    stream.codec_context.thread_count = 1
    return stream


def _audio_stream(out: OutputContainer, spec: _AVSpec) -> AudioStream:
    assert spec.audio is not None
    options: dict[str, str] = {}
    if spec.audio == "vorbis":
        options["strict"] = "-2"  # FFmpeg's native Vorbis encoder is flagged experimental
    if spec.bits == 24:
        options["bits_per_raw_sample"] = "24"
    stream = out.add_stream(spec.audio, rate=spec.audio_rate, layout="stereo", options=options)
    assert isinstance(stream, AudioStream)
    if spec.bits == 24:
        # Without this the encoder takes its first (16-bit) format and the samples lose 8 bits.
        stream.codec_context.format = "s32"
    stream.codec_context.flags |= av.codec.context.Flags.bitexact
    stream.codec_context.thread_count = 1
    return stream


def _audio_frames(
    seconds: float, rate: int, seed: int, bits: int = 16, chunk: int = 1024
) -> Iterator[av.AudioFrame]:
    """The tone as packed stereo frames (s16, or s32 for 24-bit) of *chunk* samples, pts in 1/rate."""
    pcm = _tone_pcm(seconds, rate, seed, bits)
    fmt, width = ("s16", 4) if bits == 16 else ("s32", 8)  # bytes per stereo sample
    total = len(pcm) // width
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        frame = av.AudioFrame(format=fmt, layout="stereo", samples=n)
        frame.planes[0].update(pcm[start * width : (start + n) * width])
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        yield frame


def _encode_av(spec: _AVSpec, path: Path, seconds: float, size: Size, seed: int) -> None:
    """Encode a PyAV kind to *path*, interleaving video and audio in time order like a real recording."""
    n_video = max(1, round(seconds * VIDEO_FPS))
    # fflags=+bitexact keeps muxers from writing dates, random UIDs and version strings.
    options = {"fflags": "+bitexact", **dict(spec.container_options)}
    with av.open(str(path), "w", format=spec.container, options=options) as out:
        assert isinstance(out, OutputContainer)
        vstream = _video_stream(out, spec, size) if spec.video else None
        astream = _audio_stream(out, spec) if spec.audio else None
        audio = _audio_frames(seconds, spec.audio_rate, seed, spec.bits) if astream is not None else iter(())
        pending = next(audio, None)

        def audio_until(t: float) -> None:
            nonlocal pending
            while astream is not None and pending is not None and (pending.pts or 0) / spec.audio_rate <= t:
                out.mux(astream.encode(pending))
                pending = next(audio, None)

        if vstream is not None:
            painter = _Painter(size, seed, n_video)
            for i in range(n_video):
                audio_until(i / VIDEO_FPS)
                # Convert here rather than letting encode() do it: with the implicit conversion the
                # encoder output differed from run to run.
                frame = av.VideoFrame.from_image(painter.frame(i)).reformat(format=spec.pix_fmt)
                frame.pts = i
                frame.time_base = Fraction(1, VIDEO_FPS)
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        audio_until(math.inf)
        if astream is not None:
            out.mux(astream.encode(None))


def _encode_image(kind: str, path: Path, size: Size, seed: int) -> None:
    """Write an image kind with Pillow (or pillow-heif for HEIC)."""
    multi = {"gif_animated": _ANIMATION_FRAMES, "webp_animated": _ANIMATION_FRAMES, "apng": _ANIMATION_FRAMES}
    count = multi.get(kind, _TIFF_PAGES if kind == "tiff" else 1)
    painter = _Painter(size, seed, count)
    frames = [painter.frame(i) for i in range(count)]
    first = frames[0]
    if kind == "jpg_baseline":
        first.save(path, "JPEG", quality=85)
    elif kind == "jpg_progressive":
        first.save(path, "JPEG", quality=85, progressive=True, optimize=True)
    elif kind == "png":
        first.save(path, "PNG")
    elif kind == "bmp":
        first.save(path, "BMP")
    elif kind == "webp":
        first.save(path, "WEBP", quality=80, method=0)
    elif kind == "gif_animated":
        pal = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=64) for f in frames]
        pal[0].save(path, "GIF", save_all=True, append_images=pal[1:], duration=80, loop=0)
    elif kind == "webp_animated":
        first.save(path, "WEBP", save_all=True, append_images=frames[1:], duration=80, loop=0, quality=70)
    elif kind == "apng":
        first.save(path, "PNG", save_all=True, append_images=frames[1:], duration=80, loop=0)
    elif kind == "tiff":
        first.save(path, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    elif kind == "heic":
        import pillow_heif

        pillow_heif.from_pillow(first).save(str(path), quality=70)
    elif kind == "avif":
        first.save(path, "AVIF", quality=60, speed=10)
    else:  # pragma: no cover - guarded by generate()
        raise ValueError(kind)


def generate(
    kind: str, path: str | os.PathLike[str], *, seconds: float = 2.0, size: Size = (160, 120), seed: int = 0
) -> Path:
    """Write a valid sample of *kind* to *path* and return the path.

    *seconds* applies to video and audio; *size* (width, height) to video and images; video needs even
    sizes of at least 16x16 (4:2:0 chroma). The same arguments give the same bytes on the same FFmpeg and
    Pillow builds (encoders single-threaded with bit-exact flags, muxers writing no dates or UIDs), with
    one exception: H.264 frames larger than 320x240 may differ in a few bytes from run to run.
    Raises ValueError for an unknown kind or a bad size, RuntimeError when the kind's encoder is missing.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown sample kind {kind!r}; known: {', '.join(KINDS)}")
    width, height = size
    if seconds <= 0 or width < 1 or height < 1:
        raise ValueError(f"need seconds > 0 and a positive size, got seconds={seconds}, size={size}")
    if KINDS[kind].family == "video" and (width % 2 or height % 2 or width < 16 or height < 16):
        raise ValueError(f"video samples need an even size of at least 16x16, got {width}x{height}")
    if not kind_available(kind):
        raise RuntimeError(f"sample kind {kind!r} needs an encoder this environment lacks")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Encode next to the target and rename: a failed or interrupted encode never leaves a partial file
    # under a name that callers (and caches) take for a valid sample.
    part = out.with_name(f".{out.stem}.part{out.suffix}")
    try:
        spec = _AV_SPECS.get(kind)
        if spec is not None:
            _encode_av(spec, part, seconds, size, seed)
        else:
            _encode_image(kind, part, size, seed)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return out


def generate_bytes(kind: str, *, seconds: float = 2.0, size: Size = (160, 120), seed: int = 0) -> bytes:
    """Like :func:`generate`, but return the file's bytes (a temp file is used and removed)."""
    with tempfile.TemporaryDirectory(prefix="pixelprobe-sample-") as tmp:
        p = generate(
            kind, Path(tmp) / f"sample{KINDS[kind].extension}", seconds=seconds, size=size, seed=seed
        )
        return p.read_bytes()


# --------------------------------------------------------------------------------------------------------
# Damage.


def _truncated(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return b""
    cut = int(len(data) * rng.uniform(0.30, 0.95))
    return data[: max(1, min(cut, len(data) - 1))]


def _overwritten_block(data: bytes, rng: random.Random) -> bytes:
    n = len(data)
    if n == 0:
        return data
    block = min(rng.randint(512, 4096), max(1, n * 6 // 10))
    lo, hi = int(n * 0.2), max(int(n * 0.8) - block, int(n * 0.2))
    start = rng.randint(lo, hi)
    buf = bytearray(data)
    new = bytearray(rng.randbytes(block))
    # Guarantee the block really differs (random bytes could match by chance in a tiny block).
    if new == buf[start : start + block]:
        new[0] ^= 0xFF
    buf[start : start + block] = new
    return bytes(buf[:n])


def _clobbered_header(data: bytes, rng: random.Random) -> bytes:
    n = min(len(data), rng.randint(16, 64))
    buf = bytearray(data)
    head = bytearray(rng.randbytes(n))
    if n and head == buf[:n]:
        head[0] ^= 0xFF
    buf[:n] = head
    return bytes(buf)


def _bit_flips(data: bytes, rng: random.Random) -> bytes:
    n = len(data)
    if n == 0:
        return data
    start = n // 20
    flips = rng.randint(8, 32)
    # Distinct bit positions, so no flip undoes another.
    span = (n - start) * 8
    positions = rng.sample(range(start * 8, n * 8), min(flips, span))
    buf = bytearray(data)
    for bit in positions:
        buf[bit // 8] ^= 1 << (bit % 8)
    return bytes(buf)


def _junk(data: bytes, rng: random.Random) -> bytes:
    out = rng.randbytes(len(data))
    return out if out != data or not data else bytes(b ^ 0xFF for b in out)


def _empty(data: bytes, rng: random.Random) -> bytes:
    return b""


def _middle(n: int, rng: random.Random, block: int) -> int:
    """A random start for a *block*-byte run inside the 10%..90% region of an *n*-byte file."""
    lo = n // 10
    hi = max(lo, n * 9 // 10 - block)
    return rng.randint(lo, hi)


def _zeroed_block(data: bytes, rng: random.Random) -> bytes:
    """A 4096-byte-aligned run of 4..64 KiB set to zero (a bad sector, a sparse hole)."""
    n = len(data)
    if n == 0:
        return data
    block = min(4096 * rng.randint(1, 16), n)
    start = (rng.randint(0, max(0, n - block)) // 4096) * 4096
    buf = bytearray(data)
    buf[start : start + block] = bytes(len(buf[start : start + block]))
    return bytes(buf)


def _dropped_block(data: bytes, rng: random.Random) -> bytes:
    """512..8192 bytes removed from the middle (a copy that lost a chunk)."""
    n = len(data)
    block = min(rng.randint(512, 8192), n // 2)
    if block <= 0:
        return data[:-1]
    start = _middle(n, rng, block)
    return data[:start] + data[start + block :]


def _inserted_block(data: bytes, rng: random.Random) -> bytes:
    """512..4096 random bytes inserted in the middle."""
    at = _middle(len(data), rng, 0)
    return data[:at] + rng.randbytes(rng.randint(512, 4096)) + data[at:]


def _tail_cut(data: bytes, rng: random.Random) -> bytes:
    """The last 1..4096 bytes cut (an almost complete download)."""
    return data[: max(0, len(data) - rng.randint(1, min(4096, max(1, len(data) - 1))))]


def _early_cut(data: bytes, rng: random.Random) -> bytes:
    """Only the first 64..2048 bytes kept (a download that barely started)."""
    return data[: min(rng.randint(64, 2048), max(0, len(data) - 1))]


def _dup_block(data: bytes, rng: random.Random) -> bytes:
    """A block of 512..8192 bytes written twice in a row (a resumed download that re-wrote a range)."""
    n = len(data)
    block = min(rng.randint(512, 8192), max(1, n // 2))
    start = _middle(n, rng, block)
    return data[: start + block] + data[start : start + block] + data[start + block :]


def _flip_bit(data: bytes, rng: random.Random, lo: int, hi: int) -> bytes:
    """One bit flipped at a random position of ``data[lo:hi]`` (``data`` itself when that is empty)."""
    if hi <= lo:
        return data
    buf = bytearray(data)
    at = rng.randrange(lo, hi)
    buf[at] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _flip_1(data: bytes, rng: random.Random) -> bytes:
    """One bit flipped at a random position after the first 1%."""
    return _flip_bit(data, rng, len(data) // 100, len(data))


_DAMAGE_FUNCS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncated": _truncated,
    "overwritten_block": _overwritten_block,
    "clobbered_header": _clobbered_header,
    "bit_flips": _bit_flips,
    "junk": _junk,
    "empty": _empty,
    # Realistic damage (a bad sector, a copy or download gone wrong), found by the randomized sweep
    # (bench/damage_sweep.py) to be caught whenever a reference tool sees it.
    "zeroed_block": _zeroed_block,
    "dropped_block": _dropped_block,
    "inserted_block": _inserted_block,
    "tail_cut": _tail_cut,
    "early_cut": _early_cut,
    "dup_block": _dup_block,
}
DAMAGES: tuple[str, ...] = tuple(_DAMAGE_FUNCS)


def _zero_tail(data: bytes, rng: random.Random) -> bytes:
    """The last 1%..50% zeroed, size kept (a preallocated copy that stopped writing)."""
    n = len(data)
    cut = n - max(1, int(n * rng.uniform(0.01, 0.5)))
    return data[:cut] + bytes(n - cut)


def _swap_blocks(data: bytes, rng: random.Random) -> bytes:
    """Two blocks of 512..8192 bytes in the 10%..90% region swapped (writes landed out of order)."""
    n = len(data)
    block = min(rng.randint(512, 8192), n // 5)
    if block <= 0:
        return data[::-1]
    a, b = sorted(rng.sample(range(n // 10, max(n // 10 + 2, n * 9 // 10 - block)), 2))
    b = max(b, a + block)
    if b + block > n:
        return data[:a] + data[a + block :] + data[a : a + block]
    return data[:a] + data[b : b + block] + data[a + block : b] + data[a : a + block] + data[b + block :]


def _head_flip(data: bytes, rng: random.Random) -> bytes:
    """One bit flipped in the first 4 KiB (headers: a sample rate, a codec id, a box or element size)."""
    return _flip_bit(data, rng, 0, min(len(data), 4096))


# Sync words and box/element ids that start a packet, page, frame or box in the A/V formats: a cut just
# before one leaves a file that ends cleanly between two units (a download stopped on a packet boundary).
_BOUNDARIES = re.compile(
    rb"OggS|\xff[\xf8\xf9]|\x1f\x43\xb6\x75|\xa3[\x40-\x4f\x80-\x8f]|moof|mdat|"
    rb"\xff[\xfa\xfb\xf2\xf3\xe2\xe3]|\xff\xf1|0[01](?:dc|wb|db)|\x00\x00\x01[\xba\xe0\xc0]|\x47[\x40\x00\x01\x41]"
)


def _boundary_cut(data: bytes, rng: random.Random) -> bytes:
    """Cut just before the first packet/page/frame/box start after a random point of the 20%..95% region
    (at the point itself when no such start follows it)."""
    n = len(data)
    lo, hi = n // 5, n * 95 // 100
    at = rng.randint(lo, max(lo, hi))
    found = _BOUNDARIES.search(data, at, hi)
    if found is None:
        return data[:at]
    at = found.start()
    if data[at : at + 4] in (b"moof", b"mdat"):
        at = max(0, at - 4)  # the box starts at its size field
    return data[:at]


# Damage the randomized sweep applies that the benchmark corpus does not (yet): a single flipped bit in an
# AVIF's AV1 sequence header is seen by FFmpeg, not by our image checker (see the sweep's report).
_SWEEP_DAMAGE_FUNCS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip_1": _flip_1,
    "zero_tail": _zero_tail,
    "swap_blocks": _swap_blocks,
    "boundary_cut": _boundary_cut,
    "head_flip": _head_flip,
}
SWEEP_DAMAGES: tuple[str, ...] = tuple(_SWEEP_DAMAGE_FUNCS)


def damage(data: bytes, how: str, rng: random.Random) -> bytes:
    """Return a damaged copy of *data*; *how* is one of :data:`DAMAGES`.

    - ``truncated``: cut at a random point between 30% and 95% of the length;
    - ``overwritten_block``: 512..4096 random bytes written inside the 20%..80% region;
    - ``clobbered_header``: the first 16..64 bytes randomized;
    - ``bit_flips``: 8..32 distinct bits flipped after the first 5% of the file;
    - ``junk``: random bytes of the same length;
    - ``empty``: zero bytes;
    - ``zeroed_block``: a 4 KiB-aligned run of 4..64 KiB zeroed (a bad sector, a sparse hole);
    - ``dropped_block``: 512..8192 bytes removed from the 10%..90% region (a copy that lost a chunk);
    - ``inserted_block``: 512..4096 random bytes inserted there;
    - ``tail_cut``: the last 1..4096 bytes cut (an almost complete download);
    - ``early_cut``: only the first 64..2048 bytes kept;
    - ``dup_block``: a block of 512..8192 bytes written twice in a row (a resumed download).

    The sweep's further kinds (:data:`SWEEP_DAMAGES`) are accepted too: ``flip_1`` (one bit flipped after
    the first 1%), ``zero_tail`` (the last 1..50% zeroed), ``swap_blocks`` (two blocks swapped),
    ``boundary_cut`` (cut just before a packet, page, frame or box start), ``head_flip`` (one bit flipped in
    the first 4 KiB).
    """
    func = _DAMAGE_FUNCS.get(how) or _SWEEP_DAMAGE_FUNCS.get(how)
    if func is None:
        known = ", ".join((*DAMAGES, *SWEEP_DAMAGES))
        raise ValueError(f"unknown damage {how!r}; known: {known}")
    return func(data, rng)


def damage_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], how: str, seed: int = 0) -> Path:
    """Write a damaged copy of *src* to *dst* (seeded by *seed*) and return *dst*."""
    out = Path(dst)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(damage(Path(src).read_bytes(), how, random.Random(seed)))
    return out


# --------------------------------------------------------------------------------------------------------
# Benchmark corpus.


# Formats whose payload carries no checksum and no structure: damage that only rewrites payload bytes
# leaves a file that is still perfectly valid, so no checker can be expected to notice it.
_UNCHECKED_PAYLOAD = frozenset({"wav", "wav_24bit", "aiff", "bmp"})


def damage_detectable(kind: str, how: str) -> bool | None:
    """Whether damage *how* on a *kind* file can be told from its bytes: True (always: empty, junk),
    False (never: payload-only damage on uncompressed WAV/AIFF/BMP), None (depends on where it landed).
    """
    if how in {"empty", "junk"}:
        return True
    if kind in _UNCHECKED_PAYLOAD and how in {"bit_flips", "overwritten_block"}:
        return False
    return None


@dataclass(frozen=True)
class CorpusItem:
    """One file of a generated corpus.

    ``damage`` is None for a valid file. ``detectable`` is :func:`damage_detectable` for a damaged file
    (None for a valid one): benchmarks should not count a miss on a ``False`` item against a checker.
    """

    path: Path
    kind: str
    family: str
    damage: str | None
    detectable: bool | None = None


def make_corpus(
    directory: str | os.PathLike[str],
    *,
    per_kind: int = 4,
    damaged_fraction: float = 0.25,
    seed: int = 0,
    kinds: Sequence[str] | None = None,
    seconds: float = 2.0,
    size: Size = (160, 120),
    damages: Sequence[str] = DAMAGES,
    variants: int = 1,
) -> list[CorpusItem]:
    """Build a mixed corpus of *per_kind* files for each kind under *directory* (one subdir per family).

    Each kind is encoded *variants* times (seeds ``seed``, ``seed + 1``, ...); every file is a byte copy
    of a variant (valid) or a seeded damaged copy of one, so a large corpus costs little more than
    writing its bytes. Valid copies of one variant share their content hash: raise *variants* when that
    matters (e.g. a benchmark of a cache keyed by content). ``round(per_kind * damaged_fraction)`` files
    of each kind, at seeded positions, are damaged, cycling through *damages*. Same arguments, same
    corpus.
    """
    if per_kind < 0 or not 0.0 <= damaged_fraction <= 1.0 or variants < 1:
        raise ValueError("need per_kind >= 0, 0 <= damaged_fraction <= 1 and variants >= 1")
    unknown = [k for k in (kinds or ()) if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown sample kinds: {', '.join(unknown)}")
    root = Path(directory)
    rng = random.Random(seed)
    names = list(kinds) if kinds is not None else available_kinds()
    items: list[CorpusItem] = []
    for kind in names:
        info = KINDS[kind]
        originals = [
            generate_bytes(kind, seconds=seconds, size=size, seed=seed + v)
            for v in range(min(variants, max(per_kind, 1)))
        ]
        damaged_at = set(rng.sample(range(per_kind), round(per_kind * damaged_fraction)))
        offset = rng.randrange(len(damages)) if damages else 0
        folder = root / info.family
        folder.mkdir(parents=True, exist_ok=True)
        n_damaged = 0
        for i in range(per_kind):
            original = originals[i % len(originals)]
            how: str | None = None
            if i in damaged_at and damages:
                how = damages[(offset + n_damaged) % len(damages)]
                n_damaged += 1
            data = original if how is None else damage(original, how, rng)
            path = folder / f"{kind}_{i:04d}_{how or 'valid'}{info.extension}"
            path.write_bytes(data)
            detectable = None if how is None else damage_detectable(kind, how)
            items.append(CorpusItem(path, kind, info.family, how, detectable))
    return items


# --------------------------------------------------------------------------------------------------------
# Built-in samples for `pixelprobe doctor`.


@dataclass(frozen=True)
class DoctorSample:
    """A known-answer case: *valid* must be judged ``healthy``, *damaged* must be judged *expected*."""

    name: str
    kind: str
    valid: Path
    damaged: Path
    expected: str  # the verdict value *damaged* must get ("corrupted" for every built-in case)


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Top-level ISO-BMFF boxes as (type, payload_start, box_end)."""
    pos, end = start, len(data) if end is None else end
    while pos + 8 <= end:
        size, typ = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield typ, pos + header, pos + size
        pos += size


def _flip_in_mdat(data: bytes, rng: random.Random, flips: int = 24) -> bytes:
    """Flip bits inside the media data (not the index), so only the decoder can notice."""
    for typ, lo, hi in _boxes(data):
        if typ == b"mdat":
            buf = bytearray(data)
            # Spare the first tenth (the first keyframe's headers), so the file still opens and decodes
            # and the damage shows only as decoder errors and concealed macroblocks.
            lo2 = lo + (hi - lo) // 10
            for bit in rng.sample(range(lo2 * 8, hi * 8), flips):
                buf[bit // 8] ^= 1 << (bit % 8)
            return bytes(buf)
    raise ValueError("no mdat box")


def _flac_audio_byte(data: bytes) -> bytes:
    """Flip one byte in the middle of the FLAC audio frames (after the metadata blocks)."""
    pos = 4  # "fLaC"
    while True:
        last = data[pos] & 0x80
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        pos += 4 + length
        if last:
            break
    buf = bytearray(data)
    buf[pos + (len(data) - pos) // 2] ^= 0x5A
    return bytes(buf)


def _png_bad_crc(data: bytes) -> bytes:
    """Corrupt the stored CRC of the first IDAT chunk; the pixels themselves are untouched."""
    pos = 8
    while pos + 8 <= len(data):
        length, typ = struct.unpack(">I4s", data[pos : pos + 8])
        if typ == b"IDAT":
            crc_at = pos + 8 + length
            buf = bytearray(data)
            buf[crc_at] ^= 0xFF
            return bytes(buf)
        pos += 12 + length
    raise ValueError("no IDAT chunk")


def _cut(fraction: float) -> Callable[[bytes], bytes]:
    return lambda data: data[: int(len(data) * fraction)]


def doctor_samples(directory: str | os.PathLike[str] | None = None, *, seed: int = 0) -> list[DoctorSample]:
    """Generate the built-in known-answer samples for ``pixelprobe doctor`` into *directory*.

    With no directory a fresh temp dir is created (the caller removes it: it is ``samples[0].valid.parent``).
    Each file is well under 100 KB. The damage here is targeted rather than random so every case is a
    certain corruption: a checker that calls any of these healthy is wrong.
    """
    root = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="pixelprobe-doctor-"))
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    small: Size = (96, 64)
    cases: list[tuple[str, str, Callable[[bytes], bytes], str, str]] = [
        ("truncated mp4 (h264)", "mp4_h264", _cut(0.6), ".mp4", "corrupted"),
        (
            "truncated faststart mp4 (index intact, media missing)",
            "mp4_faststart",
            _cut(0.6),
            ".mp4",
            "corrupted",
        ),
        (
            "bit-flipped h264 in mp4 (concealed damage)",
            "mp4_h264",
            lambda d: _flip_in_mdat(d, rng),
            ".mp4",
            "corrupted",
        ),
        ("truncated flac", "flac", _cut(0.6), ".flac", "corrupted"),
        ("flac with a flipped audio byte (MD5 mismatch)", "flac", _flac_audio_byte, ".flac", "corrupted"),
        ("truncated jpeg", "jpg_baseline", _cut(0.6), ".jpg", "corrupted"),
        ("png with a bad CRC", "png", _png_bad_crc, ".png", "corrupted"),
        ("truncated wav (declared size > actual)", "wav", _cut(0.6), ".wav", "corrupted"),
        ("truncated mp3", "mp3", _cut(0.6), ".mp3", "corrupted"),
        ("empty file", "mp4_h264", lambda d: b"", ".mp4", "corrupted"),
        ("junk named .mp4", "mp4_h264", lambda d: random.Random(seed).randbytes(len(d)), ".mp4", "corrupted"),
    ]
    originals: dict[str, Path] = {}
    out: list[DoctorSample] = []
    for i, (name, kind, hurt, ext, expected) in enumerate(cases):
        if kind not in originals:
            # Short and small: the doctor runs them all in a second or two.
            seconds = 1.0 if KINDS[kind].family != "audio" else 0.5
            originals[kind] = generate(
                kind, root / f"valid_{kind}{ext}", seconds=seconds, size=small, seed=seed
            )
        valid = originals[kind]
        damaged = root / f"damaged_{i:02d}_{kind}{ext}"
        damaged.write_bytes(hurt(valid.read_bytes()))
        out.append(DoctorSample(name, kind, valid, damaged, expected))
    return out


def iter_kinds(family: str | None = None) -> Iterable[SampleKind]:
    """Available kinds, optionally of one family ("video", "audio" or "image")."""
    return (KINDS[k] for k in available_kinds() if family is None or KINDS[k].family == family)


def doctor_expectations(cases: Iterable[DoctorSample]) -> list[tuple[str, Path, str]]:
    """Flatten doctor samples into (label, path, expected verdict): each original once as ``healthy``,
    then every damaged file with its expected verdict."""
    out: list[tuple[str, Path, str]] = []
    seen: set[Path] = set()
    for case in cases:
        if case.valid not in seen:
            seen.add(case.valid)
            out.append((f"valid {case.kind}", case.valid, "healthy"))
    out.extend((case.name, case.damaged, case.expected) for case in cases)
    return out
