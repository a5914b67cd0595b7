"""Fault scenarios on Courtyard under load, each ending in a verdict (name, passed, detail).

- ``hub-kill``: kill -9 of the hub mid-load, then ``courtyard up`` again on the same port and
  state dir: every server survives and is re-attached, each person's next request with the
  cookie they had works without logging in again, no save is lost (checksums).
- ``worker-kill``: the same with ``workers = 2``, killing a proxy worker instead.
- ``sigstop``: one person's server is SIGSTOPped mid-load; the others' cells and saves go on
  (no errors for them) and the hub's event loop lag stays low (measured by a /hub/health probe).
- ``flood``: the same, with one person's cell writing 8 KiB lines to fd 1 (``os.write``: past
  the notebook's output rate limit, into the server's stdout and so its log) as fast as it can
  instead; the others' execute p99 must stay under 1 s and that person's log must never pass
  ``server_log_max`` (the log keeper cuts it; its marker must be there).
- ``pg-restart``: PostgreSQL restarted mid-load, with ``database_url`` on it
  (bench/loadbench/pgrestart.py).
- ``crowd``: 500 idle WebSockets and slowloris connections (bench/loadbench/crowd.py).
- ``disk-full``: the state dir on a small tmpfs fills up (bench/loadbench/diskfull.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
import traceback
import uuid
from pathlib import Path

import aiohttp
import websockets
from benchkit import processes_of

from loadbench.crowd import run_crowd
from loadbench.diskfull import run_disk_full
from loadbench.hubs import CourtyardHub, start_courtyard, uids
from loadbench.people import (
    Hub,
    Person,
    execute_request,
    live_a_session,
    login,
    new_session,
    open_lab,
    start_kernel,
    start_server,
    wait_ready,
)
from loadbench.pgrestart import run_pg_restart
from loadbench.report import MIB, verify_saves
from loadbench.stats import Stats, percentile
from loadbench.underload import (
    fault_under_load,
    first_ok,
    server_status_url,
    wait_until_running,
)

NAMES = ("hub-kill", "worker-kill", "pg-restart", "sigstop", "flood", "disk-full", "crowd")
Verdict = tuple[str, bool, str]
Pids = dict[str, int]  # "user/server" -> the server's pid


def selected(spec: str) -> list[str]:
    if spec == "none":
        return []
    if spec == "all":
        return list(NAMES)
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in NAMES]
    if unknown:
        raise SystemExit(f"unknown fault {unknown[0]!r}; known: {', '.join(NAMES)}")
    return wanted


def run(name: str, people: list[Person], work: Path, args: argparse.Namespace) -> Verdict:
    """One scenario's verdict, printed as soon as it is known. A scenario that crashes (the bench's
    own failure, or an answer it did not foresee) is a failed verdict with its traceback on
    stderr; the scenarios after it still run, and the report still prints."""
    print(f"fault scenario {name} ...", flush=True)
    try:
        verdict = run_scenario(name, people, work, args)
    except Exception as exc:  # reported as the verdict, with its traceback
        traceback.print_exc()
        verdict = (name, False, f"the scenario itself failed: {type(exc).__name__}: {exc}")
    print(f"  {'PASS' if verdict[1] else 'FAIL'}  {name}: {verdict[2]}", flush=True)
    return verdict


def run_scenario(name: str, people: list[Person], work: Path, args: argparse.Namespace) -> Verdict:
    duration = max(30.0, min(args.duration, 90.0))
    crowd = people[: args.fault_people]  # all of the load's people unless --fault-people
    if name == "crowd":
        return run_crowd(crowd, work, duration / 2)
    if name == "disk-full":
        return run_disk_full(crowd, work, duration)
    if name == "pg-restart":
        return run_pg_restart(crowd, work, duration)
    if name in ("hub-kill", "worker-kill"):
        extra = "workers = 2" if name == "worker-kill" else ""
        with start_courtyard(crowd, work, extra, state_dir=work / f"state-{name}") as cy:
            return asyncio.run(kill_mid_load(name, cy, crowd, duration))
    with start_courtyard(crowd, work, state_dir=work / f"state-{name}") as cy:
        return asyncio.run(one_bad_server(name, cy, crowd, duration))


async def kill_mid_load(
    name: str, cy: CourtyardHub, crowd: list[Person], duration: float
) -> Verdict:
    async def kill(kept: aiohttp.ClientSession) -> tuple[int, float, Pids, Pids]:
        servers_before = await server_pids(cy)
        if name == "hub-kill":
            victim = cy.pids()["hub"]
            os.kill(victim, signal.SIGKILL)
            cy.process.proc.wait(10)  # type: ignore[union-attr]
            await asyncio.to_thread(restart_on_same_port, cy)
        else:
            victim = next(pid for n, pid in cy.pids().items() if n.startswith("worker"))
            os.kill(victim, signal.SIGKILL)
        began = time.monotonic()
        status = await first_ok(kept, server_status_url(cy, crowd[0]), 60)
        recovered = time.monotonic() - began
        return status, recovered, servers_before, await server_pids(cy)

    run = await fault_under_load(cy, crowd, duration, kill, window=5)
    if run is None:
        return name, False, "not every server started before the fault"
    status, recovered, servers_before, servers_after = run.measured
    survived = bool(servers_before) and servers_after == servers_before  # re-attached
    survived = survived and all(alive(pid) for pid in servers_before.values())
    ok = status == 200 and survived and run.clean
    detail = (f"next request with the old cookie: HTTP {status} after {recovered:.1f} s; "
              f"{len(servers_before)} servers, {'all' if survived else 'NOT all'} survived; "
              f"{run.saves}; {run.cut} requests cut by the kill (retried), {run.later} errors "
              f"after it ({run.error_kinds})")  # fmt: skip
    return name, ok, detail


async def server_pids(cy: CourtyardHub) -> Pids:
    """Each running server's pid as the hub recorded it (the model's ``state``, scope
    ``admin:server_state``): the processes that must outlive a kill of the hub or a worker."""
    headers = {"Authorization": f"token {cy.admin_token}"}
    url = cy.base_url + "/hub/api/users?state=ready"
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as r:
        users = await r.json() if r.status == 200 else []
    return {f"{u['name']}/{name}": int(server["state"]["pid"])
            for u in users for name, server in u.get("servers", {}).items()
            if server.get("state", {}).get("pid")}  # fmt: skip


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def restart_on_same_port(cy: CourtyardHub) -> None:
    process = cy.process
    process.listen_port = process.port
    process.proc = None
    process.start(timeout=60)


async def health_lag(base: str, deadline: float, lags: list[float]) -> None:
    """The hub's event loop lag, as seen from outside: /hub/health round trips, 5 a second."""
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                async with http.get(base + "/hub/health") as r:
                    await r.read()
                lags.append(time.perf_counter() - began)
            except (aiohttp.ClientError, OSError):
                lags.append(float("inf"))
            await asyncio.sleep(0.2)


