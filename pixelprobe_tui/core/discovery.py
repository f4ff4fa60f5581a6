"""Discovery: find the media files under the scan roots, with a stat snapshot of each.

:func:`walk` is an ``os.scandir`` walk that yields one :class:`DiscoveredFile` at a time (a generator, so
memory does not grow with the library) and fills a :class:`WalkReport` as it goes. Per file it costs one
``lstat`` (``DirEntry.stat``); names are filtered by extension before that, so non-media files cost nothing
beyond the directory listing.

What is skipped, and how it is accounted for:

- junk names (:data:`JUNK_NAMES`, ``._*`` AppleDouble files, ``.Trash-*`` directories): counted;
- exclusions (:class:`Exclusions`): counted;
- files whose extension is not in the table: counted as not media;
- FIFOs, sockets and devices with a media name: reported as issues and never opened (opening a FIFO blocks);
- symlinks, unless ``follow_symlinks``: counted; a media-named symlink that is broken or loops is reported;
- unreadable directories, roots that don't exist, entries that can't be stat'ed: reported, and they make the
  run incomplete (:attr:`WalkReport.incomplete_reason`), never silently passed;
- with :func:`walk_guarded`, directories (and roots) on storage that stops answering: after
  ``stall_timeout_s`` without progress they are reported, make the run incomplete, and the walk goes on.

Paths are ``str``; names that are not valid UTF-8 carry their raw bytes as surrogate escapes (what
``os.fsdecode`` gives). :func:`path_to_db` / :func:`path_from_db` turn such paths into valid UTF-8 text and
back; :func:`display_path` makes any path safe to show.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import queue
import re
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from fnmatch import translate
from operator import attrgetter
from typing import Any, NamedTuple

from pixelprobe_tui.core.hashing import FileSnapshot
from pixelprobe_tui.core.media import (
    AUDIO_EXTENSIONS,
    IMAGE_EXTENSIONS,
    RAW_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Family,
    file_kind,
)

# ---------------------------------------------------------------------------------------------------------
# The extension table


#: Supported extension -> media family, from the tables in core/media.py (raw camera files are images).
DEFAULT_EXTENSIONS: Mapping[str, str] = {
    **dict.fromkeys(VIDEO_EXTENSIONS, Family.VIDEO),
    **dict.fromkeys(AUDIO_EXTENSIONS, Family.AUDIO),
    **dict.fromkeys(IMAGE_EXTENSIONS | RAW_EXTENSIONS, Family.IMAGE),
}


def _normalise_extensions(extensions: Mapping[str, str] | None) -> dict[str, str]:
    table = DEFAULT_EXTENSIONS if extensions is None else extensions
    return {ext.lower().lstrip("."): family for ext, family in table.items()}


def _extension(lower_name: str) -> str:
    # A leading dot is not an extension separator: ".mp4" is a hidden file without extension.
    i = lower_name.rfind(".")
    return lower_name[i + 1 :] if i > 0 else ""


# ---------------------------------------------------------------------------------------------------------
# Junk names

#: Names (compared case-insensitively) that are never media, whatever their extension, and directories whose
#: content is never the user's library. Files: macOS Finder metadata (.DS_Store, .localized, "Icon\r"),
#: Windows thumbnail caches and folder settings (Thumbs.db, ehthumbs*.db, desktop.ini). Directories: NAS
#: thumbnail and recycle folders (Synology @eaDir, #recycle, #snapshot; QNAP .@__thumb, @Recycle), desktop
#: trash (.Trash, .Trashes; .Trash-<uid> by prefix), filesystem recovery (lost+found), Windows
#: ($RECYCLE.BIN, System Volume Information), macOS volume metadata (.Spotlight-V100, .fseventsd,
#: .TemporaryItems, .DocumentRevisions-V100, .AppleDouble, .AppleDB, .AppleDesktop), snapshot trees that
#: would rescan the library once per snapshot (.zfs, .snapshot). Also skipped by prefix: ``._*`` (AppleDouble
#: resource forks, which carry media extensions but no media) and ``.Trash-*``.
JUNK_NAMES: frozenset[str] = frozenset(
    name.lower()
    for name in (
        ".DS_Store",
        ".localized",
        "Icon\r",
        "Thumbs.db",
        "ehthumbs.db",
        "ehthumbs_vista.db",
        "desktop.ini",
        "@eaDir",
        "#recycle",
        "#snapshot",
        ".@__thumb",
        "@Recycle",
        ".Trash",
        ".Trashes",
        "lost+found",
        "$RECYCLE.BIN",
        "System Volume Information",
        ".Spotlight-V100",
        ".fseventsd",
        ".TemporaryItems",
        ".DocumentRevisions-V100",
        ".AppleDouble",
        ".AppleDB",
        ".AppleDesktop",
        ".zfs",
        ".snapshot",
    )
)
JUNK_PREFIXES: tuple[str, ...] = ("._", ".trash-")


def is_junk(name: str) -> bool:
    """True when *name* (a file or directory name) is on the junk list."""
    low = name.lower()
    return low in JUNK_NAMES or low.startswith(JUNK_PREFIXES)


# ---------------------------------------------------------------------------------------------------------
# Exclusions

_GLOB_CHARS = re.compile(r"[*?\[]")


class Exclusions:
    """The user's exclusion rules, from rows of ``(type, value)`` (tuples or objects with those attributes).

    - ``path`` with an absolute value and no glob character: a prefix on path components, so ``/a/b``
      excludes ``/a/b`` and ``/a/b/c`` but not ``/a/bc``. Trailing slashes don't matter.
    - ``path`` containing ``*``, ``?`` or ``[``: a glob (``fnmatch``, case-sensitive, ``*`` also matches
      ``/``) tested against the full path and against the base name, so ``*.part`` and ``/media/*/tmp``
      both work. A directory that matches is pruned with everything below it.
    - ``path`` with a relative value and no glob: matches at any depth, as the glob ``*/<value>`` (a single
      name such as ``Trash`` thus matches every file or directory called exactly that).
    - ``extension``: case-insensitive, with or without the leading dot (``.MKV`` == ``mkv``).

    Raises ``ValueError`` for an unknown type or an empty value: a rule that silently does nothing would
    let the user believe something is excluded.
    """

    __slots__ = ("prefixes", "_prefix_slashes", "globs", "extensions", "_glob_re")

    def __init__(self, rows: Iterable[Any] = ()) -> None:
        prefixes: set[str] = set()
        globs: list[str] = []
        extensions: set[str] = set()
        for row in rows:
            kind, value = (row.type, row.value) if hasattr(row, "type") else row
            kind = str(kind).strip().lower()
            value = str(value).strip()
            if kind == "extension":
                ext = value.lstrip(".").lower()
                if not ext:
                    raise ValueError(f"empty extension exclusion: {value!r}")
                extensions.add(ext)
            elif kind == "path":
                if not value:
                    raise ValueError("empty path exclusion")
                if _GLOB_CHARS.search(value):
                    globs.append(value)
                elif os.path.isabs(value):
                    prefixes.add(os.path.normpath(value))
                else:
                    globs.append("*/" + os.path.normpath(value))
            else:
                raise ValueError(f"unknown exclusion type {kind!r} (expected 'path' or 'extension')")
        self.prefixes = frozenset(prefixes)
        self._prefix_slashes = tuple(p.rstrip("/") + "/" for p in sorted(prefixes))
        self.globs = tuple(globs)
        self.extensions = frozenset(extensions)
        self._glob_re = re.compile("|".join(translate(g) for g in globs)) if globs else None

    def __bool__(self) -> bool:
        return bool(self.prefixes or self.globs or self.extensions)

    def __repr__(self) -> str:
        return f"Exclusions(prefixes={sorted(self.prefixes)}, globs={list(self.globs)}, extensions={sorted(self.extensions)})"

    def excludes(self, path: str, *, is_dir: bool = False) -> bool:
        """True when *path* (a file, or a directory with ``is_dir=True``) is excluded by any rule."""
        path = os.path.normpath(path)
        if path in self.prefixes or path.startswith(self._prefix_slashes):
            return True
        name = os.path.basename(path)
        if self._glob_matches(path, name):
            return True
        return not is_dir and _extension(name.lower()) in self.extensions

    # The walk checks every directory on the way down, so below an unexcluded root an exact lookup in the
    # prefix set is enough; the full component-prefix test is only needed for roots and symlink targets.
    def _glob_matches(self, path: str, name: str) -> bool:
        r = self._glob_re
        return r is not None and (r.match(path) is not None or r.match(name) is not None)

    def _dir_excluded(self, path: str, name: str) -> bool:
        return path in self.prefixes or self._glob_matches(path, name)

    def _file_excluded(self, path: str, name: str, ext: str) -> bool:
        return ext in self.extensions or path in self.prefixes or self._glob_matches(path, name)


_NO_EXCLUSIONS = Exclusions()


# ---------------------------------------------------------------------------------------------------------
# Results and report


class DiscoveredFile(NamedTuple):
    """One regular file found by :func:`walk`, with the stat fields an incremental scan compares.

    ``family`` is the media family from the extension table (``None`` for a file given explicitly as a root
    whose extension the table doesn't know: the checker will call it unsupported).
    """

    path: str
    size: int
    mtime_ns: int
    inode: int
    dev: int
    family: str | None

    @property
    def snapshot(self) -> FileSnapshot:
        return FileSnapshot(self.size, self.mtime_ns, self.inode)


class IssueKind(StrEnum):
    """What went wrong (or was deliberately left alone) at one path."""

    MISSING_ROOT = "missing_root"  # a root that doesn't exist (or a dangling symlink): incomplete
    UNREADABLE_DIRECTORY = "unreadable_directory"  # listing failed (permission, I/O error): incomplete
    UNREADABLE_ENTRY = "unreadable_entry"  # listed, but stat failed (e.g. directory without x): incomplete
    VANISHED = "vanished"  # listed, then gone before stat: a normal race, not an error
    SPECIAL_FILE = "special_file"  # FIFO, socket or device with a media name: never opened
    BROKEN_SYMLINK = "broken_symlink"  # symlink with a media name (or followed) whose target is missing
    SYMLINK_LOOP = "symlink_loop"  # symlink chain that loops (ELOOP)
    ALREADY_VISITED = "already_visited"  # followed symlink to a directory already walked (loop or alias)
    STALLED_DIRECTORY = "stalled_directory"  # listing or stat made no progress (dead mount?): incomplete
    UNAVAILABLE_ROOT = "unavailable_root"  # the same for a scan root itself: incomplete


#: Kinds that mean part of the tree was not examined.
INCOMPLETE_KINDS = frozenset(
    {
        IssueKind.MISSING_ROOT,
        IssueKind.UNREADABLE_DIRECTORY,
        IssueKind.UNREADABLE_ENTRY,
        IssueKind.STALLED_DIRECTORY,
        IssueKind.UNAVAILABLE_ROOT,
    }
)


@dataclass(frozen=True, slots=True)
class WalkIssue:
    """One reported path: what kind of problem, and a one-line message for people."""

    kind: IssueKind
    path: str
    message: str

    @property
    def makes_incomplete(self) -> bool:
        return self.kind in INCOMPLETE_KINDS


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass(slots=True)
class WalkReport:
    """Live counters of a walk, filled while :func:`walk` is iterated (read them for progress).

    Counts are exact; :attr:`issues` keeps the first ``max_issues`` issues (all of them reach the walk's
    ``on_error`` callback).
    """

    roots: tuple[str, ...] = ()
    roots_dropped: list[tuple[str, str]] = field(default_factory=list)  # (root, why) for duplicates/nested
    directories_visited: int = 0
    files_found: int = 0
    bytes_found: int = 0
    junk_skipped: int = 0
    excluded: int = 0
    not_media: int = 0
    symlinks_skipped: int = 0
    duplicates_skipped: int = 0  # same (dev, inode) reached twice while following symlinks
    counts: dict[str, int] = field(default_factory=dict)  # IssueKind value -> number of issues
    issues: list[WalkIssue] = field(default_factory=list)
    issues_dropped: int = 0
    max_issues: int = 1000
    finished: bool = False  # the walk ran to its end (not abandoned by the caller)

    def count(self, kind: IssueKind) -> int:
        """Number of issues of *kind* seen so far."""
        return self.counts.get(kind.value, 0)

    def add(self, issue: WalkIssue) -> None:
        """Count *issue* and keep it if there is room."""
        self.counts[issue.kind.value] = self.counts.get(issue.kind.value, 0) + 1
        if len(self.issues) < self.max_issues:
            self.issues.append(issue)
        else:
            self.issues_dropped += 1

    @property
    def unreadable_directories(self) -> int:
        return self.count(IssueKind.UNREADABLE_DIRECTORY)

    @property
    def special_files(self) -> int:
        """FIFOs, sockets and devices with media names, skipped unopened."""
        return self.count(IssueKind.SPECIAL_FILE)

    @property
    def broken_symlinks(self) -> int:
        return self.count(IssueKind.BROKEN_SYMLINK)

    @property
    def loops_broken(self) -> int:
        """Symlink loops (ELOOP) plus followed links back into directories already walked."""
        return self.count(IssueKind.SYMLINK_LOOP) + self.count(IssueKind.ALREADY_VISITED)

    def as_dict(self) -> dict[str, Any]:
        """Counters and kept issues as JSON-ready values (for a scan report or a log line)."""
        return {
            "roots": [path_to_db(r, full=True) for r in self.roots],
            "roots_dropped": [[path_to_db(r, full=True), why] for r, why in self.roots_dropped],
            "directories_visited": self.directories_visited,
            "files_found": self.files_found,
            "bytes_found": self.bytes_found,
            "junk_skipped": self.junk_skipped,
            "excluded": self.excluded,
            "not_media": self.not_media,
            "symlinks_skipped": self.symlinks_skipped,
            "duplicates_skipped": self.duplicates_skipped,
            "issue_counts": dict(self.counts),
            "issues": [
                {"kind": i.kind.value, "path": path_to_db(i.path, full=True), "message": i.message}
                for i in self.issues
            ],
            "issues_dropped": self.issues_dropped,
            "finished": self.finished,
            "incomplete_reason": self.incomplete_reason,
        }

    @property
    def incomplete(self) -> bool:
        """True when part of the tree could not be examined."""
        return any(self.counts.get(k.value) for k in INCOMPLETE_KINDS)

    @property
    def incomplete_reason(self) -> str | None:
        """Why the run is incomplete, e.g. ``"3 directories unreadable, 1 scan path not found"``; ``None`` if not.

        The engine records it as ``"run incomplete: <reason>"``.
        """
        parts = []
        if n := self.count(IssueKind.UNREADABLE_DIRECTORY):
            parts.append(_plural(n, "directory", "directories") + " unreadable")
        if n := self.count(IssueKind.UNREADABLE_ENTRY):
            parts.append(_plural(n, "entry", "entries") + " could not be examined")
        if n := self.count(IssueKind.MISSING_ROOT):
            # A root is whatever the run was asked to scan: a library folder or a chosen file.
            parts.append(_plural(n, "scan path", "scan paths") + " not found")
        if n := self.count(IssueKind.STALLED_DIRECTORY):
            parts.append(_plural(n, "directory", "directories") + " stalled (storage not answering)")
        if n := self.count(IssueKind.UNAVAILABLE_ROOT):
            parts.append(_plural(n, "root", "roots") + " unavailable (storage stalled)")
        return ", ".join(parts) or None


ErrorCallback = Callable[[WalkIssue], None]


# ---------------------------------------------------------------------------------------------------------
# Roots


# Test hook (the style of core/checker_child.py's): with PIXELPROBE_TEST_HOOKS=1 in the environment when this
# module is imported, a directory (or root) whose name starts with HANG_PREFIX blocks the walk that reaches it,
# as a listing on a dead NFS or SMB mount does, until the process exits (or a test sets _hang_release). Read
# once at import, so nothing a running program is given can switch it on.
_TEST_HOOKS = os.environ.get("PIXELPROBE_TEST_HOOKS") == "1"
HANG_PREFIX = "__pixelprobe_hang"
_hang_release = threading.Event()


def _test_hang(path: str) -> None:
    if _TEST_HOOKS and os.path.basename(path).startswith(HANG_PREFIX):
        _hang_release.wait()


def _realpath(path: str) -> str:
    _test_hang(path)  # resolving a root on a dead mount blocks too (lstat of each component)
    return os.path.realpath(path)


def _within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def effective_roots(
    roots: Iterable[str | bytes | os.PathLike[Any]],
    *,
    resolve: Callable[[str], str] | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Absolute roots in the given order without duplicates and without roots nested in another root.

    Duplicates and nesting are judged on resolved paths (``os.path.realpath``), so ``/x`` and a symlink to
    it count as the same root; the first spelling given is kept. A root inside another given root is
    dropped whatever the order (``"inside <the outermost root>"``), a repeat of a kept root too
    (``"same as <its first spelling>"``). Returns ``(kept, dropped)`` where *dropped* holds
    ``(root, reason)`` in the given order. O(n log n): a rescan of 10,000 chosen files is one sort.
    *resolve* replaces ``realpath`` (``os.path.abspath`` compares roots as spelled, without any I/O).
    """
    resolve = resolve if resolve is not None else _realpath
    candidates: list[tuple[str, str]] = []
    for r in roots:
        p = os.path.abspath(os.fsdecode(r))
        candidates.append((p, resolve(p)))
    # With "/" sorting before every other character, a path's descendants follow it directly ("/a",
    # "/a/b", "/a/c", then "/a-b"), so one pass with the current outermost root decides every path. Ties
    # (the same resolved path) keep the given order, so the first spelling leads its group.
    order = sorted(range(len(candidates)), key=lambda i: (candidates[i][1].replace("/", "\0"), i))
    reasons: dict[int, str] = {}
    outer: tuple[str, str] | None = None
    for i in order:
        p, real = candidates[i]
        if outer is not None:
            if real == outer[1]:
                reasons[i] = f"same as {display_path(outer[0])}"
                continue
            if _within(real, outer[1]):
                reasons[i] = f"inside {display_path(outer[0])}"
                continue
        outer = (p, real)
    kept = [p for i, (p, _) in enumerate(candidates) if i not in reasons]
    dropped = [(p, reasons[i]) for i, (p, _) in enumerate(candidates) if i in reasons]
    return kept, dropped


class ResolvedRoots(NamedTuple):
    """:func:`effective_roots` of a list of roots, with the roots that storage gave no answer for."""

    kept: list[str]
    dropped: list[tuple[str, str]]
    unanswered: list[str]  # kept roots whose resolution stalled: compared as spelled, not to be walked


def resolve_roots_within(
    roots: Iterable[str | bytes | os.PathLike[Any]],
    timeout_s: float,
    cancelled: Callable[[], bool] | None = None,
) -> ResolvedRoots:
    """:func:`effective_roots`, with at most *timeout_s* (0: no limit) spent on any one root.

    Resolving a root on a dead mount blocks (``realpath`` stats each component). Such a root is compared as
    spelled and listed in ``unanswered`` (the walk then reports it without touching it:
    :func:`walk_guarded`'s *resolved*), and the other roots are resolved in a new thread; the stuck one is
    left behind. When *cancelled* returns True, the roots not yet resolved are compared as spelled.
    """
    given = [os.path.abspath(os.fsdecode(r)) for r in roots]
    patience = timeout_s if timeout_s > 0 else float("inf")
    real: dict[int, str] = {}
    unanswered: list[int] = []
    i = 0
    while i < len(given):
        at = [i]  # the index being resolved, moved on by the thread
        out: dict[int, str] = {}  # this thread's own: a stuck thread that wakes writes where no one reads

        def resolve(start: int, at: list[int] = at, out: dict[int, str] = out) -> None:
            for j in range(start, len(given)):
                at[0] = j
                out[j] = _realpath(given[j])
            at[0] = len(given)

        th = threading.Thread(target=resolve, args=(i,), name="pixelprobe-resolve-roots", daemon=True)
        th.start()
        seen, since = i, time.monotonic()
        while th.is_alive() and not (cancelled is not None and cancelled()):
            th.join(_POLL_S)
            if at[0] != seen:
                seen, since = at[0], time.monotonic()
            elif time.monotonic() - since >= patience:
                break
        stuck = at[0]
        real.update((j, p) for j, p in list(out.items()) if j < stuck)
        if not th.is_alive() or stuck >= len(given):
            break
        if cancelled is not None and cancelled():
            break
        unanswered.append(stuck)
        i = stuck + 1
    resolved = iter([real.get(j, p) for j, p in enumerate(given)])
    # effective_roots asks for each root's resolved path once, in the given order.
    kept, dropped = effective_roots(given, resolve=lambda _path: next(resolved))
    kept_set = set(kept)
    return ResolvedRoots(kept, dropped, [given[j] for j in unanswered if given[j] in kept_set])


def _ask_within(path: str, question: Callable[[str], bool], timeout_s: float) -> bool | None:
    """``question(path)``, or None when storage gives no answer within *timeout_s* (0: wait). The asking
    thread is left behind if it is stuck."""
    box: list[bool] = []

    def ask() -> None:
        _test_hang(path)
        box.append(question(path))

    th = threading.Thread(target=ask, name="pixelprobe-stat", daemon=True)
    th.start()
    th.join(timeout_s if timeout_s > 0 else None)
    return box[0] if box else None


def is_dir_within(path: str, timeout_s: float) -> bool | None:
    """``os.path.isdir(path)``, or None when storage gives no answer within *timeout_s* (0: wait)."""
    return _ask_within(path, os.path.isdir, timeout_s)


def exists_within(path: str, timeout_s: float) -> bool | None:
    """``os.path.exists(path)``, or None when storage gives no answer within *timeout_s* (0: wait)."""
    return _ask_within(path, os.path.exists, timeout_s)


# ---------------------------------------------------------------------------------------------------------
# The walk


def _error_text(exc: OSError) -> str:
    return exc.strerror or str(exc)


_by_name = attrgetter("name")


class Walk(Iterator[DiscoveredFile]):
    """The iterator returned by :func:`walk`; its :attr:`report` fills in while it is iterated."""

    __slots__ = ("report", "_gen")

    def __init__(self, report: WalkReport, gen: Generator[DiscoveredFile, None, None]) -> None:
        self.report = report
        self._gen = gen

    def __iter__(self) -> Iterator[DiscoveredFile]:
        return self._gen  # for-loops then run the generator directly, without a Python-level __next__

    def __next__(self) -> DiscoveredFile:
        return next(self._gen)

    def close(self) -> None:
        """Stop the walk early (the report stays ``finished=False``)."""
        self._gen.close()


class _WalkState:
    """Where a walk is: the roots, the directories still to list, the current one. A walk taken over after
    a stall (:func:`walk_guarded`) goes on from a copy of its stuck predecessor's state."""

    __slots__ = (
        "kept",
        "next_root",
        "root",
        "stack",
        "visited_dirs",
        "seen_files",
        "current",
        "is_root",
        "beat",
        "gave_up",
    )

    def __init__(self) -> None:
        self.kept: list[str] | None = None  # the effective roots, once computed
        self.next_root = 0  # index in kept of the next root to start
        self.root = ""  # the root being walked
        self.stack: list[str] = []  # directories still to list, under self.root
        self.visited_dirs: set[tuple[int, int]] = set()
        self.seen_files: set[tuple[int, int]] = set()
        self.current = ""  # the directory (or root) being stat'ed, listed or gone through
        self.is_root = False
        self.beat = 0  # grows with every entry listed or examined: progress
        self.gave_up: set[str] = set()  # roots that stalled: not resolved, stat'ed or listed again

    def entering(self, path: str, is_root: bool) -> None:
        """Called before the root *path* is stat'ed or the directory *path* listed (both may block)."""
        self.current, self.is_root = path, is_root
        _test_hang(path)

    def taken_over(self, new: _WalkState) -> None:
        """Make *new* go on after the current directory (the stuck owner of this state keeps it)."""
        new.kept, new.next_root, new.root = self.kept, self.next_root, self.root
        new.stack = list(self.stack)
        new.visited_dirs = set(self.visited_dirs)
        new.seen_files = set(self.seen_files)
        new.gave_up = self.gave_up | {self.current} if self.is_root else set(self.gave_up)


def walk(
    roots: Iterable[str | bytes | os.PathLike[Any]],
    *,
    extensions: Mapping[str, str] | None = None,
    exclusions: Exclusions | None = None,
    follow_symlinks: bool = False,
    on_error: ErrorCallback | None = None,
    report: WalkReport | None = None,
) -> Walk:
    """Walk *roots* and yield each media file once, as a :class:`DiscoveredFile`.

    *extensions* maps extension (case-insensitive, dot optional) to media family; ``None`` means the
    supported table. A root that is a regular file is yielded whatever its extension. Roots are
    deduplicated (:func:`effective_roots`); a root that is itself a symlink is followed. Below the roots,
    symlinks are skipped unless *follow_symlinks*, in which case directories are tracked by
    ``(dev, inode)`` so loops end and each real file is yielded once (through the first path that reaches
    it). Directories are listed in name order, files yielded before subdirectories are entered, and no
    directory handle is held open while the caller processes a file.

    Problems become :class:`WalkIssue` values passed to *on_error* and counted in the :class:`WalkReport`
    (``walk(...).report``, or *report* if given); nothing raises for a bad path.
    """
    rep = report if report is not None else WalkReport()
    gen = _walk(
        roots,
        _normalise_extensions(extensions),
        exclusions if exclusions is not None else _NO_EXCLUSIONS,
        follow_symlinks,
        on_error,
        rep,
    )
    return Walk(rep, gen)


def _walk(
    roots: Iterable[str | bytes | os.PathLike[Any]],
    table: dict[str, str],
    excl: Exclusions,
    follow: bool,
    on_error: ErrorCallback | None,
    rep: WalkReport,
    state: _WalkState | None = None,
) -> Generator[DiscoveredFile, None, None]:
    def issue(kind: IssueKind, path: str, message: str) -> None:
        item = WalkIssue(kind, path, message)
        rep.add(item)
        if on_error is not None:
            on_error(item)

    def link_problem(path: str, exc: OSError) -> None:
        if exc.errno == errno.ELOOP:
            issue(IssueKind.SYMLINK_LOOP, path, "symlink loop: " + _error_text(exc))
        elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
            issue(IssueKind.BROKEN_SYMLINK, path, f"broken symlink (target {_readlink(path)} missing)")
        elif follow:  # a link we were asked to follow leads somewhere unreadable: part of the tree is missed
            issue(IssueKind.UNREADABLE_ENTRY, path, "symlink target unreadable: " + _error_text(exc))

    if state is None:
        state = _WalkState()
    if state.kept is None:  # a fresh walk, or one taken over while resolving the roots

        def resolve(path: str) -> str:
            if path in state.gave_up:
                return path  # it stalled: compared as spelled
            state.entering(path, True)
            return os.path.realpath(path)

        kept, dropped = effective_roots(roots, resolve=resolve)
        rep.roots = tuple(kept)
        rep.roots_dropped.extend(dropped)
        state.kept = kept
    kept = state.kept
    visited_dirs = state.visited_dirs  # only filled when following symlinks
    seen_files = state.seen_files  # idem
    has_globs = excl._glob_re is not None
    exts_excluded = excl.extensions
    prefixes = excl.prefixes
    new_file = tuple.__new__

    stack = state.stack
    while True:
        if not stack:
            if state.next_root >= len(kept):
                break
            root = state.root = kept[state.next_root]
            state.next_root += 1
            if root in state.gave_up:  # already reported: it stalled while the roots were resolved
                continue
            state.entering(root, True)
            try:
                st = os.stat(root)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    what = "broken symlink" if os.path.islink(root) else "does not exist"
                    issue(IssueKind.MISSING_ROOT, root, f"scan root {what}")
                elif exc.errno == errno.ELOOP:
                    issue(IssueKind.MISSING_ROOT, root, "scan root is a symlink loop")
                else:
                    issue(IssueKind.UNREADABLE_DIRECTORY, root, "scan root unreadable: " + _error_text(exc))
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if excl and excl.excludes(root, is_dir=is_dir):
                rep.excluded += 1
                continue
            if stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if follow:
                    if key in seen_files:
                        rep.duplicates_skipped += 1
                        continue
                    seen_files.add(key)
                rep.files_found += 1
                rep.bytes_found += st.st_size
                family = table.get(_extension(os.path.basename(root).lower()))
                yield DiscoveredFile(root, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, family)
                continue
            if not is_dir:
                issue(IssueKind.SPECIAL_FILE, root, f"{file_kind(st.st_mode)}: skipped, never opened")
                continue
            if follow:
                key = (st.st_dev, st.st_ino)
                if key in visited_dirs:
                    issue(IssueKind.ALREADY_VISITED, root, "directory already walked")
                    continue
                visited_dirs.add(key)
            stack.append(root)

        while stack:
            directory = stack.pop()
            state.entering(directory, directory == state.root)
            entries = []
            try:
                with os.scandir(directory) as it:
                    # Listed in full before anything is yielded, so no descriptor stays open while the
                    # caller works; an error mid-listing keeps what was read and reports the directory.
                    for entry in it:
                        entries.append(entry)
                        state.beat += 1  # progress, for a watcher that tells slow storage from dead
            except OSError as exc:
                issue(IssueKind.UNREADABLE_DIRECTORY, directory, _error_text(exc))
                if not entries:
                    continue
            rep.directories_visited += 1
            entries.sort(key=_by_name)
            subdirs: list[str] = []
            for entry in entries:
                state.beat += 1
                name = entry.name
                low = name.lower()
                if low in JUNK_NAMES or low.startswith(JUNK_PREFIXES):
                    rep.junk_skipped += 1
                    continue
                try:
                    entry_is_dir = entry.is_dir(follow_symlinks=False)
                    is_link = not entry_is_dir and entry.is_symlink()
                except OSError as exc:
                    issue(IssueKind.UNREADABLE_ENTRY, entry.path, _error_text(exc))
                    continue

                if entry_is_dir:
                    path = entry.path
                    if (path in prefixes or has_globs) and excl._dir_excluded(path, name):
                        rep.excluded += 1
                        continue
                    if follow:
                        try:
                            dst = entry.stat(follow_symlinks=False)
                        except OSError as exc:
                            issue(IssueKind.UNREADABLE_ENTRY, path, _error_text(exc))
                            continue
                        key = (dst.st_dev, dst.st_ino)
                        if key in visited_dirs:
                            issue(IssueKind.ALREADY_VISITED, path, "directory already walked")
                            continue
                        visited_dirs.add(key)
                    subdirs.append(path)
                    continue

                dot = low.rfind(".")  # inlined _extension(): this loop runs once per file
                ext = low[dot + 1 :] if dot > 0 else ""
                family = table.get(ext)

                if is_link:
                    path = entry.path
                    if not follow:
                        rep.symlinks_skipped += 1
                        if family is not None:
                            # A media-named link the user may expect to be scanned: say if it's dead.
                            try:
                                entry.stat()
                            except OSError as exc:
                                link_problem(path, exc)
                        continue
                    try:
                        lst = entry.stat()
                    except OSError as exc:
                        link_problem(path, exc)
                        continue
                    if stat.S_ISDIR(lst.st_mode):
                        if excl and (
                            excl._dir_excluded(path, name)
                            or excl.excludes(os.path.realpath(path), is_dir=True)
                        ):
                            rep.excluded += 1
                            continue
                        key = (lst.st_dev, lst.st_ino)
                        if key in visited_dirs:
                            issue(IssueKind.ALREADY_VISITED, path, "symlink to a directory already walked")
                            continue
                        visited_dirs.add(key)
                        subdirs.append(path)
                        continue
                    if family is None:
                        rep.not_media += 1
                        continue
                    if excl and (
                        excl._file_excluded(path, name, ext) or excl.excludes(os.path.realpath(path))
                    ):
                        rep.excluded += 1
                        continue
                    if not stat.S_ISREG(lst.st_mode):
                        issue(
                            IssueKind.SPECIAL_FILE,
                            path,
                            f"symlink to a {file_kind(lst.st_mode)}: skipped, never opened",
                        )
                        continue
                    key = (lst.st_dev, lst.st_ino)
                    if key in seen_files:
                        rep.duplicates_skipped += 1
                        continue
                    seen_files.add(key)
                    rep.files_found += 1
                    rep.bytes_found += lst.st_size
                    yield DiscoveredFile(path, lst.st_size, lst.st_mtime_ns, lst.st_ino, lst.st_dev, family)
                    continue

                if family is None:
                    rep.not_media += 1
                    continue
                path = entry.path
                if (ext in exts_excluded or path in prefixes or has_globs) and excl._file_excluded(
                    path, name, ext
                ):
                    rep.excluded += 1
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        mode = entry.stat(follow_symlinks=False).st_mode
                        issue(IssueKind.SPECIAL_FILE, path, f"{file_kind(mode)}: skipped, never opened")
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    issue(IssueKind.VANISHED, path, "deleted while the directory was being walked")
                    continue
                except OSError as exc:
                    issue(IssueKind.UNREADABLE_ENTRY, path, _error_text(exc))
                    continue
                if follow:
                    key = (st.st_dev, st.st_ino)
                    if key in seen_files:
                        rep.duplicates_skipped += 1
                        continue
                    seen_files.add(key)
                rep.files_found += 1
                rep.bytes_found += st.st_size
                # tuple.__new__ directly: the generated NamedTuple __new__ is a Python-level call.
                yield new_file(
                    DiscoveredFile, (path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, family)
                )
            stack.extend(reversed(subdirs))
    rep.finished = True


# ---------------------------------------------------------------------------------------------------------
# The walk with a watchdog
#
# A directory listing (or stat) on a dead NFS or SMB mount blocks in the kernel and can't be interrupted.
# walk_guarded() therefore runs the walk in a daemon thread that hands files over in batches through a
# queue; the caller's thread waits with timeouts, so a cancel takes effect at once, and when the walk makes
# no progress for stall_timeout_s it reports the directory it is stuck in, leaves that thread behind (it holds
# one directory descriptor and nothing else: no lock, no database connection) and goes on in a new thread
# from a copy of the walk's state, with the directories and roots that were still to come.

_BATCH = 256  # files and issues per hand-over
_QUEUE_BATCHES = 16  # batches the walking thread may run ahead of the caller
_POLL_S = 0.1  # how often the caller's thread looks at cancel and progress while it waits
_CLOSE_WAIT_S = 0.3  # how long the caller waits for a walking thread that is not stuck to end


class _Abandoned(Exception):
    """Raised in a walking thread whose walk was given up (stalled, cancelled or closed): it just ends."""


class _Done:
    """The walking thread's last message: the walk ran to its end."""


class _Failed(NamedTuple):
    """The walking thread's last message when the walk raised (a bug): raised again in the caller's thread."""

    error: BaseException


class _GuardedState(_WalkState):
    __slots__ = ("walker",)
    walker: _Walker

    def entering(self, path: str, is_root: bool) -> None:
        # Before a call that may block, hand over what was found so far: the caller gets every file of the
        # directories already listed, even if this one never answers.
        self.walker.flush()
        super().entering(path, is_root)


def _copy_report(src: WalkReport, dst: WalkReport | None = None) -> WalkReport:
    """*src*'s counters and issues in *dst* (a new report if None), sharing no mutable container."""
    dst = dst if dst is not None else WalkReport()
    for f in fields(WalkReport):
        value = getattr(src, f.name)
        if isinstance(value, list | dict):
            value = type(value)(value)
        setattr(dst, f.name, value)
    return dst


class _Walker:
    """One walking thread: runs the walk from *state* into *report* and hands files and issues over."""

    def __init__(self, args: tuple[Any, ...], state: _GuardedState, report: WalkReport) -> None:
        self.args = args  # roots, table, exclusions, follow
        self.state = state
        state.walker = self
        self.report = report
        self.queue: queue.Queue[list[DiscoveredFile | WalkIssue] | _Done | _Failed] = queue.Queue(
            _QUEUE_BATCHES
        )
        self.batch: list[DiscoveredFile | WalkIssue] = []
        self.abandoned = False
        self.thread = threading.Thread(target=self._run, name="pixelprobe-walk", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        roots, table, excl, follow = self.args
        try:
            # Issues travel in the batches too, so the caller's on_error runs in the caller's thread.
            for f in _walk(roots, table, excl, follow, self._issue, self.report, self.state):
                self.batch.append(f)
                if len(self.batch) >= _BATCH:
                    self.flush()
            self.flush()
            self.report.finished = True
            self._put(_Done())
        except _Abandoned:
            return
        except BaseException as exc:  # a bug in the walk: the caller raises it, it must not vanish here
            try:
                self._put(_Failed(exc))
            except _Abandoned:
                return

    def _issue(self, item: WalkIssue) -> None:
        self.batch.append(item)

    def flush(self) -> None:
        """Hand the batch over (waits while the caller is behind; ends the thread if it was abandoned)."""
        if self.abandoned:
            raise _Abandoned
        if self.batch:
            batch, self.batch = self.batch, []
            self._put(batch)

    def _put(self, message: Any) -> None:
        while True:
            if self.abandoned:
                raise _Abandoned
            try:
                self.queue.put(message, timeout=_POLL_S)
                return
            except queue.Full:
                continue


def _unavailable_root(root: str, stall_timeout_s: float) -> WalkIssue:
    message = f"scan root unavailable: no answer from storage for {stall_timeout_s:g} s; not walked"
    return WalkIssue(IssueKind.UNAVAILABLE_ROOT, root, message)


class GuardedWalk(Iterator[DiscoveredFile]):
    """The iterator returned by :func:`walk_guarded`: a :class:`Walk` that a blocked listing can't hang."""

    def __init__(
        self,
        args: tuple[Any, ...],
        on_error: ErrorCallback | None,
        report: WalkReport | None,
        stall_timeout_s: float,
        cancelled: Callable[[], bool] | None,
        resolved: ResolvedRoots | None = None,
    ) -> None:
        self._args = args
        self._on_error = on_error
        self._given_report = report
        self._stall_s = stall_timeout_s
        self._cancelled = cancelled
        self._items: list[DiscoveredFile | WalkIssue] = []
        self._pos = 0
        self._ended = False
        self.stalled: list[str] = []  # directories (and roots) given up on, in order
        # Each walking thread fills its own report: one left stuck may wake later, and must then write
        # to nothing anyone reads. The given report receives the final counts when the walk ends.
        live = WalkReport()
        state = _GuardedState()
        if resolved is not None:  # roots resolved (with a time limit) by the caller: not done again
            state.kept = list(resolved.kept)
            live.roots = tuple(resolved.kept)
            live.roots_dropped.extend(resolved.dropped)
            state.gave_up.update(resolved.unanswered)
            for root in resolved.unanswered:
                issue = _unavailable_root(root, stall_timeout_s)
                live.add(issue)
                self._items.append(issue)  # to on_error at the first next()
                self.stalled.append(root)
        self._walker = _Walker(args, state, live)
        self._beat_seen = -1
        self._progress_at = time.monotonic()

    @property
    def report(self) -> WalkReport:
        """The walk's counters so far (read it again after a stall: the walk goes on in a new report). Once
        the walk has ended, the *report* given to :func:`walk_guarded`, if any, holds the final counts."""
        return self._walker.report

    def __iter__(self) -> Iterator[DiscoveredFile]:
        return self

    def __next__(self) -> DiscoveredFile:
        while True:
            if self._pos < len(self._items):
                item = self._items[self._pos]
                self._pos += 1
                if type(item) is WalkIssue:
                    if self._on_error is not None:
                        self._on_error(item)
                    continue
                return item  # type: ignore[return-value]
            self._items, self._pos = [], 0
            if self._ended:
                raise StopIteration
            self._wait()

    def _wait(self) -> None:
        """Take the next batch, or end the walk (done or cancelled), or give up on a stalled directory."""
        w = self._walker
        while True:
            if self._cancelled is not None and self._cancelled():
                self.close()
                return
            try:
                message = w.queue.get(timeout=_POLL_S)
            except queue.Empty:
                now = time.monotonic()
                if w.state.beat != self._beat_seen:
                    self._beat_seen = w.state.beat
                    self._progress_at = now
                elif now - self._progress_at >= self._stall_s:
                    self._take_over()
                    return
                continue
            self._progress_at = time.monotonic()
            if isinstance(message, list):
                self._items = message
            elif isinstance(message, _Done):
                self._end()
                w.thread.join(_CLOSE_WAIT_S)
            else:
                self._end()
                raise message.error
            return

    def _take_over(self) -> None:
        """The walking thread is stuck: report where, leave it, and go on in a new thread after that place."""
        old = self._walker
        old.abandoned = True
        state = old.state
        path, is_root = state.current, state.is_root
        # A snapshot taken while the old thread is blocked; if it ever wakes it writes only to its own
        # report and state, and ends at its next hand-over.
        report = _copy_report(old.report)
        items = list(old.batch)  # found in the stuck directory before it stalled: still real files
        secs = f"{self._stall_s:g} s"
        if is_root:
            issue = _unavailable_root(path, self._stall_s)
        else:
            issue = WalkIssue(
                IssueKind.STALLED_DIRECTORY,
                path,
                f"no answer from storage for {secs} while listing or examining this directory; rest of it skipped",
            )
        report.add(issue)
        self.stalled.append(path)
        new_state = _GuardedState()
        state.taken_over(new_state)
        self._walker = _Walker(self._args, new_state, report)
        self._items, self._pos = [*items, issue], 0
        self._beat_seen = -1
        self._progress_at = time.monotonic()

    def _end(self) -> None:
        self._ended = True
        if self._given_report is not None and self._walker.report is not self._given_report:
            _copy_report(self._walker.report, self._given_report)
            self._walker.report = self._given_report

    def close(self) -> None:
        """Stop the walk early (the report stays ``finished=False``). A walking thread that is not stuck
        in the kernel ends soon after; a stuck one is left behind."""
        self._items, self._pos = [], 0
        if self._ended:
            return
        w = self._walker
        w.abandoned = True
        self._end()
        w.thread.join(_CLOSE_WAIT_S)


def walk_guarded(
    roots: Iterable[str | bytes | os.PathLike[Any]],
    *,
    stall_timeout_s: float,
    cancelled: Callable[[], bool] | None = None,
    extensions: Mapping[str, str] | None = None,
    exclusions: Exclusions | None = None,
    follow_symlinks: bool = False,
    on_error: ErrorCallback | None = None,
    report: WalkReport | None = None,
    resolved: ResolvedRoots | None = None,
) -> GuardedWalk:
    """:func:`walk` run so that storage that stops answering can't hang the caller.

    The walk runs in a daemon thread; the caller's thread waits for it with timeouts. When the walk makes
    no progress for *stall_timeout_s* (one listing or stat that doesn't return: a dead network mount), the
    directory it is stuck in is reported as a :class:`WalkIssue` (``STALLED_DIRECTORY``, or
    ``UNAVAILABLE_ROOT`` for a root; both make the report incomplete) and the walk goes on with the
    directories and roots still to come, in a new thread; the stuck one is left blocked. When *cancelled*
    returns True, the iteration ends within a fraction of a second, even during a blocked listing. A
    *stall_timeout_s* of 0 (stall detection off, as for checks) never gives up on a listing. *resolved*:
    the roots as :func:`resolve_roots_within` gave them for *roots* (not resolved again; the unanswered
    ones are reported unavailable at once).

    Same arguments and results as :func:`walk` otherwise, with one difference in order: *on_error* is called
    in the caller's thread, when the iteration reaches the issue.
    """
    args = (
        roots,
        _normalise_extensions(extensions),
        exclusions if exclusions is not None else _NO_EXCLUSIONS,
        follow_symlinks,
    )
    patience = stall_timeout_s if stall_timeout_s > 0 else float("inf")
    return GuardedWalk(args, on_error, report, patience, cancelled, resolved)


def _readlink(path: str) -> str:
    try:
        return display_path(os.readlink(path))
    except OSError:
        return "?"


# ---------------------------------------------------------------------------------------------------------
# Paths in the database and on screen
#
# POSIX names are bytes; Python hands names that are not valid UTF-8 over as str with surrogate escapes
# (byte 0xNN -> U+DCNN), which a UTF-8 TEXT column rejects. The database form maps each such escaped byte to
# a code point at the top of Unicode's last private-use plane, U+10FD00 + byte (U+10FD80..U+10FDFF). A path
# that is valid UTF-8 is stored unchanged, with one exception that keeps the mapping reversible: a path that
# itself contains one of those 128 private-use characters has that character's UTF-8 bytes stored through
# the same mapping. Decoding maps every reserved code point back to its byte, every other character to its
# UTF-8 bytes, and decodes the bytes with surrogateescape, which yields the original string exactly.

#
# Long paths. A database index entry has a size limit (PostgreSQL's btree: 2704 bytes), and Linux allows paths
# of 4095 bytes (up to four times that in database form when bytes are escaped). The database form of a path
# longer than DB_PATH_MAX_BYTES is therefore a *key*: its first bytes, U+10FD00, a digest of the whole form,
# U+10FD00, the end of its file name. The key is unique and stable, keeps its path's place in the ordering,
# and fits any index; the whole form goes in ``scan_results.file_path_full`` (``path_to_db(path,
# full=True)``), and :func:`path_from_row` gives the path back from the two. U+10FD00..U+10FD7F in a real
# name are escaped like U+10FD80..U+10FDFF, so a key can't be mistaken for a name.

_DB_BASE = 0x10FD00
_DB_LOW = _DB_BASE + 0x80
_DB_HIGH = _DB_BASE + 0xFF
_NEEDS_DB_ESCAPE = re.compile("[\ud800-\udfff\U0010fd00-\U0010fdff]")
_RESERVED = re.compile("[\U0010fd00-\U0010fdff]")

#: The longest database form (UTF-8 bytes) stored as itself in ``scan_results.file_path``.
DB_PATH_MAX_BYTES = 2000
_SURELY_SHORT = DB_PATH_MAX_BYTES // 4  # characters: text this short fits whatever its characters
_KEY_MARK = chr(_DB_BASE)
_KEY_HEAD_BYTES = 1200
_KEY_TAIL_BYTES = 400
_KEY_DIGEST_CHARS = 40  # hex of SHA-256: 160 bits


def _escape_for_db(path: str) -> str:
    out: list[str] = []
    for ch in path:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(chr(_DB_BASE + (o - 0xDC00)))
        elif _DB_BASE <= o <= _DB_HIGH:
            out.extend(chr(_DB_BASE + b) for b in ch.encode("utf-8"))
        elif 0xD800 <= o <= 0xDFFF:
            raise ValueError(f"not a file system path (lone surrogate U+{o:04X}): {display_path(path)}")
        else:
            out.append(ch)
    return "".join(out)


def _utf8_prefix(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _utf8_suffix(text: str, limit: int) -> str:
    return text.encode("utf-8")[-limit:].decode("utf-8", "ignore")


def db_path_key(text: str) -> str:
    """The index key stored in ``file_path`` for the database form *text* when that is longer than
    :data:`DB_PATH_MAX_BYTES` (*text* itself otherwise)."""
    if len(text) <= _SURELY_SHORT or len(text.encode("utf-8")) <= DB_PATH_MAX_BYTES:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_KEY_DIGEST_CHARS]
    name = text[text.rfind("/") + 1 :]
    head = _utf8_prefix(text, _KEY_HEAD_BYTES)
    return f"{head}{_KEY_MARK}{digest}{_KEY_MARK}{_utf8_suffix(name, _KEY_TAIL_BYTES)}"


def is_db_path_key(text: str) -> bool:
    """Whether *text* (a stored ``file_path``) is the key of a long path rather than the path itself."""
    return _KEY_MARK in text


def path_to_db(path: str, *, full: bool = False) -> str:
    """Valid UTF-8 text for *path* (an ``os.fsdecode`` string), reversible with :func:`path_from_db`.

    A path whose text is longer than :data:`DB_PATH_MAX_BYTES` gives its index key (:func:`db_path_key`)
    unless *full*: use the default for ``scan_results.file_path`` (and lookups by it), ``full=True`` for
    ``file_path_full`` and columns that are not indexed. Raises ``ValueError`` for a string that no byte
    path decodes to (a surrogate outside U+DC80..U+DCFF).
    """
    text = path if path.isascii() or _NEEDS_DB_ESCAPE.search(path) is None else _escape_for_db(path)
    return text if full else db_path_key(text)


def _decode_db(text: str) -> str:
    raw = bytearray()
    for ch in text:
        o = ord(ch)
        if _DB_LOW <= o <= _DB_HIGH:
            raw.append(o - _DB_BASE)
        else:
            raw += ch.encode("utf-8")
    return bytes(raw).decode("utf-8", "surrogateescape")


def path_from_db(text: str) -> str:
    """The path stored by :func:`path_to_db`.

    For the key of a long path (:func:`is_db_path_key`) this can only be a stand-in for showing: its
    beginning, an ellipsis, the end of its name. :func:`path_from_row` gives the real path from the row.
    """
    if text.isascii() or _RESERVED.search(text) is None:
        return text
    if _KEY_MARK in text:
        head, _, rest = text.partition(_KEY_MARK)
        return _decode_db(head) + "\u2026" + _decode_db(rest.partition(_KEY_MARK)[2])
    return _decode_db(text)


def path_from_row(file_path: str, file_path_full: str | None) -> str:
    """The real path of a ``scan_results`` row from its ``file_path`` and ``file_path_full`` columns."""
    return path_from_db(file_path_full if file_path_full else file_path)


_DISPLAY_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Invisible or text-reordering characters that could make one name look like another.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Cn"})


def display_path(path: str | bytes | os.PathLike[Any]) -> str:
    """*path* made safe to print: control, format and bidi characters become escapes (``\\n``, ``\\x1b``,
    ``\\u202e``), and bytes that are not UTF-8 show as ``\\xNN``. Only for showing: it does not round-trip
    (a literal backslash is not escaped)."""
    text = os.fsdecode(path)
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        o = ord(ch)
        if ch in _DISPLAY_ESCAPES:
            out.append(_DISPLAY_ESCAPES[ch])
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x100 and (o < 0x20 or 0x7F <= o < 0xA0):
            out.append(f"\\x{o:02x}")
        elif unicodedata.category(ch) in _HIDDEN_CATEGORIES:
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------
# Paths in JSON
#
# JSON text is Unicode, a POSIX name is bytes. Every path the CLI prints as JSON is a string field that is the
# exact name when the name is valid UTF-8 (JSON escapes control characters, so nothing raw reaches a terminal),
# and otherwise the name with each invalid byte shown as U+FFFD; then, and only then, a sibling field with the
# same key plus ``_b64`` carries the raw bytes in base64, so a script gets the real name back:
# ``base64.b64decode(rec["file_path_b64"]) if "file_path_b64" in rec else rec["file_path"].encode()``.

JSON_BYTES_SUFFIX = "_b64"


def _raw_name(path: str | bytes | os.PathLike[Any]) -> bytes:
    try:
        return os.fsencode(path)
    except UnicodeEncodeError:  # a surrogate no byte decodes to: not a real name, but never a crash
        return os.fspath(path).encode("utf-8", "surrogatepass")  # type: ignore[union-attr]


def path_text(path: str | bytes | os.PathLike[Any]) -> str:
    """*path* as Unicode text that any JSON parser accepts: exact when the name is valid UTF-8, each
    invalid byte as U+FFFD otherwise."""
    return _raw_name(path).decode("utf-8", "replace")


def path_bytes_b64(path: str | bytes | os.PathLike[Any]) -> str | None:
    """The raw bytes of *path* in base64 when the name is not valid UTF-8 (:func:`path_text` is then lossy);
    ``None`` when it is."""
    raw = _raw_name(path)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")
    return None


def json_path_fields(key: str, path: str | bytes | os.PathLike[Any]) -> dict[str, str]:
    """``{key: text}`` for a JSON record, plus ``{key + "_b64": raw bytes}`` when the name is not UTF-8."""
    out = {key: path_text(path)}
    if (b64 := path_bytes_b64(path)) is not None:
        out[key + JSON_BYTES_SUFFIX] = b64
    return out


def json_path_list_fields(key: str, paths: Iterable[str | bytes | os.PathLike[Any]]) -> dict[str, list[Any]]:
    """The list form of :func:`json_path_fields`: ``{key: [text, ...]}``, plus ``{key + "_b64": [...]}``
    (base64 or ``None`` per entry, in the same order) when any name is not UTF-8."""
    items = list(paths)
    out: dict[str, list[Any]] = {key: [path_text(p) for p in items]}
    raw = [path_bytes_b64(p) for p in items]
    if any(r is not None for r in raw):
        out[key + JSON_BYTES_SUFFIX] = raw
    return out


def json_safe(value: Any) -> Any:
    """*value* (nested dicts, lists, tuples) with every string that holds surrogate escapes (a message
    quoting a name that is not UTF-8) made valid text by :func:`path_text`, so strict JSON parsers accept
    it. Use :func:`json_path_fields` for the path fields themselves, which must stay lossless."""
    if isinstance(value, str):
        return value if value.isascii() or _SURROGATES.search(value) is None else path_text(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


_SURROGATES = re.compile("[\ud800-\udfff]")
