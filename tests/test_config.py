"""ConfigService over a real database: defaults, stored values, environment overrides, validation."""

from __future__ import annotations

import dataclasses
import os

import pytest
import sqlalchemy as sa

from pixelprobe_tui.db.models import AppConfig, ScanConfiguration
from pixelprobe_tui.errors import ConfigError
from pixelprobe_tui.services.config import (
    REGISTRY,
    SETTINGS,
    ConfigService,
    Settings,
    default_settings,
    default_workers,
    parse_text,
    setting,
)


@pytest.fixture
def service(db):
    return ConfigService(db, environ={})


def test_registry_matches_settings_dataclass():
    assert [f.name for f in dataclasses.fields(Settings)] == [s.key for s in SETTINGS]
    for s in SETTINGS:
        assert s.description.strip(), s.key
        assert s.store in ("scan", "app")


def test_defaults_when_nothing_is_stored(service):
    settings = service.load()
    assert settings == default_settings()
    assert settings.log_retention_days == 30
    assert settings.stall_timeout_s == 60.0
    assert settings.deep_scan_default is False
    assert settings.workers == default_workers()
    assert 1 <= settings.workers <= 64
    assert {ev.source for ev in service.effective()} == {"default"}


def test_set_stores_scan_settings_as_json_and_app_settings_as_text(service, db, tmp_path):
    service.set("workers", "4")
    service.set("scan_paths", f"[{str(tmp_path)!r}]".replace("'", '"'))
    service.set("log_retention_days", 7)
    service.set("excluded_loggers", "urllib3, my.noisy")
    service.set("deep_scan_default", "yes")
    with db.session() as s:
        scan = dict(s.execute(sa.select(ScanConfiguration.key, ScanConfiguration.value)).all())
        app = dict(s.execute(sa.select(AppConfig.key, AppConfig.value)).all())
    assert scan == {"workers": 4, "scan_paths": [str(tmp_path)], "deep_scan_default": True}
    assert app == {"log_retention_days": "7", "excluded_loggers": '["urllib3", "my.noisy"]'}

    settings = service.load()
    assert settings.workers == 4
    assert settings.scan_paths == (str(tmp_path),)
    assert settings.log_retention_days == 7
    assert settings.excluded_loggers == ("urllib3", "my.noisy")
    assert settings.deep_scan_default is True
    sources = {ev.key: ev.source for ev in service.effective()}
    assert sources["workers"] == "database"
    assert sources["log_level"] == "default"


def test_set_twice_updates_the_row_and_reports_the_previous_value(service, db):
    first = service.set("workers", 3)
    second = service.set("workers", "5")
    assert (first.previous, first.value) == (default_workers(), 3)
    assert (second.previous, second.value) == (3, 5)
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ScanConfiguration)) == 1


def test_unset_goes_back_to_default(service):
    service.set("log_level", "debug")
    assert service.get("log_level") == "DEBUG"
    assert service.unset("log_level") is True
    assert service.unset("log_level") is False
    assert service.get("log_level") == "INFO"
    assert service.effective(["log_level"])[0].source == "default"


def test_environment_wins_over_database(db):
    env = {"PIXELPROBE_WORKERS": "7", "PIXELPROBE_SCAN_PATHS": os.pathsep.join(["/srv/a", "/srv/b"])}
    service = ConfigService(db, environ=env)
    change = service.set("workers", "2")
    assert change.overridden_by == "PIXELPROBE_WORKERS"
    assert change.previous == default_workers()  # what was stored (nothing: the default), not the override
    ev = {e.key: e for e in service.effective()}
    assert (ev["workers"].value, ev["workers"].source) == (7, "environment")
    assert (ev["scan_paths"].value, ev["scan_paths"].source) == (("/srv/a", "/srv/b"), "environment")
    # The stored value is still there and applies once the variable is gone.
    assert ConfigService(db, environ={}).get("workers") == 2


def test_invalid_environment_value_stops_load_with_the_variable_name(db):
    service = ConfigService(db, environ={"PIXELPROBE_WORKERS": "lots"})
    with pytest.raises(ConfigError, match=r"^PIXELPROBE_WORKERS: workers must be an integer from 1 to 64"):
        service.load()
    # effective() reports it instead of raising, so `config show` can still show everything.
    ev = service.effective(["workers"])[0]
    assert ev.source == "default" and "PIXELPROBE_WORKERS" in (ev.problem or "")


