"""Named servers on the Slurm spawner: each is a job of its own, started, used and stopped on
its own."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess
from tests.slurm.conftest import SLURM_CONFIG, job_field, squeue, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slurm]


@pytest.fixture(scope="module")
def named_slurm_hub(slurm_cluster: None, alice: UnixUser, bob: UnixUser) -> Iterator[HubProcess]:
    root = Path(tempfile.mkdtemp(prefix="cysn", dir="/tmp"))
    root.chmod(0o755)
    config = hub_config(alice.name, bob.name, spawner="slurm", named_servers=2) + SLURM_CONFIG
    process = HubProcess(root / "state", config)
    process.start()
    yield process
    process.stop()
    subprocess.run(["scancel", "--user", alice.name], check=False)
    shutil.rmtree(root, ignore_errors=True)


async def test_default_and_named_server_are_two_jobs(
    named_slurm_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(named_slurm_hub.url) as client:
        await client.login(alice.name, alice.password, next_url="/hub/home")
        r = await client.post_form("/hub/spawn", {"profile": "small"}, token_from="/hub/spawn")
        assert r.status == 302
        await client.wait_until_ready(alice.name, timeout=120)
        r = await client.post_form("/hub/spawn", {"server": "run", "profile": "long"})
        assert (r.status, r.headers["Location"].split("?")[0]) == (
            302, f"/hub/spawn-pending/{alice.name}/run"
        )
        await client.wait_until_ready(alice.name, timeout=120, server="run")
        jobs = {}
        for key in (alice.name, f"{alice.name}/run"):
            kernel = await client.start_kernel(key)
            code = "import os; os.environ['SLURM_JOB_ID']"
            jobs[key] = (await client.execute(key, kernel, code)).strip("'")
        assert jobs[alice.name] != jobs[f"{alice.name}/run"]
        assert job_field(jobs[alice.name], "JobName") == f"courtyard-{alice.name}"
        assert job_field(jobs[f"{alice.name}/run"], "JobName") == f"courtyard-{alice.name}@run"
        assert job_field(jobs[f"{alice.name}/run"], "TimeLimit") == "02:00:00"  # its profile
        r = await client.post_form("/hub/stop", {"server": "run"})
        assert r.status == 302
        named_job = jobs[f"{alice.name}/run"]
        live = ("PENDING", "RUNNING", "COMPLETING")
        wait_for(
            lambda: not [j for j in squeue(alice.name) if j[0] == named_job and j[1] in live],
            30, "the named server's job to end",
        )  # fmt: skip
        assert [j[0] for j in squeue(alice.name) if j[1] == "RUNNING"] == [jobs[alice.name]]
        await client.post_form("/hub/stop", {})
