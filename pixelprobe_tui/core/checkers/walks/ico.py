"""ICO / CUR: the icon directory against the file, and every embedded PNG's chunk CRCs.

A decoder shows one size of an icon (Pillow loads only the largest), so damage in the other sizes is found
here: an entry that reaches past the end of the file is truncation, a PNG entry is walked like a PNG file
(CRCs included), and a BMP (DIB) entry must hold the colour table and pixel rows its header declares.
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks import png
from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural, trailing
from pixelprobe_tui.core.verdict import Severity

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ICON_BITS = frozenset({0, 1, 2, 4, 8, 16, 24, 32})


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Check each directory entry and the image it points to."""
    size = r.size
    count = int.from_bytes(r.read(4, 2), "little")
    directory = r.read(6, 16 * count)
    if len(directory) < 16 * count:
        out.corrupt("truncated", f"the file ends inside the directory of {plural(count, 'image')}")
        return
    end = 6 + 16 * count
    icon = r.read(2, 2) == b"\x01\x00"  # in a cursor (2) these two fields are the hotspot
    for i in range(count):
        entry = directory[16 * i : 16 * i + 16]
        width, height = entry[0] or 256, entry[1] or 256
        length = int.from_bytes(entry[8:12], "little")
        offset = int.from_bytes(entry[12:16], "little")
        label = f"image #{i + 1} ({width}x{height})"
        planes, bits = int.from_bytes(entry[4:6], "little"), int.from_bytes(entry[6:8], "little")
        if icon and (planes > 1 or bits not in _ICON_BITS):
            # Writers leave these 0 or copy the image's own; FFmpeg refuses anything else.
            out.corrupt("bad_header", f"{label}: invalid directory entry ({planes} planes, {bits} bits)")
            continue
        if offset < 6 + 16 * count or length == 0:
            out.corrupt("bad_header", f"{label}: invalid directory entry (offset {offset}, {length} bytes)")
            continue
        if offset + length > size:
            missing = offset + length - size
            out.corrupt(
                "truncated",
                f"{label} needs {length} bytes from byte {offset}; {plural(missing, 'byte')} missing",
            )
            continue
        end = max(end, offset + length)
        head = r.read(offset, 8)
        sub = Reader(r.fd, r.base + offset + length, base=r.base + offset)
        if head == _PNG_SIGNATURE:
            _png_entry(sub, out, ctx, label)
        else:
            _dib_entry(sub, out, label)
    if end < size and not out.has_corrupt:
        trailing(r, out, end, "last image")


def _png_entry(sub: Reader, out: Notes, ctx: WalkContext, label: str) -> None:
    notes = Notes(out.tool)
    png.walk(sub, notes, ctx)
    for f in notes.findings:
        if f.code in ("trailing_data", "trailing_zeros"):
            continue  # slack inside an entry is the directory's business, not the PNG's
        out.add(f.severity, f.code, f"{label}: {f.message}")


def _dib_entry(sub: Reader, out: Notes, label: str) -> None:
    hdr = sub.read(0, 40)
    if len(hdr) < 40 or int.from_bytes(hdr[0:4], "little") < 40:
        out.corrupt("bad_header", f"{label}: neither PNG nor a BMP (DIB) header")
        return
    width = int.from_bytes(hdr[4:8], "little", signed=True)
    height = abs(int.from_bytes(hdr[8:12], "little", signed=True)) // 2  # the AND mask doubles it
    bpp = int.from_bytes(hdr[14:16], "little")
    compression = int.from_bytes(hdr[16:20], "little")
    colors = int.from_bytes(hdr[32:36], "little") or (1 << bpp if bpp <= 8 else 0)
    if width <= 0 or height <= 0 or bpp not in (1, 4, 8, 16, 24, 32):
        out.corrupt("bad_header", f"{label}: invalid bitmap header ({width}x{height}, {bpp} bits)")
        return
    if compression not in (0, 3):  # icons store plain (or bit-field) pixels; compressed ones are PNG
        out.corrupt("bad_header", f"{label}: bitmap compression {compression} is not used in icons")
        return
    # Colour table and the XOR (colour) rows; the 1-bit AND mask is left out, some writers omit it.
    needed = int.from_bytes(hdr[0:4], "little") + 4 * colors + ((width * bpp + 31) // 32) * 4 * height
    if needed > sub.size:
        out.add(
            Severity.CORRUPT,
            "truncated",
            f"{label}: the bitmap needs {needed} bytes but its entry holds {sub.size}",
        )
