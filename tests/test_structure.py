"""The structure checker on real generated media: valid files stay clean, damage is found by the walk.

Real-world layouts the generators do not produce (64-bit and size-0 boxes, unknown-size clusters, tags
around MP3 frames, WAV extra chunks, RF64 ...) are built by editing real samples byte by byte.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.checkers import flac_info
from pixelprobe_tui.core.checkers.structure import check
from pixelprobe_tui.core.checkers.walks import flac as flac_walk
from pixelprobe_tui.core.checkers.walks.ogg import ogg_crc
from pixelprobe_tui.core.media import parse_mpeg_audio_header
from pixelprobe_tui.core.verdict import CheckOptions, Severity, Verdict

TRUNCATION_CODES = {"truncated", "missing_eoi", "missing_iend", "missing_trailer", "samples_beyond_eof"}
SMALL = {"seconds": 1.0, "size": (96, 64)}


def codes(result, severity: Severity | None = None) -> set[str]:
    return {f.code for f in result.findings if severity is None or f.severity is severity}


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# ----------------------------------------------------------------------------------------------------------
# Every kind: valid is clean, truncated is caught.


@pytest.mark.parametrize("kind", sorted(samples.KINDS))
def test_valid_sample_has_no_damage_finding(kind: str, media_factory) -> None:
    path = media_factory(kind, **SMALL)
    result = check(str(path))
    assert result.verdict is Verdict.HEALTHY, [f.describe() for f in result.findings]
    assert result.file_size == path.stat().st_size
    assert result.container is not None
    if samples.KINDS[kind].family == "image" or kind in ("mp3", "flac", "wav", "aiff", "m4a_aac"):
        assert result.family == samples.KINDS[kind].family


@pytest.mark.parametrize("kind", sorted(samples.KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_truncated_sample_is_corrupt(kind: str, seed: int, damaged_media) -> None:
    path = damaged_media(kind, "truncated", seed=seed, **SMALL)
    result = check(str(path))
    assert result.verdict is Verdict.CORRUPTED, [f.describe() for f in result.findings]
    assert codes(result, Severity.CORRUPT) & TRUNCATION_CODES
    structural = [f for f in result.findings if f.severity is Severity.CORRUPT]
    assert all(f.tool == f"structure:{result.container}" for f in structural)


@pytest.mark.parametrize("kind", ["mp4_h264", "flac", "png", "jpg_baseline", "wav"])
def test_junk_and_empty_under_a_media_name_are_corrupt(kind: str, damaged_media) -> None:
    junk = check(str(damaged_media(kind, "junk", **SMALL)))
    assert junk.verdict is Verdict.CORRUPTED and codes(junk) == {"not_media"}
    empty = check(str(damaged_media(kind, "empty", **SMALL)))
    assert empty.verdict is Verdict.CORRUPTED and codes(empty) == {"empty_file"}


def test_zero_filled_file_is_corrupt(tmp_path: Path) -> None:
    result = check(write(tmp_path, "clip.mkv", bytes(65536)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"not_media"}
    assert "zero" in result.findings[0].message


def test_non_media_name_with_unknown_content_is_unsupported(tmp_path: Path) -> None:
    result = check(write(tmp_path, "notes.txt", b"hello\n" * 100))
    assert result.verdict is Verdict.UNSUPPORTED


# ----------------------------------------------------------------------------------------------------------
# Sniffing-level findings and unreadable paths.


def test_png_named_jpg_is_walked_as_png(media_factory, tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    shutil.copyfile(media_factory("png", size=(32, 32)), path)
    result = check(str(path))
    # The mismatch warning is the dispatcher's (test_dispatch), which routes by content; not repeated here.
    assert result.verdict is Verdict.HEALTHY and codes(result) == set()
    assert result.container == "png" and result.family == "image"


@pytest.mark.timeout(20)
def test_fifo_named_like_media_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    result = check(str(fifo))
    assert result.verdict is Verdict.UNREADABLE and codes(result) == {"not_a_file"}


def test_directory_and_vanished_file_are_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "x.mp4"
    folder.mkdir()
    assert check(str(folder)).verdict is Verdict.UNREADABLE
    gone = check(str(tmp_path / "gone.flac"))
    assert gone.verdict is Verdict.UNREADABLE and codes(gone) == {"vanished"}


# ----------------------------------------------------------------------------------------------------------
# ISO-BMFF.


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, typ = struct.unpack(">I4s", data[pos : pos + 8])
        size = len(data) - pos if size == 0 else size
        out.append((typ, pos, size))
        pos += size
    return out


def test_mp4_with_extra_boxes_and_64_bit_sizes_is_clean(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp4_h264_aac", **SMALL).read_bytes()
    extra = struct.pack(">I4s", 16, b"free") + bytes(8)
    extra += struct.pack(">I4s", 24, b"uuid") + bytes(16)
    extra += struct.pack(">I4s", 8, b"wide")
    extra += struct.pack(">I4sQ", 1, b"skip", 16 + 5) + b"12345"  # a 64-bit size
    result = check(write(tmp_path, "boxes.mp4", data + extra))
    assert result.verdict is Verdict.HEALTHY, [f.describe() for f in result.findings]


def test_size_zero_mdat_runs_to_end_and_its_truncation_is_found(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("mp4_faststart", **SMALL).read_bytes())
    typ, pos, _size = _boxes(bytes(data))[-1]
    assert typ == b"mdat"
    data[pos : pos + 4] = b"\x00\x00\x00\x00"
    ok = check(write(tmp_path, "to_eof.mp4", bytes(data)))
    assert ok.verdict is Verdict.HEALTHY, [f.describe() for f in ok.findings]
    cut = check(write(tmp_path, "to_eof_cut.mp4", bytes(data[: len(data) - 3000])))
    assert cut.verdict is Verdict.CORRUPTED and "samples_beyond_eof" in codes(cut)


def test_mp4_without_moov_is_corrupt(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp4_h264", **SMALL).read_bytes()
    kept = b"".join(data[p : p + s] for t, p, s in _boxes(data) if t != b"moov")
    result = check(write(tmp_path, "no_moov.mp4", kept))
    assert result.verdict is Verdict.CORRUPTED and "missing_box" in codes(result)


def test_trailing_garbage_after_complete_mp4_is_a_warning(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp4_h264", **SMALL).read_bytes()
    result = check(write(tmp_path, "tail.mp4", data + b"\x01\x02gar" + b"bage!" * 3))
    assert result.verdict is Verdict.WARNING and codes(result) == {"trailing_data"}


# ----------------------------------------------------------------------------------------------------------
# Matroska.


def test_unknown_size_cluster_is_accepted_and_its_truncation_found(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("mkv_h264", **SMALL).read_bytes())
    pos = data.find(b"\x1f\x43\xb6\x75")
    assert pos > 0
    first = data[pos + 4]
    length = 9 - first.bit_length()
    # Rewrite the cluster size as "unknown" with the same vint length, as live recorders write it.
    unknown = ((1 << (8 * length - length)) - 1) | (1 << (8 * length - length))
    data[pos + 4 : pos + 4 + length] = unknown.to_bytes(length, "big")
    live = check(write(tmp_path, "live.mkv", bytes(data)))
    assert live.verdict is Verdict.HEALTHY, [f.describe() for f in live.findings]
    seg = data.find(b"\x18\x53\x80\x67")
    cut = bytes(data[: len(data) * 2 // 3])
    result = check(write(tmp_path, "live_cut.mkv", cut))
    assert result.verdict is Verdict.CORRUPTED and "truncated" in codes(result)
    # Unknown-size Segment too (a recording that was never finalised): still fine when complete.
    seg_len = 9 - data[seg + 4].bit_length()
    data[seg + 4 : seg + 4 + seg_len] = (
        ((1 << (7 * seg_len)) - 1) | (1 << (8 * seg_len - seg_len))
    ).to_bytes(seg_len, "big")
    assert check(write(tmp_path, "live_seg.mkv", bytes(data))).verdict is Verdict.HEALTHY


# ----------------------------------------------------------------------------------------------------------
# MP3.


def _mp3_frames(data: bytes) -> tuple[int, list[int]]:
    """(offset of the first frame, offsets of every frame) of a clean LAME file."""
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    start = 10 + size
    frames, pos = [], start
    while pos < len(data):
        h = parse_mpeg_audio_header(data, pos)
        assert h is not None
        frames.append(pos)
        pos += h.length
    return start, frames


def test_mp3_tags_and_junk_before_first_frame_are_clean(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp3", **SMALL).read_bytes()
    start, _ = _mp3_frames(data)
    padded = data[:start] + bytes(700) + data[start:]  # padding between ID3v2 and the first frame
    ape_items = b"\x05\x00\x00\x00\x00\x00\x00\x00Title\x00hello"
    ape_size = len(ape_items) + 32
    ape = b"APETAGEX" + struct.pack("<IIII", 2000, ape_size, 1, 0) + bytes(8)
    id3v1 = b"TAG" + b"title".ljust(30, b"\x00") + bytes(95)
    tagged = padded + ape_items + ape + id3v1
    result = check(write(tmp_path, "tagged.mp3", tagged))
    assert result.verdict is Verdict.HEALTHY, [f.describe() for f in result.findings]


def test_mp3_cut_on_a_frame_boundary_is_caught_by_the_info_frame_count(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp3", **SMALL).read_bytes()
    _, frames = _mp3_frames(data)
    result = check(write(tmp_path, "cut.mp3", data[: frames[len(frames) // 2]]))
    assert result.verdict is Verdict.CORRUPTED and codes(result, Severity.CORRUPT) == {"truncated"}
    assert "Info header declares" in result.findings[0].message


def test_mp3_cut_mid_frame_is_truncated(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp3", **SMALL).read_bytes()
    _, frames = _mp3_frames(data)
    result = check(write(tmp_path, "cut.mp3", data[: frames[-1] + 20]))
    assert "truncated" in codes(result, Severity.CORRUPT)


def test_mp3_garbage_in_the_middle_loses_sync(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp3", **SMALL).read_bytes()
    _, frames = _mp3_frames(data)
    mid = frames[len(frames) // 2]
    damaged = data[:mid] + b"\x12\x34" * 150 + data[mid:]
    result = check(write(tmp_path, "lost.mp3", damaged))
    assert result.verdict is Verdict.CORRUPTED and "lost_sync" in codes(result)
    assert "300 bytes" in next(f.message for f in result.findings if f.code == "lost_sync")


# ----------------------------------------------------------------------------------------------------------
# WAV / RF64 / AIFF.


def _wav(chunks: list[tuple[bytes, bytes]], riff: bytes = b"RIFF", riff_size: int | None = None) -> bytes:
    body = b"WAVE"
    for cid, payload in chunks:
        body += cid + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")
    return riff + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


_FMT = struct.pack("<HHIIHH", 1, 2, 8000, 32000, 4, 16)
_PCM = bytes(range(256)) * 125  # 32000 bytes: one second


def test_wav_with_extra_chunks_and_odd_padding_is_clean(tmp_path: Path) -> None:
    data = _wav(
        [
            (b"bext", bytes(603)),  # odd size: padded
            (b"fmt ", _FMT),
            (b"JUNK", bytes(28)),
            (b"data", _PCM),
            (b"LIST", b"INFOINAM\x05\x00\x00\x00song\x00"),  # odd size at the end
        ]
    )
    result = check(write(tmp_path, "extras.wav", data))
    assert result.verdict is Verdict.HEALTHY, [f.describe() for f in result.findings]


def test_wav_truncated_on_a_sample_boundary_is_caught(media_factory, tmp_path: Path) -> None:
    data = media_factory("wav", **SMALL).read_bytes()
    cut = data[: len(data) // 2 // 4 * 4]
    result = check(write(tmp_path, "cut.wav", cut))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"truncated"}
    assert "s missing" in result.findings[0].message


def test_streamed_wav_with_unset_sizes_is_only_a_warning(tmp_path: Path) -> None:
    data = bytearray(_wav([(b"fmt ", _FMT), (b"data", _PCM)]))
    data[4:8] = b"\xff\xff\xff\xff"
    pos = data.find(b"data")
    data[pos + 4 : pos + 8] = b"\xff\xff\xff\xff"
    result = check(write(tmp_path, "stream.wav", bytes(data)))
    assert result.verdict is Verdict.WARNING and codes(result) == {"header_not_finalized"}


def test_rf64_reads_sizes_from_ds64(tmp_path: Path) -> None:
    ds64 = struct.pack("<QQQI", 4 + 8 + 28 + 8 + 16 + 8 + len(_PCM), len(_PCM), len(_PCM) // 4, 0)
    data = _wav([(b"ds64", ds64), (b"fmt ", _FMT), (b"data", _PCM)], riff=b"RF64", riff_size=0xFFFFFFFF)
    pos = data.find(b"data")
    data = data[: pos + 4] + b"\xff\xff\xff\xff" + data[pos + 8 :]
    ok = check(write(tmp_path, "big.wav", data))
    assert ok.container == "rf64" and ok.verdict is Verdict.HEALTHY, [f.describe() for f in ok.findings]
    cut = check(write(tmp_path, "big_cut.wav", data[:-1000]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}


def test_aiff_with_rewritten_sizes_is_caught_by_the_frame_count(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("aiff", **SMALL).read_bytes())
    cut = len(data) // 2
    data = data[:cut]
    ssnd = data.find(b"SSND")
    # A careless tool fixed the chunk sizes after cutting: only COMM still knows the real length.
    data[ssnd + 4 : ssnd + 8] = struct.pack(">I", cut - ssnd - 8)
    data[4:8] = struct.pack(">I", cut - 8)
    result = check(write(tmp_path, "cut.aiff", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"truncated"}
    assert "COMM declares" in result.findings[0].message


# ----------------------------------------------------------------------------------------------------------
# FLAC.


def test_flac_streaminfo_is_exposed(media_factory) -> None:
    info = flac_info.read_streaminfo(str(media_factory("flac", **SMALL)))
    assert info is not None
    assert info.sample_rate == samples.AUDIO_RATE and info.channels == 2 and info.bits_per_sample == 16
    assert info.total_samples == samples.AUDIO_RATE and info.md5_set and len(info.md5_hex) == 32
    assert info.problems() == []


def test_flac_cut_on_a_frame_boundary_is_caught_by_the_sample_count(media_factory, tmp_path: Path) -> None:
    data = media_factory("flac", **SMALL).read_bytes()
    path = media_factory("flac", **SMALL)
    info = flac_info.read_streaminfo(str(path))
    assert info is not None
    # The last frame header: the last sync whose header parses and whose CRC-8 holds.
    pos = len(data)
    while True:
        pos = data.rfind(b"\xff\xf8", 0, pos)
        assert pos > 0
        if flac_walk.parse_frame_header(data, pos, info):
            break
    result = check(write(tmp_path, "cut.flac", data[:pos]))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"truncated"}
    assert "s missing" in result.findings[0].message


def test_flac_behind_an_id3_tag_is_clean(media_factory, tmp_path: Path) -> None:
    data = media_factory("flac", **SMALL).read_bytes()
    tag = b"ID3\x03\x00\x00\x00\x00\x00\x20" + bytes(32)
    result = check(write(tmp_path, "tagged.flac", tag + data))
    assert result.verdict is Verdict.HEALTHY, [f.describe() for f in result.findings]


# ----------------------------------------------------------------------------------------------------------
# Ogg, PNG, JPEG, GIF, BMP, TS.


def test_ogg_crc_matches_reference_and_a_flip_is_caught(media_factory, tmp_path: Path) -> None:
    # Reference value of the Ogg CRC (poly 0x04C11DB7, init 0, no reflection) for "123456789".
    assert ogg_crc(b"123456789") == 0x89A1897F
    data = bytearray(media_factory("ogg_vorbis", **SMALL).read_bytes())
    data[len(data) // 2] ^= 0x10
    result = check(write(tmp_path, "flip.ogg", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and "crc_mismatch" in codes(result)


def test_png_crc_flip_is_caught(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("png", size=(64, 64)).read_bytes())
    idat = data.find(b"IDAT")
    data[idat + 10] ^= 0x01
    result = check(write(tmp_path, "flip.png", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"crc_mismatch"}


def test_png_data_after_iend_is_corrupt_and_zero_padding_a_warning(media_factory, tmp_path: Path) -> None:
    # pngcheck and FFmpeg reject any byte after IEND; zero padding leaves the image whole.
    data = media_factory("apng", size=(32, 32)).read_bytes()
    result = check(write(tmp_path, "tail.png", data + b"extra bytes"))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"trailing_data"}
    padded = check(write(tmp_path, "padded.png", data + bytes(300)))
    assert padded.verdict is Verdict.WARNING and codes(padded) == {"trailing_zeros"}


def _jpeg_with_thumbnail(main: bytes, thumb: bytes) -> bytes:
    """Insert an APP1 segment that carries a complete JPEG (its own EOI) right after SOI."""
    payload = b"Exif\x00\x00" + thumb
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    com = b"\xff\xfe" + struct.pack(">H", 9) + b"comment"
    return main[:2] + app1 + com + main[2:]


def test_jpeg_thumbnail_and_trailers(media_factory, tmp_path: Path) -> None:
    main = media_factory("jpg_progressive", size=(96, 64)).read_bytes()
    thumb = media_factory("jpg_baseline", size=(16, 16)).read_bytes()
    full = _jpeg_with_thumbnail(main, thumb)
    assert check(write(tmp_path, "thumb.jpg", full)).verdict is Verdict.HEALTHY
    # Without its last bytes the image has no EOI, even though the thumbnail inside APP1 has one.
    cut = check(write(tmp_path, "thumb_cut.jpg", full[:-2]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"missing_eoi"}
    mpo = check(write(tmp_path, "pair.jpg", full + thumb))
    assert mpo.verdict is Verdict.HEALTHY and codes(mpo) == {"multi_image"}
    junk = check(write(tmp_path, "junk_tail.jpg", full + b"some trailing junk"))
    assert junk.verdict is Verdict.WARNING and codes(junk) == {"trailing_data"}


def test_gif_without_trailer_is_a_warning_and_cut_inside_an_image_is_truncated(
    media_factory, tmp_path: Path
) -> None:
    # Old encoders left the trailer byte out (Python's idlelib icons): every decoder shows the whole image.
    data = media_factory("gif_animated", size=(32, 32)).read_bytes()
    assert data.endswith(b"\x3b")
    result = check(write(tmp_path, "notrailer.gif", data[:-1]))
    assert result.verdict is Verdict.WARNING and codes(result) == {"missing_trailer"}
    cut = check(write(tmp_path, "cut.gif", data[:-40]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}


def test_bmp_short_pixel_data_is_truncated_even_if_header_agrees(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("bmp", size=(64, 64)).read_bytes())
    data = data[: len(data) - 500]
    data[2:6] = struct.pack("<I", len(data))  # the header "agrees" with the short file
    result = check(write(tmp_path, "short.bmp", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"truncated"}


@pytest.mark.parametrize("deep", [False, True])
def test_ts_bytes_lost_in_the_middle_break_sync(deep: bool, media_factory, tmp_path: Path) -> None:
    data = media_factory("ts_h264", **SMALL).read_bytes()
    mid = len(data) // 188 // 2 * 188 + 50
    damaged = data[:mid] + data[mid + 100 :]
    result = check(write(tmp_path, "lost.ts", damaged), CheckOptions(deep=deep))
    assert result.verdict is Verdict.CORRUPTED and "lost_sync" in codes(result)


def test_large_ts_out_of_step_at_the_end_is_found_without_deep(media_factory, tmp_path: Path) -> None:
    packets = media_factory("ts_h264", **SMALL).read_bytes()
    big = packets * (3_000_000 // len(packets) + 1)  # over the 2 MB whole-walk limit
    assert check(write(tmp_path, "big.ts", big)).verdict is Verdict.HEALTHY
    mid = len(big) // 2
    # 88 bytes lost in the middle and 100 at the very end: whole packets overall, but out of step.
    damaged = big[:mid] + big[mid + 88 : -100]
    result = check(write(tmp_path, "big_lost.ts", damaged))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"lost_sync"}
    deep = check(write(tmp_path, "big_lost2.ts", damaged), CheckOptions(deep=True))
    assert "lost_sync" in codes(deep)


def test_tiff_strips_beyond_the_end_are_found(media_factory, tmp_path: Path) -> None:
    data = media_factory("tiff", size=(64, 64)).read_bytes()
    # Pillow writes the IFD before the strips: cut only image data.
    first_ifd = struct.unpack("<I", data[4:8])[0] if data[:2] == b"II" else struct.unpack(">I", data[4:8])[0]
    assert first_ifd < len(data) // 2
    result = check(write(tmp_path, "cut.tiff", data[: len(data) - 100]))
    assert result.verdict is Verdict.CORRUPTED and "truncated" in codes(result)


DEEP = CheckOptions(deep=True)


def test_flac_with_junk_after_the_last_frame_is_only_a_warning(media_factory, tmp_path: Path) -> None:
    data = media_factory("flac", **SMALL).read_bytes()
    path = write(tmp_path, "junk_tail.flac", data + b"not audio, some tagger's leftovers" * 3)
    result = check(path, DEEP)
    assert result.verdict is Verdict.WARNING and codes(result) == {"trailing_data"}
    # Normal mode reads no CRC-16: what follows the final frame is the decoder's to judge.
    assert check(path).verdict is Verdict.HEALTHY


def test_flac_last_frame_cut_inside_is_corrupt_in_deep_mode(media_factory, tmp_path: Path) -> None:
    data = media_factory("flac", **SMALL).read_bytes()
    path = write(tmp_path, "cut_last.flac", data[:-7])
    result = check(path, DEEP)
    assert result.verdict is Verdict.CORRUPTED and codes(result) & {"truncated", "crc_mismatch"}
    # Normal mode leaves a final frame cut inside to the decoder's CRC check (test_dispatch).
    assert check(path).verdict is Verdict.HEALTHY


def test_jpeg_extraneous_bytes_between_segments_are_a_warning(media_factory, tmp_path: Path) -> None:
    data = media_factory("jpg_baseline", size=(32, 32)).read_bytes()
    # After the APP0 segment (SOI + FFE0 + its length), insert bytes libjpeg would skip with a warning.
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    result = check(write(tmp_path, "extra.jpg", data[:app0_end] + b"\x00\x00\x00" + data[app0_end:]))
    assert result.verdict is Verdict.WARNING and codes(result) == {"extraneous_bytes"}
    # A block of foreign data (a duplicated piece of the file) is damage, not padding.
    block = data[app0_end : app0_end + 60].replace(b"\xff", b"\x7f")
    damaged = check(write(tmp_path, "block.jpg", data[:app0_end] + block + data[app0_end:]))
    assert damaged.verdict is Verdict.CORRUPTED and codes(damaged) == {"extraneous_bytes"}


def test_gif_stray_zero_between_blocks_is_a_warning(media_factory, tmp_path: Path) -> None:
    data = media_factory("gif_animated", size=(32, 32)).read_bytes()
    result = check(write(tmp_path, "stray.gif", data[:-1] + b"\x00\x3b"))
    assert result.verdict is Verdict.WARNING and codes(result) == {"stray_bytes"}


def test_typescript_source_named_ts_is_unsupported_not_corrupt(tmp_path: Path) -> None:
    result = check(write(tmp_path, "app.ts", b"import x from './x';\nconsole.log(x);\n"))
    assert result.verdict is Verdict.UNSUPPORTED


@pytest.mark.parametrize(("kind", "family"), [("mkv_audio", "audio"), ("webm_vp9_opus", "video")])
def test_matroska_family_comes_from_track_types(kind: str, family: str, media_factory) -> None:
    assert check(str(media_factory(kind, **SMALL))).family == family


def _long_flac(path: Path, seconds: float = 4.0) -> bytes:
    """A FLAC with small blocks, so frame numbers pass 127 (two-byte coded numbers in frame headers)."""
    import av

    rate = 22050
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        stream.codec_context.options = {"compression_level": "0"}
        total = int(rate * seconds)
        for start in range(0, total, 1000):
            n = min(1000, total - start)
            samples_ = bytes((((start + i) * 37) & 0xFF) for i in range(n * 2))
            frame = av.AudioFrame(format="s16", layout="mono", samples=n)
            frame.planes[0].update(samples_)
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def test_flac_with_many_frames_is_clean_and_its_frame_boundary_cut_is_caught(tmp_path: Path) -> None:
    data = _long_flac(tmp_path / "long.flac")
    info = flac_info.read_streaminfo(str(tmp_path / "long.flac"))
    assert info is not None and info.total_samples // info.max_blocksize > 128
    ok = check(str(tmp_path / "long.flac"))
    assert ok.verdict is Verdict.HEALTHY, [f.describe() for f in ok.findings]
    pos = len(data)
    while True:
        pos = data.rfind(b"\xff\xf8", 0, pos)
        header = flac_walk.parse_frame_header(data, pos, info)
        if header:
            break
    assert header[0] > 127  # the frame number needed the two-byte coding
    cut = check(write(tmp_path, "long_cut.flac", data[:pos]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}


def _encode(path: Path, fmt: str, vcodec: str | None, acodec: str | None, seconds: float = 2.0) -> bytes:
    """A small file straight from PyAV, for containers the shared samples do not cover."""
    import av
    import numpy as np

    with av.open(str(path), "w", format=fmt) as out:
        video = audio = None
        if vcodec:
            video = out.add_stream(vcodec, rate=25)
            video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
            video.codec_context.options = {"qscale": "2"} if vcodec == "mpeg2video" else {}
        if acodec:
            audio = out.add_stream(acodec, rate=44100, layout="stereo")
            if acodec == "wavpack":
                audio.codec_context.format = "s16p"  # its default is 8-bit
        if video is not None:
            rng = np.random.default_rng(7)
            for i in range(int(25 * seconds)):
                frame = av.VideoFrame.from_ndarray(
                    rng.integers(0, 255, (120, 160, 3), np.uint8), format="rgb24"
                )
                frame.pts = i
                for packet in video.encode(frame):
                    out.mux(packet)
            for packet in video.encode():
                out.mux(packet)
        if audio is not None:
            fmt_name = audio.codec_context.format.name
            chunk = audio.codec_context.frame_size or 1024
            total = int(44100 * seconds)
            for start in range(0, total, chunk):
                n = min(chunk, total - start)
                t = (np.arange(start, start + n) / 44100.0) * 2 * np.pi * 440
                wave = (np.sin(t) * 0.3).astype(np.float32)
                if fmt_name.startswith("s16"):
                    wave = (wave * 32767).astype(np.int16)
                elif fmt_name.startswith("s32"):
                    wave = (wave * 2**30).astype(np.int32)
                arr = (
                    np.stack([wave, wave])
                    if fmt_name.endswith("p")
                    else np.stack([wave, wave], 1).reshape(1, -1)
                )
                frame = av.AudioFrame.from_ndarray(arr, format=fmt_name, layout="stereo")
                frame.sample_rate, frame.pts = 44100, start
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
    return path.read_bytes()


def test_mpeg_program_stream_walk(tmp_path: Path) -> None:
    data = _encode(tmp_path / "clip.mpg", "mpeg", "mpeg2video", "mp2")
    assert check(str(tmp_path / "clip.mpg")).verdict is Verdict.HEALTHY
    cut = check(write(tmp_path, "cut.mpg", data[: len(data) * 2 // 3 + 5]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}
    # Concatenated programs (cat a.mpg b.mpg), and a large file where only the tail is walked.
    body = data[:-4] if data.endswith(b"\x00\x00\x01\xb9") else data
    big = body * (2_500_000 // len(body) + 1) + b"\x00\x00\x01\xb9"
    assert check(write(tmp_path, "twice.mpg", data + data)).verdict is Verdict.HEALTHY
    assert check(write(tmp_path, "big.mpg", big)).verdict is Verdict.HEALTHY
    big_cut = check(write(tmp_path, "big_cut.vob", big[:-3000]))
    assert big_cut.verdict is Verdict.CORRUPTED and codes(big_cut) == {"truncated"}


def test_wavpack_walk(tmp_path: Path) -> None:
    data = _encode(tmp_path / "song.wv", "wv", None, "wavpack")
    ok = check(str(tmp_path / "song.wv"))
    assert ok.container == "wavpack" and ok.verdict is Verdict.HEALTHY, [f.describe() for f in ok.findings]
    cut = check(write(tmp_path, "cut.wv", data[: len(data) // 2]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}


def test_second_image_of_an_mpo_cut_short_is_caught(media_factory, tmp_path: Path) -> None:
    first = media_factory("jpg_baseline", size=(64, 48)).read_bytes()
    second = media_factory("jpg_progressive", size=(64, 48)).read_bytes()
    pair = first + second
    assert codes(check(write(tmp_path, "pair.jpg", pair))) == {"multi_image"}
    cut = check(write(tmp_path, "pair_cut.jpg", pair[: len(first) + len(second) // 2]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"missing_eoi"}
    assert cut.findings[0].message.startswith("image 2: ")


def test_samsung_trailer_after_a_complete_mp4_is_info(media_factory, tmp_path: Path) -> None:
    data = media_factory("mp4_h264", **SMALL).read_bytes()
    sef = b"\x12\x34\x56\x78some slow-motion metadata" + b"SEFH" + bytes(12) + b"SEFT"
    result = check(write(tmp_path, "samsung.mp4", data + sef))
    assert result.verdict is Verdict.HEALTHY and codes(result) == {"trailer"}


def test_overwritten_bytes_inside_a_matroska_cluster_are_found(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("mkv_h264", **SMALL).read_bytes())
    cluster = data.find(b"\x1f\x43\xb6\x75")
    # Garble the first block header after the cluster's timestamp element.
    data[cluster + 12 : cluster + 20] = b"\x00" * 8
    result = check(write(tmp_path, "garbled.mkv", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"bad_element"}


def test_garbled_chunk_header_inside_avi_movie_data_is_found(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("avi_mpeg4", **SMALL).read_bytes())
    movi = data.find(b"movi")
    first = movi + 4  # the first stream chunk ('00dc' ...)
    size = struct.unpack("<I", data[first + 4 : first + 8])[0]
    second = first + 8 + size + (size & 1)
    data[second : second + 8] = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    result = check(write(tmp_path, "garbled.avi", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"bad_chunk"}


def _raf(jpeg: bytes, raw: bytes) -> bytes:
    header = b"FUJIFILMCCD-RAW 0201FF383501" + b"X-T100".ljust(32, b"\x00")
    header = header.ljust(84, b"\x00")
    jpeg_at = 84 + 24 + 36
    raw_at = jpeg_at + len(jpeg)
    table = struct.pack(">IIIIII", jpeg_at, len(jpeg), raw_at, 16, raw_at + 16, len(raw) - 16)
    return (header + table).ljust(jpeg_at, b"\x00") + jpeg + raw


def test_fujifilm_raf_offsets(media_factory, tmp_path: Path) -> None:
    data = _raf(media_factory("jpg_baseline", size=(32, 32)).read_bytes(), bytes(range(256)) * 40)
    ok = check(write(tmp_path, "shot.raf", data))
    assert ok.container == "raf" and ok.family == "image" and ok.verdict is Verdict.HEALTHY
    cut = check(write(tmp_path, "cut.raf", data[:-100]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}


@pytest.mark.timeout(60)
def test_ts_resync_near_the_end_terminates(media_factory, tmp_path: Path) -> None:
    # Regression: with no five packets in step left, the resync window shrank to exactly five packets
    # and stopped advancing.
    data = bytearray(media_factory("ts_h264", **SMALL).read_bytes())
    for k in range(1, 7):
        data[len(data) - 188 * k] = 0
    result = check(write(tmp_path, "resync.ts", bytes(data)), CheckOptions(deep=True))
    assert result.verdict is Verdict.CORRUPTED


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["mp4_h264_aac", "mkv_h264", "mp3", "flac", "ogg_vorbis", "ts_h264", "png"])
def test_random_damage_never_breaks_a_walk(kind: str, media_factory, tmp_path: Path) -> None:
    import random

    rng = random.Random(kind)
    data = media_factory(kind, **SMALL).read_bytes()
    suffix = samples.KINDS[kind].extension
    for i in range(40):
        b = bytearray(data)
        start = rng.randrange(len(b))
        if i % 3 == 0:
            b[start : start + rng.randint(1, 3000)] = b""
        elif i % 3 == 1:
            n = rng.randint(1, 4096)
            b[start : start + n] = rng.randbytes(len(b[start : start + n]))
        else:
            b = b[:start]
        result = check(write(tmp_path, f"d{i}{suffix}", bytes(b)), CheckOptions(deep=bool(i & 1)))
        assert "walk_failed" not in codes(result), [f.describe() for f in result.findings]


def test_avi_over_4_gb_without_opendml_is_not_called_corrupt(tmp_path: Path) -> None:
    # A sparse file: the 32-bit RIFF size wrapped around, as old writers leave it past 4 GB.
    total = (1 << 32) + 1000
    path = tmp_path / "huge.avi"
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", (total - 8) & 0xFFFFFFFF) + b"AVI ")
        f.truncate(total)
    result = check(str(path))
    assert result.verdict is Verdict.HEALTHY and codes(result) == {"size_wrapped"}


@pytest.mark.parametrize("kind", ["wav", "mp4_h264", "ogg_vorbis", "flac"])
def test_id3v2_tag_in_front_of_other_containers_is_stepped_over(
    kind: str, media_factory, tmp_path: Path
) -> None:
    data = media_factory(kind, **SMALL).read_bytes()
    tag = b"ID3\x03\x00\x00\x00\x00\x01\x00" + b"\x00" * 128
    suffix = samples.KINDS[kind].extension
    ok = check(write(tmp_path, f"tagged{suffix}", tag + data))
    assert ok.verdict is Verdict.HEALTHY, [f.describe() for f in ok.findings]
    cut = check(write(tmp_path, f"tagged_cut{suffix}", tag + data[: len(data) * 2 // 3]))
    assert cut.verdict is Verdict.CORRUPTED


def test_flac_streaminfo_oddities_warn_and_a_zero_rate_is_corrupt(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("flac", **SMALL).read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO payload starts at byte 8
    odd = bytearray(data)
    odd[8:10] = b"\x00\x00"  # minimum block size 0: out of spec, harmless to decoders
    result = check(write(tmp_path, "odd.flac", bytes(odd)))
    assert result.verdict is Verdict.WARNING and codes(result) == {"odd_streaminfo"}
    bad = bytearray(data)
    bad[18] = 0  # sample rate: 20 bits starting at byte 18
    bad[19] = 0
    bad[20] &= 0x0F
    result = check(write(tmp_path, "bad.flac", bytes(bad)))
    assert result.verdict is Verdict.CORRUPTED and "bad_streaminfo" in codes(result)


@pytest.mark.parametrize("name", ["song.mp3", "song.flac", "x.mp4"])
def test_tiny_and_tag_only_files_give_a_result(name: str, tmp_path: Path) -> None:
    for i, data in enumerate(
        [b"\xff", b"ID3", b"ID3\x04\x00\x00\x00\x00\x7f\x7f" + bytes(50), b"\x00\x00\x00"]
    ):
        result = check(write(tmp_path, f"{i}{name}", data))
        assert result.verdict is Verdict.CORRUPTED, (data, [f.describe() for f in result.findings])


# ----------------------------------------------------------------------------------------------------------
# TIFF image IFDs, ICO, Netpbm, TGA.


def _tiff_bytes(**kw) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 30)).save(buf, "TIFF", **kw)
    return buf.getvalue()


def _ifd0_entries(data: bytes) -> tuple[int, int]:
    """(offset of IFD0's first entry, entry count) of a little-endian classic TIFF."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    return ifd + 2, struct.unpack_from("<H", data, ifd)[0]


def test_tiff_ifd_entry_with_an_undefined_type_is_corrupt_except_in_camera_raw(tmp_path: Path) -> None:
    data = bytearray(_tiff_bytes())
    first, n = _ifd0_entries(bytes(data))
    assert check(write(tmp_path, "ok.tif", bytes(data))).verdict is Verdict.HEALTHY
    struct.pack_into("<H", data, first + 2 * 12 + 2, 19)  # the third entry's field type
    bad = check(write(tmp_path, "bad_type.tif", bytes(data)))
    assert bad.verdict is Verdict.CORRUPTED and codes(bad) == {"bad_ifd"}
    # Raw vendors bend the rules: no strict IFD check under a raw name.
    assert "bad_ifd" not in codes(check(write(tmp_path, "bad_type.nef", bytes(data))))


def test_tiff_ifd_values_beyond_the_end_are_corrupt(tmp_path: Path) -> None:
    data = bytearray(_tiff_bytes(compression="tiff_lzw"))
    first, n = _ifd0_entries(bytes(data))
    for i in range(n):
        pos = first + 12 * i
        typ, count = struct.unpack_from("<HI", data, pos + 2)
        if typ == 3 and count == 3:  # BitsPerSample: three SHORTs stored at an offset
            struct.pack_into("<I", data, pos + 4, 0x20000003)
    bad = check(write(tmp_path, "bad_count.tif", bytes(data)))
    assert bad.verdict is Verdict.CORRUPTED and codes(bad) == {"bad_ifd"}


def _ico_bytes(fmt: str) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (32, 32), (200, 20, 20, 255)).save(
        buf, "ICO", sizes=[(16, 16), (32, 32)], bitmap_format=fmt
    )
    return buf.getvalue()


