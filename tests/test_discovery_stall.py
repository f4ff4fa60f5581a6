"""Discovery on storage that stops answering: a blocked listing never blocks the run.

A dead NFS or SMB mount can't be made here, so the walk's test hook stands in for one: with the hook on, a
directory (or root) whose name starts with ``__pixelprobe_hang`` blocks the listing that reaches it until the
test releases it (in production it would block until the process exits). In-process tests switch the hook on
through the module flag read at import; the CLI tests set PIXELPROBE_TEST_HOOKS=1 like a user can't by
accident (it is read once, at import).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.core import discovery
from pixelprobe_tui.core.discovery import (
    HANG_PREFIX,
    IssueKind,
    WalkReport,
    path_from_db,
    resolve_roots_within,
    walk,
    walk_guarded,
)
from pixelprobe_tui.core.events import PhaseChanged
from pixelprobe_tui.core.isolation import IsolationConfig
from pixelprobe_tui.db.models import ScanReport, ScanResult, ScanState
from pixelprobe_tui.services.config import default_settings
from pixelprobe_tui.services.scan import ScanService

pytestmark = pytest.mark.timeout(120)  # a hang is the failure these tests look for: end it, don't wait
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NEVER = 3600.0  # a stall timeout no test reaches: only a cancel can end such a walk


def _walk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pixelprobe-walk" and t.is_alive()]


@pytest.fixture
def hang_hook(monkeypatch) -> Iterator[None]:
    """The hang hook on; at the end the hung listings are released and their threads must all end."""
    monkeypatch.setattr(discovery, "_TEST_HOOKS", True)
    before = set(_walk_threads())
    yield
    discovery._hang_release.set()
    try:
        for th in set(_walk_threads()) - before:
            th.join(10)
            assert not th.is_alive(), "a walking thread released from its hang did not end"
    finally:
        discovery._hang_release.clear()


def _tree(base: Path, files: list[str]) -> Path:
    for rel in files:
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    return base


HANG_DIR = f"{HANG_PREFIX}_share"


def test_a_stalled_directory_is_reported_and_the_walk_goes_on(tmp_path, hang_hook):
    _tree(
        tmp_path,
        [
            "r1/a.mp4",
            "r1/A/b.mp4",
            f"r1/{HANG_DIR}/lost.mp4",
            "r1/z/deep/c.mp4",  # listed after the stalled sibling: must still be found
            f"{HANG_PREFIX}_root/never.mp4",
            "r2/d.flac",
        ],
    )
    roots = [tmp_path / "r1", tmp_path / f"{HANG_PREFIX}_root", tmp_path / "r2"]
    seen: list[tuple[IssueKind, str, str]] = []
    caller = threading.current_thread()
    where: set[threading.Thread] = set()

    def on_error(issue):
        where.add(threading.current_thread())
        seen.append((issue.kind, issue.path, issue.message))

    given = WalkReport()
    w = walk_guarded(roots, stall_timeout_s=0.5, on_error=on_error, report=given)
    found = [f.path for f in w]

    assert found == [str(tmp_path / p) for p in ("r1/a.mp4", "r1/A/b.mp4", "r1/z/deep/c.mp4", "r2/d.flac")]
    # The roots are resolved (realpath: I/O on each) before any is walked, so the dead root comes first.
    assert [(k, p) for k, p, _ in seen] == [
        (IssueKind.UNAVAILABLE_ROOT, str(tmp_path / f"{HANG_PREFIX}_root")),
        (IssueKind.STALLED_DIRECTORY, str(tmp_path / "r1" / HANG_DIR)),
    ]
    assert "unavailable" in seen[0][2] and "0.5 s" in seen[1][2]
    assert where == {caller}  # on_error runs in the caller's thread, where the scan's log context is
    assert w.stalled == [str(tmp_path / f"{HANG_PREFIX}_root"), str(tmp_path / "r1" / HANG_DIR)]
    rep = w.report
    assert rep is given and rep.finished and rep.incomplete
    assert (
        rep.incomplete_reason
        == "1 directory stalled (storage not answering), 1 root unavailable (storage stalled)"
    )
    assert rep.files_found == 4 and rep.directories_visited == 5  # r1, A, z, deep, r2
    assert rep.as_dict()["issue_counts"] == {"stalled_directory": 1, "unavailable_root": 1}
    assert rep.roots == tuple(str(r) for r in roots)  # the dead root is still named among the roots

    # Two threads are left blocked in the listings; none other lives on.
    assert len(_walk_threads()) == 2
    # Released, they must end without touching what the caller has: the walk was taken over.
    snapshot = rep.as_dict()
    discovery._hang_release.set()
    for th in _walk_threads():
        th.join(10)
    assert not _walk_threads()
    assert rep.as_dict() == snapshot


def test_roots_are_resolved_with_a_time_limit_per_root_and_the_walk_takes_them_as_resolved(
    tmp_path, hang_hook
):
    _tree(tmp_path, ["live/a.mp4", "live/sub/b.mp4", f"{HANG_PREFIX}_1/x.mp4", f"{HANG_PREFIX}_2/y.mp4"])
    os.symlink(tmp_path / "live", tmp_path / "alias")
    dead1, dead2 = str(tmp_path / f"{HANG_PREFIX}_1"), str(tmp_path / f"{HANG_PREFIX}_2")
    live, alias, sub = str(tmp_path / "live"), str(tmp_path / "alias"), str(tmp_path / "live" / "sub")
    before = set(threading.enumerate())
    resolved = resolve_roots_within([dead1, live, dead2, alias, sub], 0.5)
    stuck = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert stuck == ["pixelprobe-resolve-roots"] * 2  # one left behind per dead root, no more
    # The live roots were still resolved: the alias and the nested root are recognised as such.
    assert resolved.kept == [dead1, live, dead2]
    assert resolved.dropped == [(alias, f"same as {live}"), (sub, f"inside {live}")]
    assert resolved.unanswered == [dead1, dead2]

    issues: list = []
    w = walk_guarded(
        [dead1, live, dead2, alias, sub], stall_timeout_s=0.5, resolved=resolved, on_error=issues.append
    )
    assert [f.path for f in w] == [f"{live}/a.mp4", f"{live}/sub/b.mp4"]
    assert [(i.kind, i.path) for i in issues] == [
        (IssueKind.UNAVAILABLE_ROOT, dead1),
        (IssueKind.UNAVAILABLE_ROOT, dead2),
    ]
    assert w.report.roots == (dead1, live, dead2) and len(w.report.roots_dropped) == 2
    assert w.report.incomplete_reason == "2 roots unavailable (storage stalled)"
    assert not _walk_threads()  # the walk never touched the dead roots


def test_the_guarded_walk_finds_what_the_plain_walk_finds(tmp_path):
    _tree(tmp_path, [f"d{i}/{j}/f{k}.png" for i in range(3) for j in range(3) for k in range(300)])
    _tree(tmp_path, ["top.mp4", "notes.txt", "._junk.mp4", "d1/x.mkv"])
    os.symlink("missing.mp4", tmp_path / "dead.mp4")
    (tmp_path / "closed").mkdir(mode=0o000)
    plain_issues: list = []
    guarded_issues: list = []
    plain = walk([tmp_path], on_error=plain_issues.append)
    plain_files = list(plain)
    guarded = walk_guarded([tmp_path], stall_timeout_s=30, on_error=guarded_issues.append)
    guarded_files = list(guarded)
    (tmp_path / "closed").chmod(0o755)

    assert len(guarded_files) == 2702  # more than a few hand-over batches
    assert guarded_files == plain_files
    assert guarded_issues == plain_issues and guarded_issues  # the broken link (and, as non-root, "closed")
    assert guarded.report.as_dict() == plain.report.as_dict()
    assert not _walk_threads()  # a walk that ends leaves no thread behind


def test_a_cancel_ends_a_walk_blocked_in_a_listing(tmp_path, hang_hook):
    _tree(tmp_path, ["a.mp4", f"{HANG_DIR}/b.mp4", "z.mp4"])
    cancel = threading.Event()
    files = []
    w = walk_guarded([tmp_path], stall_timeout_s=NEVER, cancelled=cancel.is_set)
    files.append(next(w))  # the root's own files come before any subdirectory is listed
    files.append(next(w))
    threading.Timer(0.3, cancel.set).start()
    files.extend(w)  # blocked on the hanging listing until the cancel: must end, not hang
    assert [f.path for f in files] == [str(tmp_path / "a.mp4"), str(tmp_path / "z.mp4")]
    assert not w.report.finished and not w.stalled
    assert len(_walk_threads()) == 1  # only the one stuck in the kernel (here: in the hook)


def test_close_ends_a_walking_thread_that_is_not_stuck(tmp_path):
    _tree(tmp_path, [f"d{i}/f{k}.png" for i in range(20) for k in range(200)])
    w = walk_guarded([tmp_path], stall_timeout_s=30)
    next(w)
    w.close()
    for th in _walk_threads():
        th.join(10)
    assert not _walk_threads()
    assert not w.report.finished
    assert list(w) == []


# ---------------------------------------------------------------------------------------------------------
# The scan engine


def _isolation(stall_s: float) -> IsolationConfig:
    return dataclasses.replace(
        IsolationConfig(), stall_timeout_s=stall_s, progress_grace_s=min(stall_s, 15.0)
    )


@sqlite_only
def test_a_scan_with_a_stalled_directory_checks_the_rest_and_says_it_is_incomplete(
    db, tmp_path, media_factory, hang_hook
):
    lib = tmp_path / "lib"
    png = media_factory("png", size=(64, 48))
    good = [lib / "a.png", lib / "zz" / "b.png"]
    for p in good:
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, p)
    hung = lib / HANG_DIR
    hung.mkdir()
    shutil.copyfile(png, hung / "c.png")
    other = tmp_path / f"{HANG_PREFIX}_nas"  # a second root that never answers at all
    other.mkdir()
    shutil.copyfile(png, other / "d.png")

    svc = ScanService(db, default_settings(workers=1), isolation=_isolation(2.0))
    before = set(threading.enumerate())
    summary = svc.start([str(lib), str(other)])
    # Left behind: only the threads blocked on the dead storage (resolving the dead root, once: the walk
    # takes the roots as the start resolved them; listing the stalled directory). No worker, writer or
    # walker else;
    # the checker zygote (started by the first scan in this process) is shared by every later one.
    new = set(threading.enumerate()) - before
    left = sorted(t.name for t in new if t.is_alive() and not t.name.startswith("pixelprobe-zygote"))
    assert left == ["pixelprobe-resolve-roots", "pixelprobe-walk"]

    assert summary.status == "completed"
    assert summary.files_checked == 2 and summary.healthy == 2
    with db.session() as s:
        rows = {path_from_db(r.file_path): r.scan_status for r in s.scalars(sa.select(ScanResult))}
        report = s.scalars(sa.select(ScanReport)).one()
    assert rows == {str(p): "healthy" for p in good}
    assert summary.incomplete_reason is not None
    assert (
        "1 directory stalled" in summary.incomplete_reason
        and "1 root unavailable" in summary.incomplete_reason
    )
    assert summary.unavailable_roots == [str(other)]
    kinds = {(i["kind"], path_from_db(i["path"])) for i in summary.discovery["issues"]}
    assert kinds == {("stalled_directory", str(hung)), ("unavailable_root", str(other))}
    assert report.error_message == f"run incomplete: {summary.incomplete_reason}"
    assert {i["kind"] for i in report.details["issues"]} == {"stalled_directory", "unavailable_root"}


@sqlite_only
def test_a_cancel_during_a_hung_discovery_ends_the_scan_as_cancelled(db, tmp_path, media_factory, hang_hook):
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copyfile(media_factory("png", size=(64, 48)), lib / "a.png")
    (lib / HANG_DIR).mkdir()
    svc: ScanService

    def sink(event):
        if isinstance(event, PhaseChanged) and event.phase == "discovering":
            threading.Timer(0.5, svc.request_cancel).start()

    svc = ScanService(db, default_settings(workers=1), sink, isolation=_isolation(NEVER))
    summary = svc.start([str(lib)])
    assert summary.status == "cancelled"
    assert summary.files_checked == 0
    with db.session() as s:
        state = s.scalars(sa.select(ScanState)).one()
    assert state.status == "cancelled" and state.is_cancelled
    assert len(_walk_threads()) == 1  # the one blocked in the listing, and nothing else of the scan's
    assert not [t for t in threading.enumerate() if t.name.startswith("pixelprobe-scan-worker")]


@sqlite_only
def test_a_cancel_while_a_dead_root_is_resolved_ends_the_scan_as_cancelled(db, tmp_path, hang_hook):
    dead = tmp_path / f"{HANG_PREFIX}_nas"  # even realpath() of it never returns
    dead.mkdir()
    svc = ScanService(db, default_settings(workers=1), isolation=_isolation(NEVER))
    timer = threading.Timer(0.5, svc.request_cancel)
    timer.start()
    try:
        summary = svc.start([str(dead)])
    finally:
        timer.cancel()
    assert summary.status == "cancelled" and summary.files_found == 0
    assert svc.request_cancel() is False  # nothing left running, and no cancel kept for a later start


# ---------------------------------------------------------------------------------------------------------
# The real CLI


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", *args],
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        env=clean,
        timeout=100,
    )


@sqlite_only
def test_pixelprobe_scan_on_a_stalled_directory(database_url, tmp_path, media_factory):
    lib = tmp_path / "lib"
    (lib / HANG_DIR).mkdir(parents=True)
    shutil.copyfile(media_factory("png", size=(64, 48)), lib / "a.png")
    shutil.copyfile(media_factory("png", size=(64, 48)), lib / HANG_DIR / "b.png")
    env = {"PIXELPROBE_TEST_HOOKS": "1", "PIXELPROBE_STALL_TIMEOUT_S": "2"}
    out = _cli("scan", str(lib), "--json", "-q", "--workers", "1", "--database-url", database_url, env=env)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed" and summary["files_checked"] == 1
    assert "1 directory stalled" in summary["incomplete_reason"]
    assert [i["path"] for i in summary["discovery"]["issues"]] == [str(lib / HANG_DIR)]


def test_pixelprobe_check_on_a_stalled_directory(tmp_path, media_factory):
    lib = tmp_path / "lib"
    (lib / HANG_DIR).mkdir(parents=True)
    shutil.copyfile(media_factory("png", size=(64, 48)), lib / "a.png")
    shutil.copyfile(media_factory("png", size=(64, 48)), lib / HANG_DIR / "b.png")
    dead = tmp_path / f"{HANG_PREFIX}_nas"  # given on the command line: its very stat never answers
    dead.mkdir()
    hooks = {"PIXELPROBE_TEST_HOOKS": "1"}
    out = _cli("check", str(dead), str(lib), "--stall-timeout", "2", "--no-media-info", env=hooks)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["healthy", str(lib / "a.png")]
    assert f"{dead}: no answer from storage for 2 s; not checked" in out.stderr
    assert f"{lib / HANG_DIR}: no answer from storage for 2 s while listing" in out.stderr
    assert "2 path(s) could not be examined" in out.stderr
    # Without the hook (a user's environment), a directory with that name is an ordinary directory.
    plain = _cli("check", str(lib), "--stall-timeout", "2", "--no-media-info", env={})
    assert plain.returncode == 0 and plain.stdout.count("healthy") == 2, plain.stderr
