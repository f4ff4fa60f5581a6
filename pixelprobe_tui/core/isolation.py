"""Long-lived checker child processes: per-check timeout, memory cap, crash -> result, respawn.

Starting a process per file costs 0.1-0.2 s, more than checking a small file, so each scan worker owns one
:class:`CheckerChild` and feeds it one path at a time. Children are forked from a warm zygote
(:mod:`pixelprobe_tui.core.zygote`, one per process and child environment) in ~5 ms instead of ~0.3 s of
imports and first-use set-up each, which matters at the start of every scan, after every crash or timeout,
and for ``pixelprobe check``; where no zygote can run, a child starts from scratch. A caller that knows its
next file passes it along (``then``): it is queued in the child behind the current one, so the child goes
from one file to the next without waiting for the parent (see :meth:`CheckerChild.check_and_stat`). The child runs the in-process dispatcher
(:func:`pixelprobe_tui.core.checkers.check`); whatever goes wrong inside it becomes that file's result and
the child is replaced:

- death by SIGSEGV/SIGBUS/SIGABRT/SIGFPE/SIGILL -> corrupted, "decoder crashed (signal 11, SIGSEGV)":
  a decoder that crashes on a file has met data it cannot handle.
- death by another signal (SIGKILL from the OOM killer or a person) or a non-zero exit -> unreadable,
  because it says nothing about the content.
- address-space cap hit (MemoryError in the child) -> unsupported, "check exceeded memory cap (N MB)".
- timeout -> see below.

Timeout formula (all terms in :class:`IsolationConfig`)::

    timeout = max(min_timeout_s, base_timeout_s + s_per_mb * size_MB + s_per_media_s * media_seconds)

The parent never touches the file itself (a stat on a stalled network share could block it), so the child
reports the size after its stat and the media duration after probing, and each report extends the deadline
(it knows the formula and sends only reports that raise the timeout above ``min_timeout_s``).
While the child keeps reading the file (its ``rchar`` counter in /proc grows) the deadline is extended
further, up to ``hard_limit_factor`` times the computed timeout: a slow decode of a huge valid file reads
steadily, a hung decoder or a stalled share does not. When the deadline finally passes the child is killed
(SIGKILL to its process group) and the file gets one of two results:

- the child used the CPU for at least ``busy_cpu_share`` of the wait -> corrupted, "check timed out after
  N s (decoder hang)": it was spinning on data without reading on.
- otherwise -> unreadable, "check timed out after N s waiting for the file (storage stalled?)": a NAS that
  stops answering is not the file's fault, and calling it corrupt would be a false alarm.

Stalled storage is caught sooner than that: a child that reads nothing (``rchar`` flat) and uses almost no
CPU for ``stall_timeout_s`` (60 s by default, far below a typical timeout) is killed at once and the file is
unreadable, "storage stalled: no data read for N s". A child that computes without reading (a decoder
working through buffered data, or spinning) is not idle, and only the timeout judges it.

Children are recycled after ``recycle_after`` files or when their RSS passes ``recycle_rss_mb`` (FFmpeg
and image libraries can leak across thousands of files).
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from queue import SimpleQueue
from typing import IO, Any

from pixelprobe_tui.core.checker_child import _HEADER, MAX_FRAME, encode_frame
from pixelprobe_tui.core.verdict import (
    CheckOptions,
    CheckResult,
    Finding,
    IgnoreRules,
    Severity,
    make_result,
)
from pixelprobe_tui.core.zygote import ForkedProcess, ZygoteError
from pixelprobe_tui.core.zygote import running as zygote_running
from pixelprobe_tui.core.zygote import shared as shared_zygote
from pixelprobe_tui.errors import PixelProbeError

_Process = subprocess.Popen[bytes] | ForkedProcess

CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}
_TOOL = "pixelprobe"


class CheckerStartError(PixelProbeError):
    """A checker child could not be started (broken installation, memory cap too small for the libraries)."""


@dataclass(frozen=True, slots=True)
class IsolationConfig:
    """Limits for checker children. See the module docstring for the timeout formula."""

    # Address-space cap (RLIMIT_AS) per child; 0 disables it. Measured peaks (VmPeak): 0.25 GB idle with
    # every library loaded, 0.40 GB decoding 1080p H.264 or HEVC, 0.50 GB for a 24-megapixel PNG.
    memory_mb: int = 2048
    min_timeout_s: float = 60.0
    base_timeout_s: float = 20.0
    s_per_mb: float = 0.5
    s_per_media_s: float = 1.0
    # Extension while the child keeps reading, as a multiple of the computed timeout.
    hard_limit_factor: float = 4.0
    # Reading counts as progress if rchar grew within this many seconds.
    progress_grace_s: float = 15.0
    # A child that neither reads (rchar flat) nor computes (CPU below ``stall_cpu_share`` in every sample)
    # for this long is waiting on storage that stopped answering: it is ended at once as unreadable,
    # however long the computed timeout still runs. 0 disables the check (only the timeout applies).
    stall_timeout_s: float = 60.0
    # CPU share per ~1 s sample below which a child that reads nothing counts as idle. A read blocked in
    # the kernel uses ~0 %; a decoder gets far more even when 8 processes share 2 cores.
    stall_cpu_share: float = 0.05
    # CPU share of the wait above which a timed-out child was busy decoding rather than waiting for I/O.
    # A blocked read uses ~0 %; a spinning decoder ~100 %, but only 25 % of a core when 8 processes share 2.
    busy_cpu_share: float = 0.25
    # A child started from scratch costs ~0.3 s of CPU (importing FFmpeg, Pillow, libmediainfo, numpy);
    # forked from the zygote ~5 ms. Over 1,600 mixed small files RSS stayed at 93 MB and open descriptors
    # at 6, so recycle by count rarely; the RSS limit below still catches a leaking library.
    recycle_after: int = 2000
    recycle_rss_mb: float = 1024.0
    start_timeout_s: float = 120.0
    # Fork children from a warm zygote (see core.zygote): a few ms instead of ~0.3 s of imports per child.
    # Off (or PIXELPROBE_FORK_SERVER=0 in the environment), or when no zygote can run, each child starts
    # from scratch.
    fork_server: bool = field(default_factory=lambda: os.environ.get("PIXELPROBE_FORK_SERVER", "1") != "0")
    # How long to wait for a killed child to go. A process in uninterruptible sleep (a read on a hard
    # NFS mount) ignores SIGKILL until the read returns; it is then left behind, not waited for.
    kill_wait_s: float = 10.0

    def timeout_for(self, size_bytes: int | None = None, media_seconds: float | None = None) -> float:
        """Seconds one check may take given what is known so far about the file."""
        t = self.base_timeout_s
        if size_bytes:
            t += self.s_per_mb * size_bytes / 1048576
        if media_seconds:
            t += self.s_per_media_s * media_seconds
        return max(self.min_timeout_s, t)


@dataclass(frozen=True, slots=True)
class StatAfter:
    """The file as the child saw it right after checking it (``exists`` False: the stat failed)."""

    exists: bool
    size: int | None = None
    mtime_ns: int | None = None
    inode: int | None = None


_MISSING = StatAfter(False)


@functools.lru_cache(maxsize=16)
def _options_dict(options: CheckOptions) -> dict[str, Any]:
    """``asdict`` of the (frozen) options, computed once per distinct value: a scan sends the same options
    with every file."""
    return asdict(options)


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # The command name may contain spaces; fields resume after the last ')'.
    rest = raw[raw.rfind(b")") + 2 :].split()
    try:
        return (int(rest[11]) + int(rest[12])) / _CLK_TCK
    except (IndexError, ValueError):
        return None


def _proc_rchar(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/io", "rb") as fh:
            for line in fh:
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIG{signum}"


_Key = tuple[str, CheckOptions, tuple[str, ...]]
# Results of queued checks kept for a caller that has not asked yet; beyond this the oldest are dropped.
_STASH_LIMIT = 8


@dataclass(slots=True)
class _Pending:
    """A check request written to the child: what it is, and when the child started it (None: queued)."""

    key: _Key
    path: str
    started: float | None


def _kill_process(proc: _Process) -> None:
    """SIGKILL a child and (for one started from scratch) its process group: it leads its own session, so
    that takes any helpers too. A forked child is killed through its pidfd; its zygote kills the group."""
    if isinstance(proc, ForkedProcess):
        proc.kill()
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


class CheckerChild:
    """One long-lived checker process. ``check`` is blocking and thread-safe (one check at a time).

    The process starts lazily on the first check and is replaced after a crash, a timeout, a memory-cap
    hit, ``recycle_after`` files, or a large RSS.
    """

    def __init__(self, config: IsolationConfig | None = None, env: dict[str, str] | None = None):
        self.config = config or IsolationConfig()
        self._env = env
        self._lock = threading.Lock()
        self._proc: _Process | None = None
        self._stderr: IO[bytes] | None = None
        self._buffer = bytearray()
        self._files_done = 0
        # Requests written to the current process, oldest first (the child answers them in order), and
        # results of queued requests that arrived before they were asked for.
        self._inflight: deque[_Pending] = deque()
        self._stash: dict[_Key, tuple[CheckResult, StatAfter | None]] = {}
        self.tool_versions: dict[str, str] = {}
        self.spawn_count = 0
        # The timeout formula, sent with each request so the child reports size and duration only when
        # they lengthen the timeout (each report wakes this thread).
        cfg = self.config
        self._formula = {
            "base_s": cfg.base_timeout_s,
            "s_per_mb": cfg.s_per_mb,
            "s_per_media_s": cfg.s_per_media_s,
            "min_s": cfg.min_timeout_s,
        }

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The current child's pid, or None when no child is running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        """Start the child now (otherwise the first check does)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> _Process:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._discard()
        # Kept open for the child's lifetime (closed in _discard): its tail explains a failed start.
        self._stderr = tempfile.TemporaryFile(prefix="pixelprobe-child-")  # noqa: SIM115
        self._proc = self._fork() if self.config.fork_server else None
        if self._proc is None:
            self._proc = self._spawn()
        self._buffer.clear()
        self._files_done = 0
        self.spawn_count += 1
        hello = self._read_message(time.monotonic() + self.config.start_timeout_s)
        if hello is None or hello.get("type") != "hello":
            tail = self._stderr_tail()
            self._kill()
            detail = f": {tail}" if tail else ""
            raise CheckerStartError(f"the checker process did not start{detail}")
        self.tool_versions = dict(hello.get("tool_versions") or {})
        return self._proc

    def _fork(self) -> ForkedProcess | None:
        """A child forked from the shared warm zygote, or None when no zygote can serve (then a child
        is started from scratch)."""
        assert self._stderr is not None
        for _ in range(2):  # a zygote that just ended on its idle timeout is replaced once
            try:
                zygote = shared_zygote(self._env, self.config.start_timeout_s)
                return zygote.fork(self.config.memory_mb, self._stderr.fileno())
            except ZygoteError:
                continue
        return None

    def _spawn(self) -> subprocess.Popen[bytes]:
        """A child started from scratch: a fresh interpreter that imports every library itself."""
        env = dict(os.environ if self._env is None else self._env)
        # Without this glibc reserves a 64 MB arena per decoding thread, which eats the address-space cap.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        cmd = [sys.executable, "-m", "pixelprobe_tui.core.checker_child"]
        if self.config.memory_mb > 0:
            cmd += ["--memory-mb", str(self.config.memory_mb)]
        return subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,  # never part of the terminal's process group: no SIGINT, no tty
            close_fds=True,
            env=env,
        )

    def _stderr_tail(self, limit: int = 2000) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:][0]
        except (OSError, IndexError):
            return ""

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _kill_process(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            # Unreaped, the Popen object is collected by the subprocess module once the process exits.
            proc.wait(self.config.kill_wait_s)
        self._discard()

    def _discard(self) -> None:
        if self._proc is not None:
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            if isinstance(self._proc, ForkedProcess):
                self._proc.close()
        if self._stderr is not None:
            self._stderr.close()
        self._proc = None
        self._stderr = None
        self._buffer.clear()
        self._inflight.clear()  # requests die with their process; whoever asks for one again resends it

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to quit; kill it if it does not within ``timeout`` seconds."""
        with self._lock:
            self._stash.clear()
            proc = self._proc
            if proc is None:
                return
            if self._inflight:
                self._kill()  # a queued check nobody asked for: not worth waiting for
                return
            if proc.poll() is None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(encode_frame({"op": "quit"}))
                    proc.stdin.flush()
                    proc.wait(timeout)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    def abort(self) -> None:
        """Kill the child at once, even mid-check (from another thread; the check returns a killed result).

        For cancellation: Ctrl-C must not wait for a long decode to finish.
        """
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _kill_process(proc)

    def __enter__(self) -> CheckerChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol --------------------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        """The next frame, or None if the deadline passes or the child dies first."""
        import json

        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            if len(self._buffer) >= _HEADER.size:
                (length,) = _HEADER.unpack_from(self._buffer)
                if length > MAX_FRAME:
                    return None
                if len(self._buffer) >= _HEADER.size + length:
                    body = bytes(self._buffer[_HEADER.size : _HEADER.size + length])
                    del self._buffer[: _HEADER.size + length]
                    return json.loads(body.decode("ascii"))
            remaining = deadline - time.monotonic()
            # Polled at least once, even past the deadline: what the child already sent is never missed.
            ready, _, _ = select.select([fd], [], [], min(max(remaining, 0.0), 1.0))
            if not ready:
                if deadline - time.monotonic() <= 0:
                    return None
                continue
            # 64 KB holds almost every result; 1 MB would be an mmap and munmap per read.
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk

    # -- checking --------------------------------------------------------------------------------------

    def check(
        self,
        path: str,
        options: CheckOptions | None = None,
        ignore_patterns: Sequence[str] | IgnoreRules | None = None,
        *,
        then: str | None = None,
    ) -> CheckResult:
        """Check one file in the child and return its result; never raises for a file-level problem.

        ``ignore_patterns`` are IgnoredErrorPattern strings (or compiled rules); they apply to every
        outcome, including crashes and timeouts. ``then``: see :meth:`check_and_stat`.
        """
        return self.check_and_stat(path, options, ignore_patterns, then=then)[0]

    def check_and_stat(
        self,
        path: str,
        options: CheckOptions | None = None,
        ignore_patterns: Sequence[str] | IgnoreRules | None = None,
        *,
        then: str | None = None,
    ) -> tuple[CheckResult, StatAfter | None]:
        """Like :meth:`check`, plus the file's stat taken by the child right after the check.

        The stat is None when the child did not finish the check (crash, timeout, stall): then nothing is
        known about the file's state. The caller need not stat the file itself, which could block on
        stalled storage; a stat that stalls in the child is caught like any other stall.

        ``then`` names the file the caller will check next (same options and rules): it is queued in the
        child behind this one, so the child starts it the moment it answers, instead of sleeping while
        the caller handles this result and asking again (a process that sleeps and wakes twice per file
        waits for a CPU each time on a busy machine: 15-20 % of a child's time in a 2-core scan). Its
        timeout runs from the moment the child starts it. A queued file whose check kills the child is
        that file's crash, never this one's; a queued request lost with a child that died on an earlier
        file is sent again when asked for.
        """
        options = options or CheckOptions()
        rules = (
            ignore_patterns
            if isinstance(ignore_patterns, IgnoreRules)
            else IgnoreRules(ignore_patterns or ())
        )
        with self._lock:
            result, stat = self._check_locked(path, options, rules, then)
        return rules.apply(result), stat

    def _send(self, proc: _Process, path: str, options: CheckOptions, rules: IgnoreRules) -> bool:
        """Queue a check request in the child; False if the child is gone."""
        request = {
            "op": "check",
            "path": path,
            "options": _options_dict(options),
            "ignore": list(rules.patterns),
            "timeout": self._formula,
        }
        try:
            assert proc.stdin is not None
            proc.stdin.write(encode_frame(request))
            proc.stdin.flush()
        except OSError:
            return False
        # The first request of an idle child starts now; a queued one when the one before it is answered.
        started = None if self._inflight else time.monotonic()
        self._inflight.append(_Pending((path, options, rules.patterns), path, started))
        return True

    def _queued(self, key: _Key) -> bool:
        return any(p.key == key for p in self._inflight)

    def _check_locked(
        self, path: str, options: CheckOptions, rules: IgnoreRules, then: str | None
    ) -> tuple[CheckResult, StatAfter | None]:
        key: _Key = (path, options, rules.patterns)
        stashed = self._stash.pop(key, None)
        if stashed is not None:
            return stashed
        # With requests in flight the process is left as it is: if it died, the oldest request is the one
        # it died on, and the wait below says so.
        proc = self._proc if self._inflight and self._proc is not None else self._ensure_started()
        if not self._queued(key) and not self._send(proc, path, options, rules) and not self._inflight:
            return self._after_death(path, time.monotonic()), None
        if then is not None and len(self._inflight) < 2:
            then_key: _Key = (then, options, rules.patterns)
            if then_key not in self._stash and not self._queued(then_key):
                self._send(proc, then, options, rules)  # a dead child is noticed by the wait below
        while True:
            head = self._inflight[0]
            outcome = self._await_head(proc, head)
            if head.key == key:
                return outcome
            self._stash[head.key] = outcome
            while len(self._stash) > _STASH_LIMIT:  # queued files the caller never asked for
                self._stash.pop(next(iter(self._stash)))
            if not self._queued(key):  # lost with a child that died or was recycled: send it again
                proc = self._ensure_started()
                if not self._send(proc, path, options, rules):
                    return self._after_death(path, time.monotonic()), None
            assert self._proc is not None
            proc = self._proc

    def _await_head(self, proc: _Process, head: _Pending) -> tuple[CheckResult, StatAfter | None]:
        """Wait for the answer to the oldest request in flight, watching time, reads and CPU; on a crash,
        timeout or stall the child is killed and every other request in flight goes with it."""
        cfg = self.config
        path = head.path
        # A queued check started when the one before it was answered, maybe while the caller was busy
        # elsewhere: its timeout counts from then, but reads, CPU and idleness are watched from now on.
        watched = time.monotonic()
        started = head.started if head.started is not None else watched
        size: int | None = None
        media_s: float | None = None
        timeout = cfg.timeout_for()
        cpu0 = _proc_cpu_seconds(proc.pid) or 0.0
        rchar = _proc_rchar(proc.pid)
        last_progress = watched
        stall = _StallWatch(cfg, watched, rchar, cpu0) if cfg.stall_timeout_s > 0 else None
        while True:
            # What the child has sent already comes first: no timeout or stall verdict on a child whose
            # answer is waiting in the pipe.
            message = self._read_message(0.0)
            if message is None:
                now = time.monotonic()
                deadline = started + timeout
                if now >= deadline:
                    # Past the computed timeout: wait on only while the child reads on, up to the hard limit.
                    new_rchar = _proc_rchar(proc.pid)
                    if new_rchar is not None and rchar is not None and new_rchar > rchar:
                        last_progress = now
                    rchar = new_rchar
                    hard = started + timeout * cfg.hard_limit_factor
                    if now - last_progress > cfg.progress_grace_s or now >= hard:
                        return self._after_timeout(path, started, cpu0, watched), None
                    deadline = min(now + 1.0, hard)
                if stall is not None:
                    idle = stall.sample(proc.pid, now)
                    if idle >= cfg.stall_timeout_s:
                        return self._after_stall(path, started, idle), None
                    # Wake up in time to sample again (cheap: a check that ends sooner never samples).
                    wake = min(deadline, now + stall.step)
                else:
                    wake = deadline
                message = self._read_message(wake)
            if message is None:
                if proc.poll() is not None or (self._proc is None):
                    return self._after_death(path, started), None
                if time.monotonic() < wake:
                    return self._after_death(path, started), None  # stdout closed: treat as death
                continue
            if stall is not None:
                stall.active(time.monotonic())  # a message is progress too (the child stat'ed or probed)
            kind = message.get("type")
            if kind == "size":
                size = int(message.get("bytes") or 0)
            elif kind == "duration":
                media_s = float(message.get("seconds") or 0.0)
            elif kind == "result":
                self._inflight.popleft()
                if self._inflight:
                    self._inflight[0].started = time.monotonic()  # the child moves on to it now
                result = CheckResult.from_dict(message["result"])
                result = _with_path(result, path)
                self._files_done += 1
                if (
                    message.get("memory_hit")
                    or message.get("retire")  # a thread stuck in a library call, or spent library state
                    or self._files_done >= cfg.recycle_after
                    or float(message.get("rss_mb") or 0) > cfg.recycle_rss_mb
                ):
                    self._kill()
                return result, _stat_after(message.get("stat"))
            else:
                continue
            timeout = max(timeout, cfg.timeout_for(size, media_s))

    def _after_timeout(self, path: str, started: float, cpu0: float, watched: float) -> CheckResult:
        """Kill the child; the CPU it used since *watched* (when *cpu0* was read) tells hang from stall."""
        assert self._proc is not None
        now = time.monotonic()
        elapsed = now - started
        cpu1 = _proc_cpu_seconds(self._proc.pid)
        self._kill()
        window = now - watched
        busy = cpu1 is not None and window > 0 and (cpu1 - cpu0) / window >= self.config.busy_cpu_share
        if busy:
            finding = Finding(
                Severity.CORRUPT, "timeout", _TOOL, f"check timed out after {elapsed:.0f} s (decoder hang)"
            )
        else:
            finding = Finding(
                Severity.UNREADABLE,
                "timeout",
                _TOOL,
                f"check timed out after {elapsed:.0f} s waiting for the file (storage stalled?)",
            )
        return make_result(path, [finding], decisive_tool=_TOOL, duration_s=elapsed)

    def _after_stall(self, path: str, started: float, idle: float) -> CheckResult:
        self._kill()
        elapsed = time.monotonic() - started
        finding = Finding(
            Severity.UNREADABLE, "timeout", _TOOL, f"storage stalled: no data read for {idle:.0f} s"
        )
        return make_result(path, [finding], decisive_tool=_TOOL, duration_s=elapsed)

    def _after_death(self, path: str, started: float) -> CheckResult:
        proc = self._proc
        assert proc is not None
        try:
            code = proc.wait(5.0)
        except subprocess.TimeoutExpired:
            code = None
        elapsed = time.monotonic() - started
        self._kill()
        if code is not None and code < 0 and -code in CRASH_SIGNALS:
            finding = Finding(
                Severity.CORRUPT, "crash", _TOOL, f"decoder crashed (signal {-code}, {_signal_name(-code)})"
            )
        elif code is not None and code < 0:
            finding = Finding(
                Severity.UNREADABLE,
                "checker_killed",
                _TOOL,
                f"checker process was killed (signal {-code}, {_signal_name(-code)})",
            )
        else:
            finding = Finding(
                Severity.UNREADABLE,
                "checker_failed",
                _TOOL,
                f"checker process exited unexpectedly (status {code})",
            )
        return make_result(path, [finding], decisive_tool=_TOOL, duration_s=elapsed)


def _stat_after(raw: Any) -> StatAfter:
    try:
        size, mtime_ns, inode = (int(x) for x in raw)
    except (TypeError, ValueError):
        return _MISSING
    return StatAfter(True, size, mtime_ns, inode)


class _StallWatch:
    """Tells how long a checking child has been idle: no bytes read (``rchar``) and almost no CPU.

    Sampled about once a second (more often for short stall limits); every sample in which the child read
    something or used at least ``stall_cpu_share`` of the interval restarts the idle clock. A decoder
    working through data it already read uses the CPU, so it is never mistaken for a stall; it is judged
    by the timeout instead.
    """

    __slots__ = ("_cpu", "_cpu_share", "_last_active", "_rchar", "_t", "step")

    def __init__(self, cfg: IsolationConfig, now: float, rchar: int | None, cpu: float) -> None:
        self.step = max(0.05, min(1.0, cfg.stall_timeout_s / 4))
        self._cpu_share = cfg.stall_cpu_share
        self._t = now
        self._last_active = now
        self._rchar = rchar
        self._cpu = cpu

    def active(self, now: float) -> None:
        """Record progress seen another way (a message from the child)."""
        self._last_active = now

    def sample(self, pid: int, now: float) -> float:
        """Read the child's counters; return seconds since it last showed any activity."""
        if now - self._t < self.step:
            return now - self._last_active
        rchar = _proc_rchar(pid)
        cpu = _proc_cpu_seconds(pid)
        read_on = rchar is None or self._rchar is None or rchar > self._rchar
        # Clock ticks are 10 ms: over a short interval a single tick must not count as work.
        busy = cpu is None or cpu - self._cpu >= max(0.02, self._cpu_share * (now - self._t))
        if read_on or busy:
            self._last_active = now
        self._t = now
        self._rchar = rchar
        if cpu is not None:
            self._cpu = cpu
        return now - self._last_active


def _with_path(result: CheckResult, path: str) -> CheckResult:
    from dataclasses import replace

    return result if result.path == path else replace(result, path=path)


def prestart(config: IsolationConfig | None = None, env: Mapping[str, str] | None = None) -> None:
    """Start the zygote for checker children with environment *env* in the background, if it is not running.

    Returns at once. Call it as soon as checks are likely (before opening a database, say), so that the
    ~0.3 s of library imports overlaps other work; the first child then forks in milliseconds. A failed
    start is not reported here: the first check starts its child from scratch instead.
    """
    if not (config or IsolationConfig()).fork_server or zygote_running(env):
        return
    timeout = (config or IsolationConfig()).start_timeout_s

    def start() -> None:
        with contextlib.suppress(ZygoteError):
            shared_zygote(env, timeout)

    threading.Thread(target=start, name="pixelprobe-zygote-start", daemon=True).start()


class CheckerPool:
    """``n`` checker children, each fed by its own thread with its next file queued, for the CLI and the
    benchmark.

    The scan engine gives each worker thread its own :class:`CheckerChild` instead.
    """

    def __init__(self, n: int = 2, config: IsolationConfig | None = None, env: dict[str, str] | None = None):
        if n < 1:
            raise ValueError("a checker pool needs at least one child")
        self.children = [CheckerChild(config, env) for _ in range(n)]
        self._idle: SimpleQueue[CheckerChild] = SimpleQueue()
        for child in self.children:
            self._idle.put(child)
        self._executor = ThreadPoolExecutor(max_workers=n, thread_name_prefix="checker")
        self._workers: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        """Start every child now, in parallel (otherwise each starts on its first file)."""
        list(self._executor.map(CheckerChild.start, self.children))

    def check(
        self,
        path: str,
        options: CheckOptions | None = None,
        ignore: Sequence[str] | IgnoreRules | None = None,
    ) -> CheckResult:
        """Check one file on whichever child is idle."""
        child = self._idle.get()
        try:
            return child.check(path, options, ignore)
        finally:
            self._idle.put(child)

    def check_many(
        self,
        paths: Iterable[str],
        options: CheckOptions | None = None,
        ignore: Sequence[str] | IgnoreRules | None = None,
    ) -> Iterator[CheckResult]:
        """Results for ``paths`` in the same order, computed on all children in parallel.

        One thread per child takes the paths one by one and keeps the next one queued in its child
        (``then``), so no child waits between files. ``paths`` is consumed lazily, as children need work.
        """
        rules = ignore if isinstance(ignore, IgnoreRules) else IgnoreRules(ignore or ())
        source = enumerate(paths)
        take_lock = threading.Lock()
        cond = threading.Condition()
        done: dict[int, CheckResult] = {}
        failed: list[BaseException] = []
        running = [len(self.children)]

        def take() -> tuple[int, str] | None:
            with take_lock:
                return None if self._stop.is_set() else next(source, None)

        def work() -> None:
            child = self._idle.get()
            try:
                current = take()
                while current is not None:
                    following = take()
                    then = following[1] if following is not None else None
                    result = child.check(current[1], options, rules, then=then)
                    with cond:
                        done[current[0]] = result
                        cond.notify_all()
                    if self._stop.is_set():
                        break
                    current = following
            except BaseException as exc:  # the paths iterable failed, or a child could not start
                with cond:
                    failed.append(exc)
            finally:
                self._idle.put(child)
                with cond:
                    running[0] -= 1
                    cond.notify_all()

        for _ in self.children:
            worker = threading.Thread(target=work, name="pixelprobe-checker-pool", daemon=True)
            self._workers.append(worker)
            worker.start()

        def results() -> Iterator[CheckResult]:
            index = 0
            while True:
                with cond:
                    while index not in done and running[0] and not failed:
                        cond.wait()
                    if index in done:
                        result = done.pop(index)
                    elif failed:
                        raise failed[0]
                    else:
                        return  # every path checked (or the pool was stopped)
                yield result
                index += 1

        return results()

    @property
    def tool_versions(self) -> dict[str, str]:
        """Tool versions reported by the first started child."""
        for child in self.children:
            if child.tool_versions:
                return child.tool_versions
        return {}

    def close(self) -> None:
        """Stop all children once their current checks are done."""
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for worker in self._workers:
            worker.join()
        for child in self.children:
            child.close()

    def abort(self) -> None:
        """Cancel pending checks and kill the children now (Ctrl-C, shutdown)."""
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        for child in self.children:
            child.abort()
        for worker in self._workers:
            while worker.is_alive():
                worker.join(0.1)
                for child in self.children:  # one that a worker restarted just before it saw the stop
                    child.abort()
        self._executor.shutdown(wait=True)
        for child in self.children:
            child.close()

    def __enter__(self) -> CheckerPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


__all__ = [
    "CheckerChild",
    "CheckerPool",
    "CheckerStartError",
    "IsolationConfig",
    "StatAfter",
    "prestart",
]