async def one_bad_server(
    name: str, cy: CourtyardHub, crowd: list[Person], duration: float
) -> Verdict:
    """``sigstop``: every process of one person's server stopped; ``flood``: one person's cell
    prints as fast as it can for the rest of the run. The others must not notice."""
    stats = Stats()
    victim, others = crowd[0], crowd[1:]
    deadline = time.monotonic() + duration
    hub = Hub("courtyard", cy.base_url)
    tasks = [asyncio.create_task(live_a_session(p, hub, stats, deadline)) for p in others]
    if name == "sigstop":
        tasks.append(asyncio.create_task(live_a_session(victim, hub, Stats(), deadline)))
    if not await wait_until_running(cy, crowd if name == "sigstop" else others, 240):
        return name, False, "not every server started before the fault"
    errors_before = sum(stats.errors.values())
    lags: list[float] = []
    if name == "sigstop":
        stopped = processes_of(uids([victim]))
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            await health_lag(cy.base_url, deadline, lags)
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        what = f"{len(stopped)} processes of {victim.name} stopped"
    else:
        log = cy.process.state_dir / "logs" / f"{victim.name}.log"
        sizes: list[int] = []
        flooded = asyncio.create_task(flood_output(hub, victim, deadline))
        watched = asyncio.create_task(watch_size(log, deadline + 5, sizes))
        await health_lag(cy.base_url, deadline, lags)
        written, received = await flooded
        await watched
        flood_ok, what = judge_flood(log, written, received, sizes)
    await asyncio.gather(*tasks)
    await verify_saves(hub, cy.admin_token, stats)
    errors = sum(stats.errors.values()) - errors_before
    p99 = percentile(lags, 99)
    ok = errors == 0 and not stats.lost and p99 < 0.5
    if name == "flood":
        ok = ok and flood_ok and percentile(stats.latencies["execute cell"], 99) < FLOOD_OTHERS_P99
    detail = (f"{what}; others: {errors} errors, {len(stats.saves)} saves, {len(stats.lost)} "
              f"lost, execute cell p99 {percentile(stats.latencies['execute cell'], 99) * 1000:.0f}"
              f" ms; /hub/health p50 {percentile(lags, 50) * 1000:.0f} ms, p99 "
              f"{p99 * 1000:.0f} ms")  # fmt: skip
    return name, ok, detail


