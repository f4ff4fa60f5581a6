"""Sniffing by content: containers, families, mismatches, unreadable paths (real generated media)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixelprobe_tui.core import media, samples
from pixelprobe_tui.core.media import Family, UnreadableError, sniff

# What each sample kind must sniff as.
EXPECTED_CONTAINER = {
    "mp4_h264": "mp4",
    "mp4_h264_aac": "mp4",
    "mp4_faststart": "mp4",
    "mp4_fragmented": "mp4",
    "mkv_h264": "matroska",
    "mov_h264": "mov",
    "ts_h264": "mpegts",
    "mp4_hevc": "mp4",
    "webm_vp9": "webm",
    "webm_vp9_opus": "webm",
    "mp4_av1": "mp4",
    "avi_mpeg4": "avi",
    "mp3": "mp3",
    "flac": "flac",
    "ogg_vorbis": "ogg",
    "opus": "ogg",
    "m4a_aac": "mp4",
    "mp4_audio_only": "mp4",
    "mkv_audio": "matroska",
    "wav": "wav",
    "aiff": "aiff",
    "jpg_baseline": "jpeg",
    "jpg_progressive": "jpeg",
    "png": "png",
    "gif_animated": "gif",
    "bmp": "bmp",
    "tiff": "tiff",
    "webp": "webp",
    "webp_animated": "webp",
    "apng": "png",
    "heic": "heif",
    "avif": "avif",
}


# Kinds added later fall back to what their extension normally holds.
BY_EXTENSION = {
    ".mp4": "mp4",
    ".m4a": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".ts": "mpegts",
    ".avi": "avi",
    ".mp3": "mp3",
    ".flac": "flac",
    ".ogg": "ogg",
    ".opus": "ogg",
    ".wav": "wav",
    ".aiff": "aiff",
    ".jpg": "jpeg",
    ".png": "png",
    ".gif": "gif",
    ".bmp": "bmp",
    ".tiff": "tiff",
    ".tif": "tiff",
    ".webp": "webp",
    ".heic": "heif",
    ".avif": "avif",
}


def expected_container(kind: str) -> str:
    return EXPECTED_CONTAINER.get(kind) or BY_EXTENSION[samples.KINDS[kind].extension]


@pytest.mark.parametrize("kind", sorted(samples.KINDS))
def test_valid_samples_sniff_by_content(kind: str, media_factory) -> None:
    path = media_factory(kind, seconds=1.0, size=(96, 64))
    s = sniff(str(path))
    assert s.container == expected_container(kind)
    assert not s.mismatch
    assert not s.empty and not s.unknown_content
    assert s.size == path.stat().st_size
    family = samples.KINDS[kind].family
    if s.content_family is not None:
        assert s.content_family == family
    if kind in ("m4a_aac", "ogg_vorbis", "opus", "flac", "mp3", "wav", "aiff"):
        assert s.family is Family.AUDIO
    if family == "image":
        assert s.family is Family.IMAGE


def _copy_as(src: Path, dst_dir: Path, name: str) -> str:
    dst = dst_dir / name
    shutil.copyfile(src, dst)
    return str(dst)


def test_png_named_jpg_is_a_mismatch_with_image_family(media_factory, tmp_path: Path) -> None:
    s = sniff(_copy_as(media_factory("png", size=(32, 32)), tmp_path, "photo.jpg"))
    assert s.container == "png" and s.mismatch and s.family is Family.IMAGE
    assert s.ext_family is Family.IMAGE


def test_mp4_named_mkv_is_a_mismatch_but_mov_is_not(media_factory, tmp_path: Path) -> None:
    src = media_factory("mp4_h264", seconds=1.0, size=(96, 64))
    assert sniff(_copy_as(src, tmp_path, "clip.mkv")).mismatch
    assert not sniff(_copy_as(src, tmp_path, "clip.mov")).mismatch
    assert not sniff(_copy_as(src, tmp_path, "clip.m4v")).mismatch


def test_matroska_and_webm_are_interchangeable(media_factory, tmp_path: Path) -> None:
    s = sniff(_copy_as(media_factory("webm_vp9", seconds=1.0, size=(96, 64)), tmp_path, "clip.mkv"))
    assert s.container == "webm" and not s.mismatch


def test_m4a_brand_hints_audio(media_factory) -> None:
    s = sniff(str(media_factory("m4a_aac", seconds=1.0)))
    assert s.container == "mp4" and s.content_family is None and s.family_hint is Family.AUDIO


def test_empty_and_junk_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    s = sniff(str(empty))
    assert s.empty and s.container is None and not s.unknown_content

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(50_000)))
    s = sniff(str(junk))
    assert s.unknown_content and s.container is None and not s.mismatch
    assert s.ext_family is Family.VIDEO and s.family is Family.VIDEO

    zeros = tmp_path / "zeros.flac"
    zeros.write_bytes(bytes(10_000))
    s = sniff(str(zeros))
    assert s.unknown_content and s.all_zero and "zero" in s.describe_content()

    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture\n" * 20)
    assert sniff(str(text)).describe_content() == "text"


def test_id3_tag_in_front_of_flac_is_skipped(media_factory, tmp_path: Path) -> None:
    body = media_factory("flac", seconds=1.0).read_bytes()
    tag = b"ID3\x04\x00\x00\x00\x00\x01\x00" + bytes(128)  # 128-byte body, syncsafe size
    path = tmp_path / "tagged.flac"
    path.write_bytes(tag + body)
    s = sniff(str(path))
    assert s.container == "flac" and s.data_offset == len(tag) and not s.mismatch


def test_tiff_based_raw_is_an_image_without_mismatch(media_factory, tmp_path: Path) -> None:
    src = media_factory("tiff", size=(32, 32))
    for name in ("shot.dng", "shot.nef", "shot.cr2"):
        s = sniff(_copy_as(src, tmp_path, name))
        assert s.container == "tiff" and not s.mismatch and s.family is Family.IMAGE
    assert media.is_raw("a/B.CR2") and not media.is_raw("a/b.tif")


def test_extension_tables() -> None:
    assert media.family_of_extension("/x/Movie.MKV") is Family.VIDEO
    assert media.family_of_extension("song.opus") is Family.AUDIO
    assert media.family_of_extension("pic.heic") is Family.IMAGE
    assert media.family_of_extension("raw.arw") is Family.IMAGE
    assert media.family_of_extension("notes.txt") is Family.UNKNOWN
    assert media.family_of_extension(".hidden") is Family.UNKNOWN
    assert media.is_supported("a.webm") and not media.is_supported("a.doc")
    # Every supported extension names the containers it may hold.
    for ext in (
        media.VIDEO_EXTENSIONS | media.AUDIO_EXTENSIONS | media.IMAGE_EXTENSIONS | media.RAW_EXTENSIONS
    ):
        assert media.expected_containers(ext), ext


def test_mpeg_audio_header_parsing() -> None:
    h = media.parse_mpeg_audio_header(bytes([0xFF, 0xFB, 0x90, 0x64]))  # MPEG-1 L3 128k 44.1k
    assert h is not None and h.layer == 3 and h.bitrate == 128 and h.sample_rate == 44100
    assert h.length == 417 and h.samples == 1152
    assert media.parse_mpeg_audio_header(bytes([0xFF, 0xFB, 0xF0, 0x64])) is None  # bitrate index 15
    assert media.parse_mpeg_audio_header(b"\xff\xe0\x00\x00") is None  # reserved version/layer


@pytest.mark.timeout(20)
def test_fifo_is_unreadable_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableError) as exc:
        sniff(str(fifo))
    assert exc.value.code == "not_a_file" and "FIFO" in exc.value.reason


def test_directory_and_missing_paths_are_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "album.flac"
    folder.mkdir()
    with pytest.raises(UnreadableError) as exc:
        sniff(str(folder))
    assert exc.value.code == "not_a_file"
    with pytest.raises(UnreadableError) as exc:
        sniff(str(tmp_path / "gone.mp3"))
    assert exc.value.code == "vanished"


_PERMISSION_PROBE = """
import os, sys
from pixelprobe_tui.core.media import UnreadableError, sniff  # import first: nobody may not read the stdlib
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
try:
    sniff(sys.argv[1])
