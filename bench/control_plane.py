"""The control plane at 1,000 and 10,000 users: Courtyard's REST API, admin page, culler pass,
login and memory, with JupyterHub 6.1 on the side for the API rows (same users and groups,
same run).

    sudo /opt/courtyard/venv/bin/python bench/control_plane.py [--sizes 1000,10000]
        [--rounds 50] [--database-url postgresql+psycopg://...] [--no-jupyterhub]
    ... bench/control_plane.py --private-postgres   # Courtyard on a throwaway PG cluster
    ... bench/control_plane.py --smoke     # seconds: 60 users, 3 rounds, no JupyterHub

For each size a store is filled directly (bench/controlseed.py: a tenth of the users with a
running-server row pointing at a real ``sleep`` process, groups of 100, a token each), the
real hub (``python -m courtyard up``, local auth, culler off) is started on it and timed:
``GET /hub/api/users`` (limit 200, at offset 0 and at the last page, ``state=active``,
``include_stopped_servers``), ``GET /hub/api/users/{name}``, ``GET /hub/api/groups``, the
admin page (first page, a search, sorted by activity), the login form, and the hub's RSS.
Then the hub is restarted with the culler on (every 5 s) and the first two passes are read
from its log (the first stops the idle half of the running servers, the second only checks),
while another thread asks ``GET /hub/health`` back to back: its latency during a pass is how
long the pass held the hub's event loop.

JupyterHub (bench/jupyterhub_ref.py, installed into bench/.cache) gets the same users and
groups through its REST API (no tokens), and the same users' default servers are started
through its API too: a stand-in spawner whose servers are one shared HTTP server of the bench,
so JupyterHub records them as it records real ones (spawner and server rows, proxy routes)
and ``state=active`` lists as many on both sides. Then the same API rows are timed.
Everything is 127.0.0.1; every request has a timeout and every wait a deadline.
``--database-url`` (an empty database: its tables are dropped first) or
``--private-postgres`` (a throwaway cluster, as bench/loadbench/pgrestart.py starts) is for
Courtyard; JupyterHub uses SQLite. This is a benchmark: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.server
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import controlseed  # noqa: E402
import jupyterhub_ref  # noqa: E402
from benchkit import stop_process  # noqa: E402
from loadbench.pgrestart import private_postgres  # noqa: E402

from courtyard.store.models import Base  # noqa: E402

TOKEN = "cy-control-plane-bench-token-7a6b5c4d"
READY = re.compile(r"is ready at (http://\S+)")
PASS = re.compile(
    r"culler pass: (\d+) servers checked, (\d+) culled, in ([\d.]+) s"
    r"(?: \(the event loop's CPU meanwhile, for everything it ran: ([\d.]+) s\))?"
)
XSRF = re.compile(r'name="_xsrf"\s+value="([^"]+)"')
REQUEST_TIMEOUT = 60.0
START_TIMEOUT = 300.0


@dataclass
class Row:
    label: str
    courtyard: list[float] = field(default_factory=list)
    jupyterhub: list[float] = field(default_factory=list)


@dataclass
class CullerPass:
    checked: int
    culled: int
    seconds: float
    loop_cpu: float | None  # the hub's event-loop thread's CPU seconds during the pass
    health_ms: list[float]  # GET /hub/health latencies of the requests made during the pass


@dataclass
class SizeReport:
    users: int
    rows: list[Row]
    culler: list[CullerPass]
    rss_kib: int
    jupyterhub_rss_kib: int | None
    seed_seconds: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,10000", help="comma-separated user counts")
    p.add_argument("--rounds", type=int, default=50, help="requests per row")
    p.add_argument("--database-url", default="", help="Courtyard's database (emptied first)")
    p.add_argument(
        "--private-postgres",
        action="store_true",
        help="start a throwaway PostgreSQL cluster (initdb, 127.0.0.1, a free port) for Courtyard",
    )
    p.add_argument("--no-jupyterhub", action="store_true")
    p.add_argument(
        "--py-spy",
        metavar="FILE",
        default="",
        help="record the culler hub with py-spy (on PATH or beside this Python) during its "
        "passes; FILE gets py-spy's collapsed stacks (one per size: FILE.<users>)",
    )
    p.add_argument("--smoke", action="store_true", help="60 users, 3 rounds, no JupyterHub")
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.rounds, args.no_jupyterhub = "60", 3, True
    return args


def p50_p99(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(client: httpx.Client, path: str, rounds: int, **kw: object) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        r = client.get(path, **kw)  # type: ignore[arg-type]
        r.read()
        times.append((time.perf_counter() - began) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"GET {path} answered {r.status_code}: {r.text[:300]}")
    return times


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and its children (the hub and its proxy workers)."""
    total = 0
    pids = [pid] + [child for child, _ in jupyterhub_ref._children(pid)]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def reset_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@contextmanager
