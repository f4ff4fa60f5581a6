"""WavPack: blocks ('wvpk' + size) up to the end, and the samples they reach against the declared total."""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, trailing, trailing_tags


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk blocks; the last one must end inside the file and reach the total sample count."""
    end, _tags = trailing_tags(r)
    pos = 0
    total = None
    reached = 0
    while pos < end:
        h = r.read(pos, 32)
        if len(h) < 32 or h[:4] != b"wvpk":
            if h[:4] == b"wvpk" or b"wvpk".startswith(h[:4]) and len(h) < 4:
                out.corrupt("truncated", f"the file ends inside a block header at byte {pos}")
            elif total is None:
                out.corrupt("bad_header", "no WavPack block at the start")
            else:
                trailing(r, out, pos, "last block")
            return
        block_end = pos + 8 + int.from_bytes(h[4:8], "little")
        if block_end > end:
            out.corrupt(
                "truncated",
                f"the block at byte {pos} needs {block_end - pos} bytes but only {end - pos} are present",
            )
            return
        if total is None:
            total = int.from_bytes(h[12:16], "little") | (h[11] << 32)
            if int.from_bytes(h[12:16], "little") == 0xFFFFFFFF:
                total = 0  # unknown
        index = int.from_bytes(h[16:20], "little") | (h[10] << 32)
        reached = max(reached, index + int.from_bytes(h[20:24], "little"))
        pos = block_end
    if total and reached < total:
        out.corrupt("truncated", f"the blocks reach sample {reached} of {total} declared")
