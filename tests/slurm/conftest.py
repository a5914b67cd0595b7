"""A hub with spawner = "slurm" on the one-node cluster scripts/lib/slurm.sh starts.

That cluster has two partitions on its node: LOW_PARTITION (the default) and HIGH_PARTITION,
whose jobs preempt (cancel) LOW_PARTITION's when they need the CPUs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

LOW_PARTITION = "courtyard"
HIGH_PARTITION = "courtyard-high"
SLURM_CONFIG = f"""
[slurm]
time = "0:30:00"
cpus = 1
poll_interval = 0.5
start_timeout = 120

[[slurm.profiles]]
name = "small"
description = "1 CPU, 30 minutes"

[[slurm.profiles]]
name = "long"
description = "1 CPU, 2 hours"
time = "2:00:00"

[[slurm.profiles]]
name = "preemptible"
description = "1 CPU, may be preempted"
partition = "{LOW_PARTITION}"

[[slurm.profiles]]
name = "broken"
description = "a partition Slurm does not know"
partition = "no-such-partition"

[[slurm.profiles]]
name = "too-long"
description = "over the partition's MaxTime (24 h)"
time = "30:00:00"
"""


USABLE = ("idle", "mixed", "allocated", "completing")


def slurm_state() -> str | None:
    """The node's state and reason as sinfo prints them, or None when Slurm does not answer."""
    if shutil.which("sinfo") is None:
        return None
    result = subprocess.run(["sinfo", "-h", "-o", "%T %E"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def slurm_up(timeout: float = 30.0) -> tuple[bool, str | None]:
    """Whether the node takes jobs, waiting out a passing state: the previous module's last
    job may still be completing (a busy node once read as "not running" here)."""
    deadline = time.monotonic() + timeout
    while True:
        state = slurm_state()
        if state is None or any(usable in state for usable in USABLE):
            return state is not None, state
        if time.monotonic() > deadline:
            return False, state
        time.sleep(0.5)


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    up, state = slurm_up()
    if not up:
        seen = f"sinfo says {state!r}" if state else "sinfo does not answer"
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"Slurm is not usable ({seen}); scripts/test starts it (scripts/lib/slurm.sh)"
            )
        pytest.skip(f"Slurm is not usable ({seen}); scripts/test starts it (scripts/lib/slurm.sh)")


@pytest.fixture(scope="module")
def slurm_hub(slurm_cluster: None, alice: UnixUser, bob: UnixUser) -> Iterator[HubProcess]:
    root = Path(tempfile.mkdtemp(prefix="cys", dir="/tmp"))
    root.chmod(0o755)
    config = hub_config(alice.name, bob.name, spawner="slurm", server_log_max="1M")
    config += SLURM_CONFIG
    process = HubProcess(root / "state", config)
    process.start()
    yield process
    process.stop()
    for user in (alice.name, bob.name):
        subprocess.run(["scancel", "--user", user], check=False)
    shutil.rmtree(root, ignore_errors=True)


def partitions() -> set[str]:
    out = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True).stdout
    return set(out.split())


def job_field(job: str, name: str) -> str:
    """One ``Name=value`` of ``scontrol show job``, e.g. TimeLimit or NumCPUs."""
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", job], capture_output=True, text=True, check=True
    ).stdout
    for word in out.split():
        key, _, value = word.partition("=")
        if key == name:
            return value
    raise AssertionError(f"no {name} in scontrol show job {job}: {out[:300]}")


def squeue(user: str) -> list[tuple[str, str, str]]:
    """(job id, state, reason) of the user's jobs that slurmctld still knows."""
    out = subprocess.run(
        ["squeue", "-h", "--states=all", "-u", user, "-o", "%i|%T|%r"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [tuple(line.split("|")) for line in out.split()]  # type: ignore[misc]


def wait_for(condition: object, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


async def progress_messages(client: HubClient, user: str, until: str, timeout: float) -> list[str]:
    """Progress messages of the current start, read until one matches ``until``."""
    url = f"{client.base}/hub/api/users/{user}/server/progress"
    seen: list[str] = []
    async with client.http.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as r:
        async for raw in r.content:
            line = raw.decode().strip()
            if line.startswith("data:"):
                seen.append(json.loads(line[5:]).get("message", ""))
                if re.search(until, seen[-1]):
                    return seen
    raise AssertionError(f"no progress message matched {until!r}: {seen}")
