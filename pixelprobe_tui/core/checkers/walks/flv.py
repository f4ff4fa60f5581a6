"""FLV: header, then tags each followed by the size of the tag before it.

Checks the end first through the back-pointer chain (the last four bytes give the size of the last tag);
only when that does not hold is every tag walked to find where the damage is.
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import BLOCK_WALK_LIMIT, Notes, Reader, WalkContext, trailing


def _last_tag_ok(r: Reader) -> bool:
    if r.size < 15:
        return False
    prev = int.from_bytes(r.read(r.size - 4, 4), "big")
    start = r.size - 4 - prev
    if prev < 11 or start < 9:
        return False
    tag = r.read(start, 4)
    return tag[0] & 0x1F in (8, 9, 18) and int.from_bytes(tag[1:4], "big") + 11 == prev


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Tag walk: every tag inside the file, back-pointers consistent."""
    size = r.size
    hdr = r.read(0, 9)
    if len(hdr) < 9:
        out.corrupt("truncated", "the file ends inside the FLV header")
        return
    pos = int.from_bytes(hdr[5:9], "big")
    if pos < 9:
        out.corrupt("bad_header", f"invalid FLV header size {pos}")
        return
    if size == pos + 4:
        out.corrupt("no_data", "the file holds no tags")
        return
    if not ctx.deep and size > BLOCK_WALK_LIMIT and _last_tag_ok(r):
        return  # a huge file whose end is consistent: skip the tag-by-tag walk unless deep
    pos += 4  # PreviousTagSize0
    tags = 0
    while pos < size:
        tag = r.read(pos, 11)
        if len(tag) < 11:
            out.corrupt("truncated", f"the file ends inside a tag header at byte {pos}")
            return
        if tag[0] & 0x1F not in (8, 9, 18):
            if tags:
                trailing(r, out, pos, "last tag")
            else:
                out.corrupt("bad_tag", f"invalid tag type {tag[0]} at byte {pos}")
            return
        data_size = int.from_bytes(tag[1:4], "big")
        end = pos + 11 + data_size + 4
        if end == size + 4:
            out.warning(
                "missing_back_pointer", "the last tag is complete but its trailing size field is missing"
            )
            return
        if end > size:
            out.corrupt(
                "truncated",
                f"the tag at byte {pos} needs {11 + data_size + 4} bytes but only {size - pos} are present",
            )
            return
        back = int.from_bytes(r.read(end - 4, 4), "big")
        if back != 11 + data_size and back != 0:
            out.corrupt(
                "bad_tag", f"the size after the tag at byte {pos} is {back}, expected {11 + data_size}"
            )
            return
        tags += 1
        pos = end
