"""ISO base media file format (MP4, MOV, 3GP, M4A, HEIF, AVIF, CR3): box walk and sample-table bounds.

Top level: every box must end inside the file (a box running past the end is truncation; ``size 0`` means
"to the end of the file"). The movie box must exist (``meta`` for HEIF images). Inside ``moov`` the chunk
offset and sample size tables say exactly where each sample lives, so a cut inside ``mdat`` shows as
samples beyond the end of the file even when ``mdat`` claims "to end of file". For HEIF the item
locations (``iloc``) play the same role. The movie's structural boxes must tile their parents exactly (a
flipped size bit makes a child swallow its siblings, and FFmpeg then finds no samples), a box holding what
a track, media, media information or sample table box (or a fragment's track box) holds must carry that
type (a flipped bit in 'trak' hides the track from FFmpeg), and every audio or video track needs its five
sample-table boxes.
"""

from __future__ import annotations

from array import array

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, fourcc, plural, trailing

_MOOV_LIMIT = 256 * 1024 * 1024  # above this the sample tables are not read (a pathological moov)
_MOOF_LIMIT = 1024 * 1024  # fragment headers above this are not read (their track boxes are not checked)
_CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"edts", b"mvex", b"traf"}
_IMAGE_CONTAINERS = {"heif", "avif"}
# Registered top-level boxes: one of these cut short is truncation; an unknown "box" running past the end
# of an otherwise complete file is more likely foreign bytes appended to it.
_KNOWN_TOP_LEVEL = {
    b"moov",
    b"mdat",
    b"moof",
    b"meta",
    b"ftyp",
    b"free",
    b"skip",
    b"wide",
    b"uuid",
    b"udta",
    b"mfra",
    b"sidx",
    b"ssix",
    b"styp",
    b"prft",
    b"emsg",
    b"pdin",
    b"meco",
    b"pnot",
    b"junk",
    b"Xtra",
}


def _plausible_type(t: bytes) -> bool:
    return len(t) == 4 and all(32 <= c < 127 or c == 0xA9 for c in t)


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk top-level boxes, then the sample tables of ``moov`` (or ``iloc`` of a HEIF ``meta``)."""
    size = r.size
    off = 0
    seen: dict[bytes, tuple[int, int, int]] = {}  # type -> (offset, header length, box size) of the first
    truncated = False
    fragment_damaged = False
    while off < size:
        hdr = r.read(off, 16)
        if len(hdr) < 8:
            if seen:
                trailing(r, out, off, "last box")
            else:
                out.corrupt("truncated", f"file ends inside the first box header ({size} bytes)")
            break
        box_size = int.from_bytes(hdr[:4], "big")
        typ = hdr[4:8]
        hlen = 8
        if box_size == 1:
            if len(hdr) < 16:
                out.corrupt(
                    "truncated", f"file ends inside the 64-bit header of '{fourcc(typ)}' at byte {off}"
                )
                truncated = True
                break
            box_size = int.from_bytes(hdr[8:16], "big")
            hlen = 16
        elif box_size == 0:
            box_size = size - off
        if not _plausible_type(typ) or box_size < hlen:
            if _complete_enough(seen) or r.all_zero(off, size):
                trailing(r, out, off, "last box")
            else:
                out.corrupt(
                    "bad_box",
                    f"invalid box header at byte {off} (type '{fourcc(typ)}', size {box_size}): "
                    "the box structure is broken",
                )
            break
        seen.setdefault(typ, (off, hlen, box_size))
        end = off + box_size
        if end > size and typ not in _KNOWN_TOP_LEVEL and _complete_enough(seen):
            # Everything playable is complete; what follows is foreign bytes appended to the file.
            trailing(r, out, off, "last box")
            break
        if end > size:
            missing = end - size
            out.corrupt(
                "truncated",
                f"'{fourcc(typ)}' box at byte {off} declares {box_size} bytes but the file ends after "
                f"{size - off}: {plural(missing, 'byte')} missing",
            )
            truncated = True
            break
        if typ == b"moof" and box_size <= _MOOF_LIMIT and not fragment_damaged:
            # A fragment's track boxes (a few hundred bytes, next to the header just read).
            moof = r.read(off + hlen, box_size - hlen)
            problem = _nesting_problem(moof, 0, len(moof), "moof") or _misnamed_box(
                moof, 0, len(moof), "moof"
            )
            if problem:
                out.corrupt("bad_box", f"broken movie fragment at byte {off}: {problem}")
                fragment_damaged = True
        off = end

    container = ctx.sniff.container
    if container in _IMAGE_CONTAINERS:
        if b"meta" not in seen:
            if not truncated:
                out.corrupt("missing_box", "no 'meta' box: the image has no item information")
            return
        if not truncated:
            _check_heif_items(r, out, *seen[b"meta"])
        return
    if b"moov" not in seen:
        if b"moof" in seen:
            out.warning("missing_box", "no 'moov' box, only movie fragments: a media segment, not a movie")
        elif not truncated or b"mdat" in seen:
            out.corrupt(
                "missing_box",
                "no 'moov' box: the movie index is missing (recording not finalised or file cut)",
            )
        return
    moov_off, moov_hlen, moov_size = seen[b"moov"]
    if moov_off + moov_size > size or moov_size > _MOOV_LIMIT:
        return
    _check_movie(r, out, r.read(moov_off + moov_hlen, moov_size - moov_hlen))


def _complete_enough(seen: dict[bytes, tuple[int, int, int]]) -> bool:
    return (b"moov" in seen or b"meta" in seen) and (b"mdat" in seen or b"moof" in seen)


def _children(buf: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``buf[start:end]``; stops at malformed data."""
    out = []
    pos = start
    while pos + 8 <= end:
        sz = int.from_bytes(buf[pos : pos + 4], "big")
        typ = buf[pos + 4 : pos + 8]
        hlen = 8
        if sz == 1:
            if pos + 16 > end:
                break
            sz = int.from_bytes(buf[pos + 8 : pos + 16], "big")
            hlen = 16
        elif sz == 0:
            sz = end - pos
        if sz < hlen or pos + sz > end:
            break
        out.append((typ, pos + hlen, pos + sz))
        pos += sz
    return out


