"""Data-plane benchmark: direct vs Courtyard's proxy vs configurable-http-proxy, in one run.

    python bench/proxy.py [--duration 5] [--rounds 3] [--quick] [--workers N] [--no-chp]

Starts an upstream (bench/upstream_server.py), Courtyard's ProxyServer
(bench/courtyard_proxy.py) and CHP (npm-installed into bench/.cache), each pinned with
taskset; drives them with wrk (same flags, same pinning, a session cookie on every request)
and a Python WebSocket client; samples VmRSS; prints one report. Every child is stopped by
pid at the end. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvloop
from proxybench import chp, machine, report, wrk, ws_probe
from proxybench.procs import (
    BenchError,
    Child,
    Children,
    free_port,
    pinned,
    raise_nofile,
    require_tool,
)
from proxybench.workload import (
    SMALL_PATH,
    WS_PATH,
    HttpTest,
    Pinning,
    Plan,
    Results,
    cpu_set,
)

from courtyard.proxy.limits import ProxyLimits

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
SESSION = "bench-session-3f9a1c"
COOKIE = f"courtyard-session={SESSION}"
PYTHON = sys.executable
WS_TIMEOUT = 120.0
T = TypeVar("T")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds per test; the best counts (3)"
    )
    parser.add_argument("--quick", action="store_true", help="one round of 3 s runs, 2,000 echoes")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 s runs, direct and Courtyard only, no npm (for the test suite)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="also run Courtyard as N SO_REUSEPORT processes, one per core",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        help="Courtyard's idle upstream connections per route (default: ProxyLimits' own)",
    )
    parser.add_argument("--no-chp", action="store_true", help="skip configurable-http-proxy")
    parser.add_argument(
        "--no-tornado",
        action="store_true",
        help="skip the second small-response row against a tornado upstream",
    )
    parser.add_argument(
        "--chp-version",
        help="npm version spec of configurable-http-proxy, e.g. 4.6.3 or latest "
        "(default: the one in bench/.cache, installing the latest the first time)",
    )
    parser.add_argument("--echoes", type=int, default=10_000, help="WebSocket echoes (10,000)")
    parser.add_argument(
        "--idle-websockets",
        type=int,
        default=1000,
        help="idle WebSockets held open for the memory figure (1,000)",
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    if args.smoke:
        return Plan(
            duration=1,
            rounds=1,
            warmup=0,
            echoes=200,
            idle_websockets=20,
            with_chp=False,
            workers=args.workers,
            pool_size=args.pool_size,
        )
    if args.quick:
        return Plan(
            duration=3,
            rounds=1,
            warmup=1,
            echoes=min(args.echoes, 2000),
            idle_websockets=args.idle_websockets,
            with_chp=not args.no_chp,
            workers=args.workers,
            pool_size=args.pool_size,
        )
    return Plan(
        duration=args.duration,
        rounds=args.rounds,
        warmup=2,
        echoes=args.echoes,
        idle_websockets=args.idle_websockets,
        with_chp=not args.no_chp,
        workers=args.workers,
        pool_size=args.pool_size,
    )


def start_courtyard(
    children: Children,
    cpus: str,
    upstream_port: int,
    hub_port: int,
    pool_size: int | None,
    name: str = "courtyard",
    port: int = 0,
) -> Child:
    argv = [
        PYTHON,
        str(BENCH_DIR / "courtyard_proxy.py"),
        "--upstream-port",
        str(upstream_port),
        "--hub-port",
        str(hub_port),
        "--session",
        SESSION,
        "--port",
        str(port),
    ]
    if port:
        argv.append("--reuse-port")
    if pool_size is not None:
        argv += ["--pool-size", str(pool_size)]
    return children.start_ready_line(name, pinned(cpus, argv))


def check_target(name: str, port: int) -> None:
    """One request with the cookie must reach alice's upstream (200, 100 bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", SMALL_PATH, headers={"Cookie": COOKIE})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200 or len(body) != 100:
        raise BenchError(
            f"{name} answered {response.status} with {len(body)} bytes on "
            f"{SMALL_PATH}; expected 200 and 100 bytes from the upstream"
        )


@dataclass(frozen=True)
class Target:
    """Where the load goes, and which proxy processes to measure (none for direct)."""

    port: int
    pids: tuple[int, ...] = ()


