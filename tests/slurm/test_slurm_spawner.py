"""Servers as jobs on a real one-node Slurm: the profile form after login, run code, re-attach,
PENDING, cancel, time limit.

The tests share one hub and run in order (alice's job is reused); about 1-2 minutes in all,
most of it Slurm's time-limit check (every 30 s) in the last test.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess
from tests.slurm.conftest import job_field, progress_messages, squeue, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slurm]


def running_job(user: str) -> str:
    jobs = [job for job, state, _ in squeue(user) if state == "RUNNING"]
    assert len(jobs) == 1, squeue(user)
    return jobs[0]


async def test_login_leads_to_the_profile_form_and_the_chosen_profile_is_the_job(
    slurm_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(slurm_hub.url) as client:
        r = await client.login(alice.name, alice.password)
        assert (r.status, r.headers["Location"]) == (302, "/hub/spawn")
        assert not [job for job in squeue(alice.name) if job[1] in ("PENDING", "RUNNING")]
        status, form, _ = await client.get("/hub/spawn")
        assert status == 200
        assert 'value="long"' in form
        r = await client.post_form("/hub/spawn", {"profile": "long"}, token_from="/hub/spawn")
        assert r.status == 302
        await client.wait_until_ready(alice.name, timeout=120)
        job = running_job(alice.name)
        assert job_field(job, "TimeLimit") == "02:00:00"  # the profile's, not [slurm] time


async def test_alices_server_is_a_slurm_job_of_hers_and_runs_code(
    slurm_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(slurm_hub.url) as client:
        r = await client.login(alice.name, alice.password)
        assert r.headers["Location"] == "/hub/spawn-pending"  # running: no form, no new job
        job = running_job(alice.name)
        kernel = await client.start_kernel(alice.name)
        code = "import os; (os.environ['SLURM_JOB_ID'], os.getuid())"
        assert await client.execute(alice.name, kernel, code) == f"('{job}', {alice.uid})"


async def test_the_jobs_output_file_stays_below_server_log_max(
    slurm_hub: HubProcess, alice: UnixUser
) -> None:
    """server_log_max = "1M" (conftest): 3 MiB written to fd 1 by a kernel leave the job's
    output file (<state_dir>/run/<user>/slurm-<job>.log, opened by Slurm) cut, not grown."""
    async with HubClient(slurm_hub.url) as client:
        await client.login(alice.name, alice.password, next_url="/hub/home")
        job = running_job(alice.name)
        kernel = await client.start_kernel(alice.name)
        code = (
            "import os\nline = b'flood ' + b'x' * 1017 + b'\\n'\nn = 0\n"
            "while n < 3 * 1024 * 1024:\n    n += os.write(1, line)\n"
            "os.write(1, b'FLOOD-END\\n')\nn"
        )
        assert int(await client.execute(alice.name, kernel, code)) >= 3 * 1024 * 1024
        output = slurm_hub.state_dir / "run" / alice.name / f"slurm-{job}.log"
        deadline = time.monotonic() + 60
        while b"FLOOD-END" not in output.read_bytes() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        data = output.read_bytes()
        assert b"FLOOD-END" in data
        assert output.stat().st_size <= 1024 * 1024
        assert output.stat().st_blocks * 512 <= 1024 * 1024 + 8192  # no sparse tail either
        assert b"[courtyard: this log reached server_log_max (1 MiB)" in data
        assert await client.execute(alice.name, kernel, "6 * 7") == "42"


async def test_restarted_hub_reattaches_the_job(slurm_hub: HubProcess, alice: UnixUser) -> None:
    async with HubClient(slurm_hub.url) as client:
        await client.login(alice.name, alice.password, next_url="/hub/home")
        job = running_job(alice.name)
        kernel = await client.start_kernel(alice.name)
        assert await client.execute(alice.name, kernel, "y = 6; y * 7") == "42"
        slurm_hub.restart_reattaching(alice.name)
        client.base = slurm_hub.url
        assert await client.execute(alice.name, kernel, "y * 7") == "42"
        assert running_job(alice.name) == job


async def test_unknown_profile_is_refused(slurm_hub: HubProcess, bob: UnixUser) -> None:
    async with HubClient(slurm_hub.url) as client:
        await client.login(bob.name, bob.password, next_url="/hub/home")
        status, body, _ = await client.get("/hub/spawn")
        assert status == 200
        assert "1 CPU, 2 hours" in body
        r = await client.post_form("/hub/spawn", {"profile": "huge"}, token_from="/hub/spawn")
        assert r.status == 400
        assert not [job for job in squeue(bob.name) if job[1] in ("PENDING", "RUNNING")]


async def test_every_way_to_start_goes_through_the_profile_choice(
    slurm_hub: HubProcess, bob: UnixUser
) -> None:
    """The page a stopped server's URL shows, and the API, start with a chosen profile too."""
    async with HubClient(slurm_hub.url) as client:
        await client.login(bob.name, bob.password, next_url="/hub/home")
        status, page, _ = await client.get(f"/user/{bob.name}/lab/tree/x.ipynb")
        assert status == 200
        assert f'href="/hub/spawn?next=/user/{bob.name}/lab/tree/x.ipynb"' in page
        _, form, _ = await client.get(f"/hub/spawn?next=/user/{bob.name}/lab/tree/x.ipynb")
        assert f'name="next" value="/user/{bob.name}/lab/tree/x.ipynb"' in form
        url = f"{slurm_hub.url.rstrip('/')}/hub/api/users/{bob.name}/server"
        async with client.http.post(url, json={"profile": "huge"}) as r:
            assert r.status == 400
            assert "offered: " in (await r.json())["message"]
        assert not [job for job in squeue(bob.name) if job[1] in ("PENDING", "RUNNING")]
        async with client.http.post(url, json={"profile": "long"}) as r:
            assert r.status in (201, 202), await r.text()
        await client.wait_until_ready(bob.name, timeout=120)
        assert job_field(running_job(bob.name), "TimeLimit") == "02:00:00"
        await client.post_form("/hub/stop", {})
    live = ("PENDING", "RUNNING", "COMPLETING")
    wait_for(lambda: not [j for j in squeue(bob.name) if j[1] in live], 30, "bob's job to end")


