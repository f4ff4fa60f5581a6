"""The footer of every screen: the keys that fit on one line, with Help and Quit always among them."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Shown whatever the width: with them a person can always find the rest (Help) and leave (Quit).
ALWAYS_SHOWN = frozenset({"help", "quit", "app.quit"})


class KeyFooter(Footer):
    """A compact footer that leaves out the keys that do not fit, from the last declared backwards, rather
    than cutting off the end of the line (where Help and Quit are). The help screen lists every key."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._width = 0

    def compose(self) -> ComposeResult:
        keys = [widget for widget in super().compose() if isinstance(widget, FooterKey)]
        palette = [k for k in keys if k.has_class("-command-palette")]
        keys = [k for k in keys if not k.has_class("-command-palette")]

        def width(key: FooterKey) -> int:  # compact: "key description" and a margin of one
            return cell_len(key.key_display) + (cell_len(key.description) + 1 if key.description else 0) + 1

        room = self.app.size.width - sum(width(k) + 1 for k in palette)  # + its border

        kept = list(keys)
        for key in reversed(keys):
            if sum(width(k) for k in kept) <= room:
                break
            if key.action not in ALWAYS_SHOWN:
                kept.remove(key)
        yield from kept
        yield from palette

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self.recompose)
