"""MPEG audio (MP3/MP2) and ADTS AAC: follow frame headers from the first frame to the end.

Tags are stepped over (ID3v2 at the start and in the middle of concatenated files, ID3v1, Lyrics3 and
APEv2 at the end); junk between the ID3v2 tag and the first frame is normal. A last frame that needs more
bytes than the file has is truncation, and so is a Xing/Info or VBRI header promising more frames than
exist (decoders just stop early). Losing sync in the middle and finding it again later means bytes were
damaged or lost.
"""

from __future__ import annotations

from pixelprobe_tui.core.checkers.walks.base import (
    Notes,
    Reader,
    WalkContext,
    plural,
    trailing,
    trailing_tags,
)
from pixelprobe_tui.core.media import MpegAudioHeader, id3v2_size, parse_mpeg_audio_header

_SEARCH = 1 << 20  # how far to look for the first frame / the next frame after lost sync


def _confirmed(r: Reader, pos: int, end: int, ref: MpegAudioHeader | None = None) -> MpegAudioHeader | None:
    """A header at ``pos`` that is followed by a consistent header (or by the end of the audio)."""
    h = parse_mpeg_audio_header(r.read(pos, 4))
    if h is None or not h.length or (ref is not None and not h.same_stream(ref)):
        return None
    nxt = pos + h.length
    if nxt == end:
        return h
    h2 = parse_mpeg_audio_header(r.read(nxt, 4))
    return h if h2 is not None and h2.same_stream(h) else None


def _find_sync(r: Reader, pos: int, end: int, limit: int = _SEARCH) -> int | None:
    stop = min(end, pos + limit)
    while pos < stop:
        buf = r.read(pos, min(1 << 16, stop - pos))
        if not buf:
            return None  # the file shrank under us
        i = buf.find(b"\xff")
        while i != -1:
            if _confirmed(r, pos + i, end):
                return pos + i
            i = buf.find(b"\xff", i + 1)
        pos += len(buf)
    return None


def _free_format_length(r: Reader, pos: int, h: MpegAudioHeader) -> int | None:
    """Frame length (without padding) of a free-format stream, from the distance to the next header."""
    buf = r.read(pos, 8192)
    i = buf.find(b"\xff", 24)
    while i != -1:
        h2 = parse_mpeg_audio_header(buf, i)
        if h2 is not None and h2.bitrate == 0 and h2.same_stream(h):
            return i - (h.padding * (4 if h.layer == 1 else 1))
        i = buf.find(b"\xff", i + 1)
    return None


def _info_frames(frame: bytes, h: MpegAudioHeader) -> tuple[str, int | None, int | None] | None:
    """(kind, frame count, byte count) from a Xing/Info or VBRI header in the first frame."""
    mono = h.channel_mode == 3
    side = (17 if mono else 32) if h.version == 3 else (9 if mono else 17)
    x = 4 + side
    tag = frame[x : x + 4]
    if tag in (b"Xing", b"Info"):
        flags = int.from_bytes(frame[x + 4 : x + 8], "big")
        p = x + 8
        frames = nbytes = None
        if flags & 1:
            frames = int.from_bytes(frame[p : p + 4], "big")
            p += 4
        if flags & 2:
            nbytes = int.from_bytes(frame[p : p + 4], "big")
        return tag.decode(), frames, nbytes
    if frame[36:40] == b"VBRI":
        return "VBRI", int.from_bytes(frame[50:54], "big"), int.from_bytes(frame[46:50], "big")
    return None


