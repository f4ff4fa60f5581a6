"""Detection breadth: valid media far beyond the sample kinds must stay healthy; damage that a reference
tool finds must be corrupted.

The files come from :mod:`tests.media_matrix` (FFmpeg's lavfi sources through the imageio-ffmpeg binary,
PyAV, the ``flac`` encoder, Pillow, hand-built layouts), built once per session into a temp dir. The
reference verdict of each damaged file is computed here, by the tools a user would trust (a full FFmpeg
decode, Pillow loading every frame, ``flac -t``, ``pngcheck``, ``jpeginfo -c``), and only tools that
accept the undamaged original count. Cases that need a program besides FFmpeg and Pillow (mkvmerge, lame,
oggenc, opusenc, sox, wavpack, flac, cjpeg, tiffcp, cwebp, gifsicle, optipng, exiftool, ImageMagick) are
skipped where it is not installed. Run: ``python -m pytest tests/test_detection_matrix.py -q``.
"""

from __future__ import annotations

import functools
import random
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from pixelprobe_tui.core.checkers import check
from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Severity, Verdict
from tests import media_matrix as mm

QUICK = CheckOptions(deep=False)
DEEP = CheckOptions(deep=True)
# Encoders an FFmpeg build may lack: such a case is skipped, any other build failure is a test failure.
_MISSING_ENCODER = ("Unknown encoder", "Encoder not found", "Unrecognized option", "Unknown input format")


def describe(result: CheckResult) -> list[str]:
    return [f.describe() for f in result.findings if f.severity is not Severity.INFO]


@pytest.fixture(scope="session")
def matrix_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``build(name) -> Path`` of the valid file of a matrix case (built on first use; skips if no encoder)."""
    root = tmp_path_factory.mktemp("matrix")
    built: dict[str, Path | str] = {}

    def build(name: str) -> Path:
        if name not in built:
            case = mm.BY_NAME[name]
            path = root / case.filename
            try:
                case.build(path)
                built[name] = path
            except mm.Unavailable as exc:
                built[name] = str(exc)
            except RuntimeError as exc:
                if not any(marker in str(exc) for marker in _MISSING_ENCODER):
                    raise
                built[name] = str(exc)
        found = built[name]
        if isinstance(found, str):
            pytest.skip(f"{name}: not buildable here ({found[-200:]})")
        return found

    return build


@pytest.fixture(scope="session")
def damaged_file(
    tmp_path_factory: pytest.TempPathFactory, matrix_file: Callable[[str], Path]
) -> Callable[[str, str], Path]:
    """``make(name, how) -> Path``: a seeded damaged copy of a matrix case's valid file."""
    root = tmp_path_factory.mktemp("matrix_damaged")

    def make(name: str, how: str) -> Path:
        src = matrix_file(name)
        dst = root / f"{src.stem}.{how}{src.suffix}"
        if not dst.exists():
            rng = random.Random(zlib.crc32(f"{name}/{how}".encode()))
            dst.write_bytes(mm.damage(src.read_bytes(), how, rng))
        return dst

    return make


# ---------------------------------------------------------------------------------------------------------
# Valid files.


# False alarms waiting for a fix in a module this test does not own (see /work/brief/handoff-h1.md).
KNOWN_FALSE_ALARMS: dict[str, str] = {}


def _valid_params() -> list:
    params = []
    for c in mm.CASES:
        reason = KNOWN_FALSE_ALARMS.get(c.name)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(c.name, marks=marks, id=c.name))
    return params


@pytest.mark.parametrize("name", _valid_params())
def test_valid_file_is_healthy(name: str, matrix_file: Callable[[str], Path]) -> None:
    case = mm.BY_NAME[name]
    path = matrix_file(name)
    for options in (QUICK, DEEP):
        result = check(str(path), options)
        # Warnings, and "unsupported" for a variant no decoder here reads, only where the case allows them.
        noted = {
            f.code for f in result.active_findings if f.severity in (Severity.WARNING, Severity.UNSUPPORTED)
        }
        assert result.verdict in (Verdict.HEALTHY, Verdict.WARNING, Verdict.UNSUPPORTED), (
            options.deep,
            describe(result),
        )
        assert noted <= case.allowed, (options.deep, describe(result))
        assert result.family == case.family, (result.family, result.container)


def test_matrix_files_are_valid_for_the_reference_tools(matrix_file: Callable[[str], Path]) -> None:
    """The generators make files the reference tools accept (else a case would test nothing)."""
    rejected = {}
    for name in DAMAGE_CASES:
        path = matrix_file(name)
        for tool, complaint in mm.reference_tools(mm.BY_NAME[name]).items():
            said = complaint(path)
            if said is not None:
                rejected[f"{name} / {tool}"] = said
    # A new entry here means a generator or a reference tool changed.
    assert set(rejected) == set(REFERENCE_REJECTS), rejected


# Valid files a reference tool cannot read (we must still call them healthy, which the test above checks).
REFERENCE_REJECTS = {
    "cjpeg_arithmetic / ffmpeg": "FFmpeg's MJPEG decoder has no arithmetic decoding",
    "pipe_flac / flac -t": "flac -t -w: an unset STREAMINFO MD5 (a stream written to a pipe) is a warning",
    "flac_unset_md5_and_length / flac -t": "flac -t -w: an unset STREAMINFO MD5 is a warning",
}