def bounded(probe: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
    """Run one async probe on uvloop, failing after ``timeout`` seconds."""
    try:
        return uvloop.run(asyncio.wait_for(probe, timeout))
    except asyncio.TimeoutError:
        raise BenchError(f"{what} did not finish within {timeout:.0f}s") from None


def measure_websockets(plan: Plan, targets: dict[str, Target], results: Results) -> None:
    for name, target in targets.items():
        if target.pids:
            print(f"  {plan.idle_websockets} idle websockets: {name}", flush=True)
            url = f"ws://127.0.0.1:{target.port}{WS_PATH}"
            probe = ws_probe.idle_sockets(url, COOKIE, plan.idle_websockets, target.pids)
            results.idle[name] = bounded(probe, WS_TIMEOUT, f"{name}: idle websockets")
    for name, target in targets.items():
        print(f"  websocket echoes: {name}", flush=True)
        url = f"ws://127.0.0.1:{target.port}{WS_PATH}"
        echoes = ws_probe.echo_latency(url, COOKIE, plan.echoes)
        results.echo[name] = bounded(echoes, WS_TIMEOUT, f"{name}: websocket echoes")


def load_once(
    plan: Plan, pinning: Pinning, target: Target, test: HttpTest, warm: bool
) -> wrk.LoadResult:
    url = f"http://127.0.0.1:{target.port}{test.path}"
    headers = (f"Cookie: {COOKIE}",)
    if warm and plan.warmup:
        wrk.run(wrk.Load(url, test.connections, plan.warmup, headers), pinning.load)
    load = wrk.Load(url, test.connections, plan.duration, headers)
    return wrk.run(load, pinning.load, target.pids)


def run_rounds(
    plan: Plan,
    pinning: Pinning,
    targets: dict[str, Target],
    results: Results,
    tests: list[HttpTest] | None = None,
) -> None:
    """Every (test, target) ``plan.rounds`` times, interleaved so that drifting background
    load hits every target alike; keeps the best round and records all of them."""
    runs: dict[tuple[str, str], list[wrk.LoadResult]] = {}
    for round_no in range(plan.rounds):
        for test in plan.http_tests() if tests is None else tests:
            for name, target in targets.items():
                print(f"  wrk {test.name}: {name} (round {round_no + 1}/{plan.rounds})", flush=True)
                one = load_once(plan, pinning, target, test, warm=round_no == 0)
                runs.setdefault((test.name, name), []).append(one)
    for key, found in runs.items():
        results.http[key] = wrk.best_of(found)
        results.http_runs[key] = [r.rps for r in found]


def measure_workers(
    plan: Plan,
    pinning: Pinning,
    children: Children,
    upstream_port: int,
    hub_port: int,
    results: Results,
) -> None:
    port = free_port()
    workers = [
        start_courtyard(
            children,
            pinning.worker_cpus(i),
            upstream_port,
            hub_port,
            plan.pool_size,
            name=f"courtyard-worker-{i}",
            port=port,
        )
        for i in range(plan.workers)
    ]
    check_target("courtyard workers", port)
    name = f"courtyard x{plan.workers}"
    scratch = Results()
    run_rounds(plan, pinning, {name: Target(port, tuple(w.pid for w in workers))}, scratch)
    results.worker_count = plan.workers
    for test in plan.http_tests():
        results.workers[test.name] = scratch.http[(test.name, name)]
        results.workers_runs[test.name] = scratch.http_runs[(test.name, name)]
    for worker in workers:
        children.stop(worker)


def measure_tornado(
    plan: Plan, pinning: Pinning, children: Children, hub_port: int, chp_version: str | None
) -> list[str]:
    """Small responses from a tornado upstream (what jupyter_server runs on): direct,
    through a second Courtyard proxy and a second CHP, same pinning as the main rows."""
    upstream = children.start_ready_line(
        "tornado upstream",
        pinned(pinning.upstream, [PYTHON, str(BENCH_DIR / "tornado_upstream.py")]),
    )
    courtyard = start_courtyard(
        children, pinning.proxy, upstream.port, hub_port, plan.pool_size, "courtyard-tornado"
    )
    started = [upstream, courtyard]
    targets = {
        "direct": Target(upstream.port),
        "courtyard": Target(courtyard.port, (courtyard.pid,)),
    }
    if plan.with_chp:
        node = chp.start(children, CACHE_DIR, pinning.proxy, upstream.port, chp_version)
        targets["chp"] = Target(node.port, (node.pid,))
        started.append(node)
    for name, target in targets.items():
        check_target(f"{name} (tornado upstream)", target.port)
    scratch = Results()
    small = [t for t in plan.http_tests() if t.path == SMALL_PATH]
    run_rounds(plan, pinning, targets, scratch, small)
    for child in started:
        children.stop(child)
    return report.tornado_section(scratch)


def settings_line(plan: Plan, pinning: Pinning) -> str:
    pool = ProxyLimits().pool_size if plan.pool_size is None else plan.pool_size
    return f"{pinning.describe()}\ncourtyard: ProxyLimits(pool_size={pool}), other limits default"


def run(args: argparse.Namespace) -> str:
    plan, pinning, results = make_plan(args), Pinning.default(), Results()
    os.sched_setaffinity(0, cpu_set(pinning.load))
    raise_nofile(4 * plan.idle_websockets + 1024)
    wrk.ensure_installed()
    require_tool("taskset", "It comes with util-linux (Debian: apt-get install util-linux).")
    children = Children()
    chp_version, load_at_start = None, machine.load_average()
    try:
        upstream = children.start_ready_line(
            "upstream", pinned(pinning.upstream, [PYTHON, str(BENCH_DIR / "upstream_server.py")])
        )
        hub_port = free_port()  # nothing listens: a request the gate refuses shows as a 502
        courtyard = start_courtyard(
            children, pinning.proxy, upstream.port, hub_port, plan.pool_size
        )
        targets = {
            "direct": Target(upstream.port),
            "courtyard": Target(courtyard.port, (courtyard.pid,)),
        }
        if plan.with_chp:
            node = chp.start(children, CACHE_DIR, pinning.proxy, upstream.port, args.chp_version)
            targets["chp"] = Target(node.port, (node.pid,))
            chp_version = chp.version(CACHE_DIR)
        for name, target in targets.items():
            check_target(name, target.port)
        measure_websockets(plan, targets, results)
        run_rounds(plan, pinning, targets, results)
        if plan.workers:
            measure_workers(plan, pinning, children, upstream.port, hub_port, results)
        tornado: list[str] = []
        if not (args.no_tornado or args.smoke):
            tornado = measure_tornado(plan, pinning, children, hub_port, args.chp_version)
    finally:
        children.stop_all()
    return report.render(
        results,
        machine.describe(chp_version, load_at_start),
        settings_line(plan, pinning),
        tornado,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        text = run(args)
    except BenchError as error:
        print(f"bench/proxy.py: {error}", file=sys.stderr)
        return 1
    print(text)
    print(f"(run took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
