"""WebSocket figures: round-trip latency of sequential echoes, and the memory idle sockets cost."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect

from proxybench.procs import rss_kib

MESSAGE = "x" * 32
OPEN_CONCURRENCY = 50
SETTLE = 0.3
SETTLE_MAX = 3.0


@dataclass(frozen=True)
class EchoResult:
    count: int
    p50_us: float
    p99_us: float
    mean_us: float


@dataclass(frozen=True)
class IdleResult:
    count: int
    idle_kib: int
    open_kib: int

    @property
    def per_socket_kib(self) -> float:
        return (self.open_kib - self.idle_kib) / self.count


def _connect(url: str, cookie: str) -> connect:
    return connect(
        url,
        additional_headers={"Cookie": cookie},
        compression=None,
        ping_interval=None,
        open_timeout=10,
        close_timeout=2,
    )


async def echo_latency(url: str, cookie: str, count: int) -> EchoResult:
    """``count`` sequential small text echoes over one connection (after 100 for warm-up)."""
    samples: list[float] = []
    async with _connect(url, cookie) as ws:
        for _ in range(100):
            await ws.send(MESSAGE)
            await ws.recv()
        for _ in range(count):
            start = time.perf_counter_ns()
            await ws.send(MESSAGE)
            reply = await ws.recv()
            samples.append((time.perf_counter_ns() - start) / 1000)
            if reply != MESSAGE:
                raise RuntimeError(f"echo returned {reply!r}")
    samples.sort()
    return EchoResult(
        count=count,
        p50_us=samples[len(samples) // 2],
        p99_us=samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        mean_us=statistics.fmean(samples),
    )


async def _settled_rss(pids: Sequence[int]) -> int:
    """Summed RSS once it stops moving for SETTLE seconds (bounded by SETTLE_MAX)."""
    deadline = time.monotonic() + SETTLE_MAX
    last = sum(rss_kib(pid) for pid in pids)
    while time.monotonic() < deadline:
        await asyncio.sleep(SETTLE)
        now = sum(rss_kib(pid) for pid in pids)
        if now == last:
            break
        last = now
    return last


async def idle_sockets(url: str, cookie: str, count: int, pids: Sequence[int]) -> IdleResult:
    """RSS of ``pids`` before, and with, ``count`` open idle WebSockets through them."""
    idle = await _settled_rss(pids)
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    sockets: list[ClientConnection] = []

    async def open_one() -> None:
        async with gate:
            ws = await _connect(url, cookie)
            sockets.append(ws)
            await ws.send(MESSAGE)
            await ws.recv()

    try:
        await asyncio.gather(*(open_one() for _ in range(count)))
        loaded = await _settled_rss(pids)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return IdleResult(count=count, idle_kib=idle, open_kib=loaded)
