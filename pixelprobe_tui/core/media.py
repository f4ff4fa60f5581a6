"""Media families, supported extensions, and content sniffing (magic bytes).

The extension says what a file claims to be; the first few KB say what it is. :func:`sniff` reports both so
the caller can route by content and flag a disagreement.

Decisions documented here:

- **Mismatch** means the content is a known media format that the extension does not name: a PNG called
  ``.jpg``, an MP4 called ``.mkv``, a HEIC called ``.jpg``. Variants of one container are *not* a mismatch:
  every ISO-BMFF flavour (mp4/mov/3gp/m4a) under any ISO-BMFF extension, Matroska under ``.webm`` and WebM
  under ``.mkv``, MPEG-TS under ``.mpg``, RF64 under ``.wav``. Players open these without a second thought,
  so a user would not call them wrong.
- **RAW camera files** (cr2, nef, dng, arw, ...) are family ``image``. Most are TIFF underneath and get the
  TIFF walk (IFDs and strip/tile data inside the file); CR3 is ISO-BMFF and RAF has its own header. Pixel
  decoding of raw data is out of scope: the image checker should treat :data:`RAW_EXTENSIONS` as
  structure-only.
- **TGA** has no magic number: content is called TGA only under a ``.tga`` name and with a header that
  describes an image (type, depth, dimensions). ICO and Netpbm are recognised by their headers.
- Containers that carry either audio or video (ISO-BMFF, Matroska, Ogg, ASF, MPEG-TS) get a *hint* from the
  content (an ``M4A`` brand, Opus/Vorbis/FLAC in Ogg ...) and the decoder settles the family from its streams.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    """What kind of media a file holds."""

    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    UNKNOWN = "unknown"


VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    [
        "mp4",
        "m4v",
        "mov",
        "qt",
        "mkv",
        "mk3d",
        "webm",
        "avi",
        "wmv",
        "asf",
        "flv",
        "f4v",
        "ts",
        "m2ts",
        "mts",
        "m2t",
        "tp",
        "trp",
        "mpg",
        "mpeg",
        "mpe",
        "m2v",
        "vob",
        "3gp",
        "3g2",
        "ogv",
    ]
)
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    [
        "mp3",
        "mp2",
        "mpa",
        "flac",
        "ogg",
        "oga",
        "opus",
        "spx",
        "m4a",
        "m4b",
        "aac",
        "wav",
        "wave",
        "aiff",
        "aif",
        "aifc",
        "wma",
        "alac",
        "ape",
        "wv",
        "mka",
        # Raw elementary streams FFmpeg demuxes and decodes (sniffed by content, see _raw_audio).
        "ac3",
        "eac3",
        "dts",
        "amr",
    ]
)
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    [
        "jpg",
        "jpeg",
        "jpe",
        "jfif",
        "mpo",
        "png",
        "apng",
        "gif",
        "bmp",
        "dib",
        "tif",
        "tiff",
        "webp",
        "heic",
        "heif",
        "hif",
        "avif",
        "ico",
        "cur",
        "tga",
        "ppm",
        "pgm",
        "pbm",
        "pnm",
    ]
)
# Camera raw formats: images, checked structurally only (see module docstring).
RAW_EXTENSIONS: frozenset[str] = frozenset(
    [
        "cr2",
        "cr3",
        "nef",
        "nrw",
        "dng",
        "arw",
        "srf",
        "sr2",
        "orf",
        "rw2",
        "rwl",
        "pef",
        "srw",
        "raf",
        "3fr",
        "erf",
        "kdc",
        "iiq",
        "mef",
        "mos",
    ]
)

_ISO_BMFF = frozenset({"mp4", "mov", "3gp"})
_MATROSKA = frozenset({"matroska", "webm"})
_TIFF_RAW = frozenset({"tiff"})

# Extension -> containers it may legitimately hold. Anything else that is recognised media is a mismatch.
_EXPECTED: dict[str, frozenset[str]] = {}


def _expect(exts: str, containers: frozenset[str] | set[str]) -> None:
    for ext in exts.split():
        _EXPECTED[ext] = frozenset(containers)


_expect("mp4 m4v mov qt 3gp 3g2 f4v m4a m4b", _ISO_BMFF)
_expect("alac", _ISO_BMFF | {"caf"})
_expect("mkv mk3d mka webm", _MATROSKA)
_expect("avi", {"avi"})
_expect("wmv wma asf", {"asf"})
_expect("flv", {"flv"})
_expect("ts m2ts mts m2t tp trp", {"mpegts"})
_expect("mpg mpeg mpe m2v vob", {"mpegps", "mpegts", "mpegvideo"})
_expect("ogv ogg oga opus spx", {"ogg"})
_expect("flac", {"flac"})
_expect("mp3 mp2 mpa", {"mp3"})
_expect("aac", {"aac_adts", "aac_adif", "aac_latm"})
_expect("wav wave", {"wav", "rf64", "w64", "rifx"})
_expect("aiff aif aifc", {"aiff"})
_expect("ape", {"ape"})
_expect("wv", {"wavpack"})
# Raw audio streams: recognised by content and decoded.
_expect("ac3 eac3", {"ac3", "eac3"})
_expect("dts", {"dts"})
_expect("amr", {"amr"})
_expect("jpg jpeg jpe jfif mpo", {"jpeg"})
_expect("png apng", {"png"})
_expect("gif", {"gif"})
_expect("bmp dib", {"bmp"})
_expect("tif tiff", {"tiff"})
_expect("webp", {"webp"})
_expect("heic heif hif", {"heif"})
_expect("avif", {"avif"})
_expect("ico cur", {"ico"})
_expect("tga", {"tga"})
_expect("ppm pgm pbm pnm", {"pnm"})
_expect("cr2 nef nrw dng arw srf sr2 orf rw2 rwl pef srw 3fr erf kdc iiq mef mos", _TIFF_RAW)
_expect("cr3", {"cr3"})
_expect("raf", {"raf"})

# Containers whose content settles the family on its own.
_CONTENT_FAMILY: dict[str, Family] = {
    **dict.fromkeys(
        ["jpeg", "png", "gif", "bmp", "tiff", "webp", "heif", "avif", "cr3", "raf", "ico", "tga", "pnm"],
        Family.IMAGE,
    ),
    **dict.fromkeys(
        [
            "flac",
            "mp3",
            "aac_adts",
            "aac_adif",
            "aac_latm",
            "wav",
            "rf64",
            "rifx",
            "w64",
            "aiff",
            "ape",
            "wavpack",
            "caf",
            "ac3",
            "eac3",
            "dts",
            "amr",
        ],
        Family.AUDIO,
    ),
    **dict.fromkeys(["avi", "flv", "mpegps", "mpegvideo"], Family.VIDEO),
}

# Non-media formats worth naming in a message ("content is a ZIP archive").
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "gzip data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"<?xml", "XML text"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
)

HEAD_SIZE = 64 * 1024
# Extensions that name MPEG audio: under them two consecutive frame headers identify MP3. Anywhere else a
# frame sync (11 set bits) is weak evidence, found by chance in other compressed audio (DTS, AC-3), so more
# consecutive frames are required before content is called MP3 and walked as MP3.
MPEG_AUDIO_EXTENSIONS = frozenset({"mp3", "mp2", "mpa"})
_MPEG_FRAMES_NAMED = 2
_MPEG_FRAMES_UNNAMED = 4
# Media extensions that also name source files (TypeScript .ts/.mts): text under them is not damaged media.
_SHARED_WITH_SOURCE_CODE = frozenset({"ts", "mts"})


class UnreadableError(Exception):
    """The file could not be read at all (permission, not a regular file, I/O error, vanished).

    Says nothing about the content; callers turn it into an UNREADABLE finding with ``code``.
    """

    def __init__(self, path: str, code: str, reason: str):
        super().__init__(f"{reason}: {path}")
        self.path = path
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Sniff:
    """What the extension claims and what the first bytes show.

    ``container`` is None when the content is not recognised. ``content_family`` is set only when the
    content decides the family (a PNG is an image wherever it lives); ``family_hint`` is the best guess
    for containers that can hold either (MP4 brand ``M4A `` -> audio). ``data_offset`` is where the
    container starts (after an ID3v2 tag, for example).
    """

    path: str
    size: int
    extension: str
    ext_family: Family
    container: str | None
    content_family: Family | None
    family_hint: Family
    mismatch: bool
    data_offset: int = 0
    tag_size: int = 0  # bytes of ID3v2 tags in front of the container (ffmpeg skips them for any format)
    other_format: str | None = None  # a recognised non-media format ("a ZIP archive")
    all_zero: bool = False  # the bytes read are all 0x00 (a typical failed copy / preallocated file)

    @property
    def empty(self) -> bool:
        return self.size == 0

    @property
    def unknown_content(self) -> bool:
        return self.size > 0 and self.container is None

    @property
    def family(self) -> Family:
        """Best family guess: content first, then the content hint, then the extension."""
        if self.content_family is not None:
            return self.content_family
        if self.family_hint is not Family.UNKNOWN:
            return self.family_hint
        return self.ext_family

    def describe_content(self) -> str:
        """Human words for what the content is."""
        if self.empty:
            return "an empty file"
        if self.container:
            return f"{self.container} data"
        if self.other_format:
            return self.other_format
        if self.all_zero:
            return "all zero bytes"
        return "unrecognised data"


def extension_of(path: str) -> str:
    """Lower-case extension without the dot ('' if none)."""
    base = os.path.basename(path)
    dot = base.rfind(".")
    return base[dot + 1 :].lower() if dot > 0 else ""


def family_of_extension(path: str) -> Family:
    """The family a file's extension claims."""
    ext = extension_of(path)
    if ext in VIDEO_EXTENSIONS:
        return Family.VIDEO
    if ext in AUDIO_EXTENSIONS:
        return Family.AUDIO
    if ext in IMAGE_EXTENSIONS or ext in RAW_EXTENSIONS:
        return Family.IMAGE
    return Family.UNKNOWN


