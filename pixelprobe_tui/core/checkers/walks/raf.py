"""Fujifilm RAF: the header's offsets to the embedded JPEG, the CFA header and the raw data lie in the file."""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext

_PARTS = ("embedded JPEG", "CFA header", "raw data")


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Check the three (offset, length) pairs at byte 84."""
    table = r.read(84, 24)
    if len(table) < 24:
        out.corrupt("truncated", "the file ends inside the RAF header")
        return
    for i, name in enumerate(_PARTS):
        offset = int.from_bytes(table[8 * i : 8 * i + 4], "big")
        length = int.from_bytes(table[8 * i + 4 : 8 * i + 8], "big")
        if length and offset + length > r.size:
            out.corrupt(
                "truncated",
                f"the {name} needs bytes {offset}..{offset + length} but the file has {r.size}",
            )
            return
