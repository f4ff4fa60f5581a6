"""``discovery.effective_roots``: which of many given roots a scan walks (nested, repeated, aliased), fast."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from pixelprobe_tui.core import discovery
from pixelprobe_tui.core.discovery import effective_roots


def _reference(roots: list[str]) -> tuple[list[str], list[str]]:
    """The rule by brute force (every pair): kept roots, and dropped roots, both in the given order."""
    cand = [(os.path.abspath(r), os.path.realpath(os.path.abspath(r))) for r in roots]

    def within(a: str, b: str) -> bool:
        return a != b and (a + "/").startswith(b.rstrip("/") + "/")

    kept, dropped = [], []
    for i, (p, real) in enumerate(cand):
        first = next(j for j, (_, other) in enumerate(cand) if other == real)
        nested = any(within(real, other) for _, other in cand)
        (dropped if nested or first != i else kept).append(p)
    return kept, dropped


def test_nested_roots_are_dropped_whatever_their_order(tmp_path: Path) -> None:
    r = str(tmp_path)
    given = [f"{r}/a/b", f"{r}/a-b", f"{r}/a", f"{r}/ab", f"{r}/a/b/c", f"{r}/a.b/x"]
    kept, dropped = effective_roots(given)
    assert kept == [f"{r}/a-b", f"{r}/a", f"{r}/ab", f"{r}/a.b/x"]  # siblings sharing a prefix stay
    assert dropped == [(f"{r}/a/b", f"inside {r}/a"), (f"{r}/a/b/c", f"inside {r}/a")]


def test_the_same_path_twice_keeps_the_first_spelling(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    os.symlink(tmp_path / "lib", tmp_path / "alias")
    r = str(tmp_path)
    kept, dropped = effective_roots([f"{r}/alias", f"{r}/lib/", f"{r}/lib", f"{r}/x", f"{r}/./x"])
    assert kept == [f"{r}/alias", f"{r}/x"]
    assert dropped == [
        (f"{r}/lib", f"same as {r}/alias"),
        (f"{r}/lib", f"same as {r}/alias"),
        (f"{r}/x", f"same as {r}/x"),
    ]


def test_files_under_a_given_directory_go_with_it(tmp_path: Path) -> None:
    r = str(tmp_path)
    files = [f"{r}/lib/d{i % 7}/f{i}.mp4" for i in range(500)]
    elsewhere = [f"{r}/lib-2/f{i}.mp4" for i in range(5)]
    kept, dropped = effective_roots([*files, *elsewhere, f"{r}/lib"])
    assert kept == [*elsewhere, f"{r}/lib"]
    assert [p for p, _ in dropped] == files and {why for _, why in dropped} == {f"inside {r}/lib"}
    # The file system root contains everything.
    assert effective_roots([*elsewhere, "/"]) == (["/"], [(p, "inside /") for p in elsewhere])


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_the_pairwise_rule_on_random_trees(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    names = ["a", "a-b", "ab", "a.b", "b", "a b", "\u00e9"]
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "a")
    roots = []
    for _ in range(300):
        depth = rnd.randint(1, 4)
        roots.append(str(tmp_path.joinpath(*(rnd.choice(names) for _ in range(depth)))))
    roots += [str(tmp_path / "real" / "b"), str(tmp_path / "real")]
    rnd.shuffle(roots)
    kept, dropped = effective_roots(roots)
    assert (kept, [p for p, _ in dropped]) == _reference(roots)


def test_comparisons_grow_with_n_not_n_squared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    within = discovery._within

    def counting(path: str, ancestor: str) -> bool:
        nonlocal calls
        calls += 1
        return within(path, ancestor)

    monkeypatch.setattr(discovery, "_within", counting)
    files = [f"{tmp_path}/d{i % 50}/f{i}.jpg" for i in range(4000)]
    kept, dropped = effective_roots(files)
    assert len(kept) == 4000 and not dropped
    assert calls <= len(files)  # the pairwise version made ~16 million comparisons here


def test_each_file_is_charged_to_its_own_root():
    from pixelprobe_tui.services.scan import _RootHealth

    kept, _ = effective_roots(["/lib/a", "/lib/a-b", "/srv/x.mp4", *(f"/many/f{i}.jpg" for i in range(5000))])
    health = _RootHealth(kept, 3)
    assert health.root_of("/lib/a/sub/clip.mp4") == "/lib/a"
    assert health.root_of("/lib/a-b/clip.mp4") == "/lib/a-b"
    assert health.root_of("/lib/a") == "/lib/a"
    assert health.root_of("/srv/x.mp4") == "/srv/x.mp4"
    assert health.root_of("/many/f4999.jpg") == "/many/f4999.jpg"
    assert health.root_of("/lib/ab/clip.mp4") == "" and health.root_of("/elsewhere") == ""
    assert _RootHealth(["/"], 3).root_of("/any/file.mp4") == "/"
