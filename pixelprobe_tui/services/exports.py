"""Exports of results and reports as CSV or JSON, streamed: memory stays flat however many rows there are.

Rows come through a server-side cursor (PostgreSQL; SQLite's cursor is lazy by nature) in batches of
:data:`BATCH` and are written as they arrive, so a million rows need no more memory than a thousand.

Format. Records are keyed by the table's column names (``scan_results`` or ``scan_reports``), in table
order. Paths are file system paths again (``path_from_db``); timestamps are ISO 8601 in UTC
(``2026-11-25T17:00:00.123456+00:00``); ids of scans are UUID text.

- CSV (RFC 4180: records end with CRLF, cells with a comma, quote or line break are quoted): a header
  line, then one line per record; booleans ``true``/``false``, NULL as an empty field, JSON
  columns (a report's ``details``) as JSON text. UTF-8, except that a file name which is not valid UTF-8 is
  written as its original bytes (like ``ls`` or ``find`` would).
  Safe to open in a spreadsheet: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return (or their full-width forms) would be taken for a formula by Excel or LibreOffice, so it
  gets a leading apostrophe (the OWASP advice on CSV injection): the spreadsheet then shows it as text,
  apostrophe included, instead of running it. A text cell that starts with an apostrophe gets one more, so the rule reverses exactly: a script
  that wants the stored text drops one leading ``'`` from any text cell that has one. With
  ``spreadsheet_safe=False`` cells are written as they are.
- JSON: one array, one record per line, always valid UTF-8. Paths follow the CLI's one rule
  (:func:`pixelprobe_tui.core.discovery.json_path_fields`): ``file_path`` is the exact name when it is valid
  UTF-8, else the name with U+FFFD for each invalid byte plus ``file_path_b64`` with the raw bytes in
  base64 (``directories_scanned`` likewise, with ``directories_scanned_b64``); other text that quotes such a
  name gets U+FFFD.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO, Literal, cast

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import json_path_fields, json_path_list_fields, json_safe, path_from_db
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanReport, ScanResult
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.browse import ResultsQuery

Format = Literal["csv", "json"]
FORMATS: tuple[Format, ...] = ("csv", "json")
BATCH = 1000

RESULTS = cast(sa.Table, ScanResult.__table__)
REPORTS = cast(sa.Table, ScanReport.__table__)
# file_path_full is how a path too long for the index is stored (discovery.path_from_row): the export's
# file_path is the whole path, so that column is not exported on its own.
RESULT_COLUMNS: tuple[str, ...] = tuple(c.name for c in RESULTS.columns if c.name != "file_path_full")
REPORT_COLUMNS: tuple[str, ...] = tuple(c.name for c in REPORTS.columns)
_PATH_COLUMNS = frozenset({"file_path"})
_PATH_LIST_COLUMNS = frozenset({"directories_scanned"})
_JSON_COLUMNS = frozenset({"directories_scanned", "details"})
# First characters that make a spreadsheet read a cell as a formula (OWASP's list, plus the full-width forms
# some spreadsheets accept), and the apostrophe that escapes them.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
CELL_ESCAPE = "'"


def spreadsheet_text(text: str) -> str:
    """*text* as a CSV cell no spreadsheet runs as a formula: see "CSV" in the module docstring."""
    if text[:1] in FORMULA_STARTS or text[:1] == CELL_ESCAPE:
        return CELL_ESCAPE + text
    return text


def _plain(name: str, value: Any) -> Any:
    """A column value as a JSON-ready Python value."""
    if value is None:
        return None
    if name in _PATH_COLUMNS:
        return path_from_db(value)
    if name in _PATH_LIST_COLUMNS and isinstance(value, list):
        return [path_from_db(v) if isinstance(v, str) else v for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _csv_cell(name: str, value: Any, safe: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in _JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if safe and isinstance(value, str):
        return spreadsheet_text(value)
    return value


def _json_record(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, raw in zip(columns, row, strict=True):
        value = _plain(name, raw)
        if name in _PATH_COLUMNS and isinstance(value, str):
            record.update(json_path_fields(name, value))
        elif (
            name in _PATH_LIST_COLUMNS and isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            record.update(json_path_list_fields(name, value))
        else:
            record[name] = json_safe(value)
    return record


def _results_statement(
    query: ResultsQuery | None, file_exists: bool | None, ids: Collection[int] | None
) -> sa.Select[Any]:
    c = RESULTS.c
    whole_path = sa.func.coalesce(c.file_path_full, c.file_path).label("file_path")
    stmt = sa.select(*(whole_path if n == "file_path" else c[n] for n in RESULT_COLUMNS))
    if query is not None:
        stmt = stmt.where(*query.conditions())
    if file_exists is not None:
        stmt = stmt.where(c.file_exists == (sa.true() if file_exists else sa.false()))
    if ids is not None:
        stmt = stmt.where(c.id.in_(sorted(ids)))
    if query is None:
        return stmt.order_by(c.id)
    column = {"path": c.file_path, "status": c.scan_status, "date": c.scan_date, "size": c.file_size}[
        query.sort
    ]
    ordered = column.desc() if query.descending else column.asc()
    if query.sort == "path":
        return stmt.order_by(ordered)
    id_order = c.id.desc() if query.descending else c.id.asc()
    return stmt.order_by(ordered.nulls_last(), id_order)


def _reports_statement(statuses: Collection[str], scan_types: Collection[str]) -> sa.Select[Any]:
    stmt = sa.select(*REPORTS.columns)
    if statuses:
        stmt = stmt.where(REPORTS.c.status.in_(sorted(statuses)))
    if scan_types:
        stmt = stmt.where(REPORTS.c.scan_type.in_(sorted(scan_types)))
    return stmt.order_by(REPORTS.c.id)


def _stream(db: Database, stmt: sa.Select[Any], batch: int) -> Iterator[Sequence[sa.Row[Any]]]:
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
        yield from result.partitions()


def _write(
    db: Database,
    stmt: sa.Select[Any],
    columns: Sequence[str],
    out: BinaryIO,
    fmt: Format,
    batch: int,
    progress: Callable[[int], None] | None,
    safe: bool = True,
) -> int:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (csv or json)")
    text = io.TextIOWrapper(out, encoding="utf-8", errors="surrogateescape", newline="")
    count = 0
    try:
        if fmt == "csv":
            # CRLF ends a record (RFC 4180): then Python's csv quotes a cell holding a lone CR too (a file name
            # may), which it leaves bare with a "\n" terminator, splitting the record for every reader.
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(columns)
            for rows in _stream(db, stmt, batch):
                writer.writerows(
                    [_csv_cell(n, _plain(n, v), safe) for n, v in zip(columns, r, strict=True)] for r in rows
                )
                count += len(rows)
                if progress is not None:
                    progress(count)
        else:
            text.write("[")
            for rows in _stream(db, stmt, batch):
                for r in rows:
                    line = json.dumps(_json_record(columns, r), ensure_ascii=False)
                    text.write(("\n" if count == 0 else ",\n") + line)
                    count += 1
                if progress is not None:
                    progress(count)
            text.write("\n]\n" if count else "]\n")
        text.flush()
    finally:
        text.detach()  # leave *out* open for the caller
    return count


def export_results(
    db: Database,
    out: BinaryIO,
    fmt: Format = "csv",
    query: ResultsQuery | None = None,
    *,
    file_exists: bool | None = None,
    ids: Collection[int] | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
    spreadsheet_safe: bool = True,
) -> int:
    """Write ``scan_results`` rows to the binary stream *out*; returns how many.

    *query* is the results view's filter and order (None: every row by id); *file_exists* filters on it;
    *ids* limits the export to a selection. *progress* gets the running count after each batch.
    *spreadsheet_safe* (CSV): escape cells a spreadsheet would run as formulas (see the module docstring).
    """
    stmt = _results_statement(query, file_exists, ids)
    return _write(db, stmt, RESULT_COLUMNS, out, fmt, batch, progress, spreadsheet_safe)


def export_reports(
    db: Database,
    out: BinaryIO,
    fmt: Format = "csv",
    *,
    statuses: Collection[str] = (),
    scan_types: Collection[str] = (),
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
    spreadsheet_safe: bool = True,
) -> int:
    """Write ``scan_reports`` rows (optionally only some statuses or types) to *out*; returns how many.
    *spreadsheet_safe* as for :func:`export_results`."""
    stmt = _reports_statement(statuses, scan_types)
    return _write(db, stmt, REPORT_COLUMNS, out, fmt, batch, progress, spreadsheet_safe)


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that appears at *path* only when the block succeeds (no half-written exports)."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pixelprobe-export-", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write to {target!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def format_for(path: str | None, requested: str | None) -> Format:
    """The format asked for, else the output file's extension, else CSV."""
    if requested:
        fmt = requested.lower()
    elif path and path.lower().endswith(".json"):
        fmt = "json"
    else:
        fmt = "csv"
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {requested!r} (csv or json)")
    return fmt  # type: ignore[return-value]
