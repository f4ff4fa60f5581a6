"""Logs: the LogEntry table with a level filter, a scan filter, text search and follow mode; the retention
period and the excluded loggers are edited at the bottom."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Label, RichLog, Select

from pixelprobe_tui.services import browse
from pixelprobe_tui.services.browse import LOG_LEVELS, LogRow, ReportRow
from pixelprobe_tui.services.config import ConfigService, Settings
from pixelprobe_tui.tui.screens.base import ModeScreen

LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}
SHOWN_ENTRIES = 2000
SEARCH_DEBOUNCE_S = 0.3


def log_line(row: LogRow) -> Text:
    """``2026-11-20 21:30:00 WARNING  pixelprobe.scan  message`` (and the traceback's last line)."""
    when = row.timestamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    # Wrapped, not cut: at 80 columns the end of a message is often what matters, and it is shown nowhere else.
    text = Text(overflow="fold")
    text.append(when + " ", style="dim")
    text.append(f"{row.level:<8} ", style=LEVEL_STYLES.get(row.level, ""))
    if row.logger:
        text.append(f"{row.logger} ", style="cyan")
    text.append(row.message.replace("\n", " ⏎ "))
    if row.traceback:
        text.append("  " + row.traceback.strip().splitlines()[-1], style="red dim")
    return text


class LogsScreen(ModeScreen):
    MODE = "logs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow", id="logs.follow"),
        Binding("l", "choose('level')", "Level", id="logs.level", tooltip="Show only this level and above"),
        Binding(
            "s", "choose('scan')", "By scan", id="logs.scan", tooltip="Show only the entries of one scan"
        ),
        Binding("slash", "focus_search", "Search", id="logs.search"),
        Binding("escape", "focus_log", "Back to log", id="logs.focus_log"),
        Binding(
            "ctrl+s",
            "save_settings",
            "Save",
            id="logs.save_settings",
            tooltip="Save the log retention settings",
        ),
        Binding("f5,ctrl+r", "refresh", "Refresh", show=False, id="logs.refresh"),
    ]
    DEFAULT_CSS = """
    LogsScreen .bar { height: 1; }
    LogsScreen .bar Select { width: 20; }
    LogsScreen .bar #scan { width: 36; }
    LogsScreen .bar Input { width: 1fr; }
    LogsScreen .bar Label { padding: 0 1; color: $text-muted; }
    LogsScreen .bar #retention { width: 8; }
    /* The top border carries the title: how many entries, and whether new ones are followed. */
    LogsScreen RichLog { height: 1fr; background: $surface; border-top: solid $primary 50%; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.follow = True
        self.last_id: int | None = None
        self.shown = 0
        self._search_timer: Timer | None = None
        self._width = 0
        self._resize_timer: Timer | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(classes="bar"):
            yield Select([(lvl.capitalize() + "+", lvl) for lvl in LOG_LEVELS], prompt="Any level", id="level", compact=True)  # fmt: skip
            yield Select([], prompt="Any scan", id="scan", compact=True)
            yield Input(placeholder="/ search messages", id="search", compact=True)
        yield RichLog(
            id="log", max_lines=SHOWN_ENTRIES, wrap=True, markup=False, highlight=False, auto_scroll=True
        )
        with Horizontal(classes="bar", id="log-settings"):
            yield Label("Keep logs (days)")
            yield Input(id="retention", compact=True, type="integer")
            yield Label("Excluded loggers")
            yield Input(id="excluded", compact=True, placeholder="sqlalchemy, alembic")

    def on_resize(self, event: events.Resize) -> None:
        # The log's lines are laid out (wrapped) when written: after a change of width, write them again.
        if self._width and event.size.width != self._width:
            if self._resize_timer is not None:
                self._resize_timer.stop()
            self._resize_timer = self.set_timer(0.3, self.action_refresh)
        self._width = event.size.width

    def on_mount(self) -> None:
        # The log has the arrows and PgUp/PgDn from the start (the first focusable was the level menu).
        self.query_one(RichLog).focus()
        self.set_interval(self.pp.poll_interval * 2, self._poll)
        self.load("settings", ConfigService(self.pp.db).load)

    def on_screen_resume(self) -> None:
        self.action_refresh()
        self.load("scans", browse.recent_reports, self.pp.db, 50)

    # -- loading --------------------------------------------------------------------------------------------

    def _filters(self) -> dict[str, object]:
        level = self.query_one("#level", Select).value
        scan = self.query_one("#scan", Select).value
        return {
            "min_level": level if isinstance(level, str) else "DEBUG",
            "scan_id": scan if isinstance(scan, str) else None,
            "text": self.query_one("#search", Input).value,
        }

    def action_refresh(self) -> None:
        self.load("entries", partial(browse.log_entries, self.pp.db, limit=SHOWN_ENTRIES, **self._filters()))  # type: ignore[arg-type]

    def loaded_entries(self, rows: list[LogRow]) -> None:
        log = self.query_one(RichLog)
        log.clear()
        self.shown = 0
        self._append(rows)
        if not rows:
            filters = self._filters()
            narrowed = filters["min_level"] != "DEBUG" or filters["scan_id"] or filters["text"]
            log.write(
                Text(
                    "No log entries match: l, s and / change the filters."
                    if narrowed
                    else "No log entries yet: scans, cleanups and schedules log here as they run.",
                    style="dim",
                )
            )
        self.last_id = max((r.id for r in rows), default=self.last_id)
        self._title()

    def _poll(self) -> None:
        if self.follow and self.is_current and self.last_id is not None:
            self.load(
                "new_entries",
                partial(browse.log_entries, self.pp.db, after_id=self.last_id, limit=500, **self._filters()),  # type: ignore[arg-type]
            )

    def loaded_new_entries(self, rows: list[LogRow]) -> None:
        if rows:
            self._append(rows)
            self.last_id = rows[-1].id
            self._title()

    def _append(self, rows: list[LogRow]) -> None:
        log = self.query_one(RichLog)
        # Wrapped at the log's own width once it is known (otherwise RichLog measures against the console).
        width = log.scrollable_content_region.width or None
        for row in rows:
            log.write(log_line(row), width=width, scroll_end=self.follow)
        self.shown += len(rows)

    def _title(self) -> None:
        log = self.query_one(RichLog)
        log.border_title = f"{min(self.shown, SHOWN_ENTRIES):,} entries · " + (
            "following new ones (f pauses)" if self.follow else "paused (f follows)"
        )

    def loaded_scans(self, reports: list[ReportRow]) -> None:
        options = []
        for r in reports:
            if r.scan_id:
                when = r.start_time.astimezone().strftime("%Y-%m-%d %H:%M") if r.start_time else "?"
                options.append((f"{when} {r.scan_type}", r.scan_id))
        select = self.query_one("#scan", Select)
        value = select.value
        select.set_options(options)
        if isinstance(value, str) and value in {v for _, v in options}:
            select.value = value

    # -- filters --------------------------------------------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.action_refresh()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "search":
            return
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE_S, self.action_refresh)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "search":
            self.action_refresh()
            self.query_one(RichLog).focus()
        else:
            self.action_save_settings()

    def action_choose(self, which: str) -> None:
        """Open the level or scan filter's list (escape closes it, the choice applies at once)."""
        select = self.query_one(f"#{which}", Select)
        select.focus()
        select.action_show_overlay()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the search field the footer offers the way back instead of the key that led there.
        if action in ("focus_log", "focus_search") and self.query(RichLog):
            in_log, in_search = self.query_one(RichLog).has_focus, self.query_one("#search", Input).has_focus
            return not in_log if action == "focus_log" else not in_search
        return super().check_action(action, parameters)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.refresh_bindings()  # check_action depends on the focus

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_log(self) -> None:
        self.query_one(RichLog).focus()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self.query_one(RichLog).scroll_end(animate=False)
        self._title()

    # -- settings -------------------------------------------------------------------------------------------

    def loaded_settings(self, settings: Settings) -> None:
        self.query_one("#retention", Input).value = str(settings.log_retention_days)
        self.query_one("#excluded", Input).value = ", ".join(settings.excluded_loggers)

    def action_save_settings(self) -> None:
        retention = self.query_one("#retention", Input).value.strip()
        excluded = self.query_one("#excluded", Input).value.strip()
        config = ConfigService(self.pp.db)

        def save() -> Settings:
            config.set("log_retention_days", retention)
            config.set("excluded_loggers", excluded if excluded else "[]")
            return config.load()

        self.load("saved_settings", save)

    def loaded_saved_settings(self, settings: Settings) -> None:
        self.loaded_settings(settings)
        self.notify(
            f"Saved: logs kept {settings.log_retention_days} days; "
            f"excluded loggers: {', '.join(settings.excluded_loggers) or 'none'}",
            timeout=5,
        )
