"""The settings screen: scan settings validated and saved, exclusions and ignored patterns with match counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.engine import Database
from pixelprobe_tui.db.models import ScanResult
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services import browse
from pixelprobe_tui.services.config import ConfigService
from pixelprobe_tui.tui.screens.settings import SettingsScreen, parse_exclusion
from tests.tui.conftest import on_screen, run, text_of, wait_for


def findings_with(db: Database, text: str) -> int:
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(ScanResult.findings).where(ScanResult.findings.is_not(None))).scalars()
        return sum(
            1
            for r in rows
            for f in json.loads(r)
            if f["severity"] in ("warning", "corrupt") and text.lower() in f["message"].lower()
        )


def test_scan_settings_are_validated_and_saved(demo_db: Database, tmp_path: Path) -> None:
    async def body() -> None:
        async with on_screen(demo_db, "5", SettingsScreen, (100, 40)) as (pilot, screen):
            workers = screen.query_one("#set-workers")
            await wait_for(pilot, lambda: workers.value != "", what="form")  # type: ignore[attr-defined]
            workers.value = "3"  # type: ignore[attr-defined]
            screen.query_one("#set-scan_paths").value = f"{tmp_path}"  # type: ignore[attr-defined]
            screen.query_one("#set-check_timeout_min_s").value = "0"  # type: ignore[attr-defined]  # below 1
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: ConfigService(demo_db).load().workers == 3, what="saved")
            settings = ConfigService(demo_db).load()
            assert settings.scan_paths == (str(tmp_path),)
            assert settings.check_timeout_min_s == 120.0  # the invalid value was refused
            await wait_for(
                pilot, lambda: "check_timeout_min_s" in text_of(screen.query_one("#scan-problems").content)
            )

    run(body())


def test_exclusions_and_patterns(demo_db: Database) -> None:
    expected = findings_with(demo_db, "premature end")
    assert expected > 0

    async def body() -> None:
        async with on_screen(demo_db, "5", SettingsScreen, (100, 44)) as (pilot, screen):
            screen.query_one("#new-exclusion").focus()
            await pilot.press(*"ext:.iso", "enter")
            await wait_for(
                pilot, lambda: [(r.type, r.value) for r in screen.exclusions] == [("extension", ".iso")]
            )
            screen.query_one("#new-exclusion").focus()
            await pilot.press(*"ext:.iso", "enter")  # a duplicate is refused
            await wait_for(pilot, lambda: any("already" in str(n.message) for n in pilot.app._notifications))
            screen.query_one("#new-pattern").focus()
            await pilot.press(*"premature end", "enter")
            await wait_for(pilot, lambda: len(screen.patterns) == 1, what="pattern")
            table = screen.query_one("#patterns")
            await wait_for(pilot, lambda: table.get_row_at(0)[2] == f"{expected:,}", what="match count")  # type: ignore[attr-defined]
            table.focus()
            await pilot.press("space")
            await wait_for(pilot, lambda: screen.patterns and not screen.patterns[0].active, what="off")
            await pilot.press("delete")
            await wait_for(pilot, lambda: screen.patterns == [], what="deleted")
            screen.query_one("#exclusions").focus()
            await pilot.press("delete")
            await wait_for(pilot, lambda: screen.exclusions == [], what="exclusion deleted")

    run(body())


def test_rule_services_refuse_bad_rules(empty_db: Database) -> None:
    with pytest.raises(ConfigError, match="unknown exclusion type"):
        browse.add_exclusion(empty_db, "colour", "red")
    with pytest.raises(ConfigError, match="empty"):
        browse.add_exclusion(empty_db, "extension", ".")
    with pytest.raises(ConfigError, match="invalid regular expression"):
        browse.add_ignore_pattern(empty_db, "re:([")
    with pytest.raises(ConfigError, match="empty pattern"):
        browse.add_ignore_pattern(empty_db, "  ")
    row = browse.add_ignore_pattern(empty_db, "re:crc.*mismatch")
    assert browse.list_ignore_patterns(empty_db) == [row]
    assert browse.count_pattern_matches(empty_db, ["re:crc.*mismatch"]) == {"re:crc.*mismatch": 0}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("path:/srv/tmp", ("path", "/srv/tmp")),
        ("ext:.iso", ("extension", ".iso")),
        ("extension:nfo", ("extension", "nfo")),
        (".part", ("extension", ".part")),
        ("*.part", ("path", "*.part")),
        ("/srv/media/.Trash", ("path", "/srv/media/.Trash")),
    ],
)
def test_parse_exclusion(text: str, rule: tuple[str, str]) -> None:
    assert parse_exclusion(text) == rule


def test_the_focused_setting_says_what_it_means(demo_db: Database) -> None:
    async def body() -> None:
        async with on_screen(demo_db, "5", SettingsScreen, (80, 24)) as (pilot, screen):
            screen.query_one("#set-check_timeout_per_media_s").focus()
            await pilot.pause()
            shown = text_of(screen.query_one("#setting-help").render(), width=78)
            assert "per second of playing time" in shown  # the keyboard user's tooltip
            await pilot.press("tab")  # the next setting's turn
            await pilot.pause()
            assert "Memory cap" in text_of(screen.query_one("#setting-help").render(), width=78)

    run(body())


def test_rule_keys_show_only_where_they_act(demo_db: Database) -> None:
    from textual.widgets._footer import FooterKey

    async def body() -> None:
        async with on_screen(demo_db, "5", SettingsScreen, (80, 24)) as (pilot, screen):

            def footer() -> set[str]:
                return {k.action for k in screen.query(FooterKey)}

            screen.query_one("#set-workers").focus()  # space types a space here, delete deletes a character
            # (The footer is built again after each focus change: wait for the whole of it.)
            await wait_for(
                pilot, lambda: "save" in footer() and not {"toggle_pattern", "delete_row"} & footer()
            )
            screen.query_one("#patterns").focus()
            await wait_for(pilot, lambda: {"toggle_pattern", "delete_row"} <= footer(), what="rule keys")
            screen.query_one("#exclusions").focus()
            await wait_for(
                pilot,
                lambda: "delete_row" in footer() and "toggle_pattern" not in footer(),
                what="delete only",
            )

    run(body())


def test_esc_leaves_a_field_so_the_mode_keys_work_again(demo_db: Database) -> None:
    async def body() -> None:
        async with on_screen(demo_db, "5", SettingsScreen, (80, 24)) as (pilot, screen):
            workers = screen.query_one("#set-workers")
            await wait_for(pilot, lambda: workers.value != "", what="form")  # type: ignore[attr-defined]
            workers.focus()
            await pilot.press("end", "2")  # in the field a digit is typed, not a screen switch
            assert pilot.app.current_mode == "settings" and workers.value.endswith("2")  # type: ignore[attr-defined]
            await pilot.press("escape", "2")
            await wait_for(pilot, lambda: pilot.app.current_mode == "results", what="the Results")

    run(body())
