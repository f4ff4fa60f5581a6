"""Schedules: the stored schedules (scan, orphan cleanup, file changes) with their last and next runs in local
time; add, edit, turn on/off, delete and run them now. Also the maintenance runs on demand: an orphan cleanup
(a preview first, records deleted only after a confirmation) and a file-changes (bitrot) check. Every run
started here goes in a thread worker, one at a time, with its progress and summary in the panel below the
table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable, ProgressBar, Static
from textual.worker import Worker, WorkerState

from pixelprobe_tui.core.discovery import display_path
from pixelprobe_tui.core.events import PhaseChanged, Progress
from pixelprobe_tui.db.models import utcnow
from pixelprobe_tui.services.changes import ChangesProgress, ChangesSummary, FileChangesService
from pixelprobe_tui.services.cleanup import CleanupProgress, CleanupService, CleanupSummary
from pixelprobe_tui.services.schedules import (
    RunNowResult,
    ScheduleBusy,
    ScheduleInfo,
    ScheduleService,
    default_runners,
    run_now,
)
from pixelprobe_tui.tui.screens.base import ModeScreen
from pixelprobe_tui.tui.widgets.confirm import CleanupConfirm, ConfirmDialog
from pixelprobe_tui.tui.widgets.schedule_form import ScheduleForm

COLUMNS = ("Name", "Type", "When", "On", "Next run", "Last run", "Paths")
SHORT_TYPES = {"scan": "scan", "cleanup": "cleanup", "file_changes": "file changes"}
PROGRESS_EVERY_S = 0.25


def short_local(moment: dt.datetime | None, tz: dt.tzinfo) -> str:
    """``2026-11-26 03:00`` in *tz*; ``-`` for None (the zone is named once, in the panel title)."""
    if moment is None:
        return "-"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def table_local(moment: dt.datetime | None, tz: dt.tzinfo, now: dt.datetime) -> str:
    """A run time for a table cell: ``Nov 26 03:00`` this year (80 columns hold the row), else the date."""
    if moment is None:
        return "-"
    local = moment.astimezone(tz)
    if local.year == now.astimezone(tz).year:
        return local.strftime("%b %d %H:%M")
    return local.strftime("%Y-%m-%d")


def zone_name(tz: dt.tzinfo, now: dt.datetime | None = None) -> str:
    """The zone's name for a title: its key (Europe/Berlin) when it has one, else its abbreviation."""
    key = getattr(tz, "key", None)
    if isinstance(key, str) and key:
        return key
    return (now or utcnow()).astimezone(tz).strftime("%Z") or "local"


def schedule_cells(info: ScheduleInfo, tz: dt.tzinfo, now: dt.datetime | None = None) -> tuple[Any, ...]:
    """One table row for a schedule (*now* decides whether dates need their year)."""
    now = now or utcnow()
    paths: Any = (
        ", ".join(display_path(p) for p in info.scan_paths)
        if info.scan_paths
        else Text("all roots", style="dim")
    )
    if info.scan_type != "scan":
        paths = Text("every record", style="dim")
    kind = Text(SHORT_TYPES.get(info.scan_type, info.scan_type))
    if info.force_rescan:
        kind.append(" +force", style="yellow")
    nxt: Any = Text(table_local(info.next_run, tz, now)) if info.is_active else Text("-", style="dim")
    if info.claimed_by:
        nxt = Text("running now", style="bold green")
    return (
        info.name,
        kind,
        info.schedule_value,
        Text("on", style="green") if info.is_active else Text("off", style="dim"),
        nxt,
        table_local(info.last_run, tz, now),
        paths,
    )


def schedule_summary(info: ScheduleInfo, tz: dt.tzinfo) -> Text:
    """The highlighted schedule in words, in full: what it runs, where, when, and its runs."""
    if info.scan_type == "scan":
        where = ", ".join(display_path(p) for p in info.scan_paths) if info.scan_paths else "all roots"
        what = f"scan of {where}" + (" (unchanged files too)" if info.force_rescan else "")
    elif info.scan_type == "cleanup":
        what = "orphan cleanup (marks records of gone files)"
    else:
        what = "file changes and bitrot check"
    text = Text()
    text.append(f"{info.name}: ", style="bold")
    text.append(what)
    try:
        when = info.spec.describe()
    except Exception:  # a row edited into nonsense outside pixelprobe: show what is stored
        when = info.schedule_value
    text.append(f" · {when}")
    if info.claimed_by:
        text.append(" · running now", style="bold green")
    elif info.is_active:
        text.append(f" · next {short_local(info.next_run, tz)}")
    else:
        text.append(" · off", style="dim")
    text.append(f" · last {short_local(info.last_run, tz)}")
    return text


