"""Reports: the history of scan runs, the details of one, and exports of the history as JSON or CSV."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static

from pixelprobe_tui.core.discovery import display_path, path_from_db
from pixelprobe_tui.services import browse, exports
from pixelprobe_tui.services.browse import ReportRow
from pixelprobe_tui.tui.screens.base import ModeScreen
from pixelprobe_tui.tui.screens.dashboard import format_duration

HISTORY_LIMIT = 500
DETAIL_ITEMS = 10
STATUS_STYLES = {"completed": "green", "cancelled": "yellow", "error": "bold red", "interrupted": "magenta"}


def export_path(kind: str, fmt: str, now: dt.datetime | None = None, directory: str | None = None) -> str:
    """``pixelprobe-<kind>-YYYYmmdd-HHMMSS.<fmt>`` in ``directory`` (default: the current directory)."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return os.path.join(directory or os.getcwd(), f"pixelprobe-{kind}-{stamp}.{fmt}")


def report_details(r: ReportRow) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    # As wide as the longest label up to a limit (a longer one wraps): details add labels like "skipped
    # unchanged" that a fixed width cut to "skipped unc…".
    table.add_column(style="bold", min_width=12, max_width=22, overflow="fold")
    table.add_column(ratio=1, overflow="fold")
    when = r.start_time.astimezone().strftime("%Y-%m-%d %H:%M:%S") if r.start_time else "—"
    table.add_row("Report", f"#{r.id} {r.scan_type}")
    table.add_row("Status", Text(r.status, style=STATUS_STYLES.get(r.status, "")))
    table.add_row("Started", when)
    table.add_row("Took", format_duration(r.duration_s) or "—")
    dirs = r.directories if isinstance(r.directories, list) else ([r.directories] if r.directories else [])
    # Stored in database form: the real name again, then made safe to print (a name may hold escapes).
    table.add_row("Directories", "\n".join(display_path(path_from_db(str(d))) for d in dirs) or "—")
    table.add_row(
        "Files",
        f"{r.total_files:,} total: {r.healthy:,} healthy, {r.warning:,} warning, "
        f"{r.corrupted:,} corrupted, {r.errors:,} errors",
    )
    if r.error_message:
        table.add_row("Error", Text(r.error_message, style="red"))
    if r.details:
        details = r.details if isinstance(r.details, dict) else {"details": r.details}
        for key, value in details.items():
            if value in (None, [], {}, "") or str(key).endswith("_b64"):
                continue  # an empty list says nothing, raw bytes in base64 are for scripts
            table.add_row(str(key).replace("_", " "), detail_text(value))
    return table


def detail_text(value: object, limit: int = DETAIL_ITEMS) -> str:
    """A report detail for reading: a list one item a line (the first *limit*, then how many more)."""
    if isinstance(value, list):
        lines = [_one_item(v) for v in value[:limit]]
        if len(value) > limit:
            lines.append(f"… and {len(value) - limit:,} more (export the report for all)")
        return "\n".join(lines)
    return _one_item(value)


def _one_item(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_one_item(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_one_item(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return display_path(str(value)) if isinstance(value, str) else json.dumps(value)


class ReportsScreen(ModeScreen):
    MODE = "reports"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "export('json')", "Export JSON", id="reports.export_json"),
        Binding("v", "export('csv')", "Export CSV", id="reports.export_csv"),
        Binding("f5,ctrl+r", "refresh", "Refresh", id="reports.refresh"),
    ]
    DEFAULT_CSS = """
    ReportsScreen DataTable { height: 1fr; }
    ReportsScreen #report-details { height: 12; border-top: solid $primary 50%; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[ReportRow] = []

    def compose_body(self) -> Iterable[Widget]:
        table: DataTable[object] = DataTable(id="history", cursor_type="row", zebra_stripes=True)
        # No id column: 80 columns then hold every count (the details below name the report's number).
        table.add_columns("Started", "Type", "Status", "Took", "Files", "Corrupt", "Warn", "Errors")
        yield table
        with VerticalScroll(id="report-details"):
            yield Static("No scans yet.", id="report-text")

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load("reports", browse.recent_reports, self.pp.db, HISTORY_LIMIT)

    def loaded_reports(self, reports: list[ReportRow]) -> None:
        self.reports = reports
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for r in reports:
            table.add_row(
                r.start_time.astimezone().strftime("%Y-%m-%d %H:%M") if r.start_time else "",
                r.scan_type,
                Text(r.status, style=STATUS_STYLES.get(r.status, "")),
                format_duration(r.duration_s),
                f"{r.total_files:,}",
                Text(f"{r.corrupted:,}", style="red" if r.corrupted else ""),
                f"{r.warning:,}",
                f"{r.errors:,}",
                key=str(r.id),
            )
        if reports:
            table.move_cursor(row=min(row, len(reports) - 1))
            self._show(min(row, len(reports) - 1))
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def _show(self, index: int) -> None:
        if 0 <= index < len(self.reports):
            self.query_one("#report-text", Static).update(report_details(self.reports[index]))

    def action_export(self, fmt: str) -> None:
        if not self.reports:
            self.notify("No reports to export", timeout=3)
            return
        path = export_path("reports", fmt)
        db = self.pp.db

        def export() -> tuple[str, int]:
            with exports.atomic_output(path) as out:
                return path, exports.export_reports(db, out, fmt)  # type: ignore[arg-type]

        self.load("exported", export)

    def loaded_exported(self, outcome: tuple[str, int]) -> None:
        path, n = outcome
        self.notify(f"Wrote {n:,} report{'' if n == 1 else 's'} to {path}", timeout=6)
