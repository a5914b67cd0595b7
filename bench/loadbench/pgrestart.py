"""Fault: PostgreSQL restarted under load (``database_url`` on a private PostgreSQL cluster).

The bench starts its own throwaway cluster (initdb in the work dir, 127.0.0.1 on a free port,
run as the ``postgres`` user), runs Courtyard on it, and mid-load restarts PostgreSQL with
``pg_ctl stop -m fast``, 5 s down, ``pg_ctl start`` (every connection cut). Verdict: the
hub process is still the same one (it did not die on a lost connection), its API answers again
within seconds, each person's next request with the cookie they had works (sessions are in the
database: nothing was lost), no save is lost, and no request fails once the database is back.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from loadbench.hubs import CourtyardHub, start_courtyard
from loadbench.people import Person
from loadbench.underload import fault_under_load, first_ok, server_status_url

Verdict = tuple[str, bool, str]
OUTAGE = 5.0  # seconds PostgreSQL stays down between its stop and its start


def pg_bin_dir() -> Path | None:
    def major(pg_ctl: Path) -> int:
        version = pg_ctl.parent.parent.name
        return int(version) if version.isdigit() else 0

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=major)
    return found[-1].parent if found else None


def free_port(start: int = 54529) -> int:
    for port in range(start, start + 100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {start}-{start + 99} for the bench's PostgreSQL")


class Postgres:
    """A private cluster owned by the postgres user; only this one is ever stopped."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin, self.root = bin_dir, root
        self.data, self.port = root / "data", free_port()
        self.password = secrets.token_hex(12)
        self.url = f"postgresql+psycopg://cybench:{self.password}@127.0.0.1:{self.port}/cybench"

    def _as_owner(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=check,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    def ctl(self, *argv: str) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")  # fmt: skip
        self._as_owner(str(self.bin / "pg_ctl"), *argv, "-w", "-t", "60", "-D", str(self.data),
                       "-l", str(self.root / "server.log"), "-o", options)  # fmt: skip

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres")
        self._as_owner(str(self.bin / "initdb"), "--no-sync", "-D", str(self.data), "-U",
                       "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust",
                       "--auth-host=scram-sha-256")  # fmt: skip
        self.ctl("start")
        self._as_owner(str(self.bin / "psql"), "-q", "-h", str(self.root), "-p", str(self.port),
                       "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c",
                       f"CREATE ROLE cybench LOGIN PASSWORD '{self.password}'", "-c",
                       "CREATE DATABASE cybench OWNER cybench")  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_owner(str(self.bin / "pg_ctl"), "stop", "-m", "fast", "-w", "-D",
                           str(self.data), check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres(work: Path) -> Iterator[Postgres | None]:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        yield None
        return
    pg = Postgres(bin_dir, work / "pg")
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


def run_pg_restart(crowd: list[Person], work: Path, duration: float) -> Verdict:
    with private_postgres(work) as pg:
        if pg is None:
            return "pg-restart", False, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin)"
        extra = f'database_url = "{pg.url}"'
        with start_courtyard(crowd, work, extra, state_dir=work / "state-pg-restart") as cy:
            return asyncio.run(restart_mid_load(cy, pg, crowd, duration))


async def restart_mid_load(
    cy: CourtyardHub, pg: Postgres, crowd: list[Person], duration: float
) -> Verdict:
    hub_pid = cy.pids()["hub"]

    async def restart(kept: aiohttp.ClientSession) -> tuple[float, int, float, int, int]:
        began = time.monotonic()
        await asyncio.to_thread(pg.ctl, "stop", "-m", "fast")
        await asyncio.sleep(OUTAGE)  # a restart that takes a while, as a real one may
        await asyncio.to_thread(pg.ctl, "start")
        down = time.monotonic() - began
        headers = {"Authorization": f"token {cy.admin_token}"}
        async with aiohttp.ClientSession(headers=headers) as api:
            api_status = await first_ok(api, cy.base_url + "/hub/api/users", 60)
        api_back = time.monotonic() - began
        status = await first_ok(kept, server_status_url(cy, crowd[0]), 60)
        page = await first_ok(kept, cy.base_url + "/hub/home", 30)
        return down, api_status, api_back, status, page

    run = await fault_under_load(cy, crowd, duration, restart, window=2)
    if run is None:
        return "pg-restart", False, "not every server started before the fault"
    down, api_status, api_back, status, page = run.measured
    alive = os.path.exists(f"/proc/{hub_pid}") and cy.pids()["hub"] == hub_pid
    ok = alive and api_status == 200 and status == 200 and page == 200 and run.clean
    detail = (f"PostgreSQL down/up in {down:.1f} s; hub {'kept running' if alive else 'DIED'}; "
              f"API HTTP {api_status} {api_back:.1f} s after the restart began; old cookie: "
              f"server {status}, home page {page}; {run.saves}; {run.cut} requests failed "
              f"around the restart, {run.later} after it ({run.error_kinds})")  # fmt: skip
    return "pg-restart", ok, detail
