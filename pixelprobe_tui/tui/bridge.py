"""Engine events -> a few Textual messages per second.

The scan service calls the sink from its worker and writer threads, possibly thousands of times a second.
:class:`ScanBridge` keeps only the newest progress and posts one :class:`ScanUpdate` at most every
``interval`` seconds (``post_message`` is thread-safe and never blocks the engine); the start, phase changes
and the end are posted at once so the screen never misses them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual.message import Message
from textual.message_pump import MessagePump

from pixelprobe_tui.core.events import (
    Event,
    FileChecked,
    PhaseChanged,
    Progress,
    ScanFinished,
    ScanStarted,
)


class ScanUpdate(Message):
    """What changed since the last update: the newest progress, the phase, how many files got a verdict,
    and the end of the run when it ended."""

    def __init__(
        self,
        progress: Progress | None,
        phase: PhaseChanged | None,
        checked: int,
        started: ScanStarted | None,
        finished: ScanFinished | None,
    ) -> None:
        super().__init__()
        self.progress = progress
        self.phase = phase
        self.checked = checked
        self.started = started
        self.finished = finished


class ScanBridge:
    """A scan event sink that coalesces events into :class:`ScanUpdate` messages for ``target``."""

    def __init__(
        self, target: MessagePump, interval: float = 0.25, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.target = target
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._phase: PhaseChanged | None = None
        self._checked = 0
        self._last_post = float("-inf")

    def __call__(self, event: Event) -> None:
        started = finished = None
        with self._lock:
            if isinstance(event, Progress):
                self._progress = event
            elif isinstance(event, FileChecked):
                self._checked += 1
            elif isinstance(event, PhaseChanged):
                self._phase = event
            elif isinstance(event, ScanStarted):
                started = event
            elif isinstance(event, ScanFinished):
                finished = event
            now = self.clock()
            urgent = started is not None or finished is not None or isinstance(event, PhaseChanged)
            if not urgent and now - self._last_post < self.interval:
                return
            message = ScanUpdate(self._progress, self._phase, self._checked, started, finished)
            self._checked = 0
            self._last_post = now
        self.target.post_message(message)
