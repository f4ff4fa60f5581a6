"""The image decoder check: decode every frame or page, strictly, and report what breaks.

This is the *decode* side of image checking; cheap container walks (PNG chunk CRCs, JPEG markers, BMP
declared size, GIF trailer, TIFF offsets, RIFF sizes) live in :mod:`.structure`.

Decisions, each made on evidence (see the tests and ``bench/``):

- **JPEG goes to libjpeg-turbo through simplejpeg with ``strict=True``**, not to Pillow. Pillow's
  libjpeg error manager drops libjpeg's warnings ("Premature end of JPEG file", "Corrupt JPEG data: N
  extraneous bytes before marker 0xd9", "bad Huffman code"), which are exactly how libjpeg reports a
  damaged entropy-coded segment: Pillow's ``load()`` passes most of those files. Pillow also fails valid
  arithmetic-coded JPEGs larger than its 64 KB read buffer (libjpeg's arithmetic decoder cannot
  suspend); simplejpeg gets the whole file at once and reads them.
- **FFmpeg's mjpeg decoder (PyAV) gives a second opinion** on JPEGs libjpeg passed: libjpeg silently
  tolerates an AC run past the end of a block and Huffman codes no table defines, FFmpeg reports them.
  On randomly damaged JPEGs, libjpeg alone caught 92 % of what Pillow or the ffmpeg CLI caught; with the
  second opinion, all of it. Only those damage-specific FFmpeg errors count; a JPEG flavour FFmpeg
  cannot decode (arithmetic coding) is ignored. HEIF gets the same treatment from FFmpeg's hevc decoder
  (libde265, behind pillow-heif, decodes through out-of-range QP deltas in damaged slices), and GIF from
  FFmpeg's gif decoder (Pillow decodes through a flipped LZW code that leaves a row short; FFmpeg reports
  "LZW decode failed"), and RLE TGA from FFmpeg's targa decoder (a raw packet past the last pixel).
- **A decoder's "unsupported" is checked against the header** before it is believed: libheif and libavif
  call a damaged box "unsupported" or "not implemented" (a box version no writer uses, a 'pixi' box that
  contradicts itself, an item list or property map that does not add up, a property type one bit from
  a known one). Those, and a property map FFmpeg cannot read even where libheif decodes, are damage.
- A libjpeg warning that is benign alone ("Invalid SOS parameters" in a sequential file) no longer ends
  the strict decode: the fields libjpeg ignores are set to their standard values and the scan is judged
  strictly (a block dropped inside a scan header both garbles them and cuts the scan short).
- **The strict JPEG decode is scaled to 1/8 and grey.** libjpeg only finds damage while entropy-decoding
  and reading markers; every coefficient of every component is still Huffman/arithmetic-decoded at 1/8
  scale, only the IDCT, upsampling and colour conversion shrink. On 680 randomly damaged JPEGs
  (baseline, progressive, CMYK, grey, 4:4:4, arithmetic, restart intervals) the 1/8 grey decode gave the
  same message as the full-size RGB decode every time, at a fraction of the time and memory.
- A benign libjpeg warning (odd SOS parameters in a sequential file, unknown JFIF revision, unknown
  Adobe transform, zero bytes padding the last scan) is an info note, never corruption; a bad ICC
  marker is metadata damage.
- **Every frame and page is decoded** (animated GIF/WebP/PNG/AVIF, multi-page TIFF, HEIF sequences, the
  extra images of an MPO); damage is reported with the frame index and, where the format has frame
  durations, the time offset.
- **Decompression bombs**: Pillow's own guard is switched off and replaced by
  ``CheckOptions.max_image_pixels``, checked on the header size of each frame before anything is
  decoded: over the limit is a warning with the pixel count, never a decode.
- **Metadata damage is a warning**: EXIF that does not parse, an ICC profile LittleCMS rejects, a
  malformed MPO index (an MPO image that is not in the file at all is corruption). FFmpeg reports some
  EXIF damage at error level ("invalid TIFF header in EXIF data"); the pixels are intact, so it stays
  a warning here.
- Formats Pillow reads but cannot decode in some variant (12-bit JPEG, exotic TIFF layouts) are
  *unsupported*, not corrupt: a false alarm costs more than a miss.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import io
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import PIL
from PIL import ExifTags, Image, PngImagePlugin, UnidentifiedImageError

from pixelprobe_tui.core.checkers.walks.base import fourcc
from pixelprobe_tui.core.media import IMAGE_EXTENSIONS, RAW_EXTENSIONS
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Finding, Severity, make_result

# simplejpeg (strict JPEG decoding; without it JPEGs fall back to Pillow, lenient, and say so) is imported
# at the first JPEG: it pulls in numpy, a third of a checker child's start-up, which children that only
# ever see video, audio or PNG would pay for nothing.
_simplejpeg_module: Any = None
_simplejpeg_loaded = False


def _simplejpeg() -> Any:
    """The simplejpeg module, imported on first use; None when it is not installed."""
    global _simplejpeg_module, _simplejpeg_loaded
    if not _simplejpeg_loaded:
        try:
            import simplejpeg

            _simplejpeg_module = simplejpeg
        except ImportError:  # pragma: no cover - a declared dependency
            _simplejpeg_module = None
        _simplejpeg_loaded = True
    return _simplejpeg_module


def _simplejpeg_version() -> str | None:
    """simplejpeg's version without importing it (its numpy import is what the lazy import avoids)."""
    if _simplejpeg_loaded:
        return _simplejpeg_module.__version__ if _simplejpeg_module is not None else None
    if importlib.util.find_spec("simplejpeg") is None:
        return None
    try:
        return importlib.metadata.version("simplejpeg")
    except importlib.metadata.PackageNotFoundError:
        module = _simplejpeg()  # importable but without metadata (a vendored copy): ask it
        return module.__version__ if module is not None else None


try:  # FFmpeg's mjpeg decoder: a second, stricter opinion on the entropy-coded data
    import av
    import av.logging as av_logging
except ImportError:  # pragma: no cover - a declared dependency
    av = None  # type: ignore[assignment]

try:
    import pillow_heif

    # Only the primary images are checked; thumbnails, depth and auxiliary images are not decoded. One
    # decode thread: parallelism comes from the worker processes, one check each.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False, decode_threads=1)
except ImportError:  # pragma: no cover - a declared dependency
    pillow_heif = None  # type: ignore[assignment]

# Pillow refuses PNG text chunks that inflate past 1 MB, but photo editors write bigger XMP packets
# into valid files; allow more, and call what still exceeds it a metadata oddity (see _decode_failure).
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, 64 * 1024 * 1024)
PngImagePlugin.MAX_TEXT_MEMORY = max(PngImagePlugin.MAX_TEXT_MEMORY, 256 * 1024 * 1024)

with contextlib.suppress(ImportError):
    from PIL import AvifImagePlugin

    AvifImagePlugin.DEFAULT_MAX_THREADS = 1

TOOL_PILLOW = "pillow"
TOOL_SIMPLEJPEG = "simplejpeg"
TOOL_HEIF = "pillow-heif"
TOOL_PYAV = "pyav"
FAMILY = "image"

# Extensions that name an image: content Pillow cannot identify under one of these is damage.
_IMAGE_EXTENSIONS = IMAGE_EXTENSIONS | {"mpo"}
_HEAD_SIZE = 64 * 1024

# Whole-file reads above this size go through Pillow's lazy file reads instead (huge TIFFs).
_READ_WHOLE_LIMIT = 512 * 1024 * 1024

