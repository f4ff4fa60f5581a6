"""Native FLAC: metadata blocks, STREAMINFO sanity, first frame sync, and the last frame.

FLAC frames carry no length, but each ends with a CRC-16 over the whole frame and each header says
which samples it holds. Finding the last frame header near the end of the file and checking its CRC
tells whether the file ends on a complete frame; comparing the samples it reaches with STREAMINFO's
total tells whether whole frames are missing. Both are cheap (one tail read).
"""

from __future__ import annotations

from collections.abc import Callable

from pixelprobe_tui.core.checkers.flac_info import (
    STREAMINFO,
    FlacInfoError,
    StreamInfo,
    metadata_blocks,
    parse_streaminfo,
)
from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext, trailing_tags


def _crc_table(poly: int, width: int) -> list[int]:
    top = 1 << (width - 1)
    mask = (1 << width) - 1
    table = []
    for byte in range(256):
        c = byte << (width - 8)
        for _ in range(8):
            c = ((c << 1) ^ poly) if c & top else (c << 1)
        table.append(c & mask)
    return table


_CRC8 = _crc_table(0x07, 8)
_CRC16 = _crc_table(0x8005, 16)


def crc8(data: bytes) -> int:
    c = 0
    for b in data:
        c = _CRC8[c ^ b]
    return c


def crc16(data: bytes) -> int:
    c = 0
    t = _CRC16
    for b in data:
        c = ((c << 8) & 0xFFFF) ^ t[(c >> 8) ^ b]
    return c


_RATES = {
    1: 88200,
    2: 176400,
    3: 192000,
    4: 8000,
    5: 16000,
    6: 22050,
    7: 24000,
    8: 32000,
    9: 44100,
    10: 48000,
    11: 96000,
}
_BITS = {1: 8, 2: 12, 4: 16, 5: 20, 6: 24, 7: 32}


def parse_frame_header(b: bytes, pos: int, info: StreamInfo) -> tuple[int, int, bool] | None:
    """(coded number, block size, variable blocking) of a frame header at ``pos`` consistent with
    STREAMINFO and with a valid CRC-8; None otherwise."""
    if pos + 6 > len(b) or b[pos] != 0xFF or (b[pos + 1] & 0xFE) != 0xF8:
        return None
    variable = bool(b[pos + 1] & 1)
    bs_code, sr_code = b[pos + 2] >> 4, b[pos + 2] & 15
    ch_code, ss_code = b[pos + 3] >> 4, (b[pos + 3] >> 1) & 7
    if bs_code == 0 or sr_code == 15 or ch_code > 10 or ss_code == 3 or b[pos + 3] & 1:
        return None
    channels = ch_code + 1 if ch_code < 8 else 2
    if channels != info.channels:
        return None
    if ss_code and _BITS.get(ss_code) != info.bits_per_sample:
        return None
    if sr_code in _RATES and _RATES[sr_code] != info.sample_rate:
        return None
    # UTF-8-style coded frame or sample number.
    p = pos + 4
    first = b[p]
    if first < 0x80:
        n, extra = first, 0
    elif 0xC0 <= first < 0xFE:
        extra = 8 - (first ^ 0xFF).bit_length() - 1  # leading one bits, minus one
        n = first & (0x3F >> extra)
        if p + 1 + extra > len(b):
            return None
        for k in range(1, extra + 1):
            c = b[p + k]
            if c & 0xC0 != 0x80:
                return None
            n = (n << 6) | (c & 0x3F)
    else:
        return None
    p += 1 + extra
    if bs_code == 1:
        block = 192
    elif bs_code <= 5:
        block = 576 << (bs_code - 2)
    elif bs_code == 6:
        block = b[p] + 1 if p < len(b) else 0
        p += 1
    elif bs_code == 7:
        block = int.from_bytes(b[p : p + 2], "big") + 1
        p += 2
    else:
        block = 256 << (bs_code - 8)
    if sr_code == 12:
        p += 1
    elif sr_code in (13, 14):
        p += 2
    if p >= len(b) or crc8(b[pos:p]) != b[p]:
        return None
    return n, block, variable


