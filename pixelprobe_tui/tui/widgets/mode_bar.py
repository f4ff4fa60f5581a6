"""The top line of every screen: the app name and the modes, the current one highlighted; click to switch."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.content import Content
from textual.widget import Widget

# mode name, label, key (the default key of the binding ``mode.<name>``)
MODE_TABS: tuple[tuple[str, str, str], ...] = (
    ("dashboard", "Dashboard", "1"),
    ("results", "Results", "2"),
    ("reports", "Reports", "3"),
    ("logs", "Logs", "4"),
    ("settings", "Settings", "5"),
    ("schedules", "Schedules", "6"),
)


class ModeBar(Widget):
    """``PixelProbe  1 Dashboard  2 Results ...`` with the active mode highlighted."""

    DEFAULT_CSS = """
    ModeBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $foreground;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"mode-bar--active", "mode-bar--key", "mode-bar--title"}

    def __init__(self, active: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.active = active
        self._spans: list[tuple[int, int, str]] = []

    def render(self) -> Content:
        parts: list[tuple[str, str]] = [(" PixelProbe ", "bold $accent")]
        self._spans = []
        pos = len(parts[0][0])
        for mode, label, key in MODE_TABS:
            text = f" {key} {label} "
            style = "reverse bold" if mode == self.active else ""
            self._spans.append((pos, pos + len(text), mode))
            parts.append((text, style))
            pos += len(text)
        return Content.assemble(*parts)

    def on_click(self, event: events.Click) -> None:
        for start, end, mode in self._spans:
            if start <= event.x < end:
                self.app.switch_mode(mode)
                return
