"""A warm fork server for checker children: start-up paid once per process, not once per child.

A checker child that starts from scratch spends ~0.2 s of CPU importing FFmpeg (PyAV), Pillow,
pillow-heif and libmediainfo, and ~0.1 s more at its first images (numpy/simplejpeg, Pillow's plugins). A
scan pays that per worker, again after every crash, timeout or recycle, and ``pixelprobe check`` pays it
per child. The zygote pays it once: it is started like a checker child (``python -m
pixelprobe_tui.core.zygote``, own session, stdin on /dev/null), imports the checkers, says it is ready,
warms up at once (the lazy imports, and a few tiny files it writes itself and checks) and then forks
checker children on request, each in a few milliseconds and every one warm. Fork requests that come
during the warm-up wait for it: children forked cold would each pay the lazy set-up again, and the
zygote warming up beside them would take CPU from them (measured: a cold first pair cost a 544-file
run ~0.13 s of CPU more than the ~0.05 s the warm-up adds before the first fork).

Why this is safe:

- Only the zygote forks, and it is single-threaded: it counts its threads (``/proc/self/task``) before
  every fork and refuses if a library started one (numpy's OpenBLAS would: it is told to use one thread).
  The parent, which has threads, never forks; it starts the zygote with fork+exec.
- A forked child keeps every isolation property of a child started from scratch: its own session
  (``setsid``), the RLIMIT_AS cap set after the fork, the same framed protocol on two pipes the parent
  created and handed over (``SCM_RIGHTS``), fd 0 on /dev/null and fd 1 on its own stderr file, SIGINT
  ignored.
- Nothing outlives the parent: the zygote's control socket reaches end-of-file when the parent dies (even
  by SIGKILL), and the zygote then kills every child's process group and exits; each child has
  ``PR_SET_PDEATHSIG`` = SIGKILL towards the zygote, so a dead zygote takes its children along. (Not
  towards the parent: that signal follows the *thread* that started the process, and the parent starts
  children from short-lived threads.) An idle zygote without children also exits after ``idle_exit_s``.
- The parent cannot wait for a grandchild, so the zygote reaps its children and reports each exit status
  (``-N`` for signal N, as in :mod:`subprocess`); a crash still reads "decoder crashed (signal 11)". Before
  reaping it kills the child's process group (helpers, if a library ever starts one). The parent signals a
  child through a pidfd the zygote sends along, so a pid reused after the reap can never be hit.

Control protocol (an ``AF_UNIX`` ``SOCK_SEQPACKET`` pair; one JSON message per packet):

- zygote -> parent, once: ``{"type": "ready", "pid", "tool_versions"}`` or ``{"type": "error", "message"}``.
- parent -> zygote: ``{"op": "fork", "memory_mb"}`` with three descriptors (the child's protocol input,
  its protocol output, its stderr); answered by ``{"type": "forked", "pid"}`` with the child's pidfd, or
  by ``{"type": "error", "message"}``. ``{"op": "quit"}`` ends the zygote and its children.
- zygote -> parent, any time: ``{"type": "exit", "pid", "code"}`` when a child has been reaped, and
  ``{"type": "warm"}`` once, when the warm-up is done.

The parent side is :class:`Zygote` (one per distinct child environment, shared by all checker children of
the process through :func:`shared`) and :class:`ForkedProcess`, the small part of ``subprocess.Popen``'s
interface that :class:`pixelprobe_tui.core.isolation.CheckerChild` uses.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import json
import logging
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from typing import IO, Any

from pixelprobe_tui.errors import PixelProbeError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_MAX_PACKET = 65536
# Test hook (with PIXELPROBE_TEST_HOOKS=1): the zygote starts a thread once ready, as a library might.
_THREAD_HOOK = "PIXELPROBE_TEST_ZYGOTE_THREAD"
# Environment for the zygote: numpy (imported by simplejpeg) would otherwise start an OpenBLAS thread
# pool, and a process with threads must not fork.
_SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ZygoteError(PixelProbeError):
    """The zygote could not be started or could not fork a child (the caller starts one from scratch)."""


# -- the zygote process ----------------------------------------------------------------------------------


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _warm_up() -> None:
    """Check a few tiny files of different kinds, so that lazy imports and first-use library set-up are
    done once here instead of in every child.

    Written with Pillow and by hand only: FFmpeg encoders may start threads, and this process must stay
    single-threaded.
    """
    from PIL import Image

    from pixelprobe_tui.core import checkers
    from pixelprobe_tui.core.verdict import CheckOptions

    Image.init()  # every format plugin: the first unknown-looking image would load them anyway
    with tempfile.TemporaryDirectory(prefix="pixelprobe-zygote-") as tmp:
        picture = Image.new("RGB", (16, 16), (90, 140, 200))
        paths = []
        for ext in ("jpg", "png", "gif"):
            path = os.path.join(tmp, f"warm.{ext}")
            picture.save(path)
            paths.append(path)
        wav = os.path.join(tmp, "warm.wav")
        pcm = bytes(1600)  # 0.1 s of 8 kHz 16-bit mono silence
        header = b"RIFF" + (36 + len(pcm)).to_bytes(4, "little") + b"WAVEfmt "
        header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
        header += (8000).to_bytes(4, "little") + (16000).to_bytes(4, "little")
        header += (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
        header += b"data" + len(pcm).to_bytes(4, "little")
        with open(wav, "wb") as fh:
            fh.write(header + pcm)
        paths.append(wav)
        for path, deep in [(p, False) for p in paths] + [(wav, True)]:
            with contextlib.suppress(Exception):  # a warm-up failure only costs the child the time
                checkers.check(path, CheckOptions(deep=deep, want_hash=True))


def _warm_up_and_freeze() -> None:
    """Warm up, then keep every object created so far out of all garbage collections, here and in the
    children (frozen there too): they live as long as the zygote, and a child's collector walking them
    would copy the zygote's pages on write.

    The collector is off from the zygote's start until here (see :func:`main`): imports create few
    cycles, and the collections they would trigger cost ~15 ms of the start-up; a full collection
    before the freeze would cost ~10 ms more to reclaim next to nothing.
    """
    try:
        _warm_up()
    finally:
        gc.freeze()
        gc.enable()


def _send(ctl: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message, ensure_ascii=True).encode("ascii")
    if fds:
        socket.send_fds(ctl, [data], fds)
    else:
        ctl.send(data)


def _set_pdeathsig(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _child_main(
    fds: list[int], memory_mb: int, hooks: bool, versions: dict[str, str], zygote_pid: int, close: list[int]
) -> int:
    """Runs in a freshly forked child: become an isolated checker child and serve the parent."""
    from pixelprobe_tui.core import checker_child

    for fd in close:
        with contextlib.suppress(OSError):
            os.close(fd)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != zygote_pid:  # the zygote died between fork and prctl: nobody would kill us
        return 1
    proto_in, proto_out, err = fds
    os.dup2(err, 2)
    os.close(err)
    os.dup2(2, 1)
    return checker_child.serve(
        proto_in, proto_out, memory_mb, hooks=hooks, tool_versions=versions, watch_parent=False
    )


def _fork(
    ctl: socket.socket,
    request: dict[str, Any],
    fds: list[int],
    versions: dict[str, str],
    wake: tuple[int, int],
) -> int:
    memory_mb = int(request.get("memory_mb") or 0)
    hooks = os.environ.get("PIXELPROBE_TEST_HOOKS") == "1"
    zygote_pid = os.getpid()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _child_main(fds, memory_mb, hooks, versions, zygote_pid, [ctl.fileno(), *wake])
        except BaseException:
            with contextlib.suppress(Exception):
                traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)
    return pid


def _reap(ctl: socket.socket, children: set[int]) -> None:
    """Reap every child that has ended, killing its process group first, and report its status."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None:
            return
        pid = info.si_pid
        # The dead child still holds its pid (and so its group id) until reaped: the group is ours to kill.
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        children.discard(pid)
        _send(ctl, {"type": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _kill_all(children: set[int]) -> None:
    for pid in list(children):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for pid in list(children):
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
    children.clear()


def serve_forever(ctl: socket.socket, idle_exit_s: float) -> int:
    """The zygote's life: import the checkers, report ready, warm up, then fork children on request until
    the parent goes.

    Ready comes as soon as the checkers are imported; the warm-up (lazy imports, a few tiny checks)
    follows at once, before the first request is read, so that every child starts warm.
    """
    try:
        from pixelprobe_tui.core import checkers

        versions = checkers.tool_versions()
        os.close(os.pidfd_open(os.getpid()))  # Linux >= 5.3; without pidfds children start from scratch
        _check_single_threaded()
    except Exception as exc:
        _send(ctl, {"type": "error", "message": f"checker zygote failed to start: {exc!r}"})
        return 1
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that SIGCHLD writes to the wake pipe
    children: set[int] = set()
    poller = select.poll()
    poller.register(ctl.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    try:
        _send(ctl, {"type": "ready", "pid": os.getpid(), "tool_versions": versions})
        if os.environ.get("PIXELPROBE_TEST_HOOKS") == "1" and os.environ.get(_THREAD_HOOK) == "1":
            # Test only: a library that starts a thread after start-up.
            threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        # Warm up at once, before the first fork request is read: children forked cold would each pay
        # the lazy set-up again (numpy alone is 30-50 ms), and a warm-up after them would compete with
        # them for the CPU. Requests wait in the socket meanwhile.
        _warm_up_and_freeze()
        _send(ctl, {"type": "warm"})
        idle_since = time.monotonic()
        while True:
            wait_ms: int | None = None
            if not children and idle_exit_s > 0:
                wait_ms = max(0, int((idle_since + idle_exit_s - time.monotonic()) * 1000))
            events = poller.poll(wait_ms)
            if not events:
                if not children and idle_exit_s > 0:
                    return 0  # idle too long; the parent starts a new zygote when it needs one
                continue
            for fd, _ in events:
                if fd == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_r, 4096):
                            pass
                    _reap(ctl, children)
                    if not children:
                        idle_since = time.monotonic()
                    continue
                msg, fds, _, _ = socket.recv_fds(ctl, _MAX_PACKET, 3)
                if not msg:
                    return 0  # the parent closed the socket or died
                try:
                    request = json.loads(msg)
                    if request.get("op") == "quit":
                        return 0
                    if request.get("op") != "fork" or len(fds) != 3:
                        _send(ctl, {"type": "error", "message": "bad request"})
                        continue
                    _check_single_threaded()
                    pid = _fork(ctl, request, fds, versions, (wake_r, wake_w))
                    children.add(pid)
                    pidfd = os.pidfd_open(pid)
                    try:
                        _send(ctl, {"type": "forked", "pid": pid}, [pidfd])
                    finally:
                        os.close(pidfd)
                except RuntimeError as exc:  # threads appeared: this zygote must not fork again
                    _send(ctl, {"type": "error", "message": str(exc), "unsafe": True})
                    return 1
                except OSError as exc:
                    if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                        return 0
                    _send(ctl, {"type": "error", "message": f"fork failed: {exc}"})
                finally:
                    for fd in fds:
                        os.close(fd)
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        _kill_all(children)


def _check_single_threaded() -> None:
    threads = _thread_count()
    if threads != 1:
        raise RuntimeError(f"the checker zygote has {threads} threads; forking would be unsafe")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the zygote process: ``--fd N`` is its end of the control socket."""
    from pixelprobe_tui.core.checker_child import redirect_stdio

    gc.disable()  # until the warm-up is done: see _warm_up_and_freeze
    args = list(sys.argv[1:] if argv is None else argv)
    fd = int(args[args.index("--fd") + 1])
    idle = float(args[args.index("--idle-exit") + 1]) if "--idle-exit" in args else 600.0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    redirect_stdio()
    ctl = socket.socket(fileno=fd)
    return serve_forever(ctl, idle)


# -- the parent side -------------------------------------------------------------------------------------


class ForkedProcess:
    """A checker child forked by a :class:`Zygote`: the part of ``subprocess.Popen`` isolation uses.

    ``stdin``/``stdout`` are the protocol pipes; the exit status comes from the zygote, which reaps.
    """

    def __init__(self, zygote: Zygote, pid: int, pidfd: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.zygote = zygote
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        self._pidfd = pidfd

    def _gone(self, timeout: float) -> bool:
        """Whether the process has ended (the pidfd becomes readable), waiting up to *timeout*."""
        if self._pidfd < 0:
            return True
        ready, _, _ = select.select([self._pidfd], [], [], max(0.0, timeout))
        return bool(ready)

    def poll(self) -> int | None:
        """The exit status if the child has ended, else None."""
        if self.returncode is None:
            code = self.zygote.take_status(self.pid, 0.0)
            if code is None and self._gone(0.0):
                code = self._status_after_exit()
            self._set(code)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; ``subprocess.TimeoutExpired`` after *timeout* seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = 1.0 if deadline is None else deadline - time.monotonic()
            code = self.zygote.take_status(self.pid, min(max(left, 0.0), 1.0))
            if code is None and self._gone(0.0):
                code = self._status_after_exit()
            self._set(code)
            if self.returncode is None and deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"checker child {self.pid}", timeout or 0.0)
        return self.returncode

    def _status_after_exit(self) -> int | None:
        # The process is gone; its status follows from the zygote in a moment, unless the zygote died
        # too (then the child was killed by its death signal, or reaped by init).
        code = self.zygote.take_status(self.pid, 5.0)
        if code is None and not self.zygote.alive:
            return -signal.SIGKILL
        return code

    def _set(self, code: int | None) -> None:
        if code is not None and self.returncode is None:
            self.returncode = code
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = -1

    def kill(self) -> None:
        """SIGKILL the child (through its pidfd: never another process that got the pid later)."""
        if self.returncode is None and self._pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def close(self) -> None:
        """Release the pidfd (the child itself is left alone)."""
        if self._pidfd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = -1


class Zygote:
    """The parent's handle on one zygote process. Thread-safe; see :func:`shared`."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        start_timeout_s: float = 120.0,
        idle_exit_s: float = 600.0,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._key = _key(env)
        self.start_timeout_s = start_timeout_s
        self.idle_exit_s = idle_exit_s
        self.pid: int | None = None
        self.tool_versions: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()  # one fork request at a time
        self._cond = threading.Condition()
        self._statuses: dict[int, int] = {}
        self._replies: queue.SimpleQueue[tuple[dict[str, Any], list[int]] | None] = queue.SimpleQueue()
        self._dead = True
        self.forks = 0
        self.last_used = time.monotonic()
        self._live: set[int] = set()  # children forked and not yet reported ended
        # Set when the zygote has finished its warm-up: children forked from then on start warm.
        self.warm = threading.Event()

    @property
    def alive(self) -> bool:
        """Whether the zygote process is running and answering."""
        return not self._dead

    def start(self) -> None:
        """Start the zygote and wait until it is warm; :class:`ZygoteError` if it cannot be."""
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(self._env)
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env.update(_SINGLE_THREAD_ENV)
        self._stderr = tempfile.TemporaryFile(prefix="pixelprobe-zygote-")  # noqa: SIM115
        cmd = [sys.executable, "-m", "pixelprobe_tui.core.zygote", "--fd", str(child_end.fileno())]
        cmd += ["--idle-exit", str(self.idle_exit_s)]
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._stderr,
                stderr=self._stderr,
                start_new_session=True,
                close_fds=True,
                pass_fds=(child_end.fileno(),),
                env=env,
            )
        except OSError as exc:
            parent_end.close()
            raise ZygoteError(f"cannot start the checker zygote: {exc}") from None
        finally:
            child_end.close()
        self._sock = parent_end
        parent_end.settimeout(self.start_timeout_s)
        try:
            data, fds, _, _ = socket.recv_fds(parent_end, _MAX_PACKET, 1)
            message = json.loads(data) if data else None
        except (OSError, ValueError):
            message, fds = None, []
        for fd in fds:
            os.close(fd)
        if not message or message.get("type") != "ready":
            detail = message.get("message") if message else self._stderr_tail() or "no answer"
            self._shutdown()
            raise ZygoteError(f"the checker zygote did not start: {detail}")
        parent_end.settimeout(None)
        self.pid = int(message["pid"])
        self.tool_versions = dict(message.get("tool_versions") or {})
        self._dead = False
        threading.Thread(target=self._reader, name="pixelprobe-zygote-reader", daemon=True).start()

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, IndexError):
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            return lines[-1] if lines else ""
        return ""

    def _reader(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while True:
                data, fds, _, _ = socket.recv_fds(sock, _MAX_PACKET, 1)
                if not data:
                    break
                message = json.loads(data)
                if message.get("type") == "exit":
                    with self._cond:
                        self._statuses[int(message["pid"])] = int(message["code"])
                        self._live.discard(int(message["pid"]))
                        self._cond.notify_all()
                    for fd in fds:
                        os.close(fd)
                elif message.get("type") == "warm":
                    self.warm.set()
                else:
                    self._replies.put((message, fds))
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._dead = True
                self._cond.notify_all()
            self._replies.put(None)
            proc = self._proc
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10.0)

    def take_status(self, pid: int, timeout: float) -> int | None:
        """The exit status of child *pid* (removed once taken), waiting up to *timeout* for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while pid not in self._statuses:
                left = deadline - time.monotonic()
                if left <= 0 or self._dead:
                    return None
                self._cond.wait(left)
            return self._statuses.pop(pid)

    def fork(self, memory_mb: int, stderr_fd: int) -> ForkedProcess:
        """A new checker child (protocol pipes connected, ``hello`` not yet read); :class:`ZygoteError`
        if the zygote is gone or cannot fork."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        theirs = [in_r, out_w]
        ours = [in_w, out_r]
        try:
            with self._lock:
                if self._dead or self._sock is None:
                    raise ZygoteError("the checker zygote is not running")
                try:
                    _send(self._sock, {"op": "fork", "memory_mb": memory_mb}, [in_r, out_w, stderr_fd])
                except OSError as exc:
                    raise ZygoteError(f"the checker zygote is not answering: {exc}") from None
                try:
                    reply = self._replies.get(timeout=self.start_timeout_s)
                except queue.Empty:
                    self.kill()
                    raise ZygoteError("the checker zygote stopped answering") from None
            if reply is None:
                raise ZygoteError("the checker zygote ended")
            message, fds = reply
            if message.get("type") != "forked" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                detail = str(message.get("message") or "the checker zygote could not fork")
                if message.get("unsafe"):  # a new zygote would end the same way: not again for a while
                    _failed_until[self._key] = time.monotonic() + _RETRY_AFTER_S
                    log.warning("%s; starting checker processes from scratch", detail)
                raise ZygoteError(detail)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        self.forks += 1
        self.last_used = time.monotonic()
        pid = int(message["pid"])
        with self._cond:
            self._live.add(pid)
        stdin = os.fdopen(in_w, "wb")
        stdout = os.fdopen(out_r, "rb", buffering=0)
        return ForkedProcess(self, pid, fds[0], stdin, stdout)

    @property
    def busy(self) -> bool:
        """Whether children forked by this zygote are still running."""
        with self._cond:
            return bool(self._live)

    def kill(self) -> None:
        """SIGKILL the zygote (its children follow through their death signal)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _shutdown(self, wait_s: float = 5.0) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                self.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(wait_s)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._dead = True

    def _forget(self) -> None:
        """In a forked copy of the parent: drop the inherited handle without touching the zygote."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._proc = None
        self._stderr = None
        self._dead = True

    def close(self) -> None:
        """End the zygote and every child it forked."""
        with self._lock:
            self._shutdown()


