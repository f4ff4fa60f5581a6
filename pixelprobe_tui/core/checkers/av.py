"""Audio/video checker: one full, single-threaded, in-process decode of every stream with PyAV.

Every audio and video stream is decoded to the end (cover art too; subtitle and data streams are not),
in one demux pass, with frames discarded as soon as they are counted. ``family`` is "audio" when no video
stream other than attached pictures exists, so audio-only Ogg/MP4/Matroska files are audio files.

What counts as evidence
-----------------------
- FFmpeg log messages (demuxer and decoders), captured per file at WARNING level and above. ERROR and worse
  are damage (``decode_error``; ``demux_error`` / ``container_error`` from the demuxer); WARNING notices are
  oddities (``decoder_warning``, ``demuxer_warning``) unless they are known damage signs (``Packet corrupt``,
  ``concealing``, ``undecodable`` ...), which count as damage. Problems in tags only are warnings
  (``metadata_damaged``). A small allowlist of notices that valid files produce becomes INFO (``_BENIGN``).
- Frames the decoder marks corrupt (``frame.is_corrupt``: ``decode_error_flags`` or ``AV_FRAME_FLAG_CORRUPT``,
  what the ffmpeg tool prints as "corrupt decoded frame": damage the decoder concealed) and packets the
  demuxer marks corrupt (``packet.is_corrupt``).
- Exceptions: from the decoder (counted per stream, decoding goes on) and from the demuxer (demuxing stops;
  the finding names the byte offset reached). I/O errors are ``unreadable``, never ``corrupt``.
- Timing: packet DTS going backwards within a stream (``dts_not_monotonic``) and, where the container stores
  presentation times (MP4/MOV; Matroska/FLV with native codec ids), decoded frames whose time goes backwards
  (``frame_order``, e.g. damaged composition offsets). Not checked for MPEG-TS/PS (discontinuities are legal),
  Ogg DTS (chained streams restart), AVI and raw streams (decode-order times). In those containers and in
  MPEG-TS/PS, a decoded video frame must also land on a later slot of the stream's frame grid (its time
  rounded at the guessed frame rate, as ffmpeg encodes it) than the frame before (``frame_timing``: a damaged
  PTS that moved a frame onto its neighbour); a jump back of over 10 s in MPEG-TS/PS is a discontinuity.
- Truncation: the decoded end of each stream against its declared end (``start_time + duration``), and of
  the file against the container's, with a tolerance for priming/padding, reorder delay and an unknown
  last-frame duration: ``max(0.5 s video / 0.3 s audio, 1 %, 3 frame durations)``. Skipped when FFmpeg only
  estimated the duration from the bitrate, for MPEG-TS/PS, for FLV (its metadata duration is written up
  front), and at container level when subtitle/data tracks (which may outlast the media) exist.
- FLAC (any container): the MD5 of the decoded audio against STREAMINFO (:mod:`.flac`), bit-exact, fed from
  this same decode. FFmpeg checks FLAC frame CRCs only when asked, so ``err_detect=crccheck`` is always on
  for FLAC (``flac -t`` checks them too).

Normal mode (``CheckOptions.deep = False``)
    Everything above, with FFmpeg's default error detection (plus CRC for FLAC). H.264/HEVC decode with
    ``skip_loop_filter=all``: deblocking only smooths reconstructed pixels, which nobody looks at, while every
    bitstream check and the concealment flags still run (about 10 % faster on H.264).

Deep mode (``CheckOptions.deep = True``) additionally
    - sets ``err_detect=crccheck+bitstream+buffer+careful`` on every decoder: CRC mismatches (MPEG audio
      with CRC, etc.) and spec violations that the default tolerates become findings; full reconstruction;
    - stream-copy checks on the same demux pass (no second read): packets presented before they are decoded
      (``pts_before_dts``, which a remux rejects) and packets that extend past the end of the file
      (``packet_past_eof``);
    - adds per-stream accounting: one INFO ``stream_summary`` per stream (packets, frames, corrupt frames,
      decode errors, FFmpeg messages, decoded seconds).

Log capture
-----------
PyAV routes FFmpeg's log through ``av.logging``. ``set_level`` is process-global, so it is raised to WARNING
for the duration of a check (reference-counted across threads, then restored), and PyAV's own
repeated-message folding, which keeps global state across files and only reports a run when the *next*
message arrives, is switched off; repeats are folded here, per file, by message with digits masked
("error while decoding MB 3 4" and "... MB 7 1" are one finding with ``count``). ``Capture(local=True)``
collects what is logged on the calling thread; decoders run with ``thread_type=NONE``/``thread_count=1``, so
they log on this thread too (frame threads would log elsewhere and be lost). Messages are attributed to the
stream whose packet was being decoded (or to the demuxer), with FFmpeg's class name (``h264``,
``mp3float``, ``matroska``) and the media time. Lines FFmpeg builds from several calls are joined.

Bounds: findings are folded to at most ``_MAX_DISTINCT`` kinds, captured messages are drained after every
packet, and a demuxer that returns far more data than the file holds is stopped (looping index).
"""

from __future__ import annotations

import errno
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import av
import av.error
import av.logging
from av.stream import Disposition

from pixelprobe_tui.core.checkers import flac as flac_md5
from pixelprobe_tui.core.media import Sniff, identify
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Finding, Severity, make_result

TOOL = "pyav"

# Distinct messages kept per file; the rest are folded into one "more messages" finding.
_MAX_DISTINCT = 48
# A demuxer that keeps returning data far beyond what the file holds is looping on a damaged index.
_MAX_READ_FACTOR = 16
_MAX_READ_SLACK = 16 * 1024 * 1024
# Consecutive "try again" answers from the demuxer before it counts as stuck.
_MAX_EAGAIN = 1000
_UNSIZED_WAV = "Ignoring maximum wav data size"
# Packets a decoder may swallow without output on a clean, very short stream (decoder delay).
_DELAY_PACKETS = 2
# FFmpeg's format probe names what it guessed when its score is low; harmless when our sniff of the
# content agrees (sniffed container -> FFmpeg demuxer name).
_LOW_SCORE = re.compile(r"Format (\S+) detected only with low score of \d+, misdetection possible")
# MPEG-TS too: FFmpeg's probe took a valid 9-packet TS (3 small H.264 frames) for an MPEG program stream
# with a low score and failed to open it ("End of file"); the sniffer had seen its packet syncs.
_SNIFFED_DEMUXER = {
    "mp3": "mp3",
    "ac3": "ac3",
    "eac3": "eac3",
    "dts": "dts",
    "amr": "amr",
    "aac_adts": "aac",
    "mpegts": "mpegts",
}

# PCM containers describe their one stream completely in the header, so probing more than the header
# only costs time (FFmpeg reads and parses up to 5 MB by default; WAV opens took twice as long as decoding).
_PCM_CONTAINERS = frozenset({"wav", "rf64", "w64", "aiff"})
_PCM_PROBESIZE = "4096"
# A small probe that left a stream undescribed (a compressed codec inside WAV) is retried at the default.
_PROBE_INCOMPLETE = "Could not find codec parameters"

