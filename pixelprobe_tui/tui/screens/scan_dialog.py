"""The "start a scan" dialog: paths (prefilled from the configured scan paths), deep, force."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from pixelprobe_tui.core.discovery import exists_within
from pixelprobe_tui.services.config import ConfigService, Settings
from pixelprobe_tui.tui.widgets.path_suggester import PathSuggester

STAT_DEADLINE_S = 1.0


@dataclass(frozen=True)
class ScanRequest:
    paths: tuple[str, ...]
    deep: bool
    force: bool


def parse_paths(text: str) -> tuple[tuple[str, ...], list[str]]:
    """Paths separated by ``os.pathsep``, made absolute; and the problems found (missing, not a directory
    or file). An empty list of problems means the request can start."""
    paths = tuple(os.path.abspath(os.path.expanduser(p.strip())) for p in text.split(os.pathsep) if p.strip())
    problems = []
    if not paths:
        problems.append("Give at least one directory (or configure scan_paths in Settings).")
    for p in paths:
        # On the UI thread: a dead mount may not answer; the scan itself then reports the root unavailable.
        if exists_within(p, STAT_DEADLINE_S) is False:
            problems.append(f"{p}: does not exist")
    return paths, problems


class ScanDialog(ModalScreen[ScanRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="scan_dialog.cancel"),
        Binding("ctrl+s", "start", "Start", id="scan_dialog.start"),
    ]
    DEFAULT_CSS = """
    ScanDialog { align: center middle; }
    ScanDialog > Vertical {
        width: 76; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    ScanDialog #options { height: auto; }
    ScanDialog #options Checkbox { width: 1fr; }
    ScanDialog #hint { color: $text-muted; height: auto; }
    ScanDialog #problems { color: $error; height: auto; }
    ScanDialog #buttons { height: auto; align-horizontal: right; }
    ScanDialog Button { margin-left: 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Start a scan"
            # A modal screen has no footer: its keys are said here (Enter in the path field starts too).
            box.border_subtitle = "Enter or ctrl+s starts · Esc cancels"
            yield Label(f"Directories or files (separate several with {os.pathsep!r}):")
            yield Input(id="paths", placeholder="/srv/media", suggester=PathSuggester())
            yield Static("→ accepts a completion.", id="hint")
            with Vertical(id="options"):
                yield Checkbox("Deep scan (strict CRC, timestamp and per-stream checks)", id="deep")
                yield Checkbox("Force (check unchanged files too)", id="force")
            yield Static("", id="problems")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Start", id="start", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#paths", Input).focus()
        db = cast("object", getattr(self.app, "db", None))
        if db is not None:
            self.run_worker(
                lambda: ConfigService(db).load(),  # type: ignore[arg-type]
                name="settings",
                thread=True,
                exit_on_error=False,
            )

    def on_worker_state_changed(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.worker.name == "settings" and event.worker.result is not None:
            settings = cast(Settings, event.worker.result)
            paths = self.query_one("#paths", Input)
            if not paths.value and settings.scan_paths:
                paths.value = os.pathsep.join(settings.scan_paths)
            elif not settings.scan_paths:
                self.query_one("#hint", Static).update(
                    "No scan paths configured yet (Settings, key 5). → accepts a completion."
                )
            self.query_one("#deep", Checkbox).value = settings.deep_scan_default

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def action_start(self) -> None:
        paths, problems = parse_paths(self.query_one("#paths", Input).value)
        if problems:
            self.query_one("#problems", Static).update("\n".join(problems))
            return
        self.dismiss(
            ScanRequest(
                paths, self.query_one("#deep", Checkbox).value, self.query_one("#force", Checkbox).value
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
