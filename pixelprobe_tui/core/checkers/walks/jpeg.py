"""JPEG: marker walk to the first scan, then a scan for markers in entropy-coded data up to EOI.

Length-prefixed segments (APPn with embedded thumbnails, COM, DQT, DHT, SOFn ...) are skipped whole, so a
thumbnail's own EOI is never mistaken for the image's. Inside scans ``FF 00`` (stuffing), ``FF D0-D7``
(restart markers) and ``FF FF`` (fill) are not markers (in JPEG-LS scans, neither is FF before a byte
below 0x80); progressive files have several scans. After EOI:
another JPEG (MPO, multi-picture) and zero padding are info, other data (Samsung trailers, motion-photo
videos, junk) a warning. A file ending before EOI is truncated.
"""

from __future__ import annotations

import re

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural

_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# JPEG-LS stuffs a zero bit, not a zero byte: inside its scans FF followed by a byte below 0x80 is data.
_LS_MARKER = re.compile(rb"\xff[\x80-\xcf\xd8-\xfe]")
_SOF = (set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}) | {0xF7}  # F7: JPEG-LS
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# Stray bytes some writers leave between header segments (alignment padding): a warning up to this many.
_MAX_PADDING = 8
EOI, SOS, SOI = 0xD9, 0xDA, 0xD8


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk the main image's segments and scans to its EOI, then classify what follows."""
    end = _walk_image(r, out, 0, "")
    if end is not None and end < r.size:
        _after_eoi(r, out, end)


def _walk_image(r: Reader, out: Notes, start: int, label: str) -> int | None:
    """Walk one JPEG from its SOI at ``start``; the offset after its EOI, or None when damage was found."""
    size = r.size
    pos = start + 2
    frames = scans = 0
    lossless_ls = False
    while True:
        # Markers may be preceded by any number of 0xFF fill bytes.
        b = r.read(pos, 2)
        while len(b) == 2 and b[0] == 0xFF and b[1] == 0xFF:
            pos += 1
            b = r.read(pos, 2)
        if len(b) < 2:
            out.corrupt(
                "missing_eoi",
                f"{label}the file ends at byte {size} before the end-of-image marker (truncated)",
            )
            return None
        if b[0] != 0xFF:
            # libjpeg skips "extraneous bytes before marker" with a warning; so do we, within reason.
            nxt = r.read(pos, 1 << 16).find(b"\xff")
            if nxt <= 0 or r.read(pos + nxt + 1, 1) in (b"", b"\x00"):
                out.corrupt("bad_marker", f"{label}expected a marker at byte {pos}, found 0x{b[0]:02X}")
                return None
            message = f"{label}{plural(nxt, 'extraneous byte')} before a marker at byte {pos}"
            if nxt > _MAX_PADDING:
                # More than a writer's padding: a stretch of foreign data inside the header (a duplicated
                # or misplaced block). libjpeg reports it as "Corrupt JPEG data", and so does jpeginfo.
                out.corrupt("extraneous_bytes", message)
                return None
            out.warning("extraneous_bytes", message)
            pos += nxt
            continue
        marker = b[1]
        if marker == EOI:
            pos += 2
            break
        if marker in _STANDALONE or marker == SOI:
            pos += 2
            continue
        seg = r.read(pos + 2, 2)
        if len(seg) < 2:
            out.corrupt(
                "missing_eoi", f"{label}the file ends inside a segment header at byte {pos} (truncated)"
            )
            return None
        length = int.from_bytes(seg, "big")
        if length < 2:
            out.corrupt(
                "bad_marker", f"{label}segment 0xFF{marker:02X} at byte {pos} has an invalid length {length}"
            )
            return None
        end = pos + 2 + length
        if end > size:
            out.corrupt(
                "missing_eoi",
                f"{label}segment 0xFF{marker:02X} at byte {pos} needs {length} bytes but the file ends first "
                "(truncated)",
            )
            return None
        if marker in _SOF:
            frames += 1
            lossless_ls = marker == 0xF7
        pos = end
        if marker == SOS:
            scans += 1
            scan_end = _scan_end(r, pos, _LS_MARKER if lossless_ls else _MARKER)
            if scan_end is None:
                out.corrupt(
                    "missing_eoi",
                    f"{label}the file ends inside the image data (scan {scans} from byte {pos}); "
                    "no end-of-image marker",
                )
                return None
            pos = scan_end
    if not frames or not scans:
        out.corrupt("no_image_data", f"{label}the end-of-image marker comes before any image data")
        return None
    return pos


def _scan_end(r: Reader, pos: int, marker: re.Pattern[bytes] = _MARKER) -> int | None:
    """Offset of the first real marker after entropy-coded data starting at ``pos``."""
    size = r.size
    piece = 1 << 20
    while pos < size:
        buf = r.read(pos, piece + 1)
        m = marker.search(buf)
        if m:
            return pos + m.start()
        if len(buf) <= piece:
            return None
        pos += piece
    return None


def _after_eoi(r: Reader, out: Notes, pos: int) -> None:
    extra = r.size - pos
    head = r.read(pos, 64)
    stripped = head.lstrip(b"\x00")
    if head.startswith(b"\xff\xd8\xff") or stripped.startswith(b"\xff\xd8\xff"):
        # Further images (MPO stereo pairs, multi-picture previews): walk each, they can be cut too.
        index = 1
        while pos < r.size and index < 64:
            gap = r.read(pos, 64)
            start = pos + len(gap) - len(gap.lstrip(b"\x00"))
            if r.read(start, 3) != b"\xff\xd8\xff":
                break
            index += 1
            end = _walk_image(r, out, start, f"image {index}: ")
            if end is None:
                return
            pos = end
        out.info(
            "multi_image", f"{plural(extra, 'byte')} after EOI hold {index - 1} more JPEG image(s) (MPO)"
        )
        if pos < r.size:
            _after_eoi(r, out, pos)  # not another image (the loop walked those): padding or a trailer
    elif r.all_zero(pos, r.size) or not head.strip(b"\x00\xff") and r.all_zero(pos + 64, r.size):
        out.info("trailing_zeros", f"{plural(extra, 'padding byte')} after the end-of-image marker")
    elif b"ftyp" in head[:16] or b"SEF" in r.read(r.size - 8, 8):
        out.info("trailer", f"{plural(extra, 'byte')} of vendor data after the end-of-image marker")
    else:
        out.warning("trailing_data", f"{plural(extra, 'byte')} of data after the end-of-image marker")