_NORMAL_ERR_DETECT_FLAC = "crccheck"
_DEEP_ERR_DETECT = "crccheck+bitstream+buffer+careful"
# MPEG-1/2 video's slice-end check under err_detect=bitstream fires on the stuffing valid VCD encoders
# (FFmpeg's own -target pal-vcd) write: "end mismatch left=N", then "MVs not available".
_DEEP_ERR_DETECT_MPEG12 = "crccheck+buffer+careful"
_MPEG12_VIDEO = frozenset({"mpeg1video", "mpeg2video"})
# Decoders whose deblocking filter may be skipped in normal mode (pixels are never looked at).
_SKIP_LOOP_FILTER = {"h264", "hevc"}

# Container formats whose timestamps may legitimately jump (wrap, splice), so durations are not compared.
_TS_DISCONTINUOUS = {"mpegts", "mpeg", "mpegvideo", "dvd", "vob", "svcd", "vcd"}
# Chained Ogg (internet radio recordings) restarts timestamps at each link: DTS order is not checked.
_TS_RESTART = {"ogg"}
# Declared durations that muxers commonly get wrong in valid files (FLV onMetaData is written up front).
_UNRELIABLE_DURATION = {"flv", "live_flv"}

# Notices valid files produce. Each entry: pattern, why it is harmless. Matched case-insensitively.
_BENIGN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), why)
    for p, why in [
        # lavf: no duration in the header (CBR MP3 without Xing, raw AAC/ADTS); we then skip the duration check.
        (r"^Estimating duration from bitrate", "duration estimated from bitrate"),
        # mp3 demuxer, while locating the first frame after ID3 padding (only emitted in read_header).
        (r"^Skipping \d+ bytes of junk at \d+", "padding before the first MP3 frame"),
        # decode.c: skip_samples side data (gapless MP3/AAC/Opus) on a frame without a timestamp.
        (r"^Could not update timestamps for (skipped|discarded) samples", "gapless trimming without pts"),
        # mov: edit lists that players handle; common in camera and phone files.
        (r"multiple edit list entries, a/v desync might occur", "edit list notice"),
        (r"Missing key frame while searching for timestamp", "edit list starting between key frames"),
        (r"edit list \d+ Cannot find an index entry before timestamp", "edit list starting before the media"),
        (r"^Discarding ID3 tags because more suitable tags were found", "duplicate tags"),
        # lavf stream probing on short or sparse streams; decoding then proceeds normally.
        (r"not enough frames to estimate rate", "short stream"),
        (r"Could not find codec parameters for stream \d+ \((Subtitle|Data|Attachment)", "non-A/V stream"),
        # mpeg4: DivX/Xvid "packed bitstream" AVIs carry a stub frame after each B-frame pair by design.
        (r"^Discarding excessive bitstream in packed xvid", "packed B-frames"),
    ]
)

# Metadata-only problems (tags, cover descriptions): the media plays, so they are warnings, not damage.
_METADATA = re.compile(
    r"ID3v2|ID3v1|APE tag|\bAPEv2\b|Error reading frame .{1,8}, skipped|Incorrect BOM value|"
    r"Unknown attached picture mimetype|Error decoding attached picture description|"
    r"Unknown cover type|chapter|metadata|The tags at index \d+ refer to",
    re.IGNORECASE,
)

# WARNING-level notices that only damaged data produces.
_DAMAGE_WARNINGS = re.compile(
    r"Packet corrupt|corrupt(ed)? (input|frame|packet|data)|damaged|invalid data|truncated|overread|"
    r"error while decoding|concealing|CRC (mismatch|error)|checksum mismatch|missing picture|"
    r"Invalid NAL unit size|partial file|premature|undecodable|Invalid timestamps stream",
    re.IGNORECASE,
)

# Harmless only when the file has a cover-art stream: FFmpeg-written M4A/MP4 cover tracks carry no media
# timescale. Without cover art the same notice means a track header the demuxer could not use.
_BENIGN_WITH_COVER = re.compile(r"stream \d+, timescale not set", re.IGNORECASE)

# FFmpeg's "request a sample" boilerplate: dropped, or cut from the message it follows.
_BOILERPLATE_LINE = "If you want to help, upload a sample"
_BOILERPLATE_TAIL = (
    "Update your FFmpeg version to the newest one from Git. If the problem still occurs, it means that your "
    "file has a feature which has not been implemented."
)

_DIGITS = re.compile(r"0x[0-9a-f]+|\d+", re.IGNORECASE)


def tool_versions() -> dict[str, str]:
    """Versions of PyAV and the FFmpeg libraries it bundles."""
    versions = {"pyav": av.__version__, "ffmpeg": str(getattr(av, "ffmpeg_version_info", "") or "")}
    for lib_name in ("libavcodec", "libavformat", "libavutil"):
        ver = av.library_versions.get(lib_name)
        if ver:
            versions[lib_name] = ".".join(str(x) for x in ver)
    return {k: v for k, v in versions.items() if v}


def _decisive_tool() -> str:
    codec = av.library_versions.get("libavcodec") or ()
    return f"pyav {av.__version__} (libavcodec {'.'.join(str(x) for x in codec[:2])})"


# --------------------------------------------------------------------------------------------------------
# FFmpeg log capture.

_log_lock = threading.Lock()
_log_users = 0
_saved_log_state: tuple[int | None, bool] = (None, True)


@contextmanager
def _ffmpeg_log() -> Iterator[list[tuple[int, str, str]]]:
    """Capture FFmpeg messages of this thread at WARNING and above; restore PyAV's settings after."""
    global _log_users, _saved_log_state
    with _log_lock:
        if _log_users == 0:
            _saved_log_state = (av.logging.get_level(), av.logging.get_skip_repeated())
            av.logging.set_level(av.logging.WARNING)
            av.logging.set_skip_repeated(False)
        _log_users += 1
    try:
        with av.logging.Capture(local=True) as logs:
            yield logs
    finally:
        with _log_lock:
            _log_users -= 1
            if _log_users == 0:
                level, skip = _saved_log_state
                av.logging.set_level(level)
                av.logging.set_skip_repeated(skip)


# --------------------------------------------------------------------------------------------------------
# Evidence, folded per file.


@dataclass
class _Entry:
    severity: Severity
    code: str
    message: str
    at_seconds: float | None
    count: int = 1


