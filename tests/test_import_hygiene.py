"""Layering: the headless parts (core, db, services, the CLI and every command module) never import Textual,
and only the TUI package does."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys

import pytest

import pixelprobe_tui
import pixelprobe_tui.commands
import pixelprobe_tui.core
import pixelprobe_tui.services

HEADLESS = [
    "pixelprobe_tui",
    "pixelprobe_tui.cli",
    "pixelprobe_tui.db.engine",
    "pixelprobe_tui.db.models",
    "pixelprobe_tui.db.migrate",
    "pixelprobe_tui.db.repositories",
    "pixelprobe_tui.tui.launch",
    *sorted(f"pixelprobe_tui.core.{m.name}" for m in pkgutil.iter_modules(pixelprobe_tui.core.__path__)),
    *sorted(
        f"pixelprobe_tui.services.{m.name}" for m in pkgutil.iter_modules(pixelprobe_tui.services.__path__)
    ),
    *sorted(
        f"pixelprobe_tui.commands.{m.name}" for m in pkgutil.iter_modules(pixelprobe_tui.commands.__path__)
    ),
]

PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(",".join(bad))
"""


def _textual_modules_after_importing(*modules: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_headless_modules_never_import_textual() -> None:
    assert _textual_modules_after_importing(*HEADLESS) == ""


def test_building_the_cli_parser_does_not_import_textual() -> None:
    probe = "from pixelprobe_tui.cli import build_parser; build_parser().parse_args(['config', 'show'])"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            probe + "; import sys; print(any(m.startswith('textual') for m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


@pytest.mark.parametrize("module", ["pixelprobe_tui.tui.app"])
def test_the_probe_does_see_textual_when_the_tui_is_imported(module: str) -> None:
    # Guards the test above against a probe that can never find anything.
    assert "textual" in _textual_modules_after_importing(module).split(",")


def _modules_loaded_by_cli(argv: list[str], prefixes: tuple[str, ...]) -> tuple[int, list[str]]:
    probe = (
        "import sys; from pixelprobe_tui.cli import main; code = main(sys.argv[2:]); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules if m.startswith({prefixes!r})}}))"
        "; sys.stdout.flush(); import os; os._exit(code)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "--", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, ast.literal_eval(proc.stdout.strip().splitlines()[-1])


def test_check_starts_without_the_database_layers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    picture = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(picture)
    layers = ("sqlalchemy", "alembic", "textual", "psycopg")
    code, loaded = _modules_loaded_by_cli(["check", str(picture)], layers)
    assert (code, loaded) == (0, [])
    # The probe sees them when a command does need the database.
    code, loaded = _modules_loaded_by_cli(
        ["--database-url", f"sqlite:///{tmp_path / 'x.db'}", "results", "--status", "all"], layers
    )
    assert code == 0 and {"sqlalchemy", "alembic"} <= set(loaded)


def test_commands_registered_under_another_module_still_parse() -> None:
    from pixelprobe_tui.cli import build_parser

    for argv in (["mark-good", "x"], ["run-due"], ["daemon"], ["scan"], ["check", "x"]):
        assert build_parser(argv[0]).parse_args(argv).command == argv[0]
