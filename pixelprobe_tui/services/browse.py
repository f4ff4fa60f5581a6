"""Read models for the TUI: keyset-paged results, dashboard totals, the live scan, reports, one file's details.

Everything here is plain SQLAlchemy over :class:`~pixelprobe_tui.db.engine.Database` and returns frozen
dataclasses, so it is safe to call from worker threads and never imports Textual.

Paging. The results grid asks for rows by their position in the filtered, sorted list. Scrolling asks for
the page right after (or before) a row it already has: a keyset query ``(sort value, id) > (v, k)`` that walks
the ``(column, id)`` index from the key, so its cost does not grow with the position. A jump (End, a click on
the scrollbar) asks for a position: one ``OFFSET`` query that reads only the index columns finds the key there,
and keyset paging goes on from it. Counting is a separate call the grid makes in the background.

Rows whose sort value is NULL (pending files have no scan date) come last in both directions, on both
databases: the list is the non-NULL segment ordered by ``(column, id)`` followed by the NULL segment ordered by
``id``. Each segment is one index range, so NULLs never force a sort.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import Exclusions, display_path, path_from_db, path_from_row
from pixelprobe_tui.core.verdict import Finding, IgnoreRules, Severity
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import (
    SCAN_RESULT_PATHS,
    Exclusion,
    IgnoredErrorPattern,
    LogEntry,
    ScanReport,
    ScanResult,
    ScanState,
    VerdictHistory,
    utcnow,
)
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.scan_lock import owner_alive

SortKey = Literal["path", "status", "date", "size"]
SORT_KEYS: tuple[SortKey, ...] = ("path", "status", "date", "size")
STATUSES = ("pending", "healthy", "warning", "corrupted", "unreadable", "unsupported")
FAMILIES = ("video", "audio", "image")

_SORT_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "path": ScanResult.__table__.c.file_path,
    "status": ScanResult.__table__.c.scan_status,
    "date": ScanResult.__table__.c.scan_date,
    "size": ScanResult.__table__.c.file_size,
}
_NULLABLE_SORTS = frozenset({"date", "size"})
# file_path is unique, so it orders rows on its own (and its index has no id column on PostgreSQL).
_UNIQUE_SORTS = frozenset({"path"})
_IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits

Key = tuple[Any, int]
"""Where a row sits in a listing: (its sort value, its id)."""


@dataclass(frozen=True)
class ResultsQuery:
    """What the results grid shows: filters (empty means "any") and the order."""

    statuses: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()
    path_text: str = ""
    marked_good: bool | None = None
    bitrot: bool = False  # only files flagged bitrot_suspected by a file-changes check
    date_from: dt.datetime | None = None  # scan_date >= date_from
    date_to: dt.datetime | None = None  # scan_date < date_to
    sort: SortKey = "path"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.sort not in _SORT_COLUMNS:
            raise ValueError(f"unknown sort key {self.sort!r} (one of {', '.join(SORT_KEYS)})")

    def with_changes(self, **changes: Any) -> ResultsQuery:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def conditions(self, dialect: str = "") -> list[sa.ColumnElement[bool]]:
        """The WHERE conditions of the filters. The path search matches the whole path (a long path's
        ``file_path_full``, not its key) case-insensitively (for ASCII on SQLite, whose LIKE already is: no
        lower() on every row there). On PostgreSQL (``dialect="postgresql"``) it is ``file_path ILIKE`` over
        ``scan_result_paths``, the side table of revisions 0004 and 0006 whose pg_trgm index serves it when the
        server has the extension; any other ``dialect`` gets the portable ILIKE on scan_results itself."""
        c = ScanResult.__table__.c
        whole_path = sa.func.coalesce(c.file_path_full, c.file_path)
        out: list[sa.ColumnElement[bool]] = []
        if self.statuses:
            out.append(c.scan_status.in_(sorted(self.statuses)))
        if self.families:
            out.append(c.media_family.in_(sorted(self.families)))
        if self.path_text:
            if dialect == "sqlite":
                # file_path alone is in the index the search walks; file_path_full is read only for the
                # few rows that have one (listed by revision 0007's partial index).
                long = ScanResult.__table__.alias("long_paths").c
                long_matches = sa.select(long.id).where(
                    long.file_path_full.is_not(None),
                    long.file_path_full.contains(self.path_text, autoescape=True),
                )
                out.append(
                    sa.or_(c.file_path.contains(self.path_text, autoescape=True), c.id.in_(long_matches))
                )
            elif dialect == "postgresql":
                paths = SCAN_RESULT_PATHS.c
                matching = sa.select(paths.id).where(
                    paths.file_path.icontains(self.path_text, autoescape=True)
                )
                out.append(c.id.in_(matching))
            else:
                out.append(whole_path.icontains(self.path_text, autoescape=True))
        if self.marked_good is not None:
            out.append(c.marked_as_good == (sa.true() if self.marked_good else sa.false()))
        if self.bitrot:
            out.append(c.bitrot_suspected == sa.true())
        if self.date_from is not None:
            out.append(c.scan_date >= self.date_from)
        if self.date_to is not None:
            out.append(c.scan_date < self.date_to)
        return out

    def describe(self) -> str:
        """A short human summary of the filters, for titles and status lines."""
        parts = []
        if self.statuses:
            parts.append("status " + "|".join(s for s in STATUSES if s in self.statuses))
        if self.families:
            parts.append("type " + "|".join(f for f in FAMILIES if f in self.families))
        if self.path_text:
            parts.append(f"path ~ {self.path_text!r}")
        if self.marked_good is not None:
            parts.append("marked good" if self.marked_good else "not marked good")
        if self.bitrot:
            parts.append("bitrot suspected")
        if self.date_from is not None:
            parts.append(f"since {self.date_from:%Y-%m-%d}")
        if self.date_to is not None:
            parts.append(f"before {self.date_to:%Y-%m-%d}")
        return ", ".join(parts) or "all files"


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One line of the results grid."""

    id: int
    path: str  # printable (display_path of the stored path)
    status: str
    family: str | None
    size: int | None
    scan_date: dt.datetime | None
    marked_good: bool
    sort_value: Any
    bitrot: bool = False  # bitrot_suspected: the content changed while size and mtime did not
    problem: str = ""  # non-healthy rows: the error or the worst finding, one line (see PROBLEM_CHARS)

    @property
    def key(self) -> Key:
        return (self.sort_value, self.id)