# libjpeg warnings that say nothing about the pixels: the decode goes on and the image is fine.
_JPEG_BENIGN = (
    "invalid sos parameters for sequential jpeg",
    "unknown jfif revision",
    "unknown adobe color transform",
    "application transferred too",
)
_JPEG_METADATA = ("bad icc marker",)
# Decoder messages that mean "this variant is not supported here", not "this file is damaged".
_UNSUPPORTED_HINTS = (
    "unsupported",
    "not supported",
    "not implemented",
    "unknown pixel mode",
    "unknown raw mode",
    "not available",
    "no decoder",
    "cannot handle",
    "unrecognized image mode",
)
# Pillow warnings raised while parsing metadata (EXIF/TIFF tags, MPO index).
_METADATA_WARNINGS = (
    "exif",
    "tag offset",
    "tag data",
    "metadata",
    "malformed mpo",
    "icc",
    "truncated file read",  # a tag's data runs past the end of its IFD block
)
# FFmpeg mjpeg errors that only a damaged entropy-coded segment produces: an AC run past the end of
# the block ("error count: 64", then "error y=.. x=.." for the MCU) or a Huffman code no table holds.
# libjpeg tolerates both silently; valid encoders never write them.
_MJPEG_EVIDENCE = re.compile(
    r"error count: \d+|error y=\d+ x=\d+|bad vlc|ac-tex damaged|error dc|ac/dc index out of range",
    re.IGNORECASE,
)
# FFmpeg hevc errors that only damaged slice data produces; libde265 (behind pillow-heif) decodes on.
_HEVC_EVIDENCE = re.compile(
    r"cu_qp_delta|CABAC_MAX_BIN|Error parsing NAL unit|Invalid NAL unit size|Overread|end_of_sub_stream"
    r"|slice_segment_address|Two slices reporting being the first|PPS id out of range|SPS id out of range"
    r"|alignment_bit_equal_to_one",
    re.IGNORECASE,
)
_PACKBITS_EVIDENCE = re.compile(r"(run|copy) went out of bounds", re.IGNORECASE)
# FFmpeg's CCITT fax decoder: a code no table holds, a run past the row, a strip that ends early. libtiff
# decodes on through much of that damage (none of it on valid G3/G4/RLE files, small or letter-size).
_FAX_EVIDENCE = re.compile(
    r"Incorrect mode VLC|Incorrect code|run went out of bounds|Image data is missing", re.IGNORECASE
)
# Compressions whose damage FFmpeg's tiff decoder sees where libtiff does not: (evidence, name for it).
_TIFF_OPINION = {
    "packbits": (_PACKBITS_EVIDENCE, "PackBits"),
    "group3": (_FAX_EVIDENCE, "CCITT fax"),
    "group4": (_FAX_EVIDENCE, "CCITT fax"),
    "tiff_ccitt": (_FAX_EVIDENCE, "CCITT fax"),
}
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


@dataclass
class _Run:
    """What one check has learned so far."""

    path: str
    options: CheckOptions
    findings: list[Finding] = field(default_factory=list)
    container: str | None = None
    decisive: str | None = None
    width: int | None = None
    height: int | None = None
    frames: int = 0
    mode: str | None = None

    def add(self, severity: Severity, code: str, tool: str, message: str, at: float | None = None) -> None:
        self.findings.append(Finding(severity, code, tool, message, at_seconds=at))

    def too_large(self, width: int, height: int, frame: int | None = None) -> None:
        where = f"frame {frame}: " if frame else ""
        self.add(
            Severity.WARNING,
            "too_large",
            TOOL_PILLOW,
            f"{where}image too large to decode safely: {width} x {height} = {width * height} pixels "
            f"(limit {self.options.max_image_pixels}); pixels not checked",
        )


@functools.cache
def _versions() -> dict[str, str]:
    return tool_versions()


def tool_versions() -> dict[str, str]:
    """Versions of the libraries this checker decodes with."""
    from PIL import features

    versions = {"pillow": PIL.__version__}
    for feature, name in (
        ("libjpeg_turbo", "libjpeg-turbo (pillow)"),
        ("webp", "libwebp"),
        ("libtiff", "libtiff"),
    ):
        with contextlib.suppress(Exception):
            if version := features.version(feature):
                versions[name] = str(version)
    with contextlib.suppress(Exception):
        if version := features.version("avif"):
            versions["libavif"] = str(version)
    if (jpeg_version := _simplejpeg_version()) is not None:
        versions["simplejpeg"] = jpeg_version
    if av is not None:
        versions["pyav"] = av.__version__
        versions["ffmpeg"] = str(getattr(av, "ffmpeg_version_info", "") or "")
    if pillow_heif is not None:
        versions["pillow-heif"] = pillow_heif.__version__
        with contextlib.suppress(Exception):
            versions["libheif"] = str(pillow_heif.libheif_version())
    return versions


def _decisive(tool: str, versions: dict[str, str], codec: str = "mjpeg") -> str:
    if tool == TOOL_SIMPLEJPEG:
        return f"simplejpeg {versions.get('simplejpeg', '?')} (libjpeg-turbo, strict)"
    if tool == TOOL_PYAV:
        return f"pyav {versions.get('pyav', '?')} (FFmpeg {versions.get('ffmpeg', '?')} {codec})"
    if tool == TOOL_HEIF:
        return f"pillow-heif {versions.get('pillow-heif', '?')} (libheif {versions.get('libheif', '?')})"
    return f"pillow {versions['pillow']}"


