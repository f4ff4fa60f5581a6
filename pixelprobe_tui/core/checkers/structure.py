"""The structure checker: sniff the content, then walk the container's structure cheaply.

Finds truncation and broken structure in milliseconds, by reading headers and seeking past payloads,
including damage decoders shrug off (a WAV or MP3 that simply ends early, an MP4 whose ``mdat`` claims
"to end of file" but lost its tail). Severity rules:

- evidence of missing or altered data (truncation, CRC mismatch, broken structure) -> ``corrupt``;
- oddities that play fine (trailing data, unfinalised size fields, an Ogg stream
  without its end-of-stream page) -> ``warning``; zero padding and known vendor trailers -> ``info``;
- an empty file, or non-media content under a media name -> ``corrupt`` (text under ``.ts``/``.mts``,
  which also name TypeScript sources, and unrecognised raw formats -> ``unsupported``);
- the file cannot be read at all -> ``unreadable``.

Decisions: an MPEG-TS whose last packet is short is truncated (muxers write whole packets); a GIF without
its trailer is truncated; trailing bytes after a complete file are a warning, except in PNG, which allows
nothing after IEND (pngcheck and FFmpeg reject such files; see walks/png.py).

Cost: headers only where the format allows. PNG and Ogg CRCs read every byte, streamed at zlib speed;
Ogg above :data:`~.walks.ogg.OGG_CRC_LIMIT` checks CRCs of the first and last pages only unless
``options.deep``. JPEG scans are searched for markers at regex speed. Per-frame/per-block header walks
(MP3/ADTS frames, Matroska blocks inside clusters, AVI movie chunks, FLV tags, GIF sub-blocks) touch each
header once; FLV above 1 GB checks only its end unless deep. MPEG-TS and MPEG-PS check the first and last
megabyte (every packet when ``options.deep`` or the file is small).

Findings carry tool ``structure:<container>`` (``structure`` for sniffing-level findings).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace

from pixelprobe_tui import __version__
from pixelprobe_tui.core.checkers.walks import (
    asf,
    bmp,
    flac,
    flv,
    gif,
    ico,
    isobmff,
    jpeg,
    matroska,
    mpeg_audio,
    mpegps,
    mpegts,
    ogg,
    png,
    pnm,
    raf,
    riff,
    tiff,
    wavpack,
)
from pixelprobe_tui.core.checkers.walks.base import Notes, Reader, WalkContext
from pixelprobe_tui.core.media import (
    RAW_EXTENSIONS,
    Family,
    Sniff,
    UnreadableError,
    family_of_extension,
    open_for_reading,
    sniff_fd,
)
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Finding, Severity, make_result

log = logging.getLogger(__name__)

TOOL = "structure"
# Walks that find their own start after a leading ID3v2 tag (the sniff's data_offset).
_TAG_AWARE = frozenset({"mp3", "aac_adts", "aac_latm", "flac", "ogg"})
Walk = Callable[[Reader, Notes, WalkContext], None]

WALKS: dict[str, Walk] = {
    "mp4": isobmff.walk,
    "mov": isobmff.walk,
    "3gp": isobmff.walk,
    "heif": isobmff.walk,
    "avif": isobmff.walk,
    "cr3": isobmff.walk,
    "matroska": matroska.walk,
    "webm": matroska.walk,
    "wav": riff.walk_wav,
    "rf64": riff.walk_wav,
    "avi": riff.walk_avi,
    "webp": riff.walk_webp,
    "aiff": riff.walk_aiff,
    "flac": flac.walk,
    "mp3": mpeg_audio.walk_mp3,
    "aac_adts": mpeg_audio.walk_adts,
    "ogg": ogg.walk,
    "png": png.walk,
    "jpeg": jpeg.walk,
    "gif": gif.walk,
    "bmp": bmp.walk,
    "tiff": tiff.walk,
    "mpegts": mpegts.walk,
    "mpegps": mpegps.walk,
    "wavpack": wavpack.walk,
    "raf": raf.walk,
    "asf": asf.walk,
    "flv": flv.walk,
    "ico": ico.walk,
    "pnm": pnm.walk,
}


def check(path: str, options: CheckOptions | None = None, sniff: Sniff | None = None) -> CheckResult:
    """Sniff ``path`` and walk its structure; never raises for a file-level problem.

    ``sniff`` is the caller's sniff of the same file, if it has one: the head is then not read again.
    """
    options = options or CheckOptions()
    started = time.perf_counter()
    versions = {TOOL: __version__}
    try:
        fd, st = open_for_reading(path)
    except UnreadableError as e:
        return make_result(
            path,
            [Finding(Severity.UNREADABLE, e.code, TOOL, e.reason)],
            family=str(family_of_extension(path)),
            decisive_tool=TOOL,
            tool_versions=versions,
            duration_s=time.perf_counter() - started,
        )
    sn: Sniff | None = None
    facts: dict = {}
    try:
        sn = sniff if sniff is not None else sniff_fd(path, fd, st.st_size)
        findings, facts = _findings(fd, sn, options)
    except UnreadableError as e:
        findings = [Finding(Severity.UNREADABLE, e.code, TOOL, e.reason)]
    finally:
        os.close(fd)
    family = facts.get("family") or (sn.family if sn else family_of_extension(path))
    return make_result(
        path,
        findings,
        family=str(family),
        container=sn.container if sn else None,
        decisive_tool=TOOL,
        tool_versions=versions,
        duration_s=time.perf_counter() - started,
        file_size=st.st_size,
    )


def _findings(fd: int, sn: Sniff, options: CheckOptions) -> tuple[list[Finding], dict]:
    """Sniff-level findings plus the container walk."""
    findings = []
    if sn.empty:
        return [Finding(Severity.CORRUPT, "empty_file", TOOL, "the file is empty (0 bytes)")], {}
    if sn.tag_size >= sn.size:
        tool = f"{TOOL}:{sn.container}" if sn.container else TOOL
        message = f"the ID3v2 tag declares {sn.tag_size} bytes but the file has {sn.size}: nothing follows it"
        return [Finding(Severity.CORRUPT, "truncated", tool, message)], {}
    if sn.container is None:
        return [_unknown_content(sn)], {}
    # An extension that does not match the content is reported once, by the dispatcher, which routes by
    # content (pixelprobe_tui.core.checkers.check).
    walk = WALKS.get(sn.container)
    if walk is None:
        return findings, {}
    notes = Notes(f"{TOOL}:{sn.container}")
    reader = Reader(fd, sn.size)
    if sn.tag_size and sn.container not in _TAG_AWARE:
        # Walk the container as if the tag were not there (offsets in messages are then relative to it).
        reader = Reader(fd, sn.size, base=sn.tag_size)
        notes.info("id3_prefix", f"an ID3v2 tag ({sn.tag_size} bytes) precedes the {sn.container} data")
        sn = replace(sn, data_offset=0)
    try:
        walk(reader, notes, WalkContext(sniff=sn, deep=options.deep))
    except UnreadableError:
        raise
    except Exception as e:  # a walker bug is not evidence against the file
        log.exception("structure walk of %s failed", sn.path)
        notes.info("walk_failed", f"the {sn.container} structure walk stopped: {type(e).__name__}: {e}")
    findings.extend(notes.findings)
    return findings, notes.facts


def _unknown_content(sn: Sniff) -> Finding:
    ext = f".{sn.extension}" if sn.extension else "no extension"
    what = sn.describe_content()
    if sn.ext_family is Family.UNKNOWN:
        return Finding(Severity.UNSUPPORTED, "unsupported", TOOL, f"not a recognised media file ({what})")
    if sn.extension in RAW_EXTENSIONS and not sn.all_zero and sn.other_format is None:
        return Finding(
            Severity.UNSUPPORTED, "unsupported", TOOL, f"raw format not recognised under {ext}; not checked"
        )
    return Finding(Severity.CORRUPT, "not_media", TOOL, f"the content is {what}, not a {ext} media file")
