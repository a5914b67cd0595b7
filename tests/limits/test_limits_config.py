"""[limits] settings: rules, profiles, and bad values that stop the hub naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from courtyard.cli.daemon import status_lines
from courtyard.config.jupyterhub import convert, render
from courtyard.config.limits import (
    Allowance,
    LimitRule,
    LimitSettings,
    allowance_for,
    apply_profile,
    format_size,
    offered_to,
    parse_size,
)
from courtyard.config.load import build_settings, flatten
from courtyard.config.settings import Profile, SlurmSettings
from courtyard.config.tomlwrite import parse_toml
from courtyard.daemon.records import record_for
from courtyard.errors import ConfigError
from courtyard.spawners.slurm_script import directives, resources_for


def test_sizes_read_as_powers_of_1024_and_show_as_the_person_reads_them() -> None:
    assert parse_size("200M", "k") == 200 << 20
    assert parse_size("4GiB", "k") == 4 << 30
    assert parse_size("unlimited", "k") is None
    assert format_size(200 << 20) == "200 MiB"
    assert format_size(int(1.5 * (1 << 30))) == "1.5 GiB"


def test_later_rules_win_field_by_field_for_users_and_groups() -> None:
    limits = LimitSettings(
        memory="4G",
        cpus=2,
        tasks=512,
        rules=[
            LimitRule(groups=["phd"], memory="16G", gpus=1),
            LimitRule(users=["ada"], cpus=8),
        ],
    )
    assert allowance_for(limits, "bob", set()) == Allowance(4 << 30, 2, 512, 0)
    assert allowance_for(limits, "ada", {"phd"}) == Allowance(16 << 30, 8, 512, 1)


def test_a_person_is_offered_only_the_profiles_that_fit_their_rules() -> None:
    small = Profile("small", memory="1G", cpus=1)
    large = Profile("large", memory="16G", cpus=4)
    gpu = Profile("gpu", gpus=1)
    torch = Profile("torch", python="/opt/envs/torch/bin/python")  # an environment, no size
    profiles = [small, large, gpu, torch]
    limits = LimitSettings(
        memory="4G", cpus=2, rules=[LimitRule(users=["ada"], memory="unlimited", cpus=0, gpus=1)]
    )
    assert offered_to(limits, profiles, "bob") == [small, torch]
    assert offered_to(limits, profiles, "ada") == [small, gpu, torch]  # cpus 2 still holds
    allowed = Allowance(4 << 30, 2, None, 0)
    assert apply_profile(allowed, small) == Allowance(1 << 30, 1, None, 0)
    assert apply_profile(allowed, torch) == allowed


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"limits.memory": "lots"}, "'limits.memory'"),
        ({"limits.cpus": -1}, "'limits.cpus'"),
        ({"limits.rules": [{"groups": ["phd"], "cpus": -2}]}, "'limits.rules[0].cpus'"),
        ({"limits.rules": [{"users": ["a"], "memory": "x"}]}, "'limits.rules[0].memory'"),
        ({"profiles": [{"name": "s", "memory": "huge"}]}, "'profiles[0].memory'"),
        ({"profiles": [{"name": "s", "cpus": -1}]}, "'profiles[0].cpus'"),
        ({"profiles": [{"name": "s"}, {"name": "s"}]}, "'profiles[1].name'"),
        ({"limits.backend": "systemd"}, "'limits.backend'"),
    ],
)
def test_bad_limits_name_their_key(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        build_settings(values)


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('[limits]\nmemory = "lots"\n', "setting 'limits.memory' must be a size"),
        ("[limits]\ncpus = -1\n", "setting 'limits.cpus' must be at least 0"),
        (
            '[[limits.rules]]\ngroups = ["no-such-group-cy"]\nmemory = "1G"\n',
            "setting 'limits.rules[0].groups' names 'no-such-group-cy'",
        ),
    ],
)
def test_bad_limits_stop_the_hub_with_a_message_naming_the_key(
    tmp_path: Path, toml: str, said: str
) -> None:
    config = tmp_path / "courtyard.toml"
    config.write_text(toml)
    command = [sys.executable, "-m", "courtyard", "up", "--port", "0", "--config", str(config)]
    command += ["--state-dir", str(tmp_path / "state")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode != 0
    assert said in done.stderr
    assert "Traceback" not in done.stderr


def test_the_slurm_spawner_maps_limits_to_sbatch_options_where_slurm_says_nothing() -> None:
    slurm = SlurmSettings()
    allowed = Allowance(200 << 20, 1.5, None, 1)
    options = directives(resources_for(slurm, "", allowed), "alice", Path("/tmp/o"), "/home/a")
    assert {"--mem=200M", "--cpus-per-task=2", "--gres=gpu:1"} <= sbatch(options)
    own = SlurmSettings(memory="8G", cpus=4)
    options = directives(resources_for(own, "", allowed), "alice", Path("/tmp/o"), "/home/a")
    assert {"--mem=8G", "--cpus-per-task=4"} <= sbatch(options)


def sbatch(lines: list[str]) -> set[str]:
    return {line.removeprefix("#SBATCH ") for line in lines}


def test_jupyterhub_mem_limit_and_cpu_limit_become_enforced_limits() -> None:
    values = {
        "Spawner.mem_limit": "2G",
        "LocalProcessSpawner.cpu_limit": 1.5,
        "Spawner.mem_guarantee": "1G",
    }
    conv = convert(values)
    settings = build_settings(flatten(parse_toml(render(conv, "jupyterhub_config.py"))))
    assert (settings.limits.memory, settings.limits.cpus) == ("2G", 1.5)
    assert any("limits, not guarantees" in note for note in conv.notes)
    in_bytes = convert({"Spawner.mem_limit": 512 * 1024 * 1024})
    assert in_bytes.values["limits.memory"] == "512M"


def test_courtyard_status_names_how_limits_are_enforced() -> None:
    record = record_for(os.getpid(), url="http://127.0.0.1:1/", limits="cgroup v1 (memory) under x")
    assert "  Limits: cgroup v1 (memory) under x" in status_lines(record, [])
    assert not any("Limits" in line for line in status_lines(record_for(os.getpid()), []))