def check(path: str, options: CheckOptions) -> CheckResult:
    """Decode every frame of the image at ``path`` and report damage as findings.

    Never raises for a file-level problem: I/O errors are *unreadable*, decode failures *corrupt*,
    metadata damage and oversize images *warnings*, variants no decoder here can read *unsupported*.
    """
    started = time.perf_counter()
    run = _Run(path, options)
    versions = _versions()
    size: int | None = None
    try:
        size = os.stat(path).st_size
        data = _read(path, size)
    except OSError as exc:
        run.add(Severity.UNREADABLE, "io_error", TOOL_PILLOW, f"cannot read the file: {_os_reason(exc)}")
        return _result(run, versions, started, size)
    if size == 0:
        run.add(Severity.CORRUPT, "empty", TOOL_PILLOW, "empty file (0 bytes)")
        return _result(run, versions, started, size)
    # Camera raw: TIFF-like containers whose pixels no decoder here reads; the structure walk covers them.
    if _extension(path) in RAW_EXTENSIONS:
        run.add(Severity.INFO, "raw_structure_only", TOOL_PILLOW, "camera raw: pixel data is not decoded")
        return _result(run, versions, started, size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _check_image(run, data, versions)
    _warning_findings(run, caught)
    return _result(run, versions, started, size)


def _read(path: str, size: int) -> bytes | None:
    """The whole file (one read: an I/O error here is unreadable, not a decoder error), or None if huge."""
    if size > _READ_WHOLE_LIMIT:
        return None
    with open(path, "rb") as f:
        return f.read()


def _os_reason(exc: OSError) -> str:
    return f"{exc.strerror} (errno {exc.errno})" if exc.strerror else str(exc)


def _result(run: _Run, versions: dict[str, str], started: float, size: int | None) -> CheckResult:
    info: dict[str, Any] | None = None
    if run.width is not None:
        info = {"width": run.width, "height": run.height, "frames": run.frames, "mode": run.mode}
    return make_result(
        run.path,
        run.findings,
        family=FAMILY,
        container=run.container,
        decisive_tool=run.decisive or _decisive(TOOL_PILLOW, versions),
        tool_versions=versions,
        duration_s=time.perf_counter() - started,
        media_info=info,
        file_size=size,
    )


def _check_image(run: _Run, data: bytes | None, versions: dict[str, str]) -> None:
    """Open, check metadata, then decode every frame (JPEG strictly)."""
    # The bomb guard is ours (options.max_image_pixels, checked per frame before decoding); Pillow's
    # global one would refuse or warn at a different limit and without the dimensions.
    Image.MAX_IMAGE_PIXELS = None
    source: Any = io.BytesIO(data) if data is not None else run.path
    head = data[:_HEAD_SIZE] if data is not None else _head(run.path)
    sniffed = _sniff(head)
    run.container = sniffed
    try:
        im = Image.open(source)
    except Image.DecompressionBombError as exc:
        match = _BOMB_PIXELS.search(str(exc))
        pixels = match.group(1) if match else "?"
        run.add(
            Severity.WARNING, "too_large", TOOL_PILLOW, f"image too large to decode safely: {pixels} pixels"
        )
        return
    except UnidentifiedImageError:
        _unidentified(run, data, sniffed, versions)
        return
    except MemoryError:
        raise
    except Exception as exc:  # a plugin that raises something other than "not mine" while opening
        if sniffed == "jpeg" and data is not None and _simplejpeg() is not None:
            _jpeg_without_pillow(run, data, versions, _text(exc))
        elif sniffed in ("avif", "heif") and data is not None and (why := _heif_header_damage(data)):
            # libavif calls a nonsense channel count "Not implemented": damage, not a new feature.
            run.add(Severity.CORRUPT, "bad_header", TOOL_PILLOW, f"cannot open: {_text(exc)} ({why})")
        else:
            _decode_failure(run, exc, TOOL_PILLOW, "cannot open")
        return
    with im:
        _check_opened(run, im, data, versions, sniffed)


def _check_opened(
    run: _Run, im: Image.Image, data: bytes | None, versions: dict[str, str], sniffed: str | None
) -> None:
    """Size guard, the decode of every frame (JPEG strictly), then metadata."""
    fmt = (im.format or "").upper()
    run.container = fmt.lower() or sniffed
    run.width, run.height = im.size
    run.mode = im.mode
    tool = TOOL_HEIF if fmt == "HEIF" else TOOL_PILLOW
    run.decisive = _decisive(tool, versions)
    if im.width * im.height > run.options.max_image_pixels:
        run.frames = getattr(im, "n_frames", 1)
        run.too_large(im.width, im.height)
        return
    if fmt in ("JPEG", "MPO") and data is not None and _simplejpeg() is not None:
        run.decisive = _decisive(TOOL_SIMPLEJPEG, versions)
        _check_jpeg(run, im, data)
    elif fmt == "TIFF":
        compression = im.info.get("compression")
        # libtiff explains its failures only on stderr; Pillow passes on "decoder error -2".
        with _NativeStderr() as native:
            _decode_frames(run, im, tool, native)
            if not _corrupt(run):
                _libtiff_errors(run, native.lines())
        if compression in _TIFF_OPINION and data is not None and not _corrupt(run):
            _tiff_opinion(run, data, *_TIFF_OPINION[compression])
    else:
        if fmt in ("JPEG", "MPO"):
            note = "JPEG too big to read at once: decoded by Pillow, which ignores libjpeg's warnings"
            run.add(Severity.INFO, "lenient_decode", TOOL_PILLOW, note)
        _decode_frames(run, im, tool)
        if fmt in _HEIF_PLUGINS and data is not None:
            _variant_or_damage(run, data)
        if fmt == "HEIF" and data is not None and not _corrupt(run):
            _hevc_opinion(run, data)
        elif fmt == "GIF" and data is not None and not _corrupt(run):
            _gif_opinion(run, data)
        elif fmt == "TGA" and data is not None and not _corrupt(run) and im.info.get("compression"):
            _tga_opinion(run, data)
        elif (
            fmt == "WEBP"
            and data is not None
            and not _corrupt(run)
            and (empty := _webp_frame_without_image(data))
        ):
            run.add(Severity.CORRUPT, "decode_error", TOOL_PILLOW, empty)
    # After the decode: Pillow's PNG getexif() loads the image to find an eXIf chunk after IDAT, and
    # on a file already proven corrupt, metadata complaints would only repeat the damage.
    if not _corrupt(run):
        _metadata(run, im)


def _corrupt(run: _Run) -> bool:
    return any(f.severity == Severity.CORRUPT for f in run.findings)


def _head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(_HEAD_SIZE)


def _extension(path: str) -> str:
    return os.path.splitext(path)[1].lower().lstrip(".")


_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"BM", "bmp"),
)
_AVIF_BRANDS = (b"avif", b"avis")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")


def _sniff(head: bytes) -> str | None:
    """The image format the first bytes announce, to ask the right Pillow plugin why it refused."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(len(head), 64), 4)]
        if any(b in _AVIF_BRANDS for b in brands):
            return "avif"
        if any(b in _HEIF_BRANDS for b in brands):
            return "heif"
        return None
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


# --------------------------------------------------------------------------------------------- metadata


def _metadata(run: _Run, im: Image.Image) -> None:
    """EXIF and ICC damage: warnings only, the pixels are judged by the decode."""
    raw = im.info.get("exif")
    if isinstance(raw, bytes) and raw:
        tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
        if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
            # Pillow skips such a block silently; the camera's metadata is lost all the same.
            run.add(Severity.WARNING, "metadata_damaged", TOOL_PILLOW, "EXIF block has no valid TIFF header")
    try:
        exif = im.getexif()
        for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo):
            if ifd in exif:
                exif.get_ifd(ifd)
    except Exception as exc:  # any parse failure of the EXIF block is metadata damage
        run.add(Severity.WARNING, "metadata_damaged", TOOL_PILLOW, f"EXIF data unreadable: {_text(exc)}")
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            ImageCms.ImageCmsProfile(io.BytesIO(icc))
        except ImportError:
            pass
        except Exception as exc:  # LittleCMS refused the profile
            run.add(
                Severity.WARNING, "metadata_damaged", TOOL_PILLOW, f"ICC profile unreadable: {_text(exc)}"
            )


def _warning_findings(run: _Run, caught: list[warnings.WarningMessage]) -> None:
    """Turn Pillow's Python warnings into findings: metadata ones are warnings, the rest notes."""
    seen: set[str] = set()
    for w in caught:
        if issubclass(w.category, Image.DecompressionBombWarning):
            continue
        text = str(w.message)
        if text in seen:
            continue
        seen.add(text)
        lowered = text.lower()
        if any(k in lowered for k in _METADATA_WARNINGS):
            run.add(Severity.WARNING, "metadata_damaged", TOOL_PILLOW, f"metadata: {text}")
        elif "apng" in lowered:
            run.add(Severity.WARNING, "animation_damaged", TOOL_PILLOW, text)
        else:
            run.add(Severity.INFO, "decoder_notice", TOOL_PILLOW, text)


# ------------------------------------------------------------------------------------------------- JPEG


def _mpo_offsets(im: Image.Image) -> list[int]:
    """Start offsets of the images of an MPO (first is 0); a plain JPEG has one."""
    if (im.format or "").upper() != "MPO":
        return [0]
    # Pillow keeps the MP index offsets private; without them only the first image is checked.
    offsets = getattr(im, "_MpoImageFile__mpoffsets", None)
    return list(offsets) if offsets else [0]


def _check_jpeg(run: _Run, im: Image.Image, data: bytes) -> None:
    """Strict libjpeg decode of the JPEG (and of each extra MPO image)."""
    offsets = _mpo_offsets(im)
    run.frames = len(offsets)
    for index, offset in enumerate(offsets):
        label = f"image {index} of {len(offsets)}: " if len(offsets) > 1 else ""
        if index and (offset <= 0 or offset >= len(data) or data[offset : offset + 2] != b"\xff\xd8"):
            where = f"{label.rstrip(': ')} (offset {offset}, file {len(data)} bytes)"
            if offset >= len(data) or not _later_jpeg(data):
                # The image is not in the file at all: cut off, or its start overwritten.
                run.add(Severity.CORRUPT, "truncated", TOOL_PILLOW, f"MPO image missing: {where}")
                return
            # Another image follows the first: only the index is wrong.
            run.add(
                Severity.WARNING, "metadata_damaged", TOOL_PILLOW, f"MPO index points to no image for {where}"
            )
            continue
        if not _strict_jpeg(run, data if index == 0 else memoryview(data)[offset:], label):
            break


