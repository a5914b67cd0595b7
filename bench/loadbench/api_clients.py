"""API-only clients: a token listing users page by page, and a service polling activity."""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp

from loadbench.stats import Stats, Timer

PAGINATED = "application/jupyterhub-pagination+json"


async def list_users_paginated(http: aiohttp.ClientSession, base: str, stats: Stats) -> None:
    """Every page of /hub/api/users, 10 at a time, following ``_pagination.next``."""
    offset, pages = 0, 0
    while pages < 100:
        url = f"{base}/hub/api/users?offset={offset}&limit=10"
        async with http.get(url, headers={"Accept": PAGINATED}) as r:
            if r.status != 200:
                stats.error("API list users", f"HTTP {r.status}")
                return
            body = await r.json()
        pages += 1
        following = (body.get("_pagination") or {}).get("next")
        if not following:
            return
        offset = int(following["offset"])


async def poll_activity(http: aiohttp.ClientSession, base: str, stats: Stats) -> None:
    async with http.get(f"{base}/hub/api/users?state=active") as r:
        if r.status != 200:
            stats.error("API poll activity", f"HTTP {r.status}")
        await r.read()


async def api_client(base: str, token: str, stats: Stats, deadline: float, kind: int) -> None:
    """One client until the deadline: every 1-3 s, a listing (even kind) or a poll (odd)."""
    headers = {"Authorization": f"token {token}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        await asyncio.sleep(random.uniform(0, 2))
        while time.monotonic() < deadline:
            step = "API list users (all pages)" if kind % 2 == 0 else "API poll activity"
            try:
                with Timer(stats, step):
                    if kind % 2 == 0:
                        await list_users_paginated(http, base, stats)
                    else:
                        await poll_activity(http, base, stats)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as e:
                stats.error(step, type(e).__name__)
            await asyncio.sleep(min(random.uniform(1, 3), max(0, deadline - time.monotonic())))
