"""``pixelprobe config`` in a subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run(database_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI; PIXELPROBE_* variables of the test environment are not passed on."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPROBE_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "--database-url", database_url, "config", *args],
        capture_output=True,
        text=True,
        env=clean,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def shown(database_url: str, env: dict[str, str] | None = None) -> dict[str, dict]:
    out = run(database_url, "show", "--json", env=env)
    assert out.returncode == 0, out.stderr
    return {item["key"]: item for item in json.loads(out.stdout)}


def assert_one_line_error(out: subprocess.CompletedProcess[str], text: str) -> None:
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("pixelprobe: error: ")
    assert text in lines[0]
    assert "Traceback" not in out.stderr


def test_set_then_show(database_url):
    out = run(database_url, "set", "workers", "4")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("workers = 4 (was ")

    table = run(database_url, "show")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "SOURCE"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["workers"] == ["4", "database"]
    assert rows["log_retention_days"] == ["30", "default"]
    assert rows["stall_timeout_s"] == ["60", "default"]

    values = shown(database_url)
    assert (values["workers"]["value"], values["workers"]["source"]) == (4, "database")
    assert values["workers"]["store"] == "scan_configurations"
    assert values["log_retention_days"]["store"] == "app_config"


def test_set_option_after_subcommand_and_unset(database_url, tmp_path):
    # --database-url is accepted after the subcommand too.
    out = subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "config", "set", "log_level", "debug", "--database-url",
         database_url],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert shown(database_url)["log_level"]["value"] == "DEBUG"
    out = run(database_url, "unset", "log_level")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "log_level: stored value removed; now INFO (default)"
    assert shown(database_url)["log_level"]["source"] == "default"


def test_list_values_and_missing_path_warning(database_url, tmp_path):
    here = tmp_path / "movies"
    here.mkdir()
    missing = tmp_path / "usb-drive"
    out = run(database_url, "set", "scan_paths", str(here), str(missing))
    assert out.returncode == 0, out.stderr
    assert "does not exist now" in out.stderr and "Traceback" not in out.stderr
    assert shown(database_url)["scan_paths"]["value"] == [str(here), str(missing)]


def test_environment_override_is_shown_with_its_source(database_url):
    assert run(database_url, "set", "workers", "2").returncode == 0
    env = {"PIXELPROBE_WORKERS": "3"}
    values = shown(database_url, env=env)
    assert (values["workers"]["value"], values["workers"]["source"]) == (3, "environment")
    out = run(database_url, "set", "workers", "5", env=env)
    assert out.returncode == 0
    assert "PIXELPROBE_WORKERS is set in the environment" in out.stderr
    # An invalid override does not stop `config show`: it is shown next to the value that applies.
    table = run(database_url, "show", "workers", env={"PIXELPROBE_WORKERS": "lots"})
    assert table.returncode == 0, table.stderr
    assert "5" in table.stdout.splitlines()[1] and "database" in table.stdout.splitlines()[1]
    assert "PIXELPROBE_WORKERS: workers must be an integer from 1 to 64, got 'lots'" in table.stdout


BAD_INPUT = [
    (["set", "wokers", "4"], "unknown config key 'wokers' (did you mean 'workers'?)"),
    (["set", "workers", "many"], "workers must be an integer from 1 to 64, got 'many'"),
    (["set", "workers", "4", "5"], "workers takes one value, got 2"),
    (["set", "log_level", "loud"], "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    (["set", "scan_paths", "relative/dir"], "scan_paths entries must be absolute paths"),
    (["unset", "wrokers"], "unknown config key 'wrokers' (did you mean 'workers'?)"),
    (["show", "nope"], "unknown config key 'nope'"),
]


def test_bad_input_is_one_line_exit_2_and_changes_nothing(database_url):
    for args, message in BAD_INPUT:
        assert_one_line_error(run(database_url, *args), message)
    values = shown(database_url)
    assert {v["source"] for v in values.values()} == {"default"}