FLOOD_CELL = """import os, time
end = time.monotonic() + {seconds:.0f}
line = b"x" * 8191 + b"\\n"
written = 0
while time.monotonic() < end and written < {most}:
    written += os.write(1, line)
written
"""
FLOOD_MOST = 64 << 30  # bytes: the cell's own bound, far past any server_log_max
FLOOD_OTHERS_P99 = 1.0  # seconds: the others' execute cell p99 while one person floods
SERVER_LOG_MAX = 16 << 20  # the hub's default server_log_max (the bench does not set it)


async def watch_size(path: Path, deadline: float, sizes: list[int]) -> None:
    """The log's size, 10 times a second: its largest must stay below the bound."""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            sizes.append(path.stat().st_size)
        await asyncio.sleep(0.1)


def judge_flood(log: Path, written: int, received: int, sizes: list[int]) -> tuple[bool, str]:
    """Whether the victim's log stayed within server_log_max and says it was cut."""
    try:
        data = log.read_bytes()
    except OSError as exc:
        return False, f"the flooding person's log {str(log)!r} is unreadable: {exc}"
    cut = data.split(b"\n", 1)[0] if data.startswith(b"[courtyard:") else b""
    dropped = cut.split(b" bytes dropped so far", 1)[0].rsplit(b" ", 1)[-1] if cut else b"0"
    largest = max([*sizes, len(data)])
    ok = written > SERVER_LOG_MAX and largest <= SERVER_LOG_MAX and bool(cut)
    what = (
        f"one cell wrote {written / MIB:.0f} MiB to fd 1 ({received / MIB:.0f} MiB reached "
        f"its browser); its log {largest / MIB:.1f} MiB at most (bound "
        f"{SERVER_LOG_MAX / MIB:.0f} MiB), {len(data) / MIB:.1f} MiB at the end, "
        f"{'cut, ' + dropped.decode() + ' bytes dropped' if cut else 'NOT cut'}"
    )
    return ok, what


async def flood_output(hub: Hub, person: Person, deadline: float) -> tuple[int, int]:
    """Log ``person`` in, start a kernel and run a cell that writes 8 KiB lines to fd 1 until
    the deadline, reading every output message as a browser would; the bytes the cell wrote
    (its result) and the bytes its browser received."""
    received, written = 0, -1
    async with new_session(hub) as http:
        await login(http, hub, person)
        await start_server(http, hub, person)
        await wait_ready(http, hub, person)
        xsrf = await open_lab(http, hub, person)
        kernel = await start_kernel(http, hub, person, xsrf)
        ws_url = hub.base_url.replace("http", "ws", 1)
        ws_url += f"/user/{person.name}/api/kernels/{kernel}/channels"
        cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
        seconds = max(1.0, deadline - time.monotonic() - 2)
        cell = FLOOD_CELL.format(seconds=seconds, most=FLOOD_MOST)
        async with websockets.connect(
            ws_url, additional_headers={"Cookie": cookie}, origin=hub.base_url,  # type: ignore[arg-type]
            open_timeout=60, max_size=None,
        ) as ws:  # fmt: skip
            msg_id = uuid.uuid4().hex
            await ws.send(json.dumps(execute_request(msg_id, cell)))
            replied = False
            # jupyter_server drops output past its IOPub rate limit: silence can last until the
            # cell ends at the deadline, so the wait is bounded by the deadline, not per message.
            while time.monotonic() < deadline + 30 and not (replied and written >= 0):
                raw = await asyncio.wait_for(ws.recv(), max(1.0, deadline + 30 - time.monotonic()))
                received += len(raw)
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg.get("msg_type") == "execute_result":
                    written = int(msg["content"]["data"]["text/plain"])
                replied = replied or msg.get("msg_type") == "execute_reply"
    return written, received
