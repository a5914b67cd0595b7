"""Limits over real cgroup v1 hierarchies, with real servers of real Unix users (needs root)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from courtyard.config.settings import Profile
from courtyard.errors import SpawnError
from courtyard.spawners import procinfo
from courtyard.spawners.limits import cgroupfs
from courtyard.spawners.local import LocalSpawner
from tests.conftest import UnixUser
from tests.limits.conftest import LimitedHub
from tests.singleuser.socketclient import execute, request, start_kernel

pytestmark = pytest.mark.root

MakeHub = Callable[..., LimitedHub]
ALLOCATE_400M = "b = b'x' * (400 << 20)\nlen(b)"
BUSY_4S = "import time\nt = time.time()\nwhile time.time() - t < 4: pass\n'done'"
FORK_BOMB = """
import os, time
pids, error = [], None
try:
    while len(pids) < 500:
        pid = os.fork()
        if pid == 0:
            time.sleep(2)
            os._exit(0)
        pids.append(pid)
except OSError as e:
    error = type(e).__name__
for pid in pids:
    os.waitpid(pid, 0)
(len(pids), error)
"""


def base(user: str) -> str:
    return f"/user/{user}/"


async def kernel_of(spawner: LocalSpawner, secret: str) -> str:
    return await start_kernel(str(spawner.socket_path), base(spawner.user), secret)


async def run(spawner: LocalSpawner, secret: str, kernel: str, code: str) -> str:
    return await execute(str(spawner.socket_path), base(spawner.user), secret, kernel, code)


async def answers(spawner: LocalSpawner, secret: str) -> bool:
    path = f"{base(spawner.user)}api/status"
    reply = await request(str(spawner.socket_path), "GET", path, {"X-Courtyard-Secret": secret})
    return reply.status == 200


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def oom_score_adj(pid: int) -> str:
    return Path(f"/proc/{pid}/oom_score_adj").read_text().strip()


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


async def test_a_kernel_past_its_memory_limit_is_killed_and_nothing_else(
    make_hub: MakeHub, alice: UnixUser, bob: UnixUser
) -> None:
    hub = make_hub(memory="200M")
    mine, theirs = hub.spawner(alice.name), hub.spawner(bob.name)
    started, other = await mine.start(lambda p: None), await theirs.start(lambda p: None)
    try:
        kernel = await kernel_of(mine, started.secret)
        bobs_kernel = await kernel_of(theirs, other.secret)
        assert mine.pid is not None
        kernels = [p for p in procinfo.descendants(mine.pid) if "ipykernel" in cmdline(p.pid)]
        assert [oom_score_adj(p.pid) for p in kernels] == ["500"]
        assert oom_score_adj(mine.pid) == "0"
        allocating = asyncio.create_task(run(mine, started.secret, kernel, ALLOCATE_400M))
        deadline = time.monotonic() + 60
        while (measured := mine.measure()) and measured[1] and measured[1].oom_kills == 0:
            assert time.monotonic() < deadline, "no OOM kill within 60 s"
            await asyncio.sleep(0.2)
        allocating.cancel()
        await asyncio.gather(allocating, return_exceptions=True)
        assert await mine.poll() is None, "alice's jupyter server must survive its kernel"
        assert await answers(mine, started.secret)
        assert await run(theirs, other.secret, bobs_kernel, "1+1") == "2"
        bob_measured = theirs.measure()
        assert bob_measured is not None
        assert bob_measured[1] is not None
        assert bob_measured[1].oom_kills == 0
    finally:
        await mine.stop()
        await theirs.stop()


async def test_a_busy_loop_limited_to_half_a_cpu_gets_about_half_a_core(
    make_hub: MakeHub, alice: UnixUser
) -> None:
    hub = make_hub(cpus=0.5)
    spawner = hub.spawner(alice.name)
    started = await spawner.start(lambda p: None)
    try:
        kernel = await kernel_of(spawner, started.secret)
        assert spawner.placement is not None
        usage = Path(spawner.placement.paths["cpuacct"]) / "cpuacct.usage"
        before, wall = int(usage.read_text()), time.monotonic()
        assert await run(spawner, started.secret, kernel, BUSY_4S) == "'done'"
        share = (int(usage.read_text()) - before) / 1e9 / (time.monotonic() - wall)
        assert 0.3 <= share <= 0.7, f"the server used {share:.2f} of a core"
    finally:
        await spawner.stop()


async def test_a_fork_bomb_stops_at_the_tasks_limit(make_hub: MakeHub, alice: UnixUser) -> None:
    hub = make_hub(tasks=80)
    spawner = hub.spawner(alice.name)
    started = await spawner.start(lambda p: None)
    try:
        kernel = await kernel_of(spawner, started.secret)
        forked, error = eval(await run(spawner, started.secret, kernel, FORK_BOMB))  # noqa: S307
        assert error == "BlockingIOError"
        assert forked < 80
        assert await answers(spawner, started.secret)
        assert os.getloadavg() is not None  # and the test process itself still forks:
        assert (await asyncio.create_subprocess_exec("true")).pid > 0
    finally:
        await spawner.stop()


async def test_gpus_are_handed_out_exclusively_and_given_back(
    make_hub: MakeHub, alice: UnixUser, bob: UnixUser, fake_gpus: list[str]
) -> None:
    hub = make_hub(gpus=1, gpu_devices=fake_gpus)
    mine, theirs = hub.spawner(alice.name), hub.spawner(bob.name)
    started, _other = await mine.start(lambda p: None), await theirs.start(lambda p: None)
    try:
        assert mine.pid is not None
        assert theirs.pid is not None
        visible = {environ_of(mine.pid)["CUDA_VISIBLE_DEVICES"]}
        visible.add(environ_of(theirs.pid)["CUDA_VISIBLE_DEVICES"])
        assert visible == {"0", "1"}
        with pytest.raises(SpawnError, match=r"No GPU free right now: 2 in use by cyalice, cybob"):
            await hub.spawner(alice.name, server="third").start(lambda p: None)
        assert mine.placement is not None
        assert theirs.placement is not None
        own, others = mine.placement.gpus[0], theirs.placement.gpus[0]
        kernel = await kernel_of(mine, started.secret)
        code = (
            f"open({own!r}, 'rb').close()\ntry:\n    open({others!r}, 'rb')\n"
            "except PermissionError:\n    r = 'denied'\nr"
        )
        assert await run(mine, started.secret, kernel, code) == "'denied'"
        await theirs.stop()
        assert [holder for _, _, holder in hub.limiter.pool.table()].count(None) == 1
        again = await theirs.start(lambda p: None)
        assert theirs.placement is not None
        assert theirs.placement.gpus == (others,)
        assert again.secret
    finally:
        await mine.stop()
        await theirs.stop()
    assert [holder for _, _, holder in hub.limiter.pool.table()] == [None, None]


async def test_a_reattached_server_keeps_its_cgroup_limits_and_gpu(
    make_hub: MakeHub, alice: UnixUser, fake_gpus: list[str]
) -> None:
    hub = make_hub(memory="300M", cpus=1.5, tasks=200, gpus=1, gpu_devices=fake_gpus)
    first = hub.spawner(alice.name)
    await first.start(lambda p: None)
    state = first.state()
    limiter = hub.restarted()  # the hub restarts: a new limiter, the server runs on
    again = hub.reattach(alice.name, state, limiter)
    try:
        assert await again.poll() is None
        assert again.placement is not None
        assert limiter.backend is not None
        kept = limiter.backend.read_back(again.placement.paths)
        assert kept is not None
        assert (kept.memory, kept.cpus, kept.tasks) == (300 << 20, 1.5, 200)
        assert again.pid is not None
        cgroups = Path(f"/proc/{again.pid}/cgroup").read_text()
        assert f"/{again.placement.key}\n" in cgroups
        assert [holder for _, _, holder in limiter.pool.table()] == [alice.name, None]
        assert limiter.sweep({again.placement.key}) == []
    finally:
        await again.stop()
    assert all(not Path(p).exists() for p in state["limits"]["paths"].values())


async def test_a_profile_sets_the_servers_limits_within_the_rules(
    make_hub: MakeHub, alice: UnixUser
) -> None:
    small = Profile("small", memory="256M", cpus=0.5)
    large = Profile("large", memory="8G", cpus=2)
    hub = make_hub(memory="1G", cpus=1, profiles=[small, large])
    assert [p.name for p in hub.settings().offered_profiles(alice.name)] == ["small"]
    spawner = hub.spawner(alice.name, profile="small")
    await spawner.start(lambda p: None)
    try:
        assert spawner.placement is not None
        assert hub.limiter.backend is not None
        kept = hub.limiter.backend.read_back(spawner.placement.paths)
        assert kept is not None
        assert (kept.memory, kept.cpus) == (256 << 20, 0.5)
    finally:
        await spawner.stop()


async def test_a_named_server_has_its_own_cgroup_with_its_profiles_limits(
    make_hub: MakeHub, alice: UnixUser
) -> None:
    hub = make_hub(
        memory="1G", cpus=1, profiles=[Profile("default"), Profile("small", memory="256M")]
    )
    default = hub.spawner(alice.name, profile="default")
    named = hub.spawner(alice.name, server="notes", profile="small")
    await default.start(lambda p: None)
    try:
        await named.start(lambda p: None)
        try:
            assert default.placement is not None
            assert named.placement is not None
            assert hub.limiter.backend is not None
            assert default.placement.key != named.placement.key
            kept = {
                s.placement.key: hub.limiter.backend.read_back(s.placement.paths)
                for s in (default, named)
                if s.placement is not None
            }
            assert kept[default.placement.key].memory == 1 << 30  # type: ignore[union-attr]
            assert kept[named.placement.key].memory == 256 << 20  # type: ignore[union-attr]
            found = named.measure()
            assert found is not None
            assert found[1] is not None
            assert found[1].memory > 0
        finally:
            await named.stop()
        assert default.placement is not None  # the default server keeps its cgroup
    finally:
        await default.stop()


def test_stale_cgroups_of_ended_servers_are_removed(make_hub: MakeHub) -> None:
    hub = make_hub(memory="100M")
    backend = hub.limiter.backend
    assert backend is not None
    paths = backend.create("gone", hub.limiter.allowance("gone"), [])
    assert all(Path(p).is_dir() for p in paths.values())
    assert hub.limiter.sweep(set()) == ["gone"]
    assert not any(Path(p).exists() for p in paths.values())
    assert cgroupfs.pids_in(Path(paths["memory"])) == []


async def test_rlimits_are_the_last_resort_and_say_what_they_cannot_do(
    make_hub: MakeHub, alice: UnixUser
) -> None:
    hub = make_hub(memory="4G", tasks=4096, backend="rlimits")
    warning = hub.limiter.warning()
    assert warning is not None
    assert "cpus" in warning
    assert "GPU device isolation" in warning
    spawner = hub.spawner(alice.name)
    await spawner.start(lambda p: None)
    try:
        assert spawner.pid is not None
        limits = Path(f"/proc/{spawner.pid}/limits").read_text()
        assert f"Max address space         {4 << 30}" in limits
        assert spawner.measure() is not None
    finally:
        await spawner.stop()
