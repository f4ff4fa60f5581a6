"""Ogg: page walk with the CRC of every page, sequence numbers per stream, end-of-stream flags.

The Ogg CRC is CRC-32 with polynomial 0x04C11DB7, not reflected, initial value 0, no final XOR. zlib's
CRC-32 uses the same polynomial reflected, so the Ogg CRC of ``data`` is the bit-reversed zlib CRC of
``data`` with every byte bit-reversed (and zlib's pre/post inversion cancelled). That runs at zlib speed.
"""

from __future__ import annotations

import zlib

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural, trailing

OGG_CRC_LIMIT = 256 * 1024 * 1024  # above this, CRCs of first/last pages only unless deep
_REV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _rev32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum of ``data`` (CRC field zeroed by the caller)."""
    return _rev32(zlib.crc32(data.translate(_REV8), 0xFFFFFFFF) ^ 0xFFFFFFFF)


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk every page: capture pattern, size inside the file, CRC, sequence, EOS."""
    size = r.size
    check_all = ctx.deep or size <= OGG_CRC_LIMIT
    pos = ctx.sniff.data_offset  # after an ID3v2 tag some taggers put in front
    pages = 0
    bad_crc = []
    seq: dict[int, int] = {}
    ended: set[int] = set()
    gaps = lost = lost_bytes = 0
    first_lost: int | None = None
    while pos < size:
        hdr = r.read(pos, 27)
        if len(hdr) < 27 or hdr[:4] != b"OggS":
            if len(hdr) < 27 and (hdr.startswith(b"OggS") or b"OggS".startswith(hdr)):
                out.corrupt("truncated", f"the file ends inside a page header at byte {pos}")
                return
            if pages and r.all_zero(pos, size):
                trailing(r, out, pos, "last page")
                break
            nxt = _find_page(r, pos + 1)
            if nxt is None:
                trailing(r, out, pos, "last page")
                break
            lost += 1
            lost_bytes += nxt - pos
            first_lost = pos if first_lost is None else first_lost
            pos = nxt
            continue
        nseg = hdr[26]
        table = r.read(pos + 27, nseg)
        page_len = 27 + nseg + sum(table)
        if len(table) < nseg or pos + page_len > size:
            out.corrupt(
                "truncated",
                f"the last page (byte {pos}) needs {page_len} bytes but only {size - pos} are present",
            )
            return
        flags = hdr[5]
        serial = int.from_bytes(hdr[14:18], "little")
        sequence = int.from_bytes(hdr[18:22], "little")
        if serial in seq and sequence != seq[serial] + 1:
            gaps += 1
        seq[serial] = sequence
        if flags & 4:
            ended.add(serial)
        if check_all or pages < 4 or size - pos < (1 << 20):
            page = r.read(pos, page_len)
            stored = int.from_bytes(page[22:26], "little")
            if ogg_crc(page[:22] + b"\x00\x00\x00\x00" + page[26:]) != stored:
                bad_crc.append(pos)
        pages += 1
        pos += page_len
    if lost:
        out.corrupt(
            "lost_sync",
            f"{plural(lost_bytes, 'byte')} of damaged data between pages in {plural(lost, 'place')} "
            f"(first at byte {first_lost})",
        )
    if bad_crc:
        out.corrupt(
            "crc_mismatch",
            f"{plural(len(bad_crc), 'page')} of {pages} fail the CRC check (first at byte {bad_crc[0]})",
        )
    if gaps:
        out.corrupt("missing_pages", f"page sequence numbers jump {plural(gaps, 'time')}: pages are missing")
    unfinished = [s for s in seq if s not in ended]
    if unfinished and not out.has_corrupt:
        out.warning(
            "no_eos",
            f"{plural(len(unfinished), 'logical stream')} without an end-of-stream page "
            "(an unfinished recording, or the file was cut at a page boundary)",
        )


def _find_page(r: Reader, pos: int) -> int | None:
    while pos < r.size:
        buf = r.read(pos, 1 << 16)
        i = buf.find(b"OggS")
        if i != -1:
            return pos + i
        if len(buf) < 4:
            return None
        pos += len(buf) - 3
    return None
