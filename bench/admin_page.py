"""Admin page benchmark: 10,000 users in the store, how fast /hub/admin answers.

    python bench/admin_page.py [--users 10000] [--running 200] [--rounds 30]

Fills a fresh SQLite store (one transaction), starts a real hub (``python -m courtyard up``,
local auth, on a random port), logs in as an admin and times each view of the admin page
(first page by name, by last activity, a search, running only, the last page) against
/hub/home in the same run as the reference. Prints medians and the command that made them.
This is a benchmark, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from benchkit import stop_process
from sqlalchemy import insert

from courtyard.auth.passwords import hash_password
from courtyard.store.models import Server, User
from courtyard.store.store import Store

ADMIN, PASSWORD = "benchadmin", "Bench-admin-pw-1"
READY = re.compile(r"is ready at (http://\S+)")
XSRF = re.compile(r'name="_xsrf"\s+value="([^"]+)"')


def fill_store(url: str, users: int, running: int) -> None:
    store = Store.open(url)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rows = [
        {
            "name": f"user{i:05d}",
            "admin": False,
            "kind": "user",
            "created": base,
            "last_activity": base + timedelta(seconds=i * 37 % 86400) if i % 4 else None,
        }
        for i in range(users)
    ]
    with store.transaction() as db:
        db.execute(insert(User), rows)
        db.add(User(name=ADMIN, admin=True, kind="user", created=base))
    with store.transaction() as db:
        ids = [i + 1 for i in range(0, users, max(1, users // max(running, 1)))][:running]
        servers = [
            {"user_id": uid, "state": "running", "spawner_state": "{}", "secret": ""} for uid in ids
        ]
        if servers:
            db.execute(insert(Server), servers)
    store.set_password_hash(ADMIN, hash_password(PASSWORD))
    store.close()


def start_hub(state: Path) -> tuple[subprocess.Popen[str], str]:
    config = state.parent / "bench.toml"
    config.write_text('auth = "local"\nlog_level = "warning"\n')
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "courtyard",
            "up",
            "--port",
            "0",
            "--state-dir",
            str(state),
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        match = READY.search(line)
        if match:
            return proc, match.group(1).rstrip("/")
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit("the hub did not start")


async def timed(http: aiohttp.ClientSession, url: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        async with http.get(url) as r:
            await r.read()
            if r.status != 200:
                raise SystemExit(f"{url} answered {r.status}")
        times.append((time.perf_counter() - began) * 1000)
    return times


async def measure(base: str, rounds: int, users: int) -> list[tuple[str, list[float]]]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar, headers={"Origin": base}) as http:
        async with http.get(base + "/hub/login") as r:
            token = XSRF.search(await r.text())
        data = {"username": ADMIN, "password": PASSWORD, "next": "/hub/admin"}
        data["_xsrf"] = token.group(1) if token else ""
        async with http.post(base + "/hub/login", data=data) as r:
            if r.status != 200 or "/hub/admin" not in str(r.url):
                raise SystemExit(f"login failed: {r.status} {r.url}")
        last = (users + 1 + 49) // 50
        views = [
            ("/hub/home (reference)", "/hub/home"),
            ("/hub/admin (first page, by name)", "/hub/admin"),
            ("/hub/admin?sort=activity", "/hub/admin?sort=activity"),
            ("/hub/admin?q=user0999 (search)", "/hub/admin?q=user0999"),
            ("/hub/admin?running=1", "/hub/admin?running=1"),
            (f"/hub/admin?page={last} (last page)", f"/hub/admin?page={last}"),
        ]
        await timed(http, base + "/hub/admin", 3)  # warm up
        return [(label, await timed(http, base + path, rounds)) for label, path in views]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--running", type=int, default=200, help="users with a 'running' row")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cybench"))
    state = root / "state"
    state.mkdir(mode=0o700)
    proc = None
    try:
        began = time.perf_counter()
        fill_store(f"sqlite:///{state / 'courtyard.sqlite'}", args.users, args.running)
        print(f"store filled with {args.users} users in {time.perf_counter() - began:.1f} s")
        proc, base = start_hub(state)
        results = asyncio.run(measure(base, args.rounds, args.users))
    finally:
        if proc is not None:
            stop_process(proc, 20)
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"\n$ python bench/admin_page.py --users {args.users} --running {args.running} "
        f"--rounds {args.rounds}"
    )
    print(f"{'view':40} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    for label, times in results:
        p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
        print(f"{label:40} {statistics.median(times):10.1f} {p90:8.1f} {max(times):8.1f}")


if __name__ == "__main__":
    main()
