"""Audio/video damage the randomized sweep (bench/damage_sweep.py) found missed, each rebuilt from its seed.

Each case is a sample kind generated at the sweep's size (seed 0, reproducible byte for byte), damaged by
``samples.damage(data, how, random.Random(seed))``. The test first asserts that the damage landed where the
case says (so a change in the encoder or the damage function shows up as such, not as a silent pass), that
a full FFmpeg decode (the reference) rejects the file, and then that both modes call it corrupted.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.checkers import av as av_checker
from pixelprobe_tui.core.checkers import check
from pixelprobe_tui.core.verdict import CheckOptions, Verdict
from tests import media_matrix as mm

QUICK = CheckOptions()
DEEP = CheckOptions(deep=True)


def _damaged(tmp_path: Path, kind: str, how: str, seed: int, seconds: float, size: tuple[int, int]) -> Path:
    original = samples.generate_bytes(kind, seconds=seconds, size=size, seed=0)
    data = samples.damage(original, how, random.Random(seed))
    path = tmp_path / f"{kind}.{how}.{seed}{samples.KINDS[kind].extension}"
    path.write_bytes(data)
    return path


def _first_difference(a: bytes, b: bytes) -> int:
    return next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)


def _verdicts(path: Path) -> list[tuple[bool, Verdict, list[str]]]:
    out = []
    for options in (QUICK, DEEP):
        result = check(str(path), options)
        out.append((options.deep, result.verdict, [f.describe() for f in result.active_findings]))
    return out


def test_ts_pts_flip_that_moves_a_frame_onto_the_previous_frame_slot(tmp_path: Path) -> None:
    """ts_h264 flip_1 seed 4: one bit of a PES presentation time flipped moves a frame 23 ms earlier.

    Its time still increases, but it rounds to the previous frame's slot at 25 fps: ffmpeg's decode says
    "non monotonically increasing dts to muxer". MPEG-TS timestamps may jump (splices, wraps), so frame
    order was not checked there at all.
    """
    path = _damaged(tmp_path, "ts_h264", "flip_1", 4, 1.0, (96, 64))
    original = samples.generate_bytes("ts_h264", seconds=1.0, size=(96, 64), seed=0)
    at = _first_difference(original, path.read_bytes())
    packet = original[at - at % 188 : at - at % 188 + 188]
    # The flipped byte is inside a PES header (start code 00 00 01 E0) of a video packet.
    assert packet[0] == 0x47 and b"\x00\x00\x01\xe0" in packet[: at % 188]
    assert "non monotonically increasing dts" in (mm.ffmpeg_complaint(path) or "")
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)
        assert any("time slot" in f for f in findings), findings


def test_mp4_ctts_flip_that_repeats_a_frame_time(tmp_path: Path) -> None:
    """mp4_hevc flip_1 seed 111: one bit of a composition offset (``ctts``) makes a frame repeat the time
    of the frame before it; ffmpeg rejects it, we only warned."""
    path = _damaged(tmp_path, "mp4_hevc", "flip_1", 111, 2.0, (160, 120))
    original = samples.generate_bytes("mp4_hevc", seconds=2.0, size=(160, 120), seed=0)
    at = _first_difference(original, path.read_bytes())
    ctts = original.find(b"ctts") - 4
    (ctts_size,) = struct.unpack(">I", original[ctts : ctts + 4])
    assert ctts < at < ctts + ctts_size
    assert "non monotonically increasing dts" in (mm.ffmpeg_complaint(path) or "")
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)


@pytest.mark.parametrize("kind", ["ts_h264", "mp4_hevc", "mp4_h264_aac", "mkv_h264", "webm_vp9"])
def test_undamaged_video_has_no_frame_timing_finding(kind: str, tmp_path: Path) -> None:
    """The frame-slot check stays quiet on valid files (B-frames reorder, start offsets, VFR grids)."""
    path = tmp_path / f"valid{samples.KINDS[kind].extension}"
    samples.generate(kind, path, seconds=2.0, size=(160, 120), seed=0)
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.HEALTHY, (deep, findings)


def _flip_type(data: bytes, box: bytes, nth: int = 0) -> bytes:
    """*data* with the 0x20 bit of the last letter of the *nth* *box* type flipped ('trak' -> 'traK')."""
    at = -1
    for _ in range(nth + 1):
        at = data.index(box, at + 1)
    buf = bytearray(data)
    buf[at + 3] ^= 0x20
    return bytes(buf)


def test_mp4_track_box_with_a_damaged_type(tmp_path: Path) -> None:
    """mp4_chapters bit_flips seed 20002 (matrix): a flip turned the video 'trak' into 'traK'. FFmpeg skips
    the unknown box, the video is gone ("Output file does not contain any stream"); we saw only a
    subtitle track and warned."""
    original = samples.generate_bytes("mp4_h264", seconds=1.0, size=(96, 64), seed=0)
    path = tmp_path / "trak.mp4"
    path.write_bytes(_flip_type(original, b"trak"))
    assert mm.ffmpeg_complaint(path) is not None
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)
        assert any("'traK'" in f and "type is damaged" in f for f in findings), findings


@pytest.mark.parametrize("box", [b"mdia", b"minf", b"stbl"])
def test_mp4_structural_box_with_a_damaged_type_in_the_audio_track(box: bytes, tmp_path: Path) -> None:
    """The same damage one level down, in the second (audio) track: that track's media is lost."""
    original = samples.generate_bytes("mp4_h264_aac", seconds=1.0, size=(96, 64), seed=0)
    path = tmp_path / f"{box.decode()}.mp4"
    path.write_bytes(_flip_type(original, box, nth=1))
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)
        assert any("type is damaged" in f for f in findings), findings


