"""GIF: header, colour tables, then image and extension blocks (with their sub-blocks) up to the trailer.

A file that ends right after a complete image, without the trailer byte, is only a warning: old encoders
left the trailer out, every decoder shows such a file in full, and a cut that lands exactly on a block
boundary is rare next to one inside image data (which is truncation).
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, plural, trailing


def _skip_sub_blocks(r: Reader, pos: int) -> int | None:
    """Offset after a chain of data sub-blocks ending with a zero-length block; None at end of file."""
    size = r.size
    while pos < size:
        n = r.read(pos, 1)
        if not n:
            return None
        if n[0] == 0:
            return pos + 1
        pos += 1 + n[0]
    return None


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Walk blocks from the logical screen descriptor to the trailer (0x3B)."""
    size = r.size
    lsd = r.read(6, 7)
    if len(lsd) < 7:
        out.corrupt("truncated", "the file ends inside the GIF header")
        return
    screen_w, screen_h = int.from_bytes(lsd[0:2], "little"), int.from_bytes(lsd[2:4], "little")
    pos = 13
    if lsd[4] & 0x80:
        pos += 3 << ((lsd[4] & 7) + 1)
    images = 0
    stray = 0
    while True:
        b = r.read(pos, 1)
        if not b:
            if images:
                out.warning(
                    "missing_trailer",
                    f"the file ends after {plural(images, 'complete image')} without the GIF trailer byte",
                )
            else:
                out.corrupt("truncated", "the file ends before any image")
            return
        intro = b[0]
        if intro == 0x3B:
            pos += 1
            break
        if intro == 0x21:
            nxt = _skip_sub_blocks(r, pos + 2)
        elif intro == 0x2C:
            desc = r.read(pos + 1, 9)
            if len(desc) < 9:
                nxt = None
            elif (
                screen_w
                and screen_h
                and (
                    int.from_bytes(desc[0:2], "little") >= screen_w
                    or int.from_bytes(desc[2:4], "little") >= screen_h
                )
            ):
                # A frame placed wholly off the screen shows nothing; no writer does it, a flipped bit in
                # its position does (FFmpeg: "Invalid left position").
                left, top = int.from_bytes(desc[0:2], "little"), int.from_bytes(desc[2:4], "little")
                out.corrupt(
                    "bad_header",
                    f"image {images + 1} at byte {pos} starts at ({left}, {top}), outside the "
                    f"{screen_w}x{screen_h} screen",
                )
                return
            else:
                start = pos + 10
                if desc[8] & 0x80:
                    start += 3 << ((desc[8] & 7) + 1)
                code_size = r.read(start, 1)
                if code_size and not 1 <= code_size[0] <= 11:
                    # Codes are at most 12 bits: no decoder starts from a larger (or zero) size.
                    out.corrupt(
                        "bad_header",
                        f"image {images + 1} at byte {pos}: LZW minimum code size {code_size[0]}",
                    )
                    return
                nxt = _skip_sub_blocks(r, start + 1)  # after the LZW minimum code size byte
        elif intro == 0x00 and images:
            # A stray zero between blocks (some encoders write one); decoders skip it.
            if not stray:
                out.warning("stray_bytes", f"stray zero byte between blocks at byte {pos}")
            stray += 1
            pos += 1
            continue
        else:
            if images and r.all_zero(pos, size):
                out.corrupt("missing_trailer", f"no trailer: zero bytes follow image {images} (data lost)")
            else:
                out.corrupt("bad_block", f"unknown block type 0x{intro:02X} at byte {pos}")
            return
        if nxt is None:
            what = "image data" if intro == 0x2C else "an extension block"
            out.corrupt("truncated", f"the file ends inside {what} (block at byte {pos})")
            return
        if intro == 0x2C:
            images += 1
        pos = nxt
    if not images:
        out.corrupt("no_image_data", "the trailer comes before any image")
        return
    trailing(r, out, pos, "trailer")
