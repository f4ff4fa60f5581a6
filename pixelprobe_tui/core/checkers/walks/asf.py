"""ASF (WMV/WMA): top-level objects (header, data, indexes) must end inside the file."""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural, trailing

HEADER = bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C")
DATA = bytes.fromhex("3626B2758E66CF11A6D900AA0062CE6C")
_NAMES = {HEADER: "header", DATA: "data"}


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk top-level objects by their 64-bit sizes."""
    size = r.size
    pos = 0
    seen_data = False
    while pos < size:
        hdr = r.read(pos, 24)
        if len(hdr) < 24:
            trailing(r, out, pos, "last object")
            return
        guid = hdr[:16]
        obj_size = int.from_bytes(hdr[16:24], "little")
        name = _NAMES.get(guid, "an object")
        if pos == 0 and guid != HEADER:
            out.corrupt("bad_header", "the file does not start with an ASF header object")
            return
        if obj_size < 24:
            if guid == DATA and obj_size == 0:
                out.info("unknown_size", "the data object has no size (a broadcast or unfinished recording)")
                return
            if seen_data:
                trailing(r, out, pos, "last object")
            else:
                out.corrupt("bad_object", f"invalid object at byte {pos} (size {obj_size})")
            return
        if pos + obj_size > size:
            out.corrupt(
                "truncated",
                f"the {name} object at byte {pos} declares {obj_size} bytes but the file ends after {size - pos}: "
                f"{plural(pos + obj_size - size, 'byte')} missing",
            )
            return
        seen_data = seen_data or guid == DATA
        pos += obj_size
    if not seen_data:
        out.corrupt("missing_object", "no data object: the file holds no media")
