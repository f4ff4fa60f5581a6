"""The image decode checker on real images written by Pillow, pillow-heif and the sample generators.

Each damaged case says what a plain Pillow ``load()`` makes of the same bytes where that matters: the
point of the strict JPEG path is to catch what Pillow passes.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.checkers import image
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Severity, Verdict

OPTIONS = CheckOptions()
IMAGE_KINDS = [k.name for k in samples.KINDS.values() if k.family == "image"]


def _noise(seed: int = 0, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """An RGB picture with detail everywhere, so that damage anywhere in the pixel data matters.

    Seeded Python randomness (Pillow's effect_noise follows C ``rand()``, which depends on test order).
    """
    rng = random.Random(seed)
    half = (max(1, size[0] // 2), max(1, size[1] // 2))
    grey = Image.frombytes("L", half, rng.randbytes(half[0] * half[1])).resize(size, Image.Resampling.BICUBIC)
    return Image.merge(
        "RGB",
        [
            grey,
            grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            grey.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        ],
    )


def _frames(n: int = 6) -> list[Image.Image]:
    return [_noise(seed=i) for i in range(n)]


def _save(path: Path, im: Image.Image, **kwargs: object) -> Path:
    im.save(path, **kwargs)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _pillow_loads(path: Path) -> bool:
    """Whether a plain Pillow open + load() accepts the file (the lenient baseline)."""
    try:
        with Image.open(path) as im:
            im.load()
    except Exception:
        return False
    return True


def _check(path: Path, **options: object) -> CheckResult:
    return image.check(str(path), CheckOptions(**options) if options else OPTIONS)


def _messages(result: CheckResult) -> str:
    return " | ".join(f.describe() for f in result.findings)


def _assert_healthy(result: CheckResult) -> None:
    assert result.verdict == Verdict.HEALTHY, _messages(result)
    assert not [f for f in result.findings if f.severity != Severity.INFO], _messages(result)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _insert_after_soi(jpeg: bytes, segment: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + segment + jpeg[2:]


def _jpeg_bytes(**kwargs: object) -> bytes:
    buf = io.BytesIO()
    _noise().save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def _scan_middle(jpeg: bytes) -> int:
    """An offset in the middle of the entropy-coded data of a single-scan JPEG."""
    sos = jpeg.index(b"\xff\xda")
    return sos + (len(jpeg) - sos) // 2


# --------------------------------------------------------------------------------------------- healthy


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_every_sample_kind_is_healthy(kind: str, media_factory) -> None:
    if not samples.kind_available(kind):
        pytest.skip(f"{kind} cannot be encoded here")
    result = _check(media_factory(kind))
    _assert_healthy(result)
    assert result.family == "image"
    assert result.tool_versions["pillow"]


VALID_WRITERS = {
    "jpeg_baseline_444": lambda p: _save(p / "a.jpg", _noise(), quality=95, subsampling=0),
    "jpeg_progressive": lambda p: _save(p / "a.jpg", _noise(), progressive=True, optimize=True),
    "jpeg_grey": lambda p: _save(p / "a.jpg", _noise().convert("L")),
    "jpeg_cmyk": lambda p: _save(p / "a.jpg", _noise().convert("CMYK")),
    "jpeg_restart_markers": lambda p: _save(p / "a.jpg", _noise(), restart_marker_blocks=2),
    "jpeg_trailing_bytes": lambda p: _write(p / "a.jpg", _jpeg_bytes() + b"\x00" * 100),
    "jpeg_zero_padding_before_eoi": lambda p: _write(
        p / "a.jpg", _jpeg_bytes()[:-2] + bytes(16) + b"\xff\xd9"
    ),
    "png_rgba": lambda p: _save(p / "a.png", _noise().convert("RGBA")),
    "png_palette": lambda p: _save(p / "a.png", _noise().convert("P")),
    "png_16bit": lambda p: _save(p / "a.png", Image.linear_gradient("L").convert("I;16")),
    "png_grey": lambda p: _save(p / "a.png", _noise().convert("L")),
    "bmp_palette": lambda p: _save(p / "a.bmp", _noise().convert("P")),
    "tiff_lzw": lambda p: _save(p / "a.tiff", _noise(), compression="tiff_lzw"),
    "tiff_jpeg": lambda p: _save(p / "a.tiff", _noise(), compression="jpeg"),
    "tiff_packbits_pages": lambda p: _save(
        p / "a.tiff", _noise(), save_all=True, append_images=_frames(3), compression="packbits"
    ),
    "webp_lossless": lambda p: _save(p / "a.webp", _noise(), lossless=True),
    "gif_still": lambda p: _save(p / "a.gif", _noise().convert("P")),
}


@pytest.mark.parametrize("name", sorted(VALID_WRITERS))
def test_valid_variants_are_healthy(name: str, tmp_path: Path) -> None:
    _assert_healthy(_check(VALID_WRITERS[name](tmp_path)))


def test_interlaced_png_is_healthy(tmp_path: Path) -> None:
    # Pillow cannot write Adam7; write it by hand: 8x8 grey, one filter byte (0) per pass row.
    passes = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ]
    raw = b""
    for x0, y0, dx, dy in passes:
        cols, rows = len(range(x0, 8, dx)), len(range(y0, 8, dy))
        raw += (b"\x00" + bytes(range(cols))) * rows

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 1))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    path = _write(tmp_path / "adam7.png", png)
    with Image.open(path) as im:
        assert im.info.get("interlace") == 1
    _assert_healthy(_check(path))


def test_png_with_large_xmp_is_healthy(tmp_path: Path) -> None:
    # Over Pillow's default 1 MB limit for an inflated text chunk; photo editors write XMP this big.
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "<x>" + "a b c d " * 200_000 + "</x>", zip=True)
    _assert_healthy(_check(_save(tmp_path / "xmp.png", _noise(), pnginfo=info)))


def test_ycck_jpeg_is_healthy(tmp_path: Path) -> None:
    import numpy as np
    import simplejpeg

    cmyk = np.random.default_rng(0).integers(0, 255, (64, 96, 4), dtype=np.uint8)
    data = simplejpeg.encode_jpeg(cmyk, colorspace="CMYK")
    assert simplejpeg.decode_jpeg_header(data)[2] == "YCCK"
    _assert_healthy(_check(_write(tmp_path / "ycck.jpg", data)))


def _exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An EXIF APP1 payload whose IFD1 points at an embedded JPEG thumbnail, as cameras write it."""
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 1)  # Orientation = 1
    ifd1_offset = 8 + len(ifd0) + 4
    ifd1_size = 2 + 2 * 12 + 4
    thumb_offset = ifd1_offset + ifd1_size
    ifd1 = (
        struct.pack("<H", 2)
        + struct.pack("<HHII", 0x0201, 4, 1, thumb_offset)
        + struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))
        + struct.pack("<I", 0)
    )
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + struct.pack("<I", ifd1_offset) + ifd1 + thumbnail
    return b"Exif\x00\x00" + tiff


