"""One file: every stored field, its findings with tool and time offset, media info, hash, the mark, and
its earlier verdicts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from pixelprobe_tui.services import browse
from pixelprobe_tui.services.browse import ResultDetail, Selection, format_size
from pixelprobe_tui.services.results import who
from pixelprobe_tui.tui.screens.base import LoadingScreen
from pixelprobe_tui.tui.widgets.key_footer import KeyFooter

STATUS_STYLES = {
    "healthy": "green",
    "warning": "yellow",
    "corrupted": "bold red",
    "unreadable": "magenta",
    "unsupported": "dim",
    "pending": "dim",
}
SEVERITY_STYLES = {"corrupt": "red", "warning": "yellow", "unreadable": "magenta", "unsupported": "dim"}
# Shown in this order first; any other column follows under "More".
MAIN_FIELDS = (
    ("scan_status", "Verdict"),
    ("media_family", "Type"),
    ("file_type", "Format"),
    ("file_size", "Size"),
    ("scan_date", "Scanned"),
    ("scan_tool", "Tool"),
    ("scan_duration", "Check took"),
    ("deep_scanned", "Deep scan"),
    ("file_exists", "File exists"),
    ("file_hash", "Content hash"),
    ("marked_as_good", "Marked good"),
    ("marked_as_good_by", "Marked by"),
    ("marked_as_good_at", "Marked at"),
    ("error_message", "Error"),
)
HIDDEN_FIELDS = {"findings", "media_info", "file_path", "corruption_details", "warning_details"}


def show_value(key: str, value: Any) -> str:
    """A stored value as text for people."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    if key == "file_size":
        return f"{format_size(value)} ({value:,} bytes)"
    if key == "scan_duration":
        return f"{value:.2f} s"
    return str(value)


def media_table(info: Any) -> Table | Text:
    """Media info as a readable two-column table (nested values flattened), or plain text."""
    if not isinstance(info, dict | list):
        return Text(str(info) if info is not None else "—")
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, v in enumerate(value):
                walk(f"{prefix}[{i}]", v)
        else:
            table.add_row(prefix, json.dumps(value) if isinstance(value, list) else str(value))

    walk("", info)
    return table


