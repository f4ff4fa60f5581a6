"""Configuration: one typed registry of settings over the ScanConfiguration and AppConfig tables.

Each setting has a key, a kind (which fixes its type, its text syntax and its validation), a default, a
description, and the table that stores it: scan settings live in ``scan_configurations`` (``value`` is JSON),
application settings in ``app_config`` (``value`` is text). The effective value of a setting comes from, in
order of precedence:

1. the environment variable ``PIXELPROBE_<KEY>`` (e.g. ``PIXELPROBE_WORKERS=4``; an empty variable counts
   as unset), so a script or a container can override one run without touching the database;
2. the database row written by ``pixelprobe config set``;
3. the built-in default.

Text syntax (the CLI and environment variables): integers and numbers as usual; booleans as
true/false, yes/no, on/off, 1/0; lists as a JSON array, or separated by ``os.pathsep`` (paths) or commas
(logger names).

``scan_paths`` entries must be absolute directories. A path that does not exist right now is accepted with
a warning (removable drives and network mounts come and go; the scan reports it as missing when it runs),
but a path that exists and is not a directory is refused.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import AppConfig, ScanConfiguration
from pixelprobe_tui.errors import ConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "PIXELPROBE_"

Store = Literal["scan", "app"]
Kind = Literal["int", "float", "bool", "choice", "path_list", "name_list"]
Source = Literal["default", "database", "environment"]

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def default_workers() -> int:
    """The CPUs this process may run on (affinity-aware where the OS tells), clamped to 1..64."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(64, n))


@dataclass(frozen=True)
class Setting:
    """One configurable value: its type, bounds, default, documentation and storage table."""

    key: str
    kind: Kind
    default: Callable[[], Any]
    description: str
    store: Store
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.key.upper()


def _const(value: Any) -> Callable[[], Any]:
    return lambda: value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "scan_paths",
        "path_list",
        _const(()),
        "Directories scanned when no path is given (absolute; list as JSON or separated by os.pathsep).",
        "scan",
    ),
    Setting(
        "workers",
        "int",
        default_workers,
        "Files checked in parallel, one checker process each (default: the CPUs available).",
        "scan",
        1,
        64,
    ),
    Setting(
        "check_timeout_min_s",
        "float",
        _const(120.0),
        "Shortest time limit for checking one file, in seconds; the limit grows with size and duration.",
        "scan",
        1,
        86400,
    ),
    Setting(
        "check_timeout_per_mb_s",
        "float",
        _const(1.0),
        "Extra time limit per MB of file size, in seconds (the larger of the size and duration limits applies).",
        "scan",
        0,
        3600,
    ),
    Setting(
        "check_timeout_per_media_s",
        "float",
        _const(2.0),
        "Extra time limit per second of playing time, in seconds (2.0 allows decoding at half real time).",
        "scan",
        0,
        3600,
    ),
    Setting(
        "memory_limit_mb",
        "int",
        _const(2048),
        "Memory cap for each checker process in MB; a check that exceeds it fails cleanly. 0 = no cap.",
        "scan",
        0,
        1048576,
    ),
    Setting(
        "stall_timeout_s",
        "float",
        _const(60.0),
        "Seconds a read may make no progress before the file is reported unreadable (storage stall).",
        "scan",
        1,
        86400,
    ),
    Setting(
        "deep_scan_default",
        "bool",
        _const(False),
        "Whether scans decode every frame by default (slower, finds more); --deep/--quick override it.",
        "scan",
    ),
    Setting(
        "max_image_pixels",
        "int",
        _const(250_000_000),
        "Largest image (width x height) that is decoded; bigger ones get a warning instead. 0 = no limit.",
        "scan",
        0,
        10**12,
    ),
    Setting(
        "rescan_unchanged",
        "bool",
        _const(False),
        "Check again files whose size, mtime and inode are unchanged since their last verdict.",
        "scan",
    ),
    Setting(
        "follow_symlinks",
        "bool",
        _const(False),
        "Follow symbolic links to directories and files while discovering.",
        "scan",
    ),
    Setting(
        "log_retention_days",
        "int",
        _const(30),
        "Days log entries are kept in the database before they are purged. 0 = keep forever.",
        "app",
        0,
        36500,
    ),
    Setting(
        "excluded_loggers",
        "name_list",
        _const(("sqlalchemy", "alembic", "asyncio", "PIL")),
        "Loggers (and their children) whose records are not stored in the database (JSON or comma list).",
        "app",
    ),
    Setting(
        "log_level",
        "choice",
        _const("INFO"),
        "Lowest level of log records stored in the database.",
        "app",
        choices=LOG_LEVELS,
    ),
)