class _Evidence:
    """Findings folded by (severity, code, message with digits masked), bounded in number."""

    def __init__(self) -> None:
        self.entries: dict[tuple[Severity, str], _Entry] = {}
        self.overflow = 0
        self.overflow_severity = Severity.INFO
        self.benign_open: list[str] = []  # allowlisted reasons seen (affect the duration check)

    def add(
        self, severity: Severity, code: str, message: str, at: float | None = None, count: int = 1
    ) -> None:
        if at is not None and at < 0:
            at = 0.0  # leading frames before the stream's start time
        # Keyed without the code: a message seen while probing (open) and again while demuxing is one finding.
        key = (severity, _DIGITS.sub("#", message))
        entry = self.entries.get(key)
        if entry is not None:
            entry.count += count
            return
        if len(self.entries) >= _MAX_DISTINCT:
            self.overflow += count
            if _rank(severity) > _rank(self.overflow_severity):
                self.overflow_severity = severity
            return
        self.entries[key] = _Entry(severity, code, message, at, count)

    def add_if_new(self, severity: Severity, code: str, message: str) -> None:
        """Add a finding unless the same message is already there (then nothing is counted)."""
        if (severity, _DIGITS.sub("#", message)) not in self.entries:
            self.add(severity, code, message)

    def downgrade(self, pattern: re.Pattern[str], why: str) -> None:
        """Turn warnings matching *pattern* into INFO (harmless in this file's context)."""
        for entry in self.entries.values():
            if entry.severity == Severity.WARNING and pattern.search(entry.message):
                entry.severity = Severity.INFO
                entry.code = "benign_notice"

    def forgive(self, pattern: re.Pattern[str], why: str) -> None:
        """Turn one damage finding matching *pattern*, seen exactly once, into an INFO note saying *why*."""
        for entry in self.entries.values():
            if entry.severity == Severity.CORRUPT and entry.count == 1 and pattern.search(entry.message):
                entry.severity = Severity.INFO
                entry.code = "benign_notice"
                entry.message = f"{entry.message} ({why})"
                return

    def has_damage(self) -> bool:
        return any(e.severity == Severity.CORRUPT for e in self.entries.values()) or (
            self.overflow_severity == Severity.CORRUPT
        )

    def findings(self) -> list[Finding]:
        out = [
            Finding(e.severity, e.code, TOOL, e.message, at_seconds=e.at_seconds, count=e.count)
            for e in self.entries.values()
        ]
        if self.overflow:
            out.append(
                Finding(
                    self.overflow_severity,
                    "more_messages",
                    TOOL,
                    f"{self.overflow} more messages of other kinds not listed",
                    count=self.overflow,
                )
            )
        return out


def _rank(severity: Severity) -> int:
    return [
        Severity.INFO,
        Severity.WARNING,
        Severity.UNSUPPORTED,
        Severity.CORRUPT,
        Severity.UNREADABLE,
    ].index(severity)


def _classify(level: int, text: str, *, cover: bool) -> tuple[Severity, str]:
    """Severity and code of one FFmpeg message."""
    for rx, _why in _BENIGN:
        if rx.search(text):
            return Severity.INFO, "benign_notice"
    if _METADATA.search(text):
        return Severity.WARNING, "metadata_damaged"
    if level <= av.logging.ERROR or _DAMAGE_WARNINGS.search(text):
        return Severity.CORRUPT, "cover_art_corrupt" if cover else "decode_error"
    return Severity.WARNING, "decoder_warning"


# --------------------------------------------------------------------------------------------------------
# Per-stream state.


@dataclass(eq=False)
class _Stream:
    index: int
    kind: str  # "video" | "audio" | "cover"
    codec: str
    ctx: Any
    time_base: float
    start: float  # seconds
    declared_end: float | None
    md5: flac_md5.Md5Check | None = None
    packets: int = 0
    frames: int = 0
    samples: int = 0
    sample_rate: int = 0
    corrupt_frames: int = 0
    corrupt_packets: int = 0
    decode_errors: int = 0
    messages: int = 0
    end: float | None = None  # decoded end, seconds
    max_frame: float = 0.0  # longest frame duration seen, seconds
    last_dts: int | None = None
    dts_backwards: int = 0
    pts_before_dts: int = 0
    first_corrupt_at: float | None = None
    first_corrupt_packet_at: float | None = None
    first_dts_backwards_at: float | None = None
    check_order: bool = True
    last_pts: int | None = None
    pts_backwards: int = 0
    pts_repeated: int = 0
    first_pts_backwards_at: float | None = None
    # Frame slots (see _slot): frames per second to round decoded times to (0: not checked), the time
    # slot 0 starts at, the last frame's slot, and frames that land on or before the previous one's.
    slot_rate: float = 0.0
    slot_origin: float = 0.0
    last_slot: int | None = None
    last_slot_time: float | None = None
    slot_steps: int = 0  # intervals between consecutive decoded frames, and those a whole number of slots
    slot_steps_regular: int = 0
    slot_collisions: int = 0
    first_slot_collision_at: float | None = None
    pcm_block: int = 0  # bytes per sample frame (all channels) of a PCM stream; 0 for other codecs
    held_corrupt: int | None = (
        None  # size of a PCM packet flagged corrupt, held until we know it was the last
    )

    @property
    def label(self) -> str:
        what = "cover art" if self.kind == "cover" else "stream"
        return f"{self.codec} ({what} #{self.index})"


def _seconds(ts: int | None, tb: float) -> float | None:
    return None if ts is None else ts * tb


def _open_streams(container: Any, options: CheckOptions, evidence: _Evidence) -> list[_Stream]:
    """The streams to decode, with their decoders configured (single-threaded, error detection)."""
    out: list[_Stream] = []
    for stream in container.streams:
        if stream.type not in ("video", "audio"):
            continue
        cover = stream.type == "video" and bool(int(stream.disposition) & int(Disposition.attached_pic))
        ctx = stream.codec_context
        codec_name = getattr(stream.codec_context, "name", None) or _codec_id_name(stream)
        if ctx is None and codec_name in ("none", "unknown"):
            # The container names no codec FFmpeg knows: in practice a damaged stream description.
            evidence.add(
                Severity.CORRUPT,
                "unknown_codec",
                f"{stream.type} stream #{stream.index} has no recognisable codec (damaged stream header?)",
            )
            continue
        if ctx is None:
            evidence.add(
                Severity.UNSUPPORTED,
                "no_decoder",
                f"no decoder for {stream.type} codec {codec_name!r} (stream #{stream.index})",
            )
            continue
        ctx.thread_type = "NONE"
        ctx.thread_count = 1
        if options.deep:
            deep_flags = _DEEP_ERR_DETECT_MPEG12 if ctx.name in _MPEG12_VIDEO else _DEEP_ERR_DETECT
            ctx.options = {**ctx.options, "err_detect": deep_flags}
        elif ctx.name == "flac":
            ctx.options = {**ctx.options, "err_detect": _NORMAL_ERR_DETECT_FLAC}
        elif ctx.name in _SKIP_LOOP_FILTER:
            # Deblocking only smooths reconstructed pixels; every bitstream check still runs.
            ctx.options = {**ctx.options, "skip_loop_filter": "all"}
        tb = float(stream.time_base) if stream.time_base else 0.0
        start = _seconds(stream.start_time, tb) if stream.start_time is not None else None
        if start is None:
            start = (container.start_time or 0) / 1_000_000
        declared_end = None
        if stream.duration and tb:
            declared_end = start + stream.duration * tb
        st = _Stream(
            stream.index, "cover" if cover else stream.type, codec_name, ctx, tb, start, declared_end
        )
        if stream.type == "audio":
            st.sample_rate = ctx.sample_rate or 0
            st.pcm_block = _pcm_block(ctx)
            if ctx.name == "flac":
                info = flac_md5.parse_streaminfo(ctx.extradata)
                if info is not None:
                    st.md5 = flac_md5.Md5Check(info, f"flac (stream #{stream.index})")
        out.append(st)
    return out


