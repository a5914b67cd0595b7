"""The culler in a real hub over 1,000 running servers (10,000 users, bench/controlseed.py:
each running row is a real ``sleep`` process the hub re-attaches by pid and start time): one
pass stops exactly the 500 idle ones (50 at a time, their /proc scans in a thread), leaves the
500 active ones running, and the hub answers requests while it does."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from courtyard.spawners import procinfo
from courtyard.store.store import Store
from tests.hubprocess import HubProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import controlseed

TOKEN = "cy-culler-pass-token-0c9d8e7f6a"
CONFIG = f"""
auth = "local"
log_level = "info"
stop_grace = 3

[culler]
timeout = 3600
every = 5
busy_kernels_are_active = false

[[services]]
name = "watcher"
api_token = "{TOKEN}"

[[load_roles]]
name = "watcher"
scopes = ["admin:users", "admin:servers"]
services = ["watcher"]
"""


@pytest.fixture
def root() -> Iterator[Path]:
    made = Path(tempfile.mkdtemp(prefix="cycull", dir="/tmp"))
    made.chmod(0o755)
    yield made
    shutil.rmtree(made, ignore_errors=True)


def active_users(url: str) -> list[str]:
    found: list[str] = []
    while True:
        r = httpx.get(
            f"{url}/hub/api/users?state=active&limit=200&offset={len(found)}",
            headers={"Authorization": f"token {TOKEN}"},
            timeout=30,
        )
        r.raise_for_status()
        page = [m["name"] for m in r.json()]
        found += page
        if len(page) < 200:
            return found


class HealthDuringPass(threading.Thread):
    """Asks ``GET /hub/health`` back to back; counts the answers that came between the
    pass's first "culling" log line and its "culler pass:" line."""

    def __init__(self, url: str, hub: HubProcess) -> None:
        super().__init__(daemon=True)
        self.url, self.hub = url, hub
        self.done = threading.Event()
        self.answers: list[int] = []
        self.during = 0

    def run(self) -> None:
        seen, culling, passed = 0, False, False
        with httpx.Client(timeout=60) as client:
            while not self.done.is_set() and not passed:
                status = client.get(f"{self.url}/hub/health").status_code
                self.answers.append(status)
                lines = self.hub.output[seen:]
                seen += len(lines)
                culling = culling or any("culling " in line for line in lines)
                passed = any("culler pass: 1000 servers" in line for line in lines)
                self.during += culling and not passed
                time.sleep(0.005)


def test_one_pass_stops_exactly_the_idle_servers(root: Path) -> None:
    state = root / "state"
    state.mkdir()
    url = f"sqlite:///{state / 'courtyard.sqlite'}"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    seeded = controlseed.seed(url, 10_000, runtime_dir=root, now=now)
    hub = HubProcess(state, CONFIG)
    health: HealthDuringPass | None = None
    try:
        assert len(seeded.running) == 1000
        assert len(seeded.idle) == 500
        hub.start(timeout=180)
        assert len([line for line in hub.output if "courtyard.hub: re-attached" in line]) == 1000
        keep = sorted(set(seeded.running) - set(seeded.idle))
        health = HealthDuringPass(hub.url, hub)
        health.start()
        deadline = time.monotonic() + 180
        while active_users(hub.url) != keep and time.monotonic() < deadline:
            time.sleep(1)
        assert active_users(hub.url) == keep
        by_name = dict(zip(seeded.users[::10], seeded.processes, strict=True))
        for name, proc in by_name.items():
            started = procinfo.start_time(proc.pid)
            alive = started is not None and procinfo.is_running(proc.pid, started)
            assert alive == (name in keep), name
        culled = [line for line in hub.output if "culling" in line]
        assert len(culled) == 500
        assert all("idle" in line for line in culled)
        health.join(60)
        assert not health.is_alive()
        assert set(health.answers) == {200}
        assert health.during > 0  # the hub answered while the pass was stopping servers
        hub.stop()
        # what the stops wrote (in batches): each idle row "stopped" for "idle", its process
        # forgotten, its last activity kept (it was once wiped to NULL by the stop)
        store = Store.open(url)
        try:
            rows = {r.user: r for r in store.list_servers()}
        finally:
            store.close()
        for name in seeded.idle:
            row = rows[name]
            assert (row.state, row.stop_reason, row.endpoint, row.secret) == (
                "stopped", "idle", None, ""
            ), name  # fmt: skip
            assert row.spawner_state == {}
            assert row.last_activity == now - controlseed.IDLE_FOR, name
        assert all(rows[name].state == "running" for name in keep)
    finally:
        if health is not None:
            health.done.set()
        hub.stop()
        seeded.close()
