"""The checker child process: reads check requests from its parent and answers with results.

Forked from a warm zygote (:mod:`pixelprobe_tui.core.zygote`), which calls :func:`serve`, or, when no
zygote can run, started by :mod:`pixelprobe_tui.core.isolation` as
``python -m pixelprobe_tui.core.checker_child``; either way in its own session. Messages in both directions are frames: a 4-byte big-endian length, then ASCII JSON. JSON with
``ensure_ascii`` escapes lone surrogates, so path names that are not valid UTF-8 (decoded by Python with
``surrogateescape``) survive the trip unchanged.

Parent -> child: ``{"op": "check", "path", "options", "ignore", "timeout"}`` and ``{"op": "quit"}``.
Child -> parent: ``hello`` once at start (pid, tool versions), then per check ``size`` (bytes, after stat)
and ``duration`` (media seconds, after probing) when they lengthen the timeout (``timeout`` carries the
parent's formula; see :class:`_Progress`), and finally ``result`` (the CheckResult, RSS, memory flag, and
``stat``: ``[size, mtime_ns, inode]`` of the file right after the check, or null if it could not be stat'ed).
The stat is taken here, not by the parent, so that storage that stalls on it stalls this process, which the
parent watches and can kill, instead of blocking a scan worker thread.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024

# Test-only behaviours, active only when PIXELPROBE_TEST_HOOKS=1 is in the child's environment and the file
# name starts with one of these prefixes. They imitate pathologies that real files cause rarely and
# unpredictably (a decoder spinning forever, a read that never returns, a segfault, a runaway allocation).
HOOK_ENV = "PIXELPROBE_TEST_HOOKS"
HOOK_PREFIX = "__pixelprobe_"


def encode_frame(message: dict[str, Any]) -> bytes:
    """One frame: length header plus ASCII JSON (lone surrogates escaped)."""
    body = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return _HEADER.pack(len(body)) + body


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any] | None:
    """Block until one frame arrives; None at end of stream."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes is too large")
    body = _read_exact(fd, length)
    if body is None:
        return None
    return json.loads(body.decode("ascii"))


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _watch_parent(parent_pid: int) -> None:
    # If the parent dies without closing our stdin (SIGKILL mid-check), do not decode on as an orphan.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _run_test_hook(path: str, memory_mb: int) -> None:
    """Misbehave on purpose for the isolation tests."""
    name = os.path.basename(path)
    if name.startswith(HOOK_PREFIX + "spin"):
        while True:  # a decoder stuck in a loop: busy CPU, no reads
            pass
    if name.startswith(HOOK_PREFIX + "stall"):
        time.sleep(10**6)  # a read that never returns: no CPU, no reads
    if name.startswith(HOOK_PREFIX + "segv"):
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(10)
    if name.startswith(HOOK_PREFIX + "alloc"):
        hog = bytearray((memory_mb + 256) * 1048576)  # past the cap: MemoryError
        del hog
    if name.startswith(HOOK_PREFIX + "exit"):
        os._exit(3)
    if name.startswith(HOOK_PREFIX + "mediainfo_hang"):
        # libmediainfo spinning forever in one C call, imitated: every media-info call of this process hangs.
        from pixelprobe_tui.core.checkers import mediainfo

        mediainfo.BUDGET_BASE_S = 1.0
        mediainfo.media_info = lambda *args, **kwargs: time.sleep(10**6)  # type: ignore[assignment]
    if name.startswith(HOOK_PREFIX + "grow"):
        with open(path, "ab") as fh:  # a file still being written while it is checked
            fh.write(b"\0")


def _options_from(raw: dict[str, Any]) -> Any:
    from pixelprobe_tui.core.verdict import CheckOptions

    known = {f.name for f in fields(CheckOptions)}
    return CheckOptions(**{k: v for k, v in raw.items() if k in known})


class _Progress:
    """Sends ``size`` and ``duration`` reports, but only those that can lengthen the parent's timeout.

    With the parent's timeout formula in the request (``timeout``: ``base_s``, ``s_per_mb``,
    ``s_per_media_s``, ``min_s``), a report that leaves the timeout at its floor is not sent: every message
    wakes the parent, and on a busy machine each wake-up costs more than checking a small file. Without
    the formula (an older parent) everything is reported.
    """

    def __init__(self, send: Callable[[dict[str, Any]], None], formula: dict[str, float] | None):
        self._send = send
        self._formula = formula
        self._bytes: int | None = None
        self._sent_bytes = False

    def _raises(self, media_s: float | None = None) -> bool:
        """Whether the report (size if *media_s* is None, else duration) raises the parent's timeout."""
        f = self._formula
        if not f:
            return True
        try:
            by_size = f["base_s"] + f["s_per_mb"] * (self._bytes or 0) / 1048576
            if media_s is None:
                return bool(by_size > f["min_s"])
            by_time = f["s_per_media_s"] * media_s
            return bool(by_time > 0 and by_size + by_time > f["min_s"])
        except (KeyError, TypeError):
            return True

    def size(self, n: int) -> None:
        self._bytes = n
        if self._raises():
            self._sent_bytes = True
            self._send({"type": "size", "bytes": n})

    def duration(self, seconds: float) -> None:
        if not self._raises(seconds):
            return
        if self._bytes is not None and not self._sent_bytes:
            # Size and duration together pass the floor: the parent's formula needs both.
            self._sent_bytes = True
            self._send({"type": "size", "bytes": self._bytes})
        self._send({"type": "duration", "seconds": seconds})