def courtyard_hub(
    state: Path, database_url: str, culler: bool
) -> Iterator[tuple[str, Callable[[], list[str]], int]]:
    config = state.parent / "bench.toml"
    config.write_text(
        f'auth = "local"\nlog_level = "info"\ndatabase_url = "{database_url}"\nstop_grace = 3\n'
        f"[culler]\nenabled = {'true' if culler else 'false'}\ntimeout = 3600\nevery = 5\n"
        "busy_kernels_are_active = false\n"
        f'[[services]]\nname = "bench"\napi_token = "{TOKEN}"\n'
        '[[load_roles]]\nname = "bench"\nscopes = ["admin:users", "admin:servers", '
        '"admin:groups"]\nservices = ["bench"]\n'
    )
    log_path = state.parent / f"hub-{'culler' if culler else 'api'}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "courtyard", "up", "--port", "0", "--state-dir", str(state),
             "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, text=True, cwd="/",
        )  # fmt: skip

    def lines() -> list[str]:
        return log_path.read_text(errors="replace").splitlines()

    try:
        deadline = time.monotonic() + START_TIMEOUT
        url = ""
        while not url:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the hub did not start:\n" + "\n".join(lines()[-30:]))
            found = [m for line in lines() if (m := READY.search(line))]
            if found:
                url = found[0].group(1).rstrip("/")
            time.sleep(0.1)
        yield url, lines, proc.pid
    finally:
        stop_process(proc, 30)


@contextmanager
def py_spy(pid: int, output: str) -> Iterator[None]:
    """With ``output``: py-spy records ``pid`` (and its proxy workers) until the block ends,
    then writes collapsed stacks there (SIGINT: py-spy writes what it has and exits)."""
    if not output:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "250",
           "--format", "raw", "--output", output]  # fmt: skip
    recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            _, err = recorder.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            _, err = recorder.communicate()
        print(f"py-spy: {output}" if Path(output).exists() else f"py-spy wrote nothing: {err}")


def culler_passes(base: str, lines: Callable[[], list[str]]) -> list[CullerPass]:
    """The hub's first two culler passes (from its log), with the latency of
    ``GET /hub/health``, asked back to back from another thread all along: what a person's
    request waits while a pass runs (the hub's event loop is held, or it is not)."""
    probes: list[tuple[float, float]] = []  # (monotonic end, latency ms)
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as c:
            while not done.is_set():
                began = time.monotonic()
                c.get("/hub/health").raise_for_status()
                ended = time.monotonic()
                probes.append((ended, (ended - began) * 1000))
                time.sleep(0.005)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    seen: list[tuple[float, re.Match[str]]] = []  # (monotonic when seen, the log line)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while len(seen) < 2 and time.monotonic() < deadline and prober.is_alive():
            found = [m for line in lines() if (m := PASS.search(line))]
            now = time.monotonic()
            for m in found[len(seen) : 2]:
                seen.append((now, m))
            time.sleep(0.05)
    finally:
        done.set()
        prober.join(REQUEST_TIMEOUT)
    passes = []
    for seen_at, m in seen:
        seconds = float(m.group(3))
        cpu = float(m.group(4)) if m.group(4) else None
        began = seen_at - seconds - 0.1  # the log is read every 0.05 s
        during = [ms for ended, ms in probes if began <= ended - ms / 1000 and ended <= seen_at]
        passes.append(CullerPass(int(m.group(1)), int(m.group(2)), seconds, cpu, during))
    return passes


def login_times(base: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT, headers={"Origin": base}) as c:
            token = XSRF.search(c.get("/hub/login").text)
            data = {"username": controlseed.ADMIN, "password": controlseed.ADMIN_PASSWORD}
            data["_xsrf"] = token.group(1) if token else ""
            began = time.perf_counter()
            r = c.post("/hub/login", data=data)
            times.append((time.perf_counter() - began) * 1000)
            if r.status_code not in (200, 302, 303):
                raise SystemExit(f"login answered {r.status_code}")
    return times


def api_paths(users: int, sample_user: str) -> list[tuple[str, str]]:
    last = max(0, users - 200)
    return [
        ("users limit=200 offset=0", "/hub/api/users?limit=200&offset=0"),
        (f"users limit=200 offset={last:,}", f"/hub/api/users?limit=200&offset={last}"),
        ("users state=active limit=200", "/hub/api/users?state=active&limit=200"),
        ("users include_stopped_servers", "/hub/api/users?limit=200&include_stopped_servers=1"),
        ("users (plain, no limit)", "/hub/api/users"),
        ("users/{name}", f"/hub/api/users/{sample_user}"),
        ("groups", "/hub/api/groups"),
    ]


