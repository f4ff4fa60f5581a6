"""The audio/video decode checker and the FLAC MD5 verification, on real generated media."""

from __future__ import annotations

import hashlib
import random
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import av.logging
import pytest

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.checkers import av as av_checker
from pixelprobe_tui.core.checkers import flac
from pixelprobe_tui.core.verdict import CheckOptions, Severity, Verdict

NORMAL = CheckOptions()
DEEP = CheckOptions(deep=True)

AV_KINDS = [k.name for k in samples.iter_kinds("video")] + [k.name for k in samples.iter_kinds("audio")]
AUDIO_ONLY_CONTAINERS = ["ogg_vorbis", "opus", "mp4_audio_only", "m4a_aac", "mkv_audio"]
# Kinds whose damage is visible to a decoder when the file is cut in half (Ogg streams cut at a page
# boundary and MPEG-TS carry no declared length to compare with, so they are not listed).
CUT_DETECTABLE = [k for k in AV_KINDS if k not in ("opus", "ogg_vorbis", "ts_h264")]
# Containers with a header that a decoder cannot do without.
HEADER_DETECTABLE = [k for k in AV_KINDS if k not in ("ts_h264", "avi_mpeg4", "mp3")]


def codes(result) -> set[str]:
    return {f.code for f in result.findings if not f.ignored}


def corrupt_codes(result) -> set[str]:
    return {f.code for f in result.findings if f.severity == Severity.CORRUPT}


def write_damaged(src: Path, dst: Path, data: bytes) -> str:
    dst.write_bytes(data)
    return str(dst)


# --------------------------------------------------------------------------------------------------------
# Valid media.


@pytest.mark.parametrize("kind", AV_KINDS)
def test_valid_kind_is_healthy(kind: str, media_factory) -> None:
    path = media_factory(kind, seconds=1.0)
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.HEALTHY, result.findings
    assert result.family == samples.KINDS[kind].family
    assert result.container
    assert result.decisive_tool.startswith(f"pyav {av.__version__} (libavcodec ")
    assert result.tool_versions["pyav"] == av.__version__
    assert "libavcodec" in result.tool_versions
    assert result.file_size == path.stat().st_size


@pytest.mark.parametrize("kind", ["mp4_h264_aac", "mkv_h264", "flac", "mp3", "webm_vp9_opus"])
def test_valid_kind_is_healthy_in_deep_mode_with_stream_accounting(kind: str, media_factory) -> None:
    result = av_checker.check(str(media_factory(kind, seconds=1.0)), DEEP)
    assert result.verdict == Verdict.HEALTHY, result.findings
    summaries = [f for f in result.findings if f.code == "stream_summary"]
    assert summaries and all(f.severity == Severity.INFO for f in summaries)
    assert all("frames" in f.message and "0 decode errors" in f.message for f in summaries)


@pytest.mark.parametrize("kind", AUDIO_ONLY_CONTAINERS)
def test_audio_only_containers_are_audio_files(kind: str, media_factory) -> None:
    result = av_checker.check(str(media_factory(kind, seconds=1.0)), NORMAL)
    assert result.family == "audio"
    assert result.verdict == Verdict.HEALTHY, result.findings


def test_tags_in_a_legacy_encoding_do_not_stop_the_check(media_factory, tmp_path: Path) -> None:
    """A title that is not valid UTF-8 (common in old files) makes PyAV's default open raise."""
    src = av.open(str(media_factory("mkv_audio", seconds=1.0)))
    tagged = tmp_path / "tagged.mka"
    out = av.open(str(tagged), "w", format="matroska")
    out.metadata["title"] = "TITLEMARKER"
    stream = out.add_stream_from_template(src.streams.audio[0])
    for packet in src.demux(src.streams.audio[0]):
        if packet.size:
            packet.stream = stream
            out.mux(packet)
    out.close()
    src.close()
    data = tagged.read_bytes()
    assert data.count(b"TITLEMARKER") == 1
    path = tmp_path / "latin.mka"
    path.write_bytes(data.replace(b"TITLEMARKER", b"TITLE\xcf\xff\xfeKER"))
    with pytest.raises(UnicodeDecodeError):
        av.open(str(path))
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.HEALTHY, result.findings
    assert result.family == "audio"


