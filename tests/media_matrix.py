"""A wide matrix of small VALID media files beyond the sample kinds, for false-alarm and recall hunting.

Each :class:`Case` builds one file with the imageio-ffmpeg binary (lavfi test sources), PyAV, the ``flac``
command-line encoder, Pillow / pillow-heif, or by hand where no encoder writes the layout (interlaced PNG,
4-bit / RLE / top-down BMP, odd-sized WAV chunks). Files are tiny (96x64, 1 s, 25 fps) so the whole matrix
builds in seconds. ``allowed`` lists the warning codes a person would agree with for that file.
"""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
from PIL import Image, ImageDraw

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
W, H = 96, 64
VIDEO = ["-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25:duration=1"]
SIZE_128 = ["-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=1"]


def audio(rate: int = 44100, seconds: float = 1.0, freq: int = 440) -> list[str]:
    """A stereo lavfi tone (an envelope and an overtone keep the encoders' bitstreams non-trivial)."""
    expr = f"0.4*sin({freq}*2*PI*t)*(0.6+0.4*sin(6*PI*t))+0.1*sin({freq * 3}*2*PI*t)"
    return ["-f", "lavfi", "-i", f"aevalsrc={expr}|{expr}*0.8:s={rate}:d={seconds}"]


@dataclass(frozen=True)
class Case:
    """One valid file to build: ``build(path)`` writes it."""

    name: str
    ext: str
    family: str
    build: Callable[[Path], None]
    allowed: frozenset[str] = field(default_factory=frozenset)

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.ext}"


class Unavailable(Exception):
    """The encoder this case needs is not in this environment."""


def ffmpeg(out: Path, *args: str) -> None:
    """Run the ffmpeg binary writing ``out`` (single-threaded, quiet); raise with its stderr on failure."""
    cmd = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-y", *args, "-threads", "1", str(out)]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed for {out.name}: {proc.stderr.decode(errors='replace')[-800:]}")


def _ff(*args: str) -> Callable[[Path], None]:
    return lambda out: ffmpeg(out, *args)


CASES: list[Case] = []


def case(
    name: str, ext: str, family: str, build: Callable[[Path], None], allowed: tuple[str, ...] = ()
) -> None:
    CASES.append(Case(name, ext, family, build, frozenset(allowed)))


def video(name: str, ext: str, *args: str, allowed: tuple[str, ...] = ()) -> None:
    case(name, ext, "video", _ff(*VIDEO, *args), allowed)


def av_video(name: str, ext: str, *args: str, allowed: tuple[str, ...] = ()) -> None:
    """Video plus a sine audio track."""
    case(name, ext, "video", _ff(*VIDEO, *audio(), *args), allowed)


def sound(name: str, ext: str, *args: str, rate: int = 44100, allowed: tuple[str, ...] = ()) -> None:
    case(name, ext, "audio", _ff(*audio(rate), *args), allowed)


# ---------------------------------------------------------------------------------------------------------
# Video.

