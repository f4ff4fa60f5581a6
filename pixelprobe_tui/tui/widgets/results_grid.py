"""The results grid: a line-API view over millions of rows that only ever holds a few pages of them.

The grid renders rows from a page cache keyed by block number (``BLOCK`` rows per block). A missing block
is requested from one reader thread (a Textual thread worker) that runs the query and posts the rows back
as a message: the UI thread never waits on the database. The reader serves the newest requests first and
chooses the cheapest query: keyset paging from a neighbouring block it already has, the last rows counted
from the end, or one indexed OFFSET jump. The row count arrives the same way, from a thread of its own.

Every load carries a generation number; a new query (filter or sort change) bumps it, so rows of an old
query that arrive late are dropped. A refresh of the same query (new results during a scan) keeps showing
the old rows until the new ones arrive, so nothing flickers.

Selection is kept as rules, never as a list of a million ids: "all in the filter" minus exceptions, ranges of
the listing (shift+arrows, shift+Home/End/PgUp/PgDn, shift+click), each held by its first and last position
and row key, and rows picked one by one (space, ctrl+click). The rows of a range need not be loaded: acting on
it is one query between its end keys (see ``browse.Selection``). An end row that was never loaded (shift+End
before the last page arrived) is known by its position only; :meth:`GridSelection.resolve` reads its key in
the worker that performs the action, so the UI thread never waits on the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len, get_character_cell_size, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from pixelprobe_tui.services.browse import (
    Key,
    ResultRow,
    ResultsBrowser,
    ResultsQuery,
    Selection,
    format_size,
)

BLOCK = 128
MAX_BLOCKS = 48  # about 6,000 rows in memory, whatever the table holds
PREFETCH_BLOCKS = 1  # blocks loaded ahead of and behind the viewport

# (title, width); the path column takes what is left. Order as shown.
FIXED_COLUMNS: tuple[tuple[str, int], ...] = (
    ("", 1),  # selection mark
    ("Status", 10),
    ("Type", 5),
    ("Size", 8),
    ("Scanned", 16),
    ("Flag", 4),  # ✓ marked good, ≠ bitrot suspected
)
MIN_PATH_WIDTH = 12
# The Problem column (what is wrong with a non-healthy row) comes after Path, only on wide screens: Path keeps
# PATH_SHARE of the room left by the fixed columns (at least MIN_PATH_WITH_PROBLEM cells), Problem gets the rest
# when that is at least MIN_PROBLEM_WIDTH cells (so it shows from about 100 columns on), and no more than
# MAX_PROBLEM_WIDTH (what is beyond goes back to Path).
PATH_SHARE = 0.55
MIN_PATH_WITH_PROBLEM = 32
MIN_PROBLEM_WIDTH = 16
MAX_PROBLEM_WIDTH = 80
SELECTED_MARK = "●"
GOOD_MARK = "✓"
BITROT_MARK = "≠"  # content changed while size and modification time did not


@dataclass(frozen=True)
class _Request:
    generation: int
    block: int  # -1: count the rows
    method: str  # "start" | "after" | "before" | "tail" | "offset" | "count"
    key: Any = None
    n_from_end: int = 0


@dataclass
class _Range:
    """Positions ``first..last`` (both included) of the listing, with the keys of those two rows once known."""

    first: int
    last: int
    first_key: Key | None = None
    last_key: Key | None = None

    def __contains__(self, index: int) -> bool:
        return self.first <= index <= self.last


@dataclass(frozen=True)
class GridSelection:
    """What the grid has selected, as the UI thread knows it: range ends by position, with the key of each
    end row when it has been loaded. :meth:`resolve` (call it from a worker: it may query) turns it into the
    :class:`browse.Selection` the services act on."""

    browser: ResultsBrowser | None = None
    query: ResultsQuery | None = None  # "all in the filter"
    ids: frozenset[int] = frozenset()
    excluded: frozenset[int] = frozenset()
    ranges: tuple[tuple[int, Key | None, int, Key | None], ...] = ()  # (first, its key, last, its key)

    @property
    def is_empty(self) -> bool:
        """Whether it selects nothing (known without a query)."""
        return not self.ids and self.query is None and not self.ranges

    def resolve(self) -> Selection:
        """The selection for the services. Reads the key of each range end that was never loaded with one
        indexed query; a range whose end is gone (the listing shrank meanwhile) is dropped."""
        if self.query is not None:
            return Selection(query=self.query, excluded=self.excluded)
        if not self.ranges and not self.ids:
            return Selection()
        ranges: list[tuple[Key, Key]] = []
        for first, first_key, last, last_key in self.ranges:
            if self.browser is not None:
                first_key = first_key if first_key is not None else self.browser.key_at(first)
                last_key = last_key if last_key is not None else self.browser.key_at(last)
            if first_key is not None and last_key is not None:
                ranges.append((first_key, last_key))
        within = self.browser.query if self.browser is not None else None
        return Selection(
            ids=self.ids, ranges=tuple(ranges), within=within if ranges else None, excluded=self.excluded
        )


def _covered(ranges: list[_Range]) -> list[tuple[int, int]]:
    """The union of ranges as sorted, disjoint (first, last) pairs."""
    out: list[tuple[int, int]] = []
    for r in sorted(ranges, key=lambda r: r.first):
        if out and r.first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], r.last))
        else:
            out.append((r.first, r.last))
    return out


def column_widths(line_width: int) -> tuple[int, int]:
    """(Path width, Problem width) for a line of ``line_width`` cells; Problem is 0 when it is hidden."""
    room = line_width - sum(w + 1 for _, w in FIXED_COLUMNS)
    path = max(MIN_PATH_WITH_PROBLEM, int(room * PATH_SHARE + 0.5))
    problem = min(MAX_PROBLEM_WIDTH, room - path - 1)
    if problem < MIN_PROBLEM_WIDTH:
        return max(MIN_PATH_WIDTH, room), 0
    return room - problem - 1, problem


def fit_text(text: str, width: int) -> str:
    """``text`` in exactly ``width`` terminal cells; a long one keeps its start and ends with an ellipsis.
    Cells, not characters: a CJK character takes two."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    room, end = width - 1, 0
    while end < len(text) and get_character_cell_size(text[end]) <= room:
        room -= get_character_cell_size(text[end])
        end += 1
    return text[:end] + "…" + " " * room  # a wide character that no longer fits leaves one blank cell


