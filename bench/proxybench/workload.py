"""What one run measures (the plan) and what it found (the results)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from proxybench.wrk import LoadResult
from proxybench.ws_probe import EchoResult, IdleResult

SMALL_PATH = "/user/alice/small"
BIG_PATH = "/user/alice/big"
WS_PATH = "/user/alice/ws"
SMALL_TEST = "small 100 B"
BIG_TEST = "big 1 MiB"


@dataclass(frozen=True)
class HttpTest:
    name: str
    path: str
    connections: int
    body_bytes: int


@dataclass(frozen=True)
class Plan:
    duration: int
    rounds: int
    warmup: int
    echoes: int
    idle_websockets: int
    with_chp: bool
    workers: int
    pool_size: int | None = None
    small_connections: int = 50
    big_connections: int = 16

    def http_tests(self) -> list[HttpTest]:
        return [
            HttpTest(SMALL_TEST, SMALL_PATH, self.small_connections, 100),
            HttpTest(BIG_TEST, BIG_PATH, self.big_connections, 1 << 20),
        ]


@dataclass(frozen=True)
class Pinning:
    """CPU lists for taskset: the proxy under test, the upstream, and wrk plus this driver."""

    proxy: str
    upstream: str
    load: str

    @classmethod
    def default(cls) -> Pinning:
        n = os.cpu_count() or 1
        if n == 1:
            return cls("0", "0", "0")
        if n == 2:
            return cls("0", "1", "1")
        return cls("0", "1", f"2-{n - 1}")

    def worker_cpus(self, index: int) -> str:
        return str(index % (os.cpu_count() or 1))

    def describe(self) -> str:
        return (
            f"pinning (taskset -c): proxy {self.proxy} | upstream {self.upstream} | "
            f"wrk and WebSocket client {self.load}"
        )


def cpu_set(cpus: str) -> set[int]:
    """``"0"``, ``"1,3"`` or ``"2-5"`` -> the set of CPU numbers."""
    out: set[int] = set()
    for part in cpus.split(","):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


@dataclass
class Results:
    http: dict[tuple[str, str], LoadResult] = field(default_factory=dict)
    echo: dict[str, EchoResult] = field(default_factory=dict)
    idle: dict[str, IdleResult] = field(default_factory=dict)
    http_runs: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    workers: dict[str, LoadResult] = field(default_factory=dict)
    workers_runs: dict[str, list[float]] = field(default_factory=dict)
    worker_count: int = 0
    small_test: str = SMALL_TEST
    big_test: str = BIG_TEST

    def tests(self) -> list[str]:
        return list(dict.fromkeys(test for test, _ in self.http))