def _find(buf: bytes, start: int, end: int, path: list[bytes]) -> list[tuple[int, int]]:
    """Payload ranges of boxes along ``path`` (each step a type), descending through containers."""
    ranges = [(start, end)]
    for step in path:
        nxt: list[tuple[int, int]] = []
        for s, e in ranges:
            nxt.extend((cs, ce) for t, cs, ce in _children(buf, s, e) if t == step)
        ranges = nxt
    return ranges


def _nesting_problem(buf: bytes, start: int, end: int, name: str) -> str | None:
    """Where the boxes inside a container stop tiling it (a child past its parent, a broken header).

    Descends through the structural containers of a movie. Up to 7 zero bytes after the last child are
    tolerated (QuickTime writers end some atoms with a 32-bit zero).
    """
    pos = start
    while pos + 8 <= end:
        sz = int.from_bytes(buf[pos : pos + 4], "big")
        typ = buf[pos + 4 : pos + 8]
        hlen = 8
        if sz == 1 and pos + 16 <= end:
            sz, hlen = int.from_bytes(buf[pos + 8 : pos + 16], "big"), 16
        if not _plausible_type(typ) or sz < hlen or pos + sz > end:
            if not buf[pos:end].strip(b"\x00"):
                return None
            return (
                f"the '{fourcc(typ)}' box at byte {pos} of '{name}' (size {sz}) does not fit in its parent, "
                f"which ends at byte {end}"
            )
        if typ in _CONTAINERS:
            problem = _nesting_problem(buf, pos + hlen, pos + sz, fourcc(typ))
            if problem:
                return problem
        pos += sz
    if pos < end and buf[pos:end].strip(b"\x00"):
        return f"{end - pos} stray bytes end '{name}'"
    return None


# What each structural box of a track holds. A box of another type holding these is that box with a
# damaged type (a flipped bit made 'trak' 'traK'): FFmpeg skips it as unknown and loses the track.
_SIGNATURES = {
    b"trak": {b"tkhd", b"mdia"},
    b"mdia": {b"mdhd", b"hdlr"},
    b"minf": {b"dinf", b"stbl"},
    b"stbl": {b"stsd", b"stts"},
    b"traf": {b"tfhd", b"trun"},
}


