"""Limits through a real hub: the person whose kernel ran out of memory is told why, on their
home page and in the REST API; the other person's server and the hub carry on."""

from __future__ import annotations

import asyncio
import json
import os
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


async def test_the_spawn_form_offers_each_person_the_profiles_their_rules_allow(
    state_root: Path, cgroup_parent: str, alice: UnixUser, bob: UnixUser
) -> None:
    config = hub_config(alice.name, bob.name)
    config += f'[limits]\nmemory = "1G"\ncgroup_parent = "{cgroup_parent}"\n'
    config += f'[[limits.rules]]\nusers = ["{bob.name}"]\nmemory = "16G"\n'
    config += '[[profiles]]\nname = "small"\ndescription = "512 MiB"\nmemory = "512M"\n'
    config += '[[profiles]]\nname = "large"\ndescription = "8 GiB"\nmemory = "8G"\n'
    hub = HubProcess(state_root / "state", config).start()
    try:
        async with HubClient(hub.url) as a, HubClient(hub.url) as b:
            r = await a.login(alice.name, alice.password)
            assert r.headers["Location"].startswith("/hub/spawn")
            _status, alices, _ = await a.get("/hub/spawn")
            await b.login(bob.name, bob.password)
            _status, bobs, _ = await b.get("/hub/spawn")
        assert 'value="small"' in alices
        assert 'value="large"' not in alices
        assert 'value="large"' in bobs
    finally:
        hub.stop()
        stop_user_servers(state_root / "state")


async def test_a_restarted_hub_keeps_the_server_in_its_cgroup(
    limited_hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(limited_hub.url) as a:
        await a.login(alice.name, alice.password)
        await a.wait_until_ready(alice.name)
    sock = limited_hub.state_dir / "run" / alice.name / "server.sock"
    before = server_cgroups(sock)
    assert keeper_cgroups(sock) == before  # the log keeper is limited with the server
    limited_hub.restart_reattaching(alice.name)
    assert server_cgroups(sock) == before
    assert f"/{alice.name}\n" in before
    memory = next(line for line in before.splitlines() if ":memory:" in line)
    limit = Path("/sys/fs/cgroup/memory", memory.split(":", 2)[2].lstrip("/"))
    assert (limit / "memory.limit_in_bytes").read_text().strip() == str(200 << 20)


def keeper_cgroups(sock: Path) -> str:
    """The cgroups of the log keeper (singleuser/logkeeper.py) of the server on ``sock``."""
    server = server_pid(sock)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if comm == "courtyard-log" and stat.rsplit(")", 1)[1].split()[1] == str(server):
                return Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
    raise AssertionError(f"the server {server} on {sock} has no log keeper")


def server_cgroups(sock: Path) -> str:
    """The cgroups of the process listening on ``sock``."""
    return Path(f"/proc/{server_pid(sock)}/cgroup").read_text()


def server_pid(sock: Path) -> int:
    """The process listening on ``sock`` (found by its inode in /proc)."""
    inode = str(sock.stat().st_ino)
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[-1] == str(sock):
            inode = fields[6]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            for fd in fds:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
        except OSError:
            continue
    raise AssertionError(f"nobody listens on {sock}")