# ---------------------------------------------------------------------------------------------------------
# Damage.

DAMAGE_CASES = [
    # video
    "mpg_mpeg1_mp2",
    "vob_mpeg2_ac3",
    "ts_mpeg2_mp2",
    "avi_mpeg4_bframes_mp3",
    "avi_mjpeg_pcm",
    "mp4_h264_high_bframes",
    "mkv_h264_10bit",
    "ts_h264_open_gop",
    "m2ts_h264_ac3",
    "flv_h264_aac",
    "3gp_h263_amr",
    "mp4_hevc_aac",
    "webm_vp8_vorbis",
    "mkv_vp9_opus",
    "mkv_av1_svt",
    "ogv_theora_vorbis",
    "mkv_ffv1_flac",
    "mov_prores_pcm24",
    "wmv_wmv2_wma",
    "mp4_frag_plain",
    "mp4_faststart_mp3",
    "mkv_srt_attachment",
    # audio
    "mp3_cbr_id3v1",
    "mp3_vbr",
    "mp3_cover_art",
    "aac_adts",
    "m4a_alac",
    "flac_cli_24bit_picture_padding",
    "flac_ffmpeg_cover_art",
    "oga_flac",
    "ogg_libvorbis",
    "opus_mono_24k",
    "wav_s24",
    "wav_list_bext",
    "aifc_f32",
    "wma_v2",
    "ac3_raw",
    "amr_nb",
    "mka_vorbis",
    "wv_wavpack",
    # images
    "jpg_progressive_444",
    "jpg_restart_markers",
    "jpg_exif_icc_xmp",
    "jpg_mpo",
    "png_palette_trns",
    "png_interlaced",
    "apng_disposal_blend",
    "gif_animated_disposal_transparency",
    "bmp_rle8",
    "tiff_lzw",
    "tiff_jpeg",
    "tiff_multipage_mixed",
    "webp_lossless",
    "webp_animated_alpha",
    "heic_alpha",
    "avif_pillow",
    "ico_multi_size",
    "ico_bmp_entries",
    "tga_rle",
    "ppm_binary",
    "pgm_16bit",
    # written by other programs
    "avi_dv_pal",
    "mkv_truehd",
    "mp4_frag_separate_moof",
    "ts_cbr_muxrate",
    "exiftool_mp4",
    "mkvmerge_h264_aac",
    "lame_vbr_id3v2_id3v1",
    "mp3_apev2_id3v1",
    "oggenc_q3_comments",
    "opusenc_picture",
    "sox_aiff_24",
    "wavpack_cli",
    "flac_cli_id3v2_prefixed",
    "cjpeg_arithmetic",
    "tiffcp_tiled_predictor",
    "tiffcp_g4_bilevel",
    "cwebp_lossy_metadata",
    "gifsicle_optimized",
    # streams, timing, sizes
    "pipe_mkv",
    "pipe_flac",
    "ts_timestamp_wrap",
    "mp4_audio_shorter_than_video",
    "ogg_vorbis_chained",
    "flac_unset_md5_and_length",
    "ts_midsize_mpeg2",
    "im_bmp_rle4",
    "im_tiff_jpeg_tiled",
    "mpg_vcd",
]


# Misses waiting for a fix in a module this test does not own (see /work/brief/handoff-h1.md). Strict, so a
# fix makes the test fail until the entry is removed.
KNOWN_MISSES: dict[tuple[str, str], str] = {}


def _damage_params() -> list:
    params = []
    for name in DAMAGE_CASES:
        for how in mm.DAMAGES:
            reason = KNOWN_MISSES.get((name, how))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(name, how, marks=marks, id=f"{name}-{how}"))
    return params


@functools.cache
def _rejecting_original(name: str, original: Path) -> frozenset[str]:
    """Reference tools that already reject the undamaged file (they cannot judge its damage)."""
    return frozenset(t for t, fn in mm.reference_tools(mm.BY_NAME[name]).items() if fn(original) is not None)


@pytest.mark.parametrize(("name", "how"), _damage_params())
def test_damage_a_reference_tool_finds_is_corrupted(
    name: str, how: str, matrix_file: Callable[[str], Path], damaged_file: Callable[[str, str], Path]
) -> None:
    case = mm.BY_NAME[name]
    original = matrix_file(name)
    path = damaged_file(name, how)
    tools = {
        t: fn for t, fn in mm.reference_tools(case).items() if t not in _rejecting_original(name, original)
    }
    found = {t: said for t, fn in tools.items() if (said := fn(path)) is not None}
    for options in (QUICK, DEEP):
        result = check(str(path), options)
        if found:
            assert result.verdict is Verdict.CORRUPTED, (options.deep, found, describe(result))
        else:
            # Nothing a reference sees (PCM payload, a tail that holds only padding ...): any verdict but
            # a claim that a readable media file could not be read or is not media at all.
            assert result.verdict not in (Verdict.UNREADABLE, Verdict.UNSUPPORTED), describe(result)
