"""TIFF (and TIFF-based camera raw: CR2, NEF, DNG, ARW, ORF, RW2 ...): IFD chain and image data bounds.

Every IFD (main chain, SubIFDs, EXIF) must lie inside the file, and every strip or tile (offset + byte
count) too: a TIFF cut short loses its last strips, and its IFD is often at the end, so it is lost too.

Plain TIFF images (not camera raw, whose vendors bend the rules) get a stricter look at their image IFDs,
where a flipped bit turns into a wrong pixel mode or a failed open: every entry must have a field type
TIFF defines, its values must lie inside the file, and the image needs its width and height.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural
from pixelprobe_tui.core.media import RAW_EXTENSIONS

_TYPE_SIZE = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}
STRIP_OFFSETS, STRIP_COUNTS, TILE_OFFSETS, TILE_COUNTS = 273, 279, 324, 325
JPEG_IF, JPEG_IF_LEN = 513, 514
SUB_IFDS, EXIF_IFD = 330, 34665
_WIDTH, _LENGTH = 256, 257
_BITS, _COMPRESSION, _PHOTOMETRIC, _SAMPLES = 258, 259, 262, 277
_COLOUR = {2, 5, 6, 8, 9, 10}  # RGB, separated (CMYK), YCbCr, CIELab, ICCLab, ITULab
_THREE_CHANNELS = {2, 6}  # RGB and YCbCr need three samples (CIELab may be one: L only)
# Image tags whose value 0 no TIFF writer produces (a zeroed IFD block, not a variant).
_NONZERO = {
    256: "ImageWidth",
    257: "ImageLength",
    258: "BitsPerSample",
    259: "Compression",
    277: "SamplesPerPixel",
}
# Image tags that hold exactly one value: another count is a damaged entry (Pillow then ignores the tag
# and guesses, FFmpeg reads garbage: "Unknown compression method 0").
_SINGLE = {
    256: "ImageWidth",
    257: "ImageLength",
    259: "Compression",
    262: "PhotometricInterpretation",
    277: "SamplesPerPixel",
    284: "PlanarConfiguration",
}
# Tags that lay out the pixels: two entries for one of them is a damaged directory, not a writer's choice.
_LAYOUT = {*_SINGLE, 258, 273, 278, 279, 322, 323, 324, 325, 338, 339}
_MAX_IFDS = 4096


class _Tiff:
    def __init__(self, r: Reader):
        self.r = r
        magic = r.read(0, 4)
        self.order: Literal["little", "big"] = "little" if magic[:2] == b"II" else "big"
        self.big = magic[2:4] in (b"+\x00", b"\x00+")
        self.entry_size = 20 if self.big else 12
        self.count_size = 8 if self.big else 2
        self.off_size = 8 if self.big else 4

    def uint(self, b: bytes) -> int:
        return int.from_bytes(b, self.order)

    def first_ifd(self) -> int | None:
        if self.big:
            hdr = self.r.read(4, 12)
            return self.uint(hdr[4:12]) if len(hdr) == 12 else None
        hdr = self.r.read(4, 4)
        return self.uint(hdr) if len(hdr) == 4 else None

    def values(self, entry: bytes) -> list[int] | None:
        """Integer values of an IFD entry (inline or at its offset); None if they lie outside the file."""
        typ = self.uint(entry[2:4])
        count = self.uint(entry[4 : 4 + self.off_size]) if self.big else self.uint(entry[4:8])
        width = _TYPE_SIZE.get(typ)
        if width is None or typ not in (3, 4, 13, 16, 18) or count > 4_000_000:
            return []  # not an offset/count type, or an implausible table we will not load
        nbytes = width * count
        field = entry[4 + self.off_size :] if self.big else entry[8:12]
        if nbytes <= len(field):
            raw = field[:nbytes]
        else:
            off = self.uint(field)
            if off + nbytes > self.r.size:
                return None
            raw = self.r.read(off, nbytes)
        return [self.uint(raw[i : i + width]) for i in range(0, len(raw), width)]


def _implausible_entry(t: _Tiff, tags: dict[int, bytes]) -> str | None:
    """Why an image IFD cannot be right (an unknown field type, values outside the file, no size), or None."""
    for tag, e in tags.items():
        typ = t.uint(e[2:4])
        width = _TYPE_SIZE.get(typ)
        if width is None:
            return f"tag {tag} has field type {typ}, which TIFF does not define"
        count = t.uint(e[4 : 4 + t.off_size]) if t.big else t.uint(e[4:8])
        if tag in _SINGLE and count != 1:
            return f"{_SINGLE[tag]} holds {plural(count, 'value')} instead of one"
        inline = 8 if t.big else 4
        if width * count > inline:
            start = t.uint(e[4 + t.off_size :] if t.big else e[8:12])
            if start + width * count > t.r.size:
                return f"the {width * count} bytes of tag {tag} would lie beyond the end of the file"
    if (STRIP_OFFSETS in tags or TILE_OFFSETS in tags) and not (_WIDTH in tags and _LENGTH in tags):
        return "an image without ImageWidth/ImageLength"
    for tag, name in _NONZERO.items():
        values = t.values(tags[tag]) if tag in tags else None  # [] for types we do not read
        if values and 0 in values:
            return f"{name} is 0"
    compression = _first(t, tags, _COMPRESSION, 1)
    for offsets, counts, what in (
        (STRIP_OFFSETS, STRIP_COUNTS, "strip"),
        (TILE_OFFSETS, TILE_COUNTS, "tile"),
    ):
        if offsets in tags and counts not in tags and compression not in (1, 6):  # 6: old-style JPEG
            # libtiff guesses uncompressed sizes and decodes on; compressed data cannot be delimited
            # without them (FFmpeg fails). Writers always store them; a flipped tag number loses them.
            return f"{what} offsets without {what} byte counts for compressed data"
    if STRIP_OFFSETS in tags or TILE_OFFSETS in tags:
        return _implausible_value(t, tags) or _inconsistent_samples(t, tags) or _unstated_compression(t, tags)
    return None


# Values the TIFF 6 specification and its common extensions (DNG, LogLuv, CIELab) define for the tags that
# lay out the pixels; anything else in an image directory is a damaged value (Pillow: "unknown pixel
# mode", which reads like a variant).
_PLAUSIBLE: dict[int, tuple[str, Callable[[int], bool]]] = {
    258: ("BitsPerSample", lambda v: 1 <= v <= 32 or v == 64),
    262: (
        "PhotometricInterpretation",
        lambda v: v in {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 32803, 32844, 32845, 34892},
    ),
    266: ("FillOrder", lambda v: v in (1, 2)),
    277: ("SamplesPerPixel", lambda v: 1 <= v <= 32),
    284: ("PlanarConfiguration", lambda v: v in (1, 2)),
    339: ("SampleFormat", lambda v: 1 <= v <= 6),
}


def _first(t: _Tiff, tags: dict[int, bytes], tag: int, default: int) -> int:
    """The first value of ``tag`` in an image directory, or ``default`` when it is absent or empty."""
    values = t.values(tags[tag]) if tag in tags else None
    return values[0] if values else default


def _implausible_value(t: _Tiff, tags: dict[int, bytes]) -> str | None:
    """The first layout tag of an image directory holding a value no TIFF writer uses, or None."""
    for tag, (name, plausible) in _PLAUSIBLE.items():
        values = t.values(tags[tag]) if tag in tags else None
        bad = [v for v in values or [] if not plausible(v)]
        if bad:
            return f"{name} is {bad[0]}"
    return None


def _unstated_compression(t: _Tiff, tags: dict[int, bytes]) -> str | None:
    """Strips that cannot be the uncompressed pixels the missing Compression tag implies, or None.

    Without the tag the data is read as uncompressed; a writer that leaves it out writes exactly the
    raw rows. Strips of another size mean the tag was lost (a flipped bit in its number) and the
    compressed bytes are taken for pixels (libtiff decodes garbage, FFmpeg fails).
    """
    if _COMPRESSION in tags or STRIP_COUNTS not in tags or _WIDTH not in tags or _LENGTH not in tags:
        return None
    planar = _first(t, tags, 284, 1)
    width, length = _first(t, tags, _WIDTH, 0), _first(t, tags, _LENGTH, 0)
    bits = (t.values(tags[_BITS]) or [1]) if _BITS in tags else [1]
    samples = _first(t, tags, _SAMPLES, 1)
    counts = t.values(tags[STRIP_COUNTS]) or []
    if planar != 1 or not width or not length or not counts:
        return None
    row = (width * (bits[0] * samples if len(bits) == 1 else sum(bits)) + 7) // 8
    per_strip = _first(t, tags, 278, length)
    per_strip = min(max(per_strip, 1), length)
    for i, count in enumerate(counts):
        rows = min(per_strip, length - i * per_strip)
        if rows > 0 and count != rows * row:
            return (
                f"no Compression tag, but strip {i} holds {count} bytes for {rows * row} bytes of raw pixels"
            )
    return None


def _inconsistent_samples(t: _Tiff, tags: dict[int, bytes]) -> str | None:
    """Sample layout tags that contradict each other (one of them lost to a flipped bit), or None.

    Pillow then names an "unknown pixel mode" (a variant, it seems); no writer produces these.
    """
    samples = _first(t, tags, _SAMPLES, 1)
    photometric = _first(t, tags, _PHOTOMETRIC, 0)
    if _BITS not in tags:
        # The default of 1 bit only makes sense for one sample per pixel.
        if samples > 1 or photometric in _COLOUR:
            return f"no BitsPerSample for an image of {plural(samples, 'sample')} per pixel"
        return None
    bits = t.values(tags[_BITS]) or []
    if len(bits) > 1 and len(bits) != samples:
        return f"{len(bits)} BitsPerSample values for {plural(samples, 'sample')} per pixel"
    if photometric in _THREE_CHANNELS and samples < 3:
        return f"PhotometricInterpretation {photometric} with {plural(samples, 'sample')} per pixel"
    return None


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Follow IFDs from the header; check each IFD and each strip/tile lies inside the file."""
    t = _Tiff(r)
    first = t.first_ifd()
    if first is None:
        out.corrupt("truncated", "the file ends inside the TIFF header")
        return
    strict = ctx.sniff.extension not in RAW_EXTENSIONS
    pending = [(first, "IFD0")]
    visited: set[int] = set()
    ifd_index = 0
    beyond = 0
    total = 0
    first_beyond = ""
    while pending and len(visited) < _MAX_IFDS:
        off, name = pending.pop(0)
        if off == 0 or off in visited:
            continue
        visited.add(off)
        count_b = r.read(off, t.count_size)
        if off + t.count_size > r.size or len(count_b) < t.count_size:
            out.corrupt("truncated", f"{name} should be at byte {off} but the file has {r.size} bytes")
            return
        n = t.uint(count_b)
        if n == 0 and name != "IFD0":
            continue  # an empty sub-IFD holds nothing to check
        table_end = off + t.count_size + n * t.entry_size + t.off_size
        if n == 0 or n > 10_000 or table_end > r.size:
            if table_end > r.size:
                out.corrupt("truncated", f"{name} at byte {off} runs past the end of the file")
            else:
                out.corrupt("bad_ifd", f"{name} at byte {off} has an implausible entry count ({n})")
            return
        table = r.read(off + t.count_size, n * t.entry_size + t.off_size)
        tags: dict[int, bytes] = {}
        twice: int | None = None
        unsorted = ""
        previous = -1
        for i in range(n):
            e = table[i * t.entry_size : (i + 1) * t.entry_size]
            tag = t.uint(e[:2])
            if tag in tags and tag in _LAYOUT and twice is None:
                twice = tag
            if tag < previous and not unsorted:
                unsorted = f"tag {previous} comes before tag {tag} (entries must ascend)"
            previous = tag
            tags[tag] = e
        if strict and not name.startswith("EXIF"):
            # A flipped bit in a tag number: one layout tag twice and, usually, its neighbour gone; or a
            # tag out of the ascending order every writer keeps (FFmpeg then fails to decode).
            problem = (
                f"layout tag {twice} appears twice" if twice else unsorted or _implausible_entry(t, tags)
            )
            if problem:
                out.corrupt("bad_ifd", f"{name} at byte {off}: {problem}")
                return
        for off_tag, cnt_tag in (
            (STRIP_OFFSETS, STRIP_COUNTS),
            (TILE_OFFSETS, TILE_COUNTS),
            (JPEG_IF, JPEG_IF_LEN),
        ):
            if off_tag in tags and cnt_tag in tags:
                offsets = t.values(tags[off_tag])
                counts = t.values(tags[cnt_tag])
                if offsets is None or counts is None:
                    out.corrupt(
                        "truncated", f"the strip/tile table of {name} lies beyond the end of the file"
                    )
                    return
                for o, c in zip(offsets, counts, strict=False):
                    total += 1
                    if c and o + c > r.size:
                        beyond += 1
                        if not first_beyond:
                            first_beyond = f"{name}: bytes {o}..{o + c}"
        for sub_tag, label in ((SUB_IFDS, "SubIFD"), (EXIF_IFD, "EXIF IFD")):
            if sub_tag in tags:
                subs = t.values(tags[sub_tag]) or []
                pending.extend((s, f"{label} of {name}") for s in subs if s < r.size)
        nxt = t.uint(table[n * t.entry_size : n * t.entry_size + t.off_size])
        ifd_index += 1
        if nxt:
            if nxt >= r.size:
                out.corrupt(
                    "truncated", f"the next IFD after {name} should be at byte {nxt}; the file has {r.size}"
                )
                return
            pending.append((nxt, f"IFD{ifd_index}"))
    if beyond:
        out.corrupt(
            "truncated",
            f"{beyond} of {plural(total, 'strip/tile')} lie beyond the end of the file (first {first_beyond}, "
            f"file has {r.size} bytes)",
        )
