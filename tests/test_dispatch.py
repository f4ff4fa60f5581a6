"""The in-process dispatcher: routing by content, early answers, merged findings, media info."""

from __future__ import annotations

import json
import os
import random
import time
import types
from pathlib import Path

import pytest

from pixelprobe_tui.core import checkers, samples
from pixelprobe_tui.core.checkers import mediainfo
from pixelprobe_tui.core.verdict import CheckOptions, IgnoreRules, Severity, Verdict

SMALL = (96, 64)


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> dict[str, Path]:
    """One valid file per kind the tests need, generated once."""
    root = tmp_path_factory.mktemp("dispatch")
    made = {}
    for kind in ("mp4_h264_aac", "mp4_audio_only", "ogg_vorbis", "opus", "png", "jpg_baseline", "flac"):
        ext = samples.KINDS[kind].extension
        made[kind] = samples.generate(kind, root / f"{kind}{ext}", seconds=1.0, size=SMALL)
    return made


def _codes(result) -> set[str]:
    return {f.code for f in result.findings}


def test_valid_video_is_healthy_with_media_info(lib):
    result = checkers.check(str(lib["mp4_h264_aac"]), CheckOptions())
    assert result.verdict == Verdict.HEALTHY, [f.describe() for f in result.findings]
    assert result.family == "video"
    assert result.decisive_tool and result.decisive_tool.startswith("pyav")
    assert result.file_size == lib["mp4_h264_aac"].stat().st_size
    info = result.media_info
    assert info is not None and info["general"]["format"] == "MPEG-4"
    video = next(t for t in info["tracks"] if t["type"] == "video")
    assert (video["width"], video["height"]) == SMALL
    assert any(t["type"] == "audio" and t["channels"] == 2 for t in info["tracks"])
    assert json.loads(mediainfo.to_json(info)) == info


def _flac_damage(data: bytes, how: str) -> bytes:
    if how == "cut_inside_last_frame":
        return data[:-7]
    if how == "flip_in_last_frame":
        flipped = bytearray(data)
        flipped[-40] ^= 0x10
        return bytes(flipped)
    if how == "junk_inside_last_frame":
        return data[:-30] + b"\x00" * 10 + data[-20:]
    raise AssertionError(how)


@pytest.mark.parametrize("deep", [False, True], ids=["normal", "deep"])
@pytest.mark.parametrize("how", ["cut_inside_last_frame", "flip_in_last_frame", "junk_inside_last_frame"])
def test_flac_damage_in_the_last_frame_is_corrupted(lib, tmp_path, how, deep):
    """In normal mode the structure walk leaves the last frame's CRC to the decoder (crccheck), which must
    then call the file corrupted; deep mode's walk checks the CRC itself."""
    path = tmp_path / f"{how}.flac"
    path.write_bytes(_flac_damage(lib["flac"].read_bytes(), how))
    result = checkers.check(str(path), CheckOptions(deep=deep, want_media_info=False))
    assert result.verdict == Verdict.CORRUPTED, [f.describe() for f in result.findings]
    assert any(f.tool == "pyav" and f.severity == Severity.CORRUPT for f in result.findings) or deep


def _raw_stream(path: Path) -> Path:
    """A raw elementary stream: AC-3 and AMR from PyAV; DTS from the ffmpeg tool (FFmpeg's DTS encoder is
    experimental and not in PyAV's build)."""
    import subprocess

    import av

    fmt = path.suffix[1:]
    if fmt == "dts":
        import imageio_ffmpeg

        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=1"]
        cmd += ["-ac", "2", "-ar", "48000", "-c:a", "dca", "-strict", "-2", str(path)]
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            pytest.skip("this ffmpeg has no DTS encoder")
        return path
    codec, rate = {"ac3": ("ac3", 48000), "amr": ("libopencore_amrnb", 8000)}[fmt]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        size = stream.codec_context.frame_size or 1024
        rng = random.Random(3)
        for start in range(0, rate, size):
            frame = av.AudioFrame(format="s16", layout="mono", samples=size)
            frame.planes[0].update(bytes(rng.randrange(64, 192) for _ in range(2 * size)))
            frame.sample_rate, frame.pts = rate, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("ext", ["ac3", "dts", "amr"])