_PCM_BITS = re.compile(r"^pcm_[suf](8|16|24|32|64)(?:le|be)?(?:_planar)?$")


def _pcm_block(ctx: Any) -> int:
    """Bytes per sample frame (every channel) of a PCM codec, 0 when the codec is not plain PCM."""
    name = ctx.name or ""
    match = _PCM_BITS.match(name)
    bits = int(match.group(1)) if match else 8 if name in ("pcm_alaw", "pcm_mulaw") else 0
    channels = getattr(ctx, "channels", 0) or 0
    return bits // 8 * channels if bits and channels else 0


def _codec_id_name(stream: Any) -> str:
    try:
        return str(stream.codec.name)
    except Exception:  # no codec object at all for an unknown codec id
        return "unknown"


# --------------------------------------------------------------------------------------------------------
# The check.


def check(path: str, options: CheckOptions, sniff: Sniff | None = None) -> CheckResult:
    """Decode every audio/video stream of *path* fully and report damage as findings.

    ``sniff`` is the dispatcher's :class:`~pixelprobe_tui.core.media.Sniff` of the file, when it has one
    (saves reading the header again). Never raises for a file-level problem: I/O errors give an
    ``unreadable`` finding, anything FFmpeg cannot make sense of gives ``corrupt`` findings.
    """
    path = os.fspath(path)
    base: dict[str, Any] = {"tool_versions": tool_versions(), "decisive_tool": _decisive_tool()}
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        return make_result(path, [_os_finding(exc, "cannot stat the file")], **base)
    base["file_size"] = size
    if size == 0:
        return make_result(path, [Finding(Severity.CORRUPT, "empty", TOOL, "empty file (0 bytes)")], **base)

    evidence = _Evidence()
    with _ffmpeg_log() as logs:
        try:
            raw = _SNIFFED_DEMUXER.get(sniff.container or "") if sniff is not None else None
            container = _open(path, _is_pcm_container(path, sniff), logs, raw)
        except av.error.FFmpegError as exc:
            _drain_logs(logs, evidence, None, None, phase="open")
            return make_result(path, [*evidence.findings(), _open_failure(exc, path)], **base)
        except OSError as exc:
            return make_result(path, [_os_finding(exc, "cannot open the file")], **base)
        try:
            result = _check_open(path, container, options, evidence, logs, size, base, sniff)
        finally:
            container.close()
    return result


def _open(path: str, pcm: bool, logs: list[tuple[int, str, str]], raw: str | None = None) -> Any:
    """``av.open`` for reading; PCM containers with a small probe (retried at the default if too small).

    ``raw`` names FFmpeg's demuxer for a raw elementary stream the sniffer recognised by its frame syncs
    (AC-3, MP3 ...): FFmpeg's own probe, given a clip of one or two frames, guesses with a low score and
    may guess wrong (a 384-byte AC-3 file was opened as MPEG-TS and failed). Opened with that demuxer
    first; if it refuses, FFmpeg probes as usual.
    """
    # Tags in a legacy encoding are common in valid files; they must not stop the check.
    if raw is not None:
        try:
            return av.open(path, mode="r", format=raw, metadata_errors="replace")
        except av.error.FFmpegError:
            logs.clear()
    if not pcm:
        return av.open(path, mode="r", metadata_errors="replace")
    try:
        container = av.open(path, mode="r", metadata_errors="replace", options={"probesize": _PCM_PROBESIZE})
    except av.error.FFmpegError:
        logs.clear()
        return av.open(path, mode="r", metadata_errors="replace")
    if any(text.startswith(_PROBE_INCOMPLETE) for _level, _name, text in logs):
        container.close()
        logs.clear()
        return av.open(path, mode="r", metadata_errors="replace")
    return container


def _is_pcm_container(path: str, sniff: Sniff | None) -> bool:
    """Whether the content is WAV/RF64/W64/AIFF (from the sniff, else from the first bytes)."""
    if sniff is not None:
        return sniff.container in _PCM_CONTAINERS and not sniff.tag_size
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return identify(head)[0] in _PCM_CONTAINERS


def _check_open(
    path: str,
    container: Any,
    options: CheckOptions,
    evidence: _Evidence,
    logs: list[tuple[int, str, str]],
    size: int,
    base: dict[str, Any],
    sniff: Sniff | None = None,
) -> CheckResult:
    fmt_name = container.format.name or ""
    container_name = _container_name(fmt_name, path)
    estimated = any(text.startswith("Estimating duration from bitrate") for _level, _name, text in logs)
    opening = list(logs)
    # The WAV demuxer's word for a data chunk of unset size (written as a stream): the data runs to EOF.
    unsized = any(_UNSIZED_WAV in text for _level, _name, text in opening)
    logs.clear()
    streams = _open_streams(container, options, evidence)
    # Probing (find_stream_info) decoded the first frames already: decoder messages from then are the same
    # damage the full decode reports again, so they are kept only if the decode does not repeat them.
    decoders = {s.ctx.name: s for s in reversed(streams)}
    probe = [m for m in opening if m[1] in decoders]
    logs.extend(m for m in opening if m[1] not in decoders)
    _drain_logs(logs, evidence, None, None, phase="open")
    sniffed_demuxer = _SNIFFED_DEMUXER.get(sniff.container or "") if sniff is not None else None
    if sniffed_demuxer is not None and sniffed_demuxer in fmt_name.split(","):
        # FFmpeg guessed with a low score what our sniffer recognised by its frame syncs: no misdetection.
        evidence.downgrade(_LOW_SCORE, "format confirmed by the sniffer")
    has_video = any(s.kind == "video" for s in streams) or any(
        s.type == "video"
        and not (int(s.disposition) & int(Disposition.attached_pic))
        and s.codec_context is None
        for s in container.streams
    )
    family = "video" if has_video else "audio"
    base.update(family=family, container=container_name)

    if any(s.kind == "cover" for s in streams):
        evidence.downgrade(_BENIGN_WITH_COVER, "cover-art track notice")
    if not any(s.kind != "cover" for s in streams):
        kinds = {s.type for s in container.streams}
        if kinds and kinds <= {"subtitle", "attachment"}:
            evidence.add(
                Severity.WARNING, "no_av_streams", f"{container_name}: subtitles only, no audio or video"
            )
        elif not evidence.has_damage() and not any(
            e.severity == Severity.UNSUPPORTED for e in evidence.entries.values()
        ):
            # An audio/video container whose streams are all unknown or data: a damaged track header.
            evidence.add(
                Severity.CORRUPT, "no_av_streams", f"{container_name}: no audio or video stream found"
            )
        return make_result(path, evidence.findings(), **base)

    reached = _decode(container, streams, options, evidence, logs, size, path)
    _pcm_tails(streams, evidence, length_unknown=unsized)
    _flush(streams, evidence, logs)
    for level, name, text in probe:
        logs.append((level, name, text))
        _drain_logs(logs, evidence, decoders[name], None, phase="probe")

    findings: list[Finding] = []
    for st in streams:
        findings.extend(_stream_findings(st, options))
    media_streams = [s for s in streams if s.kind != "cover"]
    if media_streams and not any(s.frames or s.packets for s in media_streams):
        findings.append(
            Finding(
                Severity.CORRUPT, "no_data", TOOL, f"{container_name}: no audio or video data could be read"
            )
        )
    if not _skip_duration(fmt_name, estimated):
        findings.extend(_truncation(container, streams, evidence.has_damage() or bool(findings)))
    findings = evidence.findings() + findings
    media = {
        "format": container_name,
        "duration_s": round(container.duration / 1_000_000, 3) if container.duration else None,
        "bytes_read": reached,
        "streams": [
            {"index": s.index, "type": s.kind, "codec": s.codec, "frames": s.frames, "packets": s.packets}
            for s in streams
        ],
    }
    return make_result(path, findings, media_info=media, **base)


