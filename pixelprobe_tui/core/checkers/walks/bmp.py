"""BMP: file header and DIB header against the pixel data the file actually holds.

The file-size field is often wrong in files that are perfectly fine, so it alone is only a warning; pixel
data shorter than the header requires is truncation. RLE8/RLE4 codes are walked (not decoded): runs below
the last row, or codes that stop before the last row without an end-of-bitmap, are damage.
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural

_UNCOMPRESSED = {0, 3, 6}  # BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS
# Every compression a BMP header may name: RGB, RLE8, RLE4, bit fields, JPEG, PNG, alpha bit fields, and
# Windows' CMYK variants (11-13). Anything else is a damaged header.
_COMPRESSIONS = frozenset({0, 1, 2, 3, 4, 5, 6, 11, 12, 13})
_RLE_LIMIT = 64 << 20  # RLE code walks above this size are left to the decoder
# What the RLE walk returns for codes that fill the picture but stop without an end-of-bitmap code.
_NO_END = "no end-of-bitmap code"


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Check declared sizes and the pixel array against the file size."""
    size = r.size
    hdr = r.read(0, 54)
    if len(hdr) < 26:
        out.corrupt("truncated", f"the file ends inside the BMP headers ({size} bytes)")
        return
    declared = int.from_bytes(hdr[2:6], "little")
    data_off = int.from_bytes(hdr[10:14], "little")
    dib = int.from_bytes(hdr[14:18], "little")
    if 14 + dib > size:
        out.corrupt("truncated", f"the file ends inside the {dib}-byte DIB header")
        return
    if dib == 12:
        width = int.from_bytes(hdr[18:20], "little")
        height = int.from_bytes(hdr[20:22], "little", signed=True)
        bpp = int.from_bytes(hdr[24:26], "little")
        compression = 0
        image_size = 0
    else:
        width = int.from_bytes(hdr[18:22], "little", signed=True)
        height = int.from_bytes(hdr[22:26], "little", signed=True)
        bpp = int.from_bytes(hdr[28:30], "little")
        compression = int.from_bytes(hdr[30:34], "little")
        image_size = int.from_bytes(hdr[34:38], "little")
        colors = int.from_bytes(hdr[46:50], "little") if dib >= 40 and len(hdr) >= 50 else 0
        if 0 < bpp <= 8 and colors > 1 << bpp:
            # A palette larger than the depth can index: FFmpeg refuses it ("Incorrect number of colors"),
            # Pillow too once it passes 65536 entries. No writer does this; a damaged header does.
            out.corrupt("bad_header", f"{colors} palette colours declared for a {bpp}-bit image")
            return
    planes = int.from_bytes(hdr[22:24] if dib == 12 else hdr[26:28], "little")
    if planes != 1:
        # Always 1; FFmpeg refuses anything else ("invalid BMP header"), Pillow ignores the field.
        out.corrupt("bad_header", f"the bitmap header gives {planes} colour planes (always 1)")
        return
    if compression not in _COMPRESSIONS:
        out.corrupt("bad_header", f"compression {compression} is not a BMP compression method")
        return
    embedded = compression in (4, 5) and bpp == 0  # JPEG/PNG inside: depth comes from the stream
    if (width <= 0 or height == 0 or bpp not in (1, 2, 4, 8, 16, 24, 32, 64)) and not embedded:
        out.corrupt("bad_header", f"invalid dimensions or depth ({width}x{height}, {bpp} bits)")
        return
    if data_off > size:
        out.corrupt("truncated", f"the pixel data should start at byte {data_off} but the file has {size}")
        return
    # RLE and embedded JPEG/PNG: only the header's byte count (when given) says how much is needed.
    needed = ((width * bpp + 31) // 32) * 4 * abs(height) if compression in _UNCOMPRESSED else image_size
    if needed and data_off + needed > size:
        missing = data_off + needed - size
        out.corrupt(
            "truncated",
            f"the pixel data needs {needed} bytes from byte {data_off} but the file ends {plural(missing, 'byte')} short",
        )
        return
    if compression in (1, 2) and bpp in (8, 4) and height > 0:
        end = data_off + image_size if image_size else size
        problem = _rle_problem(r, data_off, min(end, size), width, height, bpp)
        if problem is _NO_END and end < size:
            # No end-of-bitmap code within the declared size: decoders read on past it (a block inserted
            # or duplicated in the codes moved the end further), so do we.
            problem = _rle_problem(r, data_off, size, width, height, bpp)
        if problem and problem is not _NO_END:
            out.corrupt("bad_rle", problem)
            return
    if declared > size:
        out.warning("size_mismatch", f"the header declares {declared} bytes but the file has {size}")


def _rle_problem(r: Reader, start: int, end: int, width: int, height: int, bpp: int) -> str | None:
    """Walk RLE8/RLE4 codes (no pixels decoded): runs below the last row or an image that stops early.

    Decoders draw what fits and drop the rest, so a duplicated or shifted block of codes shows only as
    rows that do not exist, or as rows that never come. Codes that fill the picture but stop before an
    end-of-bitmap code give ``_NO_END``.
    """
    if end - start > _RLE_LIMIT:
        return None
    data = r.read(start, end - start)
    x = y = i = 0
    n = len(data)
    while i + 1 < n:
        count, value = data[i], data[i + 1]
        i += 2
        if count or value >= 3:
            if y >= height:
                return f"RLE data at byte {start + i - 2} draws below the last of the {height} rows"
            if count:
                x += count
            else:  # an absolute run of ``value`` pixels, padded to a 16-bit boundary
                nbytes = value if bpp == 8 else (value + 1) // 2
                i += nbytes + (nbytes & 1)
                x += value
            if x > width:  # encoders end every row with an end-of-line code
                return f"an RLE run at byte {start + i - 2} overflows the {width}-pixel row {y + 1}"
        elif value == 0:  # end of line; after the last row only the end-of-bitmap code may follow
            x, y = 0, y + 1
            if y >= height and data[i : i + 2] not in (b"\x00\x01", b""):
                return f"RLE data at byte {start + i} continues past the last of the {height} rows"
        elif value == 1:  # end of bitmap
            return None
        else:  # delta: move right and down
            if i + 1 >= n:
                break
            x, y = x + data[i], y + data[i + 1]
            i += 2
            if y >= height or x >= width:
                return f"an RLE delta at byte {start + i - 4} moves outside the {width}x{height} picture"
    if y < height - 1:
        return f"the RLE data ends after {y} of {height} rows without an end-of-bitmap code (truncated)"
    return _NO_END
