"""The warm zygote that forks checker children: real processes, real signals, real deaths.

Each test asks: does a forked child keep every isolation property of a child started from scratch, and does
nothing outlive whoever dies first (the parent, the zygote, a child)?
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pixelprobe_tui.core import checkers, samples, zygote
from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.core.isolation import CheckerChild, IsolationConfig
from pixelprobe_tui.core.verdict import Verdict

HOOKS = {**os.environ, HOOK_ENV: "1"}
FAST = IsolationConfig(min_timeout_s=3.0, base_timeout_s=0.0, progress_grace_s=1.0, busy_cpu_share=0.1)


@pytest.fixture(scope="module")
def png(tmp_path_factory) -> Path:
    return samples.generate("png", tmp_path_factory.mktemp("zygote") / "ok.png", size=(64, 48))


@pytest.fixture
def hook_file(tmp_path):
    def make(hook: str) -> str:
        path = tmp_path / f"__pixelprobe_{hook}.mp4"
        path.write_bytes(b"\0" * 64)
        return str(path)

    return make


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    return int(raw[raw.rfind(b")") + 2 :].split()[1])


def _running(pid: int) -> bool:
    """Whether *pid* is a live process (a zombie waiting for a reaper that is not ours counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return False
    return raw[raw.rfind(b")") + 2 :].split()[0] != b"Z"


def _wait_gone(pids: list[int], limit_s: float = 30.0) -> list[int]:
    """The pids still running after waiting up to *limit_s* for all of them to end."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if _running(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return [p for p in pids if _running(p)]


def test_child_is_forked_from_a_warm_single_threaded_zygote(png):
    with CheckerChild() as child:
        result = child.check(str(png))
        z = zygote.shared(None)
        assert _ppid(child.pid) == z.pid  # forked, not started from scratch
        assert result.verdict == checkers.check(str(png)).verdict
        assert child.tool_versions == z.tool_versions and child.tool_versions.get("pyav")
        assert len(os.listdir(f"/proc/{z.pid}/task")) == 1  # the only safe kind of process to fork


def test_forked_child_keeps_the_isolation_properties(png):
    cfg = IsolationConfig(memory_mb=1536)
    with CheckerChild(cfg) as child:
        child.start()
        pid = child.pid
        assert os.getsid(pid) == pid  # its own session: no terminal, no Ctrl-C from it
        assert os.getpgid(pid) == pid
        limits = Path(f"/proc/{pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
        assert line.split()[3] == str(1536 * 1048576)
        assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
        # Nothing but stdio, the two protocol pipes and what the libraries opened themselves: no other
        # child's pipes and not the zygote's control socket.
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert not [t for t in targets if t.startswith("socket:")]
        assert sum(t.startswith("pipe:") for t in targets) == 2
        os.kill(pid, signal.SIGINT)  # ignored, as in a child started from scratch
        assert child.check(str(png)).verdict == Verdict.HEALTHY
        assert child.pid == pid


def test_two_children_do_not_share_pipes(png):
    # A child must not hold a copy of another child's protocol pipe, or that child's death would not end
    # the parent's read (no end of file while a copy of the write end stays open).
    with CheckerChild() as a, CheckerChild() as b:
        a.start()
        b.start()

        def pipes(pid: int) -> set[str]:
            fds = (os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
            return {t for t in fds if t.startswith("pipe:")}

        assert pipes(a.pid).isdisjoint(pipes(b.pid))


def test_respawn_after_a_crash_forks_from_the_same_zygote(hook_file, png):
    with CheckerChild(FAST, env=HOOKS) as child:
        child.start()
        z = zygote.shared(HOOKS)
        forks = z.forks
        crashed = child.check(hook_file("segv"))
        assert crashed.verdict == Verdict.CORRUPTED
        assert crashed.findings[0].message.startswith("decoder crashed (signal 11")  # status via the zygote
        assert child.check(str(png)).verdict == Verdict.HEALTHY
        assert child.spawn_count == 2
        assert z.forks == forks + 1 and zygote.shared(HOOKS) is z and z.alive
        assert _ppid(child.pid) == z.pid


def test_exit_status_and_timeout_results_come_through_the_zygote(hook_file):
    with CheckerChild(FAST, env=HOOKS) as child:
        exited = child.check(hook_file("exit"))
        assert "exited unexpectedly (status 3)" in exited.findings[0].message
        spun = child.check(hook_file("spin"))
        assert spun.verdict == Verdict.CORRUPTED and spun.findings[0].message.endswith("(decoder hang)")


def test_zygote_death_ends_its_children_and_the_next_check_gets_a_new_zygote(hook_file, png):
    cfg = IsolationConfig(min_timeout_s=300.0)
    with CheckerChild(cfg, env=HOOKS) as child:
        child.start()
        old = zygote.shared(HOOKS)
        victim = child.pid
        threading.Timer(1.0, old.kill).start()
        result = child.check(hook_file("spin"))  # would spin for 300 s: ends when the zygote dies
        assert result.verdict == Verdict.UNREADABLE
        assert "killed (signal 9" in result.findings[0].message
        assert _wait_gone([victim, old.pid]) == []
        assert child.check(str(png)).verdict == Verdict.HEALTHY
        new = zygote.shared(HOOKS)
        assert new is not old and new.pid != old.pid
        assert _ppid(child.pid) == new.pid


_PARENT = r"""
import os, sys
from pixelprobe_tui.core import zygote
from pixelprobe_tui.core.isolation import CheckerChild, IsolationConfig
env = {**os.environ, "PIXELPROBE_TEST_HOOKS": "1"}
child = CheckerChild(IsolationConfig(min_timeout_s=300.0, fork_server=sys.argv[2] == "1"), env=env)
child.start()
z = zygote._shared.get(tuple(sorted(env.items())))
print(child.pid, z.pid if z is not None else 0, flush=True)
child.check(sys.argv[1])  # spins until killed
"""


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "from-scratch"])
def test_parent_killed_leaves_no_zygote_or_child_behind(tmp_path, fork_server):
    spin = tmp_path / "__pixelprobe_spin.mp4"
    spin.write_bytes(b"x")
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(spin), "1" if fork_server else "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child_pid, zygote_pid = (int(x) for x in parent.stdout.readline().split())
        assert _running(child_pid)
        assert (zygote_pid != 0) == fork_server
        if fork_server:
            assert _ppid(child_pid) == zygote_pid
        time.sleep(0.5)  # the child is spinning on the file now
    finally:
        parent.kill()  # SIGKILL: no atexit, no close, no chance to clean up
        parent.wait()
    left = _wait_gone([p for p in (child_pid, zygote_pid) if p])
    for pid in left:  # don't leave a spinning process on a shared machine, even when failing
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_idle_zygote_exits_and_is_replaced_on_demand(png):
    z = zygote.Zygote(idle_exit_s=0.5)
    z.start()
    pid = z.pid
    assert pid is not None
    assert _wait_gone([pid]) == []
    deadline = time.monotonic() + 10
    while z.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not z.alive
    with pytest.raises(zygote.ZygoteError):
        z.fork(0, 2)
    z.close()


def test_without_fork_server_children_start_from_scratch(png):
    with CheckerChild(IsolationConfig(fork_server=False)) as child:
        assert child.check(str(png)).verdict == Verdict.HEALTHY
        assert _ppid(child.pid) == os.getpid()


def test_closing_the_zygote_ends_its_children(png):
    z = zygote.Zygote()
    z.start()
    err = os.open(os.devnull, os.O_WRONLY)
    try:
        proc = z.fork(0, err)
    finally:
        os.close(err)
    assert proc.poll() is None
    z.close()
    assert proc.wait(30) == -signal.SIGKILL
    assert _wait_gone([proc.pid, z.pid]) == []
    for stream in (proc.stdin, proc.stdout):
        assert stream is not None
        stream.close()


def test_prestart_starts_the_zygote_in_the_background(png):
    from pixelprobe_tui.core.isolation import prestart

    env = {**os.environ, "PIXELPROBE_TEST_PRESTART": "1"}  # a zygote of its own, not yet running
    assert not zygote.running(env)
    prestart(env=env)  # returns at once; the zygote comes up meanwhile
    deadline = time.monotonic() + 120
    while not zygote.running(env) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert zygote.running(env)
    z = zygote.shared(env)
    with CheckerChild(env=env) as child:
        assert child.check(str(png)).verdict == Verdict.HEALTHY
        assert _ppid(child.pid) == z.pid and z.forks == 1
    prestart(env=env)  # already running: nothing new
    assert zygote.shared(env) is z
    z.close()


def test_fork_server_can_be_switched_off_from_the_environment(monkeypatch):
    monkeypatch.setenv("PIXELPROBE_FORK_SERVER", "0")
    assert IsolationConfig().fork_server is False
    monkeypatch.setenv("PIXELPROBE_FORK_SERVER", "1")
    assert IsolationConfig().fork_server is True


def test_cli_check_with_its_zygote_started_before_the_commands_load(png):
    # The real CLI in a subprocess: the zygote comes up while the commands load, and the check is right.
    out = subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui.cli", "check", "--json", str(png)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    import json

    assert json.loads(out.stdout.splitlines()[0])["verdict"] == "healthy"


def test_a_forked_copy_of_the_parent_starts_its_own_zygote(png):
    # Someone else forks the parent (multiprocessing's fork, say): the copy must not share our zygote's
    # control socket, or its fork requests would mix with ours.
    z = zygote.shared(None)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked copy
        code = 1
        try:
            code = 0 if not zygote.running(None) and z._sock is None else 3
        finally:
            os.write(write_end, bytes([code]))
            os._exit(code)
    os.close(write_end)
    answer = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert answer == b"\0"
    assert zygote.running(None) and zygote.shared(None) is z  # ours is untouched
    with CheckerChild() as child:
        assert child.check(str(png)).verdict == Verdict.HEALTHY
        assert _ppid(child.pid) == z.pid


def _maps(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as fh:
        return fh.read()


def test_zygote_warms_up_before_its_first_fork_and_every_child_starts_warm():
    # Ready comes before the warm-up; the warm-up (here: numpy, which simplejpeg needs at the first JPEG)
    # follows at once, keeps the zygote single-threaded, and is done before the first fork request is
    # served: even a child asked for right after ready is forked warm (cold children would each pay it).
    z = zygote.Zygote()
    z.start()
    try:
        err = os.open(os.devnull, os.O_WRONLY)
        try:
            proc = z.fork(0, err)  # at once, without waiting for the warm-up
        finally:
            os.close(err)
        assert z.warm.is_set()  # "warm" is sent before the request is read
        assert "_multiarray_umath" in _maps(z.pid)
        assert len(os.listdir(f"/proc/{z.pid}/task")) == 1
        assert "_multiarray_umath" in _maps(proc.pid)  # nothing checked yet: inherited from the zygote
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # end of input: the child quits
        assert proc.wait(30) == 0
        proc.stdout.close()
    finally:
        z.close()


def test_zygote_that_gained_a_thread_refuses_to_fork_and_children_start_from_scratch(png):
    env = {**HOOKS, "PIXELPROBE_TEST_ZYGOTE_THREAD": "1"}  # the zygote starts a thread once ready
    with CheckerChild(env=env) as first, CheckerChild(env=env) as second:
        assert first.check(str(png)).verdict == Verdict.HEALTHY
        assert _ppid(first.pid) == os.getpid()  # refused by the zygote: started from scratch
        assert not zygote.running(env)  # the unsafe zygote ended itself
        unsafe = zygote._shared.get(zygote._key(env))
        assert unsafe is not None and unsafe.forks == 0
        assert second.check(str(png)).verdict == Verdict.HEALTHY
        assert _ppid(second.pid) == os.getpid()
        assert zygote._shared.get(zygote._key(env)) is unsafe  # no new zygote tried for the second child


def test_only_a_few_idle_zygotes_are_kept(png):
    # Every child environment has its own zygote; a session that tries many keeps only the most recent few,
    # and never ends one whose children are still running.
    envs = [{**os.environ, "PIXELPROBE_TEST_ZYGOTE_N": str(i)} for i in range(5)]
    with CheckerChild(env=envs[0]) as busy_child:
        busy_child.start()
        busy = zygote.shared(envs[0])
        for env in envs[1:]:
            with CheckerChild(env=env) as child:
                assert child.check(str(png)).verdict == Verdict.HEALTHY
        alive = [z for z in zygote._shared.values() if z.alive]
        assert len(alive) <= zygote._MAX_SHARED + 1  # the cap, plus the one kept for its running child
        assert busy.alive and busy in alive
        assert zygote.running(envs[-1])
        assert busy_child.check(str(png)).verdict == Verdict.HEALTHY
        assert _ppid(busy_child.pid) == busy.pid