def _later_jpeg(data: bytes) -> bool:
    """Whether another JPEG starts after the first image's first scan (entropy data never holds FF D8)."""
    first, _ = _walk_header(data)
    return first >= 0 and data.find(b"\xff\xd8\xff", first) >= 0


def _strict_jpeg(run: _Run, buf: bytes | memoryview, label: str) -> bool:
    """Decode one JPEG image strictly; False when it failed (stop looking further)."""
    simplejpeg = _simplejpeg()
    assert simplejpeg is not None
    if _jpeg_ls(buf):
        return _jpeg_ls_decode(run, buf, label)
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(buf)
    except ValueError as exc:
        message = _text(exc)
        cleaned = _header_junk(run, buf, label, message)
        if cleaned is not None:
            return _strict_jpeg(run, cleaned, label)
        return _jpeg_failure(run, buf, label, message)
    if width * height > run.options.max_image_pixels:
        run.too_large(width, height)
        return True
    out = "CMYK" if colorspace in ("CMYK", "YCCK") else "GRAY"
    try:
        simplejpeg.decode_jpeg(buf, colorspace=out, min_factor=8, strict=True)
    except ValueError as exc:
        message = _text(exc)
        cleaned = _header_junk(run, buf, label, message)
        if cleaned is not None:
            return _strict_jpeg(run, cleaned, label)
        lowered = message.lower()
        if "invalid sos parameters" in lowered and (canonical := _canonical_sos(bytes(buf))) is not None:
            # libjpeg ignores these fields in a sequential file, but its strict decode stops at the
            # warning: judge the rest of the data strictly with the fields set as the standard wants
            # (a block dropped after an SOS header both garbles them and cuts the scan short).
            run.add(Severity.INFO, "decoder_notice", TOOL_SIMPLEJPEG, f"{label}{message}")
            return _strict_jpeg(run, canonical, label)
        padding = _zero_padding(buf, message)
        benign = padding or any(k in lowered for k in _JPEG_BENIGN)
        if benign or any(k in lowered for k in _JPEG_METADATA):
            if padding:
                note = f"{label}{message}: zero padding after complete image data"
                run.add(Severity.INFO, "decoder_notice", TOOL_SIMPLEJPEG, note)
            elif benign:
                run.add(Severity.INFO, "decoder_notice", TOOL_SIMPLEJPEG, f"{label}{message}")
            else:
                run.add(Severity.WARNING, "metadata_damaged", TOOL_SIMPLEJPEG, f"{label}{message}")
            # The first warning stopped the strict decode; a lenient one still catches fatal errors.
            try:
                simplejpeg.decode_jpeg(buf, colorspace=out, min_factor=8, strict=False)
            except ValueError as exc2:
                return _jpeg_failure(run, buf, label, _text(exc2))
            return _mjpeg_opinion(run, buf, label)
        return _jpeg_failure(run, buf, label, message)
    return _mjpeg_opinion(run, buf, label)


# Frame headers libjpeg-turbo's 8-bit API does not read and FFmpeg does: JPEG-LS (SOF55) and lossless
# Huffman JPEG (SOF3).
_FFMPEG_ONLY_SOF = frozenset({0xF7, 0xC3})


def _jpeg_ls(buf: bytes | memoryview) -> bool:
    """Whether the frame header before the first scan is JPEG-LS (SOF55) or lossless JPEG (SOF3): libjpeg
    cannot read them here (TurboJPEG: "Could not determine subsampling level"), FFmpeg can. Segments are
    stepped over whole, so bytes inside an EXIF thumbnail are never taken for a marker."""
    data = bytes(buf[:65536])
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in _FFMPEG_ONLY_SOF:
            return True
        if marker == 0xDA:
            return False
        if marker == 0xFF:
            pos += 1  # fill byte
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def _jpeg_ls_decode(run: _Run, buf: bytes | memoryview, label: str) -> bool:
    """JPEG-LS or lossless JPEG through FFmpeg's decoder: an error or no picture is damage (neither has
    checksums, so like the ffmpeg tool we only see what breaks the decode)."""
    if av is None:
        run.add(
            Severity.UNSUPPORTED,
            "unsupported_variant",
            TOOL_SIMPLEJPEG,
            f"{label}JPEG-LS/lossless JPEG: no decoder here",
        )
        return False
    _av_logs_on()
    ctx: Any = av.CodecContext.create("mjpeg", "r")
    ctx.thread_count = 1
    frames = 0
    failure = ""
    with av_logging.Capture(local=True) as logs:
        try:
            frames = len(ctx.decode(av.Packet(bytes(buf)))) + len(ctx.decode(None))
        except MemoryError:
            raise
        except Exception as exc:  # judged below with the log
            failure = _text(exc)
    errors = list(dict.fromkeys(str(msg).strip() for lvl, _, msg in logs if lvl <= av_logging.ERROR))
    run.decisive = _decisive(TOOL_PYAV, _versions(), "mjpeg")
    if not errors and bytes(buf[-65536:]).rfind(b"\xff\xd9") < 0:
        # FFmpeg decodes a cut JPEG-LS scan without a word; the missing end-of-image marker tells.
        errors = ["no end-of-image marker: the data is cut short"]
    if errors or failure or not frames:
        detail = "; ".join(errors[:3]) or failure or "no picture decoded"
        run.add(
            Severity.CORRUPT,
            "decode_error",
            TOOL_PYAV,
            f"{label}corrupt JPEG-LS/lossless JPEG data (FFmpeg: {detail})",
        )
        return False
    run.add(
        Severity.INFO,
        "lenient_decode",
        TOOL_PYAV,
        f"{label}JPEG-LS/lossless JPEG: decoded by FFmpeg (libjpeg cannot here)",
    )
    return True


_EXTRANEOUS_BEFORE_EOI = re.compile(r"(\d+) extraneous bytes before marker 0xd9", re.IGNORECASE)
_EXTRANEOUS = re.compile(r"extraneous bytes before marker", re.IGNORECASE)
# Markers without a length field.
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])


def _header_junk(run: _Run, buf: bytes | memoryview, label: str, message: str) -> bytes | None:
    """For libjpeg's "extraneous bytes" between header segments: a warning and the JPEG without them.

    Stray bytes before any image data are an encoder's or editor's sloppiness that viewers skip; the
    image data is then judged without them. None when the message is about anything else.
    """
    if not _EXTRANEOUS.search(message) or _EXTRANEOUS_BEFORE_EOI.search(message):
        return None
    _, cleaned = _walk_header(bytes(buf))
    if cleaned is not None:
        note = f"{label}{message}: stray bytes between header segments, outside the image data"
        run.add(Severity.WARNING, "header_junk", TOOL_SIMPLEJPEG, note)
    return cleaned


def _walk_header(data: bytes) -> tuple[int, bytes | None]:
    """Walk the segments from SOI to the first SOS, skipping stray bytes as libjpeg does.

    Returns the offset of the first SOS marker (-1 if the walk fails) and the JPEG with the stray bytes
    removed (None if there were none). The walk steps over whole segments, so a JPEG thumbnail inside
    the EXIF segment is never taken for the image itself.
    """
    pos = 2
    kept: list[bytes] = [data[:2]]
    found = False
    while pos < len(data):
        junk_end = data.find(b"\xff", pos)
        if junk_end < 0:
            return -1, None
        if junk_end > pos:
            found = True
        pos = junk_end
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker are legal
        if pos + 1 >= len(data):
            return -1, None
        marker = data[pos + 1]
        if marker == 0xDA:
            if not found:
                return pos, None
            head = b"".join(kept)
            return len(head), head + data[pos:]
        if marker in _STANDALONE:
            kept.append(data[pos : pos + 2])
            pos += 2
            continue
        if marker in (0x00, 0xD8, 0xD9) or pos + 4 > len(data):
            return -1, None
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        kept.append(data[pos:end])
        pos = end
    return -1, None