def test_jpeg_with_exif_thumbnail_is_healthy(tmp_path: Path) -> None:
    buf = io.BytesIO()
    _noise(3, (32, 24)).save(buf, "JPEG", quality=70)
    app1 = _segment(0xE1, _exif_with_thumbnail(buf.getvalue()))
    main = _jpeg_bytes()
    _assert_healthy(_check(_write(tmp_path / "thumb.jpg", _insert_after_soi(main, app1))))
    # Zero padding before the main image's EOI is judged on the main image, not on the thumbnail.
    padded = _insert_after_soi(main[:-2] + bytes(16) + b"\xff\xd9", app1)
    _assert_healthy(_check(_write(tmp_path / "thumb_padded.jpg", padded)))


def test_jpeg_with_exif_is_healthy(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PixelProbe"
    exif[0x0110] = "Test Camera"
    _assert_healthy(_check(_save(tmp_path / "exif.jpg", _noise(), exif=exif)))


def test_mpo_checks_every_image(tmp_path: Path) -> None:
    path = _save(tmp_path / "stereo.mpo", _noise(0), format="MPO", save_all=True, append_images=[_noise(1)])
    result = _check(path)
    _assert_healthy(result)
    assert result.container == "mpo"
    assert result.media_info is not None and result.media_info["frames"] == 2


def test_animated_and_multipage_decode_every_frame(tmp_path: Path) -> None:
    frames = _frames(5)
    paths = [
        _save(
            tmp_path / "a.gif",
            frames[0].convert("P"),
            save_all=True,
            append_images=[f.convert("P") for f in frames[1:]],
        ),
        _save(tmp_path / "a.png", frames[0], save_all=True, append_images=frames[1:], duration=50),
        _save(tmp_path / "a.webp", frames[0], save_all=True, append_images=frames[1:], duration=50),
        _save(tmp_path / "a.tiff", frames[0], save_all=True, append_images=frames[1:]),
    ]
    for path in paths:
        result = _check(path)
        _assert_healthy(result)
        assert result.media_info is not None and result.media_info["frames"] == 5, path.name


def test_arithmetic_coded_jpeg_is_healthy(tmp_path: Path) -> None:
    # 16x16 arithmetic-coded JPEG written for this test by libjpeg-turbo's cjpeg -arithmetic (from a
    # Pillow gradient). Pillow reads this tiny one but fails larger ones ("broken data stream"): libjpeg's
    # arithmetic decoder cannot suspend, and Pillow feeds it 64 KB at a time.
    path = _write(tmp_path / "arith.jpg", bytes.fromhex(ARITHMETIC_JPEG_HEX))
    assert b"\xff\xc9" in path.read_bytes()  # SOF9: sequential, arithmetic coding
    _assert_healthy(_check(path))


def test_heic_and_avif(tmp_path: Path, media_factory) -> None:
    kinds = [k for k in ("heic", "avif") if k in samples.KINDS and samples.kind_available(k)]
    if not kinds:
        pytest.skip("no HEIC/AVIF encoder here")
    for kind in kinds:
        valid = media_factory(kind)
        result = _check(valid)
        _assert_healthy(result)
        data = valid.read_bytes()
        cut = _write(tmp_path / f"cut{valid.suffix}", data[: len(data) * 2 // 3])
        assert _check(cut).verdict == Verdict.CORRUPTED, kind


def test_heif_with_unlisted_major_brand_is_decoded(tmp_path: Path, media_factory) -> None:
    if not samples.heic_available():
        pytest.skip("no HEIC encoder here")
    data = bytearray(media_factory("heic").read_bytes())
    assert data[4:8] == b"ftyp" and b"heic" in data[16:32]
    data[8:12] = b"xyzw"  # Pillow's quick accept test refuses; the compatible brands still say HEIC
    path = _write(tmp_path / "brand.heic", bytes(data))
    assert not _pillow_loads(path)
    result = _check(path)
    _assert_healthy(result)
    assert result.container == "heif"


def test_ffmpeg_second_opinion_catches_hevc_damage_libde265_tolerates(tmp_path: Path) -> None:
    if not samples.heic_available():
        pytest.skip("no HEIC encoder here")
    import pillow_heif

    path = tmp_path / "a.heic"
    pillow_heif.from_pillow(_noise(7, (512, 384))).save(str(path), quality=80)
    data = path.read_bytes()
    mdat = data.index(b"mdat") + 4
    caught_only_by_ffmpeg = 0
    for pos in range(mdat + 200, len(data), max(1, (len(data) - mdat) // 80)):
        zeroed = bytearray(data)
        zeroed[pos : pos + 8] = bytes(8)
        damaged = _write(tmp_path / "zeroed.heic", bytes(zeroed))
        if not _pillow_loads(damaged):
            continue  # libde265's own catch
        result = _check(damaged)
        if result.verdict == Verdict.CORRUPTED:
            assert result.decisive_tool.startswith("pyav")
            assert "FFmpeg hevc" in _messages(result)
            caught_only_by_ffmpeg += 1
            break
    assert caught_only_by_ffmpeg > 0


# ------------------------------------------------------------------------------------------ JPEG damage


def test_jpeg_truncated_then_closed_is_corrupt_though_pillow_passes(tmp_path: Path) -> None:
    # A cut-short download "repaired" with an EOI marker: Pillow pads the missing rows silently.
    data = _jpeg_bytes()
    path = _write(tmp_path / "cut.jpg", data[: _scan_middle(data)] + b"\xff\xd9")
    assert _pillow_loads(path)
    result = _check(path)
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert result.decisive_tool.startswith("simplejpeg")


def test_jpeg_truncated_is_corrupt(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    result = _check(_write(tmp_path / "cut.jpg", data[: _scan_middle(data)]))
    assert result.verdict == Verdict.CORRUPTED
    assert any(f.code == "truncated" and "Premature end" in f.message for f in result.findings)


def test_jpeg_overwritten_entropy_data_is_corrupt_though_pillow_passes(tmp_path: Path) -> None:
    data = bytearray(_jpeg_bytes())
    mid = _scan_middle(bytes(data))
    data[mid : mid + 64] = bytes(64)
    path = _write(tmp_path / "zeroed.jpg", bytes(data))
    assert _pillow_loads(path)
    result = _check(path)
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert "Corrupt JPEG data" in _messages(result)


def _after_app0(jpeg: bytes) -> int:
    assert jpeg[2:4] == b"\xff\xe0"
    return 4 + struct.unpack(">H", jpeg[4:6])[0]


def test_stray_bytes_between_header_segments_are_a_warning(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    at = _after_app0(data)
    result = _check(_write(tmp_path / "pad.jpg", data[:at] + b"\x00\x00\x00" + data[at:]))
    assert result.verdict == Verdict.WARNING, _messages(result)
    assert [f.code for f in result.findings if f.severity != Severity.INFO] == ["header_junk"]


def test_stray_header_bytes_do_not_hide_damaged_image_data(tmp_path: Path) -> None:
    data = bytearray(_jpeg_bytes())
    mid = _scan_middle(bytes(data))
    data[mid : mid + 64] = bytes(64)
    at = _after_app0(bytes(data))
    path = _write(tmp_path / "both.jpg", bytes(data[:at]) + b"\x00\x00" + bytes(data[at:]))
    result = _check(path)
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert "Corrupt JPEG data" in _messages(result)


def test_leftover_data_before_eoi_is_corrupt(tmp_path: Path) -> None:
    # The same shape as zero padding, but the extra bytes are data: damage, not an encoder's habit.
    data = _jpeg_bytes()
    path = _write(tmp_path / "extra.jpg", data[:-2] + bytes(range(1, 17)) + b"\xff\xd9")
    result = _check(path)
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert "extraneous bytes before marker 0xd9" in _messages(result)


def test_jpeg_damage_from_sample_generator(damaged_media) -> None:
    for kind in ("jpg_baseline", "jpg_progressive"):
        for how in ("truncated", "junk"):
            result = _check(damaged_media(kind, how, seed=1))
            assert result.verdict == Verdict.CORRUPTED, (kind, how, _messages(result))


def test_ffmpeg_second_opinion_catches_flips_libjpeg_tolerates(tmp_path: Path) -> None:
    import simplejpeg

    data = _jpeg_bytes()
    sos = data.index(b"\xff\xda") + 20
    caught_only_by_ffmpeg = 0
    for pos in range(sos, len(data) - 2, 13):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        if b"\xff" in flipped[pos - 1 : pos + 2]:
            continue  # a flip that makes or breaks a marker is a different case
        try:
            simplejpeg.decode_jpeg(bytes(flipped), strict=True)
        except ValueError:
            continue  # libjpeg's own catch, tested elsewhere
        result = _check(_write(tmp_path / "flip.jpg", bytes(flipped)))
        if result.verdict == Verdict.CORRUPTED:
            assert result.decisive_tool.startswith("pyav")
            assert "FFmpeg mjpeg" in _messages(result)
            caught_only_by_ffmpeg += 1
    assert caught_only_by_ffmpeg > 0


def test_same_damage_twice_in_a_row_is_seen_twice(tmp_path: Path) -> None:
    # FFmpeg's log (through PyAV) would drop a message identical to the previous one.
    data = _jpeg_bytes()
    sos = data.index(b"\xff\xda") + 20
    for pos in range(sos, len(data) - 2, 13):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        path = _write(tmp_path / "flip.jpg", bytes(flipped))
        first = _check(path)
        if first.decisive_tool.startswith("pyav"):
            second = _check(path)
            assert second.verdict == Verdict.CORRUPTED
            assert _messages(second) == _messages(first)
            return
    raise AssertionError("no flip caught by the FFmpeg pass")


def test_mpo_second_image_truncated_is_corrupt(tmp_path: Path) -> None:
    path = _save(tmp_path / "s.mpo", _noise(0), format="MPO", save_all=True, append_images=[_noise(1)])
    data = path.read_bytes()
    result = _check(_write(tmp_path / "cut.mpo", data[:-300]))
    assert result.verdict == Verdict.CORRUPTED
    assert "image 1 of 2" in _messages(result)


def test_mpo_second_image_without_its_start_is_corrupt(tmp_path: Path) -> None:
    path = _save(tmp_path / "s.mpo", _noise(0), format="MPO", save_all=True, append_images=[_noise(1)])
    data = path.read_bytes()
    # Zero the second image's SOI: the index points at bytes that are not a JPEG, and no other image
    # follows the first (Pillow: "not a JPEG file"). Tests/test_damage_images.py has the stale-index case.
    second = data.index(b"\xff\xd8", 2)
    broken = data[:second] + b"\x00\x00" + data[second + 2 :]
    result = _check(_write(tmp_path / "badindex.mpo", broken))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert "MPO image missing" in _messages(result)


def test_12_bit_jpeg_is_unsupported_not_corrupt(tmp_path: Path) -> None:
    data = bytearray(_jpeg_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12  # sample precision
    result = _check(_write(tmp_path / "p12.jpg", bytes(data)))
    assert result.verdict == Verdict.UNSUPPORTED, _messages(result)


def test_damaged_precision_byte_is_corrupt_not_a_variant(tmp_path: Path) -> None:
    data = bytearray(_jpeg_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 13  # no JPEG has 13-bit samples: this is a damaged byte
    result = _check(_write(tmp_path / "p13.jpg", bytes(data)))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)


def test_damaged_marker_in_second_mpo_image_is_corrupt(tmp_path: Path) -> None:
    path = _save(tmp_path / "s.mpo", _noise(0), format="MPO", save_all=True, append_images=[_noise(1)])
    data = bytearray(path.read_bytes())
    second = data.index(b"\xff\xd8", 2)
    dqt = data.index(b"\xff\xdb", second)
    data[dqt : dqt + 2] = b"\xff\x31"  # a marker code no JPEG defines, where the DQT marker was
    result = _check(_write(tmp_path / "badmarker.mpo", bytes(data)))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert "image 1 of 2" in _messages(result)


# --------------------------------------------------------------------------------------- metadata damage


def test_bad_exif_offsets_are_a_warning(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    # IFD0 holds one entry, the Exif sub-IFD pointer, aimed far past the end of the block.
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, 9999) + struct.pack("<I", 0)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0
    result = _check(_write(tmp_path / "badexif.jpg", _insert_after_soi(data, _segment(0xE1, exif))))
    assert result.verdict == Verdict.WARNING, _messages(result)
    assert all(f.code == "metadata_damaged" for f in result.findings if f.severity != Severity.INFO)


def test_exif_without_tiff_header_is_a_warning(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    exif = b"Exif\x00\x00XX*\x00garbage!"
    result = _check(_write(tmp_path / "badexif.jpg", _insert_after_soi(data, _segment(0xE1, exif))))
    assert result.verdict == Verdict.WARNING, _messages(result)


def test_jpeg_header_pillow_cannot_parse_is_a_warning_when_the_data_decodes(tmp_path: Path) -> None:
    # An "Adobe" APP14 segment too short for Pillow's parser; libjpeg skips it and decodes the image.
    data = _insert_after_soi(_jpeg_bytes(), _segment(0xEE, b"Adobe\x00"))
    path = _write(tmp_path / "adobe.jpg", data)
    assert not _pillow_loads(path)
    result = _check(path)
    assert result.verdict == Verdict.WARNING, _messages(result)
    assert [f.code for f in result.findings if f.severity != Severity.INFO] == ["metadata_damaged"]


def test_jpeg_pillow_cannot_open_and_libjpeg_cannot_decode_is_corrupt(tmp_path: Path) -> None:
    data = _insert_after_soi(_jpeg_bytes(), _segment(0xEE, b"Adobe\x00"))
    result = _check(_write(tmp_path / "cut.jpg", data[: _scan_middle(data)]))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)


def test_broken_icc_profile_is_a_warning(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    icc = b"ICC_PROFILE\x00\x01\x01" + b"\x00\x00\x01\x00" + b"junk" * 60
    result = _check(_write(tmp_path / "badicc.jpg", _insert_after_soi(data, _segment(0xE2, icc))))
    assert result.verdict == Verdict.WARNING, _messages(result)
    assert "ICC" in _messages(result)


# ------------------------------------------------------------------------------------ other format damage


def test_png_truncated_and_idat_damage_are_corrupt(tmp_path: Path) -> None:
    data = _save(tmp_path / "a.png", _noise()).read_bytes()
    assert _check(_write(tmp_path / "cut.png", data[: len(data) // 2])).verdict == Verdict.CORRUPTED
    idat = data.index(b"IDAT") + 4
    flipped = bytearray(data)
    flipped[idat + 100 : idat + 108] = b"\xff" * 8
    result = _check(_write(tmp_path / "flip.png", bytes(flipped)))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)


def test_gif_truncated_frame_names_the_frame_and_time(tmp_path: Path) -> None:
    frames = [f.convert("P") for f in _frames(6)]
    data = _save(
        tmp_path / "a.gif", frames[0], save_all=True, append_images=frames[1:], duration=100
    ).read_bytes()
    result = _check(_write(tmp_path / "cut.gif", data[: len(data) * 2 // 3]))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    bad = next(f for f in result.findings if f.severity == Severity.CORRUPT)
    assert bad.message.startswith("frame ")
    frame = int(bad.message.split()[1].rstrip(":"))
    assert frame >= 1
    assert bad.at_seconds == pytest.approx(frame * 0.1)


def test_animated_webp_damage_names_the_frame_and_time(tmp_path: Path) -> None:
    frames = _frames(6)
    path = _save(tmp_path / "a.webp", frames[0], save_all=True, append_images=frames[1:], duration=100)
    data = bytearray(path.read_bytes())
    # Fill the fourth frame's VP8 data with 0xFF after its 10-byte frame header (frames are stored in
    # order): the demuxer, which reads only headers, still opens the file; decoding that frame fails.
    anmf = [i for i in range(len(data)) if data[i : i + 4] == b"ANMF"]
    vp8 = data.index(b"VP8 ", anmf[3])
    end = vp8 + 8 + int.from_bytes(data[vp8 + 4 : vp8 + 8], "little")
    start_code = data.index(b"\x9d\x01\x2a", vp8)
    data[start_code + 7 : end] = b"\xff" * (end - start_code - 7)
    result = _check(_write(tmp_path / "broken.webp", bytes(data)))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    bad = next(f for f in result.findings if f.severity == Severity.CORRUPT)
    assert bad.message.startswith("frame 3")
    assert bad.at_seconds == pytest.approx(0.3)


@pytest.mark.parametrize(
    "suffix", [".webp", "_lossless.webp", "_animated.webp", ".bmp", ".tiff", "_apng.png"]
)
def test_truncated_formats_are_corrupt(suffix: str, tmp_path: Path) -> None:
    frames = _frames(4)
    path = tmp_path / f"a{suffix}"
    if suffix == ".webp":
        _save(path, frames[0], quality=80)
    elif suffix == "_lossless.webp":
        _save(path, frames[0], lossless=True)
    elif suffix == "_animated.webp":
        _save(path, frames[0], save_all=True, append_images=frames[1:], duration=50)
    elif suffix == ".tiff":
        _save(path, frames[0], save_all=True, append_images=frames[1:], compression="tiff_deflate")
    elif suffix == "_apng.png":
        _save(path, frames[0], save_all=True, append_images=frames[1:], duration=50)
    else:
        _save(path, frames[0])
    data = path.read_bytes()
    result = _check(_write(tmp_path / f"cut{suffix}", data[: len(data) * 2 // 3]))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)


def test_tiff_strip_damage_is_corrupt(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.tiff", _noise(), compression="tiff_deflate")
    data = bytearray(path.read_bytes())
    # Pillow writes the strip right after the 8-byte header; zero part of the deflate stream.
    data[40:60] = bytes(20)
    result = _check(_write(tmp_path / "zero.tiff", bytes(data)))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)


def test_packbits_tiff_damage_libtiff_misses_is_corrupt(tmp_path: Path) -> None:
    data = _save(tmp_path / "a.tiff", _noise(), compression="packbits").read_bytes()
    caught_only_by_ffmpeg = 0
    for pos in range(200, len(data) - 50, max(1, len(data) // 40)):
        zeroed = bytearray(data)
        zeroed[pos : pos + 40] = bytes(40)
        path = _write(tmp_path / "zeroed.tiff", bytes(zeroed))
        if not _pillow_loads(path):
            continue
        result = _check(path)
        if result.verdict == Verdict.CORRUPTED:
            assert "FFmpeg tiff" in _messages(result)
            caught_only_by_ffmpeg += 1
    assert caught_only_by_ffmpeg > 0


def test_fax_tiff_damage_libtiff_only_prints_is_corrupt(tmp_path: Path) -> None:
    """libtiff's CCITT G4 decoder prints "Bad code word" on a damaged strip, fills the rest and returns
    success, so Pillow's load() passes: the printed error must count (H4's report H4-2)."""
    from PIL import ImageDraw

    bilevel = Image.new("1", (480, 320))
    draw = ImageDraw.Draw(bilevel)
    for i in range(24):
        draw.ellipse((i * 17 % 400, i * 11 % 260, i * 17 % 400 + 60, i * 11 % 260 + 40), outline=1, width=2)
    # One strip for the whole image, as tiffcp and scanners write it (Pillow's default is a strip per row).
    path = _save(tmp_path / "fax.tiff", bilevel, compression="group4", tiffinfo={278: 320})
    assert _check(path).verdict == Verdict.HEALTHY
    data = path.read_bytes()
    printed_only = 0
    for seed in range(12):
        flipped = bytearray(data)
        rng = random.Random(seed)
        for i in rng.sample(range(len(data) * 3 // 10, len(data) * 9 // 10), 10):
            flipped[i] ^= rng.randint(1, 255)
        damaged = _write(tmp_path / "flipped.tiff", bytes(flipped))
        result = _check(damaged)
        assert result.verdict == Verdict.CORRUPTED, (seed, _messages(result))
        printed_only += "libtiff:" in _messages(result)
    assert printed_only, "no damage that only libtiff's printed errors reveal: the case is not exercised"


@pytest.mark.parametrize("compression", ["group3", "group4", "tiff_ccitt"])
def test_fax_tiff_damage_libtiff_decodes_through_is_corrupt(tmp_path: Path, compression: str) -> None:
    """Zeroed blocks and flipped bytes in CCITT fax strips: libtiff often decodes on silently, FFmpeg's fax
    decoder rejects the codes ("Incorrect mode VLC", "Run went out of bounds"): H4's report H4-9."""
    from PIL import ImageDraw

    bilevel = Image.new("1", (480, 320))
    draw = ImageDraw.Draw(bilevel)
    for i in range(30):
        x, y = i * 37 % 480, i * 23 % 320
        draw.ellipse((x, y, x + 50, y + 30), outline=1, width=3)
    path = _save(tmp_path / "fax.tiff", bilevel, compression=compression, tiffinfo={278: 320})
    _assert_healthy(_check(path))
    data = path.read_bytes()
    by_ffmpeg = 0
    for seed in range(10):
        rng = random.Random(seed)
        damaged = bytearray(data)
        block = max(16, min(4096, len(data) // 8))
        start = rng.randrange(len(data) // 4, len(data) - block)
        damaged[start : start + block] = bytes(block)
        result = _check(_write(tmp_path / "zeroed.tiff", bytes(damaged)))
        assert result.verdict == Verdict.CORRUPTED, (seed, _messages(result))
        by_ffmpeg += "FFmpeg tiff" in _messages(result)
    if compression == "group4":  # where libtiff decodes through zeroed strips (G3 / RLE: libtiff sees them)
        assert by_ffmpeg, "no damage that only FFmpeg's fax decoder reveals: the case is not exercised"


def test_jpeg_in_tiff_unknown_marker_is_damage_not_a_variant(tmp_path: Path) -> None:
    """libjpeg's "Unsupported marker type 0x34" inside a TIFF strip is a random FF xx pair in the entropy-
    coded data: damage (H4's report H4-4). "Unsupported JPEG process" names a variant and stays so."""
    from PIL import ImageDraw

    picture = Image.new("RGB", (96, 64))
    draw = ImageDraw.Draw(picture)
    for i in range(10):
        draw.ellipse((i * 9, i * 5, i * 9 + 30, i * 5 + 20), fill=(i * 20, 255 - i * 20, 100))
    data = _save(tmp_path / "jpeg.tiff", picture, compression="jpeg").read_bytes()
    unknown_marker = 0
    for seed in range(200):
        rng = random.Random(seed)
        damaged = bytearray(data)
        pos = rng.randrange(len(data) // 3, len(data) - 40)
        damaged[pos : pos + 16] = rng.randbytes(16)
        result = _check(_write(tmp_path / "damaged.tiff", bytes(damaged)))
        if "Unsupported marker" in _messages(result):
            unknown_marker += 1
            assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert unknown_marker, "no damage gave libjpeg's unknown-marker error: the case is not exercised"
    assert image._names_a_variant("JPEGLib: Unsupported JPEG process: SOF type 0xcd.")


def _jpeg_ls(tmp_path: Path) -> Path:
    """A JPEG-LS picture (SOF55) from FFmpeg's encoder, named .jpg as some scanners and PACS exports do."""
    from fractions import Fraction

    import av

    ctx = av.CodecContext.create("jpegls", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 96, 64, "rgb24", Fraction(1, 25)
    frame = av.VideoFrame.from_image(_noise().resize((96, 64)).convert("RGB"))
    data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
    assert data[:4] == b"\xff\xd8\xff\xf7"
    return _write(tmp_path / "ls.jpg", data)


def test_jpeg_ls_is_decoded_by_ffmpeg_not_called_corrupt(tmp_path: Path) -> None:
    """libjpeg cannot read JPEG-LS ("Could not determine subsampling level"); that is a variant, not damage."""
    path = _jpeg_ls(tmp_path)
    result = _check(path)
    _assert_healthy(result)
    assert "FFmpeg" in (result.decisive_tool or "")
    data = path.read_bytes()
    cut = _check(_write(tmp_path / "cut.jpg", data[: len(data) // 2]))
    assert cut.verdict == Verdict.CORRUPTED, _messages(cut)


def test_lossless_jpeg_is_decoded_by_ffmpeg(tmp_path: Path) -> None:
    """Lossless Huffman JPEG (SOF3) from FFmpeg's ljpeg encoder: healthy when FFmpeg decodes it, corrupted
    when cut (H4's report H4-8)."""
    from fractions import Fraction

    import av

    ctx = av.CodecContext.create("ljpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 96, 64, "bgr24", Fraction(1, 25)
    frame = av.VideoFrame.from_image(_noise().resize((96, 64)).convert("RGB")).reformat(format="bgr24")
    data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
    assert image._jpeg_ls(data), "no SOF3 frame header found"
    _assert_healthy(_check(_write(tmp_path / "lossless.jpg", data)))
    cut = _check(_write(tmp_path / "cut.jpg", data[: len(data) // 2]))
    assert cut.verdict == Verdict.CORRUPTED, _messages(cut)


def test_libjpeg_not_supported_wording_for_damage_is_still_damage() -> None:
    """libjpeg words some damage as "not supported": a random FF xx pair in a scan ("Unsupported marker
    type") and a zeroed line count ("Empty JPEG image (DNL not supported)", a zeroed JPEG tile in a TIFF:
    H4's report H4-11). Real variants keep the unsupported verdict."""
    assert not image._names_a_variant("JPEGLib: Unsupported marker type 0x34.")
    assert not image._names_a_variant("decoder error -2 (JPEGLib: Empty JPEG image (DNL not supported).)")
    assert image._names_a_variant("JPEGLib: Unsupported JPEG process: SOF type 0xcd.")
    assert image._names_a_variant("tiff: unsupported compression 34712")


def _tiff_with_tag(tmp_path: Path, tag: int, value: int) -> Path:
    """A TIFF whose first IFD has ``tag`` (a SHORT) set to ``value``."""
    data = bytearray(_save(tmp_path / "a.tiff", _noise(), compression="tiff_deflate").read_bytes())
    assert data[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == tag:
            struct.pack_into("<H", data, entry + 8, value)
            return _write(tmp_path / f"tag{tag}_{value}.tiff", bytes(data))
    raise AssertionError(f"tag {tag} not written by Pillow")


def test_tiff_with_impossible_photometric_is_corrupt(tmp_path: Path) -> None:
    result = _check(_tiff_with_tag(tmp_path, 262, 16386))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)
    assert "PhotometricInterpretation=16386" in _messages(result)


def test_tiff_with_rare_but_valid_photometric_is_not_corrupt(tmp_path: Path) -> None:
    # CIELab (8) is a real photometric interpretation; Pillow has no mode for 3-sample CIELab + deflate
    # in this layout, or decodes it: either way, never corrupt.
    result = _check(_tiff_with_tag(tmp_path, 262, 8))
    assert result.verdict in (Verdict.HEALTHY, Verdict.UNSUPPORTED), _messages(result)


@pytest.mark.parametrize("name", ["empty.jpg", "junk.png", "zeros.jpg"])
def test_empty_and_junk_are_corrupt(name: str, tmp_path: Path) -> None:
    content = {"empty.jpg": b"", "junk.png": bytes(range(256)) * 12, "zeros.jpg": bytes(4096)}[name]
    result = _check(_write(tmp_path / name, content))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)


def test_damaged_png_header_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(_save(tmp_path / "a.png", _noise()).read_bytes())
    data[12:16] = b"XXXX"  # the IHDR chunk type
    result = _check(_write(tmp_path / "hdr.png", bytes(data)))
    assert result.verdict == Verdict.CORRUPTED, _messages(result)


# ------------------------------------------------------------------------------------------------- limits


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_bomb_png_header_is_a_warning_with_the_pixel_count(tmp_path: Path) -> None:
    result = _check(_write(tmp_path / "bomb.png", _png_header_only(100_000, 100_000)))
    assert result.verdict == Verdict.WARNING, _messages(result)
    assert "100000 x 100000 = 10000000000 pixels" in _messages(result)


def test_bomb_is_not_decoded_under_a_memory_cap(tmp_path: Path) -> None:
    # 10^10 RGB pixels need 30 GB; under a 1 GB address-space cap any attempt to decode would fail.
    path = _write(tmp_path / "bomb.png", _png_header_only(100_000, 100_000))
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from pixelprobe_tui.core.checkers import image\n"
        "from pixelprobe_tui.core.verdict import CheckOptions\n"
        "print(image.check(sys.argv[1], CheckOptions()).verdict)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "warning"


def test_bomb_jpeg_header_is_a_warning(tmp_path: Path) -> None:
    data = bytearray(_jpeg_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    result = _check(_write(tmp_path / "bomb.jpg", bytes(data)))
    assert result.verdict == Verdict.WARNING, _messages(result)
    assert "60000 x 60000 = 3600000000 pixels" in _messages(result)


def test_limit_comes_from_options(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.png", _noise())
    result = _check(path, max_image_pixels=1000)
    assert result.verdict == Verdict.WARNING
    assert "96 x 64 = 6144 pixels" in _messages(result)
    frames = _frames(3)
    tiff = _save(tmp_path / "a.tiff", frames[0].resize((10, 10)), save_all=True, append_images=frames[1:])
    result = _check(tiff, max_image_pixels=1000)
    assert result.verdict == Verdict.WARNING
    assert "frame 1" in _messages(result)


# --------------------------------------------------------------------------------------------- the rest


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    result = _check(tmp_path / "gone.jpg")
    assert result.verdict == Verdict.UNREADABLE


def test_camera_raw_is_left_to_the_structure_check(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.dng", _noise(), format="TIFF")
    result = _check(path)
    assert result.verdict == Verdict.HEALTHY
    assert [f.code for f in result.findings] == ["raw_structure_only"]


def test_result_names_tools_and_versions(tmp_path: Path) -> None:
    result = _check(_save(tmp_path / "a.jpg", _noise()))
    assert result.container == "jpeg"
    assert result.decisive_tool.startswith("simplejpeg ")
    assert {"pillow", "simplejpeg"} <= set(result.tool_versions)
    assert result.media_info == {"width": 96, "height": 64, "frames": 1, "mode": "RGB"}
    png = _check(_save(tmp_path / "a.png", _noise()))
    assert png.decisive_tool.startswith("pillow ")


def test_simplejpeg_is_imported_at_the_first_jpeg_only(tmp_path: Path) -> None:
    """A checker child's start-up (every checker's versions) does not import simplejpeg and its numpy;
    the first JPEG check does, and the versions name it either way."""
    jpeg = _save(tmp_path / "a.jpg", _noise())
    png = _save(tmp_path / "a.png", _noise())
    script = (
        "import sys\n"
        "from pixelprobe_tui.core import checkers\n"
        "from pixelprobe_tui.core.checkers import image\n"
        "from pixelprobe_tui.core.verdict import CheckOptions\n"
        "assert 'simplejpeg' in checkers.tool_versions()\n"
        "assert image.check(sys.argv[1], CheckOptions()).verdict == 'healthy'\n"
        "print(sorted(m for m in ('simplejpeg', 'numpy') if m in sys.modules))\n"
        "result = image.check(sys.argv[2], CheckOptions())\n"
        "print(sorted(m for m in ('simplejpeg', 'numpy') if m in sys.modules), result.decisive_tool)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(png), str(jpeg)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1].startswith("['numpy', 'simplejpeg'] simplejpeg ")


ARITHMETIC_JPEG_HEX = (
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f"
    "141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffdb0043010909090c0b0c"
    "180d0d1832211c21323232323232323232323232323232323232323232323232323232323232323232323232323232323232"
    "3232323232323232ffc90011080010001003012200021101031101ffcc000a0010100501101105ffda000c03010002110311"
    "003f00ff0088b673f61a00ac7297fbc4fe8f3b54ffd9"
)


def test_cursor_files_are_checked_like_icons(tmp_path):
    """A .cur is an icon directory with type 2 (hotspots where an icon keeps planes and bits): a scan finds
    it, and it is judged by the icon walk and decoder. A cursor whose header is gone is corrupted (the name
    promises an image), not 'unsupported'."""
    from pixelprobe_tui.core import discovery
    from pixelprobe_tui.core.checkers import check as check_file

    buf = io.BytesIO()
    Image.effect_noise((32, 32), 40).convert("RGBA").save(
        buf, "ICO", sizes=[(16, 16), (32, 32)], bitmap_format="bmp"
    )
    data = bytearray(buf.getvalue())
    data[2:4] = b"\x02\x00"
    valid, cut, headless = tmp_path / "pointer.cur", tmp_path / "cut.cur", tmp_path / "headless.cur"
    valid.write_bytes(bytes(data))
    cut.write_bytes(bytes(data[: len(data) * 2 // 3]))
    headless.write_bytes(b"\x13\x37\xde\xad\xbe\xef" + bytes(data[6:]))
    found = {Path(f.path).name: f.family for f in discovery.walk([str(tmp_path)])}
    assert found == {"pointer.cur": "image", "cut.cur": "image", "headless.cur": "image"}
    assert check_file(str(valid), CheckOptions()).verdict == Verdict.HEALTHY
    assert check_file(str(cut), CheckOptions()).verdict == Verdict.CORRUPTED
    assert check_file(str(headless), CheckOptions()).verdict == Verdict.CORRUPTED
