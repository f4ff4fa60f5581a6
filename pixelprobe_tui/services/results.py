"""Reading verdicts back and recording a person's "mark as good", for the CLI and the TUI.

Statuses as people ask for them: ``corrupted``, ``warning``, ``healthy``, ``error`` (unreadable or
unsupported), ``pending`` (found, not checked yet), ``bitrot`` (suspected: see ``services.changes``),
``all``. Marking a file good never rewrites its verdict: it records who and when, and the content hash
at that moment, so the mark lapses when the content changes (see ``scan_writer.upsert_results``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from pixelprobe_tui.core.discovery import path_to_db
from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.services import browse

STATUS_CHOICES = ("corrupted", "warning", "error", "healthy", "pending", "bitrot", "all")
_STATUS_VALUES: dict[str, tuple[str, ...]] = {
    "corrupted": ("corrupted",),
    "warning": ("warning",),
    "error": ("unreadable", "unsupported"),
    "healthy": ("healthy",),
    "pending": ("pending",),
}
COLUMNS: tuple[str, ...] = tuple(c.name for c in ScanResult.__table__.columns)
_LOOKUP_CHUNK = 500  # paths per IN (...) list: well under both databases' parameter limits


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def iter_results(db: Database, status: str = "all", *, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Rows of ``scan_results`` with *status* as dicts keyed by column name (JSON-ready values), by path.

    ``file_path`` is the stored text (``discovery.path_from_db`` gives the file system path back). Reads in
    keyset pages, so memory does not grow with the table.
    """
    if status not in STATUS_CHOICES:
        raise ValueError(f"unknown status {status!r} (expected one of {', '.join(STATUS_CHOICES)})")
    t = cast(sa.Table, ScanResult.__table__)
    cond: Any = sa.true() if status == "all" else t.c.scan_status.in_(_STATUS_VALUES.get(status, ()))
    if status == "bitrot":  # a flag, not a verdict: content changed while size and mtime did not
        cond = t.c.bitrot_suspected == sa.true()
    last = ""
    while True:
        with db.session() as s:
            rows = s.execute(
                sa.select(t).where(cond, t.c.file_path > last).order_by(t.c.file_path).limit(batch_size)
            ).all()
        for row in rows:
            yield {k: _jsonable(v) for k, v in row._mapping.items()}
        if len(rows) < batch_size:
            return
        last = rows[-1].file_path


def who() -> str:
    """``user@host`` for ``marked_as_good_by``."""
    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class MarkOutcome:
    """Which paths were (un)marked and which have no row in the database."""

    changed: tuple[str, ...]
    missing: tuple[str, ...]


def mark_good(
    db: Database, paths: Iterable[str], *, undo: bool = False, by: str | None = None
) -> MarkOutcome:
    """Mark files good (or, with *undo*, remove the mark) by path, through :func:`browse.set_marked_good`
    (the one implementation of marking). Paths are made absolute; unknown ones are returned in ``missing``,
    the others, absolute, in ``changed`` (a file already in the wanted state keeps its mark as it was: who and when)."""
    given = {os.path.abspath(os.fsdecode(p)): os.fsdecode(p) for p in paths}
    wanted = {path_to_db(absolute): absolute for absolute in given}
    t = cast(sa.Table, ScanResult.__table__)
    ids: dict[str, int] = {}
    ordered = list(wanted)
    with db.engine.connect() as conn:
        for i in range(0, len(ordered), _LOOKUP_CHUNK):
            stmt = sa.select(t.c.file_path, t.c.id).where(t.c.file_path.in_(ordered[i : i + _LOOKUP_CHUNK]))
            ids.update((path, int(id_)) for path, id_ in conn.execute(stmt))
    if ids:
        selection = browse.Selection(ids=frozenset(ids.values()))
        browse.set_marked_good(db, selection, not undo, None if undo else (by or who()))
    return MarkOutcome(
        tuple(wanted[p] for p in wanted if p in ids),
        tuple(given[wanted[p]] for p in wanted if p not in ids),
    )
