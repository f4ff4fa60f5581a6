"""MPEG program stream (MPEG-1 system streams, MPEG-2 PS, VOB): pack headers and PES packet lengths.

Every unit starts with a start code and says how long it is, so a walk lands exactly on the end of the
file when nothing is missing. Without ``deep`` the walk covers the first megabyte and, from a verified
pack header, the last one: that finds truncation (the last packet running past the end). Zero bytes
between units (VCD and SVCD pad their sectors) are skipped when a start code follows them.
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural, trailing

_REGION = 1 << 20
_MAX_STUFFING = 64 * 1024  # zero bytes tolerated between units (VCD pads each 2324-byte sector)
PACK, SYSTEM, END = 0xBA, 0xBB, 0xB9


def _unit_length(r: Reader, pos: int) -> int | None:
    """Length of the pack/system/PES unit at ``pos``; 0 at the end code; None if no start code here."""
    h = r.read(pos, 14)
    if len(h) < 4 or h[:3] != b"\x00\x00\x01":
        return None
    code = h[3]
    if code == END:
        return 4
    if code == PACK:
        if len(h) < 12:
            return -1
        if h[4] >> 6 == 1:  # MPEG-2: 14 bytes plus stuffing
            return 14 + (h[13] & 7) if len(h) == 14 else -1
        if h[4] >> 4 == 2:  # MPEG-1: 12 bytes
            return 12
        return None
    if code == SYSTEM or code >= 0xBC:
        if len(h) < 6:
            return -1
        return 6 + int.from_bytes(h[4:6], "big")
    return None


def _after_zero_stuffing(r: Reader, pos: int, stop: int) -> int | None:
    """Where the next start code begins after zero bytes at ``pos`` (VCD/SVCD sectors pad with zeros
    before the next pack); None if ``pos`` holds no zero padding that ends in a start code."""
    limit = min(stop, r.size, pos + _MAX_STUFFING)
    q = pos
    while q < limit:
        buf = r.read(q, min(4096, limit - q))
        if not buf:
            return None
        rest = buf.lstrip(b"\x00")
        if rest:
            q += len(buf) - len(rest)
            break
        q += len(buf)
    else:
        return None
    # Progress is required: the two zeros of the start code itself are not stuffing.
    if q - 2 > pos and r.read(q, 1) == b"\x01":
        return q - 2
    return None


def _walk(r: Reader, out: Notes, pos: int, stop: int, report: bool) -> tuple[str, int, int]:
    """Walk units from ``pos`` until ``stop``; ('ok'|'end'|'cut'|'lost', offset, units walked)."""
    size = r.size
    units = 0
    while pos < stop:
        n = _unit_length(r, pos)
        if n is None:
            nxt = _after_zero_stuffing(r, pos, stop)
            if nxt is None:
                return "lost", pos, units
            pos = nxt
            continue
        if n == -1 or pos + n > size:
            if report:
                need = "a header" if n == -1 else f"{n} bytes"
                out.corrupt(
                    "truncated",
                    f"the packet at byte {pos} needs {need} but only {size - pos} bytes are present",
                )
            return "cut", pos, units
        if r.read(pos + 3, 1) == bytes([END]):
            return "end", pos + n, units
        pos += n
        units += 1
    return "ok", pos, units


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk packets; trailing zero padding after the end code is fine."""
    size = r.size
    whole = ctx.deep or size <= 2 * _REGION
    stop = size if whole else _REGION
    state, pos, _ = _walk(r, out, 0, stop, report=True)
    while state == "end" and r.read(pos, 4) == b"\x00\x00\x01\xba":
        state, pos, _ = _walk(r, out, pos, stop, report=True)  # concatenated programs
    if state == "cut":
        return
    if state == "lost":
        _lost(r, out, pos)
        return
    if state == "end":
        if pos < size:
            trailing(r, out, pos, "program end code")
        return
    if whole:
        return
    # The tail: find a pack header whose walk is consistent, then walk to the end of the file.
    start = size - _REGION
    while start < size:
        buf = r.read(start, min(_REGION, size - start))
        if not buf:
            return
        i = buf.find(b"\x00\x00\x01\xba")
        if i == -1:
            return  # no pack header near the end: nothing certain to say
        cand = start + i
        state, end, units = _walk(r, out, cand, size, report=False)
        # A pack header found by searching could be payload bytes: trust it once a few units line up.
        if state in ("ok", "end") or (state == "cut" and units >= 3):
            if state == "cut":
                _walk(r, out, cand, size, report=True)
            elif state == "end" and end < size:
                trailing(r, out, end, "program end code")
            return
        start = cand + 4


def _lost(r: Reader, out: Notes, pos: int) -> None:
    if r.all_zero(pos, r.size):
        trailing(r, out, pos, "last packet")
        return
    out.corrupt(
        "lost_sync",
        f"no start code where a packet should begin (byte {pos}): {plural(r.size - pos, 'byte')} "
        "from there could not be walked",
    )
