"""import-jupyterhub-config on the lab-admin seed's configuration (and a few more)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from courtyard.config.jhrecorder import record_config
from courtyard.config.jupyterhub import convert, render
from courtyard.config.load import build_settings, flatten
from courtyard.config.tomlwrite import parse_toml
from tests.ops.conftest import courtyard

SEED = Path(__file__).parents[3] / "shared" / "seeds" / "jupyterhub-multi-user-setup.md"
SEED_CONFIG = """import sys

c.Authenticator.admin_users = {'root'}
c.JupyterHub.admin_access = True
c.Spawner.args = ['--allow-root']
c.LocalAuthenticator.create_system_users = True
c.Spawner.notebook_dir = '~'
c.Spawner.default_url = '/lab'

c.JupyterHub.services = [
    {
        'name': 'idle-culler',
        'command': [sys.executable, '-m', 'jupyterhub_idle_culler', '--timeout=3600'],
    }
]

c.JupyterHub.load_roles = [
    {
        "name": "list-and-cull",
        "services": ["idle-culler"],
        "scopes": ["list:users", "read:users:activity", "admin:servers"],
    }
]
"""


def seed_config() -> str:
    if SEED.is_file():  # the seed itself, when the shared notes are next to the repo
        block = re.search(r"```python\n(.*?)```", SEED.read_text(), re.S)
        if block:
            return block.group(1)
    return SEED_CONFIG


def test_the_seed_config_converts_completely(tmp_path: Path) -> None:
    source = tmp_path / "jupyterhub_config.py"
    source.write_text(seed_config())
    out = tmp_path / "courtyard.toml"
    done = courtyard("import-jupyterhub-config", str(source), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "every setting was converted" in done.stderr
    assert "--allow-root" in done.stderr
    assert "unnecessary" in done.stderr
    settings = build_settings(flatten(parse_toml(out.read_text())))
    assert settings.admin_users == ["root"]
    assert settings.admin_access
    assert settings.create_system_users
    assert settings.notebook_dir == "~"
    assert settings.default_url == "/lab"
    assert settings.args == []
    assert settings.resolved_auth() == "system"
    assert settings.culler.enabled
    assert settings.culler.timeout == 3600
    assert settings.services == []
    assert settings.load_roles == []
    assert courtyard("config", "check", "--config", str(out)).returncode == 0


def test_the_commented_idle_culler_service_is_a_working_alternative(tmp_path: Path) -> None:
    source = tmp_path / "jupyterhub_config.py"
    source.write_text(seed_config())
    text = render(convert(record_config(source)), str(source))
    alternative = re.sub(r"(?m)^# (\[\[|name =|command =|scopes =|services =)", r"\1", text)
    alternative = alternative.replace("enabled = true", "enabled = false")
    settings = build_settings(flatten(parse_toml(alternative)))
    assert not settings.culler.enabled
    (service,) = settings.services
    assert service.name == "idle-culler"
    assert service.command[1:] == ["-m", "jupyterhub_idle_culler", "--timeout=3600"]
    (role,) = settings.load_roles
    assert role.services == ["idle-culler"]
    assert set(role.scopes) == {"list:users", "read:users:activity", "admin:servers"}


def test_unknown_settings_and_jupyterhub_imports_are_listed_not_fatal(tmp_path: Path) -> None:
    source = tmp_path / "jupyterhub_config.py"
    source.write_text(
        "from jupyterhub.auth import PAMAuthenticator\n"
        "from dockerspawner import DockerSpawner\n"
        "c = get_config()\n"
        "c.JupyterHub.authenticator_class = PAMAuthenticator\n"
        "c.JupyterHub.spawner_class = DockerSpawner\n"
        "c.JupyterHub.bind_url = 'http://127.0.0.1:8010'\n"
        "c.Spawner.environment['LANG'] = 'zh_CN.UTF-8'\n"
        "c.Spawner.mem_limit = '2G'\n"
        "c.PAMAuthenticator.executor_threads = 8\n"
    )
    conversion = convert(record_config(source))
    assert conversion.values["auth"] == "system"
    assert conversion.values["port"] == 8010
    assert conversion.values["ip"] == "127.0.0.1"
    assert conversion.values["environment"] == {"LANG": "zh_CN.UTF-8"}
    assert any("DockerSpawner" in u for u in conversion.unmapped)
    assert conversion.values["limits.memory"] == "2G"  # enforced since [limits]
    assert conversion.values["pam_threads"] == 8
    assert "jupyterhub" not in sys.modules
    build_settings(flatten(parse_toml(render(conversion, str(source)))))


def test_named_server_settings_map_onto_named_servers() -> None:
    limited = convert(
        {"JupyterHub.named_server_limit_per_user": 3, "JupyterHub.allow_named_servers": True}
    )
    assert limited.values["named_servers"] == 3
    assert limited.origins["named_servers"] == "c.JupyterHub.named_server_limit_per_user"
    unlimited = convert({"JupyterHub.allow_named_servers": True})
    assert unlimited.values["named_servers"] == 1000
    assert any("named_servers" in note for note in unlimited.notes)
    off = convert({"JupyterHub.allow_named_servers": False,
                   "JupyterHub.named_server_limit_per_user": 5})  # fmt: skip
    assert off.values["named_servers"] == 0
    settings = build_settings(flatten(parse_toml(render(limited, "jupyterhub_config.py"))))
    assert settings.named_servers == 3
