"""The add/edit schedule form: name, type, when (cron or interval, validated as you type with the next runs
previewed in local time), paths and force rescan. Saving goes through ScheduleService in a thread worker; the
form stays open with the service's message when it refuses."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from pixelprobe_tui.core.discovery import exists_within, is_dir_within
from pixelprobe_tui.core.schedule import PREVIEW_RUNS, format_local
from pixelprobe_tui.db.models import utcnow
from pixelprobe_tui.services.schedules import ScheduleError, ScheduleInfo, ScheduleService
from pixelprobe_tui.tui.screens.scan_dialog import STAT_DEADLINE_S
from pixelprobe_tui.tui.widgets.path_suggester import PathSuggester

TYPE_OPTIONS: list[tuple[str, str]] = [
    ("Scan", "scan"),
    ("Orphan cleanup", "cleanup"),
    ("File changes", "file_changes"),
]
TYPE_LABELS = {value: label for label, value in TYPE_OPTIONS}


@dataclass(frozen=True)
class ScheduleDraft:
    """What the form holds, cleaned: the fields ScheduleService.add/edit take."""

    name: str
    spec: str
    scan_type: str
    paths: tuple[str, ...]
    force_rescan: bool


def split_paths(text: str) -> list[str]:
    """Paths separated by ``os.pathsep`` (or new lines), blanks dropped."""
    return [p.strip() for p in text.replace("\n", os.pathsep).split(os.pathsep) if p.strip()]


def path_problems(paths: list[str]) -> tuple[list[str], list[str]]:
    """(errors, warnings) for schedule paths: each must be absolute and, when it exists, a directory. A path
    that does not exist now is only a warning (an unmounted drive is fine to schedule): *warnings* lists
    those paths."""
    errors: list[str] = []
    warnings: list[str] = []
    for p in paths:
        expanded = os.path.expanduser(p)
        if not os.path.isabs(expanded):
            errors.append(f"{p}: give an absolute path (starting with /)")
            continue
        # On the UI thread, with a deadline: a dead mount's silence counts as "not there now" (a warning).
        if is_dir_within(expanded, STAT_DEADLINE_S):
            continue
        if exists_within(expanded, STAT_DEADLINE_S):
            errors.append(f"{p}: not a directory")
        else:
            warnings.append(p)
    return errors, warnings


def preview_text(
    service: ScheduleService, spec: str, now: dt.datetime, n: int = PREVIEW_RUNS
) -> tuple[Text, bool]:
    """The next *n* runs of *spec* in local time, or why it is not valid; and whether it is valid."""
    if not spec.strip():
        return Text("Give a cron expression (0 3 * * *) or an interval (every 6h, every 1d).", "dim"), False
    try:
        runs = service.preview(spec, n, now=now)
    except ScheduleError as exc:
        return Text(f"✗ {exc}", style="bold red"), False
    text = Text()
    text.append(f"✓ next {len(runs)} runs (local time):\n", style="green")
    text.append("\n".join(f"  {format_local(r, service.tz)}" for r in runs))
    return text, True


class ScheduleForm(ModalScreen[ScheduleInfo | None]):
    """Add a schedule (``existing`` None) or edit one; dismisses with the saved schedule, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="schedule_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="schedule_form.save"),
    ]
    DEFAULT_CSS = """
    ScheduleForm { align: center middle; }
    ScheduleForm > Vertical {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ScheduleForm .fields { grid-size: 2; grid-columns: 9 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    ScheduleForm .fields Label { color: $text-muted; }
    ScheduleForm #preview { height: 6; padding-left: 10; }
    ScheduleForm #paths-note { height: auto; padding-left: 10; color: $text-muted; }
    ScheduleForm #force { margin-left: 9; }
    ScheduleForm #error { height: auto; color: $error; text-style: bold; }
    ScheduleForm #buttons { height: 1; align-horizontal: right; }
    ScheduleForm Button { margin-left: 1; }
    """

    def __init__(
        self,
        service: ScheduleService,
        existing: ScheduleInfo | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        super().__init__()
        self.service = service
        self.existing = existing
        self.clock = clock

    def compose(self) -> ComposeResult:
        e = self.existing
        with Vertical() as box:
            box.border_title = f"Edit schedule {e.name!r}" if e else "New schedule"
            box.border_subtitle = "ctrl+s saves · Esc cancels"
            with Grid(id="fields", classes="fields"):
                yield Label("Name")
                yield Input(e.name if e else "", placeholder="nightly scan", id="name", compact=True)
                yield Label("Type")
                yield Select(
                    TYPE_OPTIONS,
                    value=e.scan_type if e else "scan",
                    allow_blank=False,
                    id="type",
                    compact=True,
                )
                yield Label("When")
                yield Input(
                    e.schedule_value if e else "",
                    placeholder="0 3 * * *   or   every 6h",
                    id="spec",
                    compact=True,
                )
            yield Static("", id="preview")
            with Grid(id="fields-paths", classes="fields"):
                yield Label("Paths")
                yield Input(
                    os.pathsep.join(e.scan_paths) if e else "",
                    placeholder=f"empty = all configured roots; several separated by {os.pathsep!r}",
                    id="paths",
                    compact=True,
                    suggester=PathSuggester(),
                )
            yield Static("", id="paths-note")
            yield Checkbox(
                "Force rescan (check unchanged files too)",
                e.force_rescan if e else False,
                id="force",
                compact=True,
            )
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        self._update_preview()
        self._update_type()
        self._update_paths()

    # -- live validation ------------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id == "spec":
            self._update_preview()
        elif event.input.id == "paths":
            self._update_paths()
        self.query_one("#error", Static).update("")

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._update_type()

    def _update_preview(self) -> bool:
        text, ok = preview_text(self.service, self.query_one("#spec", Input).value, self.clock())
        self.query_one("#preview", Static).update(text)
        return ok

    def _scan_type(self) -> str:
        value = self.query_one("#type", Select).value
        return value if isinstance(value, str) else "scan"

    def _update_type(self) -> None:
        # Paths and force apply to scans only (ScheduleService refuses them for other types).
        is_scan = self._scan_type() == "scan"
        self.query_one("#paths", Input).disabled = not is_scan
        self.query_one("#force", Checkbox).disabled = not is_scan
        self._update_paths()

    def _update_paths(self) -> list[str]:
        note = self.query_one("#paths-note", Static)
        if self._scan_type() != "scan":
            note.update("Paths and force apply to scan schedules; this type covers every record.")
            return []
        errors, warnings = path_problems(split_paths(self.query_one("#paths", Input).value))
        if errors:
            note.update(Text("\n".join(errors), style="bold red"))
        elif warnings:
            note.update(
                Text(f"Not there now (fine for a drive mounted later): {', '.join(warnings)}", "yellow")
            )
        elif not split_paths(self.query_one("#paths", Input).value):
            note.update("Empty: every configured scan root.")
        else:
            note.update(Text("✓ directories", style="green"))
        return errors

    # -- save -----------------------------------------------------------------------------------------------

    def draft(self) -> ScheduleDraft | str:
        """The cleaned form, or the first problem as a message."""
        name = " ".join(self.query_one("#name", Input).value.split())
        spec = self.query_one("#spec", Input).value.strip()
        scan_type = self._scan_type()
        if not name:
            return "Give the schedule a name."
        if not self._update_preview():
            return "Fix the schedule (When) first: see the message under it."
        paths: tuple[str, ...] = ()
        force = False
        if scan_type == "scan":
            if self._update_paths():
                return "Fix the paths first: see the message under them."
            paths = tuple(os.path.normpath(os.path.expanduser(p)) for p in split_paths(
                self.query_one("#paths", Input).value))  # fmt: skip
            force = self.query_one("#force", Checkbox).value
        return ScheduleDraft(name, spec, scan_type, paths, force)

    def action_save(self) -> None:
        draft = self.draft()
        if isinstance(draft, str):
            self.query_one("#error", Static).update(draft)
            return
        self.run_worker(
            lambda: self._store(draft), name="save", group="schedule-form", thread=True, exit_on_error=False
        )

    def _store(self, d: ScheduleDraft) -> ScheduleInfo:
        e = self.existing
        if e is None:
            return self.service.add(
                d.name, d.spec, scan_type=d.scan_type, paths=d.paths, force_rescan=d.force_rescan
            )
        # Only what changed: a spec given again would move the next run.
        return self.service.edit(
            e.id,
            new_name=d.name if d.name != e.name else None,
            spec=d.spec if d.spec != e.schedule_value else None,
            scan_type=d.scan_type if d.scan_type != e.scan_type else None,
            paths=list(d.paths) if d.paths != e.scan_paths else None,
            force_rescan=d.force_rescan if d.force_rescan != e.force_rescan else None,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "schedule-form":
            return
        if event.state == WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            message = str(error).splitlines()[0] if error is not None and str(error) else repr(error)
            self.query_one("#error", Static).update(f"Not saved: {message}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)