PROBLEM_CHARS = 200
"""How much of a row's problem text a page reads: the grid shows one line of it, and the stored details of a
file can be many kilobytes."""
_NO_PROBLEM = ("healthy", "pending")


PROBLEM_FINDINGS_CHARS = 4000  # of the findings JSON, for rows without those texts (a few findings' worth)


def _problem_columns() -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """What is wrong with a row, in SQL, as two columns: ``problem``, the start of the error message of an
    unreadable or unsupported file, else of the corruption details, else of the warnings (the scan writes
    each worst finding first); and ``problem_findings``, the start of the findings JSON, only for a row that
    has none of those texts (rows written by other tools). Both NULL for healthy and pending rows. Truncated
    in the database, so a page never carries long details."""
    c = ScanResult.__table__.c
    text = sa.func.coalesce(c.error_message, c.corruption_details, c.warning_details)
    ok = c.scan_status.in_(_NO_PROBLEM)
    problem = sa.case((ok, sa.null()), else_=sa.func.substr(text, 1, PROBLEM_CHARS))
    findings = sa.case(
        (sa.or_(ok, text.is_not(None)), sa.null()),
        else_=sa.func.substr(c.findings, 1, PROBLEM_FINDINGS_CHARS),
    )
    return problem.label("problem"), findings.label("problem_findings")


_TOOL_PREFIX = re.compile(r"\[[^\]\s]{1,40}\] ")  # "[structure:png] ", as Finding.describe() starts


_SEVERITY_RANK = {"info": 0, "warning": 1, "unsupported": 2, "corrupt": 3, "unreadable": 4}  # as verdict.py
_FIRST_MESSAGE = re.compile(r'"message":\s*"((?:[^"\\]|\\.)*)"')


def worst_finding_message(findings_json: str | None) -> str:
    """The message of the worst active finding in a stored findings list (the first of equals), or of the
    first finding when the text was cut short (see PROBLEM_FINDINGS_CHARS); "" when there is none."""
    if not findings_json:
        return ""
    try:
        items = json.loads(findings_json)
    except ValueError:
        match = _FIRST_MESSAGE.search(findings_json)
        if match is None:
            return ""
        try:
            return str(json.loads(f'"{match.group(1)}"'))
        except ValueError:
            return match.group(1)
    best: tuple[int, str] | None = None
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or item.get("ignored") or not item.get("message"):
            continue
        rank = _SEVERITY_RANK.get(str(item.get("severity")), 0)
        if rank and (best is None or rank > best[0]):
            best = (rank, str(item["message"]))
    return best[1] if best else ""


def problem_line(text: str | None) -> str:
    """A problem text as one printable line: its first non-empty line without the ``[tool]`` prefix that
    ``Finding.describe`` puts first (the grid is narrow; the details screen names the tool), control characters
    escaped."""
    if not text:
        return ""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    match = _TOOL_PREFIX.match(first)
    if match and match.end() < len(first):
        first = first[match.end() :]
    return display_path(first)


_ROW_COLUMNS = (
    ScanResult.__table__.c.id,
    ScanResult.__table__.c.file_path,
    ScanResult.__table__.c.file_path_full,
    ScanResult.__table__.c.scan_status,
    ScanResult.__table__.c.media_family,
    ScanResult.__table__.c.file_size,
    ScanResult.__table__.c.scan_date,
    ScanResult.__table__.c.marked_as_good,
    ScanResult.__table__.c.bitrot_suspected,
    *_problem_columns(),
)