def walk_mp3(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Frame walk of MPEG audio layers I-III."""
    start = ctx.sniff.data_offset
    end, _tags = trailing_tags(r)
    first = _find_sync(r, start, end)
    if first is None:
        if r.all_zero(start, end):
            out.corrupt("no_audio", f"no audio frames: {end - start} zero bytes after the tags")
        else:
            out.corrupt("no_sync", "no MPEG audio frame found")
        return
    if first > start:
        out.info(
            "junk_before_frames", f"{plural(first - start, 'byte')} before the first frame (byte {first})"
        )
    ref = parse_mpeg_audio_header(r.read(first, 4))
    assert ref is not None
    pos = first
    frames = 0
    info = None
    info_frame = False
    free_len = None
    lost = lost_bytes = 0
    first_lost = None
    while pos < end:
        h = parse_mpeg_audio_header(r.read(pos, 4))
        if h is not None and not h.same_stream(ref) and _confirmed(r, pos, end):
            ref = h  # stream parameters change (concatenated files)
        if h is not None and h.same_stream(ref):
            length = h.length
            if not length:
                if free_len is None:
                    free_len = _free_format_length(r, pos, h)
                    if free_len is None:
                        out.info("free_format", "free-format stream: frame lengths could not be determined")
                        return
                length = free_len + h.padding * (4 if h.layer == 1 else 1)
            if pos + length > end:
                out.corrupt(
                    "truncated",
                    f"the last frame (byte {pos}) needs {length} bytes but only {end - pos} are present",
                )
                return
            if frames == 0:
                info = _info_frames(r.read(pos, min(length, 200)), h)
                info_frame = info is not None
            frames += 1
            pos += length
            continue
        head = r.read(pos, 10)
        tag = id3v2_size(head)
        if tag is not None and pos + tag <= end:
            pos += tag
            continue
        if head[:3] == b"TAG" and pos + 128 <= end:
            pos += 128
            continue
        nxt = _find_sync(r, pos + 1, end)
        if nxt is None:
            if end - pos < 4 and not r.all_zero(pos, end):
                out.corrupt("truncated", f"the file ends inside a frame header at byte {pos}")
            else:
                _after_frames(r, out, pos, end)
            break
        lost += 1
        lost_bytes += nxt - pos
        first_lost = pos if first_lost is None else first_lost
        pos = nxt
    if lost:
        message = (
            f"frame sync lost {plural(lost, 'time')}: {plural(lost_bytes, 'byte')} of damaged or foreign data "
            f"skipped (first at byte {first_lost})"
        )
        if lost_bytes <= 4 * lost:
            # Off by a byte or so between frames: an encoder's padding quirk more often than damage.
            out.warning("frame_gap", message)
        else:
            out.corrupt("lost_sync", message)
    audio_frames = frames - 1 if info_frame else frames
    if info and info[1]:
        declared = info[1]
        # Encoders disagree on whether the count includes the Info frame itself: allow one frame.
        if audio_frames < declared - 1:
            secs = (declared - audio_frames) * ref.samples / ref.sample_rate
            out.corrupt(
                "truncated",
                f"the {info[0]} header declares {declared} frames but only {audio_frames} are present "
                f"({secs:.2f} s missing)",
            )


def _after_frames(r: Reader, out: Notes, pos: int, end: int) -> None:
    """Classify bytes between the last frame and the end of the file (or the trailing tags)."""
    if end == r.size:
        trailing(r, out, pos, "last frame")
    elif r.all_zero(pos, end):
        out.info("trailing_zeros", f"{plural(end - pos, 'zero byte')} between the last frame and the tags")
    else:
        out.warning("trailing_data", f"{plural(end - pos, 'byte')} of unrecognised data after the last frame")


def _adts_length(b: bytes) -> int:
    if len(b) < 7 or b[0] != 0xFF or (b[1] & 0xF6) != 0xF0 or ((b[2] >> 2) & 0xF) > 12:
        return 0
    n = ((b[3] & 3) << 11) | (b[4] << 3) | (b[5] >> 5)
    return n if n >= 7 else 0


def walk_adts(r: Reader, out: Notes, ctx: WalkContext) -> None:
    """Frame walk of ADTS AAC: every frame length leads to the next sync word."""
    pos = ctx.sniff.data_offset
    end, _tags = trailing_tags(r)
    lost = lost_bytes = 0
    while pos < end:
        n = _adts_length(r.read(pos, 7))
        if n:
            if pos + n > end:
                out.corrupt(
                    "truncated",
                    f"the last frame (byte {pos}) needs {n} bytes but only {end - pos} are present",
                )
                return
            pos += n
            continue
        tag = id3v2_size(r.read(pos, 10))
        if tag is not None:
            pos += tag
            continue
        head = r.read(pos, 2)
        if end - pos < 7 and len(head) == 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
            out.corrupt("truncated", f"the file ends inside a frame header at byte {pos}")
            return
        nxt = _find_adts(r, pos + 1, end)
        if nxt is None:
            _after_frames(r, out, pos, end)
            break
        lost += 1
        lost_bytes += nxt - pos
        pos = nxt
    if lost:
        out.corrupt(
            "lost_sync",
            f"frame sync lost {plural(lost, 'time')}: {plural(lost_bytes, 'byte')} of damaged data skipped",
        )


def _find_adts(r: Reader, pos: int, end: int) -> int | None:
    stop = min(end, pos + _SEARCH)
    while pos < stop:
        buf = r.read(pos, min(1 << 16, stop - pos))
        if not buf:
            return None  # the file shrank under us
        i = buf.find(b"\xff")
        while i != -1:
            n = _adts_length(r.read(pos + i, 7))
            if n and (pos + i + n == end or _adts_length(r.read(pos + i + n, 7))):
                return pos + i
            i = buf.find(b"\xff", i + 1)
        pos += len(buf)
    return None
