"""Bit-exact FLAC verification: the MD5 of the decoded audio against the one stored in STREAMINFO.

A FLAC encoder stores the MD5 of the original PCM in the STREAMINFO block. Decoding every frame and hashing
the samples the way the reference encoder did proves the audio is bit-for-bit what was encoded, which catches
damage that slips past the frame CRCs (or that FFmpeg, by default, does not check at all).

The hash input is the samples interleaved by channel, each one written as a signed little-endian integer
of ``ceil(bits_per_sample / 8)`` bytes (1, 2, 3 or 4; 24-bit audio is 3 bytes per sample, not 4).
FFmpeg hands out 8..16-bit FLAC as ``s16``/``s16p`` and 17..32-bit as ``s32``/``s32p``, with the
sample in the *top* bits of the word (24-bit values are shifted left by 8 into an ``s32``). For byte-aligned
depths (8, 16, 24, 32) the bytes we need are simply the top bytes of each word, so packing is byte slicing;
other depths (12, 20 bits) need a shift and use numpy when it is installed.

The decode itself is done once, by :mod:`pixelprobe_tui.core.checkers.av`: it creates an :class:`Md5Check`
for every FLAC stream (native ``.flac``, and FLAC in Ogg, Matroska or MP4: the STREAMINFO comes from the
stream's extradata) and feeds it each decoded frame. :func:`check` exists for the dispatcher and simply runs
that one pass.

STREAMINFO is parsed here in minimal form (the 34-byte block) so this module has no other dependency.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixelprobe_tui.core.verdict import CheckOptions, CheckResult, Finding, Severity

if TYPE_CHECKING:
    import av

TOOL = "pyav:flac-md5"
STREAMINFO_SIZE = 34
_EMPTY_MD5 = bytes(16)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """The fields of a FLAC STREAMINFO block this check needs."""

    sample_rate: int
    channels: int
    bits_per_sample: int
    total_samples: int  # 0 means unknown
    md5: bytes  # 16 bytes; all zero means the encoder did not compute it


def parse_streaminfo(data: bytes | None) -> StreamInfo | None:
    """Parse a STREAMINFO block: the bare 34 bytes, or ``fLaC`` + block header + 34 bytes.

    Returns None when *data* is not a plausible STREAMINFO (too short, zero rate or channels).
    """
    if not data:
        return None
    if data[:4] == b"fLaC":
        data = data[8:]  # "fLaC" then the 4-byte metadata block header
    elif len(data) >= STREAMINFO_SIZE + 4 and (data[0] & 0x7F) == 0 and data[1:4] == b"\x00\x00\x22":
        data = data[4:]  # a metadata block header (type 0, length 34) in front of the block
    if len(data) < STREAMINFO_SIZE:
        return None
    # Bytes 10..17 pack: sample rate (20 bits), channels - 1 (3), bits per sample - 1 (5), total samples (36).
    packed = int.from_bytes(data[10:18], "big")
    sample_rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & 0xFFFFFFFFF
    if sample_rate == 0 or bits < 4:
        return None
    return StreamInfo(sample_rate, channels, bits, total, bytes(data[18:34]))


class Md5Check:
    """Accumulates the FLAC-style MD5 of decoded frames and compares it with STREAMINFO at the end."""

    def __init__(self, info: StreamInfo, codec_name: str = "flac") -> None:
        self.info = info
        self.codec_name = codec_name
        self.width = (info.bits_per_sample + 7) // 8
        self.samples = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._unusable: str | None = None  # why the hash cannot be computed, once known

    @property
    def enabled(self) -> bool:
        """False when STREAMINFO carries no MD5 (all zero): there is nothing to compare with."""
        return self.info.md5 != _EMPTY_MD5

    def update(self, frame: av.AudioFrame) -> None:
        """Hash one decoded frame."""
        if not self.enabled or self._unusable is not None:
            return
        n = frame.samples
        if n <= 0:
            return
        fmt = frame.format
        word = fmt.bytes
        channels = len(frame.layout.channels)
        if word not in (2, 4) or fmt.name not in ("s16", "s16p", "s32", "s32p"):
            self._unusable = f"decoder gave sample format {fmt.name}"
            return
        shift = word * 8 - self.info.bits_per_sample
        if shift < 0:
            self._unusable = f"{self.info.bits_per_sample}-bit samples in {fmt.name}"
            return
        planar = fmt.is_planar
        if planar:
            sources = [bytes(p)[: n * word] for p in frame.planes[:channels]]
        else:
            sources = [bytes(frame.planes[0])[: n * word * channels]]
        if shift % 8 == 0:
            self._md5.update(_pack_aligned(sources, n, channels, word, self.width, planar))
        else:
            packed = _pack_shifted(sources, n, channels, word, self.width, shift, planar)
            if packed is None:
                self._unusable = f"{self.info.bits_per_sample}-bit audio needs numpy to verify"
                return
            self._md5.update(packed)
        self.samples += n

    def finish(self) -> Finding:
        """The verdict of the comparison as one finding (INFO when verified or not verifiable)."""
        name = self.codec_name
        if not self.enabled:
            return Finding(
                Severity.INFO,
                "flac_md5_unset",
                TOOL,
                f"{name}: STREAMINFO has no MD5 (not computed by encoder)",
            )
        if self._unusable is not None:
            return Finding(
                Severity.INFO, "flac_md5_skipped", TOOL, f"{name}: MD5 not verified: {self._unusable}"
            )
        got = self._md5.hexdigest()
        want = self.info.md5.hex()
        if got == want:
            return Finding(
                Severity.INFO, "flac_md5_ok", TOOL, f"{name}: decoded audio matches STREAMINFO MD5"
            )
        detail = ""
        if self.info.total_samples and self.samples != self.info.total_samples:
            detail = f" ({self.samples} of {self.info.total_samples} samples decoded)"
        return Finding(
            Severity.CORRUPT,
            "flac_md5_mismatch",
            TOOL,
            f"{name}: decoded audio MD5 {got} does not match STREAMINFO MD5 {want}{detail}",
        )


def _pack_aligned(sources: list[bytes], n: int, channels: int, word: int, width: int, planar: bool) -> bytes:
    """Interleaved little-endian samples of *width* bytes taken from the top of each *word*-byte sample."""
    skip = word - width
    if not planar and skip == 0:
        return sources[0]
    if planar and channels == 1 and skip == 0:
        return sources[0]
    out = bytearray(n * channels * width)
    frame_out = channels * width
    for c in range(channels):
        src = sources[c] if planar else sources[0]
        base = 0 if planar else c * word
        step = word if planar else channels * word
        for b in range(width):
            out[c * width + b :: frame_out] = src[base + skip + b :: step]
    return bytes(out)


def _pack_shifted(
    sources: list[bytes], n: int, channels: int, word: int, width: int, shift: int, planar: bool
) -> bytes | None:
    """Like :func:`_pack_aligned` for depths that are not a whole number of bytes (needs numpy)."""
    try:
        import numpy as np
    except ImportError:
        return None
    dtype = "<i2" if word == 2 else "<i4"
    if planar:
        values = np.stack([np.frombuffer(s, dtype=dtype) for s in sources], axis=1)
    else:
        values = np.frombuffer(sources[0], dtype=dtype).reshape(n, channels)
    values = (values.astype("<i4") >> shift).reshape(-1)
    return values.view(np.uint8).reshape(-1, 4)[:, :width].tobytes()


def check(path: str, options: CheckOptions) -> CheckResult:
    """Verify a FLAC file: the full decode of :mod:`.av`, which includes the STREAMINFO MD5 comparison.

    One decode pass serves both the decoder checks and the MD5, so this is the same call as ``av.check``.
    """
    from pixelprobe_tui.core.checkers import av as av_checker

    return av_checker.check(path, options)