def test_side_data_only_packets_are_not_decode_errors(tmp_path: Path) -> None:
    """FFmpeg's FLAC encoder ends with an empty packet carrying the final STREAMINFO; NUT stores it as a
    zero-size packet, which a decoder rejects (EINVAL). That is not damage."""
    path = tmp_path / "flac.nut"
    out = av.open(str(path), "w")
    stream = out.add_stream("flac", rate=44100)
    stream.layout = "stereo"
    rng = random.Random(7)
    for i in range(12):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=4096)
        frame.sample_rate = 44100
        frame.pts = i * 4096
        frame.planes[0].update(rng.randbytes(frame.planes[0].buffer_size))
        for packet in stream.encode(frame):
            out.mux(packet)
    tail = stream.encode()
    assert any(p.size == 0 for p in tail), "the encoder's side-data-only packet"
    for packet in tail:
        out.mux(packet)
    out.close()
    with av.open(str(path)) as check_open:
        assert any(p.size == 0 and p.pts is not None for p in check_open.demux())
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.HEALTHY, result.findings


def test_slideshow_with_long_frames_is_healthy(tmp_path: Path) -> None:
    """Four frames, 1.5 s each (VFR, durations known only for the last): no truncation is inferred."""
    path = tmp_path / "slides.mkv"
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=Fraction(2, 3))
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    stream.codec_context.time_base = Fraction(1, 1000)
    stream.options = {"bf": "0"}
    packets = []
    for i in range(4):
        frame = av.VideoFrame(64, 48, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([i * 40 + 10]) * plane.buffer_size)
        frame.pts, frame.time_base = i * 1500, Fraction(1, 1000)
        packets += stream.encode(frame)
    packets += stream.encode()
    for i, packet in enumerate(packets):
        packet.duration = 1500 if i == len(packets) - 1 else 0
        out.mux(packet)
    out.close()
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.HEALTHY, result.findings
    assert result.media_info["streams"][0]["frames"] == 4


def test_container_names_are_short(media_factory) -> None:
    assert av_checker.check(str(media_factory("mp4_h264", seconds=1.0)), NORMAL).container == "mp4"
    assert av_checker.check(str(media_factory("mov_h264", seconds=1.0)), NORMAL).container == "mov"
    assert av_checker.check(str(media_factory("m4a_aac", seconds=1.0)), NORMAL).container == "mp4"
    assert av_checker.check(str(media_factory("webm_vp9", seconds=1.0)), NORMAL).container == "webm"


def test_cover_art_does_not_make_audio_a_video(tmp_path: Path, media_factory) -> None:
    """An MP3 with an attached picture is still an audio file, and the picture is decoded too."""
    src = av.open(str(media_factory("mp3", seconds=1.0)))
    out_path = tmp_path / "cover.mp3"
    out = av.open(str(out_path), "w", format="mp3")
    audio_in = src.streams.audio[0]
    audio_out = out.add_stream_from_template(audio_in)
    pic = out.add_stream("mjpeg", rate=1)
    pic.width, pic.height, pic.pix_fmt = 32, 32, "yuvj420p"
    pic.disposition = av.stream.Disposition.attached_pic
    frame = av.VideoFrame(32, 32, "yuvj420p")
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    packets = pic.encode(frame) + pic.encode()
    for packet in src.demux(audio_in):
        if packet.size:
            packet.stream = audio_out
            out.mux(packet)
    for packet in packets:
        out.mux(packet)
    out.close()
    src.close()
    with av.open(str(out_path)) as check_open:
        assert any(s.type == "video" for s in check_open.streams), "the cover stream was written"
    result = av_checker.check(str(out_path), DEEP)
    assert result.family == "audio"
    assert result.verdict == Verdict.HEALTHY, result.findings
    assert any("cover art" in f.message for f in result.findings if f.code == "stream_summary")


# --------------------------------------------------------------------------------------------------------
# Damaged media.