def test_raw_audio_streams_are_decoded_not_called_mp3(tmp_path, ext):
    """Raw AC-3/DTS/AMR go to the A/V decoder; never to the MP3 walk, whose "lost sync" on DTS was a false
    alarm. Damage in AC-3 and DTS (which carry CRCs) is still found by the decoder."""
    path = _raw_stream(tmp_path / f"sound.{ext}")
    result = checkers.check(str(path), CheckOptions(want_media_info=False))
    assert result.verdict == Verdict.HEALTHY, [f.describe() for f in result.findings]
    assert result.family == "audio" and result.decisive_tool.startswith("pyav")
    assert not any(f.tool.startswith("structure:mp3") for f in result.findings)
    if ext == "amr":
        return  # AMR frames have no checksum: flipped bits decode to other, valid sound
    data = path.read_bytes()
    flipped = bytearray(data)
    for i in range(len(data) // 4, len(data) // 2, 97):
        flipped[i] ^= 0x5A
    bad = tmp_path / f"bad.{ext}"
    bad.write_bytes(bytes(flipped))
    assert checkers.check(str(bad), CheckOptions(want_media_info=False)).verdict == Verdict.CORRUPTED


def test_media_info_can_be_skipped(lib):
    assert checkers.check(str(lib["png"]), CheckOptions(want_media_info=False)).media_info is None


def test_png_named_mp4_is_checked_as_image_with_mismatch_warning(lib, tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(lib["png"].read_bytes())
    result = checkers.check(str(fake), CheckOptions())
    assert result.family == "image"
    assert result.verdict == Verdict.WARNING
    mismatch = [f for f in result.findings if f.code == "extension_mismatch"]
    assert len(mismatch) == 1 and ".mp4" in mismatch[0].message
    assert "pillow" in result.tool_versions  # the image decoder ran, not PyAV


@pytest.mark.parametrize(
    ("kind", "name"), [("png", "photo.jpg"), ("flac", "song.mp3"), ("mp4_h264_aac", "a.mkv")]
)
def test_an_extension_mismatch_is_reported_exactly_once(lib, tmp_path, kind, name):
    renamed = tmp_path / name
    renamed.write_bytes(lib[kind].read_bytes())
    for deep in (False, True):
        result = checkers.check(str(renamed), CheckOptions(deep=deep, want_media_info=False))
        assert result.verdict == Verdict.WARNING, [f.describe() for f in result.findings]
        mismatch = [f for f in result.findings if "mismatch" in f.code or "the name says" in f.message]
        assert len(mismatch) == 1, [f.describe() for f in result.findings]


@pytest.mark.parametrize("kind", ["mp4_audio_only", "ogg_vorbis", "opus", "flac"])
def test_audio_in_containers_that_can_hold_video_is_audio(lib, kind):
    result = checkers.check(str(lib[kind]), CheckOptions())
    assert result.family == "audio"
    assert result.verdict == Verdict.HEALTHY, [f.describe() for f in result.findings]


def test_empty_file_is_corrupted_without_decoding(tmp_path):
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    result = checkers.check(str(empty), CheckOptions())
    assert result.verdict == Verdict.CORRUPTED
    assert _codes(result) == {"empty"}
    assert result.file_size == 0


@pytest.mark.parametrize("name", ["junk.mp4", "junk.jpg", "junk.flac"])
def test_junk_with_a_media_name_is_corrupted(tmp_path, name):
    junk = tmp_path / name
    junk.write_bytes(random.Random(7).randbytes(20_000))
    result = checkers.check(str(junk), CheckOptions())
    assert result.verdict == Verdict.CORRUPTED, [f.describe() for f in result.findings]


def test_junk_with_an_unknown_name_is_unsupported(tmp_path):
    junk = tmp_path / "notes.xyz"
    junk.write_bytes(random.Random(7).randbytes(2_000))
    assert checkers.check(str(junk), CheckOptions()).verdict == Verdict.UNSUPPORTED


def test_directory_named_like_media_is_unreadable(tmp_path):
    folder = tmp_path / "clip.mp4"
    folder.mkdir()
    result = checkers.check(str(folder), CheckOptions())
    assert result.verdict == Verdict.UNREADABLE
    assert "directory" in result.findings[0].message


@pytest.mark.timeout(20)
def test_fifo_named_like_media_is_unreadable_without_blocking(tmp_path):
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = checkers.check(str(fifo), CheckOptions())
    assert result.verdict == Verdict.UNREADABLE
    assert "FIFO" in result.findings[0].message
    assert time.monotonic() - started < 10  # generous: the point is "did not block on open"


def test_vanished_file_is_unreadable(tmp_path):
    link = tmp_path / "gone.mp4"
    link.symlink_to(tmp_path / "nowhere.mp4")
    result = checkers.check(str(link), CheckOptions())
    assert result.verdict == Verdict.UNREADABLE
    assert result.findings[0].code == "vanished"


@pytest.mark.parametrize("deep", [False, True])
def test_truncated_video_is_corrupted_in_both_modes(lib, tmp_path, deep):
    data = lib["mp4_h264_aac"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    result = checkers.check(str(cut), CheckOptions(deep=deep))
    assert result.verdict == Verdict.CORRUPTED
    assert result.decisive_tool  # names what decided


def test_truncated_jpeg_names_the_decisive_tool(lib, tmp_path):
    data = lib["jpg_baseline"].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    result = checkers.check(str(cut), CheckOptions(deep=True))
    assert result.verdict == Verdict.CORRUPTED
    decisive = next(f for f in result.findings if f.severity == Severity.CORRUPT)
    assert result.decisive_tool and result.decisive_tool.split()[0] == decisive.tool.split(":")[0]


def test_ignore_rules_apply_in_process(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = checkers.check(str(empty), CheckOptions(), IgnoreRules(["empty file"]))
    assert result.verdict == Verdict.HEALTHY
    assert result.findings[0].ignored


def test_identical_findings_from_two_passes_are_kept_once():
    from pixelprobe_tui.core.verdict import Finding

    a = Finding(Severity.CORRUPT, "truncated", "pyav", "file ends early", at_seconds=1.0)
    b = Finding(Severity.CORRUPT, "truncated", "structure:mp4", "file ends early")
    assert checkers._merge([a, b, a]) == (a, b)


def test_a_raising_checker_becomes_a_finding(tmp_path):
    # A checker that raises stands in for a library bug: the file still gets a result.
    def boom(path, options):
        raise ValueError("bad table")

    def io_fail(path, options):
        raise OSError(5, "Input/output error")

    path = str(tmp_path / "x.mp4")
    raised = checkers._run(types.SimpleNamespace(check=boom), path, CheckOptions(), "av")
    assert raised.verdict == Verdict.CORRUPTED
    assert raised.findings[0].message == "checker raised ValueError: bad table"
    io = checkers._run(types.SimpleNamespace(check=io_fail), path, CheckOptions(), "av")
    assert io.verdict == Verdict.UNREADABLE
    assert "EIO" in io.findings[0].message


@pytest.mark.parametrize("kind", ["png", "flac", "mp4_h264_aac"])
def test_the_head_is_sniffed_once_per_check(lib, kind, monkeypatch):
    """The dispatcher hands its sniff to the structure and A/V checkers instead of each reading it again."""
    from pixelprobe_tui.core import media

    heads: list[int] = []
    real = media.pread_exact

    def counting(fd: int, offset: int, n: int) -> bytes:
        if offset == 0 and n == media.HEAD_SIZE:
            heads.append(fd)
        return real(fd, offset, n)

    monkeypatch.setattr(media, "pread_exact", counting)
    result = checkers.check(str(lib[kind]), CheckOptions(want_media_info=False))
    assert result.verdict == Verdict.HEALTHY, [f.describe() for f in result.findings]
    assert len(heads) == 1


def test_structure_walks_the_sniff_it_is_given(lib):
    from dataclasses import replace

    from pixelprobe_tui.core import media
    from pixelprobe_tui.core.checkers import structure

    path = str(lib["flac"])
    sniffed = media.sniff(path)
    given = structure.check(path, CheckOptions(), sniff=sniffed)
    own = structure.check(path, CheckOptions())
    assert (given.verdict, given.findings, given.container) == (own.verdict, own.findings, own.container)
    as_png = structure.check(path, CheckOptions(), sniff=replace(sniffed, container="png"))
    assert as_png.container == "png" and as_png.verdict == Verdict.CORRUPTED


def test_media_info_survives_junk_and_odd_names(tmp_path):
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(random.Random(3).randbytes(50_000))
    info = mediainfo.media_info(str(junk))
    assert info is None or info["tracks"] == []
    assert mediainfo.media_info(str(tmp_path / "missing.mkv")) is None
    odd = os.fsdecode(os.fsencode(tmp_path) + b"/\xff\xfe.flac")
    with open(odd, "wb") as fh:
        fh.write(samples.generate_bytes("flac", seconds=0.5))
    info = mediainfo.media_info(odd)
    assert info is not None and info["general"]["format"] == "FLAC"
    assert mediainfo.duration_of(info) == pytest.approx(0.5, abs=0.05)


def test_media_info_fields_read_one_by_one_match_the_json_report(lib):
    """The summary is read with MediaInfo_Get; it must say what libmediainfo's JSON report says (seconds,
    not milliseconds; the profile without its level) for the same file."""
    import json as json_mod

    from pymediainfo import MediaInfo

    path = str(lib["mp4_h264_aac"])
    ours = mediainfo.media_info(path)
    lib_, handle, _, _ = MediaInfo._get_library()
    try:
        for name, value in [("Inform", "JSON"), ("Complete", ""), ("ParseSpeed", "0"), ("ReadByHuman", "0")]:
            lib_.MediaInfo_Option(handle, name, value)
        assert lib_.MediaInfo_Open(handle, path)
        report = json_mod.loads(lib_.MediaInfo_Inform(handle, 0))
        lib_.MediaInfo_Close(handle)
    finally:
        lib_.MediaInfo_Delete(handle)
    assert ours == mediainfo.summarize(report["media"])
    video = next(t for t in ours["tracks"] if t["type"] == "video")
    assert video["profile"] == "High" and "@" not in video["profile"]
    assert mediainfo.duration_of(ours) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize(
    "kind", ["wav", "flac", "mp3", "ogg_vorbis", "webm_vp9_opus", "png", "jpg_baseline", "webp"]
)
def test_media_info_through_the_sniffed_parser_matches_the_open_by_name(kind, tmp_path):
    """For containers in mediainfo._PARSERS libmediainfo is fed the file with only that parser; the summary
    must be the one the open by name gives (all parsers tried), and junk under such a name still works."""
    from pixelprobe_tui.core import media

    if not samples.kind_available(kind):
        pytest.skip(f"{kind} cannot be encoded here")
    path = samples.generate(kind, tmp_path / f"f{samples.KINDS[kind].extension}", seconds=1.0, size=SMALL)
    sniffed = media.sniff(str(path))
    assert sniffed.container in mediainfo._PARSERS
    by_parser = mediainfo.media_info(str(path), container=sniffed.container)
    assert by_parser is not None and by_parser["general"].get("format")
    assert by_parser == mediainfo.media_info(str(path))
    junk = tmp_path / f"junk{samples.KINDS[kind].extension}"
    junk.write_bytes(path.read_bytes()[:12] + random.Random(1).randbytes(20_000))
    info = mediainfo.media_info(str(junk), container=sniffed.container)
    assert info is None or isinstance(info["tracks"], list)


def test_media_info_of_unrecognised_content_reads_only_the_head(lib, tmp_path):
    """``known=False`` (the sniffer found no format) gives libmediainfo only the first bytes: junk gets an
    empty summary, a clobbered header still its container when the head shows it, and by-name opens on
    the same thread keep working afterwards (the buffer and by-name handles are kept apart)."""
    ts = samples.generate("ts_h264", tmp_path / "clip.ts", seconds=1.0, size=SMALL)
    clobbered = tmp_path / "clobbered.ts"
    data = bytearray(ts.read_bytes())
    data[:64] = bytes(64)
    clobbered.write_bytes(bytes(data))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(random.Random(5).randbytes(200_000))
    for _ in range(2):
        info = mediainfo.media_info(str(clobbered), known=False)
        assert info is not None and info["general"].get("format") == "MPEG-TS"
        assert info["general"]["file_size"] == len(data), "the size is the file's, not the head's"
        junk_info = mediainfo.media_info(str(junk), known=False)
        assert junk_info is None or junk_info["tracks"] == []
        named = mediainfo.media_info(str(lib["mp4_h264_aac"]))
        assert named is not None and named["general"]["format"] == "MPEG-4"
        assert {t["type"] for t in named["tracks"]} == {"video", "audio"}


def test_dispatcher_describes_junk_from_its_head(tmp_path):
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(random.Random(4).randbytes(300_000))
    result = checkers.check(str(junk), CheckOptions())
    assert result.verdict == Verdict.CORRUPTED
    assert result.media_info is None or result.media_info["tracks"] == []


def test_content_hash_on_request(lib):
    from pixelprobe_tui.core.hashing import hash_file

    path = str(lib["png"])
    assert checkers.check(path, CheckOptions()).content_hash is None
    hashed = checkers.check(path, CheckOptions(want_hash=True)).content_hash
    assert hashed == hash_file(path) and hashed.startswith("xxh3_128:")


def test_media_info_keeps_what_the_decoder_saw(lib):
    info = checkers.check(str(lib["mp4_h264_aac"]), CheckOptions()).media_info
    assert info is not None and info["general"]["format"] == "MPEG-4"
    assert info.get("decoded"), "the decoder's per-stream counts are kept"
    json.dumps(info)  # stored as JSON text


def _hevc_mkv_with_a_repeated_chunk(path: Path) -> Path:
    """Two HEVC frames in Matroska with 516 bytes of the header repeated: libmediainfo 24.12 spins forever
    inside one call on this (by name and buffered alike), H4's report H4-10."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"x265-params": "log-level=none:pools=none:frame-threads=1:bframes=0"}
        for i in range(2):
            grey = (np.indices((64, 96)).sum(axis=0) * (i + 3) % 256).astype("uint8")
            frame = av.VideoFrame.from_ndarray(np.stack([grey] * 3, axis=-1), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[:1032] + data[516:1032] + data[1032:])
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("deep", [False, True], ids=["normal", "deep"])
def test_a_file_the_walk_proves_damaged_is_not_handed_to_libmediainfo(tmp_path, deep):
    """libmediainfo can spin forever on damaged data; a file the structure walk already proved corrupt
    is judged without it (the check would otherwise never return: this test's timeout)."""
    path = _hevc_mkv_with_a_repeated_chunk(tmp_path / "repeated.mkv")
    result = checkers.check(str(path), CheckOptions(deep=deep))
    assert result.verdict == Verdict.CORRUPTED
    assert any(f.tool.startswith("structure") for f in result.findings)
    info = result.media_info
    assert info is None or set(info) == {"decoded"}, "no libmediainfo summary for a proven-damaged file"


@pytest.mark.parametrize("deep", [False, True], ids=["normal", "deep"])
def test_an_image_the_decoder_proves_damaged_is_not_handed_to_libmediainfo(tmp_path, deep):
    """Images are described after their decode, and not at all when it proved damage: libmediainfo spun for
    34-134 s on damaged HEIF boxes that no structure walk sees but the image decoder does. Valid images
    keep their description."""
    from tests import media_matrix as mm

    valid = tmp_path / "valid.heic"
    try:
        mm.BY_NAME["heic_alpha"].build(valid)
    except (mm.Unavailable, RuntimeError) as exc:
        pytest.skip(f"heic_alpha cannot be encoded here: {exc}")
    described = checkers.check(str(valid), CheckOptions(deep=deep)).media_info
    assert described is not None and described.get("general"), "a valid image keeps libmediainfo's summary"

    data = bytearray(valid.read_bytes())
    data[data.index(b"auxC") + 3] ^= 0x20  # 'auxc': an essential property libheif refuses
    damaged = tmp_path / "damaged.heic"
    damaged.write_bytes(data)
    result = checkers.check(str(damaged), CheckOptions(deep=deep))
    assert result.verdict == Verdict.CORRUPTED, [f.describe() for f in result.findings]
    assert not any(f.tool.startswith("structure") for f in result.findings), "the image decoder proved it"
    assert result.media_info is None or set(result.media_info) == {"decoded"}