REGISTRY: dict[str, Setting] = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The effective configuration, typed. Load it with ``ConfigService(db).load()``."""

    scan_paths: tuple[str, ...]
    workers: int
    check_timeout_min_s: float
    check_timeout_per_mb_s: float
    check_timeout_per_media_s: float
    memory_limit_mb: int
    stall_timeout_s: float
    deep_scan_default: bool
    max_image_pixels: int
    rescan_unchanged: bool
    follow_symlinks: bool
    log_retention_days: int
    excluded_loggers: tuple[str, ...]
    log_level: str

    def check_timeout_for(self, size_bytes: int, duration_s: float | None = None) -> float:
        """Time limit for checking one file: the largest of the minimum, the size and the duration limits."""
        by_size = self.check_timeout_per_mb_s * max(0, size_bytes) / 1_000_000
        by_duration = self.check_timeout_per_media_s * max(0.0, duration_s or 0.0)
        return max(self.check_timeout_min_s, by_size, by_duration)


@dataclass(frozen=True)
class EffectiveValue:
    """One setting as it applies now: its value, where that came from, and any problem with other sources."""

    key: str
    value: Any
    source: Source
    description: str
    store: Store
    default: Any
    problem: str | None = None  # a stored value that was ignored because it is invalid


@dataclass(frozen=True)
class Change:
    """What ``ConfigService.set`` stored, with warnings the user should see."""

    key: str
    value: Any
    previous: Any  # the stored value, or the default, before this change
    warnings: tuple[str, ...] = ()
    overridden_by: str | None = None  # the environment variable that still wins over the stored value


def setting(key: str) -> Setting:
    """The registry entry for ``key``; ConfigError with a suggestion when the key is unknown."""
    try:
        return REGISTRY[key]
    except KeyError:
        pass
    close = difflib.get_close_matches(key.lower(), REGISTRY, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(REGISTRY)}"
    raise ConfigError(f"unknown config key {_show(key)}{hint}")


def _show(raw: Any) -> str:
    """A short one-line rendering of a user-supplied value for error messages."""
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


def _bounds(s: Setting) -> str:
    lo = _num(s.minimum)
    hi = _num(s.maximum)
    return f"from {lo} to {hi}"


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)


def _describe(s: Setting) -> str:
    """The phrase after '<key> must be ...' in error messages."""
    if s.kind == "int":
        return f"an integer {_bounds(s)}"
    if s.kind == "float":
        return f"a number {_bounds(s)}"
    if s.kind == "bool":
        return "true or false (or yes/no, on/off, 1/0)"
    if s.kind == "choice":
        return f"one of {', '.join(s.choices)}"
    if s.kind == "path_list":
        return f"a JSON array of absolute directories or directories separated by {os.pathsep!r}"
    return "a JSON array of logger names or logger names separated by commas"


def parse_text(s: Setting, raw: str) -> tuple[Any, tuple[str, ...]]:
    """Parse and validate a value written as text (CLI argument, environment variable, AppConfig row).

    Returns the value and warnings; raises ConfigError with one line when the text is not valid.
    """
    text = raw.strip()
    bad = ConfigError(f"{s.key} must be {_describe(s)}, got {_show(raw)}")
    if s.kind == "int":
        try:
            value: Any = int(text.replace("_", ""))
            return validate(s, value)
        except (ValueError, ConfigError):
            raise bad from None
    if s.kind == "float":
        try:
            return validate(s, float(text))
        except (ValueError, ConfigError):
            raise bad from None
    if s.kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True, ()
        if low in _FALSE:
            return False, ()
        raise bad
    if s.kind == "choice":
        return validate(s, text)
    # Lists: a JSON array, or a separated list; an empty text is the empty list.
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise bad from None
        if not isinstance(items, list):
            raise bad
        return validate(s, items)
    sep = os.pathsep if s.kind == "path_list" else ","
    items = [part.strip() for part in text.split(sep)]
    return validate(s, [part for part in items if part])


def validate(s: Setting, value: Any) -> tuple[Any, tuple[str, ...]]:
    """Check a typed value (from code or a JSON row) and normalise it to the setting's Python type.

    Strings are parsed as text. Returns the value and warnings; raises ConfigError when invalid.
    """
    if isinstance(value, str) and s.kind not in ("choice",):
        return parse_text(s, value)
    bad = ConfigError(f"{s.key} must be {_describe(s)}, got {_show(value)}")
    if s.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if s.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise bad
                value = int(value)
        else:
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise bad
        if (s.minimum is not None and value < s.minimum) or (s.maximum is not None and value > s.maximum):
            raise bad
        return value, ()
    if s.kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value, ()
    if s.kind == "choice":
        if not isinstance(value, str):
            raise bad
        for choice in s.choices:
            if value.strip().upper() == choice.upper():
                return choice, ()
        raise bad
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise bad
    if s.kind == "path_list":
        return _validate_paths(s, value)
    return _validate_names(s, value)


def _validate_paths(s: Setting, items: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    paths: list[str] = []
    warnings: list[str] = []
    for item in items:
        path = os.path.expanduser(item.strip())
        if not path:
            continue
        if not os.path.isabs(path):
            raise ConfigError(
                f"{s.key} entries must be absolute paths, got {_show(item)} "
                f"(did you mean {_show(os.path.abspath(path))}?)"
            )
        path = os.path.normpath(path)
        if os.path.exists(path):
            if not os.path.isdir(path):
                raise ConfigError(f"{s.key} entry {_show(path)} is not a directory")
        else:
            warnings.append(
                f"{s.key} entry {_show(path)} does not exist now; it will be scanned once it does"
            )
        if path not in paths:
            paths.append(path)
    return tuple(paths), tuple(warnings)


def _validate_names(s: Setting, items: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names: list[str] = []
    for item in items:
        name = item.strip()
        if not name:
            continue
        if any(ch.isspace() for ch in name) or name.startswith(".") or name.endswith(".") or ".." in name:
            raise ConfigError(
                f"{s.key} entries must be logger names like 'sqlalchemy.engine', got {_show(item)}"
            )
        if name not in names:
            names.append(name)
    return tuple(names), ()


def to_text(s: Setting, value: Any) -> str:
    """Render a value in the text syntax ``parse_text`` reads back (used for AppConfig rows and display)."""
    if s.kind == "bool":
        return "true" if value else "false"
    if s.kind in ("path_list", "name_list"):
        return json.dumps(list(value))
    if s.kind == "float":
        return _num(value)
    return str(value)


def to_json(s: Setting, value: Any) -> Any:
    """A value as stored in a ScanConfiguration JSON column."""
    if s.kind in ("path_list", "name_list"):
        return list(value)
    return value


def default_settings(**overrides: Any) -> Settings:
    """Settings with every default, except ``overrides`` (validated like ``ConfigService.set``).

    Handy for tests and for code that runs without a database.
    """
    values = {s.key: validate(s, s.default())[0] for s in SETTINGS}
    for key, value in overrides.items():
        values[key] = validate(setting(key), value)[0]
    return Settings(**values)


class ConfigService:
    """Read and write settings in the database, with environment overrides.

    ``environ`` defaults to ``os.environ``; pass a mapping to read overrides from elsewhere.
    """

    def __init__(self, db: Database, environ: Mapping[str, str] | None = None):
        self.db = db
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    # ----- reading -----

    def _stored(self, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """Raw stored values by key, from both tables (only keys of the registry)."""
        wanted = set(REGISTRY if keys is None else keys)
        scan_keys = [k for k in wanted if REGISTRY[k].store == "scan"]
        app_keys = [k for k in wanted if REGISTRY[k].store == "app"]
        out: dict[str, Any] = {}
        with self.db.session() as s:
            if scan_keys:
                rows = s.execute(
                    sa.select(ScanConfiguration.key, ScanConfiguration.value).where(
                        ScanConfiguration.key.in_(scan_keys)
                    )
                )
                out.update({k: v for k, v in rows})
            if app_keys:
                rows = s.execute(sa.select(AppConfig.key, AppConfig.value).where(AppConfig.key.in_(app_keys)))
                out.update({k: v for k, v in rows})
        return out

    def _resolve(self, s: Setting, stored: Mapping[str, Any], use_env: bool = True) -> EffectiveValue:
        default = validate(s, s.default())[0]
        problem: str | None = None
        env = self.environ.get(s.env_var, "") if use_env else ""
        if env.strip():
            try:
                value = parse_text(s, env)[0]
            except ConfigError as exc:
                problem = f"{s.env_var}: {exc}"
            else:
                return EffectiveValue(s.key, value, "environment", s.description, s.store, default)
        if s.key in stored and stored[s.key] is not None:
            try:
                value = validate(s, stored[s.key])[0]
            except ConfigError as exc:
                problem = problem or f"database value ignored: {exc}"
            else:
                return EffectiveValue(s.key, value, "database", s.description, s.store, default, problem)
        return EffectiveValue(s.key, default, "default", s.description, s.store, default, problem)

    def effective(self, keys: Iterable[str] | None = None) -> list[EffectiveValue]:
        """Every setting (or those in ``keys``) with its effective value and source, in registry order.

        Never raises for an invalid stored value: it is reported in ``problem`` and the next source applies.
        """
        chosen = [s.key for s in SETTINGS] if keys is None else [setting(k).key for k in keys]
        stored = self._stored(chosen)
        return [self._resolve(REGISTRY[k], stored) for k in chosen]

    def load(self) -> Settings:
        """The typed effective configuration.

        An invalid environment override raises ConfigError (the user just set it); an invalid database
        value is ignored with a warning so a bad row cannot keep the app from starting.
        """
        values: dict[str, Any] = {}
        for ev in self.effective():
            if ev.problem and ev.problem.startswith(ENV_PREFIX):
                raise ConfigError(ev.problem)
            if ev.problem:
                log.warning("config %s: %s", ev.key, ev.problem)
            values[ev.key] = ev.value
        return Settings(**values)

    def get(self, key: str) -> Any:
        """The effective value of one setting."""
        return self.effective([key])[0].value

    # ----- writing -----

    def set(self, key: str, raw: Any) -> Change:
        """Validate and store a value in the database. Text is parsed; other values are type-checked.

        Raises ConfigError for an unknown key or an invalid value; nothing is written then.
        """
        s = setting(key)
        value, warnings = parse_text(s, raw) if isinstance(raw, str) else validate(s, raw)
        # What the stored value (or the default) was: an environment override is reported separately.
        previous = self._resolve(s, self._stored([key]), use_env=False).value
        try:
            self._write(s, value)
        except sa.exc.IntegrityError:
            # Another process inserted the same key between our select and insert: now it is an update.
            self._write(s, value)
        env = self.environ.get(s.env_var, "")
        return Change(key, value, previous, warnings, s.env_var if env.strip() else None)

    def _write(self, s: Setting, value: Any) -> None:
        key = s.key
        with self.db.session() as session:
            if s.store == "scan":
                row = session.scalars(
                    sa.select(ScanConfiguration).where(ScanConfiguration.key == key)
                ).first()
                if row is None:
                    session.add(ScanConfiguration(key=key, value=to_json(s, value)))
                else:
                    row.value = to_json(s, value)
            else:
                app = session.scalars(sa.select(AppConfig).where(AppConfig.key == key)).first()
                if app is None:
                    session.add(AppConfig(key=key, value=to_text(s, value), description=s.description))
                else:
                    app.value = to_text(s, value)
                    app.description = s.description

    def unset(self, key: str) -> bool:
        """Remove the stored value so the default (or an environment override) applies. True if one existed."""
        s = setting(key)
        model = ScanConfiguration if s.store == "scan" else AppConfig
        with self.db.session() as session:
            result = cast("sa.CursorResult[Any]", session.execute(sa.delete(model).where(model.key == key)))
            return bool(result.rowcount)


def describe_value(key: str, value: Any) -> str:
    """A value in the text syntax accepted by ``pixelprobe config set``."""
    return to_text(setting(key), value)