def _check_one(
    message: dict[str, Any], send: Callable[[dict[str, Any]], None], memory_mb: int, hooks: bool
) -> dict[str, Any]:
    from pixelprobe_tui.core import checkers
    from pixelprobe_tui.core.verdict import Finding, IgnoreRules, Severity, make_result

    path: str = message["path"]
    options = _options_from(message.get("options") or {})
    ignore = IgnoreRules(message.get("ignore") or ())
    progress = _Progress(send, message.get("timeout"))
    memory_hit = False
    try:
        if hooks:
            _run_test_hook(path, memory_mb)
        result = checkers.check(path, options, ignore, on_size=progress.size, on_duration=progress.duration)
    except MemoryError:
        memory_hit = True
        result = ignore.apply(make_result(path, [checkers.memory_cap_finding()]))
    except Exception as exc:  # the dispatcher should never raise; if it does, the file still gets a result
        finding = Finding(Severity.UNREADABLE, "checker_failed", "pixelprobe", f"checker failed: {exc!r}")
        result = make_result(path, [finding])
    if any(f.code == "memory_cap" for f in result.findings):
        memory_hit = True
    try:
        st = os.stat(path)
        stat: list[int] | None = [st.st_size, st.st_mtime_ns, st.st_ino]
    except (OSError, ValueError):
        stat = None
    return {
        "type": "result",
        "result": result.to_dict(),
        "rss_mb": round(rss_mb(), 1),
        "memory_hit": memory_hit,
        "stat": stat,
    }


def redirect_stdio() -> None:
    """Point fd 0 at /dev/null and fd 1 at stderr, so that a library printing to stdout (or reading stdin)
    cannot touch the protocol descriptors or the terminal."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def serve(
    proto_in: int,
    proto_out: int,
    memory_mb: int,
    *,
    hooks: bool = False,
    tool_versions: dict[str, str] | None = None,
    watch_parent: bool = True,
) -> int:
    """Answer check requests read from *proto_in* on *proto_out* until end of input or a quit message.

    Sets the address-space cap first, then sends ``hello``. *tool_versions* saves asking the libraries
    again (a child forked from a warm zygote gets them from it); *watch_parent* starts a thread that ends
    this process when its parent goes (a forked child relies on PR_SET_PDEATHSIG instead).
    Returns the process exit status.
    """
    if memory_mb > 0:
        cap = memory_mb * 1048576
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    send_lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        data = encode_frame(message)
        with send_lock:
            view = memoryview(data)
            while view:
                view = view[os.write(proto_out, view) :]

    from pixelprobe_tui.core import checkers  # import before hello so start-up failures surface at once
    from pixelprobe_tui.core.checkers import mediainfo

    mediainfo.bound_calls()

    if watch_parent:
        threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    versions = tool_versions if tool_versions is not None else checkers.tool_versions()
    send({"type": "hello", "pid": os.getpid(), "tool_versions": versions})
    while True:
        try:
            message = read_frame(proto_in)
        except (OSError, ValueError):
            return 1
        if message is None or message.get("op") == "quit":
            return 0
        if message.get("op") == "check":
            answer = _check_one(message, send, memory_mb, hooks)
            if mediainfo.stuck() or checkers.process_spent():
                # A libmediainfo call never returned and spins on in its thread, or FFmpeg has spent a
                # message it prints once per process: replace this process.
                answer["retire"] = True
            send(answer)
        else:
            send({"type": "error", "message": f"unknown op {message.get('op')!r}"})


def main(argv: list[str] | None = None) -> int:
    """Serve check requests on stdin/stdout until end of input or a quit message."""
    args = list(sys.argv[1:] if argv is None else argv)
    memory_mb = int(args[args.index("--memory-mb") + 1]) if "--memory-mb" in args else 0
    # Ctrl-C belongs to the parent; our session is separate anyway, this covers a direct kill -INT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the protocol on private descriptors.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    redirect_stdio()
    return serve(proto_in, proto_out, memory_mb, hooks=os.environ.get(HOOK_ENV) == "1")


if __name__ == "__main__":
    raise SystemExit(main())