def _decode(
    container: Any,
    streams: list[_Stream],
    options: CheckOptions,
    evidence: _Evidence,
    logs: list[tuple[int, str, str]],
    size: int,
    path: str,
) -> int:
    """The demux + decode loop. Returns the byte offset reached."""
    by_index = {s.index: s for s in streams}
    deep = options.deep
    fmt_name = container.format.name or ""
    check_dts = not _discontinuous(fmt_name) and not set(fmt_name.split(",")) & _TS_RESTART
    # MP4/MOV decode times add up full-precision sample durations: two packets of a stream at the same
    # time mean a zero duration in the sample or fragment run tables (damage; ffmpeg rejects the stream).
    # Containers with coarse timestamps (Matroska and FLV milliseconds) may round two packets together.
    exact = fmt_name.startswith("mov,")
    discontinuous = _discontinuous(fmt_name)
    origin = (container.start_time or 0) / 1_000_000
    for s in streams:
        s.check_order = s.kind == "video" and _presentation_timestamps(fmt_name, s.ctx)
        if s.kind == "video" and (s.check_order or discontinuous):
            s.slot_rate = _slot_rate(container.streams[s.index])
            s.slot_origin = origin
    selected = [container.streams[s.index] for s in streams]
    read_limit = size * _MAX_READ_FACTOR + _MAX_READ_SLACK
    packet_limit = size + 100_000
    total_bytes = 0
    total_packets = 0
    reached = 0
    at: float | None = None  # media time of the last packet, relative to its stream's start
    demuxer = container.demux(selected)
    retries = 0
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            break
        except BlockingIOError:
            # EAGAIN: the demuxer has no packet ready yet (mpegts resyncing). ffmpeg retries; so do we, with
            # a fresh generator that reads on from the same position, a bounded number of times in a row.
            retries += 1
            if retries > _MAX_EAGAIN:
                evidence.add(
                    Severity.CORRUPT,
                    "demux_error",
                    f"{_short(container.format.name)}: demuxer made no progress after byte {reached}",
                    at=at,
                )
                break
            demuxer = container.demux(selected)
            continue
        except IndexError:
            # PyAV's final flush indexes streams the demuxer added mid-file (AVFMTCTX_NOHEADER) and fails;
            # all data was read by then, and _flush drains the decoders.
            break
        except av.error.FFmpegError as exc:
            _drain_logs(logs, evidence, None, at, phase="demux")
            evidence.add(*_demux_failure(exc, container, reached, path), at=at)
            break
        retries = 0
        if logs:
            _drain_logs(logs, evidence, None, at, phase="demux")
        psize = packet.size
        if not psize:
            # PyAV's end-of-stream flush packets (all labelled stream 0), and side-data-only packets that
            # decoders reject with EINVAL (FLAC's final STREAMINFO update in NUT/MKV): _flush drains instead.
            continue
        st = by_index.get(packet.stream_index)
        if st is None:
            continue
        st.packets += 1
        total_packets += 1
        total_bytes += psize
        ts = packet.pts
        if ts is None:
            ts = packet.dts
        if ts is not None:
            at = ts * st.time_base - st.start
        pos = packet.pos
        if pos is not None and pos >= 0:
            reached = max(reached, pos + psize)
            if deep and pos + psize > size:
                evidence.add(
                    Severity.CORRUPT,
                    "packet_past_eof",
                    f"{st.label}: packet at byte {pos} extends past the end of the file",
                    at=at,
                )
        if st.held_corrupt is not None:
            st.corrupt_packets += 1  # the held packet was not the stream's last after all
            st.held_corrupt = None
        if packet.is_corrupt:
            if st.first_corrupt_packet_at is None:
                st.first_corrupt_packet_at = at
            if st.pcm_block:
                st.held_corrupt = psize  # judged at the end (see _pcm_tails)
            else:
                st.corrupt_packets += 1
        dts = packet.dts
        if dts is not None:
            if (
                st.last_dts is not None
                and check_dts
                and (dts < st.last_dts or (dts == st.last_dts and exact))
            ):
                st.dts_backwards += 1
                if st.first_dts_backwards_at is None:
                    st.first_dts_backwards_at = at
            st.last_dts = dts
            # A packet presented before it is decoded: the muxer rejects this in a stream copy.
            if deep and packet.pts is not None and packet.pts < dts:
                st.pts_before_dts += 1
        if total_bytes > read_limit or total_packets > packet_limit:
            evidence.add(
                Severity.CORRUPT,
                "demux_runaway",
                f"{container.format.name}: demuxer returned far more data than the file holds; stopped",
                at=at,
            )
            break
        try:
            frames = st.ctx.decode(packet)
        except av.error.FFmpegError as exc:
            st.decode_errors += 1
            frames = ()
            _drain_logs(logs, evidence, st, at, phase="decode")
            evidence.add(*_decode_failure(exc, st), at=at)
        for frame in frames:
            _account(st, frame, at)
        if logs:
            _drain_logs(logs, evidence, st, at, phase="decode")
    demuxer.close()
    return reached


