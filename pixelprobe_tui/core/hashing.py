"""Streaming content hashes, and the stat snapshot that lets an incremental scan skip unchanged files.

A content hash is stored as ``"<algorithm>:<hex>"`` (``"xxh3_128:06b05ab6..."``), so a later change of
algorithm never compares two different functions' outputs. xxh3-128 runs at memory speed, which keeps the
hash from becoming the bottleneck when the checker reads the file anyway.

Stalls: a ``read()`` on a dead network mount can block for minutes and cannot be interrupted from the thread
that is blocked in it. Stall detection is therefore the caller's job: every reader here counts its bytes in a
:class:`ReadProgress`, and a watchdog in another thread compares that counter over time. :func:`hash_file`
can play that watchdog itself when given ``stall_timeout`` (it then reads in a helper thread and gives up on
it when the counter stops moving).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import NamedTuple

import xxhash

HASH_ALGORITHM = "xxh3_128"
DEFAULT_CHUNK_SIZE = 1 << 20


class StorageStalled(TimeoutError):
    """Reading a file made no progress for longer than the allowed stall timeout."""

    def __init__(self, path: str, seconds: float, bytes_done: int) -> None:
        super().__init__(f"storage stalled: no data for {seconds:g} s after {bytes_done} bytes of {path}")
        self.path = path
        self.seconds = seconds
        self.bytes_done = bytes_done


class ReadProgress:
    """A progress counter for one read, shared between the reader and a watchdog thread.

    The reader calls :meth:`advance`; the watchdog reads :attr:`bytes_done` and :attr:`last_change`
    (``time.monotonic()`` of the last progress, or of creation). Plain attribute reads and writes of ints
    and floats are atomic under the GIL, so no lock is needed.
    """

    __slots__ = ("bytes_done", "last_change")

    def __init__(self) -> None:
        self.bytes_done = 0
        self.last_change = time.monotonic()

    def advance(self, n: int) -> None:
        """Record *n* more bytes read (0 is ignored: no data is no progress)."""
        if n:
            self.bytes_done += n
            self.last_change = time.monotonic()

    def stalled_for(self, now: float | None = None) -> float:
        """Seconds since the counter last moved."""
        return (time.monotonic() if now is None else now) - self.last_change


class ContentHasher:
    """Incremental content hash that a checker feeds while it reads, so each file is read once.

    >>> h = ContentHasher(); h.update(b"abc"); h.value()
    'xxh3_128:06b05ab6733a618578af5f94892f3950'
    """

    __slots__ = ("_h", "progress")

    algorithm = HASH_ALGORITHM

    def __init__(self, progress: ReadProgress | None = None) -> None:
        self._h = xxhash.xxh3_128()
        self.progress = progress if progress is not None else ReadProgress()

    @property
    def bytes_done(self) -> int:
        """Bytes hashed so far (the watchdog's progress counter)."""
        return self.progress.bytes_done

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Add the next chunk of the file's content."""
        self._h.update(data)
        self.progress.advance(len(data))

    def hexdigest(self) -> str:
        """The bare hex digest of everything fed so far (the hasher stays usable)."""
        return self._h.hexdigest()

    def value(self) -> str:
        """The digest as stored: ``"xxh3_128:<hex>"``."""
        return f"{HASH_ALGORITHM}:{self._h.hexdigest()}"


def format_hash(algorithm: str, hexdigest: str) -> str:
    """Build a stored hash value from its parts."""
    return f"{algorithm}:{hexdigest}"


def parse_hash(value: str) -> tuple[str, str]:
    """Split a stored hash value into ``(algorithm, hex)``.

    A bare hex string (a value written before algorithms were recorded) parses as algorithm ``"unknown"``,
    so it never compares equal to a value of a known algorithm by accident. Raises ``ValueError`` when the
    value is empty or its digest part is not hexadecimal.
    """
    algorithm, sep, digest = value.strip().rpartition(":")
    if not sep:
        algorithm = "unknown"
    digest = digest.lower()
    if not digest or (sep and not algorithm):
        raise ValueError(f"not a content hash: {value!r}")
    try:
        int(digest, 16)
    except ValueError:
        raise ValueError(f"not a content hash (digest is not hexadecimal): {value!r}") from None
    return algorithm, digest


def _read_into(path: str, hasher: ContentHasher, chunk_size: int, cancel: threading.Event | None) -> None:
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        # Tell the kernel we read front to back once: bigger readahead, less page-cache pollution.
        if hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while True:
            if cancel is not None and cancel.is_set():
                return
            n = f.readinto(buf)
            if not n:
                return
            hasher.update(view[:n])


def hash_file(
    path: str | os.PathLike[str],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ReadProgress | None = None,
    stall_timeout: float | None = None,
) -> str:
    """Hash a whole file and return ``"xxh3_128:<hex>"``.

    *progress* is updated as chunks are read, for a watchdog in another thread. Without *stall_timeout*
    the read happens in the calling thread and can block as long as the storage does. With it, the read
    runs in a daemon helper thread and :class:`StorageStalled` is raised once no byte has arrived for
    *stall_timeout* seconds (including a hung ``open()``); the blocked helper is abandoned and stops at its
    next chunk if the storage ever answers. OS errors (missing file, permission) propagate unchanged.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    path = os.fspath(path)
    hasher = ContentHasher(progress)
    if stall_timeout is None:
        _read_into(path, hasher, chunk_size, None)
        return hasher.value()
    if stall_timeout <= 0:
        raise ValueError("stall_timeout must be positive")

    cancel = threading.Event()
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            _read_into(path, hasher, chunk_size, cancel)
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
        finally:
            done.set()

    prog = hasher.progress
    prog.last_change = time.monotonic()
    threading.Thread(target=run, name=f"hash-reader:{os.path.basename(path)}", daemon=True).start()
    while not done.wait(max(0.0, prog.last_change + stall_timeout - time.monotonic())):
        if prog.stalled_for() >= stall_timeout:
            cancel.set()
            raise StorageStalled(path, stall_timeout, prog.bytes_done)
    if failure:
        raise failure[0]
    return hasher.value()


class FileSnapshot(NamedTuple):
    """What an incremental scan compares to decide whether a file must be read again.

    ``None`` fields mean "not known" (a row written before the column existed).
    """

    size: int | None
    mtime_ns: int | None
    inode: int | None

    @classmethod
    def from_stat(cls, st: os.stat_result) -> FileSnapshot:
        """Snapshot from an ``os.stat()`` / ``DirEntry.stat()`` result."""
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


def unchanged(prev: FileSnapshot | None, now: FileSnapshot) -> bool:
    """True when *now* matches the snapshot *prev* taken at the last completed check.

    Unknown values never count as a match: a file with an incomplete earlier snapshot is read once more, and
    its next snapshot is complete.
    """
    if prev is None:
        return False
    if None in prev or None in now:
        return False
    return prev.size == now.size and prev.mtime_ns == now.mtime_ns and prev.inode == now.inode