_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})


def _frame_marker(data: bytes, end: int) -> int | None:
    """The SOFn marker of the frame header before ``end``, stepping over whole segments (so a thumbnail
    inside an APP segment is never taken for the image's own frame); None if there is none."""
    pos = 2
    while pos + 4 <= end and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def _canonical_sos(data: bytes) -> bytes | None:
    """The sequential JPEG with every scan header's Ss, Se, Ah/Al set to 0, 63, 0; None if none differ.

    Only for sequential frames, where libjpeg ignores the fields (it warns "Invalid SOS parameters for
    sequential JPEG"). Scan headers after the first are found as ``FF DA`` after it: inside entropy-coded
    data an FF byte is always followed by 00 or a restart marker.
    """
    first, _ = _walk_header(data)
    if first < 0 or _frame_marker(data, first) in _PROGRESSIVE_SOF:
        return None
    out = bytearray(data)
    changed = False
    pos = first
    while pos >= 0:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        count = data[pos + 4] if pos + 4 < len(data) else 0
        end = pos + 2 + length
        if length == 6 + 2 * count and end <= len(data) and data[end - 3 : end] != b"\x00\x3f\x00":
            out[end - 3 : end] = b"\x00\x3f\x00"
            changed = True
        pos = data.find(b"\xff\xda", pos + 2)
    return bytes(out) if changed else None


def _zero_padding(buf: bytes | memoryview, message: str) -> bool:
    """Whether libjpeg's "N extraneous bytes before marker 0xd9" are only zero bytes before the EOI.

    Some encoders pad the last scan with zeros: every MCU was decoded, then libjpeg skips the padding on
    its way to the end-of-image marker and warns. Damage leaves leftover entropy-coded data there instead,
    which is not all zeros.
    """
    match = _EXTRANEOUS_BEFORE_EOI.search(message)
    if not match:
        return False
    count = int(match.group(1))
    data = bytes(buf)
    sos, cleaned = _walk_header(data)
    data = cleaned if cleaned is not None else data
    eoi = data.find(b"\xff\xd9", sos) if sos >= 0 else -1
    return 0 < count <= eoi - sos and not data[eoi - count : eoi].strip(b"\x00")


def _av_logs_on() -> None:
    """Route FFmpeg's log to PyAV's capture (at least errors), without lowering a level set elsewhere.

    PyAV drops a message identical to the previous one by default: the same damage in two files checked
    in a row would be seen only in the first.
    """
    level = av_logging.get_level()
    if level is None or level < av_logging.ERROR:
        av_logging.set_level(av_logging.ERROR)
    if av_logging.get_skip_repeated():
        av_logging.set_skip_repeated(False)


def _hevc_opinion(run: _Run, data: bytes) -> None:
    """Decode the HEIF's HEVC items again with FFmpeg and keep only its slice-damage errors.

    On randomly damaged HEIC files libde265 passed 15 % of what the ffmpeg CLI flagged, mostly
    out-of-range QP deltas in damaged slices. FFmpeg's demuxer sees every coded item (grid tiles,
    thumbnails); only messages from the hevc decoder itself count.
    """
    found = _demuxed_opinion(data, _HEVC_EVIDENCE, codec="hevc")
    if found:
        _add_opinion(run, "hevc", "HEVC data", found)


def _demuxed_opinion(
    data: bytes, evidence: re.Pattern[str], *, fmt: str | None = None, codec: str | None = None
) -> list[str]:
    """Demux ``data`` (as ``fmt``, or as probed) and decode its video streams (only ``codec``'s, when
    given) with FFmpeg: the error-level lines matching ``evidence`` (only that decoder's, when given).

    A refusal (an exception without such lines) is no evidence.
    """
    if av is None:
        return []
    _av_logs_on()
    with av_logging.Capture(local=True) as logs:
        try:
            with av.open(io.BytesIO(data), mode="r", format=fmt) as container:
                streams = [
                    s for s in container.streams.video if codec is None or s.codec_context.name == codec
                ]
                for stream in streams:
                    stream.codec_context.thread_count = 1
                for packet in container.demux(*streams) if streams else ():
                    packet.decode()
        except MemoryError:
            raise
        except Exception:  # judged from the log below
            pass
    return list(
        dict.fromkeys(
            str(msg).strip()
            for lvl, name, msg in logs
            if lvl <= av_logging.ERROR and (codec is None or name == codec) and evidence.search(str(msg))
        )
    )


def _add_opinion(run: _Run, codec: str, what: str, found: list[str], label: str = "") -> None:
    """Record FFmpeg's ``codec`` decoder's damage lines as the decisive finding."""
    run.decisive = _decisive(TOOL_PYAV, _versions(), codec)
    message = f"{label}corrupt {what} (FFmpeg {codec}: {'; '.join(found[:3])})"
    run.add(Severity.CORRUPT, "decode_error", TOOL_PYAV, message)


# FFmpeg's gif decoder: a row of the frame the LZW data cannot fill.
_GIF_EVIDENCE = re.compile(r"LZW decode failed", re.IGNORECASE)


def _gif_opinion(run: _Run, data: bytes) -> None:
    """Every frame of a GIF again through FFmpeg's gif decoder; its LZW failures are damage.

    A flipped bit turns one LZW code into another and shifts the pixels after it; Pillow decodes on
    without a word where FFmpeg finds a row the data cannot fill. In a randomized sweep Pillow passed 4
    such 640x480 animations (ImageMagick, gifsicle); none of about 40 valid GIFs from Pillow, ImageMagick,
    gifsicle and FFmpeg makes FFmpeg complain. Costs about one more GIF decode (+1 ms for 8 frames of
    160x120, +10 ms for 1500x1000).
    """
    found = _demuxed_opinion(data, _GIF_EVIDENCE, fmt="gif")
    if found:
        _add_opinion(run, "gif", "GIF image data", found)


# FFmpeg's targa decoder: an RLE-file packet that runs past the end of the picture. Pillow stops filling
# at the last pixel of a raw packet and reads on.
_TGA_EVIDENCE = re.compile(r"Packet went out of bounds", re.IGNORECASE)


def _tga_opinion(run: _Run, data: bytes) -> None:
    """An RLE-compressed TGA through FFmpeg's targa decoder: packets past the picture's end are damage.

    In a randomized sweep, 4 damaged RLE TGAs (blocks duplicated or inserted in the packet stream) ended
    in a raw packet longer than the pixels left: Pillow passed them, FFmpeg did not.
    """
    found = _codec_opinion("targa", data, _TGA_EVIDENCE)
    if found:
        _add_opinion(run, "targa", "TGA RLE data", found)


def _webp_frame_without_image(data: bytes) -> str | None:
    """An animation frame ('ANMF') of a WebP that holds no image chunk ('VP8 ', 'VP8L'), or None.

    libwebp shows the previous picture for such a frame and Pillow passes it; FFmpeg reports "image data
    not found". It is what a flipped bit in a frame's chunk name leaves.
    """
    if data[12:16] != b"VP8X":
        return None
    pos, frame = 12, 0
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = min(pos + 8 + size, len(data))
        if kind == b"ANMF":
            frame += 1
            sub, kinds = pos + 24, []  # the frame header (position, size, duration, flags) is 16 bytes
            while sub + 8 <= end:
                kinds.append(data[sub : sub + 4])
                sub += 8 + (n := int.from_bytes(data[sub + 4 : sub + 8], "little")) + (n & 1)
            if b"VP8 " not in kinds and b"VP8L" not in kinds:
                names = ", ".join(f"'{fourcc(k)}'" for k in kinds) or "nothing"
                return f"animation frame {frame} holds no image data (only {names})"
        pos += 8 + size + (size & 1)
    return None


