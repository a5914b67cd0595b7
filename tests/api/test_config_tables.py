"""[[services]] and [[load_roles]] are checked key by key, with errors naming the place."""

from __future__ import annotations

import re

import pytest

from courtyard.auth.roles import Role, RoleBook
from courtyard.config.load import build_settings
from courtyard.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [{"name": "c", "comand": ["x"]}],
            "unknown key services[0].comand; did you mean 'command'",
        ),
        ([{"name": "c", "command": "x"}], "services[0].command must be a list of strings"),
        ([{"command": ["x"]}], "services[0] needs a 'name'"),
        ({"name": "c"}, "must be a list of tables"),
    ],
)
def test_bad_service_tables_name_the_key(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_settings({"services": value})


def test_roles_with_unknown_scopes_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown scopes"):
        RoleBook.build([Role("r", ("list:users", "read:everything"))])


def test_seed_culler_tables_load() -> None:
    settings = build_settings(
        {
            "services": [{"name": "idle-culler", "command": ["python3", "-m", "x"]}],
            "load_roles": [{"name": "r", "scopes": ["list:users"], "services": ["idle-culler"]}],
        }
    )
    assert settings.services[0].command == ["python3", "-m", "x"]
    assert settings.load_roles[0].services == ["idle-culler"]
