"""Logs: the LogEntry table (placeholder until the log viewer lands)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Static

from pixelprobe_tui.tui.screens.base import ModeScreen


class LogsScreen(ModeScreen):
    MODE = "logs"
    DEFAULT_CSS = """
    LogsScreen #placeholder { padding: 1 2; color: $text-muted; }
    """

    def compose_body(self) -> Iterable[Widget]:
        yield Static("The log viewer is not available in this version yet.", id="placeholder")
