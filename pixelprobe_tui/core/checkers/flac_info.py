"""FLAC metadata: the STREAMINFO block (rate, channels, bit depth, total samples, MD5 of the audio).

Small and dependency-free so both the structural walk and the decoder-side MD5 check can use it:

    info = read_streaminfo("song.flac")
    if info and info.md5_set:
        ...decode, hash the interleaved little-endian samples, compare with info.md5...
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pixelprobe_tui.core.media import id3v2_size, open_for_reading, pread_exact

STREAMINFO = 0
BLOCK_NAMES = {
    0: "STREAMINFO",
    1: "PADDING",
    2: "APPLICATION",
    3: "SEEKTABLE",
    4: "VORBIS_COMMENT",
    5: "CUESHEET",
    6: "PICTURE",
}


class FlacInfoError(ValueError):
    """The FLAC header is missing or malformed."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """Parsed STREAMINFO. ``total_samples`` is per channel (0 = unknown); ``md5`` is 16 raw bytes."""

    min_blocksize: int
    max_blocksize: int
    min_framesize: int  # bytes, 0 = unknown
    max_framesize: int  # bytes, 0 = unknown
    sample_rate: int
    channels: int
    bits_per_sample: int
    total_samples: int
    md5: bytes

    @property
    def md5_set(self) -> bool:
        """False when the encoder did not compute the MD5 (all zero): nothing to verify against."""
        return any(self.md5)

    @property
    def md5_hex(self) -> str:
        return self.md5.hex()

    @property
    def duration_s(self) -> float | None:
        return self.total_samples / self.sample_rate if self.total_samples and self.sample_rate else None

    def problems(self) -> list[str]:
        """Values that make the stream undecodable (empty when the block is sane)."""
        p = []
        if self.sample_rate == 0:
            p.append("sample rate is 0")
        if self.bits_per_sample < 4:
            p.append(f"{self.bits_per_sample} bits per sample")
        return p

    def oddities(self) -> list[str]:
        """Values the format forbids that decoders do not rely on (block and frame size bounds)."""
        p = []
        if self.min_blocksize < 16 and not (
            self.min_blocksize == self.max_blocksize and self.total_samples < 16
        ):
            p.append(f"minimum block size {self.min_blocksize} is below 16")
        if self.max_blocksize < self.min_blocksize:
            p.append(f"maximum block size {self.max_blocksize} is below the minimum {self.min_blocksize}")
        if self.max_framesize and self.min_framesize > self.max_framesize:
            p.append(f"maximum frame size {self.max_framesize} is below the minimum {self.min_framesize}")
        return p


@dataclass(frozen=True, slots=True)
class MetadataBlock:
    """One metadata block header: type, payload offset and length, last-block flag."""

    type: int
    offset: int  # of the payload
    length: int
    last: bool

    @property
    def name(self) -> str:
        return BLOCK_NAMES.get(self.type, f"type {self.type}")


def parse_streaminfo(payload: bytes) -> StreamInfo:
    """Parse the 34-byte STREAMINFO payload."""
    if len(payload) < 34:
        raise FlacInfoError(f"STREAMINFO is {len(payload)} bytes, expected 34")
    packed = int.from_bytes(payload[10:18], "big")
    return StreamInfo(
        min_blocksize=int.from_bytes(payload[0:2], "big"),
        max_blocksize=int.from_bytes(payload[2:4], "big"),
        min_framesize=int.from_bytes(payload[4:7], "big"),
        max_framesize=int.from_bytes(payload[7:10], "big"),
        sample_rate=packed >> 44,
        channels=((packed >> 41) & 0x7) + 1,
        bits_per_sample=((packed >> 36) & 0x1F) + 1,
        total_samples=packed & ((1 << 36) - 1),
        md5=bytes(payload[18:34]),
    )


def flac_start(fd: int) -> int:
    """Offset of the ``fLaC`` marker: 0, or after ID3v2 tags some taggers put in front."""
    head = pread_exact(fd, 0, 10)
    offset = 0
    for _ in range(16):
        size = id3v2_size(head)
        if size is None:
            break
        offset += size
        head = pread_exact(fd, offset, 10)
    return offset


def metadata_blocks(fd: int, start: int, file_size: int) -> tuple[list[MetadataBlock], int]:
    """The metadata block headers after ``fLaC`` at ``start`` and the offset where audio frames begin.

    Raises :class:`FlacInfoError` for a missing marker or a block header that cannot be read; a block
    running past the end of the file is returned as is (the caller reports truncation).
    """
    if pread_exact(fd, start, 4) != b"fLaC":
        raise FlacInfoError("no fLaC marker")
    pos = start + 4
    blocks: list[MetadataBlock] = []
    for _ in range(100_000):
        hdr = pread_exact(fd, pos, 4)
        if len(hdr) < 4:
            raise FlacInfoError(f"file ends inside a metadata block header at byte {pos}")
        last = bool(hdr[0] & 0x80)
        btype = hdr[0] & 0x7F
        length = int.from_bytes(hdr[1:4], "big")
        block = MetadataBlock(btype, pos + 4, length, last)
        blocks.append(block)
        pos = block.offset + length
        if last or pos > file_size:
            return blocks, pos
    raise FlacInfoError("too many metadata blocks")


def read_streaminfo(path: str) -> StreamInfo | None:
    """STREAMINFO of a FLAC file, or None when the file is not FLAC or the block is unreadable.

    Raises :class:`pixelprobe_tui.core.media.UnreadableError` when the file cannot be opened.
    """
    fd, st = open_for_reading(path)
    try:
        start = flac_start(fd)
        try:
            blocks, _ = metadata_blocks(fd, start, st.st_size)
        except FlacInfoError:
            return None
        first = blocks[0]
        if first.type != STREAMINFO or first.length < 34:
            return None
        try:
            return parse_streaminfo(pread_exact(fd, first.offset, 34))
        except FlacInfoError:
            return None
    finally:
        os.close(fd)