def changes_text(s: ChangesSummary) -> Text:
    """One or two lines on a file-changes run."""
    text = Text(f"File changes {s.status}: {s.checked:,} checked, {s.unchanged:,} unchanged, ")
    text.append(f"{s.modified:,} modified", style="yellow" if s.modified else "")
    text.append(", ")
    text.append(f"{s.bitrot:,} bitrot suspected", style="bold red" if s.bitrot else "")
    text.append(f", {s.missing:,} missing, {s.unreadable:,} unreadable")
    if s.restored:
        text.append(f", {s.restored:,} restored")
    if s.rescanned:
        text.append(f"; {s.rescanned:,} rescanned")
    if s.skipped_unavailable_root:
        text.append(f"; {s.skipped_unavailable_root:,} skipped (root unavailable)", style="yellow")
    if s.bitrot:
        text.append("\nResults (2) → status Bitrot lists the flagged files.", style="dim")
    return text


def scan_text(s: Any) -> Text:
    """One line on a scan run (a ScanSummary)."""
    text = Text(f"Scan {s.status}: {s.files_checked:,} checked, {s.skipped_unchanged:,} unchanged; ")
    text.append(f"{s.corrupted:,} corrupted", style="bold red" if s.corrupted else "")
    text.append(f", {s.warning:,} warnings, {s.unreadable:,} unreadable")
    if s.known_corrupted:
        text.append(f"; {s.known_corrupted:,} known corrupted", style="red")
    if s.incomplete_reason:
        text.append(f"; incomplete: {s.incomplete_reason}", style="yellow")
    return text


def cleanup_done_text(s: CleanupSummary) -> Text:
    """One line on a cleanup that marked or deleted."""
    text = Text(f"Cleanup {s.status}: {s.checked:,} checked, {s.missing:,} gone, ")
    if s.mode == "apply":
        text.append(f"{s.deleted:,} records deleted", style="bold" if s.deleted else "")
    else:
        text.append(f"{s.marked:,} marked missing")
    if s.restored:
        text.append(f", {s.restored:,} back")
    if s.unverifiable:
        text.append(f", {s.unverifiable:,} unverifiable (kept)")
    if s.skipped_unavailable_root:
        text.append(f", {s.skipped_unavailable_root:,} kept (root unavailable)", style="yellow")
    return text