def test_tiny_valid_ts_that_ffmpeg_probes_as_a_program_stream_is_healthy(tmp_path: Path) -> None:
    """A valid 9-packet MPEG-TS (3 frames of 48x32 H.264) found by the sweep's false-alarm hunt: FFmpeg's
    probe guesses 'mpeg' (program stream) with a low score and cannot open it; the sniffer saw its
    packet syncs, so the check opens it as MPEG-TS."""
    path = samples.generate("ts_h264", tmp_path / "tiny.ts", seconds=0.1, size=(48, 32), seed=3)
    assert path.stat().st_size % 188 == 0 and path.stat().st_size <= 188 * 12
    # The reference itself fails on this valid file (so it is no false alarm by the reference's count).
    assert "could not find codec parameters" in (mm.ffmpeg_complaint(path) or "")
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.HEALTHY, (deep, findings)


def _flac_t(path: Path) -> str | None:
    tool = mm.reference_tools(mm.Case("x", "flac", "audio", lambda p: None)).get("flac -t")
    if tool is None:
        pytest.skip("the flac command-line tool is not installed")
    return tool(path)


def _vorbis_comment(data: bytes) -> tuple[int, int]:
    """(payload offset, length) of the VORBIS_COMMENT block of a FLAC file."""
    pos = 4
    while True:
        kind, length = data[pos] & 0x7F, int.from_bytes(data[pos + 1 : pos + 4], "big")
        if kind == 4:
            return pos + 4, length
        if data[pos] & 0x80:
            raise AssertionError("no VORBIS_COMMENT block")
        pos += 4 + length


@pytest.mark.parametrize("kind", ["flac", "flac_24bit"])
def test_flac_vendor_string_longer_than_its_block(kind: str, tmp_path: Path) -> None:
    """flac head_flip seed 40011: one bit of the VORBIS_COMMENT vendor length flipped (6 -> 2 MB). libFLAC
    stops there (flac -t fails); FFmpeg drops the tags and plays the audio, so we only warned."""
    path = _damaged(tmp_path, kind, "head_flip", 40011, 2.0, (160, 120))
    original = samples.generate_bytes(kind, seconds=2.0, size=(160, 120), seed=0)
    at = _first_difference(original, path.read_bytes())
    block, _length = _vorbis_comment(original)
    assert block <= at < block + 4  # the vendor length field
    assert _flac_t(path) is not None
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)


def test_flac_comment_lengths_flac_tolerates_stay_playable(tmp_path: Path) -> None:
    """A comment entry that overruns its block, or bytes left after the last one: libFLAC reads on."""
    original = samples.generate_bytes("flac", seconds=0.5, size=(16, 16), seed=0)
    block, length = _vorbis_comment(original)
    vendor = int.from_bytes(original[block : block + 4], "little")
    head = original[block : block + 4 + vendor]
    entry = b"TITLE=x"
    for name, payload in [
        ("overrun", head + (1).to_bytes(4, "little") + (len(entry) + 50).to_bytes(4, "little") + entry),
        ("leftover", original[block : block + length] + b"abcdefgh"),
    ]:
        header = bytes([original[block - 4]]) + len(payload).to_bytes(3, "big")
        path = tmp_path / f"{name}.flac"
        path.write_bytes(original[: block - 4] + header + payload + original[block + length :])
        assert _flac_t(path) is None, name
        for deep, verdict, findings in _verdicts(path):
            assert verdict is not Verdict.CORRUPTED, (name, deep, findings)


