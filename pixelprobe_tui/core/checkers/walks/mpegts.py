"""MPEG transport stream (188-byte packets; 192 for M2TS/AVCHD with a 4-byte timestamp; 204 with RS).

The sync byte 0x47 must start every packet, and a file made of whole packets ends on a packet boundary.
Without ``deep`` only the first and last megabyte are checked: a phase shift between them means bytes were
lost or inserted in the middle; with ``deep`` every packet is checked and each loss located.
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural
from pixelprobe_tui.core.media import find_ts_sync

_REGION = 1 << 20
_CHUNK_PACKETS = 8192


def _first_bad(buf: bytes, lead: int, psize: int) -> int:
    """Index of the first packet in ``buf`` whose sync byte is wrong (number of whole packets if none)."""
    n = len(buf) // psize
    syncs = buf[lead::psize][:n]
    return len(syncs) - len(syncs.lstrip(b"G"))


def _resync(r: Reader, pos: int, lead: int, psize: int, confirm: int = 5) -> int | None:
    """First packet start at or after ``pos`` followed by ``confirm`` packets in sync."""
    while pos < r.size:
        buf = r.read(pos, 1 << 16)
        if len(buf) < psize * confirm:
            return None
        i = buf.find(b"G", lead)
        while i != -1 and i - lead + psize * confirm <= len(buf):
            p = i - lead
            if all(buf[p + lead + k * psize] == 0x47 for k in range(confirm)):
                return pos + p
            i = buf.find(b"G", i + 1)
        pos += max(1, len(buf) - psize * confirm)  # overlap, so a run across the boundary is seen
    return None


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Check packet sync at the start and end (everywhere when deep) and whole packets at the end."""
    size = r.size
    found = find_ts_sync(r.read(0, 1 << 16))
    if found is None:
        out.corrupt("no_sync", "no run of MPEG-TS packets found at the start of the file")
        return
    sync_at, psize = found
    lead = 4 if psize == 192 else 0
    base = sync_at - lead
    if base < 0:
        base += psize
    if base > 0:
        out.warning("leading_data", f"{plural(base, 'byte')} before the first whole packet")
    if ctx.deep or size - base <= 2 * _REGION:
        end = _walk_all(r, out, base, lead, psize)
    else:
        end = _walk_ends(r, out, base, lead, psize)
    if end is None:
        return
    partial = size - end
    if partial:
        out.corrupt(
            "truncated",
            f"the last packet (byte {end}) has {partial} of {psize} bytes: the file was cut short",
        )


def _walk_all(r: Reader, out: Notes, pos: int, lead: int, psize: int) -> int | None:
    """Check every packet; the offset after the last whole packet in sync, or None if the walk gave up."""
    size = r.size
    lost = lost_bytes = 0
    first_lost = None
    while pos + psize <= size:
        n = min(_CHUNK_PACKETS, (size - pos) // psize)
        buf = r.read(pos, n * psize)
        if len(buf) < psize:
            break  # the file shrank under us
        good = _first_bad(buf, lead, psize)
        if good >= n:
            pos += n * psize
            continue
        bad_at = pos + good * psize
        nxt = _resync(r, bad_at + 1, lead, psize)
        if nxt is None:
            tail = size - bad_at
            if r.all_zero(bad_at, size):
                out.info("trailing_zeros", f"{plural(tail, 'zero byte')} after the last packet")
                return None
            lost += 1
            lost_bytes += tail
            first_lost = bad_at if first_lost is None else first_lost
            pos = size
            break
        lost += 1
        lost_bytes += nxt - bad_at
        first_lost = bad_at if first_lost is None else first_lost
        pos = nxt
    if lost:
        out.corrupt(
            "lost_sync",
            f"packet sync lost {plural(lost, 'time')} ({plural(lost_bytes, 'byte')} out of step, first at byte "
            f"{first_lost})",
        )
        return None
    return pos


def _walk_ends(r: Reader, out: Notes, base: int, lead: int, psize: int) -> int | None:
    """Check the first and last megabyte; the offset after the last whole packet, or None."""
    size = r.size
    head = r.read(base, _REGION // psize * psize)
    if _first_bad(head, lead, psize) < len(head) // psize:
        return _walk_all(r, out, base, lead, psize)
    whole_end = base + (size - base) // psize * psize
    tail_start = max(base, whole_end - _REGION // psize * psize)
    tail = r.read(tail_start, whole_end - tail_start)
    if _first_bad(tail, lead, psize) >= len(tail) // psize:
        return whole_end
    # The end is out of step with the start: bytes were lost or inserted somewhere (or the end is junk).
    nxt = _resync(r, tail_start, lead, psize)
    if nxt is not None and (size - nxt) % psize == 0:
        out.corrupt(
            "lost_sync",
            f"packets near the end are out of step with the start by {(nxt - base) % psize} bytes: data was lost "
            "or inserted in the middle (deep check locates it)",
        )
        return None
    return _walk_all(r, out, tail_start, lead, psize)
