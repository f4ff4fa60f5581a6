"""The sample generator makes valid media of every kind, and damage does what it says."""

from __future__ import annotations

import hashlib
import io
import random
import subprocess
import warnings
from array import array
from pathlib import Path

import av
import av.logging
import imageio_ffmpeg
import pytest
from PIL import Image

from pixelprobe_tui.core import samples

ALL_KINDS = list(samples.KINDS)
AV_KINDS = [k for k in ALL_KINDS if samples.KINDS[k].family != "image"]
IMAGE_KINDS = [k for k in ALL_KINDS if samples.KINDS[k].family == "image"]


def _decode_with_logs(path: Path) -> tuple[dict[str, int], list[tuple[int, str, str]]]:
    """Decode every stream of *path* with PyAV; return frames per stream type and FFmpeg logs (<= WARNING)."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.WARNING)
    counts = {"video": 0, "audio": 0}
    try:
        # local=False: decoder threads log from their own threads, and those lines must be caught too.
        with av.logging.Capture(local=False) as logs, av.open(str(path)) as container:
            for frame in container.decode(*container.streams.video, *container.streams.audio):
                counts["audio" if isinstance(frame, av.AudioFrame) else "video"] += 1
    finally:
        av.logging.set_level(previous)
    return counts, list(logs)


def _ffmpeg_errors(path: Path) -> str:
    """What the reference ffmpeg binary prints at error level while decoding *path* fully."""
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stderr.strip() if result.returncode == 0 else f"exit {result.returncode}: {result.stderr}"


def _open_image(path: Path) -> Image.Image:
    if path.suffix == ".heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    return Image.open(path)


# ---------------------------------------------------------------------------------------------- valid kinds


def test_kind_table_is_consistent() -> None:
    for name, kind in samples.KINDS.items():
        assert kind.name == name
        assert kind.family in {"video", "audio", "image"}
        assert kind.extension.startswith(".")
    required = {"mp4_h264", "mkv_h264", "webm_vp9", "avi_mpeg4", "mov_h264", "ts_h264", "mp4_hevc", "mp3"}
    required |= {"flac", "ogg_vorbis", "opus", "m4a_aac", "wav", "aiff", "jpg_baseline", "jpg_progressive"}
    required |= {"png", "gif_animated", "bmp", "tiff", "webp", "webp_animated", "apng", "heic"}
    required |= {"mp4_h264_aac", "mp4_audio_only", "mkv_audio"}
    required |= {"webm_vp9_opus", "mp4_av1", "avif", "mp4_faststart", "mp4_fragmented"}
    required |= {"flac_24bit", "wav_24bit"}
    assert required <= set(samples.KINDS)
    # This environment has every encoder; a kind silently dropping out would shrink the whole suite.
    assert samples.available_kinds() == ALL_KINDS


@pytest.mark.parametrize("kind", AV_KINDS)
def test_av_kind_decodes_cleanly_with_expected_streams(kind: str, media_factory) -> None:
    path = media_factory(kind)
    family = samples.KINDS[kind].family
    with av.open(str(path)) as container:
        n_video, n_audio = len(container.streams.video), len(container.streams.audio)
        duration = container.duration / 1_000_000 if container.duration else 0.0
    if family == "audio":
        assert (n_video, n_audio) == (0, 1), "an audio kind must have no video stream"
    elif kind in {"mp4_h264_aac", "mp4_faststart", "mp4_fragmented", "webm_vp9_opus"}:
        assert (n_video, n_audio) == (1, 1)
    else:
        assert (n_video, n_audio) == (1, 0)
    assert duration == pytest.approx(2.0, abs=0.1)

    counts, logs = _decode_with_logs(path)
    errors = [log for log in logs if log[0] <= av.logging.ERROR]
    assert errors == []
    if n_video:
        assert counts["video"] == 2 * samples.VIDEO_FPS
    if n_audio:
        assert counts["audio"] > 10


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_reference_ffmpeg_reports_no_error(kind: str, media_factory) -> None:
    assert _ffmpeg_errors(media_factory(kind)) == ""


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_image_kind_loads_every_frame(kind: str, media_factory) -> None:
    path = media_factory(kind)
    with warnings.catch_warnings(), _open_image(path) as img:
        warnings.simplefilter("error")  # Pillow reports recoverable oddities as warnings: none allowed
        assert img.size == (160, 120)
        frames = getattr(img, "n_frames", 1)
        for i in range(frames):
            img.seek(i)
            img.load()
            # Real content, not a flat fill: the picture has many distinct colours.
            assert len(img.convert("RGB").getcolors(maxcolors=1 << 16) or ()) > 32
    expected = {"gif_animated": 8, "webp_animated": 8, "apng": 8, "tiff": 3}.get(kind, 1)
    assert frames == expected
    with _open_image(path) as img:
        img.verify()


def test_video_content_moves(media_factory) -> None:
    with av.open(str(media_factory("mkv_h264"))) as container:
        frames = [f.to_image() for _, f in zip(range(30), container.decode(video=0), strict=False)]
    first, later = frames[0].tobytes(), frames[25].tobytes()
    changed = sum(a != b for a, b in zip(first, later, strict=True))
    assert changed > len(first) // 4


def test_audio_content_is_a_real_signal(media_factory) -> None:
    data = media_factory("wav").read_bytes()[44:]  # canonical 44-byte header from the wav muxer
    pcm = array("h", data[: len(data) // 2 * 2])
    assert len(set(pcm)) > 1000
    assert max(pcm) > 8000 and min(pcm) < -8000


def test_sizes_and_seconds_are_honoured(media_factory) -> None:
    path = media_factory("mp4_h264", seconds=1.0, size=(96, 64))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (96, 64)
        assert sum(1 for _ in container.decode(stream)) == samples.VIDEO_FPS
    with _open_image(media_factory("png", size=(40, 30))) as img:
        assert img.size == (40, 30)


@pytest.mark.parametrize("kind", ["wav", "flac", "png", "jpg_progressive", "tiff", "gif_animated"])
def test_generation_is_deterministic_per_seed(kind: str, tmp_path: Path) -> None:
    a = samples.generate(kind, tmp_path / f"a{samples.KINDS[kind].extension}", seconds=0.5, seed=7)
    b = samples.generate(kind, tmp_path / f"b{samples.KINDS[kind].extension}", seconds=0.5, seed=7)
    c = samples.generate(kind, tmp_path / f"c{samples.KINDS[kind].extension}", seconds=0.5, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert set(tmp_path.iterdir()) == {a, b, c}  # no temporary files left behind


@pytest.mark.parametrize("kind", ["mp4_h264", "ts_h264", "mp4_hevc", "webm_vp9_opus", "mp4_av1"])
def test_video_generation_is_reproducible(kind: str) -> None:
    # x264 with its assembly paths differed in about a third of runs at this size; three runs catch that.
    runs = {samples.generate_bytes(kind, seconds=0.5, size=(96, 64), seed=3) for _ in range(3)}
    assert len(runs) == 1


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown sample kind 'mp9'"):
        samples.generate("mp9", tmp_path / "x.mp9")
    with pytest.raises(ValueError, match="even size"):
        samples.generate("mp4_h264", tmp_path / "x.mp4", size=(97, 64))
    with pytest.raises(ValueError, match="seconds > 0"):
        samples.generate("wav", tmp_path / "x.wav", seconds=0)
    samples.generate("png", tmp_path / "odd.png", size=(7, 5))  # images take any size


# --------------------------------------------------------------------------------------------------- damage


DATA = random.Random(1).randbytes(50_000)


@pytest.mark.parametrize("seed", range(20))
def test_truncated_is_a_prefix_cut_between_30_and_95_percent(seed: int) -> None:
    out = samples.damage(DATA, "truncated", random.Random(seed))
    assert 0.30 * len(DATA) <= len(out) <= 0.95 * len(DATA)
    assert DATA.startswith(out)


def _diff_positions(a: bytes, b: bytes) -> list[int]:
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


@pytest.mark.parametrize("seed", range(20))
def test_overwritten_block_stays_in_the_middle(seed: int) -> None:
    out = samples.damage(DATA, "overwritten_block", random.Random(seed))
    diff = _diff_positions(DATA, out)
    assert diff
    assert diff[-1] - diff[0] + 1 <= 4096
    assert 0.2 * len(DATA) <= diff[0] and diff[-1] < 0.8 * len(DATA)


@pytest.mark.parametrize("seed", range(20))
def test_clobbered_header_touches_only_the_first_64_bytes(seed: int) -> None:
    out = samples.damage(DATA, "clobbered_header", random.Random(seed))
    diff = _diff_positions(DATA, out)
    assert diff and diff[-1] < 64


@pytest.mark.parametrize("seed", range(20))
def test_bit_flips_flip_8_to_32_bits_after_the_first_5_percent(seed: int) -> None:
    out = samples.damage(DATA, "bit_flips", random.Random(seed))
    flipped = sum(bin(a ^ b).count("1") for a, b in zip(DATA, out, strict=True))
    assert 8 <= flipped <= 32
    assert _diff_positions(DATA, out)[0] >= len(DATA) // 20


def test_junk_and_empty() -> None:
    junk = samples.damage(DATA, "junk", random.Random(0))
    assert len(junk) == len(DATA) and junk != DATA
    assert len(_diff_positions(DATA, junk)) > 0.9 * len(DATA)
    assert samples.damage(DATA, "empty", random.Random(0)) == b""


@pytest.mark.parametrize("how", samples.DAMAGES)
def test_damage_is_seeded_and_handles_tiny_inputs(how: str) -> None:
    a = samples.damage(DATA, how, random.Random(3))
    assert a == samples.damage(DATA, how, random.Random(3))
    if how != "empty":
        assert a != DATA
        assert a != samples.damage(DATA, how, random.Random(4))
    for tiny in (b"", b"x", b"0123456789"):
        samples.damage(tiny, how, random.Random(0))  # must not raise


def test_unknown_damage_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown damage 'melted'"):
        samples.damage(DATA, "melted", random.Random(0))


def test_damage_file_and_fixture(tmp_path: Path, media_factory, damaged_media) -> None:
    src = media_factory("flac")
    dst = samples.damage_file(src, tmp_path / "sub" / "t.flac", "truncated", seed=5)
    assert dst.stat().st_size < src.stat().st_size
    assert src.read_bytes().startswith(dst.read_bytes())
    again = damaged_media("flac", "truncated", 5)
    assert again.read_bytes() == dst.read_bytes()
    assert again.suffix == ".flac"
    assert damaged_media("flac", "truncated", 5) == again  # cached


def test_damaged_video_is_noticed_by_the_log_capture(damaged_media) -> None:
    # Guards the clean-decode test above: the capture really sees decoder errors when there are some.
    _, logs = _decode_with_logs(damaged_media("mkv_h264", "overwritten_block", 1))
    assert any(level <= av.logging.ERROR for level, _, _ in logs)


# --------------------------------------------------------------------------------------------------- corpus


def test_make_corpus(tmp_path: Path) -> None:
    kinds = ["wav", "png", "mkv_h264"]
    items = samples.make_corpus(
        tmp_path, per_kind=8, damaged_fraction=0.5, seed=2, kinds=kinds, seconds=0.5, size=(64, 48)
    )
    assert len(items) == 24
    for kind in kinds:
        mine = [it for it in items if it.kind == kind]
        valid = [it for it in mine if it.damage is None]
        damaged = [it for it in mine if it.damage is not None]
        assert (len(valid), len(damaged)) == (4, 4)
        reference = valid[0].path.read_bytes()
        assert all(v.path.read_bytes() == reference for v in valid)
        assert all(d.path.read_bytes() != reference for d in damaged if d.damage)
        assert {it.family for it in mine} == {samples.KINDS[kind].family}
        assert all(it.path.suffix == samples.KINDS[kind].extension and it.path.exists() for it in mine)
    assert len({it.path for it in items}) == len(items)
    again = samples.make_corpus(
        tmp_path / "again", per_kind=8, damaged_fraction=0.5, seed=2, kinds=["wav"], seconds=0.5
    )
    first_wav = [it for it in items if it.kind == "wav"]
    assert [it.damage for it in again] == [it.damage for it in first_wav]


def test_make_corpus_variants_spread_and_labels(tmp_path: Path) -> None:
    n = len(samples.DAMAGES)
    items = samples.make_corpus(
        tmp_path,
        per_kind=2 * n,
        damaged_fraction=0.5,
        seed=4,
        kinds=["wav"],
        seconds=0.3,
        variants=3,
    )
    valid = [it for it in items if it.damage is None]
    assert len({it.path.read_bytes() for it in valid}) == 3
    assert all(it.detectable is None for it in valid)
    damaged = [it for it in items if it.damage]
    # Cycling: n damaged files cover all n damages once.
    assert sorted(it.damage for it in damaged) == sorted(samples.DAMAGES)
    for it in damaged:
        expected = {"empty": True, "junk": True, "bit_flips": False, "overwritten_block": False}.get(
            it.damage
        )
        assert it.detectable is expected
    # Damaged files are spread over the list, not all first.
    assert [it.damage is not None for it in items] != [True] * n + [False] * n


def test_make_corpus_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown sample kinds: nope"):
        samples.make_corpus(tmp_path, kinds=["nope"])
    with pytest.raises(ValueError):
        samples.make_corpus(tmp_path, damaged_fraction=1.5, kinds=["png"])
    assert samples.make_corpus(tmp_path, per_kind=0, kinds=["png"]) == []


def test_damage_detectable_rules() -> None:
    assert samples.damage_detectable("mp4_h264", "empty") is True
    assert samples.damage_detectable("bmp", "bit_flips") is False
    assert samples.damage_detectable("bmp", "truncated") is None
    assert samples.damage_detectable("flac", "bit_flips") is None


# --------------------------------------------------------------------------------------------------- doctor


@pytest.fixture(scope="module")
def doctor(tmp_path_factory: pytest.TempPathFactory) -> list[samples.DoctorSample]:
    return samples.doctor_samples(tmp_path_factory.mktemp("doctor"))


def test_doctor_samples_are_small_and_cover_the_cases(doctor) -> None:
    names = " | ".join(s.name for s in doctor)
    for needle in ("truncated mp4", "bit-flipped h264", "truncated flac", "MD5", "truncated jpeg", "bad CRC"):
        assert needle in names
    for needle in ("truncated wav", "truncated mp3", "empty", "junk", "faststart"):
        assert needle in names
    for s in doctor:
        assert s.expected in {"corrupted", "healthy"}
        assert s.valid.stat().st_size < 100_000 and s.damaged.stat().st_size < 100_000
        assert s.damaged.read_bytes() != s.valid.read_bytes()
        assert s.damaged.suffix == s.valid.suffix
        assert _ffmpeg_errors(s.valid) == ""


def test_doctor_damage_is_visible_to_a_decoder(doctor) -> None:
    # Where a plain full decode is enough evidence, the reference ffmpeg must complain.
    decodable = [s for s in doctor if s.kind in {"mp4_h264", "mp4_faststart", "flac", "wav"}]
    decodable = [s for s in decodable if "MD5" not in s.name]
    assert len(decodable) >= 7
    for s in decodable:
        assert _ffmpeg_errors(s.damaged) != "", s.name


def _flac_md5(path: Path) -> tuple[bytes, bytes | None]:
    """(STREAMINFO MD5, MD5 of the decoded samples or None if decoding failed) for a 16/24-bit FLAC."""
    data = path.read_bytes()
    stored = data[8 + 18 : 8 + 34]  # STREAMINFO is the first block; its MD5 is the last 16 bytes
    digest = hashlib.md5()
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                # FLAC's MD5 covers interleaved little-endian samples at their own width; FFmpeg gives
                # 16-bit as packed s16 and 24-bit as packed s32 with the value in the top 24 bits.
                raw = bytes(frame.planes[0])[
                    : frame.samples * len(frame.layout.channels) * frame.format.bytes
                ]
                if frame.format.name == "s16":
                    digest.update(raw)
                else:
                    assert frame.format.name == "s32"
                    samples32 = array("i", raw)
                    digest.update(b"".join((v >> 8).to_bytes(3, "little", signed=True) for v in samples32))
    except av.FFmpegError:
        return stored, None
    return stored, digest.digest()


def test_flac_kinds_carry_a_correct_md5_and_depth(media_factory) -> None:
    for kind, depth in (("flac", 16), ("flac_24bit", 24)):
        path = media_factory(kind, seconds=0.5)
        info = path.read_bytes()[8 : 8 + 34]
        assert ((info[12] & 1) << 4 | info[13] >> 4) + 1 == depth
        stored, decoded = _flac_md5(path)
        assert decoded == stored != bytes(16)


def test_wav_24bit_declares_24_bits(media_factory) -> None:
    data = media_factory("wav_24bit", seconds=0.5).read_bytes()
    fmt = data.index(b"fmt ")
    assert int.from_bytes(data[fmt + 22 : fmt + 24], "little") == 24  # bits per sample
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_s24le"


def test_doctor_flac_flip_breaks_the_md5(doctor) -> None:
    case = next(s for s in doctor if "MD5" in s.name)
    stored, decoded = _flac_md5(case.valid)
    assert decoded == stored
    stored, decoded = _flac_md5(case.damaged)
    assert decoded != stored


def test_doctor_png_crc_and_truncations(doctor) -> None:
    png = next(s for s in doctor if "CRC" in s.name)
    with Image.open(png.valid) as img:
        img.verify()
    with Image.open(png.damaged) as img, pytest.raises(SyntaxError, match="checksum"):
        img.verify()
    for s in doctor:
        if s.name.startswith("truncated"):
            assert s.valid.read_bytes().startswith(s.damaged.read_bytes())
            assert s.damaged.stat().st_size < s.valid.stat().st_size


def test_doctor_expectations_list_each_original_once(doctor) -> None:
    rows = samples.doctor_expectations(doctor)
    healthy = [path for _, path, verdict in rows if verdict == "healthy"]
    assert len(healthy) == len(set(healthy)) == len({s.valid for s in doctor})
    assert [(path, verdict) for _, path, verdict in rows[len(healthy) :]] == [
        (s.damaged, s.expected) for s in doctor
    ]
