"""The [culler] section: TOML table, dotted environment variables, typo suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from courtyard.config.load import all_keys, flatten, load_settings, section_names
from courtyard.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "courtyard.toml"
    path.write_text(text)
    return str(path)


def test_culler_defaults_match_the_seed() -> None:
    culler = load_settings(environ={}).settings.culler
    assert (culler.enabled, culler.timeout, culler.warn_before) == (True, 3600, 600)
    assert (culler.max_age, culler.users, culler.every) == (0, 0, 0)
    assert culler.busy_kernels_are_active
    assert not culler.cull_admin_servers


def test_culler_section_is_a_section_with_dotted_keys() -> None:
    assert "culler" in section_names()
    assert "culler.timeout" in all_keys()
    assert "culler" not in all_keys()
    assert flatten({"culler": {"timeout": 5}, "port": 1}) == {"culler.timeout": 5, "port": 1}


def test_culler_table_then_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[culler]\ntimeout = 20\nevery = 2\n")
    loaded = load_settings(path, environ={"COURTYARD_CULLER_MAX_AGE": "30"})
    culler = loaded.settings.culler
    assert (culler.timeout, culler.every, culler.max_age) == (20, 2, 30)
    assert loaded.sources["culler.max_age"] == "COURTYARD_CULLER_MAX_AGE"


def test_culler_typo_suggests_the_nearest_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'culler.timout'; did you mean 'culler.timeout'"):
        load_settings(write(tmp_path, "[culler]\ntimout = 20\n"), environ={})


def test_culler_bad_value_names_the_dotted_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"setting 'culler.timeout' must be at least 1"):
        load_settings(write(tmp_path, "[culler]\ntimeout = 0\n"), environ={})