def _misnamed_box(buf: bytes, start: int, end: int, name: str) -> str | None:
    """A box inside the movie's structural containers whose contents say it is another, known box."""
    for typ, cs, ce in _children(buf, start, end):
        if typ in _CONTAINERS:
            found = _misnamed_box(buf, cs, ce, fourcc(typ))
            if found:
                return found
            continue
        inside = {t for t, _s, _e in _children(buf, cs, ce)}
        for real, signature in _SIGNATURES.items():
            if real != typ and signature <= inside:
                return (
                    f"the '{fourcc(typ)}' box at byte {cs - 8} of '{name}' holds what a '{fourcc(real)}' "
                    f"holds ({', '.join(sorted(fourcc(t) for t in signature))}): its type is damaged"
                )
    return None


# Sample-table boxes every track holding media needs (fragmented files keep them, empty).
_STBL_REQUIRED = ((b"stsd",), (b"stts",), (b"stsc",), (b"stsz", b"stz2"), (b"stco", b"co64"))


def _check_movie(r: Reader, out: Notes, moov: bytes) -> None:
    size = r.size
    handlers = []
    problems = []
    nesting = _nesting_problem(moov, 0, len(moov), "moov")
    if nesting:
        out.corrupt("bad_box", f"broken movie index: {nesting}")
        return
    misnamed = _misnamed_box(moov, 0, len(moov), "moov")
    if misnamed:
        out.corrupt("bad_box", f"broken movie index: {misnamed}")
    for n, (ts, te) in enumerate(_find(moov, 0, len(moov), [b"trak"]), start=1):
        handler = _handler(moov, ts, te)
        handlers.append(handler)
        mdia = _find(moov, ts, te, [b"mdia"])
        if not mdia:
            continue
        minf = _find(moov, *mdia[0], [b"minf"])
        if not minf or not _self_contained(moov, *minf[0]):
            continue  # data lives in another file (QuickTime reference movie)
        stbl = _find(moov, *minf[0], [b"stbl"])
        if not stbl:
            continue
        if handler in ("vide", "soun"):
            present = {t for t, _s, _e in _children(moov, *stbl[0])}
            missing = [alts[0] for alts in _STBL_REQUIRED if not present.intersection(alts)]
            if missing:
                names = ", ".join(f"'{fourcc(t)}'" for t in missing)
                problems.append(f"track {n} ({handler}): its sample table has no {names} box")
                continue
        res = _track_extent(moov, *stbl[0], size)
        if res is None:
            continue
        beyond, total, data_end = res
        if beyond:
            problems.append(
                f"track {n} ({handler or '?'}): {beyond} of {plural(total, 'sample')} lie beyond the end "
                f"of the file (data should reach byte {data_end}, file has {size})"
            )
    if "vide" in handlers:
        out.facts["family"] = "video"
    elif "soun" in handlers:
        out.facts["family"] = "audio"
    for p in problems:
        out.corrupt("missing_box" if "sample table has no" in p else "samples_beyond_eof", p)


def _handler(moov: bytes, ts: int, te: int) -> str | None:
    for s, e in _find(moov, ts, te, [b"mdia", b"hdlr"]):
        if e - s >= 12:
            return moov[s + 8 : s + 12].decode("latin-1")
    return None


def _self_contained(moov: bytes, s: int, e: int) -> bool:
    """False when a data reference points outside this file."""
    for ds, de in _find(moov, s, e, [b"dinf", b"dref"]):
        for typ, cs, _ce in _children(moov, ds + 8, de):
            flags = int.from_bytes(moov[cs + 1 : cs + 4], "big")
            if typ in (b"url ", b"urn ", b"alis", b"rsrc") and not flags & 1:
                return False
    return True


