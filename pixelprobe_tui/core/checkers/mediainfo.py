"""Media info: a compact, JSON-able summary of a file from libmediainfo (via pymediainfo).

This is description, not judgement: it never produces findings. It is stored as JSON text with each
result so the detail view can say what the file is (container, codecs, size, duration) even when the
decoders gave up.

Cost is per file, so it is kept low (bench corpus, in-process CPU per file: 1.9 ms -> 0.6-0.8 ms):

- one libmediainfo handle per thread; ``ReadByHuman=0`` and no sibling/directory probing;
- the fields kept are read with ``MediaInfo_Get``, not by building and parsing the JSON report;
- the dispatcher passes the sniffed container: where that is cheaper (``_PARSERS``) only the matching
  parser reads the file, through the buffer API; otherwise libmediainfo opens it by name;
- content the sniffer did not recognise (junk, a clobbered header) gets only its first 16 KB.

libmediainfo can spin forever inside one C call on some damaged data. :func:`bounded_media_info` runs the
call on a helper thread and waits at most a budget; on overrun the call is abandoned (its thread cannot be
stopped), the file gets no description, and the process counts as :func:`stuck`: no more media info here,
and a checker child asks its parent to replace it after answering.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

# Fields kept per track, as (our key, libmediainfo JSON key). Everything else is dropped: the full
# libmediainfo dump is several kilobytes per file and nobody triages with it.
_GENERAL = (
    ("format", "Format"),
    ("format_profile", "Format_Profile"),
    ("duration_s", "Duration"),
    ("bitrate", "OverallBitRate"),
    ("file_size", "FileSize"),
)
_TRACK = (
    ("format", "Format"),
    ("profile", "Format_Profile"),
    ("codec", "CodecID"),
    ("duration_s", "Duration"),
    ("bitrate", "BitRate"),
    ("width", "Width"),
    ("height", "Height"),
    ("frame_rate", "FrameRate"),
    ("frame_count", "FrameCount"),
    ("bit_depth", "BitDepth"),
    ("chroma", "ChromaSubsampling"),
    ("channels", "Channels"),
    ("sample_rate", "SamplingRate"),
    ("language", "Language"),
)
_TRACK_TYPES = {"Video", "Audio", "Image", "Text", "Menu"}
# libmediainfo's ParseSpeed: 0 reads only what it needs for the headers, which keeps junk cheap.
_PARSE_SPEED = 0.0
# Options that cut libmediainfo's cost per file without changing the summary (compared on the bench
# corpus, 544 files: identical summaries), 0.81 -> 0.39 ms per valid file:
# - ReadByHuman=0: no human-readable copies of every field ("2 s 8 ms", "428 kb/s"), which the JSON
#   output never shows unless Complete is on; half of the time of an open.
# - File_TestContinuousFileNames=0: no probing for numbered siblings ("x_0001.png" -> "x_0002.png" ...)
#   as an image sequence: we describe one file.
# - File_TestDirectory=0: no look at the directory around the file (disc structures, sidecar files).
_CHEAP_OPTIONS = [("ReadByHuman", "0"), ("File_TestContinuousFileNames", "0"), ("File_TestDirectory", "0")]
# How much of a file goes to libmediainfo when our sniffer recognised no format in it (junk, a clobbered
# header). Opened by name, libmediainfo then tries every one of its parsers, each re-reading the whole
# file and scanning it for a sync word: 4 ms for a 50 KB file, 11 ms for 350 KB. The first 16 KB cost
# about 1 ms and still identify what it finds in damaged files of the bench corpus (6 of 7).
_UNKNOWN_HEAD = 16 * 1024
# Containers our sniffer recognised, and the libmediainfo parser that reads them. Opened by name,
# libmediainfo tries its parsers in a fixed order and each failed attempt reopens and rereads the file
# (WebP: 120 opens); fed through its buffer API with File_ForceParser it runs that one parser. Kept
# only where the summaries stayed identical on the bench corpus and the codec matrix (damaged files
# included) and the time dropped (per file: WAV 0.78 -> 0.45 ms, WebM 0.99 -> 0.38, PNG 0.36 -> 0.18,
# WebP 1.73 -> 0.86). ISO-BMFF stays by name: buffered, libmediainfo left out details of MP3/AC-3
# tracks in MP4. An empty parser name is the buffer API without a forced parser (WebP: no parser
# of its own in 24.12, found among all of them at once from memory).
_PARSERS = {
    "wav": "Riff",
    "rf64": "Riff",
    "avi": "Riff",
    "aiff": "Riff",
    "webp": "",
    "asf": "Wm",
    "flac": "Flac",
    "flv": "Flv",
    "gif": "Gif",
    "jpeg": "Jpeg",
    "png": "Png",
    "bmp": "Bmp",
    "tiff": "Tiff",
    "matroska": "Mk",
    "webm": "Mk",
    "mp3": "Mpega",
    "ogg": "Ogg",
}
_CHUNK = 64 * 1024
# A parser asking to go back and forth without end is stopped after this many chunks.
_MAX_CHUNKS = 4096
_NO_SEEK = 2**64 - 1


def _number(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


_TEXT_FIELDS = frozenset({"format", "profile", "codec", "language"})


def _pick(track: dict[str, Any], keys: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ours, theirs in keys:
        value = track.get(theirs)
        if isinstance(value, str) and value.strip():
            out[ours] = _number(value.strip()) if ours not in _TEXT_FIELDS else value
    return out


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """Compact summary of libmediainfo's JSON output (the ``media`` object)."""
    tracks = raw.get("track") or []
    if isinstance(tracks, dict):
        tracks = [tracks]
    general: dict[str, Any] = {}
    kept: list[dict[str, Any]] = []
    for track in tracks:
        if not isinstance(track, dict):
            continue
        kind = track.get("@type")
        if kind == "General":
            general = _pick(track, _GENERAL)
        elif kind in _TRACK_TYPES:
            kept.append({"type": kind.lower(), **_pick(track, _TRACK)})
    return {"general": general, "tracks": kept}