class SchedulesScreen(ModeScreen):
    MODE = "schedules"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New", id="schedules.new"),
        Binding(
            "r",
            "run_now",
            "Run",
            id="schedules.run_now",
            tooltip="Run the selected schedule now, in the background",
        ),
        Binding("e,enter", "edit", "Edit", id="schedules.edit"),
        Binding("t,space", "toggle_active", "On/off", id="schedules.toggle"),
        Binding(
            "d,delete", "delete", "Del", id="schedules.delete", tooltip="Delete the schedule (asks first)"
        ),
        Binding(
            "c", "cleanup", "Cleanup", id="schedules.cleanup", tooltip="Orphan cleanup: preview, then confirm"
        ),
        Binding(
            "f",
            "file_changes",
            "Bitrot",
            id="schedules.file_changes",
            tooltip="Check file changes and bitrot now",
        ),
        Binding("x", "cancel_maintenance", "Stop run", id="schedules.cancel_maintenance"),
        Binding("f5,ctrl+r", "refresh", "Refresh", show=False, id="schedules.refresh"),
    ]
    DEFAULT_CSS = """
    SchedulesScreen #schedules-panel { height: 1fr; border: round $primary 60%; }
    SchedulesScreen #schedules { height: 1fr; }
    SchedulesScreen #schedule-summary { height: auto; padding: 0 1; color: $text; }
    SchedulesScreen #empty { height: auto; color: $text-muted; padding: 0 1; }
    SchedulesScreen #maintenance { height: auto; border: round $primary 60%; padding: 0 1; }
    SchedulesScreen #maint-status { height: auto; }
    SchedulesScreen #maint-bar { width: 1fr; }
    SchedulesScreen #maint-bar Bar { width: 1fr; }
    """

    # What "now" is for the form's preview; tests and screenshots pin it.
    clock: ClassVar[Callable[[], dt.datetime]] = staticmethod(utcnow)

    def __init__(self) -> None:
        super().__init__()
        self.schedules: list[ScheduleInfo] = []
        self._service: ScheduleService | None = None
        self._job: str | None = None  # "cleanup" | "file changes" while one runs
        self._job_service: Any = None  # what stops the run in progress: it has ``cancel()``
        self._progress: CleanupProgress | ChangesProgress | Progress | None = None
        self._phase = ""  # a scan's phase, for its progress line

    @property
    def service(self) -> ScheduleService:
        if self._service is None:
            self._service = ScheduleService(self.pp.db)
        return self._service

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="schedules-panel") as panel:
            panel.border_title = "Schedules"
            table: DataTable[Any] = DataTable(id="schedules", cursor_type="row", zebra_stripes=True)
            table.add_columns(*COLUMNS)
            yield table
            yield Static("", id="empty")
            yield Static("", id="schedule-summary")
        with Vertical(id="maintenance") as maint:
            maint.border_title = "Maintenance"
            yield Static(
                Text(
                    "r: run the selected schedule now · c: orphan cleanup (preview, then confirm) · "
                    "f: check file changes and bitrot · x: stop a run",
                    "dim",
                ),
                id="maint-status",
            )
            yield ProgressBar(id="maint-bar", show_eta=False)

    def on_mount(self) -> None:
        self.query_one("#maint-bar", ProgressBar).display = False
        panel = self.query_one("#schedules-panel")
        panel.border_subtitle = f"times in {zone_name(self.service.tz)}"
        self.set_interval(PROGRESS_EVERY_S, self._show_progress)
        # last_run / next_run move when the scheduler runs something: re-read now and then.
        self.set_interval(max(self.pp.poll_interval * 20, 10.0), self._poll)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def _poll(self) -> None:
        if self.is_current:
            self.action_refresh()

    def action_refresh(self) -> None:
        self.load("schedules", self.service.all)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#schedules", DataTable)

    def loaded_schedules(self, rows: list[ScheduleInfo], select_id: int | None = None) -> None:
        table = self.table
        current = self.selected()
        keep = select_id if select_id is not None else (current.id if current else None)
        self.schedules = rows
        table.clear()
        tz = self.service.tz
        now = type(self).clock()
        for info in rows:
            table.add_row(*schedule_cells(info, tz, now), key=str(info.id))
        empty = self.query_one("#empty", Static)
        empty.display = not rows
        empty.update("No schedules yet: n adds one (a cron expression like 0 3 * * *, or every 6h).")
        if keep is not None:
            for i, info in enumerate(rows):
                if info.id == keep:
                    table.move_cursor(row=i)
                    break
        self._show_summary()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_summary()

    def _show_summary(self) -> None:
        info = self.selected()
        summary = self.query_one("#schedule-summary", Static)
        summary.display = info is not None
        if info is not None:
            summary.update(schedule_summary(info, self.service.tz))

    def selected(self) -> ScheduleInfo | None:
        """The schedule under the cursor."""
        if not self.schedules:
            return None
        row = self.table.cursor_row
        if 0 <= row < len(self.schedules):
            return self.schedules[row]
        return None

    def _selected_or_warn(self) -> ScheduleInfo | None:
        info = self.selected()
        if info is None:
            self.notify("No schedule selected (n adds one)", severity="warning", timeout=3)
        return info

    # -- schedules ------------------------------------------------------------------------------------------

    def action_new(self) -> None:
        self.app.push_screen(ScheduleForm(self.service, clock=type(self).clock), callback=self._saved)

    def action_edit(self) -> None:
        info = self._selected_or_warn()
        if info is not None:
            self.app.push_screen(
                ScheduleForm(self.service, info, clock=type(self).clock), callback=self._saved
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter or a click on the selected row: edit it (the binding's enter never reaches the table).
        event.stop()
        self.action_edit()

    def _saved(self, info: ScheduleInfo | None) -> None:
        if info is None:
            return
        nxt = short_local(info.next_run, self.service.tz)
        self.notify(f"Saved {info.name!r}: next run {nxt}", timeout=4)
        self.load("schedules_selecting", lambda: (self.service.all(), info.id))

    def loaded_schedules_selecting(self, outcome: tuple[list[ScheduleInfo], int]) -> None:
        rows, select_id = outcome
        self.loaded_schedules(rows, select_id)

    def action_toggle_active(self) -> None:
        info = self._selected_or_warn()
        if info is not None:
            self.load("toggled", self.service.set_active, info.id, not info.is_active)

    def loaded_toggled(self, info: ScheduleInfo) -> None:
        state = f"on, next run {short_local(info.next_run, self.service.tz)}" if info.is_active else "off"
        self.notify(f"{info.name!r} is {state}", timeout=3)
        self.action_refresh()

    def action_delete(self) -> None:
        info = self._selected_or_warn()
        if info is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.load("removed", self.service.remove, info.id)

        question = f"Delete the schedule {info.name!r} ({info.schedule_value}, {info.scan_type})?"
        self.app.push_screen(ConfirmDialog("Delete schedule", question, "Delete"), callback=answered)

    def loaded_removed(self, info: ScheduleInfo) -> None:
        self.notify(f"Deleted {info.name!r}", timeout=3)
        self.action_refresh()

    # -- maintenance ----------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "Stop run" is offered (footer and help) only while there is a run to stop: the footer has no room
        # for a key that does nothing.
        if action == "cancel_maintenance":
            return self._job is not None
        return True

    def _busy(self) -> bool:
        if self._job is not None:
            job = self._job[0].upper() + self._job[1:]
            self.notify(f"{job} is going on (x stops it)", severity="warning", timeout=3)
            return True
        return False

    def _start_job(self, job: str, name: str, fn: Callable[[], Any]) -> None:
        self._job = job
        self._progress = None
        self._phase = ""
        self._set_status(Text(f"{job.capitalize()}: starting…"))
        bar = self.query_one("#maint-bar", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.refresh_bindings()
        self.run_worker(fn, name=name, group="maintenance", thread=True, exit_on_error=False)

    def _on_progress(self, progress: Any) -> None:
        # Called in the worker threads: keep only the newest; a UI timer shows it. A scheduled scan sends
        # every engine event: only its phases and progress totals matter here.
        if isinstance(progress, PhaseChanged):
            self._phase = progress.phase
        elif isinstance(progress, (CleanupProgress, ChangesProgress, Progress)):
            self._progress = progress

    def _show_progress(self) -> None:
        p = self._progress
        if self._job is None or p is None:
            return
        bar = self.query_one("#maint-bar", ProgressBar)
        title = self._job[0].upper() + self._job[1:]
        if isinstance(p, Progress):
            if p.files_total:
                bar.update(total=p.files_total, progress=p.files_done)
            eta = f" · ETA {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d}" if p.eta_s is not None else ""
            phase = f"{self._phase} " if self._phase else ""
            line = f"{title}: {phase}{p.files_done:,}/{p.files_total:,} files{eta}"
            self._set_status(Text(line + " (x stops)"))
            return
        if p.total_files:
            bar.update(total=p.total_files, progress=p.files_processed)
        line = f"{title}: {p.phase} {p.files_processed:,}/{p.total_files:,} records"
        if isinstance(p, CleanupProgress):
            line += f" · {p.files_to_delete:,} gone so far"
        else:
            line += f" · {p.modified:,} modified · {p.bitrot:,} bitrot · {p.missing:,} missing"
        self._set_status(Text(line + " (x stops)"))

    def _set_status(self, text: Text) -> None:
        self.query_one("#maint-status", Static).update(text)

    def action_cleanup(self) -> None:
        if self._busy():
            return
        self._start_job("cleanup preview", "cleanup_preview", lambda: self._cleanup("preview"))

    def _cleanup(self, mode: str) -> CleanupSummary:
        """Run a cleanup (in a worker: the service reads the settings when it is built)."""
        service = CleanupService(self.pp.db, progress=self._on_progress)
        self._job_service = service
        return service.run(mode)  # type: ignore[arg-type]

    def action_file_changes(self) -> None:
        if self._busy():
            return
        if self.pp.scan_running_here:
            self.notify("A scan is running: check file changes when it has ended", severity="warning")
            return

        def run() -> ChangesSummary:
            service = FileChangesService(self.pp.db, progress=self._on_progress)  # reads the settings
            self._job_service = service
            return service.run(None)

        self._start_job("file changes", "file_changes", run)

    def action_run_now(self) -> None:
        info = self._selected_or_warn()
        if info is None or self._busy():
            return
        if info.scan_type != "cleanup" and self.pp.scan_running_here:
            self.notify(
                f"A scan is running: run {info.name!r} when it has ended", severity="warning", timeout=4
            )
            return
        runners = default_runners(self.pp.db, self._on_progress)
        self._job_service = runners[info.scan_type]
        tz = self.service.tz
        self._start_job(
            f"run of {info.name!r}", "run_now", lambda: run_now(self.pp.db, info.id, runners, tz=tz)
        )
        # The row shows "(running)" once the claim is in: look again shortly.
        self.set_timer(0.5, self.action_refresh)

    def action_cancel_maintenance(self) -> None:
        service = self._job_service
        if self._job is None or service is None:
            self.notify("No maintenance run is going on", timeout=3)
            return
        service.cancel()
        self.notify(f"Stopping the {self._job} run…", timeout=3)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        worker = event.worker
        if worker.group != "maintenance" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        job = self._job or worker.name
        self._job = None
        self._job_service = None
        self.refresh_bindings()
        self.query_one("#maint-bar", ProgressBar).display = False
        title = job[0].upper() + job[1:]
        if worker.name == "run_now":
            self.action_refresh()  # its last run, and the next one when it was due
        if event.state == WorkerState.ERROR:
            error = worker.error
            message = str(error).splitlines()[0] if error is not None and str(error) else repr(error)
            if isinstance(error, ScheduleBusy):
                self._set_status(Text(f"{title} not started: {message}", style="yellow"))
                self.notify(message, title=f"{title} not started", severity="warning", timeout=8)
                return
            self._set_status(Text(f"{title} failed: {message}", style="red"))
            self.notify(message, title=f"{title} failed", severity="error", timeout=8)
            return
        result = worker.result
        if isinstance(result, RunNowResult):
            self._ran_now(title, result)
        elif isinstance(result, ChangesSummary):
            self._set_status(changes_text(result))
            severity = "error" if result.bitrot else ("warning" if result.modified or result.missing else
                                                      "information")  # fmt: skip
            self.notify(
                f"{result.bitrot:,} bitrot suspected, {result.modified:,} modified, {result.missing:,} missing",
                title=f"File changes {result.status}",
                severity=severity,  # type: ignore[arg-type]
                timeout=8,
            )
        elif isinstance(result, CleanupSummary) and result.mode == "preview":
            self._previewed(result)
        elif isinstance(result, CleanupSummary):
            self._set_status(cleanup_done_text(result))
            self.notify(str(cleanup_done_text(result)), title="Cleanup", timeout=8)

    def _ran_now(self, title: str, result: RunNowResult) -> None:
        summary = result.summary
        if isinstance(summary, ChangesSummary):
            body = changes_text(summary)
            bad = summary.bitrot > 0
        elif isinstance(summary, CleanupSummary):
            body = cleanup_done_text(summary)
            bad = False
        else:
            body = scan_text(summary)
            bad = bool(getattr(summary, "any_corrupted", False))
        line = Text(f"{title}: ").append_text(body)
        self._set_status(line)
        status = getattr(summary, "status", "completed")
        severity = "error" if bad else ("information" if status == "completed" else "warning")
        first_line = body.plain.split("\n")[0]
        self.notify(first_line, title=f"{title} {status}", severity=severity, timeout=8)  # type: ignore[arg-type]

    def _previewed(self, summary: CleanupSummary) -> None:
        if summary.status != "completed":
            self._set_status(Text(f"Cleanup preview {summary.status}: nothing changed.", style="yellow"))
            return
        if not summary.missing:
            line = f"Cleanup preview: {summary.checked:,} records checked, no orphaned records."
            if summary.unverifiable or summary.skipped_unavailable_root:
                line += (f" {summary.unverifiable:,} unverifiable, {summary.skipped_unavailable_root:,} under "
                         "unavailable roots (kept).")  # fmt: skip
            self._set_status(Text(line))
            self.notify("No orphaned records", timeout=4)
            return
        self._set_status(
            Text(f"Cleanup preview: {summary.missing:,} records of gone files; waiting for you…")
        )

        def chosen(choice: str | None) -> None:
            if choice not in ("apply", "mark"):
                self._set_status(Text("Cleanup cancelled: nothing changed.", style="dim"))
                return
            label = "cleanup" if choice == "apply" else "cleanup (mark only)"
            self._start_job(label, f"cleanup_{choice}", lambda: self._cleanup(choice))  # type: ignore[arg-type]

        self.app.push_screen(CleanupConfirm(summary), callback=chosen)

    def on_unmount(self) -> None:
        # The app is closing: do not keep it waiting for a long maintenance run.
        service = self._job_service
        if service is not None:
            service.cancel()
