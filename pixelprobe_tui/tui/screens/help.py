"""``?``: every key of the app, grouped by the screen where it works (this screen first), each with what it
does in full and the binding id used to remap it."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pixelprobe_tui.tui.key_help import SECTIONS, describe, section_of

Row = tuple[str, str, str]  # (keys, description, binding id)


class HelpScreen(ModalScreen[None]):
    """Sections of (keys, what it does, binding id), the current screen's first, and where the key map is."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen .help-section { text-style: bold; color: $text-accent; margin-top: 1; }
    HelpScreen .help-section.first { margin-top: 0; }
    """

    def __init__(
        self, sections: list[tuple[str, list[Row]]], keymap_hint: str, here: str | None = None
    ) -> None:
        super().__init__()
        self.sections = sections
        self.keymap_hint = keymap_hint
        self.here = here

    @property
    def rows(self) -> list[Row]:
        """Every row of every section, in the order shown."""
        return [row for _title, rows in self.sections for row in rows]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "Esc closes · ↑↓ PgUp PgDn scroll"
            for i, (title, rows) in enumerate(self.sections):
                heading = f"{title} (this screen)" if title == self.here else title
                yield Static(Text(heading), classes="help-section" + (" first" if i == 0 else ""))
                yield Static(section_table(rows))
            # Text, not markup: the hint names a [keymap] table.
            yield Static(
                Text(
                    "\nCtrl+P opens the command palette. The mouse works too: click a row, a column title to "
                    f"sort, a mode at the top to switch.\n\nRemap keys: {self.keymap_hint}. The dim name after "
                    "each description is the binding id to use.",
                ),
                classes="help-note",
            )

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss()


def section_table(rows: list[Row]) -> Table:
    """Keys on the left, the description and (dim) the binding id on the right, wrapped to the width."""
    table = Table(box=None, expand=True, show_header=False, show_edge=False, pad_edge=False)
    table.add_column("Key", style="bold", no_wrap=True, min_width=9)
    table.add_column("What it does", ratio=1)
    for keys, description, binding_id in rows:
        table.add_row(keys, Text.assemble(description, "  ", (binding_id, "dim")))
    return table


def help_sections(bindings: list[tuple[Binding, list[str]]], here: str | None) -> list[tuple[str, list[Row]]]:
    """Rows for ``(binding, key displays)`` pairs, one per binding id, grouped into the sections of
    :data:`key_help.SECTIONS` in their order, the section ``here`` first. Bindings without an id (Textual's
    own scrolling keys) are left out: they cannot be remapped."""
    by_section: dict[str, dict[str, tuple[list[str], str]]] = {}
    for binding, keys in bindings:
        if not binding.id or not binding.description:
            continue
        rows = by_section.setdefault(section_of(binding.id), {})
        shown, _ = rows.setdefault(binding.id, ([], describe(binding.id, binding.description)))
        shown.extend(k for k in keys if k not in shown)
    order = [title for title, _ in SECTIONS] + ["Other"]
    if here in order:
        order.remove(here)  # type: ignore[arg-type]
        order.insert(0, here)  # type: ignore[arg-type]
    return [
        (
            title,
            [(" ".join(keys), text, binding_id) for binding_id, (keys, text) in by_section[title].items()],
        )
        for title in order
        if by_section.get(title)
    ]
