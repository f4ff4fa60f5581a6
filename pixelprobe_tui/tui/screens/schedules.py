"""Schedules: a slot for the schedules issue (cron scans); this screen says so until it lands."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Static

from pixelprobe_tui.tui.screens.base import ModeScreen


class SchedulesScreen(ModeScreen):
    MODE = "schedules"
    DEFAULT_CSS = """
    SchedulesScreen #placeholder { padding: 1 2; color: $text-muted; }
    """

    def compose_body(self) -> Iterable[Widget]:
        yield Static(
            "Scheduled scans are not available in this version yet.\n\n"
            "Run scans from the Dashboard (s), or from cron with `pixelprobe scan`.",
            id="placeholder",
        )
