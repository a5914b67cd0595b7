"""A real hub with ``workers = 2``: the hub and one proxy worker share the port; a user's
JupyterLab works through either, identity is checked by both, logout is immediate on both,
and stopping the hub stops the worker."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from courtyard.daemon.procs import children_running, is_running
from courtyard.proxy.fleet import WORKER_MODULE
from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config, stop_user_servers
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root
CONNECTIONS = 30  # each on its own connection: (1/2)^29 that all land on one process
ACCEPTED = re.compile(r'courtyard_proxy_connections_accepted_total\{worker="(\d+)"\} (\d+)')


@pytest.fixture
def two_process_hub(state_dir: Path, alice: UnixUser, bob: UnixUser) -> Iterator[HubProcess]:
    config = hub_config(alice.name, bob.name, workers=2, admin_users=[alice.name])
    process = HubProcess(state_dir, config).start()
    yield process
    process.stop()
    stop_user_servers(state_dir)


async def statuses(base: str, path: str, cookie: str) -> list[int]:
    """Status of ``CONNECTIONS`` GETs, each on a fresh TCP connection."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> int:
            headers = {"Cookie": cookie}
            async with http.get(base + path, headers=headers, allow_redirects=False) as r:
                await r.read()
                return r.status

        return list(await asyncio.gather(*(one() for _ in range(CONNECTIONS))))


async def accepted_per_process(client: HubClient) -> dict[int, int]:
    for _ in range(30):
        status, metrics, _ = await client.get("/hub/metrics")
        assert status == 200, metrics
        accepted = {int(w): int(n) for w, n in ACCEPTED.findall(metrics)}
        if accepted and all(accepted.values()):
            break
        await asyncio.sleep(0.2)
    return accepted


async def test_two_processes_serve_the_port_with_the_same_rules(
    two_process_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    hub = two_process_hub
    hub.wait_for_output("the port is served by 2 processes")
    assert hub.proc is not None
    (worker,) = children_running(hub.proc.pid, WORKER_MODULE)
    lab = f"/user/{alice.name}/api/status"
    async with HubClient(hub.url) as a, HubClient(hub.url) as b:
        await a.login(alice.name, alice.password)
        await a.wait_until_ready(alice.name)
        kernel = await a.start_kernel(alice.name)
        for i in range(4):  # each on a new WebSocket connection, to either process
            assert await a.execute(alice.name, kernel, f"{i} * 7") == str(i * 7)
        assert set(await statuses(hub.url.rstrip("/"), lab, a.cookie_header())) == {200}

        accepted = await accepted_per_process(a)  # a worker reports once a second
        assert set(accepted) == {0, 1}
        assert all(n > 0 for n in accepted.values()), accepted  # both took connections

        await b.login(bob.name, bob.password, next_url="/hub/home")
        assert 200 not in await statuses(hub.url.rstrip("/"), lab, b.cookie_header())

        alices_cookie = a.cookie_header()
        r = await a.post_form("/hub/logout", {})
        assert r.status in (302, 303)
        refused = await statuses(hub.url.rstrip("/"), lab, alices_cookie)
        assert 200 not in refused, refused  # at once, in the worker too (no 5 s cache)

    assert hub.stop() == 0
    assert not is_running(worker)
    assert os.path.exists(hub.state_dir / "run" / alice.name / "server.sock")  # server kept
