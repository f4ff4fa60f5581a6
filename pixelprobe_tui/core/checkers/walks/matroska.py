"""Matroska / WebM: EBML header, Segment size against the file, and a walk of the Segment's children.

Known-size elements are skipped by seeking. Unknown sizes (live recordings) are allowed: an unknown-size
Cluster is walked block by block until the next top-level element, and an unknown-size Segment runs to the
end of the file. Truncation is an element (or block) that runs past the end of the file.
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import (
    BLOCK_WALK_LIMIT,
    Notes,
    Reader,
    WalkContext,
    plural,
    trailing,
)

EBML = 0x1A45DFA3
SEGMENT = 0x18538067
CLUSTER = 0x1F43B675
TRACKS = 0x1654AE6B
VOID = 0xEC
DOCTYPE = 0x4282
_TOP_LEVEL = {0x114D9B74, 0x1549A966, TRACKS, CLUSTER, 0x1C53BB6B, 0x1043A770, 0x1254C367, 0x1941A469}
_NAMES = {
    0x114D9B74: "SeekHead",
    0x1549A966: "Info",
    TRACKS: "Tracks",
    CLUSTER: "Cluster",
    0x1C53BB6B: "Cues",
    0x1043A770: "Chapters",
    0x1254C367: "Tags",
    0x1941A469: "Attachments",
    SEGMENT: "Segment",
    EBML: "EBML header",
    VOID: "Void",
}
UNKNOWN = -1
_IN_MEMORY = 8 << 20  # clusters up to this size are checked from one read


class _Bad(Exception):
    pass


def _read_vint(b: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """(value, length) of the EBML variable-length integer at ``pos``; UNKNOWN for all-ones sizes."""
    if pos >= len(b):
        raise IndexError
    first = b[pos]
    if first == 0:
        raise _Bad
    length = 9 - first.bit_length()
    if pos + length > len(b):
        raise IndexError
    value = int.from_bytes(b[pos : pos + length], "big")
    if keep_marker:
        return value, length
    value &= (1 << (7 * length)) - 1
    if value == (1 << (7 * length)) - 1:
        return UNKNOWN, length
    return value, length


def _header(r: Reader, off: int) -> tuple[int, int, int] | None:
    """(id, data offset, size) of the element at ``off``; None if the file ends inside the header."""
    b = r.read(off, 12)
    try:
        eid, ilen = _read_vint(b, 0, keep_marker=True)
        if ilen > 4:
            raise _Bad
        size, slen = _read_vint(b, ilen, keep_marker=False)
    except IndexError:
        return None
    return eid, off + ilen + slen, size


def _name(eid: int) -> str:
    return _NAMES.get(eid, f"element 0x{eid:X}")


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk each EBML document (normally one) in the file."""
    off = 0
    segments = 0
    while off < r.size:
        end = _walk_document(r, out, off, segments, ctx.deep)
        if end is None:
            return
        segments += 1
        nxt = r.read(end, 4)
        if nxt == b"\x1a\x45\xdf\xa3":
            off = end
            continue
        trailing(r, out, end, "Segment")
        return


def _walk_document(r: Reader, out: Notes, off: int, index: int, deep: bool) -> int | None:
    """Walk one EBML header + Segment; the offset after it, or None when the walk had to stop."""
    size = r.size
    try:
        h = _header(r, off)
    except _Bad:
        out.corrupt("bad_header", "the EBML header is malformed")
        return None
    if h is None or h[2] == UNKNOWN or h[1] + h[2] > size:
        out.corrupt("truncated", "the file ends inside the EBML header")
        return None
    eid, data, esize = h
    if index == 0:
        doctype = _doctype(r.read(data, esize))
        if doctype:
            out.facts["doctype"] = doctype
    pos = data + esize
    # The Segment follows, possibly after Void elements.
    while True:
        try:
            h = _header(r, pos)
        except _Bad:
            out.corrupt(
                "bad_element", f"invalid element header at byte {pos}, where the Segment should start"
            )
            return None
        if h is None:
            out.corrupt("truncated", "the file ends before the Segment starts")
            return None
        eid, data, esize = h
        if eid == VOID and esize != UNKNOWN:
            pos = data + esize
            continue
        break
    if eid != SEGMENT:
        out.corrupt("bad_element", f"expected a Segment at byte {pos}, found {_name(eid)}")
        return None
    seg_end = size if esize == UNKNOWN else data + esize
    if esize != UNKNOWN and seg_end > size:
        out.corrupt(
            "truncated",
            f"the Segment declares {esize} bytes but the file ends after {size - data}: "
            f"{plural(seg_end - size, 'byte')} missing",
        )
        _walk_children(r, out, data, size, report_truncation=False)
        return None
    ok, found = _walk_children(
        r, out, data, seg_end, report_truncation=True, known_end=esize != UNKNOWN, deep=deep
    )
    if ok and TRACKS not in found and index == 0:
        out.corrupt("missing_element", "the Segment has no Tracks element: nothing can be played")
    return seg_end if ok else None