class DetailsScreen(LoadingScreen):
    """Pushed from the results grid (Enter); Esc goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back", id="details.back"),
        Binding("g", "mark_good", "Good", id="details.mark_good"),
        Binding("u", "unmark_good", "Unmark", id="details.unmark_good"),
        Binding("c", "copy_path", "Copy path", id="details.copy_path"),
        Binding("r", "rescan(False)", "Rescan", id="details.rescan"),
        Binding("D", "rescan(True)", "Deep scan", id="details.deep_scan"),
    ]
    DEFAULT_CSS = """
    DetailsScreen #title { height: auto; background: $panel; padding: 0 1; text-style: bold; }
    DetailsScreen VerticalScroll { padding: 0 1; }
    DetailsScreen .section { margin-top: 1; color: $accent; text-style: bold; }
    """

    def __init__(self, result_id: int) -> None:
        super().__init__()
        self.result_id = result_id
        self.detail: ResultDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="title")
        with VerticalScroll(id="body"):
            yield Static("", id="fields")
            yield Static("Findings", classes="section")
            yield Static("", id="findings")
            # Before the media info, which can run long: what changed matters more when triaging.
            yield Static("Earlier verdicts", classes="section")
            yield Static("", id="history")
            yield Static("Media info", classes="section")
            yield Static("", id="media")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#body").focus()
        self._reload()

    def _reload(self) -> None:
        self.load("detail", browse.result_detail, self.pp.db, self.result_id)

    def loaded_detail(self, detail: ResultDetail | None) -> None:
        self.detail = detail
        if detail is None:
            self.query_one("#title", Static).update("This file is no longer in the database.")
            return
        self.query_one("#title", Static).update(Text(detail.path, overflow="fold"))
        fields = Table(box=None, show_header=False, pad_edge=False, expand=True)
        fields.add_column(style="bold", no_wrap=True, width=16)
        fields.add_column(overflow="fold", ratio=1)
        for key, label in MAIN_FIELDS:
            value = detail.fields.get(key)
            if key.startswith("marked_as_good_") and not detail.fields.get("marked_as_good"):
                continue
            if key == "error_message" and value is None:
                continue
            style = STATUS_STYLES.get(str(value), "") if key == "scan_status" else ""
            fields.add_row(label, Text(show_value(key, value), style=style))
        shown = {k for k, _ in MAIN_FIELDS} | HIDDEN_FIELDS
        for key, value in detail.fields.items():
            if key not in shown and value not in (None, False, ""):
                fields.add_row(key.replace("_", " "), show_value(key, value))
        self.query_one("#fields", Static).update(fields)
        self.query_one("#findings", Static).update(self._findings(detail))
        self.query_one("#media", Static).update(media_table(detail.media_info))
        self.query_one("#history", Static).update(self._history(detail))

    @staticmethod
    def _findings(detail: ResultDetail) -> Table | Text:
        if not detail.findings:
            extra = detail.fields.get("corruption_details") or detail.fields.get("warning_details")
            return Text(str(extra) if extra else "None: nothing was found wrong with this file.")
        table = Table(box=None, pad_edge=False, expand=True)
        table.add_column("Severity", no_wrap=True)
        table.add_column("Tool", no_wrap=True)
        table.add_column("At", justify="right", no_wrap=True)
        table.add_column("Message", overflow="fold")
        for f in detail.findings:
            sev = str(f.severity)
            at = f"{f.at_seconds:.2f} s" if f.at_seconds is not None else ""
            message = (
                f.message + (f" (x{f.count})" if f.count > 1 else "") + (" [ignored]" if f.ignored else "")
            )
            table.add_row(Text(sev, style=SEVERITY_STYLES.get(sev, "")), f.tool, at, message)
        return table

    @staticmethod
    def _history(detail: ResultDetail) -> Table | Text:
        if not detail.history:
            return Text("None recorded: scans record a verdict here when it changes.")
        table = Table(box=None, pad_edge=False, expand=True)
        table.add_column("Checked", no_wrap=True)
        table.add_column("Verdict", no_wrap=True)
        table.add_column("Summary", overflow="fold", ratio=1)
        for i, change in enumerate(detail.history):
            current = (
                i == 0
                and change.scan_status == detail.fields.get("scan_status")
                and change.file_hash == detail.fields.get("file_hash")
            )
            verdict = Text(change.scan_status, style=STATUS_STYLES.get(change.scan_status, ""))
            if current:
                verdict.append(" (now)", style="dim")
            table.add_row(show_value("checked_at", change.checked_at), verdict, change.summary or "")
        return table

    def action_back(self) -> None:
        self.dismiss(None)

    def action_mark_good(self) -> None:
        self.load(
            "marked",
            browse.set_marked_good,
            self.pp.db,
            Selection(ids=frozenset({self.result_id})),
            True,
            who(),
        )

    def action_unmark_good(self) -> None:
        self.load(
            "marked",
            browse.set_marked_good,
            self.pp.db,
            Selection(ids=frozenset({self.result_id})),
            False,
            None,
        )

    def loaded_marked(self, changed: int) -> None:
        self._reload()

    def action_refresh(self) -> None:
        """Called by the app when a scan ends: show this file's new verdict."""
        self._reload()

    def action_rescan(self, deep: bool) -> None:
        if self.detail is None:
            return
        self.pp.start_scan((), deep=deep, force=True, files=[self.detail.raw_path])
        self.notify(f"{'Deep scan' if deep else 'Rescan'} of this file started", timeout=3)

    def action_copy_path(self) -> None:
        if self.detail is not None:
            self.app.copy_to_clipboard(self.detail.raw_path)
            self.notify(f"Copied {self.detail.path}", timeout=3)