X264 = ("-c:v", "libx264", "-preset", "veryfast")
video("mpg_mpeg1", "mpg", "-c:v", "mpeg1video", "-bf", "2", "-f", "mpeg")
av_video("mpg_mpeg1_mp2", "mpg", "-c:v", "mpeg1video", "-c:a", "mp2", "-f", "mpeg")
av_video("vob_mpeg2_ac3", "vob", "-c:v", "mpeg2video", "-bf", "2", "-c:a", "ac3", "-f", "vob")
video("mpg_mpeg2_interlaced", "mpg", "-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-f", "mpeg")
video("m2v_elementary", "m2v", "-c:v", "mpeg2video", "-f", "mpeg2video")
av_video("ts_mpeg2_mp2", "ts", "-c:v", "mpeg2video", "-c:a", "mp2", "-f", "mpegts")
av_video("avi_mpeg4_bframes_mp3", "avi", "-c:v", "mpeg4", "-bf", "2", "-c:a", "libmp3lame")
video("avi_xvid", "avi", "-c:v", "libxvid")
av_video("mp4_mpeg4_aac", "mp4", "-c:v", "mpeg4", "-c:a", "aac")
av_video("avi_mjpeg_pcm", "avi", "-c:v", "mjpeg", "-c:a", "pcm_s16le")
video("mov_mjpeg", "mov", "-c:v", "mjpeg")
av_video("mp4_h264_high_bframes", "mp4", *X264, "-profile:v", "high", "-bf", "3", "-c:a", "aac")
video("mkv_h264_10bit", "mkv", *X264, "-pix_fmt", "yuv420p10le")
video("mp4_h264_444", "mp4", *X264, "-pix_fmt", "yuv444p")
video("mp4_h264_interlaced", "mp4", *X264, "-flags", "+ildct+ilme", "-x264-params", "interlaced=1:tff=1")
av_video(
    "ts_h264_open_gop",
    "ts",
    *X264,
    "-bf",
    "3",
    "-x264-params",
    "open-gop=1:keyint=4:min-keyint=2",
    "-c:a",
    "aac",
)
av_video("m2ts_h264_ac3", "m2ts", *X264, "-c:a", "ac3", "-f", "mpegts", "-mpegts_m2ts_mode", "1")
av_video("mts_h264_ac3", "mts", *X264, "-c:a", "ac3", "-f", "mpegts", "-mpegts_m2ts_mode", "1")
av_video("flv_h264_aac", "flv", *X264, "-c:a", "aac")
av_video("flv_sorenson_mp3", "flv", "-c:v", "flv", "-c:a", "libmp3lame")
case(
    "3gp_h263_amr",
    "3gp",
    "video",
    _ff(*SIZE_128, *audio(8000), "-c:v", "h263", "-c:a", "libopencore_amrnb", "-ac", "1", "-b:a", "12.2k"),
)
av_video("3gp_h264_aac", "3gp", *X264, "-profile:v", "baseline", "-c:a", "aac")
av_video(
    "mp4_hevc_aac",
    "mp4",
    "-c:v",
    "libx265",
    "-tag:v",
    "hvc1",
    "-x265-params",
    "log-level=none",
    "-c:a",
    "aac",
)
video("mkv_hevc_10bit", "mkv", "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=none")
video("ts_hevc", "ts", "-c:v", "libx265", "-x265-params", "log-level=none")
av_video("webm_vp8_vorbis", "webm", "-c:v", "libvpx", "-b:v", "200k", "-c:a", "libvorbis")
av_video(
    "mkv_vp9_opus", "mkv", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"
)
video(
    "webm_vp9_alpha",
    "webm",
    "-c:v",
    "libvpx-vp9",
    "-pix_fmt",
    "yuva420p",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
)
video("mkv_av1_svt", "mkv", "-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "lp=1")
video("webm_av1_aom", "webm", "-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "0", "-crf", "40")
av_video("ogv_theora_vorbis", "ogv", "-c:v", "libtheora", "-q:v", "5", "-c:a", "libvorbis")
av_video("mkv_ffv1_flac", "mkv", "-c:v", "ffv1", "-level", "3", "-slicecrc", "1", "-c:a", "flac")
video("avi_huffyuv", "avi", "-c:v", "huffyuv", "-pix_fmt", "yuv422p")
video("avi_ffvhuff", "avi", "-c:v", "ffvhuff")
av_video("mov_prores_pcm24", "mov", "-c:v", "prores_ks", "-profile:v", "3", "-c:a", "pcm_s24le")
video("mov_png", "mov", "-c:v", "png")
video("mov_qtrle", "mov", "-c:v", "qtrle")
av_video("wmv_wmv2_wma", "wmv", "-c:v", "wmv2", "-c:a", "wmav2")
video("asf_msmpeg4", "asf", "-c:v", "msmpeg4")
video("mkv_utvideo", "mkv", "-c:v", "utvideo")
# Variable frame rate: frames dropped irregularly, timestamps kept.
VFR = ("-vf", "select='not(eq(mod(n\\,3)\\,1))'", "-fps_mode", "vfr")
video("mkv_vfr", "mkv", *VFR, *X264)
video("mp4_vfr", "mp4", *VFR, *X264)
case("mp4_rotated", "mp4", "video", _ff("-display_rotation", "90", *VIDEO, *X264))
video("mp4_one_frame", "mp4", *X264, "-frames:v", "1")
video("mkv_one_frame_vp9", "mkv", "-c:v", "libvpx-vp9", "-frames:v", "1")
av_video(
    "mp4_frag_hevc",
    "mp4",
    "-c:v",
    "libx265",
    "-x265-params",
    "log-level=none",
    "-c:a",
    "aac",
    "-movflags",
    "frag_keyframe+empty_moov",
)
av_video("mp4_frag_plain", "mp4", *X264, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov")
av_video(
    "mp4_frag_dash", "mp4", *X264, "-c:a", "aac", "-movflags", "+dash+global_sidx+frag_keyframe+empty_moov"
)
av_video("mp4_faststart_mp3", "mp4", *X264, "-c:a", "libmp3lame", "-movflags", "+faststart")
av_video("mov_timecode", "mov", *X264, "-c:a", "aac", "-timecode", "01:00:00:00")
av_video("m4v_h264", "m4v", *X264, "-c:a", "aac")
av_video("webm_live", "webm", "-c:v", "libvpx", "-c:a", "libopus", "-live", "1")
av_video(
    "mkv_h264_no_cues_limit",
    "mkv",
    *X264,
    "-c:a",
    "aac",
    "-cluster_size_limit",
    "2000",
    "-cluster_time_limit",
    "200",
)


def _multi_audio(ext: str, codecs: tuple[str, str]) -> Callable[[Path], None]:
    return _ff(
        *VIDEO,
        *audio(),
        *audio(48000, freq=660),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        *X264,
        "-c:a:0",
        codecs[0],
        "-c:a:1",
        codecs[1],
    )


case("mkv_multi_audio", "mkv", "video", _multi_audio("mkv", ("aac", "ac3")))
case("mp4_multi_audio", "mp4", "video", _multi_audio("mp4", ("aac", "ac3")))

SRT = "1\n00:00:00,000 --> 00:00:00,500\nHello\n\n2\n00:00:00,500 --> 00:00:00,900\nWorld\n"


def _mkv_subs_attachment(out: Path) -> None:
    srt = out.with_suffix(".srt")
    srt.write_text(SRT)
    att = out.with_suffix(".txt")
    att.write_text("an attached file\n")
    ffmpeg(
        out,
        *VIDEO,
        "-i",
        str(srt),
        "-map",
        "0",
        "-map",
        "1",
        *X264,
        "-c:s",
        "srt",
        "-attach",
        str(att),
        "-metadata:s:t",
        "mimetype=text/plain",
    )
    srt.unlink()
    att.unlink()


def _mp4_mov_text(out: Path) -> None:
    srt = out.with_suffix(".srt")
    srt.write_text(SRT)
    ffmpeg(out, *VIDEO, "-i", str(srt), "-map", "0", "-map", "1", *X264, "-c:s", "mov_text")
    srt.unlink()


def _mkv_ass(out: Path) -> None:
    srt = out.with_suffix(".srt")
    srt.write_text(SRT)
    ffmpeg(
        out,
        *VIDEO,
        *audio(),
        "-i",
        str(srt),
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        *X264,
        "-c:a",
        "libopus",
        "-c:s",
        "ass",
    )
    srt.unlink()


def _chapters(out: Path) -> None:
    meta = out.with_suffix(".ffmeta")
    meta.write_text(
        ";FFMETADATA1\ntitle=t\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=a\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=500\nEND=1000\ntitle=b\n"
    )
    ffmpeg(out, *VIDEO, "-i", str(meta), "-map_metadata", "1", "-map_chapters", "1", *X264)
    meta.unlink()


case("mkv_srt_attachment", "mkv", "video", _mkv_subs_attachment)
case("mkv_ass_opus", "mkv", "video", _mkv_ass)
case("mp4_mov_text", "mp4", "video", _mp4_mov_text)
case("mp4_chapters", "mp4", "video", _chapters)
case("mkv_chapters", "mkv", "video", _chapters)


def _zero_length_audio(fmt: str, acodec: str) -> Callable[[Path], None]:
    """A video track with frames plus an audio track that never received a packet (PyAV)."""

    def build(out: Path) -> None:
        with av.open(str(out), "w", format=fmt) as c:
            v = c.add_stream("libx264", rate=10, options={"preset": "veryfast", "threads": "1"})
            v.width, v.height, v.pix_fmt = W, H, "yuv420p"
            a = c.add_stream(acodec, rate=48000)
            a.layout = "stereo"
            for i in range(10):
                img = Image.new("RGB", (W, H), (i * 20, 80, 160))
                ImageDraw.Draw(img).rectangle((i * 8, 10, i * 8 + 20, 40), fill=(250, 250, 0))
                frame = av.VideoFrame.from_image(img)
                frame.pts, frame.time_base = i, Fraction(1, 10)
                c.mux(v.encode(frame))
            c.mux(v.encode(None))
            c.mux(a.encode(None))

    return build


case("mkv_zero_length_audio", "mkv", "video", _zero_length_audio("matroska", "libopus"))
case("mp4_zero_length_audio", "mp4", "video", _zero_length_audio("mp4", "aac"))

# ---------------------------------------------------------------------------------------------------------
# Audio.

MP3 = ("-c:a", "libmp3lame")
sound(
    "mp3_cbr_id3v1",
    "mp3",
    *MP3,
    "-b:a",
    "128k",
    "-write_id3v1",
    "1",
    "-metadata",
    "title=T",
    "-metadata",
    "artist=A",
)
sound("mp3_vbr", "mp3", *MP3, "-q:a", "4")
sound("mp3_mono_8k", "mp3", *MP3, "-ac", "1", "-b:a", "16k", rate=8000)
sound("mp3_no_xing_no_tag", "mp3", *MP3, "-write_xing", "0", "-id3v2_version", "0")
sound("mp3_twolame_layer2", "mp2", "-c:a", "libtwolame")
sound("mp2_layer2", "mp2", "-c:a", "mp2")
sound("aac_adts", "aac", "-c:a", "aac", "-f", "adts")
sound("m4a_alac", "m4a", "-c:a", "alac")
sound("m4b_aac", "m4b", "-c:a", "aac", "-f", "ipod")
sound("m4a_mp3", "m4a", "-c:a", "libmp3lame", "-f", "mp4")
sound("flac_ffmpeg_24bit", "flac", "-c:a", "flac", "-sample_fmt", "s32", "-bits_per_raw_sample", "24")
sound("oga_flac", "oga", "-c:a", "flac", "-f", "ogg")
sound("ogg_libvorbis", "ogg", "-c:a", "libvorbis", "-q:a", "2")
sound("opus_mono_24k", "opus", "-c:a", "libopus", "-ac", "1", "-b:a", "24k", rate=24000)
sound("ogg_opus", "ogg", "-c:a", "libopus")
sound("wav_u8", "wav", "-c:a", "pcm_u8")
sound("wav_s16_mono", "wav", "-c:a", "pcm_s16le", "-ac", "1")
sound("wav_s24", "wav", "-c:a", "pcm_s24le")
sound("wav_s32", "wav", "-c:a", "pcm_s32le")
sound("wav_f32", "wav", "-c:a", "pcm_f32le")
sound("wav_f64", "wav", "-c:a", "pcm_f64le")
sound("wav_alaw", "wav", "-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1")
sound("wav_adpcm_ms", "wav", "-c:a", "adpcm_ms")
sound("wav_adpcm_ima", "wav", "-c:a", "adpcm_ima_wav")
sound("wav_mp3", "wav", "-c:a", "libmp3lame")
sound(
    "wav_list_bext",
    "wav",
    "-c:a",
    "pcm_s16le",
    "-write_bext",
    "1",
    "-metadata",
    "title=Take 1",
    "-metadata",
    "artist=Someone",
    "-metadata",
    "description=A field recording",
)
sound("wav_rf64", "wav", "-c:a", "pcm_s16le", "-rf64", "always")
case(
    "wav_extensible_6ch",
    "wav",
    "audio",
    _ff(*audio(), "-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0", "-c:a", "pcm_s16le"),
)
sound("aiff_s16", "aiff", "-c:a", "pcm_s16be")
sound("aif_s24", "aif", "-c:a", "pcm_s24be")
sound("aifc_f32", "aifc", "-c:a", "pcm_f32be")
sound("aifc_alaw", "aifc", "-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1", "-f", "aiff")
sound("wma_v2", "wma", "-c:a", "wmav2")
sound("wma_v1", "wma", "-c:a", "wmav1")
sound("amr_nb", "amr", "-c:a", "libopencore_amrnb", "-ac", "1", "-b:a", "12.2k", rate=8000)
sound("ac3_raw", "ac3", "-c:a", "ac3")
sound("eac3_raw", "eac3", "-c:a", "eac3")
sound("mka_vorbis", "mka", "-c:a", "libvorbis")
sound("mka_pcm", "mka", "-c:a", "pcm_s16le")
sound("mka_flac", "mka", "-c:a", "flac")
sound("wv_wavpack", "wv", "-c:a", "wavpack")
sound("mkv_audio_aac", "mkv", "-c:a", "aac")
sound("mp4_alac_audio_only", "mp4", "-c:a", "alac")


def _cover_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _with_cover(*args: str) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        cover = out.with_suffix(".cover.jpg")
        cover.write_bytes(_cover_jpeg())
        ffmpeg(
            out,
            *audio(),
            "-i",
            str(cover),
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-c:v",
            "copy",
            "-disposition:v",
            "attached_pic",
            *args,
        )
        cover.unlink()

    return build


case(
    "mp3_cover_art",
    "mp3",
    "audio",
    _with_cover(*MP3, "-id3v2_version", "3", "-write_id3v1", "1", "-metadata", "title=Song"),
)
case("m4a_aac_cover_art", "m4a", "audio", _with_cover("-c:a", "aac"))
case("flac_ffmpeg_cover_art", "flac", "audio", _with_cover("-c:a", "flac"))
case(
    "ogg_opus_1_sample",
    "ogg",
    "audio",
    _ff(*audio(48000, 0.02), "-af", "atrim=end_sample=1", "-c:a", "libopus"),
)


def _wav_bytes(rate: int, channels: int, bits: int, frames: int) -> bytes:
    pcm = bytearray()
    for i in range(frames * channels):
        v = (i * 37) % 200 - 100
        pcm += bytes([v + 128]) if bits == 8 else struct.pack("<h", v * 100)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    return bytes(pcm), fmt


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def _wav_odd_chunks(out: Path) -> None:
    """8-bit mono with an odd sample count (pad byte after data) and odd-sized chunks before and after it."""
    pcm, fmt = _wav_bytes(8000, 1, 8, 8001)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"junk", b"abc") + _chunk(b"data", pcm)
    body += _chunk(b"LIST", b"INFO" + _chunk(b"INAM", b"odd\x00x"))
    out.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


case("wav_odd_chunks", "wav", "audio", _wav_odd_chunks)


def _flac_cli(*args: str, frames: int = 44100, bits: int = 16) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        exe = shutil.which("flac")
        if exe is None:
            raise Unavailable("flac command not installed")
        wav = out.with_suffix(".src.wav")
        ffmpeg(wav, *audio(), "-af", f"atrim=end_sample={frames}", "-c:a", f"pcm_s{bits}le")
        extra = list(args)
        if "--picture" in extra:
            pic = out.with_suffix(".pic.jpg")
            pic.write_bytes(_cover_jpeg())
            extra[extra.index("--picture") + 1] = f"3||cover||{pic}"
        proc = subprocess.run(
            [exe, "-s", "-f", *extra, "-o", str(out), str(wav)], capture_output=True, timeout=60
        )
        wav.unlink()
        out.with_suffix(".pic.jpg").unlink(missing_ok=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.decode(errors="replace"))

    return build


case(
    "flac_cli_24bit_picture_padding",
    "flac",
    "audio",
    _flac_cli("--picture", "x", "--padding", "4096", bits=24),
)
case("flac_cli_one_sample", "flac", "audio", _flac_cli(frames=1))
case("flac_cli_best", "flac", "audio", _flac_cli("-8", "--no-padding"))
case("oga_flac_cli", "oga", "audio", _flac_cli("--ogg"))

# ---------------------------------------------------------------------------------------------------------
# Images.


def _picture(mode: str = "RGB", size: tuple[int, int] = (W, H), seed: int = 0) -> Image.Image:
    """Gradient plus shapes: a non-trivial picture in ``mode``."""
    img = Image.new("RGB", size)
    px = img.load()
    for y in range(size[1]):
        for x in range(size[0]):
            px[x, y] = ((x * 5 + seed * 30) % 256, (y * 7) % 256, ((x + y) * 3) % 256)
    d = ImageDraw.Draw(img)
    d.ellipse((10, 8, 50, 40), fill=(250, 240, 30))
    d.rectangle((55, 20, 90, 60), outline=(0, 0, 0), width=3)
    return img.convert(mode)


def pil(mode: str = "RGB", fmt: str | None = None, **kw: object) -> Callable[[Path], None]:
    return lambda out: _picture(mode).save(out, fmt, **kw)


def image(name: str, ext: str, build: Callable[[Path], None], allowed: tuple[str, ...] = ()) -> None:
    case(name, ext, "image", build, allowed)


def _icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Model 9"
    exif[0x0112] = 6
    return exif.tobytes()


XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/></x:xmpmeta><?xpacket end='w'?>"
)

image("jpg_gray", "jpg", pil("L", "JPEG"))
image("jpg_cmyk", "jpg", pil("CMYK", "JPEG"))
image("jpg_progressive_444", "jpg", pil("RGB", "JPEG", progressive=True, subsampling=0))
image("jpg_restart_markers", "jpg", pil("RGB", "JPEG", restart_marker_blocks=2))
image("jpg_420_optimized", "jpg", pil("RGB", "JPEG", subsampling=2, optimize=True))
image("jpg_422_q100", "jpg", pil("RGB", "JPEG", subsampling=1, quality=100))
image(
    "jpg_exif_icc_xmp",
    "jpg",
    lambda out: _picture().save(
        out, "JPEG", exif=_exif(), icc_profile=_icc(), xmp=XMP, comment=b"made by a test"
    ),
)


def _jpg_trailer(trailer: bytes) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        buf = io.BytesIO()
        _picture().save(buf, "JPEG", exif=_exif())
        out.write_bytes(buf.getvalue() + trailer)

    return build


# Phones append data after EOI: Samsung's SEFH trailer, zero padding, a second (thumbnail / depth) JPEG.
image(
    "jpg_trailer_samsung",
    "jpg",
    _jpg_trailer(b"\x00\x00" + b"Image_UTC_Data1700000000000" + b"SEFH" + bytes(8) + b"SEFT"),
    allowed=("trailing_data",),
)
image("jpg_trailer_zeros", "jpg", _jpg_trailer(bytes(300)))


def _second_jpeg() -> bytes:
    buf = io.BytesIO()
    _picture(size=(32, 24)).save(buf, "JPEG")
    return buf.getvalue()


image(
    "jpg_trailer_second_jpeg",
    "jpg",
    lambda out: _jpg_trailer(_second_jpeg())(out),
    allowed=("trailing_data",),
)
image(
    "jpg_mpo", "mpo", lambda out: _picture().save(out, "MPO", save_all=True, append_images=[_picture(seed=1)])
)
image(
    "jpg_mpo_as_jpg",
    "jpg",
    lambda out: _picture().save(out, "MPO", save_all=True, append_images=[_picture(seed=1)]),
)
image("jpg_ffmpeg_mjpeg", "jpg", _ff(*VIDEO, "-frames:v", "1", "-c:v", "mjpeg", "-f", "image2"))
image("png_rgb48_ffmpeg", "png", _ff(*VIDEO, "-frames:v", "1", "-pix_fmt", "rgb48be", "-f", "image2"))
image(
    "png_gray16",
    "png",
    lambda out: _picture("L").convert("I").point(lambda v: v * 256).convert("I;16").save(out),
)
image("png_palette_trns", "png", lambda out: _picture("P").save(out, transparency=0))
image("png_gray_alpha", "png", pil("LA"))
image("png_1bit", "png", pil("1"))
image(
    "png_text_chunks",
    "png",
    lambda out: _picture().save(out, pnginfo=_pnginfo(), icc_profile=_icc(), exif=_exif()),
)


def _pnginfo():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "plain")
    info.add_text("Description", "compressed " * 20, zip=True)
    info.add_itxt("Title", "inter\u00e9national", lang="fr")
    return info


