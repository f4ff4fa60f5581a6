"""Settings: the effective configuration (placeholder until the editor lands)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Static

from pixelprobe_tui.tui.screens.base import ModeScreen


class SettingsScreen(ModeScreen):
    MODE = "settings"
    DEFAULT_CSS = """
    SettingsScreen #placeholder { padding: 1 2; color: $text-muted; }
    """

    def compose_body(self) -> Iterable[Widget]:
        yield Static("The settings editor is not available in this version yet.", id="placeholder")