def _codec_opinion(
    codec: str, buf: bytes | memoryview, evidence: re.Pattern[str], **options: str
) -> list[str]:
    """Decode ``buf`` as one packet with FFmpeg's ``codec``; the error-level lines matching ``evidence``.

    A refusal ("unsupported", an exception without such lines) is no evidence: FFmpeg lacks some
    flavours the first decoder reads (arithmetic-coded JPEG, float TIFF).
    """
    if av is None:
        return []
    _av_logs_on()
    ctx: Any = av.CodecContext.create(codec, "r")
    ctx.thread_count = 1
    if options:
        ctx.options = options
    with av_logging.Capture(local=True) as logs:
        try:
            ctx.decode(av.Packet(bytes(buf)))
            ctx.decode(None)
        except MemoryError:
            raise
        except Exception:  # judged from the log below
            pass
    messages = [str(msg).strip() for lvl, _, msg in logs if lvl <= av_logging.ERROR]
    if any("not supported" in m.lower() or "unsupported" in m.lower() for m in messages):
        return []
    return list(dict.fromkeys(m for m in messages if evidence.search(m)))


def _mjpeg_opinion(run: _Run, buf: bytes | memoryview, label: str) -> bool:
    """Decode again with FFmpeg's mjpeg decoder and keep only its damage-specific errors.

    On randomly damaged JPEGs libjpeg alone found 92 % of what Pillow or ffmpeg found; with this pass,
    all of it. Decoded at 1/8 scale (``lowres``): the entropy decoding, where these errors arise, is
    unchanged.
    """
    found = _codec_opinion("mjpeg", buf, _MJPEG_EVIDENCE, lowres="3")
    if not found:
        return True
    _add_opinion(run, "mjpeg", "JPEG data", found, label)
    return False


def _tiff_opinion(run: _Run, data: bytes, evidence: re.Pattern[str], what: str) -> None:
    """FFmpeg's TIFF decoder on the first page of a PackBits or CCITT fax TIFF.

    PackBits runs must not cross a row boundary; libtiff decodes a whole strip at once and never
    notices damage that shifts the runs, FFmpeg checks every run against its row. Likewise FFmpeg's fax
    decoder rejects codes and runs libtiff's decodes through (damaged G4 strips: "Incorrect mode VLC").
    """
    found = _codec_opinion("tiff", data, evidence)
    if found:
        _add_opinion(run, "tiff", f"{what} data", found, "frame 0: ")


_JPEG_PRECISION = re.compile(r"data precision (\d+)", re.IGNORECASE)
# libjpeg messages about a legitimate JPEG flavour its 8-bit API does not decode. "Unsupported marker
# type" is not one of them: it is a damaged byte where a marker should be.
_JPEG_VARIANT_HINTS = (
    "unsupported jpeg process",
    "unsupported color conversion",
    "requested features are incompatible",
    "maximum supported image dimension",
    "dnl not supported",
)


def _jpeg_variant(message: str) -> bool:
    """Whether a libjpeg error names an unsupported but valid JPEG flavour (not damage)."""
    lowered = message.lower()
    precision = _JPEG_PRECISION.search(message)
    if precision:
        return int(precision.group(1)) in (12, 16)
    return any(k in lowered for k in _JPEG_VARIANT_HINTS)


def _jpeg_failure(run: _Run, buf: bytes | memoryview, label: str, message: str) -> bool:
    lowered = message.lower()
    if _jpeg_variant(message):
        # A variant libjpeg-turbo's 8-bit API refuses (12-bit, lossless ...): ask Pillow before giving up.
        return _pillow_jpeg_fallback(run, buf, label, message)
    code = "truncated" if "premature end" in lowered else "decode_error"
    run.add(Severity.CORRUPT, code, TOOL_SIMPLEJPEG, f"{label}{message}")
    return False


def _pillow_jpeg_fallback(run: _Run, buf: bytes | memoryview, label: str, why: str) -> bool:
    try:
        with Image.open(io.BytesIO(bytes(buf))) as im:
            im.load()
    except MemoryError:
        raise
    except Exception as exc:  # neither decoder reads this variant
        run.add(
            Severity.UNSUPPORTED,
            "unsupported_variant",
            TOOL_SIMPLEJPEG,
            f"{label}JPEG variant not decodable here: {why} (Pillow: {_text(exc)})",
        )
        return False
    run.add(
        Severity.INFO, "lenient_decode", TOOL_PILLOW, f"{label}{why}; decoded by Pillow (lenient) instead"
    )
    return True


# ------------------------------------------------------------------------------------------ other formats


def _frames(im: Image.Image) -> Iterator[int]:
    """Seek through the frames in order, yielding each index; stops at the end (EOFError)."""
    index = 0
    while True:
        yield index
        index += 1
        try:
            im.seek(index)
        except EOFError:
            return


class _NativeStderr:
    """Collect what C libraries print on file descriptor 2 while the block runs.

    Process-wide (a file descriptor has no threads): meant for the checker child, where one check runs
    at a time. If fd 2 cannot be redirected, the block runs anyway and nothing is collected.
    """

    def __init__(self) -> None:
        self._tmp: Any = None
        self._saved: int | None = None

    def __enter__(self) -> _NativeStderr:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        try:
            self._tmp = tempfile.TemporaryFile()
            self._saved = os.dup(2)
            os.dup2(self._tmp.fileno(), 2)
        except OSError:
            self._restore()
        return self

    def lines(self) -> list[str]:
        """What was printed so far, one entry per distinct non-empty line."""
        if self._tmp is None:
            return []
        self._tmp.seek(0)
        text = self._tmp.read(16384).decode("utf-8", "replace")
        self._tmp.seek(0, os.SEEK_END)
        return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))

    def _restore(self) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._tmp is not None:
            self._tmp.close()
            self._tmp = None

    def __exit__(self, *exc: object) -> None:
        self._restore()


# libjpeg messages that say "not supported" about what is in fact damage: a random FF xx pair inside
# entropy-coded data, and a frame header whose line count was zeroed (which libjpeg takes for a DNL
# image it cannot read).
# libheif's "Invalid input" errors are damage whatever they go on to say ("'pitm' box references an
# unsupported or non-existing image").
_DAMAGE_NOT_VARIANT = ("unsupported marker", "empty jpeg image", "invalid input")
# libheif: "Unsupported data version: pitm box data version 224 is not implemented yet". HEIF boxes have
# versions 0..3; a larger one is a damaged byte, not a newer file.
_BOX_VERSION = re.compile(r"box data version (\d+)", re.IGNORECASE)
_MAX_BOX_VERSION = 3


def _names_a_variant(line: str) -> bool:
    """Whether a decoder's error line says "not supported here" rather than "damaged".

    libjpeg's "Unsupported marker type 0x34" is not a variant: it is a random FF xx byte pair met inside
    entropy-coded data, i.e. damage.
    """
    lowered = line.lower()
    if any(k in lowered for k in _DAMAGE_NOT_VARIANT):
        return False
    version = _BOX_VERSION.search(line)
    if version and int(version.group(1)) > _MAX_BOX_VERSION:
        return False
    return any(k in lowered for k in _UNSUPPORTED_HINTS)