def _pcm_tails(streams: list[_Stream], evidence: _Evidence, *, length_unknown: bool) -> None:
    """Judge PCM packets flagged corrupt that turned out to be their stream's last.

    When PCM data runs to the end of the file with no declared length (a WAV written to a pipe leaves
    its sizes unset: "Ignoring maximum wav data size"), the demuxer asks for a full
    packet at the end, gets fewer bytes and flags the short packet corrupt (and logs "Packet corrupt" at
    WARNING). A last packet of whole sample frames is then simply the end of the data. One that ends
    inside a sample frame is cut data, and under a declared length a short packet is missing data: both
    stay corrupt.
    """
    for st in streams:
        if st.held_corrupt is None:
            continue
        held, st.held_corrupt = st.held_corrupt, None
        if held % st.pcm_block or not length_unknown:
            st.corrupt_packets += 1
            continue
        notice = re.compile(rf"Packet corrupt \(stream = {st.index}\b")
        evidence.forgive(notice, "the last packet ends the PCM data with whole sample frames: a short read")


def _flush(streams: list[_Stream], evidence: _Evidence, logs: list[tuple[int, str, str]]) -> None:
    """Drain every decoder: the frames it still holds (reorder delay, B-frames) are decoded and counted."""
    for st in streams:
        if not st.ctx.is_open:
            continue
        try:
            frames = st.ctx.decode(None)
        except av.error.EOFError:
            frames = ()
        except av.error.FFmpegError as exc:
            st.decode_errors += 1
            frames = ()
            evidence.add(*_decode_failure(exc, st), at=st.end)
        for frame in frames:
            _account(st, frame, st.end)
        if logs:
            _drain_logs(logs, evidence, st, st.end, phase="decode")


def _account(st: _Stream, frame: Any, at: float | None) -> None:
    """Count one decoded frame: corruption flag, order, decoded extent, FLAC hash."""
    st.frames += 1
    pts = frame.pts
    if frame.is_corrupt:
        st.corrupt_frames += 1
        if st.first_corrupt_at is None:
            st.first_corrupt_at = pts * st.time_base - st.start if pts is not None else at
    if st.kind == "audio":
        n = frame.samples
        st.samples += n
        rate = frame.sample_rate or st.sample_rate
        if rate and not st.sample_rate:
            st.sample_rate = rate
        dur = n / rate if rate else 0.0
        if st.md5 is not None:
            st.md5.update(frame)
    else:
        dur = (frame.duration or 0) * st.time_base
        if pts is not None:
            last = st.last_pts
            if last is not None:
                # Frames leave the decoder in presentation order, so a time that does not increase is
                # damaged timing (e.g. composition offsets); ffmpeg reports it as non-monotonic DTS.
                if pts < last and st.check_order:
                    st.pts_backwards += 1
                    if st.first_pts_backwards_at is None:
                        st.first_pts_backwards_at = pts * st.time_base - st.start
                elif pts == last and st.check_order:
                    st.pts_repeated += 1
                elif pts > last and not frame.duration:
                    # VFR frames without a duration last until the next one; the last frame may last as
                    # long, beyond the decoded end, so the gap widens the truncation tolerance.
                    dur = max(dur, (pts - last) * st.time_base)
            st.last_pts = pts
            if st.slot_rate:
                _slot(st, pts)
    if dur > st.max_frame:
        st.max_frame = dur
    if pts is not None:
        t = pts * st.time_base
        end: float | None = t + (dur if st.kind == "audio" else (frame.duration or 0) * st.time_base)
    elif st.kind == "audio" and st.sample_rate:
        end = st.start + st.samples / st.sample_rate  # no timestamps (raw formats): count samples
    else:
        end = None
    if end is not None and (st.end is None or end > st.end):
        st.end = end


# A decoded time this far before the previous frame's is a timestamp discontinuity (MPEG-TS/PS splice or
# reset), which players and ffmpeg (its -dts_delta_threshold) re-base rather than reject.
_DISCONTINUITY_S = 10.0


# A constant-frame-rate stream steps a whole number of frame slots from frame to frame, within this fraction
# of a slot (timestamp rounding in the container's time base). Variable-frame-rate video (phones, screen
# recorders) steps freely; its frames may share a slot of the guessed rate without any damage.
_SLOT_JITTER = 0.1
# Share of regular steps that makes a stream constant-rate, so that a frame landing on its neighbour's slot
# is damaged timing rather than the stream's own rhythm.
_CFR_SHARE = 0.9


def _constant_rate(st: _Stream) -> bool:
    """Whether the stream kept to its frame grid apart from a few frames that collide: each moved frame
    spoils at most two steps (into it and out of it); any other irregular step means variable frame rate."""
    irregular = st.slot_steps - st.slot_steps_regular
    allowance = (1.0 - _CFR_SHARE) * st.slot_steps
    return (
        st.slot_steps > 0
        and st.slot_collisions <= allowance
        and irregular - 2 * st.slot_collisions <= allowance
    )


def _slot_rate(stream: Any) -> float:
    """The frame rate ffmpeg would encode this stream's frames at (``av_guess_frame_rate``), 0 if unknown."""
    rate = stream.guessed_rate or stream.base_rate or stream.average_rate
    try:
        value = float(rate) if rate else 0.0
    except ZeroDivisionError:
        return 0.0
    return value if 0.0 < value <= 1000.0 else 0.0


def _slot(st: _Stream, pts: int) -> None:
    """Place a decoded video frame on the stream's frame grid and count frames that collide.

    Frames leave the decoder in presentation order, so each must land on a later frame slot than the one
    before it. A frame whose time rounds to the previous frame's slot (or an earlier one) has damaged
    timing: ffmpeg's own full decode stops accepting the stream there ("non monotonically increasing
    dts"). A jump back of more than :data:`_DISCONTINUITY_S` is a discontinuity: the grid restarts.
    """
    t = pts * st.time_base - st.slot_origin
    slot = math.floor(t * st.slot_rate + 0.5)
    last, last_t = st.last_slot, st.last_slot_time
    st.last_slot, st.last_slot_time = slot, t
    if last_t is not None and t > last_t:
        steps = (t - last_t) * st.slot_rate
        st.slot_steps += 1
        if steps >= 0.9 and abs(steps - round(steps)) <= _SLOT_JITTER:
            st.slot_steps_regular += 1
    if last is None or slot > last:
        return
    if (last - slot) / st.slot_rate > _DISCONTINUITY_S:
        return
    st.slot_collisions += 1
    if st.first_slot_collision_at is None:
        st.first_slot_collision_at = pts * st.time_base - st.start


def _format_unknown(st: _Stream) -> bool:
    """Whether the decoder has no pixel format (video) or sample format (audio) for the stream."""
    try:
        return (st.ctx.pix_fmt if st.kind == "video" else st.ctx.format) is None
    except (AttributeError, ValueError):
        return False


