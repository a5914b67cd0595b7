"""Limits through a real hub: the person whose kernel ran out of memory is told why, on their
home page and in the REST API; the other person's server and the hub carry on."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config, stop_user_servers
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess
from tests.limits.test_cgroup1 import ALLOCATE_400M

pytestmark = pytest.mark.root


@pytest.fixture
def limited_hub(
    state_root: Path, cgroup_parent: str, alice: UnixUser, bob: UnixUser
) -> Iterator[HubProcess]:
    config = hub_config(alice.name, bob.name)
    config += f'[limits]\nmemory = "200M"\ncgroup_parent = "{cgroup_parent}"\nbackend = "cgroup1"\n'
    process = HubProcess(state_root / "state", config)
    process.start()
    yield process
    process.stop()
    stop_user_servers(state_root / "state")


async def test_alice_is_told_her_kernel_was_stopped_at_the_memory_limit(
    limited_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    assert any("Limits: cgroup v1" in line for line in limited_hub.output)
    async with HubClient(limited_hub.url) as a, HubClient(limited_hub.url) as b:
        await a.login(alice.name, alice.password)
        await b.login(bob.name, bob.password)
        await a.wait_until_ready(alice.name)
        await b.wait_until_ready(bob.name)
        kernel = await a.start_kernel(alice.name)
        bobs = await b.start_kernel(bob.name)
        allocating = asyncio.create_task(a.execute(alice.name, kernel, ALLOCATE_400M))
        deadline = time.monotonic() + 90
        said = "Your server used more than 200 MiB and its kernel was stopped."
        while True:
            _status, body, _ = await a.get("/hub/home")
            if said in body:
                break
            assert time.monotonic() < deadline, "no notice on alice's home page"
            await asyncio.sleep(0.5)
        allocating.cancel()
        await asyncio.gather(allocating, return_exceptions=True)
        limited_hub.wait_for_output(r"cyalice's server reached its memory limit \(200 MiB\)")
        status, text, _ = await a.get(f"/hub/api/users/{alice.name}")
        assert status == 200, text
        server = json.loads(text)["servers"][""]
        assert server["limit_notice"]["message"] == said
        assert server["ready"]
        _status, bobs_home, _ = await b.get("/hub/home")
        assert said not in bobs_home
        assert await b.execute(bob.name, bobs, "1+1") == "2"
        zh = {"Accept-Language": "zh-CN"}
        _status, chinese, _ = await a.get("/hub/home", headers=zh)
        assert "你的服务器使用的内存超过了 200 MiB" in chinese


async def test_the_admin_page_shows_use_against_limits_and_who_holds_each_gpu(
    state_root: Path, cgroup_parent: str, alice: UnixUser, bob: UnixUser, fake_gpus: list[str]
) -> None:
    config = hub_config(alice.name, bob.name, admin_users=[alice.name])
    config += (
        f'[limits]\nmemory = "300M"\ncpus = 1.5\ngpus = 1\ncgroup_parent = "{cgroup_parent}"\n'
    )
    config += f"gpu_devices = {json.dumps(fake_gpus)}\n"
    hub = HubProcess(state_root / "state", config).start()
    try:
        async with HubClient(hub.url) as a:
            await a.login(alice.name, alice.password)
            await a.wait_until_ready(alice.name)
            status, page, _ = await a.get("/hub/admin")
            assert status == 200
            assert "/ 300 MiB" in page
            assert "/ 150%" in page
            assert f"<code>{fake_gpus[0]}</code>" in page
            await asyncio.sleep(0.5)
            status, text, _ = await a.get("/hub/admin/limits.json")
            live = json.loads(text)
            assert live["servers"][alice.name]["memory"].endswith("/ 300 MiB")
            assert live["servers"][alice.name]["cpu"].endswith("% / 150%")
            assert live["gpus"][0] == {"index": "0", "device": fake_gpus[0], "holder": alice.name}
            assert live["gpus"][1]["holder"] is None
        async with HubClient(hub.url) as b:
            await b.login(bob.name, bob.password)
            status, _, _ = await b.get("/hub/admin/limits.json")
            assert status == 403
    finally:
        hub.stop()
        stop_user_servers(state_root / "state")