class ResultsBrowser:
    """Pages of one :class:`ResultsQuery` (see the module docstring). Thread-safe: each call opens its own
    connection from the pool."""

    def __init__(self, db: Database, query: ResultsQuery | None = None):
        self.db = db
        self.query = query or ResultsQuery()
        self._col = _SORT_COLUMNS[self.query.sort]
        self._nullable = self.query.sort in _NULLABLE_SORTS
        self._unique = self.query.sort in _UNIQUE_SORTS
        self._where = self.query.conditions(db.dialect)
        self._non_null_count: int | None = None

    # -- counting -------------------------------------------------------------------------------------------

    def count(self) -> int:
        """How many rows the filters match (a full count: call it from a worker)."""
        stmt = sa.select(sa.func.count()).select_from(ScanResult.__table__).where(*self._where)
        with self.db.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def _count_non_null(self) -> int:
        if self._non_null_count is None:
            stmt = (
                sa.select(sa.func.count())
                .select_from(ScanResult.__table__)
                .where(*self._where, self._col.is_not(None))
            )
            with self.db.engine.connect() as conn:
                self._non_null_count = int(conn.execute(stmt).scalar_one())
        return self._non_null_count

    # -- paging ---------------------------------------------------------------------------------------------

    def page_after(self, key: Key | None, n: int) -> list[ResultRow]:
        """Up to ``n`` rows right after ``key`` in display order (from the first row when ``key`` is None)."""
        if n <= 0:
            return []
        with self.db.engine.connect() as conn:
            if key is None or not self._in_null_segment(key):
                rows = self._fetch(conn, False, key, n, forward=True)
                if self._nullable and len(rows) < n:
                    rows += self._fetch(conn, True, None, n - len(rows), forward=True)
                return rows
            return self._fetch(conn, True, key, n, forward=True)

    def page_before(self, key: Key | None, n: int) -> list[ResultRow]:
        """Up to ``n`` rows right before ``key``, in display order (the last rows when ``key`` is None)."""
        if n <= 0:
            return []
        with self.db.engine.connect() as conn:
            rows: list[ResultRow] = []
            if self._nullable and (key is None or self._in_null_segment(key)):
                rows = self._fetch(conn, True, key, n, forward=False)
                if len(rows) < n:
                    rows += self._fetch(conn, False, None, n - len(rows), forward=False)
            else:
                rows = self._fetch(conn, False, key, n, forward=False)
        rows.reverse()
        return rows

    def key_at(self, offset: int) -> Key | None:
        """The key of the row at ``offset`` (0-based), or None past the end. One OFFSET query over the index
        columns only; the rows with a NULL sort value (which come last) are counted only when ``offset`` is
        past the others, so a jump costs no full count."""
        if offset < 0:
            return None
        c = ScanResult.__table__.c
        known = self._non_null_count
        if not self._nullable or known is None or offset < known:
            stmt = sa.select(self._col, c.id).where(*self._where)
            if self._nullable:
                stmt = stmt.where(self._col.is_not(None))
            stmt = stmt.order_by(*self._order(forward=True)).offset(offset).limit(1)
            with self.db.engine.connect() as conn:
                row = conn.execute(stmt).first()
            if row is not None or not self._nullable:
                return None if row is None else (row[0], int(row[1]))
        segment_offset = max(0, offset - self._count_non_null())  # rows may have changed in between
        stmt = sa.select(sa.null(), c.id).where(*self._where, self._col.is_(None))
        stmt = stmt.order_by(c.id.desc() if self.query.descending else c.id)
        stmt = stmt.offset(segment_offset).limit(1)
        with self.db.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else (row[0], int(row[1]))

    def page_at(self, offset: int, n: int) -> list[ResultRow]:
        """Up to ``n`` rows starting at position ``offset``: :meth:`key_at` then keyset paging."""
        if offset <= 0:
            return self.page_after(None, n)
        key = self.key_at(offset - 1)
        if key is None:
            return []
        return self.page_after(key, n)

    def ids(self, limit: int | None = None) -> list[int]:
        """The ids of every matching row (in id order), for acting on "all in filter"."""
        stmt = sa.select(ScanResult.__table__.c.id).where(*self._where).order_by(ScanResult.__table__.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(stmt)]

    # -- internals ------------------------------------------------------------------------------------------

    def _in_null_segment(self, key: Key) -> bool:
        return self._nullable and key[0] is None

    def _non_null_segment(self) -> sa.Select[Any]:
        stmt = sa.select(*_ROW_COLUMNS, self._col.label("sort_value")).where(*self._where)
        if self._nullable:
            stmt = stmt.where(self._col.is_not(None))
        return stmt

    def _null_segment(self) -> sa.Select[Any]:
        return sa.select(*_ROW_COLUMNS, sa.null().label("sort_value")).where(
            *self._where, self._col.is_(None)
        )

    def _order(self, forward: bool, null_segment: bool = False) -> list[sa.ColumnElement[Any]]:
        # Display order is ascending unless the query says descending; "backward" reverses it.
        ascending = forward != self.query.descending
        id_col = ScanResult.__table__.c.id
        cols = [id_col] if null_segment else ([self._col] if self._unique else [self._col, id_col])
        return [col.asc() if ascending else col.desc() for col in cols]

    def _fetch(
        self, conn: sa.Connection, null_segment: bool, key: Key | None, n: int, *, forward: bool
    ) -> list[ResultRow]:
        stmt = self._null_segment() if null_segment else self._non_null_segment()
        if key is not None:
            ascending = forward != self.query.descending
            id_col = ScanResult.__table__.c.id
            if null_segment:
                stmt = stmt.where(id_col > key[1] if ascending else id_col < key[1])
            elif self._unique:
                value = sa.bindparam(None, key[0], type_=self._col.type)
                stmt = stmt.where(self._col > value if ascending else self._col < value)
            else:
                left = sa.tuple_(self._col, id_col)
                right = sa.tuple_(
                    sa.bindparam(None, key[0], type_=self._col.type),
                    sa.bindparam(None, key[1], type_=sa.Integer),
                )
                stmt = stmt.where(left > right if ascending else left < right)
        stmt = stmt.order_by(*self._order(forward, null_segment)).limit(n)
        return [_row(r) for r in conn.execute(stmt)]


