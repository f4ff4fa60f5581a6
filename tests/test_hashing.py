"""Content hashes on real files: known answers, chunking, progress, stalls, and the incremental snapshot."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import xxhash

from pixelprobe_tui.core.discovery import walk
from pixelprobe_tui.core.hashing import (
    ContentHasher,
    FileSnapshot,
    ReadProgress,
    StorageStalled,
    format_hash,
    hash_file,
    parse_hash,
    unchanged,
)

DATA = os.urandom(3 * (1 << 20) + 17)


@pytest.fixture
def big(tmp_path: Path) -> Path:
    p = tmp_path / "big.mkv"
    p.write_bytes(DATA)
    return p


def test_known_answer() -> None:
    h = ContentHasher()
    h.update(b"abc")
    # The published xxh3-128 digest of "abc", so a switch to another function can't pass unnoticed.
    assert h.value() == "xxh3_128:06b05ab6733a618578af5f94892f3950"
    assert h.hexdigest() == xxhash.xxh3_128(b"abc").hexdigest()


def test_hash_file_matches_xxhash_directly(big: Path) -> None:
    assert hash_file(big) == "xxh3_128:" + xxhash.xxh3_128(DATA).hexdigest()


@pytest.mark.parametrize(
    ("chunk_size", "length"), [(1 << 20, None), (4096, None), (10 << 20, None), (7, 50_000)]
)
def test_chunked_equals_one_shot(tmp_path: Path, chunk_size: int, length: int | None) -> None:
    data = DATA[:length]  # tiny chunks on a shorter file, to keep the test quick
    p = tmp_path / "f.mkv"
    p.write_bytes(data)
    one_shot = ContentHasher()
    one_shot.update(data)
    assert hash_file(p, chunk_size=chunk_size) == one_shot.value()
    fed = ContentHasher()
    for i in range(0, len(data), chunk_size):
        fed.update(memoryview(data)[i : i + chunk_size])
    assert fed.value() == one_shot.value()


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert hash_file(tmp_path / "empty.jpg") == "xxh3_128:" + xxhash.xxh3_128(b"").hexdigest()


def test_progress_counts_bytes_read(big: Path) -> None:
    progress = ReadProgress()
    hash_file(big, progress=progress, chunk_size=1 << 16)
    assert progress.bytes_done == len(DATA)
    h = ContentHasher()
    h.update(b"12345")
    h.update(b"")
    assert h.bytes_done == 5 and h.progress.bytes_done == 5


def test_stall_timeout_on_a_healthy_file_gives_the_same_hash(big: Path) -> None:
    assert hash_file(big, stall_timeout=30) == hash_file(big)


def test_errors_propagate(tmp_path: Path) -> None:
    for timeout in (None, 5.0):
        with pytest.raises(FileNotFoundError):
            hash_file(tmp_path / "missing.mp4", stall_timeout=timeout)
        with pytest.raises(IsADirectoryError):
            hash_file(tmp_path, stall_timeout=timeout)
    with pytest.raises(ValueError):
        hash_file(tmp_path / "x", chunk_size=0)
    with pytest.raises(ValueError):
        hash_file(tmp_path / "x", stall_timeout=0)


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hash-reader:")]


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    # A FIFO stands in for a dead mount: open() blocks without a writer, read() blocks while the writer
    # keeps its end open without writing.
    path = tmp_path / "stalled.mp4"
    os.mkfifo(path)
    yield path
    for t in _reader_threads():
        t.join(5)
    assert not _reader_threads(), "the abandoned reader did not stop once the storage answered"


@pytest.mark.timeout(30)
def test_stall_in_open_raises_storage_stalled(fifo: Path) -> None:
    with pytest.raises(StorageStalled) as info:
        hash_file(fifo, stall_timeout=0.2)
    assert info.value.bytes_done == 0 and "storage stalled" in str(info.value)
    # Let the abandoned open() return (a writer appears, then goes away: EOF) so the thread can end.
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.timeout(30)
def test_stall_in_read_raises_with_the_bytes_read_so_far(fifo: Path) -> None:
    opened = threading.Event()
    holder: list[int] = []

    def writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)  # blocks until the reader opens
        os.write(fd, b"x" * 1000)
        holder.append(fd)
        opened.set()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    progress = ReadProgress()
    try:
        with pytest.raises(StorageStalled) as info:
            hash_file(fifo, stall_timeout=0.3, progress=progress)
        assert info.value.bytes_done == 1000 == progress.bytes_done
    finally:
        opened.wait(5)
        for fd in holder:
            os.close(fd)  # EOF for the blocked reader, which then notices it was abandoned


@pytest.mark.timeout(30)
def test_slow_but_moving_storage_is_not_a_stall(fifo: Path) -> None:
    pieces = [bytes([i]) * 1000 for i in range(5)]

    def writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)
        for piece in pieces:
            os.write(fd, piece)
            time.sleep(0.05)
        os.close(fd)

    threading.Thread(target=writer, daemon=True).start()
    progress = ReadProgress()
    started = progress.last_change
    value = hash_file(fifo, stall_timeout=5, progress=progress, chunk_size=4096)
    assert value == "xxh3_128:" + xxhash.xxh3_128(b"".join(pieces)).hexdigest()
    assert progress.bytes_done == 5000 and progress.last_change > started


def test_parse_hash() -> None:
    assert parse_hash("xxh3_128:ABCDEF0123") == ("xxh3_128", "abcdef0123")
    assert parse_hash(format_hash("blake3", "00ff")) == ("blake3", "00ff")
    assert parse_hash("d41d8cd98f00b204e9800998ecf8427e") == ("unknown", "d41d8cd98f00b204e9800998ecf8427e")
    for bad in ("", "xxh3_128:", ":abcd", "xxh3_128:not-hex"):
        with pytest.raises(ValueError):
            parse_hash(bad)


def test_snapshot_detects_changes(tmp_path: Path) -> None:
    p = tmp_path / "a.jpg"
    p.write_bytes(b"one")
    prev = FileSnapshot.from_stat(os.stat(p))
    assert unchanged(prev, FileSnapshot.from_stat(os.stat(p)))
    assert not unchanged(None, prev)
    assert not unchanged(FileSnapshot(prev.size, prev.mtime_ns, None), prev)

    os.utime(p, ns=(prev.mtime_ns + 1_000_000_000, prev.mtime_ns + 1_000_000_000))
    assert not unchanged(prev, FileSnapshot.from_stat(os.stat(p)))

    # Replaced by a new file with the same size and mtime: only the inode tells.
    q = tmp_path / "new.jpg"
    q.write_bytes(b"two")
    os.utime(q, ns=(prev.mtime_ns, prev.mtime_ns))
    os.replace(q, p)
    now = FileSnapshot.from_stat(os.stat(p))
    assert now.size == prev.size and now.mtime_ns == prev.mtime_ns
    assert not unchanged(prev, now)


def test_file_truncated_between_discovery_and_check(tmp_path: Path) -> None:
    p = tmp_path / "clip.mp4"
    p.write_bytes(DATA[:100_000])
    [found] = walk([tmp_path])
    with open(p, "r+b") as f:
        f.truncate(10)
    now = FileSnapshot.from_stat(os.stat(p))
    assert not unchanged(found.snapshot, now)
    assert hash_file(p) == "xxh3_128:" + xxhash.xxh3_128(DATA[:10]).hexdigest()