def _png_chunk(cid: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + cid + body + struct.pack(">I", zlib.crc32(cid + body))


def _png_interlaced(out: Path) -> None:
    """An Adam7 RGB PNG written by hand (Pillow cannot write interlaced PNG)."""
    img = _picture()
    w, h = img.size
    raw = bytearray()
    passes = (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    )
    for x0, y0, dx, dy in passes:
        xs = range(x0, w, dx)
        for y in range(y0, h, dy):
            if not xs:
                continue
            raw.append(0)
            for x in xs:
                raw += bytes(img.getpixel((x, y)))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(bytes(raw)))
    out.write_bytes(data + _png_chunk(b"IEND", b""))


image("png_interlaced", "png", _png_interlaced)


def _frames(n: int, mode: str = "RGB") -> list[Image.Image]:
    return [_picture(mode, seed=i) for i in range(n)]


def _apng(out: Path) -> None:
    first, *rest = _frames(4, "RGBA")
    first.save(
        out,
        "PNG",
        save_all=True,
        append_images=rest,
        duration=100,
        loop=0,
        disposal=[0, 1, 2, 0],
        blend=[0, 1, 0, 1],
    )


image("apng_disposal_blend", "png", _apng)
image("apng_ffmpeg", "apng", _ff(*VIDEO, "-c:v", "apng", "-plays", "0", "-f", "apng"))
image("gif87a_single", "gif", pil("P", "GIF"))
image("gif_interlaced", "gif", pil("P", "GIF", interlace=True))


def _gif_anim(out: Path) -> None:
    frames = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=64) for f in _frames(4)]
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[80, 120, 80, 200],
        loop=0,
        disposal=[1, 2, 3, 2],
        transparency=0,
        optimize=False,
    )


image("gif_animated_disposal_transparency", "gif", _gif_anim)
image("gif_ffmpeg_animated", "gif", _ff(*VIDEO, "-f", "gif"))
image("bmp_1bit", "bmp", pil("1", "BMP"))
image("bmp_8bit_gray", "bmp", pil("L", "BMP"))
image("bmp_8bit_palette", "bmp", pil("P", "BMP"))
image("bmp_24bit", "bmp", pil("RGB", "BMP"))
image("bmp_32bit_alpha", "bmp", pil("RGBA", "BMP"))
image("bmp_rgb565_ffmpeg", "bmp", _ff(*VIDEO, "-frames:v", "1", "-pix_fmt", "rgb565le", "-f", "image2"))
image("bmp_bgra_ffmpeg", "bmp", _ff(*VIDEO, "-frames:v", "1", "-pix_fmt", "bgra", "-f", "image2"))


def _bmp(
    bits: int,
    rows: list[bytes],
    palette: list[tuple[int, int, int]],
    compression: int = 0,
    top_down: bool = False,
    width: int = W,
    height: int = H,
) -> bytes:
    pal = b"".join(bytes((b, g, r, 0)) for r, g, b in palette)
    pixels = b"".join(rows)
    offset = 14 + 40 + len(pal)
    info = struct.pack(
        "<IiiHHIIiiII",
        40,
        width,
        -height if top_down else height,
        1,
        bits,
        compression,
        len(pixels),
        2835,
        2835,
        len(palette),
        0,
    )
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + pal + pixels