def _row(r: sa.Row[Any]) -> ResultRow:
    return ResultRow(
        id=int(r.id),
        path=display_path(path_from_row(r.file_path, r.file_path_full)),
        status=r.scan_status,
        family=r.media_family,
        size=r.file_size,
        scan_date=r.scan_date,
        marked_good=bool(r.marked_as_good),
        sort_value=r.sort_value,
        bitrot=bool(r.bitrot_suspected),
        problem=problem_line(r.problem or worst_finding_message(r.problem_findings)),
    )


# -- acting on a selection -------------------------------------------------------------------------------------


def _stretch(query: ResultsQuery, first: Key, last: Key, dialect: str = "") -> sa.ColumnElement[bool]:
    """The rows from ``first`` to ``last`` (both included) in the display order of ``query``: the
    non-NULL segment by (value, id), then the NULL segment by id, each reversed when descending (see the
    module docstring). Written as one index range per segment it touches, never an OR with an open side,
    so the database walks the ``(column, id)`` index from one key to the other, whatever the positions."""
    c = ScanResult.__table__.c
    col = _SORT_COLUMNS[query.sort]
    nullable = query.sort in _NULLABLE_SORTS
    ascending = not query.descending
    first_null, last_null = nullable and first[0] is None, nullable and last[0] is None
    if first_null and not last_null:  # given the wrong way round: the NULL segment comes last
        first, last, first_null, last_null = last, first, last_null, first_null

    def valued(lo: Key, hi: Key | None) -> sa.ColumnElement[bool]:
        """The non-NULL rows from ``lo`` to ``hi`` (display order; None: to the end of the segment)."""
        parts: list[sa.ColumnElement[bool]] = [col.is_not(None)] if nullable else []

        def value(key: Key) -> Any:
            return sa.bindparam(None, key[0], type_=col.type)

        if query.sort in _UNIQUE_SORTS:
            for key, from_below in ((lo, ascending), (hi, not ascending)):
                if key is not None:
                    parts.append(col >= value(key) if from_below else col <= value(key))
            return sa.and_(*parts)
        if hi is None:
            left, right = (
                sa.tuple_(col, c.id),
                sa.tuple_(value(lo), sa.bindparam(None, lo[1], type_=sa.Integer)),
            )
            return sa.and_(*parts, left >= right if ascending else left <= right)
        low, high = (lo, hi) if ascending else (hi, lo)  # in index order
        if low[0] == high[0]:  # ties (one status): one value, an id range
            return sa.and_(*parts, col == value(low), c.id.between(low[1], high[1]))
        if dialect != "sqlite":  # PostgreSQL walks a (column, id) index between two row values
            left = sa.tuple_(col, c.id)
            return sa.and_(
                *parts,
                left >= sa.tuple_(value(low), sa.bindparam(None, low[1], type_=sa.Integer)),
                left <= sa.tuple_(value(high), sa.bindparam(None, high[1], type_=sa.Integer)),
            )
        # SQLite bounds the index walk of a row-value range by the column alone, reading every tie of the
        # end values (every "healthy" row): spelled per column value, each part is an exact index range.
        return sa.and_(
            *parts,
            sa.or_(
                sa.and_(col == value(low), c.id >= low[1]),
                sa.and_(col > value(low), col < value(high)),
                sa.and_(col == value(high), c.id <= high[1]),
            ),
        )

    def unvalued(lo_id: int | None, hi_id: int) -> sa.ColumnElement[bool]:
        parts = [col.is_(None), c.id <= hi_id if ascending else c.id >= hi_id]
        if lo_id is not None:
            parts.append(c.id >= lo_id if ascending else c.id <= lo_id)
        return sa.and_(*parts)

    if not last_null:
        return valued(first, last)
    if first_null:
        return unvalued(first[1], last[1])
    return sa.or_(valued(first, None), unvalued(None, last[1]))


