"""Completion of file-system paths in an Input (accept the grey suggestion with the right arrow key).

The directory listing runs in a thread with a short deadline, so a dead network mount never freezes the
screen: a slow directory simply gives no suggestion.
"""

from __future__ import annotations

import asyncio
import os

from textual.suggester import Suggester

LIST_DEADLINE_S = 0.5
MAX_ENTRIES = 5000


def _entries(directory: str) -> list[tuple[str, bool]]:
    """Names in *directory* (sorted, hidden ones last) with whether each is a directory."""
    out: list[tuple[str, bool]] = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                out.append((entry.name, is_dir))
                if len(out) >= MAX_ENTRIES:
                    break
    except OSError:
        return []
    out.sort(key=lambda e: (e[0].startswith("."), e[0]))
    return out


def complete(value: str, separator: str = os.pathsep) -> str | None:
    """The completed form of the last path in *value* (several are separated by *separator*), or None.

    Only a unique continuation is suggested beyond the common prefix of the matches; a directory gets a
    trailing slash so the next completion can go on inside it.
    """
    head, sep, last = value.rpartition(separator)
    if not last:
        return None
    expanded = os.path.expanduser(last)
    directory, prefix = os.path.split(expanded)
    matches = [(n, d) for n, d in _entries(directory or ".") if n.startswith(prefix)]
    if not prefix:
        matches = [(n, d) for n, d in matches if not n.startswith(".")]
    if not matches:
        return None
    if len(matches) == 1:
        name, is_dir = matches[0]
        tail = name + ("/" if is_dir else "")
    else:
        tail = os.path.commonprefix([n for n, _ in matches])
    if len(tail) <= len(prefix):
        return None
    return head + sep + last + tail[len(prefix) :]


class PathSuggester(Suggester):
    """Suggests the completion of the last path typed (see :func:`complete`)."""

    def __init__(self, separator: str = os.pathsep) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.separator = separator

    async def get_suggestion(self, value: str) -> str | None:
        try:
            return await asyncio.wait_for(asyncio.to_thread(complete, value, self.separator), LIST_DEADLINE_S)
        except (TimeoutError, OSError, ValueError):
            return None
