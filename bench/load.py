"""The whole hub under many people at once, and under faults: Courtyard vs JupyterHub 6.1.

    sudo /opt/courtyard/venv/bin/python bench/load.py [--people 40] [--duration 300]
        [--api-clients 1000] [--api-duration 120] [--no-jupyterhub] [--faults all|none|a,b]
        [--fault-people N]
    sudo ... bench/load.py --smoke      # under a minute: 2 people, Courtyard only, no faults

Each hub in turn (``courtyard up``; JupyterHub + CHP + idle-culler from bench/jupyterhub_ref.py,
installed into bench/.cache) serves N people (bench users cyload01.., created and removed by
the bench) who log in through the form, wait on the progress page, open JupyterLab and its
assets, start a kernel, run cells over the WebSocket, save and re-read notebooks (checksums)
and idle, plus two API clients (a token listing users page by page, a service polling
activity); then API-only clients. At the end every notebook saved is read back and compared
with its checksum. Printed: per-step p50/p95/p99, errors by kind, peak RSS and CPU of the
hub's own processes and of users' servers, ratios; then each fault scenario's verdict
(bench/loadbench/faults.py). Needs root (real Unix users, PAM). Everything is 127.0.0.1 and
every loop ends at its deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import jupyterhub_ref  # noqa: E402
from loadbench import faults  # noqa: E402
from loadbench.api_clients import api_client  # noqa: E402
from loadbench.hubs import bench_users, start_courtyard, uids  # noqa: E402
from loadbench.people import Hub, Person, live_a_session  # noqa: E402
from loadbench.report import print_report, verify_saves  # noqa: E402
from loadbench.stats import Sampler, Stats  # noqa: E402

SAMPLE_EVERY = 1.0


@dataclass
class Run:
    name: str
    stats: Stats = field(default_factory=Stats)
    api_stats: Stats = field(default_factory=Stats)
    sampler: Sampler = field(default_factory=Sampler)
    api_sampler: Sampler = field(default_factory=Sampler)
    wall: float = 0.0
    # the bench's own process in the API-only phase: its CPU seconds and how late its event
    # loop woke (a saturated client times out on its own, whatever the hub does)
    api_client_cpu: float = 0.0
    api_client_lag: list[float] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=40)
    p.add_argument("--duration", type=float, default=300.0, help="seconds of the people phase")
    p.add_argument("--api-clients", type=int, default=1000)
    p.add_argument("--api-duration", type=float, default=120.0)
    p.add_argument("--no-jupyterhub", action="store_true", help="Courtyard only")
    p.add_argument("--faults", default="all", help=f"all, none, or some of {faults.NAMES}")
    p.add_argument("--fault-people", type=int, default=0, metavar="N",
                   help="people under each fault (default: all of --people)")  # fmt: skip
    p.add_argument("--smoke", action="store_true", help="2 people, 20 s, Courtyard, no faults")
    p.add_argument("--set", action="append", default=[], metavar="LINE", dest="settings",
                   help="a line for Courtyard's config (TOML): 'hub_nice = 0'")  # fmt: skip
    p.add_argument("--keep", action="store_true",
                   help="keep the run's directory: hubs' state, servers' logs")  # fmt: skip
    args = p.parse_args(argv)
    if args.smoke:
        args.people, args.duration, args.api_clients, args.api_duration = 2, 20.0, 20, 5.0
        args.no_jupyterhub, args.faults = True, "none"
    args.fault_people = min(args.fault_people or args.people, args.people)
    if args.fault_people < 2:
        p.error("--fault-people and --people need at least 2 (one to break, one to watch)")
    try:  # before any user is created or hub started
        args.fault_names = faults.selected(args.faults)
    except SystemExit as e:
        p.error(str(e))
    return args


def exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a `kill`, a timeout) ends the run as Ctrl-C does: through the cleanups that
    stop the hubs and remove the bench users."""
    raise SystemExit(128 + signum)


async def sample_until(
    sampler: Sampler, pids: Callable[[], dict[str, int]], user_uids: set[int], deadline: float
) -> None:
    while time.monotonic() < deadline:
        sampler.sample(pids(), user_uids)
        await asyncio.sleep(SAMPLE_EVERY)


