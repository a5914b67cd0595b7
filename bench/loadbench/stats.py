"""What a load run records: latency per step, errors by kind, saves and their checksums,
and samples of the hub's processes (RSS, CPU) read from /proc."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchkit import processes_of

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    saves: dict[tuple[str, str], str] = field(default_factory=dict)  # (user, path) -> sha256
    lost: list[str] = field(default_factory=list)
    error_times: list[float] = field(default_factory=list)  # time.monotonic() of each

    def record(self, step: str, seconds: float) -> None:
        self.latencies[step].append(seconds)

    def error(self, step: str, kind: str) -> None:
        self.errors[f"{step}: {kind}"[:160]] += 1
        self.error_times.append(time.monotonic())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    at = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[at]


class Timer:
    """``with Timer(stats, "login"):`` records the step's wall time if it did not raise."""

    def __init__(self, stats: Stats, step: str) -> None:
        self.stats, self.step = stats, step

    def __enter__(self) -> Timer:
        self.began = time.perf_counter()
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.stats.record(self.step, time.perf_counter() - self.began)


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class Sampler:
    """Peak RSS of the hub's own processes and of users' servers; CPU of the hub's, per name."""

    infra_peak: int = 0
    servers_peak: int = 0
    cpu_start: dict[int, float] = field(default_factory=dict)
    cpu_last: dict[int, float] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def sample(self, infra: dict[str, int], user_uids: set[int]) -> None:
        self.infra_peak = max(self.infra_peak, sum(rss_bytes(p) for p in infra.values()))
        servers = processes_of(user_uids)
        self.servers_peak = max(self.servers_peak, sum(rss_bytes(p) for p in servers))
        for name, pid in infra.items():
            self.names[pid] = name
            now = cpu_seconds(pid)
            self.cpu_start.setdefault(pid, now)
            self.cpu_last[pid] = now

    def cpu_by_name(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for pid, last in self.cpu_last.items():
            out[self.names[pid].rstrip("0123456789")] += last - self.cpu_start[pid]
        return dict(out)