except UnreadableError as e:
    print(e.code)
else:
    print("read")
"""


def test_permission_denied_is_unreadable(tmp_path: Path) -> None:
    # As root, permissions do not bite: drop to "nobody" in a child process to get a real EACCES.
    private = tmp_path / "private"
    private.mkdir()
    path = private / "secret.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    path.chmod(0)
    tmp_path.chmod(0o755)
    private.chmod(0o755)
    out = subprocess.run(
        [sys.executable, "-c", _PERMISSION_PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "permission_denied"


def test_typescript_source_named_ts_is_not_media(tmp_path: Path) -> None:
    src = tmp_path / "index.ts"
    src.write_text("export const answer: number = 42;\n")
    s = sniff(str(src))
    assert s.unknown_content and s.ext_family is Family.UNKNOWN


def _pyav_audio(path: Path, fmt: str, codec: str) -> str:
    import av
    import numpy as np

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=44100, layout="mono")
        size = stream.codec_context.frame_size or 1024
        fmt_name = stream.codec_context.format.name
        for start in range(0, 44100, size):
            wave = np.sin(np.arange(start, start + size) / 44100 * 2 * np.pi * 440) * 0.3
            arr = (wave * 32767).astype(np.int16) if fmt_name.startswith("s16") else wave.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(arr.reshape(1, -1), format=fmt_name, layout="mono")
            frame.sample_rate, frame.pts = 44100, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def test_less_common_audio_containers_are_recognised(tmp_path: Path) -> None:
    latm = sniff(_pyav_audio(tmp_path / "radio.aac", "latm", "aac"))
    assert latm.container == "aac_latm" and not latm.mismatch and latm.family is Family.AUDIO
    w64 = sniff(_pyav_audio(tmp_path / "long.wav", "w64", "pcm_s16le"))
    assert w64.container == "w64" and not w64.mismatch


def test_media_segment_without_ftyp_is_iso_bmff(tmp_path: Path) -> None:
    styp = b"\x00\x00\x00\x18stypmsdh\x00\x00\x00\x00msdhmsix"
    moof = b"\x00\x00\x00\x10moof" + bytes(8)
    mdat = b"\x00\x00\x00\x10mdat" + bytes(8)
    path = tmp_path / "seg.mp4"
    path.write_bytes(styp + moof + mdat)
    s = sniff(str(path))
    assert s.container == "mp4" and not s.mismatch


def _mpeg_frames(count: int) -> bytes:
    """``count`` MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, 417 bytes each) with FF-free payloads."""
    frame = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes((i * 7) % 255 for i in range(413))
    return frame * count


@pytest.mark.parametrize("name", ["sound.dts", "sound.ac3", "sound.bin", "noext"])
def test_a_weak_mpeg_sync_is_not_mp3_unless_the_name_says_so(tmp_path: Path, name: str) -> None:
    """Two frame headers in a row, then other data: other compressed audio (DTS ...) contains such pairs by
    chance, and walking it as MP3 was a false alarm ("lost sync"). The name settles the doubt."""
    data = _mpeg_frames(2) + bytes((i * 13) % 251 for i in range(6000))
    (tmp_path / name).write_bytes(data)
    assert sniff(str(tmp_path / name)).container is None
    (tmp_path / "named.mp3").write_bytes(data)
    assert sniff(str(tmp_path / "named.mp3")).container == "mp3"


def test_a_run_of_mpeg_frames_is_mp3_under_any_name(tmp_path: Path) -> None:
    for count, tail in ((6, b"\x00" * 100), (3, b"")):  # a run, or whole frames to the end of the file
        path = tmp_path / f"stream{count}.bin"
        path.write_bytes(_mpeg_frames(count) + tail)
        found = sniff(str(path))
        assert (found.container, found.family, found.mismatch) == ("mp3", Family.AUDIO, False)


def test_raw_audio_streams_are_recognised_by_content(tmp_path: Path) -> None:
    import av

    for fmt, codec, rate in (
        ("ac3", "ac3", 44100),
        ("eac3", "eac3", 48000),
        ("amr", "libopencore_amrnb", 8000),
    ):
        path = tmp_path / f"a.{fmt}"
        with av.open(str(path), "w", format=fmt) as out:
            stream = out.add_stream(codec, rate=rate, layout="mono")
            for frame in _tone_frames(rate, stream.codec_context.frame_size or 1024):
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        found = sniff(str(path))
        assert (found.container, found.family, found.mismatch) == (fmt, Family.AUDIO, False), fmt
        renamed = tmp_path / f"{fmt}.mp3"
        shutil.copyfile(path, renamed)
        assert sniff(str(renamed)).container == fmt and sniff(str(renamed)).mismatch


def _tone_frames(rate: int, size: int, seconds: float = 0.5):
    """Mono s16 frames of a tone for the encoders above."""
    import math

    import av

    for start in range(0, int(rate * seconds), size):
        frame = av.AudioFrame(format="s16", layout="mono", samples=size)
        pcm = b"".join(
            int(8000 * math.sin(2 * math.pi * 440 * (start + i) / rate)).to_bytes(2, "little", signed=True)
            for i in range(size)
        )
        frame.planes[0].update(pcm)
        frame.sample_rate = rate
        frame.pts = start
        yield frame
