"""Dashboard: totals, the breakdown by media type, the running scan (from this or another process) and the
last scans. Start and cancel a scan from here."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import ClassVar

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from pixelprobe_tui.core.events import ProgressEstimator
from pixelprobe_tui.services import browse
from pixelprobe_tui.services.browse import LiveScan, ReportRow, Totals, format_size
from pixelprobe_tui.tui.screens.base import ModeScreen

TOTAL_ROWS = (
    ("healthy", "Healthy", "green"),
    ("warning", "Warning", "yellow"),
    ("corrupted", "Corrupted", "bold red"),
    ("unreadable", "Unreadable", "magenta"),
    ("unsupported", "Unsupported", "dim"),
    ("pending", "Pending", "dim"),
)
FAMILY_COLUMNS = (("healthy", "OK"), ("warning", "Warn"), ("corrupted", "Corrupt"), ("unreadable", "Unread"))
TOTALS_EVERY_S = 5.0
MAX_WORKER_LINES = 4


def format_duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s``, ``12s``; an empty string for None."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def _opens(status: str) -> Style:
    """A style whose click opens the results filtered by ``status`` (see DashboardScreen.action_show_results)."""
    return Style.on(click=f"screen.show_results({status!r})")


def totals_table(t: Totals) -> Table:
    """The Files panel; a click on a verdict's line (or on Bitrot, or Total) opens those results."""
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for key, label, style in TOTAL_ROWS:
        table.add_row(Text(label, style=style), f"{t.status(key):,}", style=_opens(key))
    table.add_row("Marked good", f"{t.marked_good:,}")
    table.add_row("Missing", f"{t.missing:,}")
    table.add_row(
        Text("Bitrot suspected", style="bold red" if t.bitrot else ""),
        f"{t.bitrot:,}",
        style=_opens("bitrot"),
    )
    table.add_row(Text("Total", style="bold"), Text(f"{t.total:,}", style="bold"), style=_opens(""))
    return table