def is_supported(path: str) -> bool:
    """True when the extension is one PixelProbe scans."""
    return family_of_extension(path) is not Family.UNKNOWN


def is_raw(path: str) -> bool:
    """True for camera raw files (structure-only checks)."""
    return extension_of(path) in RAW_EXTENSIONS


def expected_containers(ext: str) -> frozenset[str]:
    """Containers an extension may hold (empty for unknown extensions)."""
    return _EXPECTED.get(ext.lower().lstrip("."), frozenset())


def open_for_reading(path: str) -> tuple[int, os.stat_result]:
    """Open a regular file read-only without ever blocking; return (fd, stat).

    Raises :class:`UnreadableError` for directories, FIFOs, sockets, devices, missing files and permission
    problems. O_NONBLOCK guards the race where a path becomes a FIFO between stat and open.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise UnreadableError(path, "vanished", "file not found") from e
    except PermissionError as e:
        raise UnreadableError(path, "permission_denied", "permission denied") from e
    except OSError as e:
        raise UnreadableError(path, "io_error", f"cannot stat: {e.strerror or e}") from e
    if not stat.S_ISREG(st.st_mode):
        kind = file_kind(st.st_mode)
        raise UnreadableError(path, "not_a_file", f"not a regular file ({kind})")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError as e:
        raise UnreadableError(path, "permission_denied", "permission denied") from e
    except FileNotFoundError as e:
        raise UnreadableError(path, "vanished", "file not found") from e
    except OSError as e:
        code = "io_error" if e.errno != errno.EACCES else "permission_denied"
        raise UnreadableError(path, code, f"cannot open: {e.strerror or e}") from e
    try:
        st2 = os.fstat(fd)
        if not stat.S_ISREG(st2.st_mode):
            raise UnreadableError(path, "not_a_file", f"not a regular file ({file_kind(st2.st_mode)})")
    except BaseException:
        os.close(fd)
        raise
    return fd, st2


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words for a message ("named pipe (FIFO)", "directory" ...)."""
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


