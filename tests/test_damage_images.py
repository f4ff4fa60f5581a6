"""Image damage found by a randomized sweep (other positions, seeds and kinds of damage than the fixed
matrix), each rebuilt here deterministically: the reference tool's complaint first (the damage is real),
then our verdict. Valid neighbours of each fix stay healthy.

Run: ``python -m pytest tests/test_damage_images.py -q``.
"""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

import pytest
from PIL import Image

from pixelprobe_tui.core.checkers import check
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Severity, Verdict
from tests import media_matrix as mm

QUICK = CheckOptions()
DEEP = CheckOptions(deep=True)


def _picture(seed: int, size: tuple[int, int] = (96, 64), mode: str = "RGB") -> Image.Image:
    """Seeded detail everywhere (so damage anywhere in the pixel data matters)."""
    rng = random.Random(seed)
    half = (max(1, size[0] // 2), max(1, size[1] // 2))
    grey = Image.frombytes("L", half, rng.randbytes(half[0] * half[1])).resize(size, Image.Resampling.BICUBIC)
    rgb = Image.merge("RGB", [grey, grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grey.rotate(180)])
    return rgb.convert(mode)


def _messages(result: CheckResult) -> str:
    return " | ".join(f.describe() for f in result.findings)


def _verdicts(path: Path) -> list[CheckResult]:
    return [check(str(path), options) for options in (QUICK, DEEP)]


def _assert_corrupted(path: Path) -> list[CheckResult]:
    results = _verdicts(path)
    for result in results:
        assert result.verdict is Verdict.CORRUPTED, _messages(result)
    return results


def _assert_not_corrupted(path: Path, allowed: tuple[Verdict, ...] = (Verdict.HEALTHY,)) -> None:
    for result in _verdicts(path):
        assert result.verdict in allowed, _messages(result)


def _drop_tiff_tag(data: bytes, tag: int) -> bytes:
    """A little-endian TIFF with one entry of IFD0 removed (the entries after it move up; the table's
    last 12 bytes are left unused): the tag is lost while the rest stays in ascending order."""
    ifd, entries = _tiff_entries(data)
    at = next(at for at, t, _, _ in entries if t == tag)
    end = ifd + 2 + 12 * len(entries) + 4
    out = bytearray(data)
    out[ifd : ifd + 2] = struct.pack("<H", len(entries) - 1)
    out[at : end - 12] = data[at + 12 : end]
    return bytes(out)


def _tiff_entries(data: bytes) -> tuple[int, list[tuple[int, int, int, int]]]:
    """(offset of IFD0, [(entry offset, tag, type, count)]) of a little-endian TIFF."""
    ifd = struct.unpack("<I", data[4:8])[0]
    (n,) = struct.unpack("<H", data[ifd : ifd + 2])
    entries = []
    for i in range(n):
        at = ifd + 2 + 12 * i
        tag, typ, count = struct.unpack("<HHI", data[at : at + 8])
        entries.append((at, tag, typ, count))
    return ifd, entries


def _matrix_file(tmp_path: Path, case: str) -> bytes:
    """The bytes of a tests/media_matrix case (skips where its encoder is missing)."""
    path = tmp_path / f"{case}.{mm.BY_NAME[case].ext}"
    try:
        mm.BY_NAME[case].build(path)
    except (mm.Unavailable, RuntimeError) as exc:
        pytest.skip(f"{case} cannot be encoded here: {exc}")
    return path.read_bytes()


# ------------------------------------------------------------------------------------------------- BMP


def test_bmp_palette_larger_than_the_depth_is_corrupt_not_unsupported(tmp_path: Path) -> None:
    """Sweep: bmp_1bit, overwrite, seed 1. A random block over the colours-used field: Pillow says
    "Unsupported BMP Palette size", which read as a variant (unsupported) before."""
    path = tmp_path / "a.bmp"
    _picture(1).convert("1").save(path)
    data = bytearray(path.read_bytes())
    data[46:50] = struct.pack("<I", 0xC1000002)
    bad = tmp_path / "bad.bmp"
    bad.write_bytes(data)
    assert mm.ffmpeg_complaint(bad) is not None and mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "palette colours" in _messages(results[0])


def test_bmp_palette_up_to_the_depth_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "a.bmp"
    _picture(2).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)
    data = bytearray(path.read_bytes())
    assert struct.unpack("<H", data[28:30])[0] == 8
    assert struct.unpack("<I", data[46:50])[0] <= 256
    _assert_not_corrupted(path)


def test_bmp_rle_codes_running_past_the_declared_size_are_corrupt(tmp_path: Path) -> None:
    """Sweep: im_bmp3_rle8, dup_block, seed 14. 2162 bytes of codes copied near the end push the
    end-of-bitmap past the header's image size: the walk stopped there and saw nothing wrong, FFmpeg
    reads on ("Next line is beyond picture bounds")."""
    data = _matrix_file(tmp_path, "im_bmp3_rle8")
    at = len(data) - 165
    bad = tmp_path / "bad.bmp"
    bad.write_bytes(data[:at] + data[1819 : 1819 + 2162] + data[at:])
    assert "beyond picture bounds" in (mm.ffmpeg_complaint(bad) or "")
    results = _assert_corrupted(bad)
    assert "past the last of the 64 rows" in _messages(results[0])


def test_bmp_with_more_than_one_colour_plane_is_corrupt(tmp_path: Path) -> None:
    """Sweep: bmp_1x1, flip_1, seed 23. The planes field became 8193: Pillow ignores it, FFmpeg refuses
    the file ("invalid BMP header")."""
    path = tmp_path / "a.bmp"
    _picture(40, (33, 17)).save(path)
    data = bytearray(path.read_bytes())
    assert data[26:28] == b"\x01\x00"
    data[27] ^= 0x20
    bad = tmp_path / "bad.bmp"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is None
    assert "invalid BMP header" in (mm.ffmpeg_complaint(bad) or "")
    results = _assert_corrupted(bad)
    assert "8193 colour planes" in _messages(results[0])


# ------------------------------------------------------------------------------------------------ TIFF


def test_tiff_tag_number_flip_duplicating_a_layout_tag_is_corrupt(tmp_path: Path) -> None:
    """Sweep: tiff_jpeg, flip_1, seed 3. One bit turns BitsPerSample (258) into a second Compression
    (259): Pillow names an unknown pixel mode (read as unsupported before), FFmpeg an unknown
    compression."""
    path = tmp_path / "a.tiff"
    _picture(3).save(path, compression="jpeg")
    data = bytearray(path.read_bytes())
    _, entries = _tiff_entries(bytes(data))
    at = next(at for at, tag, _, _ in entries if tag == 258)
    data[at] ^= 0x01  # 258 -> 259
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "appears twice" in _messages(results[0])


def test_tiff_single_valued_tag_with_a_count_is_corrupt(tmp_path: Path) -> None:
    """A flip in the count of Compression: Pillow warns "too many entries" and guesses."""
    path = tmp_path / "a.tiff"
    _picture(4).save(path, compression="tiff_lzw")
    data = bytearray(path.read_bytes())
    _, entries = _tiff_entries(bytes(data))
    at = next(at for at, tag, _, _ in entries if tag == 259)
    data[at + 4 : at + 8] = struct.pack("<I", 3)
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(data)
    results = _assert_corrupted(bad)
    assert "instead of one" in _messages(results[0])


def test_multipage_tiff_of_mixed_modes_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "a.tiff"
    pages = [_picture(5, (32, 20), "L"), _picture(6, (20, 20), "1"), _picture(7, (30, 30), "CMYK")]
    _picture(8).save(path, save_all=True, append_images=pages, compression="tiff_lzw")
    _assert_not_corrupted(path)


def test_compressed_tiff_without_strip_byte_counts_is_corrupt(tmp_path: Path) -> None:
    """Sweep: tiff_packbits, flip, seed 15. StripByteCounts' tag number flipped (279 -> 57623); FFmpeg
    failed on the order the flip broke (see the ascending-order test). With the tag simply gone no
    reference complains (libtiff guesses the strip size), but a required tag is lost all the same."""
    path = tmp_path / "a.tiff"
    _picture(26).save(path, compression="packbits")
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(_drop_tiff_tag(path.read_bytes(), 279))
    results = _assert_corrupted(bad)
    assert "without strip byte counts" in _messages(results[0])


def test_uncompressed_tiff_without_strip_byte_counts_is_not_corrupt(tmp_path: Path) -> None:
    """Old writers left StripByteCounts out of uncompressed files; libtiff computes it from the size."""
    path = tmp_path / "a.tiff"
    _picture(27).save(path)
    odd = tmp_path / "odd.tiff"
    odd.write_bytes(_drop_tiff_tag(path.read_bytes(), 279))
    assert mm.pillow_complaint(odd) is None
    _assert_not_corrupted(odd, (Verdict.HEALTHY, Verdict.WARNING))


def test_tiff_that_lost_its_compression_tag_is_corrupt(tmp_path: Path) -> None:
    """Sweep: tiff_1x1, flip_1, seeds 9 and 11. Compression's tag number flipped (259 -> 771, which
    also breaks the order FFmpeg needs). With the tag simply gone, every decoder reads the 5 LZW bytes as
    3 bytes of raw pixels without a word: garbage shown as a picture."""
    path = tmp_path / "a.tiff"
    _picture(28, (1, 1)).save(path, compression="tiff_lzw")
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(_drop_tiff_tag(path.read_bytes(), 259))
    results = _assert_corrupted(bad)
    assert "no Compression tag" in _messages(results[0])


def test_uncompressed_tiff_without_a_compression_tag_is_healthy(tmp_path: Path) -> None:
    """The tag defaults to no compression: raw strips of the exact size are what such a writer wrote."""
    path = tmp_path / "a.tiff"
    _picture(29, (33, 17)).save(path)
    plain = tmp_path / "plain.tiff"
    plain.write_bytes(_drop_tiff_tag(path.read_bytes(), 259))
    assert mm.pillow_complaint(plain) is None
    _assert_not_corrupted(plain, (Verdict.HEALTHY, Verdict.WARNING))


def test_tiff_entries_out_of_ascending_order_are_corrupt(tmp_path: Path) -> None:
    """Sweep: im_tiff_zip_predictor, flip_1, seeds 24 and 27. A flipped bit in a tag number (274 -> 2322,
    284 -> 268) breaks the ascending order of the entries: libtiff warns and decodes, FFmpeg fails."""
    path = tmp_path / "a.tiff"
    _picture(42).save(path, compression="tiff_adobe_deflate")
    data = bytearray(path.read_bytes())
    _, entries = _tiff_entries(bytes(data))
    at = next(at for at, tag, _, _ in entries if tag == 278)
    data[at + 1] ^= 0x08  # 278 (RowsPerStrip) -> 2326
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(data)
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "tag 2326 comes before tag 279" in _messages(results[0])


# ------------------------------------------------------------------------------------------------ JPEG


def _grey_jpeg(tmp_path: Path) -> tuple[bytes, int]:
    path = tmp_path / "a.jpg"
    _picture(9, (96, 64), "L").save(path, quality=90)
    data = path.read_bytes()
    return data, data.index(b"\xff\xda")


def test_block_dropped_inside_the_scan_header_is_corrupt(tmp_path: Path) -> None:
    """Sweep: jpg_gray, dropped_block, seed 2. The block went from inside the SOS header: its Se and
    Ah/Al bytes come from the middle of the scan, so libjpeg's strict decode stopped at "Invalid SOS
    parameters" (benign alone) and the lenient retry hid that the scan is cut short (FFmpeg: "overread")."""
    data, sos = _grey_jpeg(tmp_path)
    se = sos + 2 + 2 + 1 + 2 + 1  # marker, length, Ns, one component, Ss
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(data[:se] + data[se + (len(data) - se) // 2 :])
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "premature end" in _messages(results[0]).lower()


def test_scan_cut_behind_odd_sos_fields_is_corrupt_with_a_progressive_thumbnail(tmp_path: Path) -> None:
    """The same damage in a baseline JPEG whose EXIF thumbnail is progressive: the thumbnail's SOF2 must
    not be taken for the image's frame (the re-decode is for sequential frames only)."""
    thumb = io.BytesIO()
    _picture(38, (80, 60)).save(thumb, "JPEG", progressive=True)
    small = thumb.getvalue()
    ifd1 = 8 + 2 + 12 + 4
    at = ifd1 + 2 + 3 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHI4sI", 0x010F, 2, 4, b"Cam\x00", ifd1)
    tiff += (
        struct.pack("<H", 3) + struct.pack("<HHII", 0x0103, 3, 1, 6) + struct.pack("<HHII", 0x0201, 4, 1, at)
    )
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(small)) + struct.pack("<I", 0) + small
    path = tmp_path / "a.jpg"
    _picture(39, (96, 64), "L").save(path, quality=90, exif=b"Exif\x00\x00" + tiff)
    _assert_not_corrupted(path)
    data = path.read_bytes()
    sos = data.rindex(b"\xff\xda")  # the image's scan comes after the thumbnail's
    se = sos + 2 + 2 + 1 + 2 + 1
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(data[:se] + data[se + (len(data) - se) // 2 :])
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "premature end" in _messages(results[0]).lower()


def test_odd_scan_header_fields_over_intact_data_are_not_corrupt(tmp_path: Path) -> None:
    """The same warning over a complete scan (a sloppy writer's Se) is only a decoder notice."""
    data, sos = _grey_jpeg(tmp_path)
    se = sos + 2 + 2 + 1 + 2 + 1
    odd = bytearray(data)
    odd[se] = 0x3E
    path = tmp_path / "odd.jpg"
    path.write_bytes(odd)
    for result in _verdicts(path):
        assert result.verdict is Verdict.HEALTHY, _messages(result)
        assert any("invalid sos parameters" in f.message.lower() for f in result.findings)


def _mpo(tmp_path: Path) -> bytes:
    path = tmp_path / "a.mpo"
    _picture(10).save(path, format="MPO", save_all=True, append_images=[_picture(11)])
    return path.read_bytes()


def test_mpo_second_image_dropped_is_corrupt(tmp_path: Path) -> None:
    """Sweep: jpg_mpo_as_jpg, dropped_block, seed 3 (the second image's start moved past the end of the
    file: Pillow "No data found for frame"). Here its first half is gone: Pillow "not a JPEG file".
    Both were a metadata warning before."""
    data = _mpo(tmp_path)
    second = data.index(b"\xff\xd8\xff", data.index(b"\xff\xda"))
    bad = tmp_path / "bad.jpg"
    # The first half of the second image dropped: the index points into what is left of its scan.
    bad.write_bytes(data[:second] + data[second + (len(data) - second) // 2 :])
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "MPO image missing" in _messages(results[0])


def test_mpo_with_a_stale_index_but_both_images_present_is_a_warning(tmp_path: Path) -> None:
    """Bytes inserted between the images: the index is off, the second image is intact further on."""
    data = _mpo(tmp_path)
    second = data.index(b"\xff\xd8\xff", data.index(b"\xff\xda"))
    path = tmp_path / "shifted.jpg"
    path.write_bytes(data[:second] + bytes(37) + data[second:])
    for result in _verdicts(path):
        assert result.verdict is Verdict.WARNING, _messages(result)
        assert any(f.code == "metadata_damaged" and f.severity is Severity.WARNING for f in result.findings)


def test_scan_header_naming_a_table_that_does_not_exist_is_corrupt(tmp_path: Path) -> None:
    """Sweep: jpg_progressive_33x17, flip_1, seed 6. The table byte of an AC scan header names DC table
    2: libjpeg ignores it in AC scans, FFmpeg refuses ("decode_sos: ac/dc index out of range")."""
    path = tmp_path / "a.jpg"
    _picture(12, (33, 17)).save(path, progressive=True)
    data = bytearray(path.read_bytes())
    last = data.rindex(b"\xff\xda")
    assert data[last + 4] == 1  # one component in an AC scan
    data[last + 6] = 0x20
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(data)
    assert "index out of range" in (mm.ffmpeg_complaint(bad) or "")
    _assert_corrupted(bad)


# ------------------------------------------------------------------------------------------------- ICO


def test_icon_directory_entry_with_impossible_bit_count_is_corrupt(tmp_path: Path) -> None:
    """Sweep: ico_1x1, flip_1, seed 2. One bit makes the entry's bit count 544: Pillow reads the
    image's own header and passes, FFmpeg cannot open the file."""
    path = tmp_path / "a.ico"
    _picture(13, (16, 16)).save(path, sizes=[(16, 16)])
    data = bytearray(path.read_bytes())
    data[13] ^= 0x02
    bad = tmp_path / "bad.ico"
    bad.write_bytes(data)
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "544 bits" in _messages(results[0])


def test_icons_with_zero_or_real_bit_counts_are_healthy(tmp_path: Path) -> None:
    path = tmp_path / "a.ico"
    _picture(14, (48, 48), "RGBA").save(path, sizes=[(16, 16), (32, 32), (48, 48)])
    _assert_not_corrupted(path)
    data = bytearray(path.read_bytes())
    for i in range(3):  # some writers leave planes and bit count at 0
        data[6 + 16 * i + 4 : 6 + 16 * i + 8] = bytes(4)
    zeroed = tmp_path / "zeroed.ico"
    zeroed.write_bytes(data)
    _assert_not_corrupted(zeroed)


# ------------------------------------------------------------------------------------- TIFF sample tags


def test_tiff_without_samples_per_pixel_for_three_bit_depths_is_corrupt(tmp_path: Path) -> None:
    """Sweep: im_tiff_msb_lzw, flip, seed 5. SamplesPerPixel's tag number flipped (277 -> 366): three
    BitsPerSample values for the default one sample. Pillow: "unknown pixel mode" (read as a variant)."""
    path = tmp_path / "a.tiff"
    _picture(15).save(path, compression="tiff_lzw")
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(_drop_tiff_tag(path.read_bytes(), 277))
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "3 BitsPerSample values for 1 sample" in _messages(results[0])


def test_tiff_colour_image_without_bits_per_sample_is_corrupt(tmp_path: Path) -> None:
    """Sweep: tiff_1x1, flip_1, seed 2. BitsPerSample's tag number flipped (258 -> 274)."""
    path = tmp_path / "a.tiff"
    _picture(16, (1, 1)).save(path, compression="tiff_adobe_deflate")
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(_drop_tiff_tag(path.read_bytes(), 258))
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "no BitsPerSample" in _messages(results[0])


def test_tiff_with_one_bits_per_sample_value_for_rgb_is_healthy(tmp_path: Path) -> None:
    """libtiff reads one BitsPerSample value for all samples; a writer may write just one."""
    path = tmp_path / "a.tiff"
    _picture(17).save(path)
    data = bytearray(path.read_bytes())
    _, entries = _tiff_entries(bytes(data))
    at = next(at for at, tag, _, _ in entries if tag == 258)
    data[at + 4 : at + 12] = struct.pack("<IHH", 1, 8, 0)
    one = tmp_path / "one.tiff"
    one.write_bytes(data)
    assert mm.pillow_complaint(one) is None
    _assert_not_corrupted(one)


# ----------------------------------------------------------------------------------------- HEIF / AVIF


@pytest.mark.parametrize("version", [137, 224])
def test_heif_box_version_no_writer_uses_is_corrupt(tmp_path: Path, version: int) -> None:
    """Sweep: heic_33x17 flip seed 0, heic_alpha flip seed 3. libheif: "Unsupported feature:
    Unsupported data version: pitm box data version 224 is not implemented yet" (read as a variant)."""
    data = bytearray(_matrix_file(tmp_path, "heic_alpha"))
    data[data.index(b"pitm") + 4] = version
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert f"version {version}" in _messages(results[0])


def test_heif_primary_item_that_does_not_exist_is_corrupt(tmp_path: Path) -> None:
    """Sweep: heic_alpha, flip_1, seed 7. libheif: "Invalid input: Non-existing item ID referenced:
    'pitm' box references an unsupported or non-existing image" (the word 'unsupported' misled us)."""
    data = bytearray(_matrix_file(tmp_path, "heic_alpha"))
    at = data.index(b"pitm") + 8
    data[at : at + 2] = b"\x77\x77"
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is not None
    _assert_corrupted(bad)


def test_avif_pixel_information_with_impossible_channel_count_is_corrupt(tmp_path: Path) -> None:
    """Sweep: avif_pillow flip 0, avif_33x17 overwrite 3. libavif: "Not implemented" (read as a variant)."""
    data = bytearray(_matrix_file(tmp_path, "avif_pillow"))
    data[data.index(b"pixi") + 8] = 215
    bad = tmp_path / "bad.avif"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "215 channels" in _messages(results[0])


def test_heif_item_list_with_a_damaged_item_box_is_corrupt(tmp_path: Path) -> None:
    """Sweep: heic_alpha (64x48), flip, seed 7. The second 'infe' box's type and the chroma format in
    the first 'hvcC' are hit: libheif refuses with "Unsupported color conversion" (read as a variant)."""
    data = bytearray(_matrix_file(tmp_path, "heic_alpha"))
    second = data.index(b"infe", data.index(b"infe") + 4)
    data[second] ^= 0xB6  # 'infe' -> '\xdfnfe'
    data[data.index(b"hvcC") + 20] = 0xC0  # chroma_format_idc 1 -> 0
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "item list counts 2 items" in _messages(results[0])


def test_heif_item_property_type_one_bit_off_is_corrupt(tmp_path: Path) -> None:
    """Sweep: heic_alpha, flip_1, seed 15. 'auxC' read as 'auxc': libheif refuses an "unsupported
    essential item property" (read as a variant)."""
    data = bytearray(_matrix_file(tmp_path, "heic_alpha"))
    data[data.index(b"auxC") + 3] ^= 0x20
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "'auxc' is 'auxC' with one bit flipped" in _messages(results[0])


def test_heic_slice_header_without_its_alignment_bit_is_corrupt(tmp_path: Path) -> None:
    """Sweep: heic_33x17, overwrite, seed 16 (the sweep's own draw): random bytes over the start of the
    coded image. libde265 decodes on, FFmpeg's hevc decoder reports "alignment_bit_equal_to_one=0"."""
    data = bytearray(_matrix_file(tmp_path, "heic_33x17"))
    rng = random.Random("heic_33x17/overwrite/16")
    block = rng.randint(16, min(4096, max(16, len(data) // 4)))
    start = rng.randint(0, len(data) - block)
    data[start : start + block] = rng.randbytes(block)
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data)
    assert mm.ffmpeg_complaint(bad) is not None
    _assert_corrupted(bad)


def test_heif_property_map_counting_more_entries_than_it_holds_is_corrupt(tmp_path: Path) -> None:
    """Sweep: heic_two_images, flip, seed 14. The 'ipma' entry count went from 2 to 21: libheif reads the
    two entries and decodes, FFmpeg cannot read the header ("error reading header")."""
    data = bytearray(_matrix_file(tmp_path, "heic_two_images"))
    ipma = data.index(b"ipma")
    assert data[ipma + 8 : ipma + 12] == b"\x00\x00\x00\x02"
    data[ipma + 11] = 21
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is None
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "counts 21 entries" in _messages(results[0])


def test_heif_property_map_naming_a_missing_property_is_corrupt(tmp_path: Path) -> None:
    """Sweep: heic_two_images, flip, seed 27. An association in 'ipma' went from property 3 to 122
    (essential): libheif decodes on, FFmpeg cannot read the header."""
    data = bytearray(_matrix_file(tmp_path, "heic_two_images"))
    ipma = data.index(b"ipma")
    links = data[ipma + 14]  # version 0: 16-bit item ID, then the number of associations
    data[ipma + 14 + links] = 0xFA
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data)
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "names property 122" in _messages(results[0])


def test_heic_with_foreign_bytes_inside_its_coded_data_is_corrupt(tmp_path: Path) -> None:
    """Sweep: heic_gray, dup_block, seeds 1 and 7. 364 bytes of the header copied into the coded image
    near its end: libde265 decodes on, FFmpeg's hevc decoder reads a slice header naming a PPS that does
    not exist ("PPS id out of range"); the structure walk saw only trailing bytes (a warning)."""
    data = _matrix_file(tmp_path, "heic_gray")
    mdat = data.index(b"mdat") - 4
    start, at = mdat - 43, len(data) - 66
    bad = tmp_path / "bad.heic"
    bad.write_bytes(data[:at] + data[start : start + 364] + data[at:])
    assert mm.ffmpeg_complaint(bad) is not None
    _assert_corrupted(bad)


# ------------------------------------------------------------------------------------------------- GIF


def test_gif_lzw_code_flip_pillow_decodes_through_is_corrupt(tmp_path: Path) -> None:
    """Sweep: im_gif_anim flip_1 seeds 1 and 2, gifsicle_o3 flip_1 seeds 0 and 1 (640x480 animations).
    A flipped bit swaps an LZW code for another: FFmpeg's decoder finds a row the data cannot fill ("LZW
    decode failed"), Pillow decodes on and shows shifted pixels without a word. Here one such bit in a
    3-frame GIF of Pillow's own (the reference complaint is checked, so an encoder change shows)."""
    frames = [
        _picture(i, (160, 120)).convert("P", palette=Image.Palette.ADAPTIVE, colors=256) for i in range(3)
    ]
    good = tmp_path / "good.gif"
    frames[0].save(good, save_all=True, append_images=frames[1:], duration=100)
    _assert_not_corrupted(good)
    data = bytearray(good.read_bytes())
    data[34823 // 8] ^= 1 << (34823 % 8)
    bad = tmp_path / "bad.gif"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is None
    assert "LZW decode failed" in (mm.ffmpeg_complaint(bad) or "")
    results = _assert_corrupted(bad)
    assert "LZW decode failed" in _messages(results[0])


# ------------------------------------------------------------------------------------------------- PNM


def test_pnm_second_image_not_where_the_first_ends_is_corrupt(tmp_path: Path) -> None:
    """Sweep: ppm_two_images, inserted_block, seed 3. Bytes inserted inside the first image's raster
    push the second image's header further on: the walk saw only trailing data (a warning); FFmpeg, which
    reads the images as frames, fails on what lies between."""
    first, second = (tmp_path / "1.ppm", tmp_path / "2.ppm")
    _picture(22, (64, 48)).save(first)
    _picture(23, (64, 48)).save(second)
    good = tmp_path / "two.ppm"
    good.write_bytes(first.read_bytes() + second.read_bytes())
    _assert_not_corrupted(good, (Verdict.HEALTHY, Verdict.WARNING))
    data = first.read_bytes()
    middle = len(data) // 2
    bad = tmp_path / "bad.ppm"
    bad.write_bytes(data[:middle] + random.Random(24).randbytes(700) + data[middle:] + second.read_bytes())
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "image #2 starts at byte" in _messages(results[0])


def test_pnm_second_image_far_beyond_the_first_is_corrupt(tmp_path: Path) -> None:
    """Sweep: ppm_two_images, dup_block, seed 12. 6145 bytes duplicated inside the first image put the
    second image's header 6145 bytes past where the first ends (the walk looked only 4 KiB ahead)."""
    first, second = (tmp_path / "1.ppm", tmp_path / "2.ppm")
    _picture(36, (96, 64)).save(first)
    _picture(37, (96, 64)).save(second)
    data = first.read_bytes()
    bad = tmp_path / "bad.ppm"
    bad.write_bytes(data[:9000] + data[100:6245] + data[9000:] + second.read_bytes())
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "image #2 starts at byte" in _messages(results[0])


def test_pnm_with_unrelated_trailing_bytes_is_not_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "a.ppm"
    _picture(25, (40, 30)).save(path)
    padded = tmp_path / "padded.ppm"
    padded.write_bytes(path.read_bytes() + b"written by a scanner\n")
    assert mm.ffmpeg_complaint(padded) is None
    _assert_not_corrupted(padded, (Verdict.HEALTHY, Verdict.WARNING))


def test_gif_frame_placed_off_the_screen_is_corrupt(tmp_path: Path) -> None:
    """Sweep: gif_1x1, flip_1, seed 9. A flipped bit moves the only frame to x=1 on a 1-pixel-wide
    screen: Pillow shows nothing and says nothing, FFmpeg: "Invalid left position"."""
    path = tmp_path / "a.gif"
    _picture(30, (16, 16)).convert("P").save(path)
    data = bytearray(path.read_bytes())
    descriptor = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[descriptor] == 0x21:  # extensions: label, then sub-blocks up to a zero length
        descriptor += 2
        while data[descriptor]:
            descriptor += data[descriptor] + 1
        descriptor += 1
    assert data[descriptor] == 0x2C and data[descriptor + 1 : descriptor + 3] == b"\x00\x00"
    data[descriptor + 1] = 16  # left = 16 on a 16-pixel-wide screen
    bad = tmp_path / "bad.gif"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is None
    assert "left position" in (mm.ffmpeg_complaint(bad) or "")
    results = _assert_corrupted(bad)
    assert "outside the 16x16 screen" in _messages(results[0])


def test_tga_raw_packet_past_the_last_pixel_is_corrupt(tmp_path: Path) -> None:
    """Sweep: a 40x30 RLE TGA, dup_block seeds 6 and 8, inserted_block seed 8. The packet stream ends in a
    raw packet longer than the pixels left: Pillow stops at the last pixel and passes, FFmpeg: "Packet
    went out of bounds". Here the last packet's count is raised by 4."""
    path = tmp_path / "a.tga"
    _picture(31, (40, 30)).save(path, compression="tga_rle")
    _assert_not_corrupted(path)
    data = bytearray(path.read_bytes())
    pos, filled, last = 18 + data[0], 0, 0
    while filled < 40 * 30:  # walk the packets: one header byte, then one pixel (run) or n pixels (raw)
        last, count = pos, (data[pos] & 0x7F) + 1
        filled += count
        pos += 1 + (3 if data[pos] & 0x80 else 3 * count)
    assert not data[last] & 0x80 and data[last] < 0x7C  # a raw packet that can grow
    data[last] += 4
    bad = tmp_path / "bad.tga"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is None
    assert "out of bounds" in (mm.ffmpeg_complaint(bad) or "")
    results = _assert_corrupted(bad)
    assert "Packet went out of bounds" in _messages(results[0])


def test_tiff_page_with_an_impossible_bit_depth_is_corrupt(tmp_path: Path) -> None:
    """Sweep: a 6-page TIFF of mixed modes, flip, seed 7. The RGBA page's second BitsPerSample value
    became 59400: Pillow names an "unknown pixel mode" for that page (read as a variant)."""
    path = tmp_path / "a.tiff"
    _picture(32).save(path, save_all=True, append_images=[_picture(33, (33, 17), "RGBA")])
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    (n,) = struct.unpack("<H", data[ifd : ifd + 2])
    second = struct.unpack("<I", data[ifd + 2 + 12 * n : ifd + 6 + 12 * n])[0]
    (m,) = struct.unpack("<H", data[second : second + 2])
    entries = [struct.unpack("<HHII", data[second + 2 + 12 * i : second + 14 + 12 * i]) for i in range(m)]
    bits_at = next(value for tag, _, count, value in entries if tag == 258 and count == 4)
    data[bits_at + 3] = 0xE8  # 8 -> 59400
    bad = tmp_path / "bad.tiff"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "IFD1" in _messages(results[0]) and "BitsPerSample is 59400" in _messages(results[0])


# ------------------------------------------------------------------------------------------------ WebP


def test_animated_webp_frame_without_image_chunk_is_corrupt(tmp_path: Path) -> None:
    """Sweep: webp_anim_mixed, flip_1 seed 8 and flip seed 6. A flipped bit renames a frame's 'VP8 '
    chunk: libwebp repeats the previous picture and Pillow passes, FFmpeg: "image data not found"."""
    path = tmp_path / "a.webp"
    frames = [_picture(34 + i, (64, 48)) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, allow_mixed=True, quality=50)
    _assert_not_corrupted(path)
    data = bytearray(path.read_bytes())
    second = data.index(b"ANMF", data.index(b"ANMF") + 4)
    image = second + 24
    assert data[image : image + 3] == b"VP8"
    data[image + 2] ^= 0x02  # 'VP8 ' -> 'VP: ', 'VP8L' -> 'VP:L'
    bad = tmp_path / "bad.webp"
    bad.write_bytes(data)
    assert mm.pillow_complaint(bad) is None
    assert "image data not found" in (mm.ffmpeg_complaint(bad) or "")
    results = _assert_corrupted(bad)
    assert "animation frame 2 holds no image data" in _messages(results[0])


def test_gif_frame_with_an_impossible_lzw_code_size_is_corrupt(tmp_path: Path) -> None:
    """Sweep: gif_ffmpeg_animated, ff_block, seed 26. A block of 0xFF bytes over a frame header: the frame
    claims 65535 x 65543 pixels (a size warning only) and an LZW code size of 255 (FFmpeg: "LZW init
    failed")."""
    path = tmp_path / "a.gif"
    _picture(41, (16, 16)).convert("P").save(path)
    data = bytearray(path.read_bytes())
    descriptor = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[descriptor] == 0x21:
        descriptor += 2
        while data[descriptor]:
            descriptor += data[descriptor] + 1
        descriptor += 1
    assert data[descriptor] == 0x2C and not data[descriptor + 9] & 0x80  # no local colour table
    data[descriptor + 10] = 0xFF
    bad = tmp_path / "bad.gif"
    bad.write_bytes(data)
    assert mm.ffmpeg_complaint(bad) is not None
    results = _assert_corrupted(bad)
    assert "LZW minimum code size 255" in _messages(results[0])