def _libtiff_errors(run: _Run, lines: list[str]) -> None:
    """libtiff errors printed during a decode that Pillow's ``load()`` let pass: damage.

    libtiff's default handlers print errors as "Module: message" and warnings as "Module: Warning,
    message"; some decoders (CCITT fax: "Fax4Decode: Bad code word at line 19 of strip 0") report a
    damaged strip as an error, fill the rest with white and return success. Warnings (unknown tags,
    unsorted directories) stay ignored. Errors that only name a variant libtiff lacks ("Uncompressed data
    (not supported)", a rare fax extension) make the file unsupported, not corrupt.
    """
    errors = [line for line in lines if "warning," not in line.lower()]
    if not errors:
        return
    message = f"libtiff: {'; '.join(errors[:2])}"
    if all(_names_a_variant(line) for line in errors):
        run.add(Severity.UNSUPPORTED, "unsupported_variant", TOOL_PILLOW, message)
    else:
        run.add(Severity.CORRUPT, "decode_error", TOOL_PILLOW, message)


def _decode_frames(run: _Run, im: Image.Image, tool: str, native: _NativeStderr | None = None) -> None:
    """``load()`` every frame/page; the first failure is reported with its frame index and time."""
    animated = bool(getattr(im, "is_animated", False))
    # Frame durations (ms) appear in ``info`` at open (GIF, APNG) or only once a frame is read (WebP).
    elapsed_ms = 0.0
    timed = "duration" in im.info

    def at() -> float | None:
        return elapsed_ms / 1000.0 if animated and (timed or "duration" in im.info) else None

    def library_lines() -> list[str]:
        return native.lines() if native else []

    index = 0
    try:
        for index in _frames(im):
            if im.width * im.height > run.options.max_image_pixels:
                run.too_large(im.width, im.height, index)
                return
            try:
                im.load()
            except MemoryError:
                raise
            except Exception as exc:
                where = f"frame {index}" if animated or index else ""
                _decode_failure(run, exc, tool, where, at(), library_lines())
                return
            run.frames = index + 1
            duration = im.info.get("duration")
            if duration is not None:
                timed = True
                elapsed_ms += float(duration or 0)
    except MemoryError:
        raise
    except Exception as exc:  # seeking to the next frame failed: its header is damaged
        _decode_failure(run, exc, tool, f"frame {index + 1}", at(), library_lines())


def _decode_failure(
    run: _Run,
    exc: BaseException,
    tool: str,
    where: str,
    at: float | None = None,
    library_lines: list[str] | None = None,
) -> None:
    """One decoder exception as a finding: unreadable, too large, unsupported or corrupt."""
    prefix = f"{where}: " if where else ""
    if isinstance(exc, Image.DecompressionBombError):
        run.add(Severity.WARNING, "too_large", tool, f"{prefix}image too large to decode safely: {exc}")
        return
    if isinstance(exc, OSError) and exc.errno is not None:
        run.add(Severity.UNREADABLE, "io_error", tool, f"{prefix}read failed: {_os_reason(exc)}")
        return
    message = _text(exc)
    if "MAX_TEXT_" in message:
        run.add(
            Severity.WARNING,
            "metadata_too_large",
            tool,
            f"{prefix}text metadata too large to read: {message}",
        )
        return
    if library_lines:
        message += f" ({'; '.join(library_lines[:3])})"
    lowered = message.lower()
    if isinstance(exc, NotImplementedError) or _names_a_variant(message):
        run.add(Severity.UNSUPPORTED, "unsupported_variant", tool, f"{prefix}{message}")
        return
    truncated = isinstance(exc, EOFError) or "truncated" in lowered or "not enough data" in lowered
    run.add(Severity.CORRUPT, "truncated" if truncated else "decode_error", tool, f"{prefix}{message}", at)


def _jpeg_without_pillow(run: _Run, data: bytes, versions: dict[str, str], reason: str) -> None:
    """A JPEG whose headers Pillow cannot parse: libjpeg judges the image data.

    Pillow's JPEG opener also parses APP segments (EXIF, Adobe, MPF) that libjpeg skips; when libjpeg
    decodes the image cleanly, what Pillow choked on is metadata. When it does not, libjpeg's message
    says what is damaged.
    """
    run.decisive = _decisive(TOOL_SIMPLEJPEG, versions)
    run.frames = 1
    # Pillow has no JPEG-LS reader at all: its refusal says nothing about the headers.
    if _strict_jpeg(run, data, "") and not _jpeg_ls(data):
        run.add(
            Severity.WARNING,
            "metadata_damaged",
            TOOL_PILLOW,
            f"JPEG headers Pillow cannot parse (the image data decodes): {reason}",
        )


def _unidentified(run: _Run, data: bytes | None, sniffed: str | None, versions: dict[str, str]) -> None:
    """Pillow recognised no format: damaged header, junk, or a format no decoder here reads."""
    if sniffed == "jpeg" and data is not None and _simplejpeg() is not None:
        _jpeg_without_pillow(run, data, versions, _plugin_reason("JPEG", data))
        return
    plugin = (sniffed or "").upper() or None
    if plugin is not None and data is not None:
        im, reason = _open_with_plugin(plugin, data)
        if im is not None:
            # The plugin reads it though its quick accept test refused (an unlisted HEIF brand ...).
            with im:
                _check_opened(run, im, data, versions, sniffed)
            return
        implausible = _implausible_tiff_tags(data) if plugin == "TIFF" else None
        if implausible:
            run.add(
                Severity.CORRUPT, "bad_header", TOOL_PILLOW, f"tiff header damaged: {implausible} ({reason})"
            )
        elif not _names_a_variant(reason):
            run.add(Severity.CORRUPT, "bad_header", TOOL_PILLOW, f"{sniffed} header unreadable: {reason}")
        elif plugin in _HEIF_PLUGINS and (why := _heif_header_damage(data)):
            run.add(
                Severity.CORRUPT, "bad_header", TOOL_PILLOW, f"{sniffed} header damaged: {reason} ({why})"
            )
        else:
            run.add(Severity.UNSUPPORTED, "unsupported_variant", TOOL_PILLOW, f"{sniffed} variant: {reason}")
        return
    if sniffed is not None:
        run.add(Severity.UNSUPPORTED, "unsupported", TOOL_PILLOW, f"no image decoder for {sniffed} content")
        return
    if _extension(run.path) in _IMAGE_EXTENSIONS:
        what = "all zero bytes" if data is not None and not data[:65536].strip(b"\x00") else "unrecognised"
        run.add(
            Severity.CORRUPT,
            "not_an_image",
            TOOL_PILLOW,
            f"content is not a readable image ({what}) although the name says {_extension(run.path)}",
        )
        return
    run.add(Severity.UNSUPPORTED, "unsupported", TOOL_PILLOW, "content not recognised as an image")


# Values the TIFF 6 specification and its common extensions (DNG, LogLuv, CIELab) define. A layout
# Pillow cannot decode made only of these is a valid file it does not support; anything else is damage.
_TIFF_PLAUSIBLE: dict[int, frozenset[int]] = {
    262: frozenset({0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 32803, 32844, 32845, 34892}),  # PhotometricInterpretation
    266: frozenset({1, 2}),  # FillOrder
    284: frozenset({1, 2}),  # PlanarConfiguration
    338: frozenset({0, 1, 2}),  # ExtraSamples
    339: frozenset({1, 2, 3, 4, 5, 6}),  # SampleFormat
}
_TIFF_TAG_NAMES = {
    258: "BitsPerSample",
    262: "PhotometricInterpretation",
    266: "FillOrder",
    277: "SamplesPerPixel",
    284: "PlanarConfiguration",
    338: "ExtraSamples",
    339: "SampleFormat",
}


