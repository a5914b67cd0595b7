from __future__ import annotations

from pathlib import Path

import pytest

from courtyard.config.load import build_settings, load_settings
from courtyard.config.reference import render_reference
from courtyard.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "courtyard.toml"
    path.write_text(text)
    return str(path)


def test_defaults_bind_localhost_port_8000() -> None:
    s = load_settings(environ={}).settings
    assert (s.ip, s.port) == ("127.0.0.1", 8000)


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 8100\nip = "0.0.0.0"\nadmin_users = ["root"]\n')
    loaded = load_settings(path, environ={"COURTYARD_PORT": "8200"})
    assert (loaded.settings.port, loaded.settings.ip) == (8200, "0.0.0.0")
    assert loaded.sources["port"] == "COURTYARD_PORT"
    assert loaded.sources["ip"] == path
    flagged = load_settings(path, {"port": 8300}, environ={"COURTYARD_PORT": "8200"})
    assert flagged.settings.port == 8300
    assert flagged.sources["port"] == "command line"


def test_unknown_key_names_it_and_suggests_nearest(tmp_path: Path) -> None:
    expected = r"unknown setting 'admin_user'; did you mean 'admin_users'\?"
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, 'admin_user = ["root"]\n'), environ={})


def test_unknown_environment_variable_suggests_nearest() -> None:
    with pytest.raises(ConfigError, match=r"COURTYARD_PROT.*did you mean 'COURTYARD_PORT'"):
        load_settings(environ={"COURTYARD_PROT": "1"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('port = "eighty"', "setting 'port' must be an integer, not 'eighty'"),
        ("port = 70000", "setting 'port' must be at most 65535"),
        ("admin_access = 1", "setting 'admin_access' must be true or false"),
        ('auth = "ldap"', "setting 'auth' must be one of 'system', 'local', not 'ldap'"),
        ("admin_users = [1]", "setting 'admin_users' must be a list of strings"),
        ("port = ", "not valid TOML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings(write(tmp_path, text + "\n"), environ={})


def test_environment_values_are_typed() -> None:
    s = load_settings(
        environ={
            "COURTYARD_ADMIN_ACCESS": "yes",
            "COURTYARD_ADMIN_USERS": "root, alice",
            "COURTYARD_ENVIRONMENT": '{ LANG = "zh_CN.UTF-8" }',
            "COURTYARD_START_TIMEOUT": "12.5",
        }
    ).settings
    assert s.admin_access is True
    assert s.admin_users == ["root", "alice"]
    assert s.environment == {"LANG": "zh_CN.UTF-8"}
    assert s.start_timeout == 12.5


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "nope.toml"), environ={})


def test_settings_reference_matches_the_code() -> None:
    hint = "run: courtyard config reference > docs/settings.md"
    assert DOCS.read_text() == render_reference(), hint


def test_the_scripts_own_variables_are_not_taken_for_settings() -> None:
    from courtyard.config.load import env_values

    values = env_values(
        {"COURTYARD_VENV": "/opt/v", "COURTYARD_SCRIPT": "x", "COURTYARD_PORT": "9"}
    )
    assert values == {"port": "9"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("16M", 16 << 20), ("1M", 1 << 20), ("2.5G", int(2.5 * (1 << 30))), ("unlimited", None)],
)
def test_server_log_max_is_a_size_or_unlimited(value: str, expected: int | None) -> None:
    assert build_settings({"server_log_max": value}).resolved_server_log_max() == expected


@pytest.mark.parametrize("value", ["lots", "512K", "0", "-1M"])
def test_a_bad_server_log_max_names_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match="'server_log_max'"):
        build_settings({"server_log_max": value})
