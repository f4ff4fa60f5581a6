"""Shown instead of the app while the terminal is smaller than the app can lay out."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

MIN_WIDTH = 80
MIN_HEIGHT = 24


class TooSmallScreen(ModalScreen[None]):
    """A clear message with the current and the needed size; it goes away when the terminal grows."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q,ctrl+c", "app.quit", "Quit", id="too_small.quit")]
    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; background: $background; }
    TooSmallScreen > Static { width: 1fr; height: auto; content-align: center middle; text-align: center; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="too-small-message")

    def on_mount(self) -> None:
        self.update_size(self.app.size.width, self.app.size.height)

    def update_size(self, width: int, height: int) -> None:
        self.query_one(Static).update(
            f"The terminal is {width}x{height}.\nPixelProbe needs at least {MIN_WIDTH}x{MIN_HEIGHT}:\n"
            "enlarge the window (or press q to quit)."
        )