_VORBIS_COMMENT = 4


def walk(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Metadata walk, STREAMINFO sanity, first frame sync, last frame CRC and sample count."""
    size = r.size
    start = ctx.sniff.data_offset
    try:
        blocks, frames_at = metadata_blocks(r.fd, start, size)
    except FlacInfoError as e:
        out.corrupt("truncated" if "ends" in str(e) else "bad_header", str(e))
        return
    first = blocks[0]
    if first.type != STREAMINFO or first.length != 34:
        out.corrupt(
            "bad_header", f"the first metadata block is {first.name} ({first.length} bytes), not STREAMINFO"
        )
        return
    for blk in blocks:
        if blk.offset + blk.length > size:
            out.corrupt(
                "truncated",
                f"{blk.name} metadata block at byte {blk.offset - 4} declares {blk.length} bytes but the file "
                f"ends after {size - blk.offset}",
            )
            return
        if blk.type == 127:
            out.corrupt("bad_block", f"invalid metadata block type 127 at byte {blk.offset - 4}")
            return
        if blk is not first and blk.type == STREAMINFO:
            out.warning("bad_block", "a second STREAMINFO block")
        if blk.type == _VORBIS_COMMENT:
            # libFLAC (flac -t) tolerates comment lengths that overrun the block, but not a vendor string
            # longer than the block: it stops decoding there. FFmpeg only drops the tags.
            head = r.read(blk.offset, 4)
            vendor = int.from_bytes(head, "little") if len(head) == 4 else blk.length
            if vendor > blk.length - 4:
                out.corrupt(
                    "bad_block",
                    f"VORBIS_COMMENT block at byte {blk.offset - 4}: its vendor string claims {vendor} bytes, "
                    f"the block holds {blk.length} (damaged tags stop a FLAC decoder)",
                )
                return
    info = parse_streaminfo(r.read(first.offset, 34))
    out.facts["streaminfo"] = info
    for problem in info.problems():
        out.corrupt("bad_streaminfo", f"STREAMINFO is invalid: {problem}")
    for oddity in info.oddities():
        out.warning("odd_streaminfo", f"STREAMINFO is out of spec: {oddity}")
    if out.has_corrupt:
        return
    if frames_at >= size:
        if info.total_samples:
            out.corrupt(
                "truncated",
                f"no audio frames: the file ends after the metadata ({info.total_samples} samples declared)",
            )
        return
    head = r.read(frames_at, 2)
    if not (len(head) == 2 and head[0] == 0xFF and head[1] & 0xFE == 0xF8):
        window = r.read(frames_at, 1 << 16)
        pos = window.find(b"\xff\xf8")
        pos2 = window.find(b"\xff\xf9")
        found = min(p for p in (pos, pos2, len(window)) if p >= 0)
        if found < len(window) and parse_frame_header(window, found, info):
            out.warning(
                "junk_before_frames", f"{found} unexpected bytes between the metadata and the first frame"
            )
        else:
            out.corrupt("no_sync", f"no frame sync after the metadata (byte {frames_at})")
            return
    _check_last_frame(r, out, info, frames_at, crc=ctx.deep)


def _check_last_frame(r: Reader, out: Notes, info: StreamInfo, frames_at: int, *, crc: bool) -> None:
    """Does the audio end on a complete frame, and does that frame reach the declared sample count?

    With ``crc`` (deep mode) the last frame's CRC-16 says whether it is complete, and what follows it.
    Without (normal mode) only the frame headers are read: whole frames missing are still found, while a
    final frame cut or damaged inside is left to the decoder, which checks every frame's CRC anyway
    (``err_detect=crccheck`` in the A/V checker) at C speed, where this pure-Python CRC was the walk's
    main cost.
    """
    end, _tags = trailing_tags(r)
    if end <= frames_at:
        return
    span = max(info.max_framesize * 2 + 64, 1 << 16) if info.max_framesize else 1 << 18
    lo = max(frames_at, end - span)
    tail = r.read(lo, end - lo)
    candidates: list[tuple[int, tuple[int, int, bool]]] = []
    pos = tail.rfind(b"\xff", 0, len(tail) - 1)
    while pos != -1 and len(candidates) < 4:
        h = parse_frame_header(tail, pos, info)
        if h is not None:
            candidates.append((pos, h))
        pos = tail.rfind(b"\xff", 0, pos)
    if not candidates:
        if lo == frames_at:
            out.corrupt("no_sync", "no complete frame header found near the end of the audio")
        return

    def reach(h: tuple[int, int, bool]) -> int:
        number, block, variable = h
        return (number if variable else number * info.max_blocksize) + block

    if not crc:
        _missing_frames(out, info, lo, candidates, reach)
        return
    stripped = len(tail.rstrip(b"\x00"))
    for tail_end in (len(tail), stripped) if stripped < len(tail) - 1 else (len(tail),):
        for pos, h in candidates:
            if pos + 6 <= tail_end and crc16(tail[pos:tail_end]) == 0:  # CRC over frame + its CRC is 0
                if tail_end != len(tail):
                    out.info("trailing_zeros", f"{len(tail) - tail_end} zero bytes after the last frame")
                reached = reach(h)
                if info.total_samples and reached < info.total_samples:
                    missing = info.total_samples - reached
                    out.corrupt(
                        "truncated",
                        f"the last frame ends at sample {reached} of {info.total_samples} declared: "
                        f"{missing / info.sample_rate:.2f} s missing",
                    )
                return
    # No frame ends exactly where the audio does. If the final frame (the one reaching the declared total)
    # is complete, what follows it is foreign data; otherwise the file was cut inside a frame.
    final = [(pos, h) for pos, h in candidates if info.total_samples and reach(h) == info.total_samples]
    if final:
        pos = final[0][0]
        frame_end = _crc_zero_at(tail, pos)
        if frame_end is not None:
            out.warning(
                "trailing_data", f"{len(tail) - frame_end} bytes of unrecognised data after the last frame"
            )
            return
    message = (
        f"the last frame (from byte {candidates[0][0] + lo}) is incomplete or damaged: its CRC does not match"
    )
    if final:
        out.corrupt(
            "crc_mismatch",
            f"the final frame (byte {final[0][0] + lo}) fails its CRC check: damaged, or cut inside the frame",
        )
    elif info.total_samples:
        out.corrupt("truncated", message)
    else:
        out.warning("truncated", message + " (total length unknown, so it may be trailing data)")


def _missing_frames(
    out: Notes,
    info: StreamInfo,
    lo: int,
    candidates: list[tuple[int, tuple[int, int, bool]]],
    reach: Callable[[tuple[int, int, bool]], int],
) -> None:
    """Whole frames missing at the end, from frame headers alone (no CRC-16).

    Only a header that follows the one before it (the next frame or sample number) counts: a lone header
    may be a sync pattern inside audio data, and a false "truncated" would be a false alarm.
    """
    total = info.total_samples
    if not total or any(reach(h) == total for _pos, h in candidates):
        return  # the final frame is there; whether it is whole is the decoder's CRC check
    for (pos, later), (_earlier_pos, earlier) in zip(candidates, candidates[1:], strict=False):
        number, _block, variable = later
        if variable != earlier[2]:
            continue
        expected = earlier[0] + earlier[1] if variable else earlier[0] + 1
        if number != expected:
            continue
        reached = reach(later)
        if reached < total:
            out.corrupt(
                "truncated",
                f"the last frame header (byte {pos + lo}) reaches sample {reached} of {total} declared: "
                f"{(total - reached) / info.sample_rate:.2f} s missing",
            )
        return


def _crc_zero_at(b: bytes, start: int) -> int | None:
    """First offset after ``start`` + a minimal frame where the running CRC-16 is zero (a frame end)."""
    c = 0
    t = _CRC16
    for i in range(start, len(b)):
        c = ((c << 8) & 0xFFFF) ^ t[(c >> 8) ^ b[i]]
        if c == 0 and i - start >= 8:
            return i + 1
    return None
