"""Results: every file and its verdict in a virtual grid, with filters, sorting, selection and actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, ClassVar, TypeVar

from textual import events
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Select, Static

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services import browse, exports
from pixelprobe_tui.services.browse import (
    FAMILIES,
    SORT_KEYS,
    STATUSES,
    ResultsBrowser,
    ResultsQuery,
    Selection,
)
from pixelprobe_tui.services.results import who
from pixelprobe_tui.tui.screens.base import ModeScreen
from pixelprobe_tui.tui.widgets.results_grid import GridSelection, ResultsGrid

PROBLEMS = frozenset({"warning", "corrupted", "unreadable"})
_STATUS_OPTIONS: list[tuple[str, str]] = [
    ("Problems", "problems"),
    *((s.capitalize(), s) for s in STATUSES),
    ("Bitrot", "bitrot"),  # a flag from file-changes checks, not a verdict
]
STATUS_FILTERS = frozenset(value for _, value in _STATUS_OPTIONS)
"""What :meth:`ResultsScreen.filter_status` takes (besides None, "any status")."""
_FAMILY_OPTIONS: list[tuple[str, str]] = [(f.capitalize(), f) for f in FAMILIES]
_SINCE_OPTIONS: list[tuple[str, str]] = [
    ("Last 24 h", "1"),
    ("Last 7 days", "7"),
    ("Last 30 days", "30"),
    ("Older than 30 d", "-30"),
]
T = TypeVar("T")
_MARK_CYCLE: tuple[bool | None, ...] = (None, False, True)
SEARCH_DEBOUNCE_S = 0.25


EXPORT_MAX_IDS = 30_000  # ids per IN list the export service sends in one statement


def export_selection(db: Database, selection: Selection, path: str, fmt: str) -> tuple[str, int]:
    """Export a selection through the exports service (one way to export); returns (path, rows).

    "All in filter" goes as the filter. Anything else (exceptions, ranges, picked rows) becomes a list of
    ids, so it is refused (ConfigError) past EXPORT_MAX_IDS rows: export the whole filter instead.
    """
    query, ids = selection.query, None
    if query is None or selection.excluded or selection.ranges or selection.ids:
        query = None
        try:
            ids = set(browse.selected_ids(db, selection, EXPORT_MAX_IDS))
        except ValueError:
            raise ConfigError(
                f"more than {EXPORT_MAX_IDS:,} rows selected by range or one by one: export at most "
                f"{EXPORT_MAX_IDS:,} that way, or select all in the filter (a) without exceptions"
            ) from None
    with exports.atomic_output(path) as out:
        n = exports.export_results(db, out, fmt, query, ids=ids)  # type: ignore[arg-type]
    return path, n


def act_on(fn: Callable[..., T], db: Database, selection: GridSelection, *args: Any) -> T:
    """``fn(db, selection, *args)`` with the grid's selection resolved first (it may query: call it from a
    worker, never from the UI thread)."""
    return fn(db, selection.resolve(), *args)


def status_filter(query: ResultsQuery, value: str | None) -> ResultsQuery:
    """``query`` filtered by one choice of the status menu: a verdict, "problems" (warning, corrupted or
    unreadable), "bitrot" (the flag, whatever the verdict), or None for any status."""
    statuses = PROBLEMS if value == "problems" else (frozenset({value}) if value else frozenset())
    if value == "bitrot":
        statuses = frozenset()
    return query.with_changes(statuses=statuses, bitrot=value == "bitrot")


def date_range(value: str | None, now: dt.datetime | None = None) -> dict[str, dt.datetime | None]:
    """The scan-date bounds of a "since" choice: ``"7"`` = the last 7 days, ``"-30"`` = older than 30 days."""
    if not value:
        return {"date_from": None, "date_to": None}
    days = int(value)
    edge = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=abs(days))
    return {"date_from": edge, "date_to": None} if days > 0 else {"date_from": None, "date_to": edge}


class ResultsScreen(ModeScreen):
    """The results grid with a filter bar above and a status line below."""

    MODE = "results"
    BINDINGS: ClassVar[list[BindingType]] = [
        # The footer keeps the first ones when it has no room for all (? lists every key).
        Binding("g", "mark_good", "Good", id="results.mark_good"),
        Binding("r", "rescan(False)", "Rescan", id="results.rescan"),
        Binding("e", "export('json')", "Export", id="results.export_json"),
        Binding("o", "cycle_sort", "Sort", id="results.sort"),
        Binding("u", "unmark_good", "Unmark", id="results.unmark_good"),
        Binding("c", "copy_path", "Copy", id="results.copy_path"),
        Binding("slash", "focus_search", "Search", id="results.search"),
        Binding("escape", "focus_grid", "Back to list", id="results.focus_grid"),
        Binding("D", "rescan(True)", "Deep scan", show=False, id="results.deep_scan"),
        Binding("E", "export('csv')", "Export CSV", show=False, id="results.export_csv"),
        Binding("O", "reverse_sort", "Reverse sort", show=False, id="results.reverse_sort"),
        Binding("m", "cycle_marked", "Marked filter", show=False, id="results.marked_filter"),
        Binding("f5,ctrl+r", "refresh", "Refresh", show=False, id="results.refresh"),
    ]
    DEFAULT_CSS = """
    ResultsScreen #filters { height: 1; }
    ResultsScreen #filters Select { width: 18; }
    ResultsScreen #filters #family { width: 13; }
    ResultsScreen #filters #since { width: 18; }
    ResultsScreen #filters Input { width: 1fr; }
    ResultsScreen #status-line { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._search_timer: Timer | None = None
        self._poll_timer: Timer | None = None
        self._last_progress: tuple[str, int] | None = None
        self._rescan_deep = False
        self._initial_status: str | None = None  # a filter_status() that came before the screen was built
        self._shown = False

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="filters"):
            yield Select(
                _STATUS_OPTIONS,
                prompt="Any status",
                id="status",
                compact=True,
                value=self._initial_status or Select.NULL,
            )
            yield Select(_FAMILY_OPTIONS, prompt="Any type", id="family", compact=True)
            yield Select(_SINCE_OPTIONS, prompt="Any time", id="since", compact=True)
            yield Input(placeholder="/ search paths", id="search", compact=True)
        query = status_filter(ResultsQuery(), self._initial_status)
        yield ResultsGrid(partial(ResultsBrowser, self.pp.db), query, id="grid")
        yield Static("", id="status-line")

    @property
    def grid(self) -> ResultsGrid:
        return self.query_one(ResultsGrid)

    def on_screen_resume(self) -> None:
        # Back from another screen or mode: files may have been scanned or marked meanwhile. (The first
        # show loads by itself.)
        if self._shown:
            self.grid.reload()
        self._shown = True

    def on_mount(self) -> None:
        self.grid.focus()
        # New results appear while a scan runs (here or in another process): poll its progress.
        self._poll_timer = self.set_interval(self.pp.poll_interval * 4, self._poll_scan)

    # -- filters --------------------------------------------------------------------------------------------

    def filter_status(self, value: str | None) -> None:
        """Show only one status: a verdict ("corrupted"...), "problems", "bitrot", or None for any. The
        status menu shows the choice; the other filters stay. Works before the screen is first shown too."""
        if value is not None and value not in STATUS_FILTERS:
            raise ValueError(f"unknown status filter {value!r} (one of {', '.join(sorted(STATUS_FILTERS))})")
        grids = self.query(ResultsGrid)
        if not grids:
            self._initial_status = value
            return
        select = self.query_one("#status", Select)
        with select.prevent(Select.Changed):
            select.value = value if value is not None else Select.NULL
        query = status_filter(grids.first().query_, value)
        if query != grids.first().query_:
            grids.first().set_query(query)
        grids.first().focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        query = self.grid.query_
        value = event.value if isinstance(event.value, str) else None
        if event.select.id == "status":
            query = status_filter(query, value)
        elif event.select.id == "family":
            query = query.with_changes(families=frozenset({value}) if value else frozenset())
        elif event.select.id == "since":
            query = query.with_changes(**date_range(value))
        if query != self.grid.query_:
            self.grid.set_query(query)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE_S, partial(self._apply_search, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._apply_search(event.value)
        self.grid.focus()

    def _apply_search(self, text: str) -> None:
        if text != self.grid.query_.path_text:
            self.grid.set_query(self.grid.query_.with_changes(path_text=text))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the search field the footer offers the way back instead of the key that led there.
        if action in ("focus_grid", "focus_search") and self.query(ResultsGrid):
            in_grid, in_search = self.grid.has_focus, self.query_one("#search", Input).has_focus
            return not in_grid if action == "focus_grid" else not in_search
        return super().check_action(action, parameters)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.refresh_bindings()  # check_action depends on the focus

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_grid(self) -> None:
        self.grid.focus()

    def action_cycle_sort(self) -> None:
        q = self.grid.query_
        nxt = SORT_KEYS[(SORT_KEYS.index(q.sort) + 1) % len(SORT_KEYS)]
        self.grid.set_query(q.with_changes(sort=nxt, descending=nxt in ("date", "size")))

    def action_reverse_sort(self) -> None:
        q = self.grid.query_
        self.grid.set_query(q.with_changes(descending=not q.descending))

    def action_cycle_marked(self) -> None:
        q = self.grid.query_
        nxt = _MARK_CYCLE[(_MARK_CYCLE.index(q.marked_good) + 1) % len(_MARK_CYCLE)]
        self.grid.set_query(q.with_changes(marked_good=nxt))

    def action_refresh(self) -> None:
        self.grid.reload()

    # -- status line ----------------------------------------------------------------------------------------

    def on_results_grid_changed(self, event: ResultsGrid.Changed) -> None:
        self._update_status()

    def on_results_grid_cursor_moved(self, event: ResultsGrid.CursorMoved) -> None:
        self._update_status()

    def _update_status(self) -> None:
        grid = self.grid
        if grid.count is None:
            count = "counting…"
        else:
            count = f"{grid.cursor + 1 if grid.count else 0:,}/{grid.count:,} files"
        parts = [count]
        selected = grid.selected_count
        if selected is None or selected:
            parts.append(f"{selected:,} selected" if selected is not None else "all selected")
        q = grid.query_
        parts.append(f"sort {q.sort} {'↓' if q.descending else '↑'}")
        parts.append(q.describe())
        row = grid.cursor_row
        if row is not None and row.bitrot:
            parts.append("≠ bitrot suspected: content changed, size and date did not")
        if row is not None and row.problem:
            parts.append(row.problem)  # whole, as far as the line goes: the grid's column may cut it
        if grid.error:
            parts.append(f"error: {grid.error}")
        self.query_one("#status-line", Static).update(" · ".join(parts))

    # -- actions --------------------------------------------------------------------------------------------

    def on_results_grid_row_opened(self, event: ResultsGrid.RowOpened) -> None:
        from pixelprobe_tui.tui.screens.details import DetailsScreen

        self.app.push_screen(DetailsScreen(event.row.id))  # back here, on_screen_resume reloads the rows

    def _selection_or_warn(self) -> GridSelection | None:
        selection = self.grid.selection()
        if selection.is_empty:
            self.notify("No file under the cursor", severity="warning", timeout=3)
            return None
        return selection

    def action_mark_good(self) -> None:
        selection = self._selection_or_warn()
        if selection is not None:
            self.load("marked", act_on, browse.set_marked_good, self.pp.db, selection, True, who())

    def action_unmark_good(self) -> None:
        selection = self._selection_or_warn()
        if selection is not None:
            self.load("unmarked", act_on, browse.set_marked_good, self.pp.db, selection, False, None)

    def loaded_marked(self, changed: int) -> None:
        self.notify(f"Marked {changed:,} file{'s' if changed != 1 else ''} good", timeout=3)
        self.grid.reload()

    def loaded_unmarked(self, changed: int) -> None:
        self.notify(f"Cleared the mark of {changed:,} file{'s' if changed != 1 else ''}", timeout=3)
        self.grid.reload()

    def action_copy_path(self) -> None:
        selection = self._selection_or_warn()
        if selection is not None:
            self.load("paths", act_on, browse.selected_paths, self.pp.db, selection, 10_000)

    def loaded_paths(self, paths: list[str]) -> None:
        if not paths:
            return
        self.app.copy_to_clipboard("\n".join(paths))
        what = paths[0] if len(paths) == 1 else f"{len(paths):,} paths"
        self.notify(f"Copied {what}", timeout=3)

    def action_rescan(self, deep: bool) -> None:
        if self.pp.scan_running_here:
            self.notify("A scan is running: wait for it to end (or cancel it on the Dashboard)", timeout=4)
            return
        selection = self._selection_or_warn()
        if selection is not None:
            self._rescan_deep = deep
            self.load("rescan_paths", act_on, browse.selected_paths, self.pp.db, selection, 100_000)

    def loaded_rescan_paths(self, paths: list[str]) -> None:
        if not paths:
            return
        self.pp.start_scan((), deep=self._rescan_deep, force=True, files=paths)
        kind = "Deep scan" if self._rescan_deep else "Rescan"
        self.notify(f"{kind} of {len(paths):,} file{'s' if len(paths) != 1 else ''} started", timeout=4)

    def action_export(self, fmt: str) -> None:
        from pixelprobe_tui.tui.screens.reports import export_path

        selection = self._selection_or_warn()
        if selection is not None:
            path = export_path("results", fmt)
            self.load("exported", act_on, export_selection, self.pp.db, selection, path, fmt)

    def loaded_exported(self, outcome: tuple[str, int]) -> None:
        path, n = outcome
        self.notify(f"Wrote {n:,} result{'' if n == 1 else 's'} to {path}", timeout=6)

    # -- live results ---------------------------------------------------------------------------------------

    def _poll_scan(self) -> None:
        if self.is_current:
            self.load("scan_progress", browse.live_scan, self.pp.db)

    def loaded_scan_progress(self, live: browse.LiveScan | None) -> None:
        progress = None if live is None else (live.id, live.files_processed)
        if progress != self._last_progress:
            # Reload once more when the scan ends, so its last batch shows too.
            if self._last_progress is not None:
                self.grid.reload()
            self._last_progress = progress