@dataclass(frozen=True)
class Selection:
    """Rows to act on, as conditions rather than lists, so that "all in filter" or a shift-range over a
    million rows costs the same as one row:

    - ``query``: every row the query matches ("all in filter");
    - ``ranges``: stretches of the listing of ``within`` (its filters and order), each given by its first
      and last row's keys, both included (shift-selection);
    - ``ids``: rows picked one by one;

    minus ``excluded`` (which applies to ``query`` and ``ranges``, not to ``ids``). Empty matches nothing.
    """

    ids: frozenset[int] = frozenset()
    query: ResultsQuery | None = None
    excluded: frozenset[int] = frozenset()
    ranges: tuple[tuple[Key, Key], ...] = ()
    within: ResultsQuery | None = None

    def __post_init__(self) -> None:
        if self.ranges and self.within is None:
            raise ValueError("ranges need the query they are ranges of (within=)")

    @property
    def is_empty(self) -> bool:
        return not self.ids and self.query is None and not self.ranges

    def where_clauses(self, dialect: str = "") -> list[list[sa.ColumnElement[bool]]]:
        """WHERE conditions, one list per statement; the selection is the union of what they match (they
        may overlap). Explicit ids come in chunks that keep each statement under the parameter limits."""
        c = ScanResult.__table__.c
        excluded = [c.id.not_in(sorted(self.excluded))] if self.excluded else []
        out: list[list[sa.ColumnElement[bool]]] = []
        if self.query is not None:
            out.append([*self.query.conditions(dialect), *excluded])
        if self.within is not None:
            within = self.within.conditions(dialect)
            out += [[*within, _stretch(self.within, *ends, dialect), *excluded] for ends in self.ranges]
        out += [[c.id.in_(chunk)] for chunk in _chunks(self.ids)]
        return out


def _chunks(ids: Collection[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), _IN_CHUNK):
        yield ordered[i : i + _IN_CHUNK]


def count_selected(db: Database, selection: Selection) -> int:
    """How many rows a selection holds (a row matched by more than one of its parts counts once)."""
    c = ScanResult.__table__.c
    broad = Selection(query=selection.query, excluded=selection.excluded, ranges=selection.ranges,
                      within=selection.within).where_clauses(db.dialect)  # fmt: skip
    matched_broadly = sa.or_(*(sa.and_(*where) for where in broad)) if broad else sa.false()
    total = 0
    with db.engine.connect() as conn:
        if broad:
            total += conn.execute(sa.select(sa.func.count()).where(matched_broadly)).scalar_one()
        for chunk in _chunks(selection.ids):  # the picked rows the other parts did not already count
            # coalesce: a filter on a NULL column is NULL, not false, and NOT NULL would drop the row.
            stmt = sa.select(sa.func.count()).where(
                c.id.in_(chunk), sa.not_(sa.func.coalesce(matched_broadly, sa.false()))
            )
            total += conn.execute(stmt).scalar_one()
    return int(total)


def selected_ids(db: Database, selection: Selection, limit: int) -> list[int]:
    """The ids of a selection in id order, at most ``limit`` of them (ValueError past it: the caller says
    what to do instead)."""
    c = ScanResult.__table__.c
    seen: set[int] = set()
    with db.engine.connect() as conn:
        for where in selection.where_clauses(db.dialect):
            stmt = sa.select(c.id).where(*where).order_by(c.id).limit(limit + 1)
            seen.update(int(i) for i in conn.execute(stmt).scalars())
            if len(seen) > limit:
                raise ValueError(f"more than {limit:,} rows selected")
    return sorted(seen)


def set_marked_good(
    db: Database, selection: Selection, marked: bool, user: str | None, now: dt.datetime | None = None
) -> int:
    """Mark the selected files good (storing who, when, and the content hash the mark is for) or clear the
    mark. The verdict itself is never changed. Returns how many rows changed, in one transaction."""
    c = ScanResult.__table__.c
    if marked:
        values: dict[str, Any] = {
            "marked_as_good": True,
            "marked_as_good_at": now or utcnow(),
            "marked_as_good_by": user,
            "marked_as_good_hash": c.file_hash,
        }
    else:
        values = {
            "marked_as_good": False,
            "marked_as_good_at": None,
            "marked_as_good_by": None,
            "marked_as_good_hash": None,
        }
    changed = 0
    # Rows already in the wanted state are left alone: "changed" counts what the action did, a row matched
    # by two parts of the selection changes once, and on PostgreSQL (where every changed row is a new row
    # version entered in every index) no work is spent on rows that need none.
    state = c.marked_as_good == (sa.false() if marked else sa.true())
    with db.engine.begin() as conn:
        for where in selection.where_clauses(db.dialect):
            stmt = sa.update(ScanResult).where(*where, state).values(**values)
            changed += conn.execute(stmt).rowcount or 0
    return changed


def selected_paths(db: Database, selection: Selection, limit: int = 100_000) -> list[str]:
    """The file paths (as stored, decoded back to file-system strings) of a selection, in path order, at
    most ``limit`` of them (the first ones by path)."""
    c = ScanResult.__table__.c
    found: set[str] = set()
    with db.engine.connect() as conn:
        for where in selection.where_clauses(db.dialect):
            stmt = sa.select(c.file_path, c.file_path_full).where(*where).order_by(c.file_path).limit(limit)
            found.update((r.file_path, r.file_path_full) for r in conn.execute(stmt))
    # A long path's key sorts as its beginning would: the order is by stored path either way.
    return [path_from_row(key, full) for key, full in sorted(found, key=lambda r: r[0])[:limit]]


# -- one file ---------------------------------------------------------------------------------------------------