@pytest.mark.parametrize("kind", CUT_DETECTABLE)
def test_file_cut_in_half_is_corrupted(kind: str, media_factory, tmp_path: Path) -> None:
    src = media_factory(kind, seconds=2.0)
    data = src.read_bytes()
    path = write_damaged(src, tmp_path / f"cut{src.suffix}", data[: len(data) // 2])
    result = av_checker.check(path, NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings


@pytest.mark.parametrize("kind", ["flac", "aiff", "mp3", "mkv_audio"])
def test_truncation_is_reported_with_the_decoded_extent(kind: str, media_factory, tmp_path: Path) -> None:
    """Formats that declare their length (STREAMINFO, COMM, Xing, Segment Info) end short when cut.

    (FFmpeg's WAV demuxer clamps the declared length to the file size, so a cut WAV is only caught when the
    cut splits a sample; the structure walk compares the chunk sizes.)"""
    src = media_factory(kind, seconds=2.0)
    data = src.read_bytes()
    path = write_damaged(src, tmp_path / f"cut{src.suffix}", data[: len(data) * 45 // 100])
    result = av_checker.check(path, NORMAL)
    assert result.verdict == Verdict.CORRUPTED
    truncated = [f for f in result.findings if f.code == "truncated"]
    assert truncated, result.findings
    for f in truncated:
        assert f.at_seconds is not None and 0.0 <= f.at_seconds < 1.5
        assert "declared" in f.message


@pytest.mark.parametrize("kind", HEADER_DETECTABLE)
@pytest.mark.parametrize("how", ["clobbered_header", "junk"])
def test_clobbered_header_and_junk_are_corrupted(kind: str, how: str, damaged_media) -> None:
    result = av_checker.check(str(damaged_media(kind, how, seed=1, seconds=1.0)), NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings


@pytest.mark.parametrize("kind", ["mp3", "avi_mpeg4", "ts_h264"])
def test_junk_is_corrupted_even_without_a_required_header(kind: str, damaged_media) -> None:
    result = av_checker.check(str(damaged_media(kind, "junk", seed=2, seconds=1.0)), NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings


@pytest.mark.parametrize("kind", [k for k in AV_KINDS if k not in ("wav", "wav_24bit", "aiff")])
def test_overwritten_block_is_corrupted(kind: str, damaged_media) -> None:
    """Random bytes over 0.5-4 KB in the middle of the file. (Raw PCM has no redundancy to notice it.)"""
    result = av_checker.check(str(damaged_media(kind, "overwritten_block", seed=2, seconds=2.0)), NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings


def test_empty_file_is_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.CORRUPTED
    assert codes(result) == {"empty"}


def test_missing_file_is_unreadable_not_corrupt(tmp_path: Path) -> None:
    result = av_checker.check(str(tmp_path / "gone.mkv"), NORMAL)
    assert result.verdict == Verdict.UNREADABLE


def test_truncated_matroska_reported_as_eio_by_ffmpeg_is_corrupted_not_unreadable(
    media_factory, tmp_path: Path
) -> None:
    """The Matroska demuxer answers a premature end of file with EIO (at open or while demuxing). The file
    itself reads fine, so it is damaged data, not a storage problem (H4's report H4-1)."""
    data = media_factory("mkv_audio").read_bytes()
    path = tmp_path / "cut.mkv"
    eio = 0
    for cut in range(200, len(data) // 2, max(1, len(data) // 60)):
        path.write_bytes(data[:cut])
        for options in (NORMAL, CheckOptions(deep=True)):
            result = av_checker.check(str(path), options)
            assert result.verdict == Verdict.CORRUPTED, (cut, [f.describe() for f in result.findings])
            eio += any("reads fine" in f.message for f in result.findings)
    assert eio, "no cut point made FFmpeg report EIO: the case is not exercised"


def _mdat_range(data: bytes) -> tuple[int, int]:
    pos = 0
    while pos + 8 <= len(data):
        size, typ = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        if typ == b"mdat":
            return pos + header, pos + size
        pos += size
    raise AssertionError("no mdat")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bit_flips_in_h264_video_are_found(seed: int, media_factory, tmp_path: Path) -> None:
    """Flips inside the coded frames only (the index is intact): the decoder conceals the damage, and
    the concealment (error messages, corrupt frame flags) must still be reported."""
    src = media_factory("mp4_h264", seconds=2.0)
    data = bytearray(src.read_bytes())
    lo, hi = _mdat_range(bytes(data))
    rng = random.Random(seed)
    for bit in rng.sample(range((lo + (hi - lo) // 5) * 8, hi * 8), 12):
        data[bit // 8] ^= 1 << (bit % 8)
    path = write_damaged(src, tmp_path / "flipped.mp4", bytes(data))
    result = av_checker.check(path, NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings
    assert corrupt_codes(result) & {"decode_error", "corrupt_frame"}
    decoder_findings = [f for f in result.findings if f.code in ("decode_error", "corrupt_frame")]
    # Messages name the decoder class and carry the media time where the damage was seen.
    assert any(f.message.startswith("h264 (stream #0)") for f in decoder_findings)
    # Messages from probing (the first frames, decoded at open) are attributed to the stream too.
    assert not any(f.message.startswith("h264:") for f in result.findings)
    assert all(f.at_seconds is not None and 0.0 <= f.at_seconds <= 2.1 for f in decoder_findings)


def test_overwritten_block_in_matroska_is_a_demux_problem(media_factory, tmp_path: Path) -> None:
    src = media_factory("mkv_h264", seconds=2.0)
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 2048] = random.Random(5).randbytes(2048)
    result = av_checker.check(write_damaged(src, tmp_path / "block.mkv", bytes(data)), NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings


def test_video_track_with_an_unknown_codec_tag_is_corrupted(media_factory, tmp_path: Path) -> None:
    """The sample description of the only track names no codec any more (damaged stsd entry)."""
    data = media_factory("mp4_h264", seconds=1.0).read_bytes()
    tag = data.index(b"avc1", data.index(b"stsd"))
    path = tmp_path / "unknown_codec.mp4"
    path.write_bytes(data[:tag] + b"q\x00z\x01" + data[tag + 4 :])
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings
    assert "unknown_codec" in codes(result)


def test_damaged_composition_offsets_put_frames_out_of_order(media_factory, tmp_path: Path) -> None:
    """A changed ctts entry (B-frame presentation offsets) decodes without a decoder error; the frame that
    now lands after its successor is the evidence."""
    data = bytearray(media_factory("mp4_h264", seconds=2.0).read_bytes())
    at = data.index(b"ctts")
    count = struct.unpack(">I", data[at + 8 : at + 12])[0]
    assert count > 4, "the sample has B-frames"
    entry = at + 12 + 8 * (count // 2)
    offset = struct.unpack(">I", data[entry + 4 : entry + 8])[0]
    data[entry + 4 : entry + 8] = struct.pack(">I", offset + 3072)
    path = tmp_path / "ctts.mp4"
    path.write_bytes(bytes(data))
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.CORRUPTED, result.findings
    assert "frame_order" in corrupt_codes(result)


def _ts_timestamp(prefix: int, value: int) -> bytes:
    """A 33-bit PES timestamp in its 5-byte form, marker bits set."""
    return bytes(
        [
            (prefix << 4) | (((value >> 30) & 0x07) << 1) | 1,
            (value >> 22) & 0xFF,
            (((value >> 15) & 0x7F) << 1) | 1,
            (value >> 7) & 0xFF,
            ((value & 0x7F) << 1) | 1,
        ]
    )


def test_ts_packet_decoded_after_it_is_shown_is_corrupted(media_factory, tmp_path: Path) -> None:
    """A PES header whose DTS lies after its PTS (damaged timestamps in MPEG-TS)."""
    data = bytearray(media_factory("ts_h264", seconds=2.0).read_bytes())
    starts = []
    for off in range(0, len(data) - 187, 188):
        if data[off] != 0x47 or not data[off + 1] & 0x40:
            continue
        p = off + 4 + (1 + data[off + 4] if (data[off + 3] >> 4) & 2 else 0)
        if data[p : p + 4] == b"\x00\x00\x01\xe0" and data[p + 7] >> 6 == 3:
            starts.append(p)
    assert len(starts) > 10, "video PES headers with PTS and DTS"
    pes = starts[len(starts) // 2]
    b = data[pes + 9 : pes + 14]
    pts = ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
    data[pes + 14 : pes + 19] = _ts_timestamp(1, pts + 90000)
    path = tmp_path / "dts.ts"
    path.write_bytes(bytes(data))
    assert av_checker.check(str(path), NORMAL).verdict == Verdict.CORRUPTED
    assert "pts_before_dts" in corrupt_codes(av_checker.check(str(path), DEEP))


def test_avi_with_b_frames_is_healthy(tmp_path: Path) -> None:
    """AVI stores decode-order times: reordered output is normal there, not damage."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    path = tmp_path / "bframes.avi"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=2",
            "-c:v",
            "libx264",
            "-bf",
            "3",
            "-threads",
            "1",
            str(path),
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.HEALTHY, result.findings


# --------------------------------------------------------------------------------------------------------
# FLAC.


def _streaminfo_offset(data: bytes) -> int:
    assert data[:4] == b"fLaC"
    assert data[4] & 0x7F == 0  # STREAMINFO is always the first block
    return 8


def _with_md5(data: bytes, md5: bytes) -> bytes:
    start = _streaminfo_offset(data)
    buf = bytearray(data)
    buf[start + 18 : start + 34] = md5
    return bytes(buf)


@pytest.mark.parametrize("kind", ["flac", "flac_24bit"])
def test_flac_md5_is_verified_on_valid_files(kind: str, media_factory) -> None:
    result = av_checker.check(str(media_factory(kind, seconds=1.0)), NORMAL)
    assert result.verdict == Verdict.HEALTHY
    assert "flac_md5_ok" in codes(result)


def test_flac_wrong_streaminfo_md5_is_corrupted(media_factory, tmp_path: Path) -> None:
    data = media_factory("flac", seconds=1.0).read_bytes()
    path = tmp_path / "wrong_md5.flac"
    path.write_bytes(_with_md5(data, hashlib.md5(b"not this audio").digest()))
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.CORRUPTED
    # The frames themselves are intact: the MD5 comparison alone decides.
    assert corrupt_codes(result) == {"flac_md5_mismatch"}


def test_flac_without_md5_is_skipped_with_info(media_factory, tmp_path: Path) -> None:
    data = media_factory("flac", seconds=1.0).read_bytes()
    path = tmp_path / "no_md5.flac"
    path.write_bytes(_with_md5(data, bytes(16)))
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.HEALTHY
    assert "flac_md5_unset" in codes(result)


@pytest.mark.parametrize("kind", ["flac", "flac_24bit"])
def test_flac_flipped_audio_byte_is_corrupted(kind: str, media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory(kind, seconds=1.0).read_bytes())
    data[len(data) * 2 // 3] ^= 0x5A
    path = tmp_path / f"flipped_{kind}.flac"
    path.write_bytes(bytes(data))
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.CORRUPTED
    assert corrupt_codes(result) & {"decode_error", "flac_md5_mismatch"}


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _flac_frames(data: bytes) -> list[int]:
    """Offsets of the audio frames: a sync code whose header CRC-8 checks out."""
    pos = 4
    while True:
        last = data[pos] & 0x80
        pos += 4 + int.from_bytes(data[pos + 1 : pos + 4], "big")
        if last:
            break
    starts = []
    while pos < len(data) - 16:
        if data[pos] == 0xFF and data[pos + 1] in (0xF8, 0xF9):
            block_code, rate_code = data[pos + 2] >> 4, data[pos + 2] & 0x0F
            lead, n = data[pos + 4], 0
            while lead & (0x80 >> n):
                n += 1
            end = (
                pos
                + 4
                + max(1, n)
                + {6: 1, 7: 2}.get(block_code, 0)
                + {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
            )
            if _crc8(data[pos:end]) == data[end]:
                starts.append(pos)
                pos = end
                continue
        pos += 1
    return starts


def test_flac_damage_behind_a_valid_frame_crc_is_found_by_the_md5(media_factory, tmp_path: Path) -> None:
    """A flipped bit in a frame whose CRC-16 is recomputed: only the STREAMINFO MD5 can tell."""
    data = media_factory("flac", seconds=1.0).read_bytes()
    starts = _flac_frames(data)
    assert len(starts) > 4
    assert _crc16(data[starts[1] : starts[2] - 2]) == int.from_bytes(data[starts[2] - 2 : starts[2]], "big")
    begin, end = starts[len(starts) // 2], starts[len(starts) // 2 + 1]
    md5_only = 0
    for offset in range(16, 64, 3):
        buf = bytearray(data)
        buf[begin + offset] ^= 0x01
        buf[end - 2 : end] = _crc16(bytes(buf[begin : end - 2])).to_bytes(2, "big")
        path = tmp_path / f"crc_ok_{offset}.flac"
        path.write_bytes(bytes(buf))
        result = av_checker.check(str(path), NORMAL)
        assert result.verdict == Verdict.CORRUPTED, (offset, result.findings)
        assert "flac_md5_mismatch" in corrupt_codes(result)
        md5_only += corrupt_codes(result) == {"flac_md5_mismatch"}
    assert md5_only, "some flips decode cleanly and only the MD5 catches them"


def test_flac_check_is_the_same_single_pass(media_factory) -> None:
    path = str(media_factory("flac", seconds=1.0))
    assert flac.check(path, NORMAL).findings == av_checker.check(path, NORMAL).findings


def test_parse_streaminfo_fields() -> None:
    md5 = bytes(range(16))
    # min/max block 4096, frame sizes 0; 48000 Hz, 2 channels, 24 bits, 123456 samples.
    packed = (48000 << 44) | ((2 - 1) << 41) | ((24 - 1) << 36) | 123456
    block = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + md5
    for data in (block, b"\x80\x00\x00\x22" + block, b"fLaC\x80\x00\x00\x22" + block):
        info = flac.parse_streaminfo(data)
        assert info == flac.StreamInfo(48000, 2, 24, 123456, md5)
    assert flac.parse_streaminfo(b"") is None
    assert flac.parse_streaminfo(block[:20]) is None


def test_md5_packing_matches_reference_layout() -> None:
    """24-bit samples arrive as s32 shifted left by 8 and are hashed as 3 little-endian bytes each."""
    values = [(1, -2), (0x123456, -0x123456), (-1, 0x7FFFFF)]
    frame = av.AudioFrame(format="s32", layout="stereo", samples=len(values))
    frame.sample_rate = 48000
    raw = b"".join(struct.pack("<ii", a << 8, b << 8) for a, b in values)
    frame.planes[0].update(raw + bytes(frame.planes[0].buffer_size - len(raw)))
    expected = b"".join(
        a.to_bytes(3, "little", signed=True) + b.to_bytes(3, "little", signed=True) for a, b in values
    )
    info = flac.StreamInfo(48000, 2, 24, len(values), hashlib.md5(expected).digest())
    check = flac.Md5Check(info)
    check.update(frame)
    assert check.finish().code == "flac_md5_ok"


@pytest.mark.parametrize(("bits", "fmt", "word"), [(20, "s32", 4), (12, "s16", 2)])
def test_md5_packing_of_depths_that_are_not_whole_bytes(bits: int, fmt: str, word: int) -> None:
    pytest.importorskip("numpy")
    width = (bits + 7) // 8
    shift = word * 8 - bits
    top = (1 << (bits - 1)) - 1
    values = [(1, -2), (top, -top - 1), (-1, 12345 % top)]
    frame = av.AudioFrame(format=fmt, layout="stereo", samples=len(values))
    frame.sample_rate = 48000
    code = "<hh" if word == 2 else "<ii"
    raw = b"".join(struct.pack(code, a << shift, b << shift) for a, b in values)
    frame.planes[0].update(raw + bytes(frame.planes[0].buffer_size - len(raw)))
    expected = b"".join(
        a.to_bytes(width, "little", signed=True) + b.to_bytes(width, "little", signed=True) for a, b in values
    )
    check = flac.Md5Check(flac.StreamInfo(48000, 2, bits, len(values), hashlib.md5(expected).digest()))
    check.update(frame)
    assert check.finish().code == "flac_md5_ok"


@pytest.mark.skipif(shutil.which("flac") is None, reason="the reference flac tool is not installed")
@pytest.mark.parametrize(("bits", "channels"), [(8, 1), (16, 2), (24, 6), (32, 2)])
def test_md5_agrees_with_the_reference_encoder(bits: int, channels: int, tmp_path: Path) -> None:
    """Files written by libFLAC (not FFmpeg) at every byte-aligned depth verify bit-exactly."""
    rng = random.Random(bits)
    width = bits // 8
    top = (1 << (bits - 1)) - 1
    raw = b"".join(
        rng.randint(-top - 1, top).to_bytes(width, "little", signed=True) for _ in range(4410 * channels)
    )
    src = tmp_path / "in.raw"
    src.write_bytes(raw)
    out = tmp_path / f"ref{bits}.flac"
    subprocess.run(
        [
            "flac",
            "-f",
            "-s",
            "--force-raw-format",
            "--endian=little",
            "--sign=signed",
            f"--channels={channels}",
            f"--bps={bits}",
            "--sample-rate=44100",
            str(src),
            "-o",
            str(out),
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    result = av_checker.check(str(out), NORMAL)
    assert result.verdict == Verdict.HEALTHY, result.findings
    assert "flac_md5_ok" in codes(result)


# --------------------------------------------------------------------------------------------------------
# Log capture hygiene.


def test_log_level_and_repeat_folding_are_restored(media_factory, tmp_path: Path) -> None:
    before = (av.logging.get_level(), av.logging.get_skip_repeated())
    data = bytearray(media_factory("mp4_h264", seconds=1.0).read_bytes())
    lo, hi = _mdat_range(bytes(data))
    for i in range(lo + (hi - lo) // 3, hi, 997):
        data[i] ^= 0xFF
    path = tmp_path / "noisy.mp4"
    path.write_bytes(bytes(data))
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.CORRUPTED
    assert (av.logging.get_level(), av.logging.get_skip_repeated()) == before


def test_messages_of_one_file_do_not_leak_into_the_next(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("mp4_h264", seconds=1.0).read_bytes())
    lo, hi = _mdat_range(bytes(data))
    for i in range(lo + (hi - lo) // 3, hi, 501):
        data[i] ^= 0xFF
    path = tmp_path / "noisy2.mp4"
    path.write_bytes(bytes(data))
    assert av_checker.check(str(path), NORMAL).verdict == Verdict.CORRUPTED
    clean = av_checker.check(str(media_factory("mp4_h264", seconds=1.0)), NORMAL)
    assert clean.verdict == Verdict.HEALTHY, clean.findings
    assert not clean.findings


def test_concurrent_checks_keep_their_messages_apart(media_factory, tmp_path: Path) -> None:
    """Capture is per thread: a clean file checked while a noisy one decodes on another thread stays clean."""
    data = bytearray(media_factory("mp4_h264", seconds=2.0).read_bytes())
    lo, hi = _mdat_range(bytes(data))
    for i in range(lo + (hi - lo) // 4, hi, 401):
        data[i] ^= 0xFF
    noisy = tmp_path / "noisy3.mp4"
    noisy.write_bytes(bytes(data))
    clean = str(media_factory("mp4_h264_aac", seconds=2.0))
    before = (av.logging.get_level(), av.logging.get_skip_repeated())
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(av_checker.check, str(noisy) if i % 2 else clean, NORMAL) for i in range(8)]
        results = [f.result() for f in futures]
    for i, result in enumerate(results):
        if i % 2:
            assert result.verdict == Verdict.CORRUPTED
        else:
            assert result.verdict == Verdict.HEALTHY and not result.findings, result.findings
    assert (av.logging.get_level(), av.logging.get_skip_repeated()) == before


# --------------------------------------------------------------------------------------------------------
# Short or unsized streams that are valid (H4's reports H4-3 and H4-5).


def _encode_audio(path: Path, fmt: str, codec: str, seconds: float, rate: int = 48000) -> Path:
    """A mono tone of ``seconds`` encoded with PyAV (the shortest clips are one or two packets)."""
    import math

    n = max(1, int(rate * seconds))
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.codec_context.format = av.Codec(codec, "w").audio_formats[0].name  # PyAV converts the frame
        stream.bit_rate = 64000  # wmav2 refuses to open without one
        pcm = struct.pack(f"<{n}h", *(int(8000 * math.sin(i * 0.05)) for i in range(n)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=n)
        frame.planes[0].update(pcm)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _unsized_wav(media_factory, tmp_path: Path, cut: int = 0) -> Path:
    """A WAV as written to a pipe: RIFF and data sizes left at 0xFFFFFFFF (optionally cut short)."""
    data = bytearray(media_factory("wav_24bit").read_bytes())
    assert data[:4] == b"RIFF"
    data[4:8] = b"\xff\xff\xff\xff"
    at = data.index(b"data", 12)
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"
    path = tmp_path / "pipe.wav"
    path.write_bytes(bytes(data[: len(data) - cut] if cut else data))
    return path


def test_unsized_wav_ending_in_whole_sample_frames_is_not_corrupt(media_factory, tmp_path: Path) -> None:
    # The demuxer flags its short last read corrupt; with whole sample frames that is just the end of the
    # data (6 bytes = one stereo 24-bit frame).
    for cut in (0, 6, 600):
        result = av_checker.check(str(_unsized_wav(media_factory, tmp_path, cut)), NORMAL)
        assert result.verdict != Verdict.CORRUPTED, (cut, [f.describe() for f in result.findings])
        assert "corrupt_packet" not in codes(result)


def test_unsized_wav_cut_inside_a_sample_frame_is_corrupted(media_factory, tmp_path: Path) -> None:
    for cut in (1, 4, 605):
        result = av_checker.check(str(_unsized_wav(media_factory, tmp_path, cut)), NORMAL)
        assert result.verdict == Verdict.CORRUPTED, (cut, [f.describe() for f in result.findings])


def test_sized_wav_with_a_short_last_packet_stays_corrupted(media_factory, tmp_path: Path) -> None:
    """Under a declared data size, a short last packet is missing data, even in whole sample frames."""
    data = media_factory("wav_24bit").read_bytes()
    path = tmp_path / "short.wav"
    path.write_bytes(data[: len(data) - 6 * 500])
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.CORRUPTED, [f.describe() for f in result.findings]


def test_a_clip_shorter_than_the_decoder_delay_is_healthy(tmp_path: Path) -> None:
    path = _encode_audio(tmp_path / "short.wma", "asf", "wmav2", 0.01)
    result = av_checker.check(str(path), NORMAL)
    assert result.verdict == Verdict.HEALTHY, [f.describe() for f in result.findings]
    assert any(f.code == "no_frames" and f.severity == Severity.INFO for f in result.findings)


@pytest.mark.parametrize(("fmt", "codec", "ext"), [("ac3", "ac3", "ac3"), ("mp3", "libmp3lame", "mp3")])
def test_one_frame_raw_audio_opens_with_the_sniffed_demuxer(
    tmp_path: Path, fmt: str, codec: str, ext: str
) -> None:
    """FFmpeg's probe guesses a one-frame AC-3 file as MPEG-TS (and fails) and warns about a low score on a
    tiny MP3; opened with the demuxer our sniffer recognised, both are plain healthy files."""
    from pixelprobe_tui.core import media

    path = _encode_audio(tmp_path / f"short.{ext}", fmt, codec, 0.01)
    sniffed = media.sniff(str(path))
    assert sniffed.container == fmt
    result = av_checker.check(str(path), NORMAL, sniff=sniffed)
    assert result.verdict == Verdict.HEALTHY, [f.describe() for f in result.findings]
    assert not [f for f in result.findings if f.severity == Severity.WARNING]


def test_errno_coded_demuxer_errors_on_readable_damaged_files_are_corrupt(tmp_path: Path) -> None:
    """The ASF demuxer answers a damaged header with EPERM: like EIO, damage when the OS reads the file
    fine, never "unreadable" (H4's report H4-6)."""
    data = _encode_audio(tmp_path / "short.wma", "asf", "wmav2", 0.01).read_bytes()
    path = tmp_path / "flipped.wma"
    errno_coded = 0
    for seed in range(120):
        flipped = bytearray(data)
        rng = random.Random(seed)
        for bit in rng.sample(range(len(data) // 20 * 8, len(data) * 8), 20):
            flipped[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(flipped))
        result = av_checker.check(str(path), NORMAL)
        assert result.verdict != Verdict.UNREADABLE, (seed, [f.describe() for f in result.findings])
        errno_coded += any("reads fine" in f.message for f in result.findings)
    assert errno_coded, "no flip made the demuxer answer with an errno code: the case is not exercised"


def test_vcd_mpeg1_is_healthy_in_deep_mode(tmp_path: Path) -> None:
    """err_detect=bitstream makes mpeg1video flag the stuffing a valid VCD encoder writes ("end mismatch");
    deep mode leaves that one flag out for MPEG-1/2 video (H4's report H4-7)."""
    import imageio_ffmpeg

    path = tmp_path / "vcd.mpg"
    lavfi = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:d=1", "-f", "lavfi", "-i", "sine=d=1"]
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-v",
        "error",
        "-y",
        *lavfi,
        "-target",
        "pal-vcd",
        str(path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    for options in (NORMAL, DEEP):
        result = av_checker.check(str(path), options)
        assert result.verdict == Verdict.HEALTHY, [f.describe() for f in result.findings]
