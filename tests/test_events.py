"""Engine events and the progress estimator."""

from __future__ import annotations

import dataclasses
import math

import pytest

from pixelprobe_tui.core.events import (
    DiscoveryProgress,
    Event,
    EventSink,
    FileChecked,
    PhaseChanged,
    Progress,
    ProgressEstimator,
    ScanFinished,
    ScanStarted,
    ScanStatus,
)
from pixelprobe_tui.core.verdict import Verdict

ALL_EVENTS: list[Event] = [
    ScanStarted("s1", ("/media",), deep=True, force=False),
    PhaseChanged("s1", "discovering", 1, 3),
    DiscoveryProgress(directories=3, files_found=10, files_new=4, files_skipped_unchanged=6),
    Progress(1, 4, 100, 400, 2.0, 200.0, 1.5, ("/media/a.mkv",)),
    FileChecked("/media/a.mkv", Verdict.CORRUPTED, 0.25),
    ScanFinished("s1", ScanStatus.COMPLETED, files_total=4, healthy=3, corrupted=1, duration_s=2.0),
]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_events_are_frozen_slotted_values(event: Event) -> None:
    assert not hasattr(event, "__dict__")
    field = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, field, None)
    assert event == dataclasses.replace(event)
    assert hash(event) == hash(dataclasses.replace(event))


def test_scan_finished_carries_the_incomplete_reason() -> None:
    done = ScanFinished("s1", ScanStatus.COMPLETED, incomplete_reason="2 directories unreadable")
    assert done.status == "completed" and done.incomplete_reason == "2 directories unreadable"
    assert ScanFinished("s1", ScanStatus.CANCELLED).incomplete_reason is None


def test_any_callable_is_a_sink() -> None:
    received: list[Event] = []
    sink: EventSink = received.append
    for event in ALL_EVENTS:
        sink(event)
    assert received == ALL_EVENTS


# ---------------------------------------------------------------------------------------------------------
# ProgressEstimator


def test_no_estimate_before_a_rate_is_known() -> None:
    est = ProgressEstimator(10, 1000)
    assert est.estimate(0, 0).eta_s is None
    first = est.feed(0.0, 0, 0)
    assert first.eta_s is None and first.rate_bytes_s == 0


def test_constant_throughput_gives_exact_rate_and_byte_weighted_eta() -> None:
    est = ProgressEstimator(100, 1000)
    est.feed(0.0, 0, 0)
    est.feed(1.0, 10, 100)
    e = est.feed(2.0, 20, 200)
    assert e.rate_files_s == pytest.approx(10.0)
    assert e.rate_bytes_s == pytest.approx(100.0)
    assert e.eta_s == pytest.approx(8.0)  # 800 bytes left at 100 B/s


def test_eta_follows_bytes_not_files() -> None:
    # Half the files done but they were the small ones: most of the bytes are still ahead.
    est = ProgressEstimator(10, 1100)
    est.feed(0.0, 0, 0)
    e = est.feed(5.0, 5, 100)  # 20 B/s, 1000 bytes left
    assert e.eta_s == pytest.approx(50.0)


def test_smoothing_is_independent_of_the_sampling_rate() -> None:
    def after_step(step: float) -> float:
        est = ProgressEstimator(0, 10**9, time_constant_s=4.0)
        t, done = 0.0, 0
        est.feed(t, 0, done)
        for _ in range(round(10 / step)):  # 10 s at 100 B/s
            t += step
            done += round(100 * step)
            est.feed(t, 0, done)
        for _ in range(round(3 / step)):  # then 3 s at 400 B/s
            t += step
            done += round(400 * step)
            e = est.feed(t, 0, done)
        return e.rate_bytes_s

    expected = 400 + (100 - 400) * math.exp(-3 / 4.0)
    assert after_step(1.0) == pytest.approx(expected)
    assert after_step(0.25) == pytest.approx(expected)


def test_a_stall_drags_the_rate_down_and_the_eta_up() -> None:
    est = ProgressEstimator(10, 1000)
    est.feed(0.0, 0, 0)
    moving = est.feed(1.0, 1, 100)
    stalled = est.feed(6.0, 1, 100)
    assert stalled.rate_bytes_s < moving.rate_bytes_s
    assert stalled.eta_s is not None and moving.eta_s is not None and stalled.eta_s > moving.eta_s


def test_empty_files_fall_back_to_the_file_rate() -> None:
    est = ProgressEstimator(100, 0)
    est.feed(0.0, 0, 0)
    e = est.feed(2.0, 20, 0)
    assert e.eta_s == pytest.approx(8.0)  # 80 files at 10 files/s


def test_out_of_order_samples_are_ignored_and_done_means_zero() -> None:
    est = ProgressEstimator(2, 200)
    est.feed(0.0, 0, 0)
    est.feed(1.0, 1, 100)
    same = est.feed(1.0, 2, 200)  # no time passed: the rates stay
    assert same.rate_bytes_s == pytest.approx(100.0)
    assert same.eta_s == 0.0
    assert est.feed(0.5, 2, 200).rate_bytes_s == pytest.approx(100.0)


def test_set_totals_keeps_the_rates() -> None:
    est = ProgressEstimator(10, 1000)
    est.feed(0.0, 0, 0)
    est.feed(1.0, 1, 100)
    est.set_totals(20, 2100)
    assert est.estimate(1, 100).eta_s == pytest.approx(20.0)
    with pytest.raises(ValueError):
        ProgressEstimator(1, 1, time_constant_s=0)
