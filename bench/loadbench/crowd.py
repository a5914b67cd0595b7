"""Fault: 500 idle WebSockets and a slowloris crowd held open while people work.

The same people work twice for the same time: alone, then with ``IDLE_SOCKETS`` idle
WebSockets (jupyter_server's event stream of one person's server, through the hub) and
``SLOWLORIS`` connections that send a request head a few bytes at a time (reopened when the
hub cuts them, as its header timeout should). An idle WebSocket that the hub or the server
closes, or that fails to open, is opened again (bounded backoff) until the end. Verdict: all
``IDLE_SOCKETS`` are open when the crowded phase ends, and the p99 of the others' steps (cells,
saves, re-reads) with the crowd stays within 2x of the p99 without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import websockets
from websockets.typing import Origin

from loadbench.hubs import start_courtyard
from loadbench.people import Hub, Person, live_a_session, login, new_session
from loadbench.stats import Stats, percentile

IDLE_SOCKETS = 500
SLOWLORIS = 100
WORK_STEPS = ("execute cell", "save notebook", "re-read notebook")
Verdict = tuple[str, bool, str]


def p99_of_work(stats: Stats) -> float:
    return percentile([v for s in WORK_STEPS for v in stats.latencies.get(s, [])], 99)


async def slowloris(base: str, deadline: float, cut: list[int]) -> None:
    parts = urlsplit(base)
    while time.monotonic() < deadline:
        try:
            _reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(b"GET /hub/login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while time.monotonic() < deadline:
                await asyncio.sleep(2)
                writer.write(b"X-a: b\r\n")
                await writer.drain()
        except (ConnectionError, OSError, RuntimeError):
            cut[0] += 1  # cut off by the hub, as it should be: open another
            await asyncio.sleep(0.5)


@dataclass
class IdleTally:
    """What the idle WebSockets did: how many are open now, and their troubles."""

    open: int = 0
    closed_early: int = 0  # closed by the hub or the server before the deadline
    reopened: int = 0  # opened again after such a close or a failed open
    failed_opens: int = 0


async def idle_socket(
    url: str, cookie: str, origin: str, deadline: float, tally: IdleTally
) -> None:
    """Hold one WebSocket open until ``deadline``, reading (and dropping) what it is sent;
    reopen it (0.5 s backoff, doubling up to 5 s) whenever it closes or fails to open."""
    backoff, first = 0.5, True
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(
                url, additional_headers={"Cookie": cookie}, origin=Origin(origin),
                open_timeout=60, ping_interval=None,
            ) as ws:  # fmt: skip
                tally.open += 1
                if not first:
                    tally.reopened += 1
                first, backoff = False, 0.5
                try:
                    await asyncio.wait_for(drain(ws), max(0.0, deadline - time.monotonic()))
                    tally.closed_early += 1
                except asyncio.TimeoutError:
                    return  # still open at the deadline
                finally:
                    tally.open -= 1
        except (websockets.WebSocketException, OSError, asyncio.TimeoutError):
            tally.failed_opens += 1
            first = False
        await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
        backoff = min(backoff * 2, 5.0)


async def drain(ws: websockets.ClientConnection) -> None:
    """Read until the socket closes (cleanly or not)."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass


async def phase(hub: Hub, crowd: list[Person], seconds: float) -> Stats:
    stats = Stats()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(live_a_session(p, hub, stats, deadline) for p in crowd))
    return stats


async def scenario(base: str, crowd: list[Person], holder: Person, seconds: float) -> Verdict:
    hub = Hub("courtyard", base)
    await phase(hub, [*crowd, holder], 20)  # every server started, kernels warm
    alone = await phase(hub, crowd, seconds)
    async with new_session(hub) as http:
        await login(http, hub, holder)
        cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    ws_url = base.replace("http", "ws", 1) + f"/user/{holder.name}/api/events/subscribe"
    # A bound only: the holders are counted when the crowded phase ends and cancelled then.
    # (It was the phase's length + 30 s, and opening 500 sockets plus the phase's last steps
    # outlasted it: all 500 had closed on time before they were counted, a false FAIL.)
    deadline = time.monotonic() + 2 * seconds + 120
    tally, cut = IdleTally(), [0]
    holders = [asyncio.create_task(idle_socket(ws_url, cookie, base, deadline, tally))
               for _ in range(IDLE_SOCKETS)]  # fmt: skip
    holders += [asyncio.create_task(slowloris(base, deadline, cut)) for _ in range(SLOWLORIS)]
    for _ in range(60):  # wait (bounded) for the sockets to open
        if tally.open >= IDLE_SOCKETS:
            break
        await asyncio.sleep(0.5)
    at_start = tally.open
    crowded = await phase(hub, crowd, seconds)
    at_end = tally.open  # every one must still (or again) be open when the phase ends
    for task in holders:
        task.cancel()
    await asyncio.gather(*holders, return_exceptions=True)
    a, b = p99_of_work(alone), p99_of_work(crowded)
    errors = sum(crowded.errors.values())
    ok = b <= 2 * a and errors == 0 and at_end >= IDLE_SOCKETS
    detail = (f"idle WebSockets open: {at_start} of {IDLE_SOCKETS} when the phase began, "
              f"{at_end} when it ended ({tally.closed_early} closed early, {tally.reopened} "
              f"reopened, {tally.failed_opens} failed opens); "
              f"{SLOWLORIS} slowloris (cut {cut[0]} times); "
              f"others' cell/save/re-read p99 {a * 1000:.0f} ms alone, {b * 1000:.0f} ms with "
              f"them = {b / a:.2f}x (goal <= 2x); {errors} errors "
              f"{dict(crowded.errors)}")  # fmt: skip
    return "idle-sockets+slowloris", ok, detail


def run_crowd(people: list[Person], work: Path, seconds: float) -> Verdict:
    crowd, holder = people[:-1], people[-1]  # the holder keeps the crowd of sockets open
    with start_courtyard(people, work, state_dir=work / "state-crowd") as cy:
        return asyncio.run(scenario(cy.base_url, crowd, holder, seconds))