def pread_exact(fd: int, offset: int, n: int) -> bytes:
    """Read up to ``n`` bytes at ``offset`` (short only at end of file). OSError becomes UnreadableError."""
    chunks = []
    while n > 0:
        try:
            b = os.pread(fd, n, offset)
        except BlockingIOError:
            continue
        except OSError as e:
            raise UnreadableError("", "io_error", f"read error at byte {offset}: {e.strerror or e}") from e
        if not b:
            break
        chunks.append(b)
        offset += len(b)
        n -= len(b)
    return b"".join(chunks)


def sniff(path: str) -> Sniff:
    """Identify a file by its first bytes (and its extension).

    Raises :class:`UnreadableError` when the file cannot be read; never blocks on FIFOs.
    """
    fd, st = open_for_reading(path)
    try:
        return sniff_fd(path, fd, st.st_size)
    except UnreadableError as e:
        raise UnreadableError(path, e.code, e.reason) from e
    finally:
        os.close(fd)


def sniff_fd(path: str, fd: int, size: int) -> Sniff:
    """:func:`sniff` on an open descriptor (the structure checker reuses its descriptor)."""
    ext = extension_of(path)
    ext_family = family_of_extension(path)
    head = pread_exact(fd, 0, HEAD_SIZE) if size else b""
    mpeg_frames = _MPEG_FRAMES_NAMED if ext in MPEG_AUDIO_EXTENSIONS else _MPEG_FRAMES_UNNAMED
    container, hint, offset = identify(head, mpeg_frames=mpeg_frames)
    tag_size = 0
    if container is None and head.startswith(b"ID3") and len(head) >= 10:
        # An ID3v2 tag can precede MP3, AAC and even FLAC; identify what follows it.
        offset = tag_size = skip_id3v2(fd, head)
        after = pread_exact(fd, offset, HEAD_SIZE)
        inner, hint, _ = identify(after, after_id3=True, mpeg_frames=mpeg_frames)
        container = inner or ("mp3" if ext in MPEG_AUDIO_EXTENSIONS else None)
        if container is None and find_mpeg_audio_sync(after, frames=mpeg_frames) is not None:
            container = "mp3"
        if container == "mp3" and inner is None:
            hint = Family.AUDIO
    if container is None and ext == "tga" and _tga_header(head, size):
        container, hint = "tga", Family.IMAGE  # TGA has no magic number: only its name and a sane header
    if container is None and ext in MPEG_AUDIO_EXTENSIONS:
        # Some encoders leave junk before the first frame; look through the whole head.
        sync = find_mpeg_audio_sync(head)
        if sync is not None:
            container, hint, offset = "mp3", Family.AUDIO, sync
    other = None
    all_zero = False
    if container is None and head:
        other = next((name for magic, name in _OTHER_MAGIC if head.startswith(magic)), None)
        if other is None and _looks_like_text(head):
            other = "text"
        all_zero = not head.strip(b"\x00")
    if container is None and other == "text" and ext in _SHARED_WITH_SOURCE_CODE:
        ext_family = Family.UNKNOWN  # a TypeScript file, not a transport stream with a bad payload
    content_family = _CONTENT_FAMILY.get(container) if container else None
    if container == "tiff" and ext not in RAW_EXTENSIONS and ext not in ("tif", "tiff"):
        content_family = Family.IMAGE
    expected = _EXPECTED.get(ext, frozenset())
    mismatch = bool(container and expected and container not in expected)
    if container and not expected and ext_family is not Family.UNKNOWN:
        mismatch = True
    return Sniff(
        path=path,
        size=size,
        extension=ext,
        ext_family=ext_family,
        container=container,
        content_family=content_family,
        family_hint=hint if hint is not None else (content_family or Family.UNKNOWN),
        mismatch=mismatch,
        data_offset=offset,
        tag_size=tag_size,
        other_format=other,
        all_zero=all_zero,
    )


