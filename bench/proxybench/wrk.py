"""Run wrk (pinned, time-bounded) and read its figures; sample a process's RSS meanwhile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from proxybench.procs import BenchError, pinned, rss_kib

SAMPLE_EVERY = 0.1
APT_TIMEOUT = 300
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class Load:
    """One wrk run: what to hit, how hard, for how long."""

    url: str
    connections: int
    duration: int
    headers: tuple[str, ...] = ()
    threads: int = 1


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: int
    non_2xx: int
    peak_rss_kib: int = 0


def ensure_installed() -> None:
    """wrk from Debian's package, installed with apt-get when missing and we are root."""
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BenchError("wrk is not installed. Install it (Debian: apt-get install wrk).")
    print("installing wrk (apt-get) ...", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, capture_output=True, env=env, timeout=APT_TIMEOUT).returncode:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=APT_TIMEOUT)
        subprocess.run(install, capture_output=True, env=env, timeout=APT_TIMEOUT)
    if not shutil.which("wrk"):
        raise BenchError("apt-get could not install wrk. Install it by hand: apt-get install wrk")


def command(load: Load, cpus: str) -> list[str]:
    argv = ["wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{load.duration}s"]
    argv += ["--latency", "--timeout", "5s"]
    for header in load.headers:
        argv += ["-H", header]
    return pinned(cpus, [*argv, load.url])


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise BenchError(f"wrk printed a latency this bench cannot read: {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse(output: str) -> LoadResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise BenchError(f"wrk output lacks {pattern!r}:\n{output}")
        return match

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return LoadResult(
        rps=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(find(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"^\s+99%\s+(\S+)").group(1)),
        requests=int(find(r"^\s+(\d+) requests in").group(1)),
        socket_errors=sum(int(x) for x in errors.groups()) if errors else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def run(load: Load, cpus: str, watch: Sequence[int] = ()) -> LoadResult:
    """Run wrk to completion; while it runs, sample the summed RSS of the ``watch`` pids."""
    proc = subprocess.Popen(
        command(load, cpus), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    deadline = time.monotonic() + load.duration + 15
    while proc.poll() is None and time.monotonic() < deadline:
        if watch:
            peak = max(peak, sum(rss_kib(pid) for pid in watch))
        time.sleep(SAMPLE_EVERY)
    try:
        output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"wrk did not finish within {load.duration + 15}s") from None
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{output}")
    return replace(parse(output), peak_rss_kib=peak)


def best_of(runs: Sequence[LoadResult]) -> LoadResult:
    """The round with the most requests/s (the least disturbed by other work on the machine),
    with the errors of every round and the highest RSS seen in any."""
    best = max(runs, key=lambda r: r.rps)
    return replace(
        best,
        socket_errors=sum(r.socket_errors for r in runs),
        non_2xx=sum(r.non_2xx for r in runs),
        peak_rss_kib=max(r.peak_rss_kib for r in runs),
    )