_shared: dict[tuple[tuple[str, str], ...] | None, Zygote] = {}
_shared_lock = threading.Lock()
_failed_until: dict[tuple[tuple[str, str], ...] | None, float] = {}
# After a zygote failed to start, children start from scratch for a while before the next attempt.
_RETRY_AFTER_S = 60.0
# Shared zygotes kept running at most (one per child environment in use).
_MAX_SHARED = 3


def _key(env: Mapping[str, str] | None) -> tuple[tuple[str, str], ...] | None:
    return None if env is None else tuple(sorted(env.items()))


def running(env: Mapping[str, str] | None = None) -> bool:
    """Whether the shared zygote for *env* is up (without starting it)."""
    zygote = _shared.get(_key(env))
    return zygote is not None and zygote.alive


def shared(env: Mapping[str, str] | None = None, start_timeout_s: float = 120.0) -> Zygote:
    """The running zygote for children with environment *env* (None: this process's environment as it is
    when the zygote starts; later changes to ``os.environ`` do not reach its children), started if needed.

    Raises :class:`ZygoteError` when it cannot start (then again without trying for a minute).
    """
    key = _key(env)
    with _shared_lock:
        zygote = _shared.get(key)
        if zygote is not None and zygote.alive:
            return zygote
        if time.monotonic() < _failed_until.get(key, 0.0):
            raise ZygoteError("the checker zygote failed to start recently")
        zygote = Zygote(env, start_timeout_s=start_timeout_s)
        try:
            zygote.start()
        except ZygoteError as exc:
            _failed_until[key] = time.monotonic() + _RETRY_AFTER_S
            log.warning("%s; starting checker processes from scratch", exc)
            raise
        _shared[key] = zygote
        # Each distinct child environment has its own zygote (~75 MB): past a few, end the least recently
        # used ones that have no children running (a long test session tries many environments).
        spare = [(z.last_used, k) for k, z in _shared.items() if k != key and z.alive and not z.busy]
        for _, old in sorted(spare)[: max(0, sum(z.alive for z in _shared.values()) - _MAX_SHARED)]:
            _shared.pop(old).close()
        return zygote


def close_all() -> None:
    """End every shared zygote and its children (at exit; tests)."""
    with _shared_lock:
        zygotes = list(_shared.values())
        _shared.clear()
        _failed_until.clear()
    for zygote in zygotes:
        zygote.close()


def _after_fork_in_child() -> None:
    # A process forked from this one by someone else (we never fork a process with threads) must not talk
    # to our zygotes through the inherited sockets: it forgets them (closing only its own descriptors, no
    # shutdown) and starts its own zygote when it needs one.
    global _shared_lock
    _shared_lock = threading.Lock()
    for zygote in _shared.values():
        zygote._forget()
    _shared.clear()
    _failed_until.clear()


atexit.register(close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)


if __name__ == "__main__":
    raise SystemExit(main())