def _indexed(levels: int) -> tuple[list[list[int]], list[tuple[int, int, int]]]:
    img = _picture("L")
    grid = [[img.getpixel((x, y)) * levels // 256 for x in range(W)] for y in range(H)]
    palette = [(i * 255 // (levels - 1),) * 3 for i in range(levels)]
    return grid, palette


def _bmp_4bit(out: Path) -> None:
    grid, palette = _indexed(16)
    rows = []
    for row in reversed(grid):
        packed = bytes((row[x] << 4) | row[x + 1] for x in range(0, W, 2))
        rows.append(packed + bytes(-len(packed) % 4))
    out.write_bytes(_bmp(4, rows, palette))


def _bmp_rle8(out: Path) -> None:
    grid, palette = _indexed(256)
    rows = []
    for row in reversed(grid):
        enc = bytearray()
        x = 0
        while x < W:
            run = 1
            while x + run < W and run < 255 and row[x + run] == row[x]:
                run += 1
            enc += bytes((run, row[x]))
            x += run
        rows.append(bytes(enc) + b"\x00\x00")
    rows[-1] = rows[-1][:-2] + b"\x00\x01"  # end of bitmap
    out.write_bytes(_bmp(8, rows, palette, compression=1))


def _bmp_top_down(out: Path) -> None:
    img = _picture()
    rows = []
    for y in range(H):
        row = b"".join(bytes(reversed(img.getpixel((x, y)))) for x in range(W))
        rows.append(row + bytes(-len(row) % 4))
    out.write_bytes(_bmp(24, rows, [], top_down=True))


image("bmp_4bit", "bmp", _bmp_4bit)
image("bmp_rle8", "bmp", _bmp_rle8)
image("bmp_top_down", "bmp", _bmp_top_down)
image("tiff_lzw", "tif", pil("RGB", "TIFF", compression="tiff_lzw"))
image("tiff_deflate", "tiff", pil("RGB", "TIFF", compression="tiff_adobe_deflate"))
image("tiff_packbits", "tiff", pil("RGB", "TIFF", compression="packbits"))
image("tiff_jpeg", "tiff", pil("RGB", "TIFF", compression="jpeg"))
image("tiff_16bit", "tiff", lambda out: _picture("L").convert("I;16").save(out, "TIFF"))
image("tiff_cmyk", "tiff", pil("CMYK", "TIFF", compression="tiff_lzw"))
image("tiff_rgba", "tiff", pil("RGBA", "TIFF"))
image(
    "tiff_multipage_mixed",
    "tiff",
    lambda out: _picture().save(
        out,
        "TIFF",
        save_all=True,
        compression="tiff_lzw",
        append_images=[_picture("L", seed=1), _picture("1", seed=2)],
    ),
)
image("tiff_bigtiff", "tiff", pil("RGB", "TIFF", big_tiff=True))
image(
    "tiff_ffmpeg_bigendian_rgb48",
    "tiff",
    _ff(*VIDEO, "-frames:v", "1", "-pix_fmt", "rgb48be", "-c:v", "tiff", "-f", "image2"),
)


def _tiff_big_endian(out: Path) -> None:
    """A big-endian (Motorola) uncompressed RGB TIFF written by hand (Pillow writes little-endian)."""
    img = _picture()
    pixels = img.tobytes()
    entries = [
        (256, 3, 1, W),
        (257, 3, 1, H),
        (258, 3, 3, 0),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, 0),
        (277, 3, 1, 3),
        (278, 3, 1, H),
        (279, 4, 1, len(pixels)),
        (284, 3, 1, 1),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    bps_at = 8 + ifd_size
    data_at = bps_at + 6
    ifd = struct.pack(">H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 258:
            value = bps_at
            ifd += struct.pack(">HHII", tag, typ, count, value)
        elif tag == 273:
            ifd += struct.pack(">HHII", tag, typ, count, data_at)
        elif typ == 3:
            ifd += struct.pack(">HHIHH", tag, typ, count, value, 0)
        else:
            ifd += struct.pack(">HHII", tag, typ, count, value)
    ifd += struct.pack(">I", 0)
    out.write_bytes(b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + struct.pack(">HHH", 8, 8, 8) + pixels)


image("tiff_big_endian", "tiff", _tiff_big_endian)
image("webp_lossy", "webp", pil("RGB", "WEBP", quality=70))
image("webp_lossless", "webp", pil("RGB", "WEBP", lossless=True))
image("webp_alpha", "webp", pil("RGBA", "WEBP", quality=70))
image(
    "webp_animated_alpha",
    "webp",
    lambda out: _frames(1, "RGBA")[0].save(
        out, "WEBP", save_all=True, append_images=_frames(3, "RGBA")[1:], duration=100, loop=0
    ),
)
image("webp_libwebp_ffmpeg", "webp", _ff(*VIDEO, "-frames:v", "1", "-c:v", "libwebp", "-f", "image2"))


def _heif(fmt: str) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        import pillow_heif

        try:
            if fmt == "HEIF":
                pillow_heif.from_pillow(_picture("RGBA")).save(out, quality=60)
            else:
                _picture().save(out, fmt, quality=60)
        except Exception as exc:  # no encoder here
            raise Unavailable(str(exc)) from exc

    return build


def _heif_sized(fmt: str, size: tuple[int, int]) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        import pillow_heif

        try:
            if fmt == "HEIF":
                pillow_heif.from_pillow(_picture(size=size)).save(out, quality=60)
            else:
                _picture(size=size).save(out, fmt, quality=60)
        except Exception as exc:  # no encoder here, or it refuses the size
            raise Unavailable(str(exc)) from exc

    return build


image("heic_alpha", "heic", _heif("HEIF"))
image("avif_pillow", "avif", _heif("AVIF"))
image(
    "ico_multi_size",
    "ico",
    lambda out: _picture("RGBA").save(out, "ICO", sizes=[(16, 16), (32, 32), (64, 64)]),
)
image("tga_rle", "tga", pil("RGB", "TGA", compression="tga_rle"))
image("ppm_binary", "ppm", pil("RGB", "PPM"))

image(
    "ico_bmp_entries",
    "ico",
    lambda out: _picture("RGBA").save(out, "ICO", sizes=[(16, 16), (32, 32)], bitmap_format="bmp"),
)
image("ico_ffmpeg", "ico", _ff(*VIDEO, "-frames:v", "1", "-vf", "scale=32:32", "-c:v", "bmp", "-f", "ico"))
image("tga_uncompressed_alpha", "tga", pil("RGBA", "TGA"))
image("tga_ffmpeg", "tga", _ff(*VIDEO, "-frames:v", "1", "-c:v", "targa", "-f", "image2"))
image("pgm_16bit", "pgm", lambda out: _picture("L").convert("I;16").save(out, "PPM"))
image("pbm_1bit", "pbm", pil("1", "PPM"))


def _ppm_plain(out: Path) -> None:
    img = _picture()
    rows = (
        " ".join(f"{r} {g} {b}" for r, g, b in (img.getpixel((x, y)) for x in range(W))) for y in range(H)
    )
    out.write_text(f"P3\n# plain PPM\n{W} {H}\n255\n" + "\n".join(rows) + "\n")


def _ppm_two_images(out: Path) -> None:
    first, second = io.BytesIO(), io.BytesIO()
    _picture().save(first, "PPM")
    _picture(seed=1).save(second, "PPM")
    out.write_bytes(first.getvalue() + second.getvalue())


image("ppm_plain", "ppm", _ppm_plain)
image("ppm_two_images", "ppm", _ppm_two_images)

# ---------------------------------------------------------------------------------------------------------
# More FFmpeg layouts: professional and camcorder codecs, unusual audio-in-video, muxer options.

video("avi_dv_pal", "avi", "-vf", "scale=720:576", "-frames:v", "3", "-c:v", "dvvideo", "-pix_fmt", "yuv420p")
video(
    "mov_dv_ntsc",
    "mov",
    "-vf",
    "scale=720:480",
    "-r",
    "30000/1001",
    "-frames:v",
    "3",
    "-c:v",
    "dvvideo",
    "-pix_fmt",
    "yuv411p",
)
video("mp4_h264_lossless_444", "mp4", *X264, "-qp", "0", "-pix_fmt", "yuv444p")
video("mov_h264_422_10bit", "mov", *X264, "-pix_fmt", "yuv422p10le")
video("mp4_h264_slices", "mp4", *X264, "-x264-params", "slices=4:bframes=2:b-pyramid=normal")
video("mkv_hevc_444", "mkv", "-c:v", "libx265", "-pix_fmt", "yuv444p", "-x265-params", "log-level=none")
video(
    "webm_vp9_10bit",
    "webm",
    "-c:v",
    "libvpx-vp9",
    "-pix_fmt",
    "yuv420p10le",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
)
video(
    "mp4_av1_10bit",
    "mp4",
    "-c:v",
    "libsvtav1",
    "-preset",
    "12",
    "-pix_fmt",
    "yuv420p10le",
    "-svtav1-params",
    "lp=1",
)
video("mpg_mpeg2_422", "mpg", "-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-f", "mpeg")
video("avi_mpeg4_qpel_gmc", "avi", "-c:v", "mpeg4", "-flags", "+qpel+mv4", "-bf", "1")
av_video("mkv_truehd", "mkv", *X264, "-c:a", "truehd", "-strict", "-2", "-ar", "48000")
av_video("mkv_dts", "mkv", *X264, "-c:a", "dca", "-strict", "-2", "-ar", "48000")
av_video("ts_dts", "ts", "-c:v", "mpeg2video", "-c:a", "dca", "-strict", "-2", "-ar", "48000")
av_video("mp4_opus", "mp4", *X264, "-c:a", "libopus")
av_video("mp4_flac", "mp4", *X264, "-c:a", "flac")
av_video("mov_alac", "mov", *X264, "-c:a", "alac")
av_video("mov_pcm_s16be", "mov", *X264, "-c:a", "pcm_s16be")
av_video("mp4_eac3", "mp4", *X264, "-c:a", "eac3")
av_video("mp4_negative_cts", "mp4", *X264, "-bf", "3", "-c:a", "aac", "-movflags", "+negative_cts_offsets")
av_video(
    "mp4_frag_separate_moof",
    "mp4",
    *X264,
    "-c:a",
    "aac",
    "-movflags",
    "+frag_keyframe+empty_moov+separate_moof+omit_tfhd_offset",
)
av_video(
    "mp4_frag_every_frame",
    "mp4",
    *X264,
    "-c:a",
    "aac",
    "-frag_duration",
    "100000",
    "-movflags",
    "+empty_moov+default_base_moof",
)
av_video("ts_cbr_muxrate", "ts", *X264, "-c:a", "aac", "-muxrate", "2000000")
av_video(
    "mkv_cues_to_front", "mkv", *X264, "-c:a", "aac", "-cues_to_front", "1", "-reserve_index_space", "1024"
)
av_video("mkv_no_crc32", "mkv", *X264, "-c:a", "aac", "-write_crc32", "0")
case("flv_audio_only", "flv", "audio", _ff(*audio(), "-c:a", "libmp3lame"))
av_video("3g2_h264_aac", "3g2", *X264, "-c:a", "aac", "-f", "3g2")
av_video("f4v_h264_aac", "f4v", *X264, "-c:a", "aac", "-f", "f4v")
sound("mp4_ac3_audio_only", "m4a", "-c:a", "ac3", "-f", "mp4")


# ---------------------------------------------------------------------------------------------------------
# Files written by other programs than FFmpeg and Pillow (skipped where the program is not installed).


def _program(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise Unavailable(f"{name} is not installed")
    return exe


def run(*cmd: str) -> None:
    """Run a helper program; raise with its output on failure."""
    proc = subprocess.run([_program(cmd[0]), *cmd[1:]], capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {(proc.stdout + proc.stderr).decode(errors='replace')[-800:]}")


def _wav_source(out: Path, *extra: str, rate: int = 44100) -> None:
    ffmpeg(out, *audio(rate), "-c:a", "pcm_s16le", *extra)


def _via(make_source: Callable[[Path], None], src_ext: str, *cmd: str) -> Callable[[Path], None]:
    """Build a source file, then run ``cmd`` with ``{src}`` and ``{out}`` replaced."""

    def build(out: Path) -> None:
        _program(cmd[0])
        src = out.with_name(out.stem + ".src." + src_ext)
        make_source(src)
        cover = out.with_name(out.stem + ".cover.jpg")
        cover.write_bytes(_cover_jpeg())
        try:
            run(*(a.format(src=src, out=out, cover=cover) for a in cmd))
        finally:
            src.unlink(missing_ok=True)
            cover.unlink(missing_ok=True)

    return build


def _edit(make_source: Callable[[Path], None], *cmd: str) -> Callable[[Path], None]:
    """Build the file, then edit it in place with ``cmd`` (``{out}`` replaced)."""

    def build(out: Path) -> None:
        _program(cmd[0])
        make_source(out)
        run(*(a.format(out=out) for a in cmd))

    return build


_MP4_SRC = _ff(*VIDEO, *audio(), *X264, "-c:a", "aac")
_JPEG_SRC = pil("RGB", "JPEG", exif=b"")
case("mkvmerge_h264_aac", "mkv", "video", _via(_MP4_SRC, "mp4", "mkvmerge", "-q", "-o", "{out}", "{src}"))
case(
    "mkvmerge_webm",
    "webm",
    "video",
    _via(
        _ff(*VIDEO, *audio(), "-c:v", "libvpx", "-c:a", "libopus"),
        "webm",
        "mkvmerge",
        "-q",
        "--webm",
        "-o",
        "{out}",
        "{src}",
    ),
)
case(
    "mkvmerge_mp3_attachment_chapters",
    "mka",
    "audio",
    _via(
        _ff(*audio(), "-c:a", "libmp3lame"),
        "mp3",
        "mkvmerge",
        "-q",
        "--attachment-mime-type",
        "image/jpeg",
        "--attach-file",
        "{cover}",
        "--generate-chapters",
        "interval:00:00:00.500",
        "-o",
        "{out}",
        "{src}",
    ),
)
case(
    "mkvmerge_no_cues_no_lacing",
    "mkv",
    "video",
    _via(_MP4_SRC, "mp4", "mkvmerge", "-q", "--no-cues", "--disable-lacing", "-o", "{out}", "{src}"),
)
sound_src = _ff(*audio(), "-c:a", "pcm_s16le")
case(
    "lame_vbr_id3v2_id3v1",
    "mp3",
    "audio",
    _via(
        sound_src,
        "wav",
        "lame",
        "--quiet",
        "-V2",
        "--add-id3v2",
        "--tt",
        "Title",
        "--ta",
        "Artist",
        "--ti",
        "{cover}",
        "{src}",
        "{out}",
    ),
)
case(
    "lame_cbr_32k_mpeg2",
    "mp3",
    "audio",
    _via(sound_src, "wav", "lame", "--quiet", "-b", "32", "--resample", "22.05", "-m", "m", "{src}", "{out}"),
)
case(
    "lame_abr_nogap",
    "mp3",
    "audio",
    _via(sound_src, "wav", "lame", "--quiet", "--abr", "96", "--id3v1-only", "--tt", "x", "{src}", "{out}"),
)
case(
    "oggenc_q3_comments",
    "ogg",
    "audio",
    _via(
        sound_src,
        "wav",
        "oggenc",
        "-Q",
        "-q",
        "3",
        "-c",
        "ARTIST=Someone",
        "-c",
        "TITLE=" + "long " * 200,
        "-o",
        "{out}",
        "{src}",
    ),
)
case(
    "opusenc_picture",
    "opus",
    "audio",
    _via(sound_src, "wav", "opusenc", "--quiet", "--picture", "{cover}", "--artist", "A", "{src}", "{out}"),
)
case("sox_aiff_24", "aiff", "audio", _via(sound_src, "wav", "sox", "{src}", "-b", "24", "{out}"))
case(
    "sox_aifc_float", "aifc", "audio", _via(sound_src, "wav", "sox", "{src}", "-e", "floating-point", "{out}")
)
case("sox_wav_u8", "wav", "audio", _via(sound_src, "wav", "sox", "{src}", "-b", "8", "{out}"))
case("sox_wav_ima_adpcm", "wav", "audio", _via(sound_src, "wav", "sox", "{src}", "-e", "ima-adpcm", "{out}"))
case("sox_wav_24_extensible", "wav", "audio", _via(sound_src, "wav", "sox", "{src}", "-b", "24", "{out}"))
case("sox_flac", "flac", "audio", _via(sound_src, "wav", "sox", "{src}", "-b", "16", "{out}"))
case("wavpack_cli", "wv", "audio", _via(sound_src, "wav", "wavpack", "-q", "-y", "{src}", "-o", "{out}"))
case(
    "wavpack_cli_hybrid_lossy",
    "wv",
    "audio",
    _via(sound_src, "wav", "wavpack", "-q", "-y", "-b256", "{src}", "-o", "{out}"),
)


def _flac_tagged(prefix: bytes, suffix: bytes) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        _flac_cli()(out)
        out.write_bytes(prefix + out.read_bytes() + suffix)

    return build


def _id3v2(title: bytes = b"Song") -> bytes:
    frame = b"TIT2" + struct.pack(">I", len(title) + 1) + b"\x00\x00" + b"\x00" + title
    body = frame + bytes(100)  # padding
    size = len(body)
    syncsafe = bytes(((size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F))
    return b"ID3\x03\x00\x00" + syncsafe + body


ID3V1 = (
    b"TAG"
    + b"Title".ljust(30, b"\x00")
    + b"Artist".ljust(30, b"\x00")
    + bytes(30)
    + b"2020"
    + bytes(30)
    + b"\x0c"
)
case("flac_cli_id3v2_prefixed", "flac", "audio", _flac_tagged(_id3v2(), b""))
case(
    "flac_metaflac_cuesheet_seekpoints",
    "flac",
    "audio",
    _edit(_flac_cli(), "metaflac", "--add-seekpoint=10x", "--set-tag=ARTIST=x", "--add-padding=300", "{out}"),
)
case(
    "flac_cli_8bit_mono",
    "flac",
    "audio",
    _via(_ff(*audio(8000), "-ac", "1", "-c:a", "pcm_u8"), "wav", "flac", "-s", "-f", "-o", "{out}", "{src}"),
)


def _mp3_tagged(prefix: bytes, suffix: bytes) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        ffmpeg(out, *audio(), *MP3, "-id3v2_version", "0", "-write_xing", "1")
        out.write_bytes(prefix + out.read_bytes() + suffix)

    return build


def _ape_tag() -> bytes:
    item = struct.pack("<II", 5, 0) + b"Title\x00" + b"Hello"
    footer = lambda flags: b"APETAGEX" + struct.pack("<IIII", 2000, len(item) + 32, 1, flags) + bytes(8)  # noqa: E731
    return footer(0xA0000000) + item + footer(0x80000000)


case("mp3_apev2_id3v1", "mp3", "audio", _mp3_tagged(_id3v2(), _ape_tag() + ID3V1))
case("mp3_two_id3v2_tags", "mp3", "audio", _mp3_tagged(_id3v2(b"one") + _id3v2(b"two"), b""))

image(
    "cjpeg_arithmetic",
    "jpg",
    _via(pil("RGB", "PPM"), "ppm", "cjpeg", "-arithmetic", "-outfile", "{out}", "{src}"),
)
image(
    "cjpeg_restart_rows_444",
    "jpg",
    _via(pil("RGB", "PPM"), "ppm", "cjpeg", "-restart", "1", "-sample", "1x1", "-outfile", "{out}", "{src}"),
)
image(
    "cjpeg_progressive_smooth",
    "jpg",
    _via(pil("RGB", "PPM"), "ppm", "cjpeg", "-progressive", "-smooth", "10", "-outfile", "{out}", "{src}"),
)
image(
    "jpegtran_rotate_copy_all",
    "jpg",
    _via(_jpg_trailer(b""), "jpg", "jpegtran", "-rotate", "90", "-copy", "all", "-outfile", "{out}", "{src}"),
)
image(
    "exiftool_jpeg",
    "jpg",
    _edit(
        pil("RGB", "JPEG"),
        "exiftool",
        "-q",
        "-overwrite_original",
        "-Artist=Me",
        "-XMP:Title=T",
        "-IPTC:Keywords=k",
        "-ThumbnailImage<=" + "/dev/null",
        "{out}",
    ),
)
image(
    "exiftool_png",
    "png",
    _edit(pil("RGB", "PNG"), "exiftool", "-q", "-overwrite_original", "-Artist=Me", "-XMP:Title=T", "{out}"),
)
image(
    "exiftool_tiff",
    "tiff",
    _edit(pil("RGB", "TIFF"), "exiftool", "-q", "-overwrite_original", "-Artist=Me", "-XMP:Title=T", "{out}"),
)
image(
    "exiftool_webp",
    "webp",
    _edit(pil("RGB", "WEBP"), "exiftool", "-q", "-overwrite_original", "-Artist=Me", "-XMP:Title=T", "{out}"),
)
image(
    "exiftool_gif",
    "gif",
    _edit(_gif_anim, "exiftool", "-q", "-overwrite_original", "-XMP:Title=T", "-Comment=hello", "{out}"),
)
case(
    "exiftool_mp4",
    "mp4",
    "video",
    _edit(_MP4_SRC, "exiftool", "-q", "-overwrite_original", "-Title=T", "-XMP:Creator=Me", "{out}"),
)
case(
    "exiftool_mov",
    "mov",
    "video",
    _edit(
        _ff(*VIDEO, *audio(), *X264, "-c:a", "aac", "-f", "mov"),
        "exiftool",
        "-q",
        "-overwrite_original",
        "-Title=T",
        "-Keys:Artist=Me",
        "{out}",
    ),
)
case(
    "exiftool_m4a",
    "m4a",
    "audio",
    _edit(_ff(*audio(), "-c:a", "aac"), "exiftool", "-q", "-overwrite_original", "-Title=T", "{out}"),
)
image(
    "tiffcp_tiled_predictor",
    "tif",
    _via(pil("RGB", "TIFF"), "tif", "tiffcp", "-t", "-w", "32", "-l", "32", "-c", "lzw:2", "{src}", "{out}"),
)
image(
    "tiffcp_big_endian_zip",
    "tif",
    _via(pil("RGB", "TIFF"), "tif", "tiffcp", "-B", "-c", "zip", "{src}", "{out}"),
)
image(
    "tiffcp_planar_separate",
    "tif",
    _via(pil("RGB", "TIFF"), "tif", "tiffcp", "-p", "separate", "{src}", "{out}"),
)
image(
    "tiffcp_bigtiff_zip",
    "tif",
    _via(pil("RGB", "TIFF"), "tif", "tiffcp", "-8", "-c", "zip", "{src}", "{out}"),
)
image("tiffcp_g4_bilevel", "tif", _via(pil("1", "TIFF"), "tif", "tiffcp", "-c", "g4", "{src}", "{out}"))
image(
    "cwebp_lossy_metadata",
    "webp",
    _via(
        lambda p: _picture().save(p, "JPEG", exif=_exif(), icc_profile=_icc()),
        "jpg",
        "cwebp",
        "-quiet",
        "-metadata",
        "all",
        "{src}",
        "-o",
        "{out}",
    ),
)
image(
    "cwebp_lossless_exact_alpha",
    "webp",
    _via(pil("RGBA", "PNG"), "png", "cwebp", "-quiet", "-lossless", "-exact", "{src}", "-o", "{out}"),
)
image(
    "gif2webp_animated",
    "webp",
    _via(_gif_anim, "gif", "gif2webp", "-quiet", "-mixed", "{src}", "-o", "{out}"),
)
image(
    "gifsicle_optimized",
    "gif",
    _via(_gif_anim, "gif", "gifsicle", "-O3", "--colors", "32", "{src}", "-o", "{out}"),
)
image(
    "gifsicle_interlaced_comment",
    "gif",
    _via(_gif_anim, "gif", "gifsicle", "--interlace", "--comment", "hello", "{src}", "-o", "{out}"),
)
image(
    "optipng_interlaced",
    "png",
    _via(pil("RGB", "PNG"), "png", "optipng", "-quiet", "-i", "1", "-out", "{out}", "{src}"),
)
image(
    "optipng_reduced",
    "png",
    _via(pil("P", "PNG"), "png", "optipng", "-quiet", "-o2", "-out", "{out}", "{src}"),
)

# ---------------------------------------------------------------------------------------------------------
# Streams written to a pipe (recorders, capture tools): the muxer cannot seek back to finalise headers.


def _ff_pipe(fmt: str, *args: str) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        cmd = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", *args, "-threads", "1", "-f", fmt, "pipe:1"]
        proc = subprocess.run(cmd, capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed for {out.name}: {proc.stderr.decode(errors='replace')[-800:]}")
        out.write_bytes(proc.stdout)

    return build


case(
    "pipe_wav",
    "wav",
    "audio",
    _ff_pipe("wav", *audio(), "-c:a", "pcm_s16le"),
    allowed=("header_not_finalized", "demuxer_warning"),
)
case("pipe_flac", "flac", "audio", _ff_pipe("flac", *audio(), "-c:a", "flac"))
case("pipe_mp3", "mp3", "audio", _ff_pipe("mp3", *audio(), *MP3))
case("pipe_mkv", "mkv", "video", _ff_pipe("matroska", *VIDEO, *audio(), *X264, "-c:a", "aac"))
case("pipe_webm", "webm", "video", _ff_pipe("webm", *VIDEO, "-c:v", "libvpx", "-b:v", "200k"))
case("pipe_flv", "flv", "video", _ff_pipe("flv", *VIDEO, *audio(), *X264, "-c:a", "aac"))
case(
    "pipe_mp4_fragmented",
    "mp4",
    "video",
    _ff_pipe("mp4", *VIDEO, *audio(), *X264, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov"),
)
case("pipe_ts", "ts", "video", _ff_pipe("mpegts", *VIDEO, *audio(), *X264, "-c:a", "aac"))

# ---------------------------------------------------------------------------------------------------------
# Streams of different lengths, late starts and timestamp oddities.

LONG_AUDIO = audio(seconds=2.0)
case("mkv_audio_longer_than_video", "mkv", "video", _ff(*VIDEO, *LONG_AUDIO, *X264, "-c:a", "libopus"))
case("mp4_audio_longer_than_video", "mp4", "video", _ff(*VIDEO, *LONG_AUDIO, *X264, "-c:a", "aac"))
case(
    "mp4_audio_shorter_than_video",
    "mp4",
    "video",
    _ff(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={W}x{H}:rate=25:duration=2",
        *audio(seconds=0.4),
        *X264,
        "-c:a",
        "aac",
    ),
)
case(
    "mkv_audio_shorter_than_video",
    "mkv",
    "video",
    _ff(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={W}x{H}:rate=25:duration=2",
        *audio(seconds=0.4),
        *X264,
        "-c:a",
        "libvorbis",
    ),
)
case(
    "avi_audio_shorter_than_video",
    "avi",
    "video",
    _ff(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={W}x{H}:rate=25:duration=2",
        *audio(seconds=0.4),
        "-c:v",
        "mpeg4",
        "-c:a",
        "libmp3lame",
    ),
)
case(
    "mp4_audio_delayed",
    "mp4",
    "video",
    _ff(*VIDEO, "-itsoffset", "0.5", *audio(), "-map", "0:v", "-map", "1:a", *X264, "-c:a", "aac"),
)
case(
    "mkv_video_delayed",
    "mkv",
    "video",
    _ff("-itsoffset", "0.6", *VIDEO, *audio(), "-map", "0:v", "-map", "1:a", *X264, "-c:a", "aac"),
)
case(
    "ts_timestamp_wrap",
    "ts",
    "video",
    _ff(*VIDEO, *audio(), *X264, "-c:a", "aac", "-output_ts_offset", "95443.2"),
)
case(
    "ts_late_start",
    "ts",
    "video",
    _ff(*VIDEO, *audio(), "-c:v", "mpeg2video", "-c:a", "mp2", "-output_ts_offset", "36000"),
)
case("mkv_late_subtitle", "mkv", "video", lambda out: _late_subtitle(out, "srt"))
case("mp4_late_subtitle", "mp4", "video", lambda out: _late_subtitle(out, "mov_text"))


def _late_subtitle(out: Path, codec: str) -> None:
    """A 1 s video whose last subtitle shows at 5 s (subtitles often outlast the picture)."""
    srt = out.with_suffix(".srt")
    srt.write_text(SRT + "3\n00:00:05,000 --> 00:00:06,000\nThe end\n")
    ffmpeg(out, *VIDEO, "-i", str(srt), "-map", "0", "-map", "1", *X264, "-c:s", codec)
    srt.unlink()


def _chained(encode: Callable[[Path, int], None]) -> Callable[[Path], None]:
    """Two complete Ogg streams back to back (a chained Ogg file, as internet radio rips are)."""

    def build(out: Path) -> None:
        parts = []
        for i in (1, 2):
            part = out.with_name(f"{out.stem}.part{i}{out.suffix}")
            encode(part, i)
            parts.append(part.read_bytes())
            part.unlink()
        out.write_bytes(b"".join(parts))

    return build


case(
    "ogg_vorbis_chained",
    "ogg",
    "audio",
    _chained(lambda p, i: ffmpeg(p, *audio(freq=300 * i), "-c:a", "libvorbis", "-f", "ogg")),
)
case(
    "opus_chained",
    "opus",
    "audio",
    _chained(lambda p, i: ffmpeg(p, *audio(48000, freq=300 * i), "-c:a", "libopus", "-f", "ogg")),
)


def _flac_unset_md5_and_length(out: Path) -> None:
    """STREAMINFO with MD5 and total samples left 0 ("unknown"), as streaming encoders leave them."""
    _flac_cli()(out)
    data = bytearray(out.read_bytes())
    si = 8  # fLaC + block header
    data[si + 13] &= 0xF0  # total samples: low 4 bits of byte 13 and bytes 14..17
    data[si + 14 : si + 18] = bytes(4)
    data[si + 18 : si + 34] = bytes(16)
    out.write_bytes(bytes(data))


case("flac_unset_md5_and_length", "flac", "audio", _flac_unset_md5_and_length)

# Mid-size files (~3 MB): past the first/last-megabyte windows of the MPEG-TS/PS walks.
MIDSIZE = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2"]
NOISY = ("-vf", "noise=alls=40:allf=t")
case(
    "ts_midsize_mpeg2",
    "ts",
    "video",
    _ff(*MIDSIZE, *audio(seconds=2), *NOISY, "-c:v", "mpeg2video", "-q:v", "2", "-c:a", "mp2"),
)
case(
    "mpg_midsize_mpeg2",
    "mpg",
    "video",
    _ff(*MIDSIZE, *audio(seconds=2), *NOISY, "-c:v", "mpeg2video", "-q:v", "2", "-c:a", "mp2", "-f", "vob"),
)


# ---------------------------------------------------------------------------------------------------------
# Layouts seen in real files on disk (Python's idlelib icons, SciPy's test WAVs).


def _gif_without_trailer(out: Path) -> None:
    """A complete single-image GIF87a without the trailer byte, as old encoders wrote them."""
    buf = io.BytesIO()
    _picture("P").save(buf, "GIF")
    out.write_bytes(buf.getvalue()[:-1])


def _wav_rifx(out: Path) -> None:
    """A big-endian ("RIFX") 16-bit stereo WAV."""
    frames = 8000
    pcm = b"".join(
        struct.pack(">hh", (i * 97) % 20000 - 10000, (i * 53) % 16000 - 8000) for i in range(frames)
    )
    fmt = struct.pack(">HHIIHH", 1, 2, 8000, 8000 * 4, 4, 16)
    body = b"WAVE" + b"fmt " + struct.pack(">I", len(fmt)) + fmt + b"data" + struct.pack(">I", len(pcm)) + pcm
    out.write_bytes(b"RIFX" + struct.pack(">I", len(body)) + body)


image("gif_without_trailer", "gif", _gif_without_trailer, allowed=("missing_trailer",))
case("wav_rifx_big_endian", "wav", "audio", _wav_rifx)


# ---------------------------------------------------------------------------------------------------------
# Extremes: very short media, single frames, tiny and odd-sized pictures, silence, many channels.


def _short(seconds: float, rate: int = 44100) -> list[str]:
    return audio(rate, seconds)


sound_short = [
    ("aac", "m4a", ("-c:a", "aac")),
    ("mp3", "mp3", MP3),
    ("vorbis", "ogg", ("-c:a", "libvorbis")),
    ("flac", "flac", ("-c:a", "flac")),
    ("alac", "m4a", ("-c:a", "alac")),
    ("ac3", "ac3", ("-c:a", "ac3")),
    ("wma", "wma", ("-c:a", "wmav2")),
    ("pcm", "wav", ("-c:a", "pcm_s16le")),
]
# FFmpeg probes tiny MP3/AC-3 files "with low score"; a 10 ms ADTS file it cannot open at all (not listed).
_PROBE_WARNINGS = {"mp3": ("demuxer_warning",), "ac3": ("decoder_warning",)}
for label, ext, args in sound_short:
    case(
        f"short_10ms_{label}", ext, "audio", _ff(*_short(0.01, 48000), *args), _PROBE_WARNINGS.get(label, ())
    )
case("short_5ms_opus", "opus", "audio", _ff(*_short(0.005, 48000), "-c:a", "libopus"))
case(
    "silence_flac",
    "flac",
    "audio",
    _ff("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "1", "-c:a", "flac"),
)
case("silence_mp3", "mp3", "audio", _ff("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "1", *MP3))
case(
    "silence_aac",
    "m4a",
    "audio",
    _ff("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "1", "-c:a", "aac"),
)
case(
    "flac_8ch_192k",
    "flac",
    "audio",
    _ff(
        *audio(192000, 0.3), "-af", "pan=7.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1|c6=c0|c7=c1", "-c:a", "flac"
    ),
)
case(
    "aac_6ch",
    "m4a",
    "audio",
    _ff(*audio(48000), "-af", "pan=5.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1", "-c:a", "aac"),
)
case(
    "opus_6ch",
    "opus",
    "audio",
    _ff(
        *audio(48000),
        "-af",
        "pan=5.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1",
        "-c:a",
        "libopus",
        "-mapping_family",
        "1",
    ),
)
case("wav_192k_24bit", "wav", "audio", _ff(*audio(192000, 0.3), "-c:a", "pcm_s24le"))
case(
    "wav_one_sample",
    "wav",
    "audio",
    _ff(*audio(8000, 0.01), "-af", "atrim=end_sample=1", "-c:a", "pcm_s16le"),
)

ODD = ["-f", "lavfi", "-i", "testsrc2=size=100x76:rate=25:duration=1"]
case("mp4_h264_odd_size", "mp4", "video", _ff(*ODD, *X264))
case("avi_mpeg4_odd_size", "avi", "video", _ff(*ODD, "-c:v", "mpeg4"))
case(
    "webm_vp8_odd_size",
    "webm",
    "video",
    _ff("-f", "lavfi", "-i", "testsrc2=size=101x77:rate=25:duration=1", "-c:v", "libvpx"),
)
case(
    "mkv_hevc_two_frames",
    "mkv",
    "video",
    _ff(*VIDEO, "-frames:v", "2", "-c:v", "libx265", "-x265-params", "log-level=none"),
)
case(
    "mp4_av1_one_frame",
    "mp4",
    "video",
    _ff(*VIDEO, "-frames:v", "1", "-c:v", "libsvtav1", "-svtav1-params", "lp=1"),
)
case(
    "mpg_mpeg2_one_frame",
    "mpg",
    "video",
    _ff(*VIDEO, "-frames:v", "1", "-c:v", "mpeg2video", "-f", "mpeg"),
    allowed=("demuxer_warning",),  # "no TS found at start of file, duration not set": one frame has no span
)
case("ogv_theora_one_frame", "ogv", "video", _ff(*VIDEO, "-frames:v", "1", "-c:v", "libtheora"))
case("mov_prores_one_frame", "mov", "video", _ff(*VIDEO, "-frames:v", "1", "-c:v", "prores_ks"))
case("ts_h264_one_frame", "ts", "video", _ff(*VIDEO, "-frames:v", "1", *X264))


def _tiny(size: tuple[int, int], mode: str, fmt: str, **kw: object) -> Callable[[Path], None]:
    return lambda out: _picture(mode, size=size).save(out, fmt, **kw)


for w, h in ((1, 1), (33, 17)):
    tag = f"{w}x{h}"
    image(f"jpg_{tag}", "jpg", _tiny((w, h), "RGB", "JPEG"))
    image(f"jpg_progressive_{tag}", "jpg", _tiny((w, h), "RGB", "JPEG", progressive=True))
    image(f"png_{tag}", "png", _tiny((w, h), "RGB", "PNG"))
    image(f"png_palette_{tag}", "png", _tiny((w, h), "P", "PNG"))
    image(f"gif_{tag}", "gif", _tiny((w, h), "P", "GIF"))
    image(f"bmp_{tag}", "bmp", _tiny((w, h), "RGB", "BMP"))
    image(f"tiff_{tag}", "tiff", _tiny((w, h), "RGB", "TIFF", compression="tiff_lzw"))
    image(f"webp_{tag}", "webp", _tiny((w, h), "RGB", "WEBP"))
    image(f"webp_lossless_{tag}", "webp", _tiny((w, h), "RGBA", "WEBP", lossless=True))
    image(f"ico_{tag}", "ico", _tiny((w, h), "RGBA", "ICO", sizes=[(w, h)]))
    image(f"avif_{tag}", "avif", _heif_sized("AVIF", (w, h)))
    image(f"heic_{tag}", "heic", _heif_sized("HEIF", (w, h)))
image("jpg_1920x1080", "jpg", _tiny((1920, 1080), "RGB", "JPEG", quality=85))
image("png_1x2000", "png", _tiny((1, 2000), "RGB", "PNG"))


# ---------------------------------------------------------------------------------------------------------
# Encoder features that change the stream's shape: intra refresh (no keyframe at all), hidden alt-ref
# frames, film grain, still pictures, other encoders of the same codec, intermediate and old codecs.

video("mp4_h264_intra_refresh", "mp4", *X264, "-x264-params", "intra-refresh=1:keyint=10:bframes=0")
video(
    "ts_h264_zerolatency_aud_filler",
    "ts",
    *X264,
    "-tune",
    "zerolatency",
    "-x264-params",
    "aud=1:nal-hrd=cbr:force-cfr=1",
    "-b:v",
    "300k",
    "-maxrate",
    "300k",
    "-bufsize",
    "100k",
)
video("mp4_h264_cavlc_avc3", "mp4", *X264, "-x264-params", "cabac=0", "-tag:v", "avc3")
video("mp4_openh264", "mp4", "-c:v", "libopenh264")
video(
    "webm_vp9_altref",
    "webm",
    "-c:v",
    "libvpx-vp9",
    "-auto-alt-ref",
    "1",
    "-lag-in-frames",
    "16",
    "-b:v",
    "200k",
    "-deadline",
    "good",
    "-cpu-used",
    "8",
)
video(
    "webm_vp8_altref", "webm", "-c:v", "libvpx", "-auto-alt-ref", "1", "-lag-in-frames", "16", "-b:v", "200k"
)
video(
    "webm_vp9_lossless_444",
    "webm",
    "-c:v",
    "libvpx-vp9",
    "-lossless",
    "1",
    "-pix_fmt",
    "yuv444p",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
)
video(
    "mkv_av1_film_grain", "mkv", "-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "lp=1:film-grain=8"
)
video(
    "mp4_av1_aom_still",
    "mp4",
    "-frames:v",
    "1",
    "-c:v",
    "libaom-av1",
    "-still-picture",
    "1",
    "-cpu-used",
    "8",
)
video("mkv_av1_rav1e", "mkv", "-c:v", "librav1e", "-speed", "10")
video("mp4_hevc_kvazaar", "mp4", "-c:v", "libkvazaar", "-kvazaar-params", "preset=ultrafast:threads=0")
video(
    "mp4_hevc_hev1_open_gop",
    "mp4",
    "-c:v",
    "libx265",
    "-tag:v",
    "hev1",
    "-x265-params",
    "log-level=none:open-gop=1:keyint=8:bframes=4",
)
video("mp4_vvc", "mp4", "-frames:v", "3", "-c:v", "libvvenc", "-preset", "faster")
video("avi_rawvideo_bgr24", "avi", "-frames:v", "5", "-c:v", "rawvideo", "-pix_fmt", "bgr24")
video("mov_rawvideo_uyvy", "mov", "-frames:v", "5", "-c:v", "rawvideo", "-pix_fmt", "uyvy422")
video("mkv_rawvideo_yuv420", "mkv", "-frames:v", "5", "-c:v", "rawvideo", "-pix_fmt", "yuv420p")
video("avi_cinepak", "avi", "-c:v", "cinepak")
video("avi_msvideo1", "avi", "-c:v", "msvideo1")
video("avi_zmbv", "avi", "-c:v", "zmbv")
video("mov_svq1", "mov", "-c:v", "svq1")
video("avi_magicyuv", "avi", "-c:v", "magicyuv")
video("mov_jpeg2000", "mov", "-frames:v", "3", "-c:v", "jpeg2000")
video(
    "mov_dnxhr_lb",
    "mov",
    "-frames:v",
    "3",
    "-vf",
    "scale=256:144",
    "-c:v",
    "dnxhd",
    "-profile:v",
    "dnxhr_lb",
    "-pix_fmt",
    "yuv422p",
)
video("mov_cineform", "mov", "-frames:v", "3", "-c:v", "cfhd")
video("mov_hap", "mov", "-frames:v", "3", "-c:v", "hap")
video("mkv_ffv1_v1_gop", "mkv", "-c:v", "ffv1", "-level", "1", "-g", "10", "-coder", "1", "-context", "1")
video("avi_h264_bframes", "avi", *X264, "-bf", "2")
video("mp4_two_video_tracks", "mp4", *VIDEO, "-map", "0:v", "-map", "1:v", *X264)
av_video("mp4_rtphint", "mp4", *X264, "-c:a", "aac", "-movflags", "+rtphint")
av_video(
    "mp4_cmaf", "mp4", *X264, "-c:a", "aac", "-movflags", "+cmaf+frag_keyframe+empty_moov+default_base_moof"
)
av_video("mp4_psp", "mp4", *X264, "-profile:v", "baseline", "-c:a", "aac", "-f", "psp")
case("mpg_vcd", "mpg", "video", _ff(*VIDEO, *audio(), "-target", "pal-vcd"))
case("mpg_svcd", "mpg", "video", _ff(*VIDEO, *audio(), "-target", "pal-svcd"))
case(
    "vob_dvd",
    "vob",
    "video",
    _ff(*VIDEO, *audio(48000), "-target", "pal-dvd", "-t", "0.4"),
    allowed=("demuxer_warning",),  # "start time for stream 0 is not set": 0.4 s of DVD video
)
case(
    "ts_audio_only_mp2",
    "ts",
    "audio",
    _ff(*audio(48000), "-c:a", "mp2", "-mpegts_service_type", "digital_radio"),
)
case("ts_aac_latm", "ts", "video", _ff(*VIDEO, *audio(48000), *X264, "-c:a", "aac", "-mpegts_flags", "+latm"))
case(
    "ts_resend_headers",
    "ts",
    "video",
    _ff(
        *VIDEO,
        *audio(48000),
        *X264,
        "-c:a",
        "aac",
        "-mpegts_flags",
        "+resend_headers+pat_pmt_at_frames",
    ),
)
av_video("flv_nellymoser", "flv", "-c:v", "flv", "-c:a", "nellymoser", "-ar", "22050")
av_video("flv_adpcm_swf", "flv", "-c:v", "flv", "-c:a", "adpcm_swf", "-ar", "22050")
av_video("avi_ac3", "avi", "-c:v", "mpeg4", "-c:a", "ac3")
av_video("mov_adpcm_ima_qt", "mov", *X264, "-c:a", "adpcm_ima_qt")
av_video("mp4_mp2", "mp4", *X264, "-c:a", "mp2")
sound("aiff_id3", "aiff", "-c:a", "pcm_s16be", "-write_id3v2", "1", "-metadata", "title=T")
sound("mp3_id3v24_cover", "mp3", *MP3, "-id3v2_version", "4", "-metadata", "title=T" * 50)
sound("m4a_alac_24bit", "m4a", "-c:a", "alac", "-sample_fmt", "s32p")
sound("flac_level12", "flac", "-c:a", "flac", "-compression_level", "12", "-exact_rice_parameters", "1")
sound(
    "opus_voip_2_5ms", "opus", "-c:a", "libopus", "-application", "voip", "-frame_duration", "2.5", rate=48000
)
sound(
    "opus_60ms_fec",
    "opus",
    "-c:a",
    "libopus",
    "-frame_duration",
    "60",
    "-fec",
    "1",
    "-packet_loss",
    "20",
    rate=48000,
)
sound("ogg_vorbis_q_minus1_mono", "ogg", "-c:a", "libvorbis", "-q:a", "-1", "-ac", "1", rate=22050)
sound("wav_peak_chunk", "wav", "-c:a", "pcm_s16le", "-write_peak", "on")
sound("wv_float", "wv", "-c:a", "wavpack", "-sample_fmt", "fltp")
image(
    "jpg_lossless_ljpeg",
    "jpg",
    _ff(*VIDEO, "-frames:v", "1", "-c:v", "ljpeg", "-pix_fmt", "bgr24", "-f", "image2"),
)
image("jpg_jpegls", "jpg", _ff(*VIDEO, "-frames:v", "1", "-c:v", "jpegls", "-f", "image2"))
image(
    "jpg_411_cjpeg",
    "jpg",
    _via(pil("RGB", "PPM"), "ppm", "cjpeg", "-sample", "4x1", "-outfile", "{out}", "{src}"),
)
image("png_rgba64_ffmpeg", "png", _ff(*VIDEO, "-frames:v", "1", "-pix_fmt", "rgba64be", "-f", "image2"))
image("png_gray2bit", "png", lambda out: _picture("L").point(lambda v: v // 64 * 85).save(out, bits=2))


def _png_odd_chunks(out: Path) -> None:
    """Split IDAT with a zero-length IDAT between, plus private ancillary chunks (all legal)."""
    buf = io.BytesIO()
    _picture().save(buf, "PNG")
    data = buf.getvalue()
    pos, chunks = 8, []
    while pos < len(data):
        n = struct.unpack(">I", data[pos : pos + 4])[0]
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    out_chunks = []
    for cid, body in chunks:
        if cid == b"IDAT":
            half = len(body) // 2
            out_chunks += [
                (b"prVt", b"private"),
                (b"IDAT", body[:half]),
                (b"IDAT", b""),
                (b"IDAT", body[half:]),
            ]
        else:
            out_chunks.append((cid, body))
    out.write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(c, b) for c, b in out_chunks))


image("png_split_idat_private_chunks", "png", _png_odd_chunks)
image(
    "apng_separate_default_image",
    "png",
    lambda out: _picture("RGBA").save(
        out, "PNG", save_all=True, default_image=True, append_images=_frames(3, "RGBA"), duration=100
    ),
)
image("tiff_float32", "tiff", lambda out: _picture("L").convert("F").save(out, "TIFF"))
image(
    "tiffcp_tiled_jpeg_ycbcr",
    "tif",
    _via(pil("RGB", "TIFF"), "tif", "tiffcp", "-t", "-w", "16", "-l", "16", "-c", "jpeg", "{src}", "{out}"),
)
image(
    "tiffcp_rows_per_strip_1", "tif", _via(pil("RGB", "TIFF"), "tif", "tiffcp", "-r", "1", "{src}", "{out}")
)


def _bmp_os2(out: Path) -> None:
    """An OS/2 1.x bitmap (12-byte BITMAPCOREHEADER), 24-bit."""
    img = _picture()
    rows = []
    for y in reversed(range(H)):
        row = b"".join(bytes(reversed(img.getpixel((x, y)))) for x in range(W))
        rows.append(row + bytes(-len(row) % 4))
    pixels = b"".join(rows)
    core = struct.pack("<IHHHH", 12, W, H, 1, 24)
    out.write_bytes(b"BM" + struct.pack("<IHHI", 26 + len(pixels), 0, 0, 26) + core + pixels)


image("bmp_os2_core_header", "bmp", _bmp_os2)


def _heif_variant(**kw: object) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        import pillow_heif

        try:
            if kw.get("multi"):
                heif = pillow_heif.from_pillow(_picture())
                heif.add_from_pillow(_picture(seed=2))
                heif.save(out, quality=60)
            elif kw.get("gray"):
                pillow_heif.from_pillow(_picture("L")).save(out, quality=60)
            elif kw.get("avif_anim"):
                first, *rest = _frames(3, "RGBA")
                first.save(out, "AVIF", save_all=True, append_images=rest, duration=100, quality=60)
        except Exception as exc:  # no encoder for it here
            raise Unavailable(str(exc)) from exc

    return build


image("heic_two_images", "heic", _heif_variant(multi=True))
image("heic_gray", "heic", _heif_variant(gray=True))
image("avif_animated_alpha", "avif", _heif_variant(avif_anim=True))
image(
    "avif_ffmpeg_sequence",
    "avif",
    _ff(*VIDEO, "-frames:v", "5", "-c:v", "libaom-av1", "-cpu-used", "8", "-f", "avif"),
)


# ---------------------------------------------------------------------------------------------------------
# ImageMagick's writers (skipped where it is not installed).


def _magick(*args: str) -> Callable[[Path], None]:
    return _via(pil("RGB", "PNG"), "png", "convert", "{src}", *args)


image("im_bmp3_rle8", "bmp", _magick("-colors", "200", "-type", "Palette", "-compress", "RLE", "BMP3:{out}"))
image("im_bmp_rle4", "bmp", _magick("-colors", "16", "-type", "Palette", "-compress", "RLE", "BMP3:{out}"))
image("im_bmp_v5", "bmp", _magick("-alpha", "on", "BMP:{out}"))
image("im_bmp2", "bmp", _magick("BMP2:{out}"))
image("im_tga_rle", "tga", _magick("-compress", "RLE", "{out}"))
image("im_tga_palette", "tga", _magick("-colors", "64", "-type", "Palette", "{out}"))
image("im_ico", "ico", _magick("-define", "icon:auto-resize=48,32,16", "{out}"))
image("im_ppm_plain", "ppm", _magick("-compress", "none", "{out}"))
image("im_pgm_16bit", "pgm", _magick("-depth", "16", "{out}"))
image("im_pbm", "pbm", _magick("-monochrome", "{out}"))
image("im_tiff_zip_predictor", "tiff", _magick("-compress", "Zip", "-define", "tiff:predictor=2", "{out}"))
image(
    "im_tiff_jpeg_tiled", "tiff", _magick("-compress", "JPEG", "-define", "tiff:tile-geometry=32x32", "{out}")
)
image("im_tiff_msb_lzw", "tiff", _magick("-compress", "LZW", "-endian", "MSB", "{out}"))
image("im_tiff_group4", "tiff", _magick("-monochrome", "-compress", "Group4", "{out}"))
image("im_gif_interlaced", "gif", _magick("-interlace", "GIF", "{out}"))
image("im_png8", "png", _magick("PNG8:{out}"))
image("im_png48_interlaced", "png", _magick("-depth", "16", "-interlace", "PNG", "PNG48:{out}"))
image("im_jpeg_plane_interlace", "jpg", _magick("-interlace", "Plane", "-sampling-factor", "2x1", "{out}"))
image(
    "im_jpeg_gray_arith",
    "jpg",
    _magick("-colorspace", "Gray", "-define", "jpeg:arithmetic-coding=true", "{out}"),
)
image("im_webp_lossless", "webp", _magick("-define", "webp:lossless=true", "{out}"))

BY_NAME: dict[str, Case] = {c.name: c for c in CASES}

# ---------------------------------------------------------------------------------------------------------
# Damage and reference verdicts.


def damage(data: bytes, how: str, rng: random.Random) -> bytes:
    """A damaged copy of ``data``; ``how`` is one of :data:`DAMAGES`.

    ``trunc_N``: only the first N% kept; ``overwrite``: a random block (1/8 of the file, 16..4096 bytes)
    in the middle; ``flip``: 10 random bytes between 30% and 90% XORed; ``header``: the first 32 bytes
    random; ``junk``: 2 KB of random bytes appended; ``zerotail``: the last quarter zeroed (a failed copy
    that kept the size).
    """
    n = len(data)
    if how.startswith("trunc_"):
        return data[: n * int(how[6:]) // 100]
    buf = bytearray(data)
    if how == "overwrite":
        block = max(16, min(4096, n // 8))
        start = n // 2 - block // 2
        buf[start : start + block] = rng.randbytes(block)
    elif how == "flip":
        for i in rng.sample(range(n * 3 // 10, n * 9 // 10), 10):
            buf[i] ^= rng.randint(1, 255)
    elif how == "header":
        buf[:32] = rng.randbytes(32)
    elif how == "junk":
        buf += rng.randbytes(2048)
    elif how == "zerotail":
        cut = n * 3 // 4
        buf[cut:] = bytes(n - cut)
    else:
        raise ValueError(f"unknown damage {how!r}")
    return bytes(buf)


DAMAGES = ("trunc_50", "trunc_90", "trunc_99", "overwrite", "flip", "header", "junk", "zerotail")


def ffmpeg_complaint(path: Path) -> str | None:
    """What a full FFmpeg decode says about ``path`` at error level (None: nothing)."""
    proc = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    text = proc.stderr.decode(errors="replace").strip()
    if proc.returncode != 0 or text:
        return text.splitlines()[0] if text else f"exit status {proc.returncode}"
    return None


def pillow_complaint(path: Path) -> str | None:
    """Why Pillow cannot open and load every frame of ``path`` (None: it can)."""
    from PIL import ImageSequence

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    try:
        with Image.open(path) as im:
            for frame in ImageSequence.Iterator(im):
                frame.load()
    except Exception as exc:  # any failure is the reference's verdict
        return f"{type(exc).__name__}: {exc}"
    return None


def _command(*cmd: str) -> Callable[[Path], str | None] | None:
    if shutil.which(cmd[0]) is None:
        return None

    def complaint(path: Path) -> str | None:
        proc = subprocess.run([*cmd, str(path)], stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        if proc.returncode == 0:
            return None
        text = (proc.stdout + proc.stderr).decode(errors="replace").strip()
        return text.splitlines()[-1] if text else f"exit status {proc.returncode}"

    return complaint


def reference_tools(c: Case) -> dict[str, Callable[[Path], str | None]]:
    """The reference checkers that apply to a case: FFmpeg always, Pillow for images, ``flac -t``,
    ``pngcheck`` and ``jpeginfo -c`` for their formats where installed."""
    tools: dict[str, Callable[[Path], str | None] | None] = {"ffmpeg": ffmpeg_complaint}
    if c.family == "image":
        tools["pillow"] = pillow_complaint
    if c.ext == "flac":
        tools["flac -t"] = _command("flac", "-t", "-s", "-w")
    if c.ext in ("png", "apng"):
        tools["pngcheck"] = _command("pngcheck", "-q")
    if c.ext in ("jpg", "mpo"):
        tools["jpeginfo"] = _command("jpeginfo", "-c")
    return {name: fn for name, fn in tools.items() if fn is not None}
