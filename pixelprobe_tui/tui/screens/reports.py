"""Reports: the history of scan runs (placeholder until the reports viewer lands)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Static

from pixelprobe_tui.tui.screens.base import ModeScreen


class ReportsScreen(ModeScreen):
    MODE = "reports"
    DEFAULT_CSS = """
    ReportsScreen #placeholder { padding: 1 2; color: $text-muted; }
    """

    def compose_body(self) -> Iterable[Widget]:
        yield Static("The reports viewer is not available in this version yet.", id="placeholder")
