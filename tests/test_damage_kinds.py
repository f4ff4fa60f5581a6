"""The damage sweep's realistic damage kinds (the newer samples.DAMAGES and samples.SWEEP_DAMAGES): each does
what its name says."""

from __future__ import annotations

import random

import pytest

from pixelprobe_tui.core import samples

DATA = random.Random(7).randbytes(300_000)
SEEDS = range(25)


def _hurt(how: str, seed: int, data: bytes = DATA) -> bytes:
    return samples.damage(data, how, random.Random(seed))


@pytest.mark.parametrize("seed", SEEDS)
def test_zeroed_block_is_an_aligned_run_of_4_to_64_kib(seed: int) -> None:
    out = _hurt("zeroed_block", seed)
    assert len(out) == len(DATA)
    diff = [i for i, (a, b) in enumerate(zip(DATA, out, strict=True)) if a != b]
    assert diff and all(out[i] == 0 for i in diff)
    start = diff[0] - diff[0] % 4096
    assert out[start : diff[-1] + 1] == bytes(diff[-1] + 1 - start)
    # The run starts on a 4 KiB boundary and spans whole 4 KiB sectors (or reaches the end of the file).
    span_end = start + 4096 * -(-(diff[-1] + 1 - start) // 4096)
    assert 4096 <= span_end - start <= 64 * 1024


@pytest.mark.parametrize("seed", SEEDS)
def test_dropped_block_removes_512_to_8192_bytes_from_the_middle(seed: int) -> None:
    out = _hurt("dropped_block", seed)
    lost = len(DATA) - len(out)
    assert 512 <= lost <= 8192
    at = next(i for i, (a, b) in enumerate(zip(DATA, out, strict=False)) if a != b)
    assert len(DATA) // 10 <= at and out == DATA[:at] + DATA[at + lost :]


@pytest.mark.parametrize("seed", SEEDS)
def test_inserted_block_adds_512_to_4096_bytes(seed: int) -> None:
    out = _hurt("inserted_block", seed)
    added = len(out) - len(DATA)
    assert 512 <= added <= 4096
    at = next(i for i, (a, b) in enumerate(zip(DATA, out, strict=False)) if a != b)
    assert out[:at] == DATA[:at] and out[at + added :] == DATA[at:]


@pytest.mark.parametrize("seed", SEEDS)
def test_tail_cut_and_early_cut_keep_a_prefix(seed: int) -> None:
    tail = _hurt("tail_cut", seed)
    assert DATA.startswith(tail) and 1 <= len(DATA) - len(tail) <= 4096
    early = _hurt("early_cut", seed)
    assert DATA.startswith(early) and 64 <= len(early) <= 2048


@pytest.mark.parametrize("seed", SEEDS)
def test_dup_block_writes_a_block_twice_in_a_row(seed: int) -> None:
    out = _hurt("dup_block", seed)
    block = len(out) - len(DATA)
    assert 512 <= block <= 8192
    at = next(i for i, (a, b) in enumerate(zip(DATA, out, strict=False)) if a != b)
    # Find where the copy starts: the bytes before the divergence end with the block that is repeated.
    starts = [s for s in range(max(0, at - block), at + 1) if out == DATA[: s + block] + DATA[s:]]
    assert starts


@pytest.mark.parametrize("seed", SEEDS)
def test_flip_1_flips_one_bit_after_the_first_percent(seed: int) -> None:
    out = _hurt("flip_1", seed)
    diff = [(i, a ^ b) for i, (a, b) in enumerate(zip(DATA, out, strict=True)) if a != b]
    assert len(diff) == 1
    at, xor = diff[0]
    assert at >= len(DATA) // 100 and bin(xor).count("1") == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_head_flip_flips_one_bit_in_the_first_4_kib(seed: int) -> None:
    out = _hurt("head_flip", seed)
    diff = [(i, a ^ b) for i, (a, b) in enumerate(zip(DATA, out, strict=True)) if a != b]
    assert len(diff) == 1 and diff[0][0] < 4096 and bin(diff[0][1]).count("1") == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_zero_tail_zeroes_the_end_and_keeps_the_size(seed: int) -> None:
    out = _hurt("zero_tail", seed)
    kept = len(out.rstrip(b"\x00"))
    assert len(out) == len(DATA) and out[:kept] == DATA[:kept]
    assert 0.01 * len(DATA) - 1 <= len(DATA) - kept <= 0.5 * len(DATA) + 1


@pytest.mark.parametrize("seed", SEEDS)
def test_swap_blocks_reorders_bytes_without_losing_any(seed: int) -> None:
    out = _hurt("swap_blocks", seed)
    assert len(out) == len(DATA) and out != DATA and sorted(out) == sorted(DATA)


@pytest.mark.parametrize("seed", SEEDS)
def test_boundary_cut_stops_just_before_a_unit_start(seed: int) -> None:
    pages = b"".join(b"OggS" + random.Random(i).randbytes(3000) for i in range(100))
    out = samples.damage(pages, "boundary_cut", random.Random(seed))
    assert pages.startswith(out) and 0.2 * len(pages) <= len(out) <= 0.95 * len(pages)
    # Just before a unit start: a page here, or a sync word the random payload happens to hold.
    assert pages[len(out) : len(out) + 4] == b"OggS" or samples._BOUNDARIES.match(pages, len(out))


@pytest.mark.parametrize("how", [*samples.DAMAGES[6:], *samples.SWEEP_DAMAGES])
def test_sweep_damage_is_seeded_changes_the_data_and_handles_tiny_inputs(how: str) -> None:
    a = _hurt(how, 3)
    assert a == _hurt(how, 3)
    assert a != DATA and any(a != _hurt(how, seed) for seed in (4, 5, 6))
    for tiny in (b"", b"x", b"0123456789", bytes(100)):
        samples.damage(tiny, how, random.Random(0))  # must not raise


def test_sweep_damages_extend_the_benchmark_damages() -> None:
    """The realistic kinds the sweep found always caught are benchmark damages; the rest stay sweep-only."""
    assert {"zeroed_block", "dropped_block", "inserted_block", "tail_cut", "early_cut", "dup_block"} <= set(
        samples.DAMAGES
    )
    assert samples.SWEEP_DAMAGES == ("flip_1", "zero_tail", "swap_blocks", "boundary_cut", "head_flip")
    with pytest.raises(ValueError, match="flip_1"):
        samples.damage(DATA, "melted", random.Random(0))
