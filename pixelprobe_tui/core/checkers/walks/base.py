"""What every structural walk shares: a positional reader with a small cache and a findings collector."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pixelprobe_tui.core.media import Sniff, UnreadableError
from pixelprobe_tui.core.verdict import Finding, Severity

# Walks that visit every frame or block header (Matroska blocks, AVI chunks, FLV tags) run in quick mode only
# on files up to this size; beyond it they need ``deep`` (the decoder reads those files anyway).
BLOCK_WALK_LIMIT = 2 << 30


class Reader:
    """Positional reads on an open file descriptor.

    Small reads are served from a read-ahead window so header-by-header walks cost one syscall per window,
    not per header. Reads past the end return short data; an I/O error raises :class:`UnreadableError`.
    """

    def __init__(self, fd: int, size: int, window: int = 256 * 1024, base: int = 0):
        self.fd = fd
        self.base = base  # where the container starts in the file (after a foreign prefix such as ID3v2)
        self.size = size - base
        self._window = window
        self._start = 0
        self._buf = b""
        self.bytes_read = 0

    def _pread(self, offset: int, n: int) -> bytes:
        chunks = []
        while n > 0:
            try:
                b = os.pread(self.fd, n, offset + self.base)
            except BlockingIOError:
                continue
            except OSError as e:
                raise UnreadableError(
                    "", "io_error", f"read error at byte {offset}: {e.strerror or e}"
                ) from e
            if not b:
                break
            chunks.append(b)
            self.bytes_read += len(b)
            offset += len(b)
            n -= len(b)
        return b"".join(chunks)

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset``; shorter only at the end of the file."""
        if offset < 0 or n <= 0 or offset >= self.size:
            return b""
        end = offset + n
        if self._start <= offset and end <= self._start + len(self._buf):
            return self._buf[offset - self._start : end - self._start]
        if n > self._window // 4:
            return self._pread(offset, n)
        self._buf = self._pread(offset, self._window)
        self._start = offset
        return self._buf[:n]

    def chunks(self, offset: int, end: int, chunk: int = 1 << 20) -> Iterator[bytes]:
        """Stream ``[offset, end)`` in pieces (for CRCs over payloads), bypassing the cache."""
        end = min(end, self.size)
        while offset < end:
            b = self._pread(offset, min(chunk, end - offset))
            if not b:
                return
            yield b
            offset += len(b)

    def all_zero(self, offset: int, end: int, limit: int = 1 << 20) -> bool:
        """True when ``[offset, end)`` holds only zero bytes (checks at most ``limit`` bytes from each end)."""
        end = min(end, self.size)
        if end - offset <= 2 * limit:
            return not any(b.strip(b"\x00") for b in self.chunks(offset, end))
        return not self.read(offset, limit).strip(b"\x00") and not self.read(end - limit, limit).strip(
            b"\x00"
        )


@dataclass
class Notes:
    """Findings collected by one walk, all under one tool name (``structure:<format>``)."""

    tool: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # parsed details other code may use (family, ...)

    def add(self, severity: Severity, code: str, message: str) -> None:
        self.findings.append(Finding(severity=severity, code=code, tool=self.tool, message=message))

    def corrupt(self, code: str, message: str) -> None:
        self.add(Severity.CORRUPT, code, message)

    def warning(self, code: str, message: str) -> None:
        self.add(Severity.WARNING, code, message)

    def info(self, code: str, message: str) -> None:
        self.add(Severity.INFO, code, message)

    @property
    def has_corrupt(self) -> bool:
        return any(f.severity is Severity.CORRUPT for f in self.findings)

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}


@dataclass(frozen=True)
class WalkContext:
    """What a walk may need besides the bytes."""

    sniff: Sniff
    deep: bool = False


def fourcc(b: bytes) -> str:
    """A four-character code for messages, with unprintable bytes escaped."""
    return "".join(chr(c) if 32 <= c < 127 else f"\\x{c:02x}" for c in b)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def trailing(r: Reader, out: Notes, offset: int, what: str) -> None:
    """Record bytes after the logical end of the file: zero padding is info, anything else a warning."""
    extra = r.size - offset
    if extra <= 0:
        return
    if r.all_zero(offset, r.size):
        out.info("trailing_zeros", f"{plural(extra, 'zero byte')} after the {what}")
    elif r.read(r.size - 4, 4) == b"SEFT":
        out.info("trailer", f"{plural(extra, 'byte')} of Samsung metadata (SEF trailer) after the {what}")
    else:
        out.warning("trailing_data", f"{plural(extra, 'byte')} of unrecognised data after the {what}")


def trailing_tags(r: Reader, end: int | None = None) -> tuple[int, list[str]]:
    """Strip ID3v1, Lyrics3v2 and APEv2 tags from the end; (where the audio ends, tag names found)."""
    end = r.size if end is None else end
    found: list[str] = []
    for _ in range(8):
        if end >= 128 and r.read(end - 128, 3) == b"TAG":
            end -= 128
            found.append("ID3v1")
            if end >= 227 and r.read(end - 227, 4) == b"TAG+":
                end -= 227
            continue
        if end >= 15 and r.read(end - 9, 9) == b"LYRICS200":
            digits = r.read(end - 15, 6)
            if digits.isdigit() and end - 15 - int(digits) >= 0:
                end -= 15 + int(digits)
                found.append("Lyrics3")
                continue
        if end >= 32 and r.read(end - 32, 8) == b"APETAGEX":
            footer = r.read(end - 32, 32)
            tag_size = int.from_bytes(footer[12:16], "little")
            flags = int.from_bytes(footer[20:24], "little")
            total = tag_size + (32 if flags & 0x80000000 else 0)
            if 32 <= total <= end:
                end -= total
                found.append("APEv2")
                continue
        break
    return end, found