def test_fragmented_mp4_track_fragment_box_with_a_damaged_type(tmp_path: Path) -> None:
    """mp4_frag_plain head_flip seed 60001 (matrix): the first fragment's 'traf' became 'draf'. FFmpeg
    skips it, finds no video packets and cannot open the video ("Cannot determine format of input ...
    after EOF"); we only warned about the missing codec parameters."""
    original = samples.generate_bytes("mp4_fragmented", seconds=1.0, size=(96, 64), seed=0)
    path = tmp_path / "traf.mp4"
    path.write_bytes(_flip_type(original, b"traf"))
    assert mm.ffmpeg_complaint(path) is not None
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)
        assert any("'traF'" in f and "movie fragment" in f for f in findings), findings


def test_fragmented_mp4_track_fragment_header_with_a_damaged_size(tmp_path: Path) -> None:
    """mp4_frag_plain head_flip seed 61003 (matrix): a flipped bit made the first 'tfhd' 8 KB long, so
    the fragment's boxes no longer fit; FFmpeg loses the video ("Cannot determine format ... after EOF")."""
    original = samples.generate_bytes("mp4_fragmented", seconds=1.0, size=(96, 64), seed=0)
    at = original.index(b"tfhd") - 4
    data = bytearray(original)
    data[at + 2] ^= 0x20
    path = tmp_path / "tfhd.mp4"
    path.write_bytes(bytes(data))
    assert mm.ffmpeg_complaint(path) is not None
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)
        assert any("'tfhd'" in f and "does not fit" in f for f in findings), findings


@pytest.mark.parametrize("deep", [False, True])
def test_decoder_alone_calls_a_track_without_any_packet_corrupt(deep: bool, tmp_path: Path) -> None:
    """pipe_mkv head_flip seed 61011 (matrix) lost every video packet; the A/V checker by itself (no
    structure walk) must say so rather than warn about codec parameters it could not find."""
    original = samples.generate_bytes("mp4_fragmented", seconds=1.0, size=(96, 64), seed=0)
    path = tmp_path / "no_video_packets.mp4"
    path.write_bytes(_flip_type(original, b"traf"))
    result = av_checker.check(str(path), CheckOptions(deep=deep))
    assert result.verdict is Verdict.CORRUPTED, [f.describe() for f in result.findings]
    assert "no_packets" in {f.code for f in result.findings}


def test_fragmented_mp4_sample_duration_damage_repeats_an_audio_time(tmp_path: Path) -> None:
    """mp4_frag_plain / mp4_cmaf head_flip seed 61009 (matrix): a flip in the audio 'trun' of the first
    fragment made one sample's duration 0 (1024 -> 0), so the next packet repeats its time; ffmpeg: "non
    monotonically increasing dts". A time that repeats in MP4 is damage."""
    original = samples.generate_bytes("mp4_fragmented", seconds=1.0, size=(96, 64), seed=0)
    # The audio track's run in the first fragment: the second 'trun' of the file.
    trun = original.index(b"trun", original.index(b"trun") + 4) - 4
    flags = int.from_bytes(original[trun + 9 : trun + 12], "big")
    assert flags & 0x100, "the run lists sample durations"
    entries = trun + 16 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
    entry = 4 * bin(flags & 0xF00).count("1")
    fifth = entries + 4 * entry  # the fifth sample's duration (the first field of an entry)
    data = bytearray(original)
    assert int.from_bytes(data[fifth : fifth + 4], "big") == 1024
    data[fifth : fifth + 4] = bytes(4)
    path = tmp_path / "trun.mp4"
    path.write_bytes(bytes(data))
    assert "non monotonically increasing dts" in (mm.ffmpeg_complaint(path) or "")
    for deep, verdict, findings in _verdicts(path):
        assert verdict is Verdict.CORRUPTED, (deep, findings)
