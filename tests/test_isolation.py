"""Checker children: real processes, real files, real signals.

Pathologies that real files cause rarely and unpredictably (a decoder spinning forever, a read that never
returns, a segfault, a runaway allocation) are produced by test hooks in the child, active only with
PIXELPROBE_TEST_HOOKS=1 and a file name starting with ``__pixelprobe_<hook>``.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from pixelprobe_tui.core import checkers, samples
from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.core.isolation import CheckerChild, CheckerPool, IsolationConfig, StatAfter
from pixelprobe_tui.core.verdict import CheckOptions, Verdict

FAST = IsolationConfig(min_timeout_s=3.0, base_timeout_s=0.0, progress_grace_s=1.0, busy_cpu_share=0.1)


def _comparable(result):
    d = result.to_dict()
    d.pop("duration_s")
    return d


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("isolation")
    return {
        "mp4": samples.generate("mp4_h264_aac", root / "ok.mp4", seconds=1.0, size=(96, 64)),
        "png": samples.generate("png", root / "ok.png", size=(96, 64)),
    }


@pytest.fixture
def hooked(tmp_path):
    """A child with the test hooks enabled, and a factory for hook-named files."""
    child = CheckerChild(FAST, env={**os.environ, HOOK_ENV: "1"})

    def hook_file(hook: str) -> str:
        path = tmp_path / f"__pixelprobe_{hook}.mp4"
        path.write_bytes(b"\0" * 64)
        return str(path)

    yield child, hook_file
    child.close()


def test_child_round_trip_matches_in_process_check(media):
    with CheckerChild() as child:  # default limits, including the 2 GB address-space cap
        for path in media.values():
            isolated = child.check(str(path), CheckOptions())
            direct = checkers.check(str(path), CheckOptions())
            assert _comparable(isolated) == _comparable(direct)
        assert child.tool_versions.get("pyav")
        assert child.spawn_count == 1  # one process for all files


def test_spinning_decoder_times_out_as_corrupted_and_child_is_replaced(hooked, media):
    child, hook_file = hooked
    child.start()
    first_pid = child.pid
    result = child.check(hook_file("spin"))
    assert result.verdict == Verdict.CORRUPTED
    assert "check timed out after" in result.findings[0].message
    assert "decoder hang" in result.findings[0].message
    assert child.pid is None  # killed
    after = child.check(str(media["png"]))
    assert after.verdict == checkers.check(str(media["png"])).verdict
    assert child.pid not in (None, first_pid)


def test_stalled_read_times_out_as_unreadable(hooked):
    child, hook_file = hooked
    result = child.check(hook_file("stall"))
    assert result.verdict == Verdict.UNREADABLE
    assert "check timed out after" in result.findings[0].message


def test_stalled_read_is_ended_at_the_stall_limit_long_before_the_timeout(tmp_path, media):
    # The timeout (120 s) is far away; the stall limit (2 s) alone must end the check. On a child that
    # only watched for stalls after the timeout this test would wait 120 s and then fail on the message.
    cfg = IsolationConfig(min_timeout_s=120.0, stall_timeout_s=2.0)
    stall = tmp_path / "__pixelprobe_stall.mp4"
    stall.write_bytes(b"\0" * 64)
    with CheckerChild(cfg, env={**os.environ, HOOK_ENV: "1"}) as child:
        child.start()
        first_pid = child.pid
        result = child.check(str(stall))
        assert result.verdict == Verdict.UNREADABLE
        assert len(result.findings) == 1
        match = re.fullmatch(r"storage stalled: no data read for (\d+) s", result.findings[0].message)
        assert match and 2 <= int(match[1]) < cfg.min_timeout_s
        assert result.duration_s < cfg.min_timeout_s
        assert child.pid is None  # the stuck child was killed
        with pytest.raises(ProcessLookupError):
            os.kill(first_pid, 0)
        after = child.check(str(media["mp4"]))  # a fresh child checks the next file normally
        assert _comparable(after) == _comparable(checkers.check(str(media["mp4"])))
        assert child.spawn_count == 2


def test_busy_child_is_judged_by_the_timeout_not_the_stall_limit(tmp_path):
    # A decoder spinning without reading uses the CPU: it is not a stall, even past the stall limit.
    cfg = IsolationConfig(min_timeout_s=3.0, base_timeout_s=0.0, stall_timeout_s=1.0, busy_cpu_share=0.1)
    spin = tmp_path / "__pixelprobe_spin.mp4"
    spin.write_bytes(b"x")
    with CheckerChild(cfg, env={**os.environ, HOOK_ENV: "1"}) as child:
        result = child.check(str(spin))
    assert result.verdict == Verdict.CORRUPTED
    assert result.findings[0].message.endswith("(decoder hang)")


def test_check_and_stat_returns_the_childs_stat_of_the_file(hooked, media, tmp_path):
    child, hook_file = hooked
    png = media["png"]
    result, stat = child.check_and_stat(str(png))
    st = os.stat(png)
    assert result.verdict == checkers.check(str(png)).verdict
    assert stat == StatAfter(True, st.st_size, st.st_mtime_ns, st.st_ino)
    missing, gone = child.check_and_stat(str(tmp_path / "missing.png"))
    assert missing.findings[0].code == "vanished"
    assert gone == StatAfter(False)
    # The stat is taken after the check: a file that grows meanwhile shows its new size.
    _, after = child.check_and_stat(hook_file("grow"))
    assert after is not None and after.exists and after.size == 65
    crashed, unknown = child.check_and_stat(hook_file("segv"))
    assert crashed.verdict == Verdict.CORRUPTED
    assert unknown is None  # the child died before it could look: nothing is known


def test_segfault_becomes_decoder_crash_and_next_file_works(hooked, media):
    child, hook_file = hooked
    result = child.check(hook_file("segv"))
    assert result.verdict == Verdict.CORRUPTED
    assert result.findings[0].message.startswith("decoder crashed (signal 11")
    assert child.check(str(media["mp4"])).verdict == checkers.check(str(media["mp4"])).verdict
    assert child.spawn_count == 2


def test_signal_from_outside_is_a_crash_result(tmp_path, media):
    # Kill a real child mid-check (it is busy on the spin hook) with SIGBUS from here.
    child = CheckerChild(IsolationConfig(min_timeout_s=120.0), env={**os.environ, HOOK_ENV: "1"})
    child.start()
    pid = child.pid
    spin = tmp_path / "__pixelprobe_spin.mp4"
    spin.write_bytes(b"x")
    import threading

    threading.Timer(1.0, os.kill, (pid, signal.SIGBUS)).start()
    try:
        result = child.check(str(spin))
    finally:
        child.close()
    assert result.verdict == Verdict.CORRUPTED
    assert "decoder crashed (signal 7" in result.findings[0].message


def test_unexpected_exit_is_unreadable_not_corrupt(hooked):
    child, hook_file = hooked
    result = child.check(hook_file("exit"))
    assert result.verdict == Verdict.UNREADABLE
    assert "exited unexpectedly (status 3)" in result.findings[0].message


def test_memory_cap_hit_is_reported_and_child_recycled(tmp_path, media):
    cfg = IsolationConfig(memory_mb=1024)
    with CheckerChild(cfg, env={**os.environ, HOOK_ENV: "1"}) as child:
        path = tmp_path / "__pixelprobe_alloc.png"
        path.write_bytes(b"x")
        result = child.check(str(path))
        assert result.verdict == Verdict.UNSUPPORTED
        assert result.findings[0].message == "check exceeded memory cap (1024 MB)"
        assert child.pid is None  # recycled after a memory hit
        assert child.check(str(media["png"])).verdict == checkers.check(str(media["png"])).verdict


def test_ignore_patterns_apply_on_crash_and_timeout_paths(hooked):
    child, hook_file = hooked
    crashed = child.check(hook_file("segv"), CheckOptions(), ["decoder crashed"])
    assert crashed.findings[0].ignored
    assert crashed.verdict == Verdict.HEALTHY
    timed_out = child.check(hook_file("spin"), CheckOptions(), ["re:timed out after \\d+ s"])
    assert timed_out.findings[0].ignored
    assert timed_out.verdict == Verdict.HEALTHY
    # A non-matching pattern changes nothing.
    assert child.check(hook_file("segv"), CheckOptions(), ["unrelated"]).verdict == Verdict.CORRUPTED


def test_ignore_patterns_apply_inside_the_child(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with CheckerChild() as child:
        assert child.check(str(empty)).verdict == Verdict.CORRUPTED
        ignored = child.check(str(empty), CheckOptions(), ["empty file"])
        assert ignored.verdict == Verdict.HEALTHY
        assert all(f.ignored for f in ignored.findings)


def test_non_utf8_path_round_trip(tmp_path, media):
    raw = os.fsencode(tmp_path) + b"/caf\xe9 \xff.png"
    with open(raw, "wb") as fh:
        fh.write(media["png"].read_bytes())
    path = os.fsdecode(raw)  # a str with surrogate escapes
    with CheckerChild() as child:
        result = child.check(path)
    assert result.path == path
    assert _comparable(result) == _comparable(checkers.check(path))
    assert result.verdict != Verdict.UNREADABLE  # the child found and opened the file


def test_child_ignores_sigint(media):
    with CheckerChild() as child:
        child.start()
        pid = child.pid
        os.kill(pid, signal.SIGINT)
        assert child.check(str(media["png"])).verdict == checkers.check(str(media["png"])).verdict
        assert child.pid == pid


def test_child_is_recycled_after_n_files(media):
    cfg = IsolationConfig(recycle_after=2)
    with CheckerChild(cfg) as child:
        for _ in range(5):
            child.check(str(media["png"]))
        assert child.spawn_count == 3


def test_pool_keeps_input_order(media, tmp_path):
    missing = str(tmp_path / "missing.mp4")
    paths = [str(media["mp4"]), missing, str(media["png"]), missing]
    with CheckerPool(2) as pool:
        results = list(pool.check_many(paths, CheckOptions(want_media_info=False)))
    assert [r.path for r in results] == paths
    assert results[1].verdict == Verdict.UNREADABLE
    assert results[1].findings[0].code == "vanished"


def test_timeout_formula_grows_with_size_and_duration():
    cfg = IsolationConfig(min_timeout_s=60, base_timeout_s=20, s_per_mb=0.5, s_per_media_s=1.0)
    assert cfg.timeout_for() == 60
    assert cfg.timeout_for(size_bytes=200 * 1048576) == 120
    assert cfg.timeout_for(size_bytes=200 * 1048576, media_seconds=3600) == 3720


def test_pool_abort_kills_a_busy_child_at_once(tmp_path):
    spin = tmp_path / "__pixelprobe_spin.mp4"
    spin.write_bytes(b"x")
    pool = CheckerPool(1, IsolationConfig(min_timeout_s=300.0), env={**os.environ, HOOK_ENV: "1"})
    pool.start()
    results = pool.check_many([str(spin)] * 3)
    pid = pool.children[0].pid
    import threading

    threading.Timer(1.0, pool.abort).start()
    first = next(results)  # returns when the child is killed, not after 300 s
    assert first.verdict == Verdict.UNREADABLE
    assert "killed (signal 9" in first.findings[0].message
    assert pool.children[0].pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _child_messages(path: Path, formula: dict[str, float] | None) -> list[dict]:
    """Every message a real child sends for one check request (hello excluded)."""
    import subprocess
    import sys

    from pixelprobe_tui.core.checker_child import encode_frame, read_frame

    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelprobe_tui.core.checker_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        assert read_frame(fd)["type"] == "hello"
        request = {"op": "check", "path": str(path), "options": {}, "ignore": []}
        if formula is not None:
            request["timeout"] = formula
        proc.stdin.write(encode_frame(request) + encode_frame({"op": "quit"}))
        proc.stdin.flush()
        messages = []
        while (message := read_frame(fd)) is not None:
            messages.append(message)
        return messages
    finally:
        proc.kill()
        proc.wait()


def test_child_reports_size_and_duration_only_when_they_lengthen_the_timeout(media):
    mp4 = media["mp4"]
    kinds = lambda messages: [m["type"] for m in messages]  # noqa: E731
    # Without a formula (an older parent) everything is reported.
    assert kinds(_child_messages(mp4, None)) == ["size", "duration", "result"]
    # A small file well under the floor: one message, the result.
    floor = {"base_s": 20.0, "s_per_mb": 0.5, "s_per_media_s": 1.0, "min_s": 60.0}
    assert kinds(_child_messages(mp4, floor)) == ["result"]
    # Duration alone passes the floor: the size is sent with it, so the parent has both terms.
    by_time = {"base_s": 59.5, "s_per_mb": 0.0, "s_per_media_s": 1.0, "min_s": 60.0}
    messages = _child_messages(mp4, by_time)
    assert kinds(messages) == ["size", "duration", "result"]
    assert messages[0]["bytes"] == mp4.stat().st_size
    assert messages[1]["seconds"] == pytest.approx(1.0, abs=0.1)
    # Size alone passes it.
    by_size = {"base_s": 60.0, "s_per_mb": 1.0, "s_per_media_s": 0.0, "min_s": 60.0}
    assert kinds(_child_messages(mp4, by_size)) == ["size", "result"]


# -- the next file queued behind the current one (``then``) ---------------------------------------------


def test_next_file_is_checked_without_being_asked_again(hooked, media):
    child, hook_file = hooked
    grow = hook_file("grow")  # the child appends a byte when it checks this file
    first = child.check(str(media["png"]), then=grow)
    assert first.path == str(media["png"]) and first.verdict == checkers.check(str(media["png"])).verdict
    deadline = time.monotonic() + 60
    while os.path.getsize(grow) == 64 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.path.getsize(grow) == 65  # checked already, with no request but the queued one
    result, stat = child.check_and_stat(grow)
    assert result.path == grow
    assert stat is not None and stat.size == 65
    assert os.path.getsize(grow) == 65  # and only once
    assert child.spawn_count == 1


def test_crash_on_the_queued_file_is_that_files_result(hooked, media):
    child, hook_file = hooked
    segv = hook_file("segv")
    ok = child.check(str(media["png"]), then=segv)
    assert ok.verdict == checkers.check(str(media["png"])).verdict
    crashed = child.check(segv)
    assert crashed.path == segv and crashed.verdict == Verdict.CORRUPTED
    assert crashed.findings[0].message.startswith("decoder crashed (signal 11")
    assert child.check(str(media["png"])).verdict != Verdict.CORRUPTED
    assert child.spawn_count == 2


def test_file_queued_behind_a_crash_is_sent_again_to_the_new_child(hooked, media):
    child, hook_file = hooked
    crashed = child.check(hook_file("segv"), then=str(media["mp4"]))
    assert crashed.verdict == Verdict.CORRUPTED
    after = child.check(str(media["mp4"]))
    assert _comparable(after) == _comparable(checkers.check(str(media["mp4"])))
    assert child.spawn_count == 2


def test_asking_for_another_file_first_keeps_the_queued_result(media, tmp_path):
    missing = str(tmp_path / "missing.png")
    with CheckerChild() as child:
        child.check(str(media["png"]), then=str(media["mp4"]))
        gone = child.check(missing)  # queued behind the mp4: the mp4's result is kept for later
        assert gone.path == missing and gone.findings[0].code == "vanished"
        mp4 = child.check(str(media["mp4"]))
        assert _comparable(mp4) == _comparable(checkers.check(str(media["mp4"])))
        assert child.spawn_count == 1


def test_answer_waiting_while_the_caller_was_away_is_not_a_stall(media):
    # The queued file is done long before the caller asks; the idle child waiting for its next request
    # must not be taken for stalled storage (nor the answer for a timeout).
    cfg = IsolationConfig(
        min_timeout_s=1.5,
        base_timeout_s=0.0,
        hard_limit_factor=2.0,
        stall_timeout_s=0.5,
        progress_grace_s=0.2,
    )
    with CheckerChild(cfg) as child:
        child.check(str(media["png"]), then=str(media["mp4"]))
        time.sleep(4.0)  # past the stall limit, the timeout and its hard limit (3 s)
        result = child.check(str(media["mp4"]))
        assert _comparable(result) == _comparable(checkers.check(str(media["mp4"])))
        assert child.spawn_count == 1


def test_queued_spinning_file_still_times_out_as_a_hang(hooked, media):
    child, hook_file = hooked
    spin = hook_file("spin")
    child.check(str(media["png"]), then=spin)
    time.sleep(0.5)  # the caller is busy elsewhere while the child spins
    result = child.check(spin)
    assert result.path == spin and result.verdict == Verdict.CORRUPTED
    assert result.findings[0].message.endswith("(decoder hang)")


def test_pool_queues_next_files_and_keeps_order_across_a_crash(media, tmp_path):
    segv = tmp_path / "__pixelprobe_segv.mp4"
    segv.write_bytes(b"\0" * 64)
    paths = [str(media["png"]), str(segv), str(media["mp4"]), str(media["png"]), str(segv), str(media["mp4"])]
    with CheckerPool(2, FAST, env={**os.environ, HOOK_ENV: "1"}) as pool:
        results = list(pool.check_many(iter(paths)))
    assert [r.path for r in results] == paths
    verdicts = [r.verdict for r in results]
    assert verdicts[1] == verdicts[4] == Verdict.CORRUPTED
    assert all(v != Verdict.CORRUPTED for i, v in enumerate(verdicts) if i not in (1, 4))
    assert "decoder crashed" in results[1].findings[0].message


def test_a_child_that_spent_a_once_per_process_message_is_replaced(tmp_path):
    """FFmpeg's DNxHD decoder reports a damaged ACT flag only the first time in a process: a long-lived
    child would call the same damage corrupted once and healthy ever after. It retires after the first."""
    import random

    from tests import media_matrix as mm

    original = tmp_path / "dnxhr.mov"
    try:
        mm.BY_NAME["mov_dnxhr_lb"].build(original)
    except (mm.Unavailable, RuntimeError) as exc:
        pytest.skip(f"no DNxHR encoder here: {exc}")
    damaged = samples.damage(original.read_bytes(), "flip_1", random.Random(4003))
    copies = [tmp_path / f"copy{i}.mov" for i in range(3)]
    for path in copies:
        path.write_bytes(damaged)
    assert "ACT flag set" in (mm.ffmpeg_complaint(copies[0]) or "")
    with CheckerChild() as child:
        results = [child.check(str(p), CheckOptions(want_media_info=False)) for p in copies]
        assert child.spawn_count == len(copies)
    assert [r.verdict for r in results] == [Verdict.CORRUPTED] * len(copies), [r.findings for r in results]
