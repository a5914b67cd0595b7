"""How Slurm ends or refuses a server's job, as the person sees it: preemption, sbatch's refusal.

Bob's server runs in the low partition; a root job in the high partition that needs every CPU
of the node preempts it (PreemptMode=CANCEL, see scripts/lib/slurm.sh) and the home page says
so. A profile naming a partition Slurm does not know fails the start at once with sbatch's own
words on the progress page; one asking for more time than the partition allows (which Slurm
accepts and keeps PENDING forever) fails as soon as squeue gives that reason.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time

import pytest

from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess
from tests.slurm.conftest import (
    HIGH_PARTITION,
    LOW_PARTITION,
    partitions,
    progress_messages,
    squeue,
)

pytestmark = [pytest.mark.root, pytest.mark.slurm]


def submit_high_priority_job() -> str:
    """A root job in the high partition that needs all the node's CPUs: it preempts."""
    cpus = subprocess.run(
        ["sinfo", "-h", "-p", HIGH_PARTITION, "-o", "%c"],
        capture_output=True, text=True, check=True,
    ).stdout.split()[0]  # fmt: skip
    return subprocess.run(
        ["sbatch", "--parsable", f"--partition={HIGH_PARTITION}", f"--cpus-per-task={cpus}",
         "--output=/dev/null", "--job-name=courtyard-preemptor", "--wrap=sleep 600"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


async def wait_for_home_text(client: HubClient, user: str, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        _, body, _ = await client.get("/hub/home")
        if text in body:
            return body
        await client.get(f"/user/{user}/api/status")  # lets the proxy notice sooner
        await asyncio.sleep(0.5)
    raise AssertionError(f"{text!r} not on the home page within {timeout:g}s:\n{body[-1500:]}")


async def test_preempted_job_stops_the_server_with_the_reason(
    slurm_hub: HubProcess, bob: UnixUser
) -> None:
    if not {LOW_PARTITION, HIGH_PARTITION} <= partitions():
        pytest.skip(f"this cluster has no partitions {LOW_PARTITION!r} and {HIGH_PARTITION!r}")
    async with HubClient(slurm_hub.url) as client:
        await client.login(bob.name, bob.password, next_url="/hub/home")
        r = await client.post_form(
            "/hub/spawn", {"profile": "preemptible"}, token_from="/hub/spawn"
        )
        assert r.status == 302
        await client.wait_until_ready(bob.name, timeout=60)
        [(job, _, _)] = [found for found in squeue(bob.name) if found[1] == "RUNNING"]
        preemptor = submit_high_priority_job()
        try:
            body = await wait_for_home_text(client, bob.name, "preemption", timeout=45)
        finally:
            subprocess.run(["scancel", preemptor], check=False)
        assert "Not running" in body
        ended = {state for j, state, _ in squeue(bob.name) if j == job}
        assert ended == {"PREEMPTED"}, ended


async def test_slurm_refusing_the_job_shows_its_error_at_once(
    slurm_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(slurm_hub.url) as client:
        await client.login(alice.name, alice.password, next_url="/hub/home")
        r = await client.post_form("/hub/spawn", {"profile": "broken"}, token_from="/hub/spawn")
        assert r.status == 302
        # within seconds, not after slurm.start_timeout (120 s here)
        seen = await progress_messages(client, alice.name, "Slurm refused", timeout=15)
        assert "Invalid partition name specified" in seen[-1], seen
        status, page, _ = await client.get(r.headers["Location"])
        assert status == 200
        assert 'id="spawn"' in page  # the progress page, which shows the failed event
        _, home, _ = await client.get("/hub/home")
        assert "Invalid partition name specified" in home


async def test_job_slurm_would_never_run_fails_the_start_at_once(
    slurm_hub: HubProcess, bob: UnixUser
) -> None:
    if LOW_PARTITION not in partitions():
        pytest.skip(f"this cluster has no partition {LOW_PARTITION!r} (MaxTime 24 h)")
    async with HubClient(slurm_hub.url) as client:
        await client.login(bob.name, bob.password, next_url="/hub/home")
        r = await client.post_form("/hub/spawn", {"profile": "too-long"}, token_from="/hub/spawn")
        assert r.status == 302
        seen = await progress_messages(client, bob.name, "will not run", timeout=15)
        assert re.search(r"PENDING \(Partition(TimeLimit|Config)\)", seen[-1]), seen
        _, state, _ = max(squeue(bob.name), key=lambda found: int(found[0]))
        assert state == "CANCELLED"
