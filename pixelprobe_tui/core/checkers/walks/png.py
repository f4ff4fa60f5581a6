"""PNG (and APNG): chunk walk with the CRC of every chunk, IHDR first, IDAT present, IEND last.

Every chunk's CRC is checked (streamed through zlib in 1 MB pieces), since a flipped bit in image data
is exactly what the CRC is for. Apple's CgBI variant (a chunk before IHDR) is accepted.

Data after IEND: the PNG specification allows nothing there, and the reference tools (pngcheck, FFmpeg's
PNG reader) reject any of it, so bytes that are not zero padding are corruption (typically a botched
write or appended garbage). Zero padding is only a warning: the image is complete, the size is not.
"""

from __future__ import annotations

import zlib

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, fourcc, plural


def _chunk_crc(r: Reader, pos: int, length: int) -> int:
    crc = 0
    for piece in r.chunks(pos + 4, pos + 8 + length):
        crc = zlib.crc32(piece, crc)
    return crc


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk chunks from the signature to IEND."""
    size = r.size
    pos = 8
    index = 0
    bad_crc: list[str] = []
    seen: set[bytes] = set()
    while True:
        hdr = r.read(pos, 8)
        if len(hdr) < 8:
            if b"IEND" not in seen:
                out.corrupt("missing_iend", _cut_message(seen, pos, size))
            return
        length = int.from_bytes(hdr[:4], "big")
        ctype = hdr[4:8]
        if not ctype.isalpha() or length > 0x7FFFFFFF:
            out.corrupt("bad_chunk", f"invalid chunk header at byte {pos} (type '{fourcc(ctype)}')")
            return
        if index == 0 and ctype not in (b"IHDR", b"CgBI"):
            out.corrupt("bad_header", f"the first chunk is '{fourcc(ctype)}', not IHDR")
            return
        end = pos + 12 + length
        if end > size:
            out.corrupt(
                "truncated",
                f"'{fourcc(ctype)}' chunk at byte {pos} needs {12 + length} bytes but only {size - pos} are "
                f"present{'' if ctype == b'IEND' else ' (no IEND)'}",
            )
            return
        stored = int.from_bytes(r.read(pos + 8 + length, 4), "big")
        if _chunk_crc(r, pos, length) != stored:
            bad_crc.append(f"{fourcc(ctype)} at byte {pos}")
        seen.add(ctype)
        index += 1
        pos = end
        if ctype == b"IEND":
            break
    if bad_crc:
        shown = ", ".join(bad_crc[:3]) + (" ..." if len(bad_crc) > 3 else "")
        out.corrupt("crc_mismatch", f"{plural(len(bad_crc), 'chunk')} fail the CRC check: {shown}")
    if b"IDAT" not in seen:
        out.corrupt("missing_chunk", "no IDAT chunk: the file holds no image data")
    if pos < size:
        _after_iend(r, out, pos)


def _after_iend(r: Reader, out: Notes, pos: int) -> None:
    extra = r.size - pos
    if r.all_zero(pos, r.size):
        out.warning("trailing_zeros", f"{plural(extra, 'zero byte')} of padding after the IEND chunk")
        return
    out.corrupt(
        "trailing_data",
        f"{plural(extra, 'byte')} of data after the IEND chunk, where PNG allows none (pngcheck and FFmpeg "
        "reject the file)",
    )


def _cut_message(seen: set[bytes], pos: int, size: int) -> str:
    if pos == size:
        return f"no IEND chunk: the file ends after a complete chunk at byte {pos} (truncated)"
    return f"no IEND chunk: the file ends inside a chunk header at byte {pos} (truncated)"
