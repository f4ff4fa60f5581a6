"""Netpbm (PBM/PGM/PPM, binary and plain, and PAM): the header against the pixel bytes present.

Binary variants (P4, P5, P6, P7) have a fixed raster size, so fewer bytes is truncation. A file may hold
several images back to back (Netpbm allows it and FFmpeg reads them as frames); each one is checked.
Plain (ASCII) variants have no fixed size: the decoder judges them.
"""

from __future__ import annotations

import re

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural, trailing

_HEADER_LIMIT = 4096
_SEARCH_LIMIT = 1 << 20  # how far past an image's end another image's header is looked for
_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\S+)")
# A Netpbm header (magic, whitespace, a digit) further on, after data that is not one.
_NEXT_IMAGE = re.compile(rb"P[1-7][ \t\r\n]+(?:#[^\n]*\n\s*)*\d")
_PAM_FIELD = re.compile(rb"(?m)^\s*(WIDTH|HEIGHT|DEPTH|MAXVAL|TUPLTYPE|ENDHDR)\b[ \t]*([^\n]*)\n")


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Check every image's raster length."""
    pos = 0
    index = 0
    while pos < r.size:
        head = r.read(pos, _HEADER_LIMIT)
        if index and not re.match(rb"P[1-7]\s", head):
            later = _NEXT_IMAGE.search(r.read(pos, _SEARCH_LIMIT))
            if later:
                # Another image, but not where the previous one ends: bytes were inserted or lost in
                # between (FFmpeg, reading the images as frames, fails on what lies between).
                out.corrupt(
                    "bad_header",
                    f"image #{index + 1} starts at byte {pos + later.start()}, not where image #{index} "
                    f"ends (byte {pos})",
                )
                return
            trailing(r, out, pos, "last image" if index > 1 else "image")
            return
        parsed = _header(head)
        if parsed is None:
            if index:
                out.corrupt("bad_header", f"image #{index + 1}: unreadable header at byte {pos}")
            else:
                out.corrupt("bad_header", "unreadable Netpbm header")
            return
        header_len, raster = parsed
        if raster is None:  # plain (ASCII) pixels: no fixed length
            return
        end = pos + header_len + raster
        if end > r.size:
            missing = end - r.size
            out.corrupt(
                "truncated",
                f"image #{index + 1} needs {raster} pixel bytes from byte {pos + header_len}; "
                f"{plural(missing, 'byte')} missing",
            )
            return
        index += 1
        pos = end
    if index > 1:
        out.info("multi_image", f"{index} images in one file")


def _header(head: bytes) -> tuple[int, int | None] | None:
    """(header length, raster bytes or None for plain variants), or None if the header is unreadable."""
    kind = head[1:2]
    if kind == b"7":
        fields = {}
        pos = 3
        for m in _PAM_FIELD.finditer(head, 3):
            fields[m.group(1)] = m.group(2).strip()
            pos = m.end()
            if m.group(1) == b"ENDHDR":
                break
        else:
            return None
        try:
            width, height, depth, maxval = (
                int(fields[k]) for k in (b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL")
            )
        except (KeyError, ValueError):
            return None
        return pos, width * height * depth * (1 if maxval < 256 else 2)
    tokens = []
    pos = 2
    wanted = 2 if kind in (b"1", b"4") else 3
    while len(tokens) < wanted:
        m = _TOKEN.match(head, pos)
        if m is None or not m.group(1).isdigit():
            return None
        tokens.append(int(m.group(1)))
        pos = m.end()
    if pos >= len(head) or head[pos : pos + 1] not in (b" ", b"\t", b"\n", b"\r"):
        return None
    pos += 1  # exactly one whitespace byte ends the header
    width, height = tokens[0], tokens[1]
    if width <= 0 or height <= 0:
        return None
    if kind in (b"1", b"2", b"3"):
        return pos, None
    if kind == b"4":
        return pos, (width + 7) // 8 * height
    sample = 1 if tokens[2] < 256 else 2
    return pos, width * height * sample * (3 if kind == b"6" else 1)