def fit_path(path: str, width: int) -> str:
    """``path`` in exactly ``width`` terminal cells; a long one keeps its end (the file name), led by an
    ellipsis. Cells, not characters: a CJK character takes two."""
    if width <= 0:
        return ""
    if cell_len(path) <= width:
        return set_cell_size(path, width)
    if width == 1:
        return "…"
    room, start = width - 1, len(path)
    while start > 0 and get_character_cell_size(path[start - 1]) <= room:
        start -= 1
        room -= get_character_cell_size(path[start])
    return "…" + " " * room + path[start:]  # a wide character that no longer fits leaves one blank cell


class ResultsGrid(ScrollView, can_focus=True):
    """A virtual grid of :class:`ResultRow` for one :class:`ResultsQuery`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="grid.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="grid.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="grid.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="grid.page_down"),
        Binding("home", "first", "First", show=False, id="grid.first"),
        Binding("end", "last", "Last", show=False, id="grid.last"),
        Binding("space", "toggle_select", "Select", id="grid.toggle_select"),
        Binding("shift+down", "extend_down", "Select down", show=False, id="grid.extend_down"),
        Binding("shift+up", "extend_up", "Select up", show=False, id="grid.extend_up"),
        Binding(
            "shift+pagedown", "extend_page_down", "Select page down", show=False, id="grid.extend_page_down"
        ),
        Binding("shift+pageup", "extend_page_up", "Select page up", show=False, id="grid.extend_page_up"),
        Binding("shift+end", "extend_last", "Select to last", show=False, id="grid.extend_last"),
        Binding("shift+home", "extend_first", "Select to first", show=False, id="grid.extend_first"),
        Binding("a", "select_all", "All", id="grid.select_all"),
        Binding("A", "clear_selection", "Select none", show=False, id="grid.clear_selection"),
        Binding("enter", "open", "Details", id="grid.open"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "results-grid--header",
        "results-grid--cursor",
        "results-grid--selected",
        "results-grid--placeholder",
        "results-grid--healthy",
        "results-grid--warning",
        "results-grid--corrupted",
        "results-grid--unreadable",
        "results-grid--unsupported",
        "results-grid--pending",
        "results-grid--good",
        "results-grid--bitrot",
        "results-grid--bitrot-mark",
    }

    DEFAULT_CSS = """
    ResultsGrid {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
        & > .results-grid--header { text-style: bold; background: $panel; color: $foreground; }
        & > .results-grid--cursor { background: $block-cursor-blurred-background; }
        &:focus > .results-grid--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .results-grid--selected { background: $accent 30%; }
        & > .results-grid--placeholder { color: $text-disabled; }
        & > .results-grid--healthy { color: $text-success; }
        & > .results-grid--warning { color: $text-warning; }
        & > .results-grid--corrupted { color: $text-error; text-style: bold; }
        & > .results-grid--unreadable { color: $secondary; }
        & > .results-grid--unsupported { color: $text-muted; }
        & > .results-grid--pending { color: $text-muted; }
        & > .results-grid--good { color: $text-success; }
        /* A tint, not a text colour: the row's text stays readable in light and dark themes. */
        & > .results-grid--bitrot { background: $warning 15%; }
        & > .results-grid--bitrot-mark { color: $text-error; text-style: bold; }
    }
    """

    class CursorMoved(Message):
        """The cursor is on another row (``row`` is None while that row is still loading)."""

        def __init__(self, grid: ResultsGrid, index: int, row: ResultRow | None) -> None:
            super().__init__()
            self.grid = grid
            self.index = index
            self.row = row

    class RowOpened(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, grid: ResultsGrid, row: ResultRow) -> None:
            super().__init__()
            self.grid = grid
            self.row = row

    class Changed(Message):
        """The count, the query or the selection changed: time to update a status line."""

        def __init__(self, grid: ResultsGrid) -> None:
            super().__init__()
            self.grid = grid

    class _Loaded(Message):
        def __init__(self, request: _Request, rows: list[ResultRow] | None, count: int | None) -> None:
            super().__init__()
            self.request = request
            self.rows = rows
            self.count = count

    class _LoadFailed(Message):
        def __init__(self, request: _Request, error: str) -> None:
            super().__init__()
            self.request = request
            self.error = error

    def __init__(self, browser_factory: Any, query: ResultsQuery | None = None, **kwargs: Any) -> None:
        """``browser_factory(query) -> ResultsBrowser`` (usually ``partial(ResultsBrowser, db)``)."""
        super().__init__(**kwargs)
        self._browser_factory = browser_factory
        self.query_ = query or ResultsQuery()
        self._browser: ResultsBrowser = browser_factory(self.query_)
        self._generation = 0
        self._blocks: OrderedDict[int, list[ResultRow]] = OrderedDict()
        self._block_generation: dict[int, int] = {}
        self._pending: dict[int, _Request] = {}
        self._requests: list[_Request] = []
        self._cond = threading.Condition()
        self._stopping = False
        self.count: int | None = None
        self.cursor = 0
        self.error: str | None = None
        # Selection (see the module docstring): picked rows and exceptions as id -> position, ranges as
        # positions with the keys of their end rows (None until that row is loaded).
        self._selected: dict[int, int] = {}
        self._all_selected = False
        self._excluded: dict[int, int] = {}
        self._ranges: list[_Range] = []  # fixed ranges
        self._active: _Range | None = None  # the range the anchor and the cursor span now
        self._anchor: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.run_worker(self._reader, thread=True, name="results-reader", group="results-reader")
        self._start_generation(keep_rows=False)

    def on_unmount(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    # -- public API -----------------------------------------------------------------------------------------

    @property
    def query_text(self) -> str:
        return self.query_.describe()

    def set_query(self, query: ResultsQuery) -> None:
        """Show another query: rows, count and selection start over; the cursor goes to the top."""
        self.query_ = query
        self._browser = self._browser_factory(query)
        self.clear_selection()
        self.cursor = 0
        # Immediately: the first requests of the new query are computed from the scroll position.
        self.scroll_to(y=0, animate=False, immediate=True)
        self._start_generation(keep_rows=False)

    def reload(self) -> None:
        """Read the same query again (new or changed rows), keeping cursor, scroll and selection."""
        self._browser = self._browser_factory(self.query_)
        self._start_generation(keep_rows=True)

    @property
    def cursor_row(self) -> ResultRow | None:
        return self.row_at(self.cursor)

    def row_at(self, index: int) -> ResultRow | None:
        """The cached row at ``index``, or None when it is not loaded (or past the end)."""
        block = self._blocks.get(index // BLOCK)
        if block is None:
            return None
        i = index % BLOCK
        return block[i] if i < len(block) else None

    @property
    def selected_count(self) -> int | None:
        """How many rows are selected (None while an "all in filter" selection waits for the count)."""
        if self._all_selected:
            return None if self.count is None else max(0, self.count - len(self._excluded))
        spans = _covered(self._all_ranges())
        inside = self._in_spans
        n = sum(last - first + 1 for first, last in spans)
        n += sum(1 for index in self._selected.values() if not inside(index, spans))
        n -= sum(1 for index in self._excluded.values() if inside(index, spans))
        if self.count is not None:
            n = min(n, self.count)
        return max(0, n)

    @staticmethod
    def _in_spans(index: int, spans: list[tuple[int, int]]) -> bool:
        return any(first <= index <= last for first, last in spans)

    def _all_ranges(self) -> list[_Range]:
        return [*self._ranges, self._active] if self._active is not None else list(self._ranges)

    def selection(self) -> GridSelection:
        """The selection to act on, or the cursor row when nothing is selected (empty if none). Never queries:
        pass it to a worker and :meth:`GridSelection.resolve` it there."""
        if self._all_selected:
            return GridSelection(query=self.query_, excluded=frozenset(self._excluded))
        ranges = self._all_ranges()
        if ranges or self._selected:
            return GridSelection(
                browser=self._browser,
                ids=frozenset(self._selected),
                excluded=frozenset(self._excluded),
                ranges=tuple((r.first, r.first_key, r.last, r.last_key) for r in ranges),
            )
        row = self.cursor_row
        return GridSelection(ids=frozenset({row.id})) if row is not None else GridSelection()

    def is_selected(self, row: ResultRow, index: int | None = None) -> bool:
        """Whether ``row`` (at position ``index`` of the listing, when known) is selected."""
        if row.id in self._selected:
            return True
        if row.id in self._excluded:
            return False
        if self._all_selected:
            return True
        return index is not None and any(index in r for r in self._all_ranges())

    def clear_selection(self) -> None:
        self._selected.clear()
        self._excluded.clear()
        self._ranges.clear()
        self._active = None
        self._all_selected = False
        self._anchor = None
        self.refresh()
        self.post_message(self.Changed(self))

    # -- loading --------------------------------------------------------------------------------------------

    def _start_generation(self, keep_rows: bool) -> None:
        self._generation += 1
        self.error = None
        if not keep_rows:
            self._blocks.clear()
            self._block_generation.clear()
            self.count = None
            self._update_virtual_size()
        self._pending.clear()
        with self._cond:
            self._requests.clear()
        first = self.scroll_offset.y // BLOCK if keep_rows else 0
        self._request_block(first, prefer_start=not keep_rows)
        self._start_count()
        self.refresh()
        self.post_message(self.Changed(self))

    def _start_count(self) -> None:
        # Counting has its own thread: a slow count (a path search over millions of rows) never delays a page.
        request = _Request(self._generation, -1, "count")
        browser = self._browser

        def count() -> None:
            if request.generation != self._generation:
                return
            try:
                n = browser.count()
            except Exception as exc:
                self.post_message(
                    self._LoadFailed(request, str(exc).splitlines()[0] if str(exc) else repr(exc))
                )
                return
            self.post_message(self._Loaded(request, None, n))

        self.run_worker(count, thread=True, name="results-count", group="results-count", exit_on_error=False)

    def _enqueue(self, request: _Request) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify()

    def _request_block(self, block: int, prefer_start: bool = False) -> None:
        if block < 0 or block in self._pending:
            return
        if self._block_generation.get(block) == self._generation:
            return
        if self.count is not None and block * BLOCK >= self.count and block > 0:
            return
        gen = self._generation
        prev_block = self._blocks.get(block - 1)
        next_block = self._blocks.get(block + 1)
        if block == 0:
            request = _Request(gen, 0, "start")
        elif (
            prev_block is not None
            and self._block_generation.get(block - 1) == gen
            and len(prev_block) == BLOCK
        ):
            request = _Request(gen, block, "after", key=prev_block[-1].key)
        elif next_block is not None and self._block_generation.get(block + 1) == gen and next_block:
            request = _Request(gen, block, "before", key=next_block[0].key)
        elif self.count is not None and self.count - block * BLOCK <= 4 * BLOCK:
            request = _Request(gen, block, "tail", n_from_end=self.count - block * BLOCK)
        else:
            request = _Request(gen, block, "offset")
        self._pending[block] = request
        self._enqueue(request)

    def _reader(self) -> None:
        """The reader thread: serve the newest request of the current generation first."""
        worker = get_current_worker()
        while True:
            with self._cond:
                while not self._requests and not self._stopping and not worker.is_cancelled:
                    self._cond.wait(0.5)
                if self._stopping or worker.is_cancelled:
                    return
                request = self._next_request()
                # Requests of older generations are dropped unread.
                if request.generation != self._generation:
                    continue
                browser = self._browser
            try:
                rows = self._load(browser, request)
            except Exception as exc:  # a broken database must show as a message, not kill the reader
                self.post_message(
                    self._LoadFailed(request, str(exc).splitlines()[0] if str(exc) else repr(exc))
                )
                continue
            self.post_message(self._Loaded(request, rows, None))

    def _next_request(self) -> _Request:
        # The newest page first: it is what the user looks at now.
        return self._requests.pop()

    @staticmethod
    def _load(browser: ResultsBrowser, request: _Request) -> list[ResultRow]:
        if request.method == "start":
            return browser.page_after(None, BLOCK)
        if request.method == "after":
            return browser.page_after(request.key, BLOCK)
        if request.method == "before":
            return browser.page_before(request.key, BLOCK)
        if request.method == "tail":
            return browser.page_before(None, request.n_from_end)[:BLOCK]
        return browser.page_at(request.block * BLOCK, BLOCK)

    def on_results_grid__loaded(self, message: _Loaded) -> None:
        message.stop()
        request = message.request
        if request.generation != self._generation:
            return
        if message.count is not None:
            self.count = message.count
            self.cursor = min(self.cursor, max(0, self.count - 1))
            self._update_virtual_size()
            self.refresh()
            self.post_message(self.Changed(self))
            self._post_cursor()
            return
        self._pending.pop(request.block, None)
        rows = message.rows or []
        self._blocks[request.block] = rows
        self._blocks.move_to_end(request.block)
        self._block_generation[request.block] = request.generation
        self._fill_range_keys(request.block, rows)
        while len(self._blocks) > MAX_BLOCKS:
            old, _ = self._blocks.popitem(last=False)
            self._block_generation.pop(old, None)
        if self.count is None:
            self._update_virtual_size()
        self.refresh()
        if request.block == self.cursor // BLOCK:
            self._post_cursor()

    def on_results_grid__load_failed(self, message: _LoadFailed) -> None:
        message.stop()
        if message.request.generation != self._generation:
            return
        self._pending.pop(message.request.block, None)
        self.error = message.error
        self.refresh()
        self.post_message(self.Changed(self))

    def _update_virtual_size(self) -> None:
        if self.count is not None:
            rows = self.count
        else:
            rows = max((b * BLOCK + len(r) for b, r in self._blocks.items()), default=0)
        self.virtual_size = Size(self.size.width, rows + 1)  # + the header line

    # -- rendering ------------------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()

    @property
    def page_rows(self) -> int:
        """Data lines on screen (the header takes one)."""
        return max(1, self.size.height - 1)

    @property
    def line_width(self) -> int:
        """Cells per line, without the scrollbar."""
        return self.scrollable_content_region.width

    def _columns(self) -> list[tuple[str, int]]:
        path_width, problem_width = column_widths(self.line_width)
        columns = [*FIXED_COLUMNS, ("Path", path_width)]
        if problem_width:
            columns.append(("Problem", problem_width))
        return columns

    def render_line(self, y: int) -> Strip:
        width = self.line_width
        if y == 0:
            style = self.get_component_rich_style("results-grid--header")
            cells = [title.ljust(w)[:w] for title, w in self._columns()]
            cells[3] = cells[3].strip().rjust(FIXED_COLUMNS[3][1])
            text = " ".join(cells)
            arrow = "↓" if self.query_.descending else "↑"
            sort_title = {"path": "Path", "status": "Status", "date": "Scanned", "size": "Size"}[
                self.query_.sort
            ]
            # Every title is followed by at least one blank cell: the arrow takes it, nothing shifts.
            text = text.replace(sort_title + " ", sort_title + arrow, 1)
            return Strip([Segment(text[:width].ljust(width), style)], width)
        index = self.scroll_offset.y + y - 1
        base = self.rich_style
        if self.count is not None and index >= self.count:
            if index == 0 and self.count == 0:
                return self._message_line(self._empty_text(), width)
            return Strip.blank(width, base)
        if self.error is not None and index == self.scroll_offset.y:
            return self._message_line("Cannot read results: " + self.error, width)
        row = self.row_at(index)
        if row is None:
            self._request_visible()
            if (
                self.count is None
                and self._blocks
                and index >= max(b * BLOCK + len(r) for b, r in self._blocks.items())
            ):
                return Strip.blank(width, base)
            style = self.get_component_rich_style("results-grid--placeholder")
            return Strip([Segment("  loading…".ljust(width), style)], width)
        return self._row_strip(row, index, width)

    def _empty_text(self) -> str:
        q = self.query_
        if q == ResultsQuery().with_changes(
            sort=q.sort, descending=q.descending
        ):  # no filter: nothing at all
            return "No files scanned yet: s on the Dashboard (key 1) starts a scan."
        return "No files match: " + self.query_text

    def _message_line(self, text: str, width: int) -> Strip:
        style = self.get_component_rich_style("results-grid--placeholder")
        return Strip([Segment(("  " + text)[:width].ljust(width), style)], width)

    def _row_strip(self, row: ResultRow, index: int, width: int) -> Strip:
        columns = self._columns()
        selected = self.is_selected(row, index)
        base = self.rich_style
        if index == self.cursor:
            line_style = base + self.get_component_rich_style("results-grid--cursor")
        elif selected:
            line_style = base + self.get_component_rich_style("results-grid--selected")
        elif row.bitrot:
            line_style = base + self.get_component_rich_style("results-grid--bitrot")
        else:
            line_style = base
        status_style = line_style
        if index != self.cursor:
            status_style = line_style + self.get_component_rich_style(
                f"results-grid--{row.status}", partial=True
            )
        good_style = line_style + (
            self.get_component_rich_style("results-grid--good", partial=True)
            if index != self.cursor
            else Style()
        )
        bitrot_style = line_style + (
            self.get_component_rich_style("results-grid--bitrot-mark", partial=True)
            if index != self.cursor
            else Style()
        )
        date = row.scan_date.astimezone().strftime("%Y-%m-%d %H:%M") if row.scan_date else ""
        cells = [
            (SELECTED_MARK if selected else " ", line_style),
            (row.status[: columns[1][1]].ljust(columns[1][1]), status_style),
            ((row.family or "")[: columns[2][1]].ljust(columns[2][1]), line_style),
            (format_size(row.size).rjust(columns[3][1])[: columns[3][1]], line_style),
            (date.ljust(columns[4][1]), line_style),
            # The flag column holds two marks, each in its own colour: " ✓" then "≠ ".
            ((GOOD_MARK if row.marked_good else " ").rjust(2), good_style),
            ((BITROT_MARK if row.bitrot else " ").ljust(columns[5][1] - 2), bitrot_style),
            (fit_path(row.path, columns[6][1]), line_style),
        ]
        if len(columns) > 7:  # plain text: the status column already says how bad it is
            cells.append((fit_text(row.problem, columns[7][1]), line_style))
        segments: list[Segment] = []
        for i, (text, style) in enumerate(cells):
            if i and i != 6:  # the second half of the flag column joins the first
                segments.append(Segment(" ", line_style))
            segments.append(Segment(text, style))
        return Strip(segments).crop_extend(0, width, line_style)

    def _request_visible(self) -> None:
        top = self.scroll_offset.y
        first = top // BLOCK
        last = (top + self.page_rows) // BLOCK
        for block in range(first, last + 1):
            self._request_block(block)
        for block in (first - PREFETCH_BLOCKS, last + PREFETCH_BLOCKS):
            self._request_block(block)

    def on_idle(self) -> None:
        # Prefetch the neighbours once the screen is quiet.
        if self._blocks and not self._pending and self.count:
            self._request_visible()

    # -- cursor ---------------------------------------------------------------------------------------------

    def _post_cursor(self) -> None:
        self.post_message(self.CursorMoved(self, self.cursor, self.cursor_row))

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and scroll it into view, without animation."""
        limit = (self.count if self.count is not None else self.virtual_size.height - 1) - 1
        index = max(0, min(index, max(0, limit)))
        old = self.cursor
        self.cursor = index
        top = self.scroll_offset.y
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + self.page_rows:
            self.scroll_to(y=index - self.page_rows + 1, animate=False, immediate=True)
        self._refresh_index(old)
        self._refresh_index(index)
        self._request_visible()
        self._post_cursor()

    def _refresh_index(self, index: int) -> None:
        y = index - self.scroll_offset.y + 1
        if 1 <= y < self.size.height:
            self.refresh_line(y)

    def action_cursor_up(self) -> None:
        self._drop_anchor()
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._drop_anchor()
        self.move_cursor(self.cursor + 1)

    def action_page_down(self) -> None:
        self._drop_anchor()
        step = self.page_rows
        target = self.cursor + step
        self.scroll_to(y=self.scroll_offset.y + step, animate=False, immediate=True)
        self.move_cursor(target)
        self.refresh()

    def action_page_up(self) -> None:
        self._drop_anchor()
        step = self.page_rows
        target = self.cursor - step
        self.scroll_to(y=max(0, self.scroll_offset.y - step), animate=False, immediate=True)
        self.move_cursor(target)
        self.refresh()

    def action_first(self) -> None:
        self._drop_anchor()
        self.move_cursor(0)
        self.refresh()

    def action_last(self) -> None:
        if self.count is None:
            self.notify("Still counting the rows…", timeout=2)
            return
        self._drop_anchor()
        self.move_cursor(self.count - 1)
        self.refresh()

    def action_open(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowOpened(self, row))

    # -- selection ------------------------------------------------------------------------------------------

    def _drop_anchor(self) -> None:
        """A plain cursor move: the range being drawn stays selected, and the next one starts afresh."""
        if self._active is not None:
            self._ranges.append(self._active)
            self._active = None
        self._anchor = None

    def _set_selected(self, row: ResultRow, index: int, selected: bool) -> None:
        covered = self._all_selected or any(index in r for r in self._all_ranges())
        if selected:
            self._excluded.pop(row.id, None)
            if not covered:
                self._selected[row.id] = index
        else:
            self._selected.pop(row.id, None)
            if covered:
                self._excluded[row.id] = index

    def action_toggle_select(self) -> None:
        row = self.cursor_row
        if row is None:
            return
        self._set_selected(row, self.cursor, not self.is_selected(row, self.cursor))
        self._drop_anchor()
        self._anchor = self.cursor
        self._refresh_index(self.cursor)
        self.post_message(self.Changed(self))
        self.move_cursor(self.cursor + 1)

    def _extend_to(self, index: int) -> None:
        """Move the cursor to ``index`` and select from the anchor to it (the anchor row included)."""
        if self._anchor is None:
            self._drop_anchor()
            self._anchor = self.cursor
        self.move_cursor(index)
        self._span(self._anchor, self.cursor)

    def _span(self, a: int, b: int) -> None:
        first, last = min(a, b), max(a, b)
        head, tail = self.row_at(first), self.row_at(last)
        self._active = _Range(first, last, head.key if head else None, tail.key if tail else None)
        # Rows of the new range that were left out before are in it now.
        for id_, index in list(self._excluded.items()):
            if first <= index <= last and not self._all_selected:
                del self._excluded[id_]
        self.refresh()
        self.post_message(self.Changed(self))

    def _fill_range_keys(self, block: int, rows: list[ResultRow]) -> None:
        """Complete the end keys of ranges whose end rows just arrived."""
        start = block * BLOCK
        for r in self._all_ranges():
            if r.first_key is None and start <= r.first < start + len(rows):
                r.first_key = rows[r.first - start].key
            if r.last_key is None and start <= r.last < start + len(rows):
                r.last_key = rows[r.last - start].key

    def action_extend_down(self) -> None:
        self._extend_to(self.cursor + 1)

    def action_extend_up(self) -> None:
        self._extend_to(self.cursor - 1)

    def action_extend_page_down(self) -> None:
        self._extend_to(self.cursor + self.page_rows)

    def action_extend_page_up(self) -> None:
        self._extend_to(self.cursor - self.page_rows)

    def action_extend_first(self) -> None:
        self._extend_to(0)
        self.refresh()

    def action_extend_last(self) -> None:
        if self.count is None:
            self.notify("Still counting the rows…", timeout=2)
            return
        self._extend_to(self.count - 1)
        self.refresh()

    def action_select_all(self) -> None:
        self.clear_selection()
        self._all_selected = True
        self.refresh()
        self.post_message(self.Changed(self))

    def action_clear_selection(self) -> None:
        self.clear_selection()

    # -- mouse ----------------------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        y = event.y
        if y == 0:
            self._sort_by_column(event.x)
            return
        index = self.scroll_offset.y + y - 1
        if self.count is not None and index >= self.count:
            return
        if event.shift:
            self._extend_to(index)
            return
        if event.ctrl:
            row = self.row_at(index)
            if row is not None:
                self._set_selected(row, index, not self.is_selected(row, index))
                self.post_message(self.Changed(self))
        self._drop_anchor()
        self._anchor = index
        self.move_cursor(index)
        if event.chain == 2:
            self.action_open()

    def _sort_by_column(self, x: int) -> None:
        pos = 0
        names = {"Status": "status", "Size": "size", "Scanned": "date", "Path": "path"}
        for title, width in self._columns():
            if pos <= x < pos + width + 1 and title in names:
                sort = names[title]
                descending = not self.query_.descending if sort == self.query_.sort else False
                self.set_query(self.query_.with_changes(sort=sort, descending=descending))
                return
            pos += width + 1