def _walk_children(
    r: Reader,
    out: Notes,
    pos: int,
    end: int,
    report_truncation: bool,
    known_end: bool = True,
    deep: bool = False,
) -> tuple[bool, set[int]]:
    """Walk top-level elements in ``[pos, end)``; (walk completed cleanly, ids found)."""
    size = r.size
    found: set[int] = set()
    walk_blocks = deep or size <= BLOCK_WALK_LIMIT
    while pos < end:
        try:
            h = _header(r, pos)
        except _Bad:
            if r.all_zero(pos, end):
                if known_end:
                    out.corrupt(
                        "zero_fill", f"{end - pos} zero bytes fill the rest of the Segment from byte {pos}"
                    )
                    return False, found
                out.warning("trailing_zeros", f"{end - pos} zero bytes after the last element (byte {pos})")
                return True, found
            out.corrupt(
                "bad_element", f"invalid element header at byte {pos}: the element structure is broken"
            )
            return False, found
        if h is None:
            if report_truncation:
                out.corrupt("truncated", f"the file ends inside an element header at byte {pos}")
            return False, found
        eid, data, esize = h
        found.add(eid)
        if eid == TRACKS and esize != UNKNOWN and esize < (1 << 20) and data + esize <= size:
            _note_track_family(r.read(data, esize), out)
        if esize == UNKNOWN:
            if eid != CLUSTER:
                out.info("unknown_size", f"{_name(eid)} at byte {pos} has an unknown size; walk stopped")
                return True, found
            nxt = _walk_unknown_cluster(r, out, data, end, report_truncation)
            if nxt is None:
                return False, found
            pos = nxt
            continue
        if data + esize > size:
            if report_truncation:
                out.corrupt(
                    "truncated",
                    f"{_name(eid)} at byte {pos} declares {esize} bytes but the file ends after "
                    f"{size - data}: {plural(data + esize - size, 'byte')} missing",
                )
            return False, found
        if data + esize > end:
            out.corrupt("bad_element", f"{_name(eid)} at byte {pos} runs past the end of its Segment")
            return False, found
        if eid == CLUSTER and walk_blocks and not _cluster_children_fit(r, out, data, data + esize):
            return False, found
        pos = data + esize
    return True, found


def _cluster_children_fit(r: Reader, out: Notes, pos: int, end: int) -> bool:
    """Blocks of a known-size Cluster must tile it exactly; a broken header inside means damaged data."""
    start = pos
    if end - pos <= _IN_MEMORY:
        buf = r.read(pos, end - pos)  # one read instead of one per block header
        bad = _first_untiled(buf)
        if bad is None:
            return True
        pos += bad
    else:
        while pos < end:
            try:
                h = _header(r, pos)
            except _Bad:
                h = None
            if h is None or h[2] == UNKNOWN or h[1] + h[2] > end:
                break
            pos = h[1] + h[2]
        else:
            return True
    out.corrupt(
        "bad_element", f"the Cluster at byte {start} is damaged: no valid element at byte {pos} inside it"
    )
    return False


def _first_untiled(buf: bytes) -> int | None:
    """Offset in ``buf`` where the element sequence breaks (None when elements tile it exactly)."""
    pos, n = 0, len(buf)
    while pos < n:
        first = buf[pos]
        if first == 0:
            return pos
        ilen = 9 - first.bit_length()
        if ilen > 4 or pos + ilen >= n:
            return pos
        b = buf[pos + ilen]
        if b == 0:
            return pos
        slen = 9 - b.bit_length()
        data = pos + ilen + slen
        if data > n:
            return pos
        size = int.from_bytes(buf[pos + ilen : data], "big") & ((1 << (7 * slen)) - 1)
        if size == (1 << (7 * slen)) - 1 or data + size > n:
            return pos
        pos = data + size
    return None


def _walk_unknown_cluster(r: Reader, out: Notes, pos: int, end: int, report_truncation: bool) -> int | None:
    """Walk the children of an unknown-size Cluster; the offset where it ends, or None on damage."""
    size = r.size
    while pos < end:
        try:
            h = _header(r, pos)
        except _Bad:
            out.corrupt("bad_element", f"invalid element header at byte {pos} inside a Cluster")
            return None
        if h is None:
            if report_truncation:
                out.corrupt("truncated", f"the file ends inside a block header at byte {pos}")
            return None
        eid, data, esize = h
        if eid in _TOP_LEVEL or eid in (EBML, SEGMENT):
            return pos
        if esize == UNKNOWN:
            out.info("unknown_size", f"element 0x{eid:X} at byte {pos} has an unknown size; walk stopped")
            return end
        if data + esize > size:
            if report_truncation:
                out.corrupt(
                    "truncated",
                    f"a block at byte {pos} declares {esize} bytes but the file ends after {size - data}: "
                    f"{plural(data + esize - size, 'byte')} missing",
                )
            return None
        pos = data + esize
    return pos


def _doctype(header: bytes) -> str | None:
    pos = 0
    try:
        while pos < len(header):
            eid, ilen = _read_vint(header, pos, keep_marker=True)
            esize, slen = _read_vint(header, pos + ilen, keep_marker=False)
            data = pos + ilen + slen
            if esize == UNKNOWN:
                return None
            if eid == DOCTYPE:
                return header[data : data + esize].rstrip(b"\x00").decode("ascii", "replace")
            pos = data + esize
    except (IndexError, _Bad):
        return None
    return None


def _children(b: bytes, pos: int, end: int):
    """(id, data start, data end) of the elements in ``b[pos:end]`` (stops at anything malformed)."""
    while pos < end:
        try:
            eid, ilen = _read_vint(b, pos, keep_marker=True)
            esize, slen = _read_vint(b, pos + ilen, keep_marker=False)
        except (IndexError, _Bad):
            return
        data = pos + ilen + slen
        if esize == UNKNOWN or data + esize > end:
            return
        yield eid, data, data + esize
        pos = data + esize


def _note_track_family(tracks: bytes, out: Notes) -> None:
    """Record the family the track types imply (any video track makes it video)."""
    types = set()
    for eid, s, e in _children(tracks, 0, len(tracks)):
        if eid == 0xAE:  # TrackEntry
            for cid, cs, ce in _children(tracks, s, e):
                if cid == 0x83:  # TrackType: 1 video, 2 audio
                    types.add(int.from_bytes(tracks[cs:ce], "big"))
    if 1 in types:
        out.facts["family"] = "video"
    elif 2 in types:
        out.facts["family"] = "audio"