def measure_courtyard(
    args: argparse.Namespace, users: int, root: Path
) -> tuple[SizeReport, list[Row]]:
    state = root / f"state-{users}"
    state.mkdir()
    url = args.database_url or f"sqlite:///{state / 'courtyard.sqlite'}"
    if args.database_url:
        reset_database(url)
    began = time.perf_counter()
    seeded = controlseed.seed(url, users, runtime_dir=root)
    seed_seconds = time.perf_counter() - began
    sample = seeded.running[len(seeded.running) // 2]
    rows = [Row(label) for label, _ in api_paths(users, sample)]
    try:
        with courtyard_hub(state, url, culler=False) as (base, _, pid):
            headers = {"Authorization": f"token {TOKEN}"}
            with httpx.Client(base_url=base, headers=headers, timeout=REQUEST_TIMEOUT) as c:
                for row, (_, path) in zip(rows, api_paths(users, sample), strict=True):
                    timed(c, path, 2)
                    row.courtyard = timed(c, path, args.rounds)
            with httpx.Client(
                base_url=base, timeout=REQUEST_TIMEOUT, headers={"Origin": base}
            ) as c:
                token = XSRF.search(c.get("/hub/login").text)
                data = {"username": controlseed.ADMIN, "password": controlseed.ADMIN_PASSWORD}
                data["_xsrf"] = token.group(1) if token else ""
                c.post("/hub/login", data=data)
                for label, path in (
                    ("admin page (first page)", "/hub/admin"),
                    ("admin page search q=cp0099", "/hub/admin?q=cp0099"),
                    ("admin page sort=activity", "/hub/admin?sort=activity"),
                    ("admin page show=idle", "/hub/admin?show=idle"),
                ):
                    timed(c, path, 2)
                    rows.append(Row(label, timed(c, path, args.rounds)))
            rows.append(Row("login (POST /hub/login)", login_times(base, min(args.rounds, 20))))
            rss = rss_kib(pid)
        with courtyard_hub(state, url, culler=True) as (base, lines, pid):
            spy = f"{args.py_spy}.{users}" if args.py_spy else ""
            with py_spy(pid, spy):
                passes = culler_passes(base, lines)
    finally:
        seeded.close()
    report = SizeReport(users, rows, passes, rss, None, seed_seconds)
    return report, rows


STAND_IN_SPAWNER = """
from jupyterhub.spawner import Spawner as _Spawner


class StandInSpawner(_Spawner):
    # A server that is one shared stand-in HTTP server (the bench's), so JupyterHub records
    # running servers as it does for real ones (spawner and server rows, a proxy route).
    running = False

    async def start(self):
        self.running = True
        return {url!r}

    async def poll(self):
        return None if self.running else 0

    async def stop(self, now=False):
        self.running = False


c.JupyterHub.spawner_class = StandInSpawner
"""


class StandInServer:
    """An HTTP server on 127.0.0.1 that answers 200 to every GET: what JupyterHub waits for
    after a start (any non-5xx answer on the server's URL)."""

    def __init__(self) -> None:
        class Answer(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_servers(client: httpx.Client, names: list[str]) -> None:
    """Start ``names``' default servers through JupyterHub's API (8 at a time) and wait until
    each is ready, so its ``state=active`` row lists as many running servers as Courtyard's."""

    def start(name: str) -> None:
        with httpx.Client(
            base_url=client.base_url, headers=client.headers, timeout=REQUEST_TIMEOUT
        ) as c:
            r = c.post(f"/hub/api/users/{name}/server")
            if r.status_code not in (201, 202):
                raise SystemExit(f"JupyterHub did not start {name}'s server: {r.status_code}")
            deadline = time.monotonic() + START_TIMEOUT
            while not c.get(f"/hub/api/users/{name}").json()["servers"].get("", {}).get("ready"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"JupyterHub's server for {name} was not ready in time")
                time.sleep(0.1)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(start, names))


def measure_jupyterhub(
    args: argparse.Namespace, users: int, root: Path, rows: list[Row], report: SizeReport
) -> None:
    paths = jupyterhub_ref.ensure_installed(BENCH_DIR / ".cache")
    names = [controlseed.user_name(i) for i in range(users)]
    work = root / f"jupyterhub-{users}"
    stand_in = StandInServer()
    api_only = (  # users that need no Unix account, as Courtyard's local ones
        'c.JupyterHub.authenticator_class = "null"\n'
        "c.JupyterHub.services = [s for s in c.JupyterHub.services if s['name'] == 'bench-admin']\n"
        "c.JupyterHub.load_roles = [r for r in c.JupyterHub.load_roles if r['name'] == 'admin']\n"
        + STAND_IN_SPAWNER.format(url=stand_in.url)
    )
    with stand_in, jupyterhub_ref.start_jupyterhub(
        paths, users=[], work_dir=work, ready_timeout=120, extra_config=api_only
    ) as hub:
        headers = {"Authorization": f"token {hub.admin_token}"}
        with httpx.Client(base_url=hub.base_url, headers=headers, timeout=REQUEST_TIMEOUT) as c:
            for start in range(0, users, 1000):
                r = c.post("/hub/api/users", json={"usernames": names[start : start + 1000]})
                if r.status_code != 201:
                    raise SystemExit(
                        f"JupyterHub refused the users: {r.status_code} {r.text[:300]}"
                    )
            admins = names[1::500]
            for name in admins:
                c.patch(f"/hub/api/users/{name}", json={"admin": True}).raise_for_status()
            for g, start in enumerate(range(0, users, controlseed.GROUP_SIZE)):
                group = names[start : start + controlseed.GROUP_SIZE]
                c.post(f"/hub/api/groups/grp{g:03d}", json={"users": group}).raise_for_status()
            start_servers(c, names[::10])  # the users Courtyard's store has running
            sample = names[len(names) // 20 * 10]
            for row, (_, path) in zip(rows, api_paths(users, sample), strict=False):
                timed(c, path, 2)
                row.jupyterhub = timed(c, path, args.rounds)
        report.jupyterhub_rss_kib = sum(rss_kib(pid) for pid in hub.pids().values())


def print_report(args: argparse.Namespace, reports: list[SizeReport]) -> None:
    load = os.getloadavg()
    print("\n== Control plane ==")
    print(f"$ python bench/control_plane.py --sizes {args.sizes} --rounds {args.rounds}"
          + (" --private-postgres" if args.private_postgres else "")
          + (f" --database-url ...@{args.database_url.split('@')[-1]}"
             if args.database_url and not args.private_postgres else "")
          + (" --no-jupyterhub" if args.no_jupyterhub else ""))  # fmt: skip
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}")  # fmt: skip
    for report in reports:
        print(f"\n-- {report.users:,} users ({report.users // 10:,} running-server rows; "
              f"store filled in {report.seed_seconds:.1f} s) --")  # fmt: skip
        print(f"{'request':36} {'Courtyard p50':>13} {'p99':>8} {'JupyterHub p50':>15} "
              f"{'p99':>8} {'ratio p50':>9}")  # fmt: skip
        for row in report.rows:
            c50, c99 = p50_p99(row.courtyard)
            line = f"{row.label:36} {c50:11.1f}ms {c99:6.1f}ms"
            if row.jupyterhub:
                j50, j99 = p50_p99(row.jupyterhub)
                line += f" {j50:13.1f}ms {j99:6.1f}ms {j50 / c50:8.1f}x"
            print(line)
        for i, one in enumerate(report.culler):
            kind = "first" if i == 0 else "second"
            line = (f"culler pass ({kind}): {one.checked:,} servers checked, {one.culled:,} "
                    f"culled, {one.seconds * 1000:.0f} ms")  # fmt: skip
            if one.loop_cpu is not None:
                line += f" (event loop CPU {one.loop_cpu * 1000:.0f} ms)"
            if one.health_ms:
                h50, h99 = p50_p99(one.health_ms)
                worst = max(one.health_ms)
                line += (f"; GET /hub/health during it: {len(one.health_ms)} requests, p50 "
                         f"{h50:.1f} ms, p99 {h99:.1f} ms, max {worst:.1f} ms")  # fmt: skip
            print(line)
        if not report.culler:
            print("culler pass: no pass was logged before the deadline")
        print(f"hub RSS (hub + proxy workers): {report.rss_kib / 1024:.1f} MiB")
        if report.jupyterhub_rss_kib is not None:
            print(f"JupyterHub RSS (hub + CHP + idle-culler): "
                  f"{report.jupyterhub_rss_kib / 1024:.1f} MiB")  # fmt: skip
    print("\nREPORT COMPLETE")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    root = Path(tempfile.mkdtemp(prefix="cycp", dir="/tmp"))
    root.chmod(0o755)
    reports = []
    try:
        with ExitStack() as stack:
            if args.private_postgres:
                pg = stack.enter_context(private_postgres(root))
                if pg is None:
                    raise SystemExit("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
                args.database_url = pg.url
            for users in sizes:
                report, rows = measure_courtyard(args, users, root)
                if not args.no_jupyterhub:
                    measure_jupyterhub(args, users, root, rows, report)
                reports.append(report)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_report(args, reports)


if __name__ == "__main__":
    main()