def families_table(t: Totals) -> Table:
    table = Table(box=None, pad_edge=False, expand=True, collapse_padding=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Files", justify="right", no_wrap=True)
    for _key, title in FAMILY_COLUMNS:
        table.add_column(title, justify="right", no_wrap=True)
    for family in ("video", "audio", "image", "other"):
        counts = t.by_family.get(family, {})
        if not counts and family == "other":
            continue
        table.add_row(
            family, f"{sum(counts.values()):,}", *(f"{counts.get(k, 0):,}" for k, _ in FAMILY_COLUMNS)
        )
    return table


def reports_table(reports: list[ReportRow]) -> Table | Text:
    if not reports:
        return Text("No scans yet.", style="dim")
    table = Table(box=None, pad_edge=False, expand=True, collapse_padding=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Took", justify="right", no_wrap=True)
    table.add_column("Files", justify="right", no_wrap=True)
    table.add_column("Corrupt", justify="right", no_wrap=True)
    table.add_column("Warn", justify="right", no_wrap=True)
    table.add_column("Errors", justify="right", no_wrap=True)
    for r in reports:
        started = r.start_time.astimezone().strftime("%Y-%m-%d %H:%M") if r.start_time else ""
        style = {"completed": "", "cancelled": "yellow", "error": "red"}.get(r.status, "dim")
        table.add_row(
            started,
            r.scan_type,
            Text(r.status, style=style),
            format_duration(r.duration_s),
            f"{r.total_files:,}",
            Text(f"{r.corrupted:,}", style="red" if r.corrupted else ""),
            f"{r.warning:,}",
            f"{r.errors:,}",
        )
    return table


class DashboardScreen(ModeScreen):
    MODE = "dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start_scan", "Scan", id="dashboard.start_scan"),
        Binding("x", "cancel_scan", "Cancel scan", id="dashboard.cancel_scan"),
        # Jump to the results filtered by a verdict (clicking a count in the Files panel does the same).
        Binding("p", "show_results('problems')", "Problems", id="dashboard.show_problems"),
        Binding("c", "show_results('corrupted')", "Corrupted", id="dashboard.show_corrupted"),
        Binding("w", "show_results('warning')", "Warnings", id="dashboard.show_warning"),
        # Off the footer, which has no room for it at 80 columns (Problems includes these files).
        Binding("u", "show_results('unreadable')", "Unreadable", show=False, id="dashboard.show_unreadable"),
        Binding("b", "show_results('bitrot')", "Bitrot", id="dashboard.show_bitrot"),
        Binding("f5,ctrl+r", "refresh", "Refresh", show=False, id="dashboard.refresh"),
    ]
    DEFAULT_CSS = """
    DashboardScreen #top { height: auto; }
    DashboardScreen .panel { border: round $primary 60%; padding: 0 1; height: auto; }
    DashboardScreen #totals { width: 28; }
    DashboardScreen #families { width: 1fr; }
    DashboardScreen #live { height: auto; }
    DashboardScreen #live-bar { width: 1fr; }
    DashboardScreen #live-bar Bar { width: 1fr; }
    DashboardScreen #reports { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._estimator: ProgressEstimator | None = None
        self._estimated_scan: tuple[str, str] | None = None  # (scan id, phase) the estimator measures
        self._live: LiveScan | None = None
        self._last_totals = 0.0
        self._idle_hint: str | None = None
        self._totals_took = 0.0

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="top"):
            totals = Static("Loading…", id="totals", classes="panel")
            totals.border_title = "Files"
            yield totals
            families = Static("", id="families", classes="panel")
            families.border_title = "By type"
            yield families
        with Vertical(id="live", classes="panel") as live:
            live.border_title = "Scan"
            yield Static("", id="live-status")
            yield ProgressBar(id="live-bar", show_eta=False)
            yield Static("", id="live-workers")
        reports = Static("", id="reports", classes="panel")
        reports.border_title = "Last scans"
        yield reports

    def on_mount(self) -> None:
        self._show_live(None)
        self.set_interval(self.pp.poll_interval, self._poll)

    def on_screen_resume(self) -> None:
        # Also the first time the screen shows: one place that loads everything.
        self.action_refresh()

    def action_refresh(self) -> None:
        self._last_totals = time.monotonic()
        self.load("totals", self._timed_totals)
        self.load("reports", browse.recent_reports, self.pp.db, 10)
        self.load("live", browse.live_scan, self.pp.db)

    def _poll(self) -> None:
        if not self.is_current:
            return
        self.load("live", browse.live_scan, self.pp.db)
        # Totals read the whole table: on a big library refresh them less often, at most 10% of the time.
        every = max(TOTALS_EVERY_S, 10 * self._totals_took)
        if self._live is not None and time.monotonic() - self._last_totals > every:
            self._last_totals = time.monotonic()
            self.load("totals", self._timed_totals)

    def _timed_totals(self) -> Totals:
        t0 = time.monotonic()
        try:
            return browse.totals(self.pp.db)
        finally:
            self._totals_took = time.monotonic() - t0

    def loaded_totals(self, t: Totals) -> None:
        self.query_one("#totals", Static).update(totals_table(t))
        self.query_one("#families", Static).update(families_table(t))

    def loaded_reports(self, reports: list[ReportRow]) -> None:
        self.query_one("#reports", Static).update(reports_table(reports))

    def loaded_live(self, live: LiveScan | None) -> None:
        ended = self._live is not None and (live is None or live.id != self._live.id)
        if (self._live is None) != (live is None):
            self.refresh_bindings()  # "x Cancel scan" shows only while there is one
        self._live = live
        self._show_live(live)
        if ended:
            self.action_refresh()

    def _show_live(self, live: LiveScan | None) -> None:
        status = self.query_one("#live-status", Static)
        bar = self.query_one("#live-bar", ProgressBar)
        workers = self.query_one("#live-workers", Static)
        if live is None:
            hint = "starting…" if self.pp.scan_running_here else "s starts one"
            # Repaint only on change: over SSH every repaint costs bandwidth.
            if self._idle_hint != hint:
                self._idle_hint = hint
                self.refresh_bindings()
                status.update(Text(f"No scan running ({hint}).", style="dim"))
                bar.display = False
                workers.display = False
            return
        self._idle_hint = None
        bar.display = True
        workers.display = bool(live.current_files)
        # A new estimator per phase: a resumed run's counts jump to its earlier part when checking
        # starts, and that jump is not throughput.
        if self._estimated_scan != (live.id, live.phase):
            self._estimated_scan = (live.id, live.phase)
            self._estimator = ProgressEstimator(live.total_files, live.bytes_total)
        assert self._estimator is not None
        self._estimator.set_totals(live.total_files, live.bytes_total)
        estimate = self._estimator.feed(time.monotonic(), live.files_processed, live.bytes_processed)
        parts = [f"Phase {live.phase_number}/{live.total_phases} {live.phase}"]
        if live.total_files:
            parts.append(f"{live.files_processed:,}/{live.total_files:,} files")
        if live.bytes_total:
            parts.append(f"{format_size(live.bytes_processed)}/{format_size(live.bytes_total)}")
        if estimate.rate_bytes_s > 0:
            parts.append(f"{format_size(int(estimate.rate_bytes_s))}/s")
        elif estimate.rate_files_s > 0:
            parts.append(f"{estimate.rate_files_s:.1f} files/s")
        if estimate.eta_s is not None and live.files_processed:
            parts.append(f"ETA {format_duration(estimate.eta_s)}")
        elapsed = live.elapsed_s(dt.datetime.now(dt.UTC))
        if elapsed is not None:
            parts.append(f"running {format_duration(elapsed)}")
        if live.deep:
            parts.append("deep")
        if live.cancel_requested:
            parts.append("cancelling…")
        if live.owner and not self.pp.scan_running_here:
            parts.append(f"by {live.owner}")
        status.update(" · ".join(parts))
        fraction = live.fraction
        if fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=1000, progress=int(fraction * 1000))
        lines = [f"worker {i + 1}: {path}" for i, path in enumerate(live.current_files[:MAX_WORKER_LINES])]
        if len(live.current_files) > MAX_WORKER_LINES:
            lines.append(f"… and {len(live.current_files) - MAX_WORKER_LINES} more")
        workers.update(Text("\n".join(lines), no_wrap=True, overflow="ellipsis"))

    # -- start / cancel -------------------------------------------------------------------------------------

    def action_start_scan(self) -> None:
        if self._live is not None or self.pp.scan_running_here:
            self.notify("A scan is already running (x cancels it)", severity="warning", timeout=4)
            return
        from pixelprobe_tui.tui.screens.scan_dialog import ScanDialog, ScanRequest

        def started(request: ScanRequest | None) -> None:
            if request is not None:
                self.pp.start_scan(request.paths, deep=request.deep, force=request.force)
                self.load("live", browse.live_scan, self.pp.db)

        self.app.push_screen(ScanDialog(), callback=started)

    def action_show_results(self, status: str) -> None:
        """Switch to the Results filtered by ``status`` (a verdict, "problems" or "bitrot"; "" for all)."""
        from pixelprobe_tui.tui.screens.results import ResultsScreen

        self.app.switch_mode("results")
        # The list is what was asked for: close a details screen left open on top of it.
        while len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        screen = self.app.screen_stack[0]
        if isinstance(screen, ResultsScreen):
            screen.filter_status(status or None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_scan":
            return self._live is not None or self.pp.scan_running_here
        return super().check_action(action, parameters)

    def action_cancel_scan(self) -> None:
        live_id = self._live.id if self._live is not None else None
        if live_id is None and not self.pp.scan_running_here:
            self.notify("No scan is running", timeout=3)
            return
        self.pp.cancel_scan(live_id)
        self.notify("Cancelling the scan…", timeout=3)