def _implausible_tiff_tags(data: bytes) -> str | None:
    """The first IFD's layout tag holding a value no TIFF writer uses, or None if all are plausible."""
    from PIL import TiffImagePlugin

    try:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        fp = io.BytesIO(data)
        fp.seek(ifd.next)
        ifd.load(fp)
    except Exception:  # the IFD itself is unreadable: the plugin's reason covers it
        return None
    for tag, name in _TIFF_TAG_NAMES.items():
        value = ifd.get(tag)
        if value is None:
            continue
        values = value if isinstance(value, tuple) else (value,)
        if not all(isinstance(v, int) for v in values):
            return f"{name}={value!r}"
        if tag == 258:
            bad = [v for v in values if not (1 <= v <= 32 or v == 64)]
        elif tag == 277:
            bad = [v for v in values if not 1 <= v <= 32]
        else:
            bad = [v for v in values if v not in _TIFF_PLAUSIBLE[tag]]
        if bad:
            return f"{name}={bad[0]}"
    return None


_HEIF_PLUGINS = ("AVIF", "HEIF")


def _variant_or_damage(run: _Run, data: bytes) -> None:
    """A HEIF/AVIF header that contradicts itself is damage, whether the decoder refused the file as
    "unsupported" or read past the contradiction (FFmpeg's demuxer does not)."""
    if _corrupt(run) or not (why := _heif_header_damage(data)):
        return
    refused = [f for f in run.findings if f.severity is Severity.UNSUPPORTED]
    if not refused:
        run.add(Severity.CORRUPT, "bad_header", TOOL_PILLOW, f"header damaged: {why}")
        return
    for finding in refused:
        run.findings.remove(finding)
        run.add(
            Severity.CORRUPT, "decode_error", finding.tool, f"{finding.message} ({why})", finding.at_seconds
        )


def _heif_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[int, bytes, int]]:
    """(offset, type, size) of the boxes in ``data[start:end]``; stops at a size that does not fit."""
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if size == 1 and pos + 16 <= end:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif size == 0:
            size = end - pos
        if size < 8 or pos + size > end:
            return
        yield pos, kind, size
        pos += size


def _heif_header_damage(data: bytes) -> str | None:
    """Why the HEIF/AVIF header cannot be a writer's (a box that contradicts itself), or None.

    Checked: the 'pixi' boxes, and the item list ('iinf' in 'meta'): as many 'infe' boxes as it counts
    and nothing else. A flipped byte there makes libheif and libavif call the file "unsupported".
    """
    if pixi := _damaged_pixi(data):
        return pixi
    for pos, kind, size in _heif_boxes(data, 0, len(data)):
        if kind != b"meta":
            continue
        for ipos, ikind, isize in _heif_boxes(data, pos + 12, pos + size):
            if ikind == b"iprp" and (
                flipped := _flipped_property(data, ipos, isize) or _bad_ipma(data, ipos, isize)
            ):
                return flipped
            if ikind != b"iinf" or isize < 14:
                continue
            wide = data[ipos + 8] != 0  # version 0: 16-bit entry count, else 32-bit
            count = int.from_bytes(data[ipos + 12 : ipos + (16 if wide else 14)], "big")
            first = ipos + (16 if wide else 14)
            children = [k for _, k, _ in _heif_boxes(data, first, ipos + isize)]
            if children.count(b"infe") != count or len(children) != count:
                names = ", ".join(f"'{fourcc(k)}'" for k in children)
                return f"its item list counts {count} items but holds {names}"
        return None
    return None


# Item property boxes of HEIF and AVIF (ISO/IEC 23008-12, MIAF, AVIF, ISO/IEC 23001-17).
_HEIF_PROPERTIES = frozenset(
    b"ispe pixi colr hvcC av1C auxC irot imir clap pasp rloc lsel a1op a1lx clli mdcv cclv amve udes "
    b"vvcC lhvC jpgC j2kH uncC cmpd cmpC icef fpac oinf tols altt cdsc".split()
)


def _bad_ipma(data: bytes, iprp: int, size: int) -> str | None:
    """An item-to-property map ('ipma') whose entries do not fill it exactly or name a property the
    property container ('ipco') does not hold, or None."""
    boxes = list(_heif_boxes(data, iprp + 8, iprp + size))
    properties = sum(
        1 for pos, kind, box in boxes if kind == b"ipco" for _ in _heif_boxes(data, pos + 8, pos + box)
    )
    for pos, kind, box in boxes:
        if kind != b"ipma" or box < 16:
            continue
        version, wide = data[pos + 8], data[pos + 11] & 1
        count = int.from_bytes(data[pos + 12 : pos + 16], "big")
        at, end = pos + 16, pos + box
        for _ in range(min(count, box)):  # each entry takes at least 3 bytes: stop early when lost
            at += 4 if version else 2
            if at >= end:
                break
            links = data[at]
            for i in range(links):
                link = data[at + 1 + i * (1 + wide) : at + 2 + i * (1 + wide) + wide]
                index = int.from_bytes(link, "big") & (0x7FFF if wide else 0x7F)
                if index > properties and at + 2 + i * (1 + wide) + wide <= end:
                    return f"its item-to-property map names property {index} of {properties}"
            at += 1 + links * (1 + wide)
        if at != end or count > box:
            return f"its item-to-property map counts {count} entries that do not fill its {box} bytes"
    return None


def _flipped_property(data: bytes, iprp: int, size: int) -> str | None:
    """An item property box whose type is one bit away from a known one ('auxC' read as 'auxc'), or None.

    libheif refuses an unknown property marked essential as an "unsupported essential item property".
    """
    for cpos, ckind, csize in _heif_boxes(data, iprp + 8, iprp + size):
        if ckind != b"ipco":
            continue
        for _, kind, _ in _heif_boxes(data, cpos + 8, cpos + csize):
            if kind in _HEIF_PROPERTIES:
                continue
            for known in _HEIF_PROPERTIES:
                if sum(bin(a ^ b).count("1") for a, b in zip(kind, known, strict=True)) == 1:
                    return f"its item property '{fourcc(kind)}' is '{fourcc(known)}' with one bit flipped"
    return None


def _damaged_pixi(data: bytes) -> str | None:
    """A 'pixi' (pixel information) box of the HEIF/AVIF header that contradicts itself, or None.

    Its size is fixed by its channel count (13 bytes + one depth byte per channel, 1..4 channels), and a
    depth is 1..16 bits; a flipped count or depth makes libavif answer "Not implemented".
    """
    head = data[: min(len(data), 1 << 16)]
    at = head.find(b"pixi")
    while at >= 4:
        size = int.from_bytes(head[at - 4 : at], "big")
        if at + 9 <= len(head) and head[at + 4] == 0:  # version 0; later versions lay it out otherwise
            channels = head[at + 8]
            if not 1 <= channels <= 4 or size != 13 + channels:
                return f"its pixel information box gives {channels} channels in {size} bytes"
            depths = head[at + 9 : at + 9 + channels]
            if any(not 1 <= depth <= 16 for depth in depths):
                return f"its pixel information box gives channel depths {', '.join(map(str, depths))}"
        at = head.find(b"pixi", at + 4)
    return None


def _open_with_plugin(fmt: str, data: bytes) -> tuple[Image.Image | None, str]:
    """Open ``data`` with the format's own Pillow plugin: the image, or why it refused.

    ``Image.open`` hides the plugin's reason and skips plugins whose quick accept test fails.
    """
    entry = Image.OPEN.get(fmt)
    if entry is None:
        return None, "no decoder registered"
    factory, _ = entry
    try:
        return factory(io.BytesIO(data), ""), ""
    except MemoryError:
        raise
    except Exception as exc:  # the reason is the point
        return None, _text(exc)


def _plugin_reason(fmt: str, data: bytes) -> str:
    """Why the format's own Pillow plugin refuses the data ("" if it does not)."""
    im, reason = _open_with_plugin(fmt, data)
    if im is not None:
        with contextlib.suppress(Exception):
            im.close()
    return reason or "Pillow could not identify it"


def _text(exc: BaseException) -> str:
    # Pillow names the stream it was given ("<_io.BytesIO object at 0x...>"): noise in a message.
    text = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc)).strip()
    return text if text else type(exc).__name__


__all__ = ["check", "tool_versions"]
