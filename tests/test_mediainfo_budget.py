"""A libmediainfo call that never returns costs the file its description, never its verdict, and the
checker child that holds the spinning thread is replaced after answering."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from pixelprobe_tui.core import samples
from pixelprobe_tui.core.checker_child import HOOK_ENV
from pixelprobe_tui.core.checkers import mediainfo
from pixelprobe_tui.core.isolation import CheckerChild, IsolationConfig
from pixelprobe_tui.core.verdict import CheckOptions, Verdict


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("budget")
    ok = samples.generate("png", root / "ok.png", size=(64, 48))
    hang = root / "__pixelprobe_mediainfo_hang.png"
    shutil.copyfile(ok, hang)
    return {"ok": ok, "hang": hang}


def test_an_overrunning_call_is_abandoned_and_the_process_counts_as_stuck(monkeypatch) -> None:
    monkeypatch.setattr(mediainfo, "_stuck", threading.Event())
    monkeypatch.setattr(mediainfo, "_helpers", threading.local())
    assert mediainfo._run_bounded(lambda: 42, 5.0) == (True, 42)
    with pytest.raises(ZeroDivisionError):  # an error inside the call reaches the caller
        mediainfo._run_bounded(lambda: 1 / 0, 5.0)
    release = threading.Event()
    started = time.monotonic()
    assert mediainfo._run_bounded(release.wait, 0.2) == (False, None)
    assert time.monotonic() - started < 5
    assert mediainfo.stuck()
    assert mediainfo._run_bounded(lambda: 42, 5.0) == (False, None)  # no more calls once stuck
    release.set()


def test_budget_grows_with_size() -> None:
    assert mediainfo.budget_for(0) == mediainfo.BUDGET_BASE_S
    assert mediainfo.budget_for(10**10) > mediainfo.budget_for(10**9) > mediainfo.budget_for(0)


def test_a_hanging_media_info_keeps_the_verdict_and_the_child_is_replaced(pictures) -> None:
    with CheckerChild(IsolationConfig(), env={**os.environ, HOOK_ENV: "1"}) as child:
        child.start()
        first_pid = child.pid
        started = time.monotonic()
        result = child.check(str(pictures["hang"]), CheckOptions())
        # A valid picture stays healthy: no timeout verdict, only a note that the description is missing.
        assert result.verdict == Verdict.HEALTHY, result.findings
        assert time.monotonic() - started < 30
        codes = [f.code for f in result.findings]
        assert "media_info_timeout" in codes
        assert result.media_info is None or not result.media_info.get("general")
        assert child.pid is None  # retired after answering
        after = child.check(str(pictures["ok"]), CheckOptions())
        assert after.verdict == Verdict.HEALTHY
        assert "media_info_timeout" not in [f.code for f in after.findings]
        assert after.media_info and after.media_info.get("general")
        assert child.pid not in (None, first_pid)
