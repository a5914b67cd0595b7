"""Fault: the state dir's disk fills up (a 48 MiB tmpfs as the state dir).

While people work, a filler file takes every free byte of the state dir. Verdict: running
servers keep answering (cells run, saves - in the users' homes - go on), a new login is refused
with a clear message (not a traceback or a hang), the hub logs the condition once (not once per
request), it recovers once the filler is removed (a new login works), and SQLite's
``PRAGMA integrity_check`` says ok.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import time
from pathlib import Path

import aiohttp

from loadbench.hubs import CourtyardHub, start_courtyard
from loadbench.people import XSRF_FIELD, Hub, Person, live_a_session, new_session
from loadbench.report import verify_saves
from loadbench.stats import Stats

TMPFS_SIZE = "48m"
Verdict = tuple[str, bool, str]


@contextlib.contextmanager
def small_tmpfs(path: Path):  # type: ignore[no-untyped-def]
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs",
                    str(path)], check=True)  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        for _ in range(4096):  # at most 4 GiB: bounded even if the mount were not small
            f.write(b"\0" * 1024 * 1024)
            f.flush()
    return filler


async def try_login(hub: Hub, person: Person) -> tuple[int, str]:
    """A fresh login through the form: (status, text of the answer)."""
    async with new_session(hub) as http:
        try:
            async with http.get(hub.base_url + "/hub/login") as r:
                page = await r.text()
                if r.status != 200:
                    return r.status, page
            match = XSRF_FIELD.search(page)
            data = {"username": person.name, "password": person.password,
                    "_xsrf": match.group(1) if match else ""}  # fmt: skip
            async with http.post(hub.base_url + "/hub/login", data=data,
                                 allow_redirects=False) as r:  # fmt: skip
                return r.status, await r.text()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
            return -1, type(e).__name__


def run_disk_full(people: list[Person], work: Path, duration: float) -> Verdict:
    crowd, newcomer = people[:-1], people[-1]  # the newcomer logs in while the disk is full
    with small_tmpfs(work / "state-diskfull") as state:
        with start_courtyard(people, work, state_dir=state) as cy:
            verdict = asyncio.run(scenario(cy, crowd, newcomer, state, duration))
        database = state / "courtyard.sqlite"
        with sqlite3.connect(database) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    name, ok, detail = verdict
    return name, ok and integrity == "ok", f"{detail}; integrity_check {integrity!r}"


async def scenario(
    cy: CourtyardHub, crowd: list[Person], newcomer: Person, state: Path, duration: float
) -> Verdict:
    hub = Hub("courtyard", cy.base_url)
    stats = Stats()
    deadline = time.monotonic() + duration
    tasks = [asyncio.create_task(live_a_session(p, hub, stats, deadline)) for p in crowd]
    await asyncio.sleep(min(duration / 3, 40))
    log_mark = len(cy.process.output)
    filler = await asyncio.to_thread(fill, state)
    errors_before = len(stats.error_times)
    await asyncio.sleep(5)
    full_status, full_text = await try_login(hub, newcomer)
    await asyncio.sleep(5)
    working_errors = len(stats.error_times) - errors_before
    filler.unlink()
    await asyncio.sleep(1)
    back_status, _ = await try_login(hub, newcomer)
    await asyncio.gather(*tasks)
    await verify_saves(hub, cy.admin_token, stats)
    lines = [x for x in cy.process.output[log_mark:] if "space" in x.lower() or "full" in x.lower()]
    clear = full_status in (503, 507) and "space" in full_text.lower()
    ok = clear and back_status == 302 and working_errors == 0 and not stats.lost and len(lines) <= 2
    detail = (f"new login while full: HTTP {full_status} ({'clear' if clear else 'NOT clear'}"
              f" message); after space is back: HTTP {back_status}; running people: "
              f"{working_errors} errors while full, {len(stats.saves)} saves, "
              f"{len(stats.lost)} lost; {len(lines)} log lines about it")  # fmt: skip
    return "disk-full", ok, detail
