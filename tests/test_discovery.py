"""Discovery on real file trees: junk, exclusions, special files, symlinks, permissions, odd names, roots."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pixelprobe_tui.core.discovery import (
    DEFAULT_EXTENSIONS,
    JUNK_NAMES,
    DiscoveredFile,
    Exclusions,
    IssueKind,
    WalkIssue,
    display_path,
    effective_roots,
    is_junk,
    path_from_db,
    path_to_db,
    walk,
)
from pixelprobe_tui.core.hashing import hash_file


def touch(path: Path | bytes, data: bytes = b"") -> None:
    raw = os.fsencode(path)
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def paths(root: Path | str, **kwargs: Any) -> list[str]:
    return [f.path for f in walk([root], **kwargs)]


def rel(root: Path, found: list[str]) -> list[str]:
    return [os.path.relpath(p, root) for p in found]


def kinds(issues: list[WalkIssue]) -> list[tuple[str, str]]:
    return [(i.kind.value, os.path.basename(i.path)) for i in issues]


# ---------------------------------------------------------------------------------------------------------
# Basics


def test_yields_media_files_with_their_stat_fields_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    touch(tmp_path / "b" / "clip.MKV", b"x" * 10)
    touch(tmp_path / "a.jpg", b"12345")
    touch(tmp_path / "song.flac")
    touch(tmp_path / "notes.txt", b"not media")
    touch(tmp_path / "noext")

    w = walk([tmp_path])
    found = list(w)

    assert rel(tmp_path, [f.path for f in found]) == ["a.jpg", "song.flac", "b/clip.MKV"]
    by_name = {os.path.basename(f.path): f for f in found}
    st = os.lstat(tmp_path / "a.jpg")
    assert by_name["a.jpg"] == DiscoveredFile(
        str(tmp_path / "a.jpg"), 5, st.st_mtime_ns, st.st_ino, st.st_dev, "image"
    )
    assert by_name["a.jpg"].snapshot == (5, st.st_mtime_ns, st.st_ino)
    assert by_name["clip.MKV"].family == "video"
    assert by_name["song.flac"].family == "audio"
    rep = w.report
    assert rep.finished and not rep.incomplete and rep.incomplete_reason is None
    assert rep.files_found == 3 and rep.bytes_found == 15
    assert rep.not_media == 2
    assert rep.directories_visited == 2


def test_zero_byte_files_are_yielded(tmp_path: Path) -> None:
    touch(tmp_path / "empty.mp4")
    [f] = walk([tmp_path])
    assert f.size == 0 and f.family == "video"


def test_directory_named_like_media_is_walked_not_yielded(tmp_path: Path) -> None:
    (tmp_path / "x.mp4").mkdir()
    touch(tmp_path / "x.mp4" / "inner.mp4", b"v")
    assert rel(tmp_path, paths(tmp_path)) == ["x.mp4/inner.mp4"]


def test_custom_extension_table_is_case_and_dot_insensitive(tmp_path: Path) -> None:
    touch(tmp_path / "a.XYZ")
    touch(tmp_path / "b.jpg")
    found = list(walk([tmp_path], extensions={".Xyz": "video"}))
    assert [(os.path.basename(f.path), f.family) for f in found] == [("a.XYZ", "video")]


def test_default_table_covers_the_three_families() -> None:
    assert {DEFAULT_EXTENSIONS[e] for e in ("mp4", "mkv", "mp3", "flac", "jpg", "png", "heic")} == {
        "video",
        "audio",
        "image",
    }


def test_walk_is_lazy_and_can_be_abandoned(tmp_path: Path) -> None:
    for i in range(3):
        touch(tmp_path / f"{i}.jpg")
    w = walk([tmp_path])
    first = next(w)
    assert os.path.basename(first.path) == "0.jpg"
    w.close()
    assert not w.report.finished
    assert list(w) == []


def test_no_directory_handle_stays_open_while_the_caller_works(tmp_path: Path) -> None:
    for d in ("a", "a/b", "a/b/c"):
        (tmp_path / d).mkdir()
        touch(tmp_path / d / "f.jpg")
    before = set(os.listdir("/proc/self/fd"))
    w = walk([tmp_path])
    for _ in w:
        assert set(os.listdir("/proc/self/fd")) <= before


def test_hard_links_are_two_paths_unless_following(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg", b"x")
    os.link(tmp_path / "a.jpg", tmp_path / "b.jpg")
    assert rel(tmp_path, paths(tmp_path)) == ["a.jpg", "b.jpg"]
    assert rel(tmp_path, paths(tmp_path, follow_symlinks=True)) == ["a.jpg"]  # one real file, once


# ---------------------------------------------------------------------------------------------------------
# Junk


def test_junk_names_are_skipped_and_counted(tmp_path: Path) -> None:
    touch(tmp_path / "keep.jpg")
    for name in (".DS_Store", "._keep.jpg", "Thumbs.db", "DESKTOP.INI", "Icon\r"):
        touch(tmp_path / name)
    for d in ("@eaDir", "#recycle", ".Trash-1000", "lost+found", ".@__thumb", "$RECYCLE.BIN"):
        (tmp_path / d).mkdir()
        touch(tmp_path / d / "thumb.jpg")
    w = walk([tmp_path])
    assert rel(tmp_path, [f.path for f in w]) == ["keep.jpg"]
    assert w.report.junk_skipped == 11
    assert w.report.issues == []


def test_is_junk_matches_the_documented_list() -> None:
    assert all(is_junk(n) for n in JUNK_NAMES)
    assert is_junk("._IMG_0001.JPG") and is_junk(".Trash-0") and is_junk(".ds_store")
    assert not is_junk("holiday.jpg") and not is_junk(".hidden.jpg") and not is_junk("recycle")


# ---------------------------------------------------------------------------------------------------------
# Exclusions


def test_path_prefix_matches_whole_components(tmp_path: Path) -> None:
    for d in ("a/b/c", "a/bc", "a/b2"):
        (tmp_path / d).mkdir(parents=True)
        touch(tmp_path / d / "f.jpg")
    touch(tmp_path / "a" / "b" / "top.jpg")
    excl = Exclusions([("path", str(tmp_path / "a" / "b") + "/")])
    w = walk([tmp_path], exclusions=excl)
    assert rel(tmp_path, [f.path for f in w]) == ["a/b2/f.jpg", "a/bc/f.jpg"]
    assert w.report.excluded == 1  # the directory, pruned with its subtree
    assert excl.excludes(str(tmp_path / "a" / "b" / "c" / "f.jpg"))
    assert not excl.excludes(str(tmp_path / "a" / "bc" / "f.jpg"))


def test_excluding_a_single_file_by_path(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "b.jpg")
    assert rel(tmp_path, paths(tmp_path, exclusions=Exclusions([("path", str(tmp_path / "a.jpg"))]))) == [
        "b.jpg"
    ]


def test_glob_matches_full_path_or_basename(tmp_path: Path) -> None:
    for d in ("keep", "tmp_work", "deep/cache"):
        (tmp_path / d).mkdir(parents=True)
        touch(tmp_path / d / "f.jpg")
        touch(tmp_path / d / "f.part.mp4")
    excl = Exclusions(
        [
            ("path", "*.part.mp4"),  # basename glob
            ("path", "tmp_*"),  # basename glob on a directory
            ("path", str(tmp_path) + "/deep/*"),  # full-path glob
        ]
    )
    assert rel(tmp_path, paths(tmp_path, exclusions=excl)) == ["keep/f.jpg"]


def test_relative_path_value_matches_at_any_depth(tmp_path: Path) -> None:
    for d in ("x/Trash", "Trash", "x/Trashy", "y/sub/dir", "sub/dirx"):
        (tmp_path / d).mkdir(parents=True)
        touch(tmp_path / d / "f.jpg")
    excl = Exclusions([("path", "Trash"), ("path", "sub/dir")])
    assert rel(tmp_path, paths(tmp_path, exclusions=excl)) == ["sub/dirx/f.jpg", "x/Trashy/f.jpg"]


def test_extension_exclusion_is_case_insensitive_with_or_without_dot(tmp_path: Path) -> None:
    for name in ("a.MKV", "b.mkv", "c.Avi", "d.mp4"):
        touch(tmp_path / name)
    excl = Exclusions([("extension", ".mkv"), ("EXTENSION", "AVI")])
    w = walk([tmp_path], exclusions=excl)
    assert rel(tmp_path, [f.path for f in w]) == ["d.mp4"]
    assert w.report.excluded == 3


def test_exclusions_accept_row_objects_and_reject_bad_rows() -> None:
    class Row:
        def __init__(self, type: str, value: str) -> None:
            self.type, self.value = type, value

    excl = Exclusions([Row("extension", "mkv")])
    assert excl.excludes("/x/a.mkv") and not excl.excludes("/x/a.mkv", is_dir=True)
    assert not Exclusions() and excl
    with pytest.raises(ValueError, match="unknown exclusion type"):
        Exclusions([("regex", ".*")])
    with pytest.raises(ValueError, match="empty"):
        Exclusions([("extension", ".")])
    with pytest.raises(ValueError, match="empty"):
        Exclusions([("path", "  ")])


def test_excluded_root_yields_nothing(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    touch(tmp_path / "lib" / "a.jpg")
    w = walk([tmp_path / "lib"], exclusions=Exclusions([("path", str(tmp_path))]))
    assert list(w) == [] and w.report.excluded == 1


def test_root_exclusion_prefix_slash_excludes_everything(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg")
    assert paths(tmp_path, exclusions=Exclusions([("path", "/")])) == []


# ---------------------------------------------------------------------------------------------------------
# Roots


def test_same_root_twice_and_nested_roots_yield_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "lib" / "sub").mkdir(parents=True)
    touch(tmp_path / "lib" / "a.jpg")
    touch(tmp_path / "lib" / "sub" / "b.jpg")
    os.symlink(tmp_path / "lib", tmp_path / "alias")
    roots = [
        tmp_path / "lib" / "sub",
        str(tmp_path / "lib") + "/",
        tmp_path / "lib",
        str(tmp_path / "lib" / "." / "sub" / ".."),
        tmp_path / "alias",
        tmp_path / "alias" / "sub",
    ]
    w = walk(roots)
    found = [f.path for f in w]
    assert len(found) == len(set(found)) == 2
    assert w.report.roots == (str(tmp_path / "lib"),)
    reasons = dict(w.report.roots_dropped)
    assert reasons[str(tmp_path / "lib" / "sub")] == f"inside {tmp_path / 'lib'}"
    assert reasons[str(tmp_path / "alias")].startswith("same as")


def test_effective_roots_keeps_disjoint_roots_in_order(tmp_path: Path) -> None:
    kept, dropped = effective_roots([tmp_path / "b", tmp_path / "a", tmp_path / "ab"])
    assert kept == [str(tmp_path / "b"), str(tmp_path / "a"), str(tmp_path / "ab")] and dropped == []


def test_root_that_is_a_file_yields_it_whatever_its_extension(tmp_path: Path) -> None:
    touch(tmp_path / "clip.mp4", b"abc")
    touch(tmp_path / "mystery.bin")
    found = list(walk([tmp_path / "clip.mp4", tmp_path / "mystery.bin"]))
    assert [(os.path.basename(f.path), f.family, f.size) for f in found] == [
        ("clip.mp4", "video", 3),
        ("mystery.bin", None, 0),
    ]


def test_missing_root_is_reported_and_makes_the_run_incomplete(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    seen: list[WalkIssue] = []
    w = walk([tmp_path / "gone", tmp_path / "dangling", tmp_path / "a.jpg"], on_error=seen.append)
    assert [os.path.basename(f.path) for f in w] == ["a.jpg"]
    assert kinds(seen) == [("missing_root", "gone"), ("missing_root", "dangling")]
    assert "broken symlink" in seen[1].message
    assert w.report.incomplete and w.report.incomplete_reason == "2 scan paths not found"
    summary = json.loads(json.dumps(w.report.as_dict()))
    assert summary["issue_counts"] == {"missing_root": 2} and summary["files_found"] == 1
    assert summary["incomplete_reason"] == "2 scan paths not found" and summary["finished"]


def test_root_symlink_is_followed_even_without_follow_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    touch(tmp_path / "real" / "a.jpg")
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert paths(tmp_path / "link") == [str(tmp_path / "link" / "a.jpg")]


def test_relative_and_bytes_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "a.jpg")
    monkeypatch.chdir(tmp_path)
    assert [f.path for f in walk(["."])] == [str(tmp_path / "a.jpg")]
    assert [f.path for f in walk([os.fsencode(tmp_path)])] == [str(tmp_path / "a.jpg")]


# ---------------------------------------------------------------------------------------------------------
# Special files: never opened, reported


@pytest.mark.timeout(20)
def test_fifo_with_media_name_is_reported_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.mp4")
    os.mkfifo(tmp_path / "pipe.txt")
    touch(tmp_path / "y.jpg")
    w = walk([tmp_path])
    assert rel(tmp_path, [f.path for f in w]) == ["y.jpg"]
    assert kinds(w.report.issues) == [("special_file", "x.mp4")]
    assert "FIFO" in w.report.issues[0].message
    assert w.report.special_files == 1 and not w.report.incomplete
    # Given as a root, too: reported, not opened (opening a FIFO without a writer would block forever).
    w = walk([tmp_path / "x.mp4"])
    assert list(w) == [] and kinds(w.report.issues) == [("special_file", "x.mp4")]


def test_unix_socket_with_media_name_is_reported(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(tmp_path / "y.mp3"))
        w = walk([tmp_path])
        assert list(w) == []
        assert kinds(w.report.issues) == [("special_file", "y.mp3")]
        assert "socket" in w.report.issues[0].message
    finally:
        sock.close()


def test_device_node_with_media_name_is_reported(tmp_path: Path) -> None:
    try:
        os.mknod(tmp_path / "dev.mkv", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        pytest.skip("creating device nodes is not permitted here")
    w = walk([tmp_path])
    assert list(w) == []
    assert kinds(w.report.issues) == [("special_file", "dev.mkv")]
    assert "character device" in w.report.issues[0].message


def test_symlink_to_a_device_is_not_opened_when_following(tmp_path: Path) -> None:
    os.symlink("/dev/null", tmp_path / "null.mp4")
    w = walk([tmp_path], follow_symlinks=True)
    assert list(w) == []
    assert kinds(w.report.issues) == [("special_file", "null.mp4")]


# ---------------------------------------------------------------------------------------------------------
# Symlinks


@pytest.mark.timeout(20)
@pytest.mark.parametrize("follow", [False, True])
def test_symlink_loops_end(tmp_path: Path, follow: bool) -> None:
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    touch(d / "f.jpg")
    touch(d / "sub" / "g.jpg")
    os.symlink(d, d / "self")  # dir/self -> dir
    os.symlink(d, d / "sub" / "up")  # deeper loop to an ancestor
    os.symlink(tmp_path / "b.mp4", tmp_path / "a.mp4")  # a -> b -> a
    os.symlink(tmp_path / "a.mp4", tmp_path / "b.mp4")
    w = walk([tmp_path], follow_symlinks=follow)
    found = rel(tmp_path, [f.path for f in w])
    assert found == ["dir/f.jpg", "dir/sub/g.jpg"]
    got = kinds(w.report.issues)
    assert ("symlink_loop", "a.mp4") in got and ("symlink_loop", "b.mp4") in got
    if follow:
        assert ("already_visited", "self") in got and ("already_visited", "up") in got
        assert w.report.loops_broken == 4
    else:
        assert w.report.symlinks_skipped == 4
        assert w.report.loops_broken == 2
    assert not w.report.incomplete


@pytest.mark.parametrize("follow", [False, True])
def test_broken_symlink_is_reported(tmp_path: Path, follow: bool) -> None:
    os.symlink(tmp_path / "missing.jpg", tmp_path / "link.jpg")
    w = walk([tmp_path], follow_symlinks=follow)
    assert list(w) == []
    assert kinds(w.report.issues) == [("broken_symlink", "link.jpg")]
    assert "missing.jpg" in w.report.issues[0].message
    assert w.report.broken_symlinks == 1 and not w.report.incomplete


def test_symlinks_are_skipped_by_default_and_followed_on_request(tmp_path: Path) -> None:
    lib, outside = tmp_path / "lib", tmp_path / "outside"
    lib.mkdir()
    outside.mkdir()
    touch(lib / "real.jpg", b"r")
    touch(outside / "o.mp3", b"o")
    os.symlink(lib / "real.jpg", lib / "alias.jpg")  # sorts before its target
    os.symlink(outside, lib / "linked_dir")

    w = walk([lib])
    assert rel(lib, [f.path for f in w]) == ["real.jpg"]
    assert w.report.symlinks_skipped == 2 and w.report.issues == []

    w = walk([lib], follow_symlinks=True)
    # Each real file once, under the first path that reached it.
    assert rel(lib, [f.path for f in w]) == ["alias.jpg", "linked_dir/o.mp3"]
    assert w.report.duplicates_skipped == 1


def test_followed_symlink_into_an_excluded_tree_is_excluded(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "private").mkdir()
    touch(tmp_path / "private" / "p.jpg")
    os.symlink(tmp_path / "private", tmp_path / "lib" / "door")
    excl = Exclusions([("path", str(tmp_path / "private"))])
    w = walk([tmp_path / "lib"], follow_symlinks=True, exclusions=excl)
    assert list(w) == [] and w.report.excluded == 1


# ---------------------------------------------------------------------------------------------------------
# Races


def test_file_deleted_between_listing_and_stat_is_reported_as_vanished(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "b.jpg")
    touch(tmp_path / "c.jpg")
    w = walk([tmp_path])
    assert os.path.basename(next(w).path) == "a.jpg"
    os.unlink(tmp_path / "b.jpg")  # the directory was already listed: b is stat'ed only now
    assert [os.path.basename(f.path) for f in w] == ["c.jpg"]
    assert kinds(w.report.issues) == [("vanished", "b.jpg")]
    assert not w.report.incomplete


def test_file_deleted_after_discovery_fails_to_hash(tmp_path: Path) -> None:
    touch(tmp_path / "a.jpg", b"data")
    [f] = walk([tmp_path])
    os.unlink(f.path)
    with pytest.raises(FileNotFoundError):
        hash_file(f.path)


# ---------------------------------------------------------------------------------------------------------
# Odd names


def test_non_utf8_newline_and_leading_dash_names(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/\xff\xfe.jpg"
    touch(raw, b"img")
    touch(tmp_path / "line\nbreak.mp4")
    touch(tmp_path / "-rf.jpg")
    touch(tmp_path / "--help.mp3")
    found = {f.path: f for f in walk([tmp_path])}
    assert len(found) == 4
    odd = next(p for p in found if os.fsencode(p) == raw)
    assert os.stat(odd).st_size == 3 == found[odd].size  # the str path reaches the same file
    assert hash_file(odd).startswith("xxh3_128:")
    assert display_path(odd).endswith("/\\xff\\xfe.jpg")
    assert display_path(str(tmp_path / "line\nbreak.mp4")).endswith("/line\\nbreak.mp4")
    assert {os.path.basename(p) for p in found} >= {"-rf.jpg", "--help.mp3", "line\nbreak.mp4"}
    for p in found:
        assert path_from_db(path_to_db(p)) == p
        path_to_db(p).encode("utf-8")  # valid for a UTF-8 TEXT column


# ---------------------------------------------------------------------------------------------------------
# Permission denied, tested as an unprivileged user: root bypasses mode bits, so chmod 000 proves nothing.
# The test forks; the child changes into a world-traversable directory, drops to nobody (uid/gid 65534)
# with os.setuid, runs the walk and sends the results back as JSON. The tree lives in a mkdtemp directory
# under /tmp (mode 0755) because pytest's tmp_path sits below a root-only 0700 directory.


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pixelprobe-perm-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        for dirpath, dirnames, _ in os.walk(d):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        shutil.rmtree(d)


def run_as_nobody(fn: Callable[[], Any]) -> Any:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the nobody user")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            payload = json.dumps({"ok": fn()})
        except BaseException as exc:
            payload = json.dumps({"error": repr(exc)})
            code = 1
        with os.fdopen(w, "w") as out:
            out.write(payload)
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as inp:
        data = json.loads(inp.read())
    os.waitpid(pid, 0)
    assert "error" not in data, data.get("error")
    return data["ok"]


def test_permission_denied_directory_and_file(shared_tmp: Path) -> None:
    lib = shared_tmp / "lib"
    (lib / "locked").mkdir(parents=True)
    (lib / "noexec").mkdir()
    touch(lib / "ok.jpg", b"ok")
    touch(lib / "secret.jpg", b"secret")
    touch(lib / "locked" / "hidden.jpg")
    touch(lib / "noexec" / "inner.mp4")
    os.chmod(lib / "secret.jpg", 0o000)
    os.chmod(lib / "locked", 0o000)
    os.chmod(lib / "noexec", 0o644)  # listable, but its entries can't be stat'ed

    def scan() -> dict[str, Any]:
        w = walk([str(lib)])
        found = [f.path for f in w]
        try:
            hash_file(str(lib / "secret.jpg"))
            hashed = "no error"
        except PermissionError:
            hashed = "PermissionError"
        locked_root = walk([str(lib / "locked")])
        list(locked_root)
        return {
            "found": [os.path.basename(p) for p in found],
            "issues": kinds(w.report.issues),
            "reason": w.report.incomplete_reason,
            "hashed": hashed,
            "locked_root": kinds(locked_root.report.issues),
        }

    got = run_as_nobody(scan)
    # A file nobody may read is still discovered (stat needs no read permission): the checker will
    # call it unreadable. The directories are reported and mark the run incomplete.
    assert got["found"] == ["ok.jpg", "secret.jpg"]
    assert got["hashed"] == "PermissionError"
    assert sorted(map(tuple, got["issues"])) == [
        ("unreadable_directory", "locked"),
        ("unreadable_entry", "inner.mp4"),
    ]
    assert got["reason"] == "1 directory unreadable, 1 entry could not be examined"
    assert [tuple(i) for i in got["locked_root"]] == [("unreadable_directory", "locked")]


# ---------------------------------------------------------------------------------------------------------
# Report and callback


def test_on_error_sees_every_issue_while_the_report_keeps_a_bounded_list(tmp_path: Path) -> None:
    for i in range(5):
        os.symlink(tmp_path / f"missing{i}", tmp_path / f"l{i}.jpg")
    seen: list[WalkIssue] = []
    w = walk([tmp_path], on_error=seen.append)
    w.report.max_issues = 2
    assert list(w) == []
    assert len(seen) == 5
    assert len(w.report.issues) == 2 and w.report.issues_dropped == 3
    assert w.report.count(IssueKind.BROKEN_SYMLINK) == 5


# ---------------------------------------------------------------------------------------------------------
# Paths through the database and on screen


def test_db_form_round_trips_random_byte_paths() -> None:
    rng = random.Random(20261125)
    alphabet = [bytes([b]) for b in range(1, 256)]
    samples = [b"/media/\xff\xfe.jpg", b"/x/\xf4\x8f\xb6\x80", b"/x/\xf4\x8f\xb6", b"/\xed\xa0\x80.mp4"]
    for _ in range(3000):
        samples.append(b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))))
    for raw in samples:
        path = os.fsdecode(raw)
        text = path_to_db(path)
        text.encode("utf-8")  # strict: no surrogates reach the database
        back = path_from_db(text)
        assert back == path and os.fsencode(back) == raw


def test_db_form_leaves_valid_utf8_unchanged() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        chars = []
        for _ in range(rng.randint(1, 30)):
            o = rng.choice(
                [rng.randint(0x20, 0x7E), rng.randint(0xA0, 0xD7FF), rng.randint(0x10000, 0x10FCFF)]
            )
            chars.append(chr(o))
        path = "/" + "".join(chars)
        assert path_to_db(path) == path
        assert path_from_db(path) == path
    assert path_to_db("/Фото/日本語/🎬 clip.mp4") == "/Фото/日本語/🎬 clip.mp4"


def test_db_form_escapes_the_reserved_range_reversibly() -> None:
    path = "/x/\U0010fd80\U0010fdff.jpg"  # valid UTF-8 that collides with the escape range
    text = path_to_db(path)
    assert text != path
    assert path_from_db(text) == path
    # U+10FD00 marks the key of a long path: a real one in a name is escaped too, and never taken for one.
    marked = "/x/\U0010fd00" + "a" * 40 + "\U0010fd00b.jpg"
    assert path_from_db(path_to_db(marked)) == marked


def test_db_form_rejects_strings_no_file_system_gives() -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        path_to_db("/x/\ud800.jpg")


def test_display_path_makes_hidden_characters_visible() -> None:
    assert display_path("/a/plain name.jpg") == "/a/plain name.jpg"
    assert display_path("/a/tab\there\r.jpg") == "/a/tab\\there\\r.jpg"
    assert display_path("/a/\x1b[31mred.jpg") == "/a/\\x1b[31mred.jpg"
    assert display_path("/a/\u202egpj.mp4") == "/a/\\u202egpj.mp4"  # right-to-left override
    assert display_path(b"/a/\xff.jpg") == "/a/\\xff.jpg"
    assert display_path("/Фото/🎬.mp4") == "/Фото/🎬.mp4"