async def test_full_node_shows_pending_and_stop_cancels_the_job(
    slurm_hub: HubProcess, bob: UnixUser
) -> None:
    idle = subprocess.run(
        ["sinfo", "-h", "-o", "%C"], capture_output=True, text=True, check=True
    ).stdout.split("/")[1]
    filler = subprocess.run(
        ["sbatch", "--parsable", f"--cpus-per-task={idle}", "--output=/dev/null",
         "--job-name=courtyard-filler", "--wrap=sleep 600"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    try:
        async with HubClient(slurm_hub.url) as client:
            await client.login(bob.name, bob.password, next_url="/hub/home")
            r = await client.post_form("/hub/spawn", {"profile": "long"}, token_from="/hub/spawn")
            assert r.status == 302
            seen = await progress_messages(client, bob.name, r"PENDING \(Resources", timeout=30)
            assert any("submitted" in message for message in seen)
            job, state, reason = max(squeue(bob.name), key=lambda found: int(found[0]))
            assert (state, reason) == ("PENDING", "Resources")
            await client.post_form("/hub/stop", {})
            wait_for(lambda: (job, "CANCELLED") in {j[:2] for j in squeue(bob.name)}, 20, "cancel")
            _, body, _ = await client.get("/hub/home")
            assert "Start my server" in body or "Not running" in body
    finally:
        subprocess.run(["scancel", filler], check=False)


async def test_job_hitting_its_time_limit_stops_the_server_with_the_reason(
    slurm_hub: HubProcess, alice: UnixUser
) -> None:
    job = running_job(alice.name)
    # the shortest real limit: 0 minutes left, enforced at slurmctld's next check (<= 30 s)
    subprocess.run(["scontrol", "update", f"JobId={job}", "TimeLimit=0"], check=True)
    async with HubClient(slurm_hub.url) as client:
        await client.login(alice.name, alice.password, next_url="/hub/home")
        deadline = time.monotonic() + 75
        body = ""
        while time.monotonic() < deadline:
            _, body, _ = await client.get("/hub/home")
            if "time limit" in body:
                break
            await client.get(f"/user/{alice.name}/api/status")  # lets the proxy notice sooner
            await asyncio.sleep(1)
        assert "time limit" in body
        ended = {(s, r) for j, s, r in squeue(alice.name) if j == job}
        assert ended & {("TIMEOUT", "TimeLimit"), ("COMPLETING", "TimeLimit")}, ended