def skip_id3v2(fd: int, head: bytes) -> int:
    """Offset just past one or more ID3v2 tags at the start of the file."""
    offset = 0
    hdr = head[:10]
    for _ in range(16):  # back-to-back tags happen; bound the loop
        size = id3v2_size(hdr)
        if size is None:
            break
        offset += size
        hdr = pread_exact(fd, offset, 10)
    return offset


def id3v2_size(hdr: bytes) -> int | None:
    """Total size of an ID3v2 tag (header, body, footer) from its 10-byte header, or None."""
    if len(hdr) < 10 or hdr[:3] != b"ID3" or hdr[3] == 0xFF or hdr[4] == 0xFF:
        return None
    if any(b & 0x80 for b in hdr[6:10]):
        return None
    body = (hdr[6] << 21) | (hdr[7] << 14) | (hdr[8] << 7) | hdr[9]
    return 10 + body + (10 if hdr[5] & 0x10 else 0)


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    if not sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    return printable >= 0.97 * len(text)


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
# Boxes an ISO-BMFF file may start with when it has no 'ftyp' (old QuickTime, media segments).
_QT_TOP = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"PICT", b"uuid", b"styp", b"sidx", b"moof"}

_ASF_GUID = bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C")
_W64_GUID = b"riff" + bytes.fromhex("2E91CF11A5D628DB04C10000")


