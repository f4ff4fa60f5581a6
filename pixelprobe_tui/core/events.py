"""Engine events: what a scan tells its observers (the TUI bridge, the CLI progress bar, tests).

Events are small frozen values, cheap to create from worker threads and safe to hand across threads. A sink
is any callable taking one event; it must return quickly (coalescing and repainting are the sink's job).
:class:`ProgressEstimator` turns raw counters into rates and an ETA, without clocks of its own, so it is
deterministic under test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pixelprobe_tui.core.verdict import Verdict


class ScanStatus(StrEnum):
    """How a scan ended (the ``status`` of a scan report)."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ScanStarted:
    """A scan began over *roots*; *deep* asks for full decodes, *force* re-checks unchanged files."""

    scan_id: str
    roots: tuple[str, ...]
    deep: bool = False
    force: bool = False


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    """The scan entered phase *number* of *total* (1-based), named *phase* ("discovering", "checking" ...)."""

    scan_id: str
    phase: str
    number: int
    total: int


@dataclass(frozen=True, slots=True)
class DiscoveryProgress:
    """Running totals of the discovery phase."""

    directories: int
    files_found: int
    files_new: int
    files_skipped_unchanged: int


@dataclass(frozen=True, slots=True)
class DiscoveryIssueFound:
    """Discovery left a path alone or could not read it (kind is a ``discovery.IssueKind`` value)."""

    kind: str
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class Progress:
    """Running totals of the checking phase; ``eta_s`` is ``None`` until there is a rate to go by."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    rate_files_s: float
    rate_bytes_s: float
    eta_s: float | None
    current_files: tuple[str, ...] = ()
    files_before: int = 0  # a resumed run's files done before its interruption (counted in files_done)


@dataclass(frozen=True, slots=True)
class FileChecked:
    """One file got its verdict."""

    path: str
    verdict: Verdict
    duration_s: float


@dataclass(frozen=True, slots=True)
class ScanFinished:
    """The scan ended. ``incomplete_reason`` says what was not examined (unreadable directories,
    missing roots ...) when the run completed without covering everything; ``None`` otherwise."""

    scan_id: str
    status: ScanStatus
    files_total: int = 0
    healthy: int = 0
    warning: int = 0
    corrupted: int = 0
    unreadable: int = 0
    unsupported: int = 0
    skipped_unchanged: int = 0
    duration_s: float = 0.0
    incomplete_reason: str | None = None


Event = (
    ScanStarted
    | PhaseChanged
    | DiscoveryProgress
    | DiscoveryIssueFound
    | Progress
    | FileChecked
    | ScanFinished
)


class EventSink(Protocol):
    """Where the engine sends events. Called from engine threads; must not block."""

    def __call__(self, event: Event) -> None: ...


@dataclass(frozen=True, slots=True)
class Estimate:
    """Smoothed throughput and the time left, as of the last sample."""

    rate_files_s: float
    rate_bytes_s: float
    eta_s: float | None


class ProgressEstimator:
    """Byte-weighted ETA from exponentially weighted throughput.

    Feed it samples ``(t, files_done, bytes_done)`` with ``t`` in seconds from any monotonic clock. Each
    interval's throughput is blended into the running rate with weight ``1 - exp(-dt / time_constant_s)``,
    so the smoothing does not depend on how often samples arrive, and a stall (samples without progress)
    drags the rate down instead of freezing it. The ETA is remaining bytes over the byte rate; when the
    bytes say nothing (all files empty, or no bytes moved yet while files did), remaining files over the
    file rate.
    """

    __slots__ = ("files_total", "bytes_total", "time_constant_s", "_last", "_rate_f", "_rate_b")

    def __init__(self, files_total: int, bytes_total: int, *, time_constant_s: float = 10.0) -> None:
        if time_constant_s <= 0:
            raise ValueError("time_constant_s must be positive")
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.time_constant_s = time_constant_s
        self._last: tuple[float, int, int] | None = None
        self._rate_f: float | None = None
        self._rate_b: float | None = None

    def set_totals(self, files_total: int, bytes_total: int) -> None:
        """Change the totals (discovery found more work) without losing the measured rates."""
        self.files_total = files_total
        self.bytes_total = bytes_total

    def feed(self, t: float, files_done: int, bytes_done: int) -> Estimate:
        """Add a sample and return the current estimate. Samples not later than the previous are ignored."""
        last = self._last
        if last is None:
            self._last = (t, files_done, bytes_done)
            return self.estimate(files_done, bytes_done)
        dt = t - last[0]
        if dt <= 0:
            return self.estimate(files_done, bytes_done)
        inst_f = max(0, files_done - last[1]) / dt
        inst_b = max(0, bytes_done - last[2]) / dt
        if self._rate_f is None or self._rate_b is None:
            self._rate_f, self._rate_b = inst_f, inst_b
        else:
            w = 1.0 - math.exp(-dt / self.time_constant_s)
            self._rate_f += w * (inst_f - self._rate_f)
            self._rate_b += w * (inst_b - self._rate_b)
        self._last = (t, files_done, bytes_done)
        return self.estimate(files_done, bytes_done)

    def estimate(self, files_done: int, bytes_done: int) -> Estimate:
        """The estimate for the given counters, using the rates measured so far."""
        rate_f = self._rate_f or 0.0
        rate_b = self._rate_b or 0.0
        files_left = max(0, self.files_total - files_done)
        bytes_left = max(0, self.bytes_total - bytes_done)
        eta: float | None
        if files_left == 0 and bytes_left == 0:
            eta = 0.0 if self._last is not None else None
        elif bytes_left > 0 and rate_b > 0:
            eta = bytes_left / rate_b
        elif rate_f > 0 and (bytes_left == 0 or rate_b == 0):
            eta = files_left / rate_f
        else:
            eta = None
        return Estimate(rate_f, rate_b, eta)
