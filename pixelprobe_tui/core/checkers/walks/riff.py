"""RIFF family: WAV (and RF64/BW64), AVI, WebP. Declared sizes against what the file holds.

Chunks are word-aligned: an odd-size chunk is followed by a pad byte, which some writers forget; both
layouts are accepted. For WAV the decisive check is the ``data`` chunk: fewer bytes than it declares is a
truncated recording, which decoders play without complaint (they just stop early).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pixelprobe_tui.core.checkers.walks.base import (
    BLOCK_WALK_LIMIT,
    Notes,
    Reader,
    WalkContext,
    fourcc,
    plural,
    trailing,
)

_UNSET = (0, 0xFFFFFFFF)  # size fields a streaming writer leaves behind
_HEADER = struct.Struct("<4sI")
_PRINTABLE = bytes(range(32, 127))


def _plausible_id(b: bytes) -> bool:
    return len(b) == 4 and not b.translate(None, _PRINTABLE)


@dataclass
class Chunk:
    cid: bytes
    offset: int  # of the chunk header
    size: int  # declared payload size

    @property
    def data(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        return self.data + self.size


def chunks(r: Reader, pos: int, end: int, big_endian: bool = False) -> Iterator[Chunk]:
    """Yield chunks in ``[pos, end)``; a chunk that runs past ``end`` is yielded last as is.

    Yields a ``Chunk`` with ``cid == b''`` for an unparsable header (the walk stops there).
    """
    order: Literal["little", "big"] = "big" if big_endian else "little"
    while pos + 8 <= end:
        hdr = r.read(pos, 8)
        if len(hdr) < 8:
            return
        cid = hdr[:4]
        if not _plausible_id(cid):
            yield Chunk(b"", pos, 0)
            return
        size = int.from_bytes(hdr[4:8], order)
        chunk = Chunk(cid, pos, size)
        yield chunk
        nxt = chunk.end
        if nxt >= end:
            return
        # Word alignment: skip the pad byte after an odd-size chunk, unless the writer forgot it.
        forgot_pad = (
            bool(size & 1) and not _plausible_id(r.read(nxt + 1, 4)) and _plausible_id(r.read(nxt, 4))
        )
        pos = nxt + 1 if size & 1 and not forgot_pad else nxt


def _riff_declared_end(r: Reader, out: Notes, what: str) -> int | None:
    size = int.from_bytes(r.read(4, 4), "little")
    if size in _UNSET:
        out.warning("header_not_finalized", f"the RIFF size field is {size:#x}: the {what} was not finalised")
        return None
    return 8 + size


def walk_wav(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """WAV / RF64 / BW64: chunk walk, fmt sanity, data chunk complete, RIFF size consistent."""
    size = r.size
    rf64 = r.read(0, 4) in (b"RF64", b"BW64")
    ds64_riff = ds64_data = None
    declared_end = None
    if not rf64:
        declared_end = _riff_declared_end(r, out, "recording")
    fmt = None
    data: Chunk | None = None
    data_size = 0
    last_end = 12
    for ch in chunks(r, 12, size):
        if not ch.cid:
            if data is not None and data_size <= size - data.data:
                trailing(r, out, ch.offset, "audio data")
            else:
                out.corrupt(
                    "bad_chunk", f"invalid chunk header at byte {ch.offset}: the chunk structure is broken"
                )
            return
        if ch.cid == b"ds64" and rf64:
            b = r.read(ch.data, 24)
            if len(b) == 24:
                ds64_riff = int.from_bytes(b[0:8], "little")
                ds64_data = int.from_bytes(b[8:16], "little")
                declared_end = 8 + ds64_riff
        elif ch.cid == b"fmt ":
            fmt = r.read(ch.data, min(ch.size, 40))
        elif ch.cid == b"data" and data is None:
            data = ch
            data_size = ch.size
            if rf64 and ch.size == 0xFFFFFFFF and ds64_data is not None:
                data_size = ds64_data
            elif ch.size == 0xFFFFFFFF:
                out.warning(
                    "header_not_finalized", "the data chunk size is unset (0xFFFFFFFF): written as a stream"
                )
                data_size = size - ch.data
            elif ch.size == 0 and size - ch.data > 0:
                out.warning(
                    "header_not_finalized",
                    f"the data chunk declares 0 bytes but {size - ch.data} follow: the recording was not finalised",
                )
                data_size = size - ch.data
            if ch.data + data_size > size:
                _report_short_data(out, fmt, data_size, size - ch.data)
                return
            last_end = ch.data + data_size + (data_size & 1)
            if data_size != ch.size:
                # The real size came from elsewhere: continue the walk after the data it describes.
                rest = list(chunks(r, last_end, size))
                if rest and rest[0].cid:
                    last_end = _walk_tail(r, out, rest)
                else:
                    trailing(r, out, min(last_end, size), "audio data")
                break
            continue
        if ch.end > size:
            out.corrupt(
                "truncated",
                f"'{fourcc(ch.cid)}' chunk at byte {ch.offset} declares {ch.size} bytes but the file ends "
                f"after {size - ch.data}",
            )
            return
        last_end = ch.end + (ch.size & 1)
    if fmt is None or len(fmt) < 14:  # 14: the old WAVEFORMAT without a bit depth
        out.corrupt("bad_header", "no valid 'fmt ' chunk: the audio format is unknown")
        return
    if data is None:
        out.corrupt("missing_chunk", "no 'data' chunk: the file holds no audio")
        return
    block_align = int.from_bytes(fmt[12:14], "little")
    if block_align and data_size % block_align:
        out.info(
            "partial_frame", f"the data size {data_size} is not a multiple of the block size {block_align}"
        )
    if declared_end is not None:
        if declared_end > size + 1:
            out.warning(
                "size_mismatch",
                f"the RIFF header declares {declared_end} bytes but the file has {size} (audio data is complete)",
            )
        elif declared_end < size and declared_end + 1 != size:
            what = "RIFF chunk"
            if last_end > declared_end:
                out.info(
                    "size_mismatch", f"chunks continue past the declared RIFF size ({declared_end} bytes)"
                )
                trailing(r, out, min(last_end, size), what)
            else:
                trailing(r, out, declared_end + (declared_end & 1), what)


def _walk_tail(r: Reader, out: Notes, rest: list[Chunk]) -> int:
    end = rest[0].offset
    for ch in rest:
        if not ch.cid:
            trailing(r, out, ch.offset, "audio data")
            return ch.offset
        if ch.end > r.size:
            out.warning("truncated_metadata", f"'{fourcc(ch.cid)}' chunk after the audio is cut short")
            return r.size
        end = ch.end + (ch.size & 1)
    return end


def _report_short_data(out: Notes, fmt: bytes | None, declared: int, present: int) -> None:
    missing = declared - present
    detail = ""
    if fmt is not None and len(fmt) >= 12:
        byte_rate = int.from_bytes(fmt[8:12], "little")
        if byte_rate:
            detail = f" ({missing / byte_rate:.2f} s of {declared / byte_rate:.2f} s missing)"
    out.corrupt(
        "truncated",
        f"the data chunk declares {declared} bytes of audio but only {present} are present{detail}",
    )


def walk_avi(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """AVI (and OpenDML AVIX extensions): RIFF chunks and their lists end inside the file."""
    size = r.size
    pos = 0
    count = 0
    while pos + 12 <= size:
        hdr = r.read(pos, 12)
        if hdr[:4] != b"RIFF" or hdr[8:12] not in (b"AVI ", b"AVIX"):
            if count:
                trailing(r, out, pos, "last RIFF chunk")
            else:
                out.corrupt("bad_header", "not a RIFF AVI header")
            return
        riff_size = int.from_bytes(hdr[4:8], "little")
        if riff_size in _UNSET:
            out.warning(
                "header_not_finalized", f"RIFF size at byte {pos} is {riff_size:#x}: recording not finalised"
            )
            _walk_lists(r, out, pos + 12, size)
            return
        end = pos + 8 + riff_size
        if end > size:
            out.corrupt(
                "truncated",
                f"RIFF '{hdr[8:12].decode('latin-1')}' chunk at byte {pos} declares {riff_size} bytes but the file "
                f"ends after {size - pos - 8}: {plural(end - size, 'byte')} missing",
            )
            _walk_lists(r, out, pos + 12, size, report=False)
            return
        if count == 0 and size > 0xFFFFFFFF and r.read(end + (riff_size & 1), 4) != b"RIFF":
            # Over 4 GB without OpenDML extensions: the 32-bit sizes wrapped, so they say nothing.
            out.info("size_wrapped", "the file exceeds 4 GB without OpenDML extensions; chunk sizes wrapped")
            return
        if count == 0 and not _walk_lists(r, out, pos + 12, end, deep=ctx.deep):
            return
        count += 1
        pos = end + (riff_size & 1)
    if pos < size:
        trailing(r, out, pos, "last RIFF chunk")


def _walk_lists(r: Reader, out: Notes, pos: int, end: int, report: bool = True, deep: bool = False) -> bool:
    """Walk the top-level chunks of a RIFF AVI; False when damage was reported."""
    seen_movi = False
    for ch in chunks(r, pos, end):
        if not ch.cid:
            if report and not seen_movi:
                out.corrupt("bad_chunk", f"invalid chunk header at byte {ch.offset}")
                return False
            return True
        if ch.cid == b"LIST" and r.read(ch.data, 4) == b"movi":
            seen_movi = True
            walk_blocks = deep or ch.size <= BLOCK_WALK_LIMIT
            if report and walk_blocks and ch.end <= end and not _movi_tiles(r, out, ch.data + 4, ch.end):
                return False
        if ch.end > end:
            if report:
                out.corrupt(
                    "truncated" if end >= r.size else "bad_chunk",
                    f"'{fourcc(ch.cid)}' chunk at byte {ch.offset} runs {ch.end - end} bytes past its container",
                )
            return False
    return True


def _movi_tiles(r: Reader, out: Notes, pos: int, end: int) -> bool:
    """The stream chunks of the 'movi' list must follow each other exactly (False when damage was found).

    Parsed from large reads in a tight loop: a long AVI holds hundreds of thousands of chunks.
    """
    window = 4 << 20
    while pos < end:
        buf = r.read(pos, min(window, end - pos))
        if len(buf) < 8:
            break
        i, n = 0, len(buf)
        unpack = _HEADER.unpack_from
        while i + 8 <= n:
            cid, size = unpack(buf, i)
            if cid.translate(None, _PRINTABLE):
                return _movi_damage(r, out, pos + i, end)
            nxt = i + 8 + size
            if pos + nxt > end:
                out.corrupt("bad_chunk", f"chunk '{fourcc(cid)}' at byte {pos + i} runs past the movie data")
                return False
            if size & 1:
                # Word alignment, unless the writer forgot the pad byte.
                after = buf[nxt + 1 : nxt + 5] if nxt + 5 <= n else r.read(pos + nxt + 1, 4)
                if _plausible_id(after):
                    nxt += 1
                else:
                    here = buf[nxt : nxt + 4] if nxt + 4 <= n else r.read(pos + nxt, 4)
                    nxt += 0 if _plausible_id(here) else 1
            i = nxt
        if i == 0:
            break
        pos += i
    if pos < end and end - pos < 8 and not r.all_zero(pos, end):
        return _movi_damage(r, out, pos, end)
    return True


def _movi_damage(r: Reader, out: Notes, at: int, end: int) -> bool:
    if r.all_zero(at, end):
        out.warning("zero_fill", f"{end - at} zero bytes fill the movie data from byte {at}")
        return True
    out.corrupt("bad_chunk", f"the movie data is damaged: no valid chunk header at byte {at}")
    return False


def walk_webp(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """WebP: RIFF size, first chunk is an image chunk, every chunk inside the file."""
    size = r.size
    declared_end = _riff_declared_end(r, out, "image")
    end = size if declared_end is None else declared_end
    first = True
    last_end = 12
    for ch in chunks(r, 12, min(end, size)):
        if not ch.cid:
            out.corrupt("bad_chunk", f"invalid chunk header at byte {ch.offset}")
            return
        if first and ch.cid not in (b"VP8 ", b"VP8L", b"VP8X"):
            out.corrupt("bad_header", f"first chunk is '{fourcc(ch.cid)}', not an image chunk")
            return
        first = False
        if ch.end > size:
            out.corrupt(
                "truncated",
                f"'{fourcc(ch.cid)}' chunk at byte {ch.offset} declares {ch.size} bytes but the file ends after "
                f"{size - ch.data}: {plural(ch.end - size, 'byte')} missing",
            )
            return
        last_end = ch.end + (ch.size & 1)
    if first:
        out.corrupt("truncated", "no image chunk")
        return
    if declared_end is not None and declared_end > size:
        out.corrupt("truncated", f"the RIFF header declares {declared_end} bytes but the file has {size}")
    elif last_end < size:
        trailing(r, out, last_end, "image")


def walk_aiff(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """AIFF / AIFC: FORM size, COMM sample frames against the SSND bytes present."""
    size = r.size
    declared_end = 8 + int.from_bytes(r.read(4, 4), "big")
    comm = None
    ssnd: Chunk | None = None
    aifc = r.read(8, 4) == b"AIFC"
    for ch in chunks(r, 12, size, big_endian=True):
        if not ch.cid:
            if ssnd is not None:
                trailing(r, out, ch.offset, "audio data")
                break
            out.corrupt(
                "bad_chunk", f"invalid chunk header at byte {ch.offset}: the chunk structure is broken"
            )
            return
        if ch.cid == b"COMM":
            comm = r.read(ch.data, min(ch.size, 26))
        elif ch.cid == b"SSND":
            ssnd = ch
        if ch.end > size:
            if ch.cid == b"SSND":
                _report_short_ssnd(out, comm, ch, size, aifc)
            else:
                out.corrupt(
                    "truncated",
                    f"'{fourcc(ch.cid)}' chunk at byte {ch.offset} declares {ch.size} bytes but the file ends "
                    f"after {size - ch.data}",
                )
            return
    if comm is None or len(comm) < 18:
        out.corrupt("bad_header", "no valid COMM chunk: the audio format is unknown")
        return
    frames = int.from_bytes(comm[2:6], "big")
    if ssnd is None:
        if frames:
            out.corrupt("missing_chunk", f"no SSND chunk although COMM declares {frames} sample frames")
        return
    expected = _pcm_bytes(comm, aifc)
    if expected is not None:
        present = ssnd.size - 8 - int.from_bytes(r.read(ssnd.data, 4), "big")
        if present < expected:
            out.corrupt(
                "truncated",
                f"COMM declares {frames} sample frames ({expected} bytes) but SSND holds {max(present, 0)} bytes",
            )
            return
    if declared_end > size:
        out.warning("size_mismatch", f"the FORM header declares {declared_end} bytes but the file has {size}")
    elif declared_end < size and declared_end + 1 != size:
        trailing(r, out, declared_end + (declared_end & 1), "FORM chunk")


def _pcm_bytes(comm: bytes, aifc: bool) -> int | None:
    """Bytes of sound data COMM promises for uncompressed audio, else None."""
    channels = int.from_bytes(comm[0:2], "big")
    frames = int.from_bytes(comm[2:6], "big")
    bits = int.from_bytes(comm[6:8], "big")
    if aifc:
        ctype = comm[18:22]
        if ctype in (b"fl32", b"FL32"):
            bits = 32
        elif ctype in (b"fl64", b"FL64"):
            bits = 64
        elif ctype not in (b"NONE", b"sowt", b"twos", b"raw ", b"in24", b"in32"):
            return None
    return frames * channels * ((bits + 7) // 8)


def _report_short_ssnd(out: Notes, comm: bytes | None, ch: Chunk, size: int, aifc: bool) -> None:
    present = size - ch.data
    detail = ""
    if comm is not None and len(comm) >= 18 and _pcm_bytes(comm, aifc):
        detail = f" ({plural(int.from_bytes(comm[2:6], 'big'), 'sample frame')} declared)"
    out.corrupt(
        "truncated",
        f"the SSND chunk declares {ch.size} bytes of audio but only {present} are present{detail}",
    )
