"""Fixtures of the TUI tests: a real SQLite database with demo rows, and helpers to drive the app."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.screen import Screen

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.migrate import open_database
from tests.tui import demo_data

DEMO_ROWS = 300


@pytest.fixture
def demo_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite file at head with DEMO_ROWS demo results and a few reports."""
    db = open_database(f"sqlite:///{tmp_path / 'tui.db'}")
    demo_data.populate(db, DEMO_ROWS)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        yield db
    finally:
        db.dispose()


S = TypeVar("S", bound=Screen[Any])


@contextlib.asynccontextmanager
async def on_screen(
    db: Database, key: str, screen_type: type[S], size: tuple[int, int] = (80, 24)
) -> AsyncIterator[tuple[Pilot[Any], S]]:
    """The app at ``size``, switched by its mode key (``"4"`` Logs, ``"5"`` Settings, ...) to the screen
    it must show: ``(pilot, screen)``; ``pilot.app`` is the app."""
    from pixelprobe_tui.tui.app import PixelProbeApp

    app = PixelProbeApp(db, poll_interval=0.05)
    async with app.run_test(size=size) as pilot:
        await pilot.press(key)
        screen = app.screen
        assert isinstance(screen, screen_type)
        yield pilot, screen


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one async test body (the suite has no asyncio plugin)."""
    return asyncio.run(coro)


def text_of(renderable: object, width: int = 200) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


async def wait_for(pilot: Any, condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Let the app run until ``condition()`` is truthy (workers post their results asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)
