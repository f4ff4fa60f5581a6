"""``pixelprobe config``: show the effective settings and where each comes from, set or unset one."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pixelprobe_tui.commands import add_database_option, database_from_args
from pixelprobe_tui.core.discovery import json_path_list_fields, json_safe
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.config import (
    SETTINGS,
    ConfigService,
    EffectiveValue,
    describe_value,
    parse_text,
    setting,
    validate,
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``config show``, ``config set`` and ``config unset``."""
    config = subparsers.add_parser(
        "config",
        help="show or change settings (scan paths, workers, timeouts, logging ...)",
        description="Settings live in the database; PIXELPROBE_<KEY> environment variables override them.",
    )
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="print every effective value and where it came from")
    show.add_argument("keys", nargs="*", metavar="KEY", help="only these settings")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument("-v", "--verbose", action="store_true", help="also describe each setting")
    add_database_option(show)
    show.set_defaults(func=run_show)

    keys = ", ".join(s.key for s in SETTINGS)
    set_ = actions.add_parser(
        "set",
        help="store a value in the database",
        description=f"Store a value in the database. Keys: {keys}. Lists take a JSON array or several VALUEs.",
    )
    set_.add_argument("key", metavar="KEY")
    set_.add_argument("values", nargs="+", metavar="VALUE")
    add_database_option(set_)
    set_.set_defaults(func=run_set)

    unset = actions.add_parser("unset", help="remove a stored value, so the default applies again")
    unset.add_argument("key", metavar="KEY")
    add_database_option(unset)
    unset.set_defaults(func=run_unset)


def _source(ev: EffectiveValue) -> str:
    if ev.source == "environment":
        return f"environment ({setting(ev.key).env_var})"
    return ev.source


def run_show(args: argparse.Namespace) -> int:
    """Print the effective configuration as a table (or JSON with --json)."""
    for key in args.keys:
        setting(key)  # an unknown key fails before the database is opened
    db = database_from_args(args)
    try:
        values = ConfigService(db).effective(args.keys or None)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps([_as_json(ev) for ev in values], indent=2))
        return 0
    rows = [(ev.key, describe_value(ev.key, ev.value), _source(ev)) for ev in values]
    width_key = max(len("KEY"), *(len(r[0]) for r in rows))
    width_value = max(len("VALUE"), *(len(r[1]) for r in rows))
    print(f"{'KEY':<{width_key}}  {'VALUE':<{width_value}}  SOURCE")
    for ev, (key, value, source) in zip(values, rows, strict=True):
        print(f"{key:<{width_key}}  {value:<{width_value}}  {source}".rstrip())
        if args.verbose:
            print(f"{'':<{width_key}}  {ev.description}")
        if ev.problem:
            print(f"{'':<{width_key}}  ! {ev.problem}")
    return 0


def _as_json(ev: EffectiveValue) -> dict[str, Any]:
    s = setting(ev.key)
    value = list(ev.value) if isinstance(ev.value, tuple) else ev.value
    default = list(ev.default) if isinstance(ev.default, tuple) else ev.default
    out = {
        "key": ev.key,
        "value": value,
        "source": ev.source,
        "default": default,
        "store": "scan_configurations" if ev.store == "scan" else "app_config",
        "env_var": s.env_var,
        "description": ev.description,
        "problem": ev.problem,
    }
    if s.kind == "path_list" and isinstance(value, list):
        # The CLI's one rule for paths in JSON: text, plus value_b64 for names that are not UTF-8.
        out.update(json_path_list_fields("value", [str(v) for v in value]))
    return json_safe(out)


def run_set(args: argparse.Namespace) -> int:
    """Validate and store one value; warnings and environment overrides are reported on stderr."""
    s = setting(args.key)
    if len(args.values) == 1:
        raw: Any = args.values[0]
    elif s.kind in ("path_list", "name_list"):
        raw = list(args.values)  # one list element per argument: `config set scan_paths /a /b`
    else:
        raise ConfigError(f"{s.key} takes one value, got {len(args.values)}")
    # Validate before opening the database, so a typo costs nothing and changes nothing.
    if isinstance(raw, str):
        parse_text(s, raw)
    else:
        validate(s, raw)
    db = database_from_args(args)
    try:
        change = ConfigService(db).set(s.key, raw)
    finally:
        db.dispose()
    for warning in change.warnings:
        print(f"pixelprobe: warning: {warning}", file=sys.stderr)
    print(f"{s.key} = {describe_value(s.key, change.value)} (was {describe_value(s.key, change.previous)})")
    if change.overridden_by:
        print(
            f"pixelprobe: note: {change.overridden_by} is set in the environment and overrides this value",
            file=sys.stderr,
        )
    return 0


def run_unset(args: argparse.Namespace) -> int:
    """Remove the stored value of one setting and say what applies now."""
    s = setting(args.key)
    db = database_from_args(args)
    try:
        service = ConfigService(db)
        removed = service.unset(s.key)
        now = service.effective([s.key])[0]
    finally:
        db.dispose()
    what = "stored value removed" if removed else "no stored value"
    print(f"{s.key}: {what}; now {describe_value(s.key, now.value)} ({_source(now)})")
    return 0
