"""Settings: layered, typed, documented; mistakes stop the start and say where they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import physioez.hq  # noqa: F401 - head office's [hq] section is documented with the rest
from physioez import installed
from physioez.core.kernel.settings import SettingsError, defaults, documented_keys, load_settings

installed.modules()  # the modules' settings sections

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "physioez.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path):
    settings = load_settings(environ={"PHYSIOEZ_CONFIG": str(write(tmp_path, ""))})
    assert settings == defaults()
    assert settings.auth.lockout_threshold == 5


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path):
    path = write(tmp_path, '[auth]\nlockout_threshold = 7\n[branch]\nname = "Koramangala"\n')
    settings = load_settings(
        environ={
            "PHYSIOEZ_CONFIG": str(path),
            "PHYSIOEZ_AUTH__LOCKOUT_THRESHOLD": "3",
            "PHYSIOEZ_SERVER__BEHIND_TLS": "true",
        }
    )
    assert settings.auth.lockout_threshold == 3
    assert settings.branch.name == "Koramangala"
    assert settings.server.behind_tls is True


def test_unknown_key_in_file_names_key_and_file(tmp_path):
    path = write(tmp_path, "[auth]\nlockout_treshold = 3\n")
    with pytest.raises(SettingsError) as raised:
        load_settings(environ={"PHYSIOEZ_CONFIG": str(path)})
    assert "auth.lockout_treshold" in str(raised.value) and str(path) in str(raised.value)


def test_unknown_section_in_file(tmp_path):
    path = write(tmp_path, "[autth]\nlockout_threshold = 3\n")
    with pytest.raises(SettingsError, match=r"autth\.lockout_threshold"):
        load_settings(environ={"PHYSIOEZ_CONFIG": str(path)})


def test_bad_value_names_key_and_source(tmp_path):
    path = write(tmp_path, '[server]\nport = "eighty"\n')
    with pytest.raises(SettingsError) as raised:
        load_settings(environ={"PHYSIOEZ_CONFIG": str(path)})
    assert "server.port" in str(raised.value) and str(path) in str(raised.value)
    with pytest.raises(SettingsError) as raised:
        load_settings(
            environ={"PHYSIOEZ_CONFIG": str(write(tmp_path, "")), "PHYSIOEZ_SERVER__PORT": "70000"}
        )
    assert "PHYSIOEZ_SERVER__PORT" in str(raised.value)


def test_bad_time_zone_and_branch_code(tmp_path):
    with pytest.raises(SettingsError, match="unknown time zone"):
        load_settings(
            environ={
                "PHYSIOEZ_CONFIG": str(write(tmp_path, "")),
                "PHYSIOEZ_BRANCH__TIMEZONE": "Mars/Olympus",
            }
        )
    with pytest.raises(SettingsError, match=r"branch\.id"):
        load_settings(
            environ={"PHYSIOEZ_CONFIG": str(write(tmp_path, "")), "PHYSIOEZ_BRANCH__ID": "br-01"}
        )


def test_unknown_environment_variable_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="PHYSIOEZ_AUTH__LOCKOUT"):
        load_settings(
            environ={"PHYSIOEZ_CONFIG": str(write(tmp_path, "")), "PHYSIOEZ_AUTH__LOCKOUT": "3"}
        )


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(environ={"PHYSIOEZ_CONFIG": str(write(tmp_path, "[auth\n"))})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(environ={"PHYSIOEZ_CONFIG": str(tmp_path / "missing.toml")})


def test_every_setting_is_documented():
    documented = (ROOT / "docs" / "settings.md").read_text()
    missing = [key for key in documented_keys() if f"`{key}`" not in documented]
    assert not missing, f"add these to docs/settings.md: {missing}"


def test_every_setting_has_a_description():
    assert all(description for _, description in documented_keys().values())


def test_example_config_lists_every_key_and_parses_when_uncommented(tmp_path):
    example = (ROOT / "config" / "physioez.example.toml").read_text()
    uncommented = re.sub(r"^# (\w+ = .*)$", r"\1", example, flags=re.MULTILINE)
    settings = load_settings(environ={"PHYSIOEZ_CONFIG": str(write(tmp_path, uncommented))})
    assert settings == defaults()
    for key in documented_keys():
        section, name = key.split(".")
        assert re.search(rf"^\[{section}\]$", example, re.MULTILINE)
        assert re.search(rf"^# {name} = ", example, re.MULTILINE), key


def test_shipped_dev_config_is_valid():
    settings = load_settings(
        environ={"PHYSIOEZ_CONFIG": str(ROOT / "config" / "physioez.dev.toml")}
    )
    assert settings.server.host == "127.0.0.1"
