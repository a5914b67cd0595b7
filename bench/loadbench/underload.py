"""One fault under load: the skeleton ``hub-kill``, ``worker-kill`` and ``pg-restart`` share.

The crowd works (live_a_session) until the deadline; once every server is running, one person
logs in on a session kept across the fault, the fault runs (an async callable given that kept
session, returning what it measured), the load ends, every save is read back, and each error
is counted as cut by the fault (up to ``window`` seconds after it) or as after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import aiohttp

from loadbench.hubs import CourtyardHub
from loadbench.people import Hub, Person, live_a_session, login, new_session
from loadbench.report import verify_saves
from loadbench.stats import Stats

M = TypeVar("M")
Fault = Callable[[aiohttp.ClientSession], Awaitable[M]]


@dataclass
class UnderLoad(Generic[M]):
    measured: M  # what the fault returned
    stats: Stats
    cut: int  # errors up to ``window`` seconds after the fault: connections it cut, retried
    later: int  # errors after that: there must be none

    @property
    def saves(self) -> str:
        return f"{len(self.stats.saves)} saves, {len(self.stats.lost)} lost"

    @property
    def error_kinds(self) -> dict[str, int]:
        return dict(self.stats.errors.most_common(4))

    @property
    def clean(self) -> bool:
        """No save lost and no error once the fault's window is over."""
        return not self.stats.lost and self.later == 0


async def fault_under_load(
    cy: CourtyardHub, crowd: list[Person], duration: float, fault: Fault[M], window: float
) -> UnderLoad[M] | None:
    """Run ``fault`` mid-load as the module docstring says; None if not every server started
    before it (the fault is then not run)."""
    stats = Stats()
    tasks = await load_with(cy, crowd, duration, stats)
    if not await wait_until_running(cy, crowd, 240):
        return None
    hub = Hub("courtyard", cy.base_url)
    async with new_session(hub) as kept:
        await login(kept, hub, crowd[0])  # a cookie kept across the fault
        measured = await fault(kept)
        window_end = time.monotonic() + window
    await asyncio.gather(*tasks)
    await verify_saves(hub, cy.admin_token, stats)
    cut = sum(1 for t in stats.error_times if t <= window_end)
    return UnderLoad(measured, stats, cut, len(stats.error_times) - cut)


async def load_with(
    cy: CourtyardHub, crowd: list[Person], duration: float, stats: Stats
) -> list[asyncio.Task[None]]:
    deadline = time.monotonic() + duration
    hub = Hub("courtyard", cy.base_url)
    return [asyncio.create_task(live_a_session(p, hub, stats, deadline)) for p in crowd]


async def wait_until_running(cy: CourtyardHub, crowd: list[Person], timeout: float) -> bool:
    headers = {"Authorization": f"token {cy.admin_token}"}
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(headers=headers) as http:
        while time.monotonic() < deadline:
            async with http.get(cy.base_url + "/hub/api/users?state=ready") as r:
                ready = {u["name"] for u in await r.json()} if r.status == 200 else set()
            if all(p.name in ready for p in crowd):
                return True
            await asyncio.sleep(1)
    return False


async def first_ok(http: aiohttp.ClientSession, url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline:
        try:
            async with http.get(url, allow_redirects=False) as r:
                status = r.status
                if status == 200:
                    return status
        except (aiohttp.ClientError, OSError):
            status = -1
        await asyncio.sleep(0.2)
    return status


def server_status_url(cy: CourtyardHub, person: Person) -> str:
    """What the kept session asks after a fault: its own server, through the hub's proxy."""
    return f"{cy.base_url}/user/{person.name}/api/status"