async def drive(
    hub: Hub, token: str, people: list[Person], pids: Callable[[], dict[str, int]],
    args: argparse.Namespace, run: Run,
) -> None:  # fmt: skip
    user_uids = uids(people)
    deadline = time.monotonic() + args.duration
    tasks = [live_a_session(p, hub, run.stats, deadline) for p in people]
    tasks += [api_client(hub.base_url, token, run.stats, deadline, kind) for kind in (0, 1)]
    await asyncio.gather(sample_until(run.sampler, pids, user_uids, deadline), *tasks)
    deadline = time.monotonic() + args.api_duration
    clients = [api_client(hub.base_url, token, run.api_stats, deadline, k)
               for k in range(args.api_clients)]  # fmt: skip
    cpu = time.process_time()
    await asyncio.gather(sample_until(run.api_sampler, pids, user_uids, deadline),
                         loop_lag(deadline, run.api_client_lag), *clients)  # fmt: skip
    run.api_client_cpu = time.process_time() - cpu
    await verify_saves(hub, token, run.stats)


async def loop_lag(deadline: float, lags: list[float]) -> None:
    """How late this process's event loop wakes from a 0.1 s sleep, until the deadline."""
    while time.monotonic() < deadline:
        began = time.monotonic()
        await asyncio.sleep(0.1)
        lags.append(time.monotonic() - began - 0.1)


def run_courtyard(people: list[Person], args: argparse.Namespace, work: Path) -> Run:
    run = Run("courtyard")
    state = work / "courtyard-state" if args.keep else None  # None: removed when it stops
    with start_courtyard(people, work, "\n".join(args.settings), state_dir=state) as cy:
        began = time.monotonic()
        asyncio.run(drive(Hub("courtyard", cy.base_url), cy.admin_token, people, cy.pids,
                          args, run))  # fmt: skip
        run.wall = time.monotonic() - began
    return run


def run_jupyterhub(people: list[Person], args: argparse.Namespace, work: Path) -> Run:
    run = Run("jupyterhub")
    paths = jupyterhub_ref.ensure_installed(BENCH_DIR / ".cache")
    users = [p.name for p in people]
    with jupyterhub_ref.start_jupyterhub(paths, users=users, work_dir=work / "jh") as jh:
        began = time.monotonic()
        asyncio.run(drive(Hub("jupyterhub", jh.base_url), jh.admin_token, people, jh.pids,
                          args, run))  # fmt: skip
        run.wall = time.monotonic() - began
    return run


def machine_line() -> str:
    load = os.getloadavg()
    return (f"{platform.node()}: {os.cpu_count()} cores, {platform.python_version()}, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip


@contextmanager
def run_directory(keep: bool) -> Iterator[Path]:
    """The run's working directory: removed at the end unless ``keep``."""
    if not keep:
        with tempfile.TemporaryDirectory(prefix="courtyard-load-") as tmp:
            yield Path(tmp)
        return
    work = Path(tempfile.mkdtemp(prefix="courtyard-load-"))
    print(f"run directory (kept): {work}", flush=True)
    try:
        yield work
    finally:
        print(f"run directory (kept): {work}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/load.py needs root (real Unix users, PAM).", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # 500 sockets; the hub inherits it
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
    print("command: " + " ".join([sys.executable, *sys.argv]), flush=True)
    print("machine (start): " + machine_line(), flush=True)
    runs: list[Run] = []
    verdicts: list[tuple[str, bool, str]] = []
    with run_directory(args.keep) as work, bench_users(args.people) as people:
        os.chmod(work, 0o755)  # noqa: S103 (users' servers read their state below it)
        runs.append(run_courtyard(people, args, work))
        if not args.no_jupyterhub:
            runs.append(run_jupyterhub(people, args, work))
        for name in args.fault_names:
            verdicts.append(faults.run(name, people, work, args))
    print("machine (end): " + machine_line())
    print_report(runs, verdicts, args)
    lost = sum(len(r.stats.lost) for r in runs)
    return 1 if lost or any(not ok for _, ok, _ in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
