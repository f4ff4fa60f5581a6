"""Starting the TUI: the terminal environment over SSH, the key map file, and `pixelprobe` without a command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.tui.launch import is_remote_session, keymap_path, load_keymap, prepare_environment


def test_ssh_turns_animations_off_and_throttles_repaints() -> None:
    env = {"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22", "TERM": "xterm-256color"}
    assert prepare_environment(env) is True
    assert env["TEXTUAL_ANIMATIONS"] == "none" and env["TEXTUAL_FPS"] == "15"


def test_a_local_terminal_keeps_the_defaults_and_user_choices_win() -> None:
    local = {"TERM": "xterm-256color"}
    assert prepare_environment(local) is False
    assert "TEXTUAL_ANIMATIONS" not in local and "TEXTUAL_FPS" not in local
    mine = {"SSH_TTY": "/dev/pts/3", "TEXTUAL_FPS": "30", "TEXTUAL_ANIMATIONS": "basic"}
    prepare_environment(mine)
    assert (mine["TEXTUAL_FPS"], mine["TEXTUAL_ANIMATIONS"]) == ("30", "basic")
    console = {"TERM": "linux"}
    assert prepare_environment(console) is False and console["TEXTUAL_ANIMATIONS"] == "none"


@pytest.mark.parametrize(
    ("env", "remote"),
    [
        ({"SSH_CLIENT": "x"}, True),
        ({"TERM_PROGRAM": "mosh"}, True),
        ({"SSH_CONNECTION": ""}, False),
        ({}, False),
    ],
)
def test_is_remote_session(env: dict[str, str], remote: bool) -> None:
    assert is_remote_session(env) is remote


def test_keymap_file(tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    assert load_keymap(path) == {}
    path.write_text('[keymap]\n"results.mark_good" = "m"\n"mode.results" = "f2,r"\n')
    assert load_keymap(path) == {"results.mark_good": "m", "mode.results": "f2,r"}
    assert keymap_path({"PIXELPROBE_KEYMAP": str(path)}) == path
    path.write_text("[keymap\n")
    with pytest.raises(ConfigError, match="cannot read key map"):
        load_keymap(path)
    path.write_text("[keymap]\nx = 3\n")
    with pytest.raises(ConfigError, match="binding ids to key strings"):
        load_keymap(path)


def test_pixelprobe_without_a_command_reports_a_bad_database_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pixelprobe_tui", "--database-url", f"sqlite:///{tmp_path}"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "is a directory" in proc.stderr


def test_key_map_mistakes_are_reported_not_ignored(demo_db) -> None:  # type: ignore[no-untyped-def]
    from pixelprobe_tui.tui.app import PixelProbeApp, keymap_clashes, known_binding_ids
    from tests.tui.conftest import run

    assert {"results.mark_good", "details.rescan", "scan_dialog.start", "mode.results"} <= known_binding_ids()
    assert keymap_clashes({"results.mark_good": "G"}) == []
    assert keymap_clashes({"mode.results": "g"}) == [
        "g: details.mark_good / mode.results",
        "g: mode.results / results.mark_good",
    ]

    async def body() -> None:
        app = PixelProbeApp(
            demo_db, poll_interval=60, keymap={"results.mark_good": "m", "results.mark_godo": "x"}
        )
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.pause()
            messages = [n.message for n in app._notifications]
            assert any("results.mark_godo" in m and "Unknown binding id" in m for m in messages), messages
            assert not any("results.mark_good," in m for m in messages)
            assert any("clash on m: results.mark_good / results.marked_filter" in m for m in messages), (
                messages
            )

    run(body())