def _stream_findings(st: _Stream, options: CheckOptions) -> list[Finding]:
    out: list[Finding] = []
    cover = st.kind == "cover"
    if st.corrupt_frames:
        out.append(
            Finding(
                Severity.CORRUPT,
                "cover_art_corrupt" if cover else "corrupt_frame",
                TOOL,
                f"{st.label}: {st.corrupt_frames} corrupt decoded frame(s) (damage concealed by the decoder)",
                at_seconds=st.first_corrupt_at,
                count=st.corrupt_frames,
            )
        )
    if st.corrupt_packets:
        out.append(
            Finding(
                Severity.CORRUPT,
                "corrupt_packet",
                TOOL,
                f"{st.label}: demuxer flagged {st.corrupt_packets} packet(s) as corrupt",
                at_seconds=st.first_corrupt_packet_at,
                count=st.corrupt_packets,
            )
        )
    if not st.packets and not cover and _format_unknown(st):
        # FFmpeg's probe found no data to learn the pixel or sample format from, and the demuxer then
        # delivered no packet either: the track's data is lost (a damaged fragment or cluster header).
        # The ffmpeg tool fails on such a file ("Cannot determine format of input ... after EOF").
        out.append(
            Finding(
                Severity.CORRUPT,
                "no_packets",
                TOOL,
                f"{st.label}: no packet of this {st.kind} track could be read (its data is lost)",
            )
        )
    if st.packets and not st.frames and not cover:
        if st.packets <= _DELAY_PACKETS and not (st.decode_errors or st.messages or st.corrupt_packets):
            # A decoder with a delay (MDCT overlap: WMA, AAC) keeps its first packet or two to itself: a
            # clip that short has no frame to show, and the decoder said nothing was wrong.
            out.append(
                Finding(
                    Severity.INFO,
                    "no_frames",
                    TOOL,
                    f"{st.label}: {st.packets} packet(s), no frame out (decoder delay on a very short stream)",
                )
            )
        else:
            out.append(
                Finding(
                    Severity.CORRUPT,
                    "no_frames",
                    TOOL,
                    f"{st.label}: {st.packets} packet(s) but no frame decoded",
                )
            )
    if st.md5 is not None:
        out.append(st.md5.finish())
    if st.dts_backwards:
        out.append(
            Finding(
                Severity.CORRUPT,
                "dts_not_monotonic",
                TOOL,
                f"{st.label}: packet timestamps go backwards or repeat {st.dts_backwards} time(s) (damaged timing)",
                at_seconds=st.first_dts_backwards_at,
                count=st.dts_backwards,
            )
        )
    if st.pts_backwards:
        out.append(
            Finding(
                Severity.CORRUPT,
                "frame_order",
                TOOL,
                f"{st.label}: {st.pts_backwards} decoded frame(s) with a timestamp earlier than the previous "
                "frame (damaged timing)",
                at_seconds=st.first_pts_backwards_at,
                count=st.pts_backwards,
            )
        )
    timing_damaged = bool(st.slot_collisions) and _constant_rate(st)
    if timing_damaged and not st.pts_backwards:
        out.append(
            Finding(
                Severity.CORRUPT,
                "frame_timing",
                TOOL,
                f"{st.label}: {st.slot_collisions} decoded frame(s) land on the previous frame's time slot "
                f"at {st.slot_rate:.3g} fps or before it (damaged timing)",
                at_seconds=st.first_slot_collision_at,
                count=st.slot_collisions,
            )
        )
    if st.pts_before_dts:
        out.append(
            Finding(
                Severity.CORRUPT,
                "pts_before_dts",
                TOOL,
                f"{st.label}: {st.pts_before_dts} packet(s) presented before they are decoded (pts < dts)",
                count=st.pts_before_dts,
            )
        )
    if st.pts_repeated and not timing_damaged:
        out.append(
            Finding(
                Severity.WARNING,
                "frame_pts_repeated",
                TOOL,
                f"{st.label}: {st.pts_repeated} decoded frame(s) repeat the previous frame's timestamp",
                count=st.pts_repeated,
            )
        )
    if options.deep:
        extent = f", {st.end - st.start:.3f} s decoded" if st.end is not None else ""
        out.append(
            Finding(
                Severity.INFO,
                "stream_summary",
                TOOL,
                f"{st.label}: {st.packets} packets, {st.frames} frames, {st.corrupt_frames} corrupt frames, "
                f"{st.decode_errors} decode errors, {st.messages} FFmpeg messages{extent}",
            )
        )
    return out


def _presentation_timestamps(fmt_name: str, ctx: Any) -> bool:
    """Whether this container stores presentation times for the stream, so decoded frames must come out
    in increasing time. AVI, raw streams and Matroska/FLV in VfW compatibility mode (a FourCC codec tag)
    carry decode-order times that the decoder's reordering legitimately scrambles."""
    if fmt_name.startswith("mov,"):
        return True
    if fmt_name.startswith("matroska") or fmt_name == "flv":
        tag = ctx.codec_tag or ""
        return not tag.strip("\x00")
    return False


def _discontinuous(fmt_name: str) -> bool:
    return bool(set(fmt_name.split(",")) & _TS_DISCONTINUOUS)


def _skip_duration(fmt_name: str, estimated: bool) -> bool:
    return estimated or _discontinuous(fmt_name) or bool(set(fmt_name.split(",")) & _UNRELIABLE_DURATION)


def _truncation(container: Any, streams: list[_Stream], damaged: bool) -> list[Finding]:
    """A stream, or the file, that decodes to well short of its declared end."""
    out: list[Finding] = []
    decoded = [s for s in streams if s.kind != "cover"]
    worst_short = 0.0
    for st in decoded:
        if st.declared_end is None or st.end is None:
            continue
        declared = st.declared_end - st.start
        short = st.declared_end - st.end
        if declared > 0 and short > _tolerance(declared, st.max_frame, st.kind):
            worst_short = max(worst_short, short)
            out.append(
                Finding(
                    Severity.CORRUPT,
                    "truncated",
                    TOOL,
                    f"{st.label}: decoded {max(0.0, st.end - st.start):.2f} s of a declared {declared:.2f} s "
                    f"(ends {short:.2f} s early)",
                    at_seconds=max(0.0, st.end - st.start),
                )
            )
    if out:
        return out
    ends = [s.end for s in decoded if s.end is not None]
    # The container's duration spans every track; a subtitle or data track may outlast audio and video.
    others = any(s.type in ("subtitle", "data") for s in container.streams)
    if container.duration and container.duration > 0 and ends and not others:
        start = (container.start_time or 0) / 1_000_000
        declared = container.duration / 1_000_000
        end = max(ends)
        short = start + declared - end
        frame = max((s.max_frame for s in decoded), default=0.0)
        kind = "video" if any(s.kind == "video" for s in decoded) else "audio"
        if short > _tolerance(declared, frame, kind):
            out.append(
                Finding(
                    Severity.CORRUPT,
                    "truncated",
                    TOOL,
                    f"decoded {max(0.0, end - start):.2f} s of a declared {declared:.2f} s "
                    f"(ends {short:.2f} s early)",
                    at_seconds=max(0.0, end - start),
                )
            )
    elif not ends and any(s.packets for s in decoded) and not damaged:
        # Raw elementary streams (.h264, .hevc) have none by design; nothing to compare, nothing wrong.
        out.append(Finding(Severity.INFO, "no_timestamps", TOOL, "decoded frames carry no timestamps"))
    return out