def _plain(path: str) -> bool:
    """Whether libmediainfo can open *path* by name (a valid UTF-8 name; it takes a wide string)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "://" not in path  # libmediainfo would treat it as a URL


# libmediainfo's stream kinds (MediaInfo_stream_t) for the track types kept, in the order its JSON
# output lists them; General is 0.
_KINDS = ((1, "video"), (2, "audio"), (3, "text"), (5, "image"), (6, "menu"))
# Field names that differ between libmediainfo's internal tables (what MediaInfo_Get takes) and its JSON.
_FIELD_NAMES = {"Channels": "Channel(s)"}
_ALL = 2**64 - 1  # (size_t)-1: "how many streams of this kind"


def _value(ours: str, raw: str) -> int | float | str | None:
    """One field as the JSON output would give it, from MediaInfo_Get's raw text (None when empty).

    Compared with the JSON output on 751 files (the bench corpus and H4's codec matrix): identical
    summaries. The JSON output gives durations in seconds (raw: milliseconds) and splits a profile such
    as "High@L4.1" or "Main@Main" into profile and level (we keep the profile).
    """
    if not raw.strip():
        return None
    if ours == "profile":
        return raw.split("@")[0] or None
    if ours in _TEXT_FIELDS:
        return raw
    value = _number(raw.strip())
    if ours == "duration_s" and isinstance(value, int | float):
        return round(value / 1000, 9)
    return value


class _Session:
    """One libmediainfo handle, reused for every file this thread describes.

    ``MediaInfo.parse`` loads the library, defines its prototypes, creates a handle and asks its version on
    every call; for a small file that is a quarter of the cost. The library is still the one pymediainfo
    bundles and loads; only the handle lives longer. The fields kept are read one by one with
    ``MediaInfo_Get`` (0.04 ms a file) instead of building the JSON report of every field and parsing it
    back (0.2 ms).
    """

    def __init__(self) -> None:
        import ctypes

        from pymediainfo import MediaInfo

        self.lib, self.handle, _, version = MediaInfo._get_library()
        lib = self.lib
        lib.MediaInfo_Get.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_size_t,
            ctypes.c_wchar_p,
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.MediaInfo_Get.restype = ctypes.c_wchar_p
        lib.MediaInfo_Count_Get.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        lib.MediaInfo_Count_Get.restype = ctypes.c_size_t
        # Cover_Data is off by default since 18.03 and the option is unknown before; 20.x+ is bundled.
        self.options = [("CharSet", "UTF-8"), ("ParseSpeed", str(_PARSE_SPEED)), ("LegacyStreamDisplay", "")]
        self.options.append(("File_ForceParser", ""))
        self.options += _CHEAP_OPTIONS
        if version >= (18, 3):
            self.options.append(("Cover_Data", ""))
        # A second handle for buffer input (see describe_head): libmediainfo 24.12 crashed when a handle
        # that had been fed a buffer opened a file by name next, so the two ways never share a handle.
        self.buffer_handle: int | None = None

    def __del__(self) -> None:
        # The thread that owned this session ended (thread-local storage is dropped with it).
        with contextlib.suppress(Exception):
            self.lib.MediaInfo_Delete(self.handle)
            if self.buffer_handle is not None:
                self.lib.MediaInfo_Delete(self.buffer_handle)

    def _set_options(self, handle: int) -> None:
        # Some of these are process-wide in libmediainfo: set again on every call, in case something else
        # in this process (a pymediainfo.parse with other settings) changed them.
        for name, value in self.options:
            self.lib.MediaInfo_Option(handle, name, value)

    def _summary(self, handle: int) -> dict[str, Any] | None:
        """The summary of what *handle* has opened (None when it found nothing, not even a file)."""
        lib = self.lib
        if not lib.MediaInfo_Count_Get(handle, 0, _ALL):
            return None

        def pick(kind: int, number: int, keys: tuple[tuple[str, str], ...]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for ours, theirs in keys:
                raw = lib.MediaInfo_Get(handle, kind, number, _FIELD_NAMES.get(theirs, theirs), 1, 0)
                value = _value(ours, raw or "")
                if value is not None:
                    out[ours] = value
            return out

        tracks = [
            {"type": name, **pick(kind, number, _TRACK)}
            for kind, name in _KINDS
            for number in range(lib.MediaInfo_Count_Get(handle, kind, _ALL))
        ]
        return {"general": pick(0, 0, _GENERAL), "tracks": tracks}

    def describe(self, path: str) -> dict[str, Any] | None:
        """The summary of *path* (None when libmediainfo cannot open the file)."""
        lib, handle = self.lib, self.handle
        self._set_options(handle)
        try:
            if lib.MediaInfo_Open(handle, path) == 0:
                return None
            return self._summary(handle)
        finally:
            lib.MediaInfo_Close(handle)

    def _buffer_handle(self, parser: str) -> int:
        lib = self.lib
        if self.buffer_handle is None:
            self.buffer_handle = lib.MediaInfo_New()
        handle = self.buffer_handle
        self._set_options(handle)
        lib.MediaInfo_Option(handle, "File_ForceParser", parser)
        return handle

    def describe_with(self, fd: int, size: int, parser: str) -> dict[str, Any] | None:
        """The summary of the open file *fd* (*size* bytes) fed through the buffer API to *parser* alone."""
        lib = self.lib
        handle = self._buffer_handle(parser)
        lib.MediaInfo_Open_Buffer_Init(handle, size, 0)
        try:
            pos = 0
            for _ in range(_MAX_CHUNKS):
                chunk = os.pread(fd, _CHUNK, pos)
                if not chunk:
                    break
                pos += len(chunk)
                if lib.MediaInfo_Open_Buffer_Continue(handle, chunk, len(chunk)) & 0x08:
                    break  # finished: it knows all it wants to know
                seek = lib.MediaInfo_Open_Buffer_Continue_GoTo_Get(handle)
                if seek != _NO_SEEK:
                    pos = seek
                    lib.MediaInfo_Open_Buffer_Init(handle, size, pos)
            lib.MediaInfo_Open_Buffer_Finalize(handle)
            return self._summary(handle)
        finally:
            lib.MediaInfo_Close(handle)

    def describe_head(self, head: bytes, size: int) -> dict[str, Any] | None:
        """The summary of a file of *size* bytes from its first bytes *head* only.

        On a handle of its own, deleted after: libmediainfo 24.12 crashed in the next buffered parse on a
        handle that had been fed only the head of a file (rare content, so the extra handle costs little).
        """
        lib = self.lib
        handle = lib.MediaInfo_New()
        try:
            self._set_options(handle)
            lib.MediaInfo_Open_Buffer_Init(handle, size, 0)
            lib.MediaInfo_Open_Buffer_Continue(handle, head, len(head))
            lib.MediaInfo_Open_Buffer_Finalize(handle)
            summary = self._summary(handle)
            lib.MediaInfo_Close(handle)
            # Nothing recognised: no summary (a general track would only give the head's size as the file's).
            return summary if summary is not None and summary["general"].get("format") else None
        finally:
            lib.MediaInfo_Delete(handle)


_sessions = threading.local()


def _session() -> _Session | None:
    """This thread's libmediainfo session, or None when the library cannot be loaded."""
    session = getattr(_sessions, "session", None)
    if session is None:
        try:
            session = _Session()
        except Exception:  # missing or unloadable library: no media info, never a failed check
            session = False
        _sessions.session = session
    return session or None


def media_info(path: str, *, known: bool = True, container: str | None = None) -> dict[str, Any] | None:
    """Summary of the regular file *path*, or None when libmediainfo is unavailable or fails.

    libmediainfo opens the file by name (two to three times faster than streaming it through Python), on
    a handle kept per thread; names that are not valid UTF-8 are streamed through ``MediaInfo.parse``
    instead. ``known=False`` says that no format was recognised in the content (junk, a damaged
    header): libmediainfo then sees only the first ``_UNKNOWN_HEAD`` bytes, which bounds its search.
    ``container`` is the sniffed container: for those in ``_PARSERS`` only that parser reads the file
    (by name again if it recognises nothing, so a damaged file is described as before).
    The caller must have checked that *path* is a regular file: opening a FIFO would block.
    Never raises for a bad file.
    """
    try:
        if not known:
            session = _session()
            if session is None:
                return None
            with open(path, "rb") as fh:
                head = fh.read(_UNKNOWN_HEAD)
                size = os.fstat(fh.fileno()).st_size
            # An empty buffer left libmediainfo's handle in a state that crashed the next open.
            return session.describe_head(head, max(size, len(head))) if head else None
        parser = _PARSERS.get(container or "")
        if parser is not None:
            session = _session()
            if session is None:
                return None
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                summary = session.describe_with(fd, size, parser) if size else None
            finally:
                os.close(fd)
            if summary is not None and summary["general"].get("format"):
                return summary
        if _plain(path):
            session = _session()
            return session.describe(path) if session is not None else None
        from pymediainfo import MediaInfo

        with open(path, "rb") as fh:
            out = MediaInfo.parse(fh, output="JSON", parse_speed=_PARSE_SPEED, full=False)
        raw = json.loads(out) if isinstance(out, str) and out.strip() else {}
    except ImportError:
        return None
    except (OSError, RuntimeError, ValueError):
        return None
    media = raw.get("media") if isinstance(raw, dict) else None
    if not isinstance(media, dict):
        return None
    return summarize(media)


# The budget of one media-info call: generous (slow network storage may be read), but far below the
# check's own timeout, so a hang costs the description, never the verdict.
BUDGET_BASE_S = 10.0
BUDGET_PER_GB_S = 20.0

_stuck = threading.Event()
_helpers = threading.local()
# Off by default: the helper thread would make a process multi-threaded, and the checker zygote must stay
# single-threaded to fork. Checker children turn it on (:func:`bound_calls`).
_bounded = False


def bound_calls(on: bool = True) -> None:
    """Run media-info calls of this process on helper threads, within their budget (checker children)."""
    global _bounded
    _bounded = on


_Job = tuple[Callable[[], Any], list[Any], threading.Event]


def stuck() -> bool:
    """True once a media-info call overran its budget in this process (its thread may spin on)."""
    return _stuck.is_set()


def budget_for(size: int | None) -> float:
    """Seconds a media-info call on a file of *size* bytes may take."""
    return BUDGET_BASE_S + BUDGET_PER_GB_S * (size or 0) / 1e9


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        fn, box, done = jobs.get()
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the caller, MemoryError included
            box.append((False, exc))
        finally:
            done.set()


def _run_bounded(fn: Callable[[], Any], budget_s: float) -> tuple[bool, Any]:
    """``(True, fn())`` run on this thread's helper thread, or ``(False, None)`` when it took longer than
    *budget_s* (the process is then :func:`stuck`) or an earlier call is stuck."""
    if _stuck.is_set():
        return False, None
    jobs: queue.SimpleQueue[_Job] | None = getattr(_helpers, "jobs", None)
    if jobs is None:
        jobs = queue.SimpleQueue()
        threading.Thread(target=_serve, args=(jobs,), name="mediainfo", daemon=True).start()
        _helpers.jobs = jobs
    box: list[Any] = []
    done = threading.Event()
    jobs.put((fn, box, done))
    if not done.wait(budget_s):
        _stuck.set()
        return False, None
    ok, value = box[0]
    if not ok:
        raise value
    return True, value


def bounded_media_info(
    path: str, size: int | None, *, known: bool = True, container: str | None = None
) -> tuple[dict[str, Any] | None, bool]:
    """:func:`media_info` within :func:`budget_for` *size*: ``(summary, finished)``. ``finished`` is
    False when libmediainfo overran (or an earlier call in this process did); the summary is then None.
    Without :func:`bound_calls` the call runs on the calling thread, unbounded."""
    if not _bounded:
        return media_info(path, known=known, container=container), True
    finished, summary = _run_bounded(
        lambda: media_info(path, known=known, container=container), budget_for(size)
    )
    return summary, finished


def duration_of(info: dict[str, Any] | None) -> float | None:
    """The media duration in seconds from a summary, when known."""
    if not info:
        return None
    candidates = [info.get("general", {}).get("duration_s")]
    candidates += [t.get("duration_s") for t in info.get("tracks", ())]
    values = [float(c) for c in candidates if isinstance(c, int | float) and c > 0]
    return max(values) if values else None


def to_json(info: dict[str, Any] | None) -> str | None:
    """The summary as compact JSON text for the database (None stays None)."""
    if info is None:
        return None
    return json.dumps(info, separators=(",", ":"), sort_keys=True)


def version() -> str | None:
    """pymediainfo and libmediainfo versions, e.g. ``"pymediainfo 7.0.1 (libmediainfo 24.12)"``."""
    try:
        import pymediainfo
        from pymediainfo import MediaInfo

        lib, handle, lib_version, _ = MediaInfo._get_library()
        lib.MediaInfo_Delete(handle)  # _get_library opens a handle to ask the version; do not leak it
    except Exception:  # missing or unloadable library: no version to report
        return None
    return f"pymediainfo {pymediainfo.__version__} (libmediainfo {lib_version})"


__all__ = ["duration_of", "media_info", "summarize", "to_json", "version"]