HISTORY_LIMIT = 20  # earlier verdicts shown with a file


@dataclass(frozen=True, slots=True)
class VerdictChange:
    """One ``verdict_history`` row: a verdict a scan stored that differed from the one before it."""

    checked_at: dt.datetime
    scan_status: str
    summary: str | None
    file_hash: str | None
    deep_scanned: bool


@dataclass(frozen=True)
class ResultDetail:
    """Everything stored about one file, with the JSON columns parsed."""

    id: int
    path: str  # printable
    raw_path: str  # the file-system path (for copying and rescans)
    fields: dict[str, Any]  # every column, by name
    findings: tuple[Finding, ...]
    media_info: Any  # parsed JSON when it is JSON, else the text (or None)
    history: tuple[VerdictChange, ...] = ()  # newest first, at most HISTORY_LIMIT


def result_detail(db: Database, result_id: int) -> ResultDetail | None:
    """The stored row of one file with its latest verdict changes, or None when it is gone."""
    table = ScanResult.__table__
    h = VerdictHistory.__table__.c
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == result_id)).mappings().first()
        if row is None:
            return None
        history = tuple(
            VerdictChange(
                checked_at=r.checked_at,
                scan_status=r.scan_status,
                summary=r.summary,
                file_hash=r.file_hash,
                deep_scanned=bool(r.deep_scanned),
            )
            for r in conn.execute(
                sa.select(h.checked_at, h.scan_status, h.summary, h.file_hash, h.deep_scanned)
                .where(h.result_id == result_id)
                .order_by(h.checked_at.desc(), h.id.desc())
                .limit(HISTORY_LIMIT)
            )
        )
    fields = dict(row)
    findings: list[Finding] = []
    if fields.get("findings"):
        try:
            for item in json.loads(fields["findings"]):
                try:
                    findings.append(Finding.from_dict(item))
                except (KeyError, ValueError, TypeError):
                    continue  # one malformed entry must not hide the others
        except (ValueError, TypeError):
            pass
    media: Any = fields.get("media_info")
    if isinstance(media, str):
        with contextlib.suppress(ValueError):
            media = json.loads(media)
    raw = path_from_row(fields["file_path"], fields.get("file_path_full"))
    return ResultDetail(
        id=int(fields["id"]),
        path=display_path(raw),
        raw_path=raw,
        fields=fields,
        findings=tuple(findings),
        media_info=media,
        history=history,
    )


# -- dashboard --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """Counts over every stored file."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    marked_good: int = 0
    missing: int = 0
    bitrot: int = 0  # flagged bitrot_suspected
    # family ("video", "audio", "image", "other") -> status -> count
    by_family: dict[str, dict[str, int]] = field(default_factory=dict)

    def status(self, name: str) -> int:
        return self.by_status.get(name, 0)