def identify(
    head: bytes, after_id3: bool = False, mpeg_frames: int = _MPEG_FRAMES_NAMED
) -> tuple[str | None, Family | None, int]:
    """(container, family hint, offset) for the first bytes of a file; container None if unknown.

    ``mpeg_frames``: consecutive MPEG audio frames needed to call content without a stronger magic MP3.
    """
    h = head
    if len(h) < 4:
        return None, None, 0
    if h[4:8] in (b"ftyp", b"styp"):  # styp: a media segment, laid out like ftyp
        return _iso_brand(h)
    if len(h) >= 8 and h[4:8] in _QT_TOP and int.from_bytes(h[:4], "big") not in (2, 3, 4, 5, 6, 7):
        return "mov", Family.VIDEO, 0
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        doctype = b"webm" if b"\x42\x82\x84webm" in h[:64] else b"matroska"
        return ("webm" if doctype == b"webm" else "matroska"), None, 0
    if h.startswith(b"RIFF") and len(h) >= 12:
        form = h[8:12]
        if form == b"WAVE":
            return "wav", Family.AUDIO, 0
        if form == b"AVI ":
            return "avi", Family.VIDEO, 0
        if form == b"WEBP":
            return "webp", Family.IMAGE, 0
        return None, None, 0
    if h.startswith(b"RIFX") and h[8:12] == b"WAVE":
        return "rifx", Family.AUDIO, 0  # big-endian WAV: FFmpeg reads it; no structure walk here
    if h[:4] in (b"RF64", b"BW64") and h[8:12] == b"WAVE":
        return "rf64", Family.AUDIO, 0
    if h.startswith(_W64_GUID):
        return "w64", Family.AUDIO, 0
    if h.startswith(b"FORM") and h[8:12] in (b"AIFF", b"AIFC"):
        return "aiff", Family.AUDIO, 0
    if h.startswith(b"fLaC"):
        return "flac", Family.AUDIO, 0
    if h.startswith(b"OggS"):
        return "ogg", _ogg_hint(h), 0
    if h.startswith(b"\xff\xd8\xff"):
        return "jpeg", Family.IMAGE, 0
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", Family.IMAGE, 0
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "gif", Family.IMAGE, 0
    if (
        h[:2] == b"BM"
        and len(h) >= 18
        and int.from_bytes(h[14:18], "little") in (12, 16, 40, 52, 56, 64, 108, 124)
    ):
        return "bmp", Family.IMAGE, 0
    if h[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00"):
        return "tiff", Family.IMAGE, 0
    if h.startswith(b"FUJIFILMCCD-RAW"):
        return "raf", Family.IMAGE, 0
    if h.startswith(_ASF_GUID):
        return "asf", None, 0
    if h[:3] == b"FLV" and len(h) >= 9 and h[3] == 1:
        return "flv", Family.VIDEO, 0
    if h.startswith(b"MAC "):
        return "ape", Family.AUDIO, 0
    if h.startswith(b"wvpk"):
        return "wavpack", Family.AUDIO, 0
    if h.startswith(b"caff"):
        return "caf", Family.AUDIO, 0
    if h.startswith(b"ADIF"):
        return "aac_adif", Family.AUDIO, 0
    if h.startswith(b"\x00\x00\x01\xba"):
        return "mpegps", Family.VIDEO, 0
    if h.startswith(b"\x00\x00\x01\xb3"):
        return "mpegvideo", Family.VIDEO, 0
    if _ico_header(h):
        return "ico", Family.IMAGE, 0
    if _PNM_MAGIC.match(h):
        return "pnm", Family.IMAGE, 0
    raw_audio = _raw_audio(h)
    if raw_audio is not None:
        return raw_audio, Family.AUDIO, 0
    ts = find_ts_sync(h)
    if ts is not None:
        return "mpegts", Family.VIDEO, ts[0]
    if h.startswith(b"ID3") and not after_id3:
        return None, None, 0  # caller skips the tag and looks again
    adts = _adts_at(h, 0)
    if adts:
        return "aac_adts", Family.AUDIO, 0
    if _loas_at(h, 0):
        return "aac_latm", Family.AUDIO, 0
    sync = find_mpeg_audio_sync(h, limit=len(h) if after_id3 else 4096, frames=mpeg_frames)
    if sync is not None:
        return "mp3", Family.AUDIO, sync
    return None, None, 0


# Netpbm: "P1".."P7", whitespace, then (after comments) the width; PAM (P7) has a keyword header.
_PNM_MAGIC = re.compile(rb"P[1-6](?:\s+(?:#[^\n]*\n\s*)*)\d|P7\s")


def _ico_header(h: bytes) -> bool:
    """A Windows icon (or cursor) directory: reserved 0, type 1 or 2, and a plausible first entry."""
    if len(h) < 22 or h[:2] != b"\x00\x00" or h[2:4] not in (b"\x01\x00", b"\x02\x00"):
        return False
    count = int.from_bytes(h[4:6], "little")
    entry = h[6:22]
    size = int.from_bytes(entry[8:12], "little")
    offset = int.from_bytes(entry[12:16], "little")
    return 0 < count <= 512 and entry[3] == 0 and size > 0 and offset >= 6 + 16 * count


def _tga_header(h: bytes, size: int) -> bool:
    """A Truevision TGA header that describes an image the file can hold (TGA has no magic number)."""
    if len(h) < 18:
        return False
    id_len, cmap_type, image_type = h[0], h[1], h[2]
    width, height, bpp = int.from_bytes(h[12:14], "little"), int.from_bytes(h[14:16], "little"), h[16]
    if cmap_type not in (0, 1) or image_type not in (1, 2, 3, 9, 10, 11) or width == 0 or height == 0:
        return False
    return bpp in (8, 15, 16, 24, 32) and 18 + id_len <= size


# Raw audio elementary streams FFmpeg demuxes, recognised so that they reach the decoder (and never the
# MP3 frame-sync heuristic): AC-3/E-AC-3 (sync 0x0B77, two frames in a row), DTS (any of its four sync
# words, seen again further on), AMR (a text magic).
_DTS_SYNCS = (b"\x7f\xfe\x80\x01", b"\xfe\x7f\x01\x80", b"\x1f\xff\xe8\x00", b"\xff\x1f\x00\xe8")
_AC3_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640)