def _tolerance(declared: float, frame: float, kind: str) -> float:
    """How much shorter than declared a decode may end: priming/padding, reorder delay, last frame."""
    floor = 0.5 if kind == "video" else 0.3
    return max(floor, 0.01 * declared, 3 * frame)


# --------------------------------------------------------------------------------------------------------
# Messages and failures.


def _drain_logs(
    logs: list[tuple[int, str, str]],
    evidence: _Evidence,
    st: _Stream | None,
    at: float | None,
    *,
    phase: str,
) -> None:
    """Turn captured messages into evidence and empty the capture list (bounded memory)."""
    if not logs:
        return
    pending_level = 0
    pending_name = ""
    pending = ""
    items = list(logs)
    logs.clear()
    for level, name, text in items:
        # FFmpeg sometimes builds one line from several calls; join until the newline.
        if pending and name == pending_name:
            text = pending + text
            level = min(level, pending_level)
            pending = ""
        elif pending:
            _one_message(pending_level, pending_name, pending, evidence, st, at, phase)
            pending = ""
        if not text.endswith("\n"):
            pending, pending_level, pending_name = text, level, name
            continue
        _one_message(level, name, text, evidence, st, at, phase)
    if pending:
        _one_message(pending_level, pending_name, pending, evidence, st, at, phase)


# Damage messages FFmpeg prints only once per process (a static "warned" flag in the decoder): after one
# of them, this process can no longer see that damage in another file.
_ONCE_PER_PROCESS = re.compile(r"ACT flag set, in violation of frame header")
_once_spent = False


def once_messages_spent() -> bool:
    """Whether FFmpeg has printed a once-per-process damage message here: a checker process that goes on
    checking files would miss that damage in every later file, so it should be replaced."""
    return _once_spent


def _one_message(
    level: int, name: str, text: str, evidence: _Evidence, st: _Stream | None, at: float | None, phase: str
) -> None:
    global _once_spent
    text = " ".join(text.split())
    if _ONCE_PER_PROCESS.search(text):
        _once_spent = True
    if not text or text.startswith(_BOILERPLATE_LINE):
        return
    text = text.replace(_BOILERPLATE_TAIL, "").strip()
    cover = st is not None and st.kind == "cover"
    severity, code = _classify(level, text, cover=cover)
    who = name.split(",")[0] if name else "ffmpeg"
    if st is not None:
        st.messages += 1
        where = f"{who} (cover art #{st.index})" if cover else f"{who} (stream #{st.index})"
    else:
        where = who
        if code == "decode_error":
            code = "demux_error" if phase != "open" else "container_error"
        elif code == "decoder_warning":
            code = "demuxer_warning"
    if phase == "probe":
        evidence.add_if_new(severity, code, f"{where}: {text}")
    else:
        evidence.add(severity, code, f"{where}: {text}", at=at)


def _file_reads_fine(path: str, start: int = 0) -> bool:
    """Whether the OS reads *path* from *start* to its end without an error.

    Demuxers report damaged data with errno codes too (Matroska: EIO at a premature end of file; ASF:
    EPERM on a bad header). An error is only the storage's when the operating system cannot read the
    bytes either; this costs a read of the rest of the file, and runs only on those failure paths.
    """
    try:
        with open(path, "rb", buffering=0) as fh:
            fh.seek(max(0, start))
            while fh.read(1 << 20):
                pass
    except OSError:
        return False
    return True


def _io_error(exc: BaseException, path: str, start: int = 0) -> bool:
    """Whether an FFmpeg error is a real I/O error (not damaged data reported with an errno code)."""
    if not isinstance(exc, OSError) or isinstance(exc, av.error.InvalidDataError):
        return False
    return not _file_reads_fine(path, start)


_READS_FINE = "the file itself reads fine: damaged or truncated data"
# A file smaller than this cannot need FFmpeg to allocate past the memory cap to open or demux: ENOMEM
# there comes from a damaged size field. Larger files get the benefit of the doubt (memory cap).
_SMALL_FOR_ENOMEM = 64 * 1024 * 1024


def _errno_finding(exc: BaseException, path: str, code: str, message: str) -> Finding:
    """The finding for an errno-coded FFmpeg error on a file the OS reads fine (see _io_error)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        try:
            small = os.path.getsize(path) < _SMALL_FOR_ENOMEM
        except OSError:
            small = False
        if not small:
            return Finding(
                Severity.UNSUPPORTED,
                "memory_cap",
                TOOL,
                f"{message}: {reason} (not checkable within the memory cap)",
            )
        return Finding(
            Severity.CORRUPT,
            code,
            TOOL,
            f"{message}: {reason} (a size field asks for more memory than a file this small can need)",
        )
    if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
        reason = f"{reason} ({_READS_FINE})"
    return Finding(Severity.CORRUPT, code, TOOL, f"{message}: {reason}")


def _demux_failure(
    exc: av.error.FFmpegError, container: Any, reached: int, path: str
) -> tuple[Severity, str, str]:
    name = (container.format.name or "demuxer").split(",")[0]
    reason = exc.strerror or str(exc)
    if _io_error(exc, path, reached):
        return Severity.UNREADABLE, "io_error", f"{name}: read failed after byte {reached}: {reason}"
    found = _errno_finding(
        exc, path, "demux_error", f"{name}: demuxing stopped after byte {reached} of the file"
    )
    return found.severity, found.code, found.message


def _decode_failure(exc: av.error.FFmpegError, st: _Stream) -> tuple[Severity, str, str]:
    reason = exc.strerror or str(exc)
    code = "cover_art_corrupt" if st.kind == "cover" else "decode_error"
    return Severity.CORRUPT, code, f"{st.label}: decoder rejected a packet: {reason}"


def _open_failure(exc: av.error.FFmpegError, path: str) -> Finding:
    if _io_error(exc, path):
        return _os_finding(exc, "cannot open the file")
    return _errno_finding(exc, path, "open_failed", "cannot open as media")


def _os_finding(exc: OSError, what: str) -> Finding:
    return Finding(Severity.UNREADABLE, "io_error", TOOL, f"{what}: {exc.strerror or exc}")


# Names as core.media uses them (its sniffed name is replaced by ours once the content was opened).
_MOV_NAMES = {".mov": "mov", ".qt": "mov", ".3gp": "3gp", ".3g2": "3gp"}
_RENAMED = {"mpeg": "mpegps"}


def _short(fmt_name: str | None) -> str:
    return (fmt_name or "demuxer").split(",")[0]


def _container_name(fmt_name: str, path: str) -> str:
    """A short container name: ``mp4``/``mov``/``3gp`` for the mov family, ``webm``/``matroska`` ..."""
    ext = os.path.splitext(path)[1].lower()
    if fmt_name.startswith("mov,"):
        return _MOV_NAMES.get(ext, "mp4")
    if fmt_name.startswith("matroska"):
        return "webm" if ext == ".webm" else "matroska"
    first = fmt_name.split(",")[0] if fmt_name else "unknown"
    return _RENAMED.get(first, first)


__all__ = ["TOOL", "check", "tool_versions"]
