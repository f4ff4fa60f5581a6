"""Settings: the scan settings (validated by the same registry as ``pixelprobe config set``), exclusion rules,
and ignored error patterns with how many stored findings each would match."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static

from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services import browse
from pixelprobe_tui.services.browse import ExclusionRow, PatternRow
from pixelprobe_tui.services.config import SETTINGS, ConfigService, EffectiveValue, Setting, to_text
from pixelprobe_tui.tui.screens.base import ModeScreen

SCAN_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.store == "scan")
LABELS = {
    "scan_paths": "Scan paths",
    "workers": "Workers",
    "check_timeout_min_s": "Timeout min (s)",
    "check_timeout_per_mb_s": "Timeout per MB (s)",
    "check_timeout_per_media_s": "Timeout per media sec",
    "memory_limit_mb": "Memory cap (MB)",
    "stall_timeout_s": "Stall timeout (s)",
    "deep_scan_default": "Deep by default",
    "max_image_pixels": "Max image pixels",
    "rescan_unchanged": "Rescan unchanged",
    "follow_symlinks": "Follow symlinks",
}


PLACEHOLDERS = {
    "scan_paths": f"none yet: directories to scan, {os.pathsep!r} between them",
}


def setting_text(s: Setting, value: Any) -> str:
    """A value as the user edits it: paths separated by ``os.pathsep``, the rest in the config text syntax."""
    if s.kind == "path_list":
        return os.pathsep.join(value)
    return to_text(s, value)


def parse_exclusion(text: str) -> tuple[str, str]:
    """``path:/srv/tmp``, ``ext:.iso`` or ``extension:iso``; a bare ``.iso`` is an extension, anything else a
    path. Raises ConfigError for an empty rule."""
    text = text.strip()
    kind, sep, value = text.partition(":")
    if sep and kind.lower() in ("path", "ext", "extension"):
        return ("extension" if kind.lower().startswith("ext") else "path", value.strip())
    if text.startswith(".") and "/" not in text:
        return "extension", text
    if not text:
        raise ConfigError("empty exclusion")
    return "path", text


class SettingsScreen(ModeScreen):
    MODE = "settings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("delete", "delete_row", "Delete rule", id="settings.delete"),
        Binding("space", "toggle_pattern", "Rule on/off", id="settings.toggle_pattern"),
        Binding("escape", "leave_field", "Leave field", id="settings.leave_field"),
        Binding("f5,ctrl+r", "refresh", "Refresh", show=False, id="settings.refresh"),
    ]
    DEFAULT_CSS = """
    SettingsScreen VerticalScroll { padding: 0 1; }
    SettingsScreen .section { margin-top: 1; color: $accent; text-style: bold; }
    SettingsScreen #scan-form { grid-size: 2; grid-columns: 22 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    SettingsScreen #scan-form Label { color: $text-muted; }
    SettingsScreen #scan-problems { height: auto; color: $warning; }
    SettingsScreen #setting-help { height: auto; color: $text-muted; }
    SettingsScreen DataTable { height: auto; max-height: 10; }
    SettingsScreen .add { margin-bottom: 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.exclusions: list[ExclusionRow] = []
        self.patterns: list[PatternRow] = []
        self.effective: dict[str, EffectiveValue] = {}

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll():
            yield Static("Scan (ctrl+s saves)", classes="section")
            with Grid(id="scan-form"):
                for s in SCAN_SETTINGS:
                    yield Label(LABELS.get(s.key, s.key))
                    # An empty list says what it means; otherwise the blank looks like a missing value.
                    hint = PLACEHOLDERS.get(s.key, "")
                    yield Input(id=f"set-{s.key}", compact=True, tooltip=s.description, placeholder=hint)
            # The focused setting's description: a tooltip shows only under the mouse, and over SSH most
            # people use the keyboard.
            help_line = Static("", id="setting-help")
            help_line.display = False
            yield help_line
            yield Static("", id="scan-problems")
            yield Static("Exclusions (delete removes)", classes="section")
            exclusions: DataTable[object] = DataTable(id="exclusions", cursor_type="row")
            exclusions.add_columns("Type", "Value")
            yield exclusions
            yield Input(
                placeholder="add: path:/srv/media/tmp, ext:.iso, *.part",
                id="new-exclusion",
                compact=True,
                classes="add",
            )
            yield Static("Ignored error patterns (space turns on/off, delete removes)", classes="section")
            patterns: DataTable[object] = DataTable(id="patterns", cursor_type="row")
            patterns.add_columns("Pattern", "Active", "Matches", "Description")
            yield patterns
            yield Input(
                placeholder="add: substring of a message or code, or re:regex",
                id="new-pattern",
                compact=True,
                classes="add",
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Delete and space act on the rule table that has the focus: elsewhere the footer leaves them out.
        focused = self.focused
        table = focused.id if isinstance(focused, DataTable) else None
        if action == "delete_row":
            return table in ("exclusions", "patterns")
        if action == "toggle_pattern":
            return table == "patterns"
        if action == "leave_field":  # in a field, 1-6 and q type; Esc gives them back
            return isinstance(focused, Input)
        return super().check_action(action, parameters)

    def action_leave_field(self) -> None:
        self.set_focus(None)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.refresh_bindings()
        key = (event.widget.id or "").removeprefix("set-")
        described = {s.key: s.description for s in SCAN_SETTINGS}
        help_line = self.query_one("#setting-help", Static)
        help_line.display = key in described  # no blank line under the form when it says nothing
        help_line.update(Text(f"{LABELS.get(key, key)}: {described[key]}") if key in described else "")

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load("effective", lambda: ConfigService(self.pp.db).effective([s.key for s in SCAN_SETTINGS]))
        self._load_rules()

    def _load_rules(self) -> None:
        self.load("exclusions", browse.list_exclusions, self.pp.db)
        self.load("patterns", self._patterns_with_counts)

    def _patterns_with_counts(self) -> tuple[list[PatternRow], dict[str, int]]:
        rows = browse.list_ignore_patterns(self.pp.db)
        return rows, browse.count_pattern_matches(self.pp.db, [r.pattern for r in rows])

    # -- scan settings --------------------------------------------------------------------------------------

    def loaded_effective(self, values: list[EffectiveValue]) -> None:
        self.effective = {v.key: v for v in values}
        problems = []
        for s in SCAN_SETTINGS:
            v = self.effective.get(s.key)
            if v is None:
                continue
            field = self.query_one(f"#set-{s.key}", Input)
            field.value = setting_text(s, v.value)
            field.disabled = v.source == "environment"
            if v.source == "environment":
                problems.append(f"{s.key} is set by ${s.env_var} (environment wins; edit it there)")
            if v.problem:
                problems.append(f"{s.key}: {v.problem}")
        self.query_one("#scan-problems", Static).update("\n".join(problems))

    def action_save(self) -> None:
        changes = {}
        for s in SCAN_SETTINGS:
            field = self.query_one(f"#set-{s.key}", Input)
            current = self.effective.get(s.key)
            if field.disabled or current is None:
                continue
            if field.value.strip() != setting_text(s, current.value):
                changes[s.key] = field.value.strip()
        if not changes:
            self.notify("Nothing changed", timeout=2)
            return
        config = ConfigService(self.pp.db)

        def save() -> tuple[list[str], list[str]]:
            saved, problems = [], []
            for key, raw in changes.items():
                try:
                    change = config.set(key, raw if raw else "[]" if key == "scan_paths" else raw)
                except ConfigError as exc:
                    problems.append(str(exc))
                    continue
                saved.append(key)
                problems += [f"{key}: {w}" for w in change.warnings]
            return saved, problems

        self.load("saved", save)

    def loaded_saved(self, outcome: tuple[list[str], list[str]]) -> None:
        saved, problems = outcome
        self.query_one("#scan-problems", Static).update(Text("\n".join(problems), style="yellow"))
        if saved:
            self.notify(f"Saved {', '.join(saved)}", timeout=4)
        if problems and not saved:
            self.notify("Nothing saved: see the messages under the form", severity="warning", timeout=4)
        self.load(
            "effective_after_save",
            lambda: ConfigService(self.pp.db).effective([s.key for s in SCAN_SETTINGS]),
        )

    def loaded_effective_after_save(self, values: list[EffectiveValue]) -> None:
        text = self.query_one("#scan-problems", Static).content
        self.loaded_effective(values)
        self.query_one("#scan-problems", Static).update(text)

    # -- rules ----------------------------------------------------------------------------------------------

    def loaded_exclusions(self, rows: list[ExclusionRow]) -> None:
        self.exclusions = rows
        table = self.query_one("#exclusions", DataTable)
        table.clear()
        for r in rows:
            table.add_row(r.type, r.value)
        if not rows:
            table.add_row(Text("none", style="dim"), "")

    def loaded_patterns(self, outcome: tuple[list[PatternRow], dict[str, int]]) -> None:
        rows, counts = outcome
        self.patterns = rows
        table = self.query_one("#patterns", DataTable)
        table.clear()
        for r in rows:
            table.add_row(
                r.pattern,
                "yes" if r.active else Text("no", style="dim"),
                f"{counts.get(r.pattern, 0):,}",
                r.description or "",
            )
        if not rows:
            table.add_row(Text("none", style="dim"), "", "", "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if event.input.id == "new-exclusion" and text:
            try:
                kind, value = parse_exclusion(text)
            except ConfigError as exc:
                self.notify(str(exc), severity="error", timeout=4)
                return
            self.load("added_rule", browse.add_exclusion, self.pp.db, kind, value)
            event.input.value = ""
        elif event.input.id == "new-pattern" and text:
            self.load("added_rule", browse.add_ignore_pattern, self.pp.db, text)
            event.input.value = ""
        elif event.input.id and event.input.id.startswith("set-"):
            self.action_save()

    def loaded_added_rule(self, row: object) -> None:
        self._load_rules()

    def action_delete_row(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable) and focused.id == "exclusions" and self.exclusions:
            exclusion = self.exclusions[min(focused.cursor_row, len(self.exclusions) - 1)]
            self.load("added_rule", browse.remove_exclusion, self.pp.db, exclusion.id)
        elif isinstance(focused, DataTable) and focused.id == "patterns" and self.patterns:
            pattern = self.patterns[min(focused.cursor_row, len(self.patterns) - 1)]
            self.load("added_rule", browse.remove_ignore_pattern, self.pp.db, pattern.id)

    def action_toggle_pattern(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable) and focused.id == "patterns" and self.patterns:
            row = self.patterns[min(focused.cursor_row, len(self.patterns) - 1)]
            self.load("added_rule", browse.set_ignore_pattern_active, self.pp.db, row.id, not row.active)