def _raw_audio(h: bytes) -> str | None:
    """``ac3``, ``eac3``, ``dts`` or ``amr`` for a raw stream of that codec at offset 0, else None."""
    if h.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return "amr"
    if h[:4] in _DTS_SYNCS:
        return "dts" if h.find(h[:4], 4, 64 * 1024) != -1 else None
    n = _ac3_frame_length(h, 0)
    if n and (n == len(h) or _ac3_frame_length(h, n)):
        return "eac3" if h[5] >> 3 > 10 else "ac3"
    return None


def _ac3_frame_length(b: bytes, p: int) -> int:
    """Bytes in the AC-3 or E-AC-3 frame whose header is at ``p``; 0 if there is none."""
    if p + 6 > len(b) or b[p] != 0x0B or b[p + 1] != 0x77:
        return 0
    bsid = b[p + 5] >> 3
    if 11 <= bsid <= 16:  # E-AC-3: the frame size is in the header (16-bit words, minus one)
        return (((b[p + 2] & 7) << 8) | b[p + 3]) * 2 + 2
    if bsid > 10:
        return 0
    fscod, code = b[p + 4] >> 6, b[p + 4] & 0x3F
    if fscod == 3 or code >= 2 * len(_AC3_KBPS):
        return 0
    kbps = _AC3_KBPS[code >> 1]
    # 1536 samples per frame, in 16-bit words: 48 kHz 2*kbps, 32 kHz 3*kbps, 44.1 kHz rounded down, +1 if odd.
    words = (2 * kbps, kbps * 96000 // 44100 + (code & 1), 3 * kbps)[fscod]
    return 2 * words


def _iso_brand(h: bytes) -> tuple[str, Family | None, int]:
    size = int.from_bytes(h[:4], "big")
    major = h[8:12]
    compat = {h[i : i + 4] for i in range(16, min(size, len(h), 256) - 3, 4)}
    brands = compat | {major}
    if major in _AVIF_BRANDS or (
        major in (b"mif1", b"msf1") and brands & _AVIF_BRANDS and b"heic" not in brands
    ):
        return "avif", Family.IMAGE, 0
    if major in _HEIF_BRANDS:
        return "heif", Family.IMAGE, 0
    if major == b"crx ":
        return "cr3", Family.IMAGE, 0
    if major == b"qt  ":
        return "mov", Family.VIDEO, 0
    if major.startswith((b"3gp", b"3g2", b"3ge", b"3gs")):
        return "3gp", None, 0
    if major in _AUDIO_BRANDS:
        return "mp4", Family.AUDIO, 0
    return "mp4", None, 0


def _ogg_hint(h: bytes) -> Family | None:
    # The first page carries the first codec header of the first stream.
    body = h[27 + (h[26] if len(h) > 26 else 0) :][:16]
    if body.startswith((b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")):
        return Family.AUDIO
    if body.startswith((b"\x80theora", b"\x01video", b"\x80daala")):
        return Family.VIDEO
    return None


def find_ts_sync(h: bytes) -> tuple[int, int] | None:
    """(offset, packet size) where MPEG-TS sync bytes repeat, or None."""
    for size in (188, 192, 204):
        start = h.find(b"\x47", 0, size)
        while start != -1:
            n = min(8, (len(h) - start - 1) // size + 1)
            if n >= 4 and all(h[start + k * size] == 0x47 for k in range(n)):
                return start, size
            start = h.find(b"\x47", start + 1, size)
    return None


# MPEG audio: bitrate tables (kbit/s) by [version_is_1][layer], sample rates by version.
_BITRATES = {
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True, slots=True)
class MpegAudioHeader:
    """A parsed MPEG audio frame header."""

    version: int  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    layer: int  # 1, 2, 3
    bitrate: int  # kbit/s, 0 = free format
    sample_rate: int
    padding: int
    channel_mode: int
    length: int  # bytes, 0 for free format

    @property
    def samples(self) -> int:
        if self.layer == 1:
            return 384
        if self.layer == 3 and self.version != 3:
            return 576
        return 1152

    def same_stream(self, other: MpegAudioHeader) -> bool:
        return (self.version, self.layer, self.sample_rate) == (other.version, other.layer, other.sample_rate)


def parse_mpeg_audio_header(b: bytes, pos: int = 0) -> MpegAudioHeader | None:
    """Parse a 4-byte MPEG audio frame header at ``pos``; None if it is not one."""
    if pos + 4 > len(b) or b[pos] != 0xFF or (b[pos + 1] & 0xE0) != 0xE0:
        return None
    b1, b2, b3 = b[pos + 1], b[pos + 2], b[pos + 3]
    version = (b1 >> 3) & 3
    layer_bits = (b1 >> 1) & 3
    if version == 1 or layer_bits == 0:
        return None
    layer = 4 - layer_bits
    br_idx = b2 >> 4
    sr_idx = (b2 >> 2) & 3
    if br_idx == 15 or sr_idx == 3 or (b3 & 3) == 2:  # emphasis 2 is reserved
        return None
    sample_rate = _SAMPLE_RATES[version][sr_idx]
    bitrate = _BITRATES[(1 if version == 3 else 2, layer)][br_idx]
    padding = (b2 >> 1) & 1
    if bitrate == 0:
        length = 0
    elif layer == 1:
        length = (12 * bitrate * 1000 // sample_rate + padding) * 4
    elif layer == 3 and version != 3:
        length = 72 * bitrate * 1000 // sample_rate + padding
    else:
        length = 144 * bitrate * 1000 // sample_rate + padding
    return MpegAudioHeader(version, layer, bitrate, sample_rate, padding, b3 >> 6, length)


def find_mpeg_audio_sync(b: bytes, start: int = 0, limit: int | None = None, frames: int = 2) -> int | None:
    """First offset where ``frames`` consecutive consistent MPEG audio frames start (free format excluded).

    A run of frames that ends exactly at the end of ``b`` counts as complete (a short file read whole).
    """
    end = len(b) if limit is None else min(len(b), start + limit)
    pos = b.find(b"\xff", start, end)
    while pos != -1:
        h = parse_mpeg_audio_header(b, pos)
        if h is not None and h.length:
            nxt = parse_mpeg_audio_header(b, pos + h.length)
            if nxt is not None and nxt.same_stream(h) and _mpeg_run(b, pos + h.length, nxt, h, frames - 1):
                return pos
            if pos + h.length >= len(b) - 4 and pos + h.length <= len(b) and pos == start:
                return pos  # a single short frame filling the buffer
        pos = b.find(b"\xff", pos + 1, end)
    return None


def _mpeg_run(b: bytes, pos: int, h: MpegAudioHeader | None, first: MpegAudioHeader, more: int) -> bool:
    """Whether ``more`` consistent frames follow one another from ``pos`` (``h`` is the header there)."""
    for _ in range(more - 1):
        if h is None or not h.length:
            return False
        pos += h.length
        if pos == len(b):
            return True  # the buffer ends exactly after a whole frame
        h = parse_mpeg_audio_header(b, pos)
        if h is None or not h.same_stream(first):
            return False
    return True


def _adts_at(b: bytes, pos: int) -> bool:
    """Two consecutive ADTS frame headers at ``pos``."""

    def frame_len(p: int) -> int:
        if p + 7 > len(b) or b[p] != 0xFF or (b[p + 1] & 0xF6) != 0xF0:
            return 0
        if ((b[p + 2] >> 2) & 0xF) > 12:
            return 0
        return ((b[p + 3] & 3) << 11) | (b[p + 4] << 3) | (b[p + 5] >> 5)

    n = frame_len(pos)
    if n < 7:
        return False
    if pos + n >= len(b):
        return pos + n == len(b)
    return frame_len(pos + n) >= 7


def _loas_at(b: bytes, pos: int) -> bool:
    """Two consecutive LOAS/LATM AAC frames (11-bit sync 0x2B7, 13-bit length) at ``pos``."""

    def frame_len(p: int) -> int:
        if p + 3 > len(b) or b[p] != 0x56 or (b[p + 1] & 0xE0) != 0xE0:
            return 0
        return 3 + (((b[p + 1] & 0x1F) << 8) | b[p + 2])

    n = frame_len(pos)
    if n <= 3:
        return False
    if pos + n >= len(b):
        return pos + n == len(b)
    return frame_len(pos + n) > 3