def test_invalid_database_value_is_ignored_with_a_problem(service, db):
    with db.session() as s:
        s.add(ScanConfiguration(key="workers", value="many"))
        s.add(AppConfig(key="log_level", value="LOUD"))
        s.add(AppConfig(key="not_ours", value="kept"))  # unknown keys from other versions are left alone
    ev = {e.key: e for e in service.effective()}
    assert ev["workers"].source == "default" and "workers must be an integer" in (ev["workers"].problem or "")
    assert ev["log_level"].value == "INFO" and ev["log_level"].problem
    assert service.load().workers == default_workers()


def test_json_string_values_written_by_older_code_are_parsed(service, db):
    with db.session() as s:
        s.add(ScanConfiguration(key="workers", value="6"))
        s.add(ScanConfiguration(key="follow_symlinks", value="on"))
    settings = service.load()
    assert settings.workers == 6 and settings.follow_symlinks is True


@pytest.mark.parametrize(
    "key, raw, message",
    [
        ("workers", "many", "workers must be an integer from 1 to 64, got 'many'"),
        ("workers", "0", "workers must be an integer from 1 to 64, got '0'"),
        ("workers", "65", "workers must be an integer from 1 to 64, got '65'"),
        ("stall_timeout_s", "-1", "stall_timeout_s must be a number from 1 to 86400, got '-1'"),
        ("stall_timeout_s", "nan", "stall_timeout_s must be a number from 1 to 86400, got 'nan'"),
        ("deep_scan_default", "maybe", "deep_scan_default must be true or false"),
        ("log_level", "LOUD", "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
        ("scan_paths", "relative/dir", "scan_paths entries must be absolute paths, got 'relative/dir'"),
        ("scan_paths", "[1, 2]", "scan_paths must be a JSON array"),
        ("scan_paths", "[not json", "scan_paths must be a JSON array"),
        ("excluded_loggers", "bad name", "excluded_loggers entries must be logger names"),
        ("wokers", "4", "unknown config key 'wokers' (did you mean 'workers'?)"),
        ("zzzz", "4", "unknown config key 'zzzz'; known keys: scan_paths, workers"),
    ],
)
def test_bad_values_raise_one_clear_line_and_store_nothing(service, db, key, raw, message):
    with pytest.raises(ConfigError) as info:
        service.set(key, raw)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ScanConfiguration)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(AppConfig)) == 0


def test_typed_values_are_checked_too(service):
    with pytest.raises(ConfigError, match="workers must be an integer"):
        service.set("workers", True)
    with pytest.raises(ConfigError, match="workers must be an integer"):
        service.set("workers", 2.5)
    with pytest.raises(ConfigError, match="follow_symlinks must be true or false"):
        service.set("follow_symlinks", 1)
    assert service.set("check_timeout_per_mb_s", 3).value == 3.0


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("NO", False),
        ("off", False),
    ],
)
def test_boolean_spellings(raw, expected):
    assert parse_text(setting("rescan_unchanged"), raw)[0] is expected


def test_scan_paths_rules(tmp_path):
    s = setting("scan_paths")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    value, warnings = parse_text(s, os.pathsep.join([str(a), str(b) + "/", str(a)]))
    assert value == (str(a), str(b)) and warnings == ()  # normalised, duplicates removed
    missing = tmp_path / "not-mounted"
    value, warnings = parse_text(s, f'["{missing}"]')
    assert value == (str(missing),)
    assert len(warnings) == 1 and "does not exist now" in warnings[0]
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        parse_text(s, str(afile))
    assert parse_text(s, "")[0] == ()
    assert parse_text(s, "[]")[0] == ()


def test_set_returns_warnings_for_missing_path(service, tmp_path):
    change = service.set("scan_paths", str(tmp_path / "later"))
    assert change.value == (str(tmp_path / "later"),)
    assert change.warnings and "does not exist now" in change.warnings[0]


def test_check_timeout_scales_with_size_and_duration():
    settings = default_settings(
        check_timeout_min_s=10, check_timeout_per_mb_s=2, check_timeout_per_media_s=1.5
    )
    assert settings.check_timeout_for(1_000_000) == 10
    assert settings.check_timeout_for(50_000_000) == 100
    assert settings.check_timeout_for(1_000_000, duration_s=600) == 900
    assert settings.check_timeout_for(0, duration_s=None) == 10


def test_every_default_is_valid_and_round_trips_through_text():
    from pixelprobe_tui.services.config import to_text, validate

    for s in SETTINGS:
        value = validate(s, s.default())[0]
        assert parse_text(s, to_text(s, value))[0] == value, s.key
    assert set(REGISTRY) == {s.key for s in SETTINGS}
