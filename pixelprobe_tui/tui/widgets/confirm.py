"""Confirmation dialogs: a yes/no question, and the orphan-cleanup choice (delete, only mark, or cancel)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from pixelprobe_tui.core.discovery import display_path
from pixelprobe_tui.services.cleanup import CleanupSummary

CLEANUP_EXAMPLES = 8


class ConfirmDialog(ModalScreen[bool]):
    """Ask one question; dismisses with True (y, or the confirm button) or False (n, escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical {
        width: 64; height: auto; border: round $warning; background: $surface; padding: 0 1;
    }
    ConfirmDialog #question { height: auto; margin-bottom: 1; }
    ConfirmDialog #buttons { height: auto; align-horizontal: right; }
    ConfirmDialog Button { margin-left: 1; }
    """

    def __init__(self, title: str, question: str, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            box.border_subtitle = "y confirms · n/Esc cancels"
            yield Static(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="no", compact=True)
                yield Button(self.confirm_label, id="yes", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def cleanup_text(summary: CleanupSummary, examples: int = CLEANUP_EXAMPLES) -> Text:
    """What a cleanup preview found: counts, unavailable roots, and a few of the records that would go."""
    text = Text()
    text.append(f"{summary.checked:,} records checked: ")
    text.append(f"{summary.missing:,} files are gone", style="bold red" if summary.missing else "")
    text.append(f", {summary.present:,} present")
    if summary.unverifiable:
        text.append(f", {summary.unverifiable:,} absent but unverifiable (left alone)")
    text.append(".\n")
    for root in summary.unavailable_roots:
        text.append(f"Root {display_path(root.root)} {root.reason or 'unavailable'}: its {root.records:,} records are kept.\n",
                    style="yellow")  # fmt: skip
    if summary.preview:
        text.append("\nRecords of files that are gone:\n", style="bold")
        for path in summary.preview[:examples]:
            text.append(f"  {display_path(path)}\n", style="dim")
        more = summary.missing - min(examples, len(summary.preview))
        if more > 0:
            text.append(f"  … and {more:,} more\n", style="dim")
    text.rstrip()
    return text


class CleanupConfirm(ModalScreen[str | None]):
    """After a cleanup preview: delete the records of gone files ("apply"), only mark them missing
    ("mark", ``file_exists = false``), or do nothing (None). Deleting needs this explicit answer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose('apply')", "Delete records", id="cleanup_confirm.delete"),
        Binding("m", "choose('mark')", "Only mark missing", id="cleanup_confirm.mark"),
        Binding("n,escape", "choose(None)", "Cancel", id="cleanup_confirm.cancel"),
    ]
    DEFAULT_CSS = """
    CleanupConfirm { align: center middle; }
    CleanupConfirm > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    CleanupConfirm #summary { height: auto; max-height: 14; overflow-y: auto; }
    CleanupConfirm #note { color: $text-muted; height: auto; margin: 1 0; }
    CleanupConfirm #buttons { height: auto; align-horizontal: right; }
    CleanupConfirm Button { margin-left: 1; }
    """

    def __init__(self, summary: CleanupSummary) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Orphan cleanup: preview"
            box.border_subtitle = "y deletes · m marks only · n/Esc cancels"
            yield Static(cleanup_text(self.summary), id="summary")
            yield Static(
                "Deleting checks every file again and removes only records still gone; marking keeps them "
                "(file_exists = false) so they can be found on the Results screen.",
                id="note",
            )
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Only mark missing", id="mark", variant="warning", compact=True)
                yield Button(f"Delete {self.summary.missing:,} records", id="apply", variant="error",
                             compact=True)  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id if event.button.id in ("apply", "mark") else None)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