def test_ico_entries_are_checked(tmp_path: Path) -> None:
    png_ico = _ico_bytes("png")
    assert check(write(tmp_path, "ok.ico", png_ico)).verdict is Verdict.HEALTHY
    cut = check(write(tmp_path, "cut.ico", png_ico[:-10]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}
    flipped = bytearray(png_ico)
    flipped[png_ico.rfind(b"IDAT") + 6] ^= 0x10
    bad_crc = check(write(tmp_path, "crc.ico", bytes(flipped)))
    assert bad_crc.verdict is Verdict.CORRUPTED and "crc_mismatch" in codes(bad_crc)
    bmp_ico = bytearray(_ico_bytes("bmp"))
    assert check(write(tmp_path, "ok_bmp.ico", bytes(bmp_ico))).verdict is Verdict.HEALTHY
    offset = struct.unpack_from("<I", bmp_ico, 6 + 12)[0]
    struct.pack_into("<I", bmp_ico, offset + 16, 2)  # BI_RLE4 in an icon bitmap
    assert "bad_header" in codes(check(write(tmp_path, "rle.ico", bytes(bmp_ico))))


def test_netpbm_raster_length_is_checked(tmp_path: Path) -> None:
    header = b"P6\n# a comment\n4 3\n255\n"
    raster = bytes(range(36))
    assert check(write(tmp_path, "ok.ppm", header + raster)).verdict is Verdict.HEALTHY
    cut = check(write(tmp_path, "cut.ppm", header + raster[:-5]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"truncated"}
    two = check(write(tmp_path, "two.ppm", (header + raster) * 2))
    assert two.verdict is Verdict.HEALTHY and codes(two) == {"multi_image"}
    junk = check(write(tmp_path, "junk.ppm", header + raster + b"garbage!"))
    assert junk.verdict is Verdict.WARNING and codes(junk) == {"trailing_data"}
    pbm = b"P4 9 2\n" + bytes(4)  # 9 pixels -> 2 bytes per row
    assert check(write(tmp_path, "ok.pbm", pbm)).verdict is Verdict.HEALTHY
    assert check(write(tmp_path, "cut.pbm", pbm[:-1])).verdict is Verdict.CORRUPTED


def test_tga_is_recognised_by_name_and_header_only(tmp_path: Path) -> None:
    header = bytes([0, 0, 2]) + bytes(9) + struct.pack("<HH", 4, 2) + bytes([24, 0])
    ok = check(write(tmp_path, "ok.tga", header + bytes(24)))
    assert ok.verdict is Verdict.HEALTHY and ok.container == "tga" and ok.family == "image"
    junk = check(write(tmp_path, "junk.tga", bytes([0xFF, 0x17, 0x99]) + bytes(40)))
    assert junk.verdict is Verdict.CORRUPTED and codes(junk) == {"not_media"}


def test_bmp_with_an_undefined_compression_is_corrupt(tmp_path: Path) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(buf, "BMP")
    data = bytearray(buf.getvalue())
    assert check(write(tmp_path, "ok.bmp", bytes(data))).verdict is Verdict.HEALTHY
    struct.pack_into("<I", data, 30, 2048)
    bad = check(write(tmp_path, "bad.bmp", bytes(data)))
    assert bad.verdict is Verdict.CORRUPTED and codes(bad) == {"bad_header"}


def _ffmpeg(tmp_path: Path, name: str, *args: str) -> str:
    import subprocess

    import imageio_ffmpeg

    out = tmp_path / name
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args, str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return str(out)


def test_vcd_program_stream_with_zero_stuffed_sectors_is_clean(tmp_path: Path) -> None:
    src = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=1", "-f", "lavfi", "-i", "sine=d=1"]
    path = _ffmpeg(tmp_path, "vcd.mpg", *src, "-target", "pal-vcd")
    data = Path(path).read_bytes()
    assert b"\x00" * 16 + b"\x00\x00\x01\xba" in data  # the sectors really are zero-stuffed
    assert check(path).verdict is Verdict.HEALTHY
    assert check(path, DEEP).verdict is Verdict.HEALTHY
    cut = check(write(tmp_path, "vcd_cut.mpg", data[: len(data) * 2 // 3]))
    assert cut.verdict is Verdict.CORRUPTED and "truncated" in codes(cut)


def test_jpeg_ls_scan_bytes_are_not_markers(tmp_path: Path) -> None:
    path = _ffmpeg(
        tmp_path, "ls.jpg", "-f", "lavfi", "-i", "testsrc2=size=96x64", "-frames:v", "1", "-c:v", "jpegls"
    )
    assert check(path).verdict is Verdict.HEALTHY
    data = Path(path).read_bytes()
    cut = check(write(tmp_path, "ls_cut.jpg", data[:-100]))
    assert cut.verdict is Verdict.CORRUPTED and codes(cut) == {"missing_eoi"}


def _rle8_bmp(codes: bytes, width: int = 4, height: int = 2) -> bytes:
    palette = bytes(4 * 256)
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(codes), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(codes), 0, 0, offset) + info + palette + codes


def test_bmp_rle_codes_are_walked(tmp_path: Path) -> None:
    rows = b"\x04\x01\x00\x00" + b"\x04\x02\x00\x00"  # two rows of 4 pixels, each ended by EOL
    assert check(write(tmp_path, "ok.bmp", _rle8_bmp(rows + b"\x00\x01"))).verdict is Verdict.HEALTHY
    # A third row in a two-row picture (a duplicated block of codes), a delta out of the picture,
    # and codes that stop after the first row.
    extra = check(write(tmp_path, "extra.bmp", _rle8_bmp(rows + b"\x04\x03\x00\x01")))
    assert extra.verdict is Verdict.CORRUPTED and codes(extra) == {"bad_rle"}
    delta = check(write(tmp_path, "delta.bmp", _rle8_bmp(b"\x00\x02\x09\x00" + rows + b"\x00\x01")))
    assert delta.verdict is Verdict.CORRUPTED and codes(delta) == {"bad_rle"}
    overflow = check(write(tmp_path, "overflow.bmp", _rle8_bmp(b"\x09\x01\x00\x00" + rows[4:] + b"\x00\x01")))
    assert overflow.verdict is Verdict.CORRUPTED and codes(overflow) == {"bad_rle"}
    short = check(write(tmp_path, "short.bmp", _rle8_bmp(b"\x04\x01\x00\x00", height=4)))
    assert short.verdict is Verdict.CORRUPTED and codes(short) == {"bad_rle"}


def _box_at(data: bytes, path: list[bytes]) -> int:
    """Offset of the box reached by ``path`` from the top level (descending into each step)."""
    start, end = 0, len(data)
    offset = -1
    for step in path:
        pos = start
        while pos + 8 <= end:
            size = struct.unpack_from(">I", data, pos)[0]
            if data[pos + 4 : pos + 8] == step:
                offset, start, end = pos, pos + 8, pos + size
                break
            pos += size
        else:
            raise AssertionError(f"no {step!r} box")
    return offset


STBL = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]


def test_mp4_child_box_larger_than_its_parent_is_corrupt(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("mp4_h264", **SMALL).read_bytes())
    stts = _box_at(bytes(data), [*STBL, b"stts"])
    struct.pack_into(">I", data, stts, struct.unpack_from(">I", data, stts)[0] + 0x10000)  # one flipped bit
    result = check(write(tmp_path, "nested.mp4", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"bad_box"}


def test_mp4_track_without_a_sample_table_box_is_corrupt(media_factory, tmp_path: Path) -> None:
    data = bytearray(media_factory("mp4_h264", **SMALL).read_bytes())
    stsc = _box_at(bytes(data), [*STBL, b"stsc"])
    data[stsc + 4 : stsc + 8] = b"stsq"  # a flipped bit in the type
    result = check(write(tmp_path, "no_stsc.mp4", bytes(data)))
    assert result.verdict is Verdict.CORRUPTED and codes(result) == {"missing_box"}


def test_mpeg_ps_walk_ends_on_every_cut_of_a_file(tmp_path: Path) -> None:
    # Regression: zero-stuffing skipping once looped forever on a start code that is not a PS unit.
    src = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=1"]
    data = Path(
        _ffmpeg(tmp_path, "one.mpg", *src, "-frames:v", "1", "-c:v", "mpeg2video", "-f", "mpeg")
    ).read_bytes()
    for cut in range(len(data) // 3, len(data), 7):
        result = check(write(tmp_path, "cut.mpg", data[:cut]), DEEP)
        assert result.verdict in (Verdict.CORRUPTED, Verdict.WARNING, Verdict.HEALTHY)
    assert check(write(tmp_path, "c2051.mpg", data[:2051]), DEEP).verdict is not Verdict.UNREADABLE


def test_tiff_image_tag_of_zero_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(_tiff_bytes())
    first, n = _ifd0_entries(bytes(data))
    for i in range(n):
        pos = first + 12 * i
        tag, typ, count = struct.unpack_from("<HHI", data, pos)
        if tag == 277:  # SamplesPerPixel, a SHORT stored inline
            struct.pack_into("<H", data, pos + 8, 0)
    bad = check(write(tmp_path, "spp0.tif", bytes(data)))
    assert bad.verdict is Verdict.CORRUPTED and codes(bad) == {"bad_ifd"}
