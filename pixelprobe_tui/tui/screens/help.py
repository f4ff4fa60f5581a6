"""``?``: every key of the current screen and of the app, with the binding ids used to remap them."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """A list of (key, what it does, binding id), and where the key map file is."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, rows: list[tuple[str, str, str]], keymap_hint: str) -> None:
        super().__init__()
        self.rows = rows
        self.keymap_hint = keymap_hint

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False)
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        table.add_column("Binding id", style="dim", no_wrap=True)
        for key, description, binding_id in self.rows:
            table.add_row(key, description, binding_id)
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "Esc closes"
            yield Static(table)
            yield Static(
                "\nCtrl+P opens the command palette. The mouse works too: click a row, a column title to sort, "
                f"a mode at the top to switch.\n\nRemap keys: {self.keymap_hint}",
                classes="help-note",
            )

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss()


def binding_rows(bindings: list[tuple[Binding, str]]) -> list[tuple[str, str, str]]:
    """(keys, description, id) rows, one per binding id (its keys joined), in first-seen order.

    Bindings without an id (Textual's own scrolling keys) are left out: they cannot be remapped.
    """
    rows: dict[str, tuple[list[str], str]] = {}
    for binding, key_display in bindings:
        if not binding.id or not binding.description:
            continue
        keys, _ = rows.setdefault(binding.id, ([], binding.description))
        if key_display not in keys:
            keys.append(key_display)
    return [(" ".join(keys), description, binding_id) for binding_id, (keys, description) in rows.items()]