def _u32_array(b: bytes) -> array:
    a = array("I")
    if a.itemsize != 4:  # pragma: no cover - exotic platforms
        a = array("L")
    a.frombytes(b[: len(b) // 4 * 4])
    a.byteswap()
    return a


def _track_extent(moov: bytes, s: int, e: int, file_size: int) -> tuple[int, int, int] | None:
    """(samples beyond EOF, total samples, byte where the track's data ends) or None if unknown."""
    boxes = {t: (cs, ce) for t, cs, ce in _children(moov, s, e)}
    if b"stco" in boxes:
        cs, ce = boxes[b"stco"]
        n = int.from_bytes(moov[cs + 4 : cs + 8], "big")
        offsets: list[int] | array = _u32_array(moov[cs + 8 : min(ce, cs + 8 + 4 * n)])
    elif b"co64" in boxes:
        cs, ce = boxes[b"co64"]
        n = int.from_bytes(moov[cs + 4 : cs + 8], "big")
        raw = moov[cs + 8 : min(ce, cs + 8 + 8 * n)]
        offsets = [int.from_bytes(raw[i : i + 8], "big") for i in range(0, len(raw) - 7, 8)]
    else:
        return None
    if b"stsz" not in boxes or b"stsc" not in boxes or not offsets:
        return None
    zs, ze = boxes[b"stsz"]
    const = int.from_bytes(moov[zs + 4 : zs + 8], "big")
    count = int.from_bytes(moov[zs + 8 : zs + 12], "big")
    sizes = None if const else _u32_array(moov[zs + 12 : min(ze, zs + 12 + 4 * count)])
    if sizes is not None:
        count = len(sizes)
    ss, se = boxes[b"stsc"]
    nent = int.from_bytes(moov[ss + 4 : ss + 8], "big")
    ent = _u32_array(moov[ss + 8 : min(se, ss + 8 + 12 * nent)])
    entries = [(ent[i], ent[i + 1]) for i in range(0, len(ent) - 2, 3)]
    if not entries:
        return None
    nchunks = len(offsets)
    sample = 0
    beyond = 0
    data_end = 0
    for i, (first, per_chunk) in enumerate(entries):
        last = entries[i + 1][0] - 1 if i + 1 < len(entries) else nchunks
        for chunk in range(max(first, 1), min(last, nchunks) + 1):
            if sample >= count:
                break
            take = min(per_chunk, count - sample)
            start = offsets[chunk - 1]
            nbytes = const * take if sizes is None else sum(sizes[sample : sample + take])
            end = start + nbytes
            if end > data_end:
                data_end = end
            if end > file_size:
                if start >= file_size:
                    beyond += take
                else:
                    # Count the samples of a chunk cut in the middle one by one.
                    pos = start
                    for k in range(take):
                        pos += const if sizes is None else sizes[sample + k]
                        if pos > file_size:
                            beyond += take - k
                            break
            sample += take
    return beyond, count, data_end


def _check_heif_items(r: Reader, out: Notes, meta_off: int, hlen: int, meta_size: int) -> None:
    """Every item extent stored in the file (construction method 0) must lie inside it."""
    if meta_off + meta_size > r.size or meta_size > _MOOV_LIMIT:
        return
    meta = r.read(meta_off + hlen, meta_size - hlen)
    out.facts["family"] = "image"
    for typ, cs, ce in _children(meta, 4, len(meta)):  # meta is a full box: skip version + flags
        if typ == b"iloc":
            extents = _iloc_extents(meta[cs:ce])
            if extents is None:
                out.corrupt("bad_box", "the item location box ('iloc') is malformed")
                return
            bad = [(item, o, n) for item, o, n in extents if o + n > r.size]
            if bad:
                item, o, n = bad[0]
                out.corrupt(
                    "truncated",
                    f"{plural(len(bad), 'image item extent')} lie beyond the end of the file "
                    f"(item {item} needs bytes {o}..{o + n}, file has {r.size})",
                )
            return


def _iloc_extents(b: bytes) -> list[tuple[int, int, int]] | None:
    """(item id, absolute offset, length) of each file-stored extent of an ``iloc`` payload."""
    try:
        version = b[0]
        pos = 4
        off_size, len_size = b[pos] >> 4, b[pos] & 15
        base_size = b[pos + 1] >> 4
        idx_size = (b[pos + 1] & 15) if version in (1, 2) else 0
        pos += 2

        def uint(n: int) -> int:
            nonlocal pos
            v = int.from_bytes(b[pos : pos + n], "big")
            if pos + n > len(b):
                raise IndexError
            pos += n
            return v

        count = uint(2) if version < 2 else uint(4)
        result = []
        for _ in range(count):
            item = uint(2) if version < 2 else uint(4)
            method = uint(2) & 15 if version in (1, 2) else 0
            external = uint(2) != 0  # data reference index: 0 is this file
            base = uint(base_size)
            for _ in range(uint(2)):
                if idx_size:
                    uint(idx_size)
                o = uint(off_size)
                n = uint(len_size)
                if method == 0 and n and not external:
                    result.append((item, base + o, n))
        return result
    except IndexError:
        return None