def totals(db: Database) -> Totals:
    """Totals by verdict, by media type and verdict, marked good, missing files and suspected bitrot: one
    grouped query, so the table is read once (on 1,000,000 rows each read costs about 0.1 s)."""
    c = ScanResult.__table__.c

    def flagged(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    stmt = sa.select(
        c.media_family,
        c.scan_status,
        sa.func.count(),
        flagged(c.marked_as_good == sa.true()),
        flagged(c.file_exists == sa.false()),
        flagged(c.bitrot_suspected == sa.true()),
    ).group_by(c.media_family, c.scan_status)
    with db.engine.connect() as conn:
        grouped = conn.execute(stmt).all()
    by_status: dict[str, int] = {}
    by_family: dict[str, dict[str, int]] = {}
    total = marked_good = missing = bitrot = 0
    for family, status, n, marked_n, missing_n, bitrot_n in grouped:
        n = int(n)
        total += n
        marked_good += int(marked_n)
        missing += int(missing_n)
        bitrot += int(bitrot_n)
        by_status[status] = by_status.get(status, 0) + n
        fam = by_family.setdefault(family or "other", {})
        fam[status] = fam.get(status, 0) + n
    return Totals(
        total=total,
        by_status=by_status,
        marked_good=marked_good,
        missing=missing,
        bitrot=bitrot,
        by_family=by_family,
    )


@dataclass(frozen=True)
class ReportRow:
    """One finished run, for the dashboard and the reports screen."""

    id: int
    scan_id: str | None
    scan_type: str
    status: str
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    duration_s: float | None
    total_files: int
    healthy: int
    warning: int
    corrupted: int
    errors: int
    directories: Any
    error_message: str | None
    details: Any


def recent_reports(db: Database, limit: int = 10, offset: int = 0) -> list[ReportRow]:
    """The newest scan reports first."""
    t = ScanReport.__table__
    stmt = sa.select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).offset(offset).limit(limit)
    with db.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        ReportRow(
            id=int(r["id"]),
            scan_id=str(r["scan_id"]) if r["scan_id"] is not None else None,
            scan_type=r["scan_type"],
            status=r["status"],
            start_time=r["start_time"],
            end_time=r["end_time"],
            duration_s=r["duration_seconds"],
            total_files=int(r["total_files"] or 0),
            healthy=int(r["healthy_files"] or 0),
            warning=int(r["warning_files"] or 0),
            corrupted=int(r["corrupted_files"] or 0),
            errors=int(r["error_files"] or 0),
            directories=r["directories_scanned"],
            error_message=r["error_message"],
            details=r["details"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class LiveScan:
    """A running scan as its ScanState row tells it (also when another process runs it)."""

    id: str
    phase: str
    phase_number: int
    total_phases: int
    files_processed: int
    total_files: int
    bytes_processed: int
    bytes_total: int
    start_time: dt.datetime | None
    heartbeat_at: dt.datetime | None
    current_files: tuple[str, ...]
    directories: tuple[str, ...]
    deep: bool
    force: bool
    cancel_requested: bool
    owner: str | None

    @property
    def fraction(self) -> float | None:
        """Progress of the checking phase in 0..1 (bytes when known, else files), None before totals."""
        if self.bytes_total > 0:
            return min(1.0, self.bytes_processed / self.bytes_total)
        if self.total_files > 0:
            return min(1.0, self.files_processed / self.total_files)
        return None

    def elapsed_s(self, now: dt.datetime | None = None) -> float | None:
        if self.start_time is None:
            return None
        return max(0.0, ((now or utcnow()) - self.start_time).total_seconds())


def _json_strings(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        return (display_path(path_from_db(text)),)
    if isinstance(value, list):
        return tuple(display_path(path_from_db(str(v))) for v in value if v)
    return (display_path(path_from_db(str(value))),)


def live_scan(db: Database) -> LiveScan | None:
    """The newest scan that is running now (status "running" and its owner alive), or None.

    Rows left "running" by a process that died are not live (the next scan start closes them).
    """
    t = ScanState.__table__
    stmt = (
        sa.select(t)
        .where(t.c.status == "running")
        .order_by(t.c.start_time.desc().nulls_last() if db.dialect == "postgresql" else t.c.start_time.desc())
        .limit(10)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    r = next((r for r in rows if owner_alive(r["owner"], r["heartbeat_at"])), None)
    if r is None:
        return None
    return LiveScan(
        id=str(r["id"]),
        phase=r["phase"],
        phase_number=int(r["phase_number"] or 0),
        total_phases=int(r["total_phases"] or 0),
        files_processed=int(r["files_processed"] or 0),
        total_files=int(r["total_files"] or 0),
        bytes_processed=int(r["bytes_processed"] or 0),
        bytes_total=int(r["bytes_total"] or 0),
        start_time=r["start_time"],
        heartbeat_at=r["heartbeat_at"],
        current_files=_json_strings(r["current_files"]),
        directories=_json_strings(r["directories"]),
        deep=bool(r["deep_scan"]),
        force=bool(r["force_rescan"]),
        cancel_requested=bool(r["cancel_requested"]),
        owner=r["owner"],
    )


# -- logs -------------------------------------------------------------------------------------------------------

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    timestamp: dt.datetime
    level: str
    logger: str | None
    message: str
    scan_id: str | None
    traceback: str | None


def log_entries(
    db: Database,
    *,
    min_level: str = "DEBUG",
    scan_id: str | None = None,
    text: str = "",
    after_id: int | None = None,
    limit: int = 1000,
) -> list[LogRow]:
    """Log entries at ``min_level`` or above, of one scan, containing ``text``, oldest first.

    Without ``after_id``: the newest ``limit`` entries. With it (follow mode): the next ``limit`` entries after
    that id.
    """
    t = LogEntry.__table__
    levels = (
        LOG_LEVELS[LOG_LEVELS.index(min_level.upper()) :] if min_level.upper() in LOG_LEVELS else LOG_LEVELS
    )
    stmt = sa.select(t)
    if min_level.upper() != "DEBUG":
        stmt = stmt.where(t.c.level.in_(levels))
    if scan_id:
        stmt = stmt.where(t.c.scan_id == scan_id)
    if text:
        stmt = stmt.where(t.c.message.icontains(text, autoescape=True))
    if after_id is not None:
        stmt = stmt.where(t.c.id > after_id).order_by(t.c.id).limit(limit)
    else:
        stmt = stmt.order_by(t.c.id.desc()).limit(limit)
    with db.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    out = [
        LogRow(
            id=int(r["id"]),
            timestamp=r["timestamp"],
            level=r["level"],
            logger=r["logger_name"],
            message=r["message"],
            scan_id=r["scan_id"],
            traceback=r["traceback"],
        )
        for r in rows
    ]
    if after_id is None:
        out.reverse()
    return out


# -- rules: exclusions and ignored error patterns ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExclusionRow:
    id: int
    type: str  # "path" | "extension"
    value: str


@dataclass(frozen=True, slots=True)
class PatternRow:
    id: int
    pattern: str
    description: str | None
    active: bool


def list_exclusions(db: Database) -> list[ExclusionRow]:
    t = cast(sa.Table, Exclusion.__table__)
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.type, t.c.value).order_by(t.c.type, t.c.value)).all()
    return [ExclusionRow(int(r.id), r.type, r.value) for r in rows]


def add_exclusion(db: Database, kind: str, value: str) -> ExclusionRow:
    """Store an exclusion rule after checking it the way discovery will read it; ConfigError when it is
    invalid or already there."""
    kind, value = kind.strip().lower(), value.strip()
    try:
        Exclusions([(kind, value)])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    t = cast(sa.Table, Exclusion.__table__)
    with db.engine.begin() as conn:
        if conn.execute(sa.select(t.c.id).where(t.c.type == kind, t.c.value == value)).first() is not None:
            raise ConfigError(f"{kind} {value!r} is already excluded")
        new_id = conn.execute(
            sa.insert(t).values(type=kind, value=value, created_at=utcnow())
        ).inserted_primary_key
    return ExclusionRow(int(new_id[0]), kind, value)  # type: ignore[index]


def remove_exclusion(db: Database, exclusion_id: int) -> bool:
    t = cast(sa.Table, Exclusion.__table__)
    with db.engine.begin() as conn:
        return bool(conn.execute(sa.delete(t).where(t.c.id == exclusion_id)).rowcount)


def list_ignore_patterns(db: Database) -> list[PatternRow]:
    t = cast(sa.Table, IgnoredErrorPattern.__table__)
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.id, t.c.pattern, t.c.description, t.c.is_active).order_by(t.c.id)
        ).all()
    return [PatternRow(int(r.id), r.pattern, r.description, bool(r.is_active)) for r in rows]


def add_ignore_pattern(db: Database, pattern: str, description: str | None = None) -> PatternRow:
    """Store an ignored error pattern (substring, or ``re:`` regular expression); ConfigError when it is
    empty, an invalid regular expression, or already there."""
    pattern = pattern.strip()
    if not pattern or pattern == "re:":
        raise ConfigError("empty pattern")
    if pattern.startswith("re:"):
        try:
            re.compile(pattern[3:])
        except re.error as exc:
            raise ConfigError(f"invalid regular expression {pattern[3:]!r}: {exc}") from None
    t = cast(sa.Table, IgnoredErrorPattern.__table__)
    with db.engine.begin() as conn:
        if conn.execute(sa.select(t.c.id).where(t.c.pattern == pattern)).first() is not None:
            raise ConfigError(f"pattern {pattern!r} is already there")
        new_id = conn.execute(
            sa.insert(t).values(pattern=pattern, description=description, is_active=True, created_at=utcnow())
        ).inserted_primary_key
    return PatternRow(int(new_id[0]), pattern, description, True)  # type: ignore[index]


def remove_ignore_pattern(db: Database, pattern_id: int) -> bool:
    t = cast(sa.Table, IgnoredErrorPattern.__table__)
    with db.engine.begin() as conn:
        return bool(conn.execute(sa.delete(t).where(t.c.id == pattern_id)).rowcount)


def set_ignore_pattern_active(db: Database, pattern_id: int, active: bool) -> bool:
    t = cast(sa.Table, IgnoredErrorPattern.__table__)
    with db.engine.begin() as conn:
        return bool(conn.execute(sa.update(t).where(t.c.id == pattern_id).values(is_active=active)).rowcount)


def count_pattern_matches(db: Database, patterns: Sequence[str]) -> dict[str, int]:
    """How many stored findings (warnings and corruption evidence, the kinds a pattern can ignore) each
    pattern matches, by the same rule the scan applies. Reads every stored finding: call it from a worker."""
    rules = {p: IgnoreRules([p]) for p in patterns}
    counts = dict.fromkeys(patterns, 0)
    if not patterns:
        return counts
    c = ScanResult.__table__.c
    stmt = sa.select(c.findings).where(c.findings.is_not(None))
    with db.engine.connect() as conn:
        for (text,) in conn.execution_options(yield_per=2000).execute(stmt):
            try:
                items = json.loads(text)
            except (ValueError, TypeError):
                continue
            for item in items if isinstance(items, list) else ():
                try:
                    finding = Finding.from_dict(item)
                except (KeyError, ValueError, TypeError):
                    continue
                if finding.severity not in (Severity.WARNING, Severity.CORRUPT):
                    continue
                for p, rule in rules.items():
                    if rule.matches(finding):
                        counts[p] += 1
    return counts


def format_size(n: int | None) -> str:
    """Bytes as a short human size (``1.5 GB``); an empty string for None."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"


__all__: Sequence[str] = [
    "FAMILIES",
    "SORT_KEYS",
    "STATUSES",
    "Key",
    "LiveScan",
    "ReportRow",
    "ResultDetail",
    "ResultRow",
    "ResultsBrowser",
    "ResultsQuery",
    "Selection",
    "Totals",
    "ExclusionRow",
    "LogRow",
    "PatternRow",
    "add_exclusion",
    "add_ignore_pattern",
    "count_pattern_matches",
    "count_selected",
    "list_exclusions",
    "list_ignore_patterns",
    "remove_exclusion",
    "remove_ignore_pattern",
    "set_ignore_pattern_active",
    "log_entries",
    "format_size",
    "problem_line",
    "worst_finding_message",
    "live_scan",
    "recent_reports",
    "result_detail",
    "selected_ids",
    "selected_paths",
    "set_marked_good",
    "totals",
]
