"""A store with many users, written directly (bulk inserts, seconds for 10,000): for
bench/control_plane.py and the tests that page through it (tests/api/test_paging.py,
tests/culler/test_culler_pass.py).

Every tenth user has a default server row in state "running" that points at a real process
(``sleep``, its own session, with its pid and /proc start time), so a hub started on the
store re-attaches it (spawners/local.py checks pid + start time) and the culler can stop it.
Half of those servers are idle (last activity two hours ago), half active (now). Users are in
groups of 100 (``grp000``...) and each has one API token.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select

from courtyard.auth.passwords import hash_password
from courtyard.auth.tokens import hash_token
from courtyard.spawners import procinfo
from courtyard.store.models import ApiToken, Group, Server, User, UserGroup
from courtyard.store.store import Store

IDLE_FOR = timedelta(hours=2)
GROUP_SIZE = 100


@dataclass
class Seeded:
    """What was written: names by kind, and the sleep processes (stop them with ``close``)."""

    users: list[str]
    running: list[str]  # users whose server row is "running"
    idle: list[str]  # of those, the ones idle for IDLE_FOR
    groups: list[str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
        for proc in self.processes:
            proc.wait()


def user_name(i: int) -> str:
    return f"cp{i:05d}"


def sleeper() -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(["sleep", "100000"], start_new_session=True)
    started = None
    while started is None:
        started = procinfo.start_time(proc.pid)
    return proc, started


ADMIN = "cp00001"  # an admin (every 500th user from the second is one); ADMIN_PASSWORD logs in
ADMIN_PASSWORD = "Control-plane-pw-1"


def seed(url: str, users: int, *, runtime_dir: Path, now: datetime | None = None) -> Seeded:
    """Fill the (new, empty) database at ``url`` with ``users`` users (at least 2) as
    described above; ADMIN gets the password ADMIN_PASSWORD (auth = "local")."""
    now = now or datetime.now(timezone.utc)
    store = Store.open(url)
    names = [user_name(i) for i in range(users)]
    groups = [f"grp{g:03d}" for g in range((users + GROUP_SIZE - 1) // GROUP_SIZE)]
    running = names[::10]
    idle = running[::2]
    seeded = Seeded(names, running, idle, groups)
    created = now - timedelta(days=30)
    rows = [
        {
            "name": name,
            "admin": i % 500 == 1,
            "kind": "user",
            "password_hash": hash_password(ADMIN_PASSWORD) if name == ADMIN else None,
            "created": created + timedelta(seconds=i),
            "last_activity": None if i % 7 == 3 else now - timedelta(seconds=(i * 37) % 86400),
        }
        for i, name in enumerate(names)
    ]
    idle_set = set(idle)
    try:
        servers = []
        for i, name in enumerate(names):
            if i % 10:
                continue
            proc, started = sleeper()
            seeded.processes.append(proc)
            stamp = now - IDLE_FOR if name in idle_set else now
            rows[i]["last_activity"] = stamp
            spawner_state = {
                "pid": proc.pid,
                "start_time": started,
                "socket": str(runtime_dir / f"{name}.sock"),
                "log_path": str(runtime_dir / f"{name}.log"),
                "profile": "",
            }
            servers.append(
                {
                    "user_id": name,
                    "name": "",
                    "state": "running",
                    "started": now - IDLE_FOR - timedelta(minutes=5),
                    "last_activity": stamp,
                    "spawner_state": json.dumps(spawner_state, sort_keys=True),
                    "endpoint": json.dumps(
                        {"unix_path": spawner_state["socket"], "host": None, "port": None}
                    ),
                    "secret": f"secret-{name}",
                    "user_options": "{}",
                    "display_name": "",
                }
            )
        with store.transaction() as db:  # ids from the database (PostgreSQL's sequences)
            db.execute(insert(User), rows)
            db.execute(insert(Group), [{"name": n} for n in groups])
            uid = {name: id_ for name, id_ in db.execute(select(User.name, User.id))}
            gid = {name: id_ for name, id_ in db.execute(select(Group.name, Group.id))}
            db.execute(
                insert(UserGroup),
                [
                    {"user_id": uid[name], "group_id": gid[groups[i // GROUP_SIZE]]}
                    for i, name in enumerate(names)
                ],
            )
            for server in servers:
                server["user_id"] = uid[str(server["user_id"])]
            if servers:
                db.execute(insert(Server), servers)
            db.execute(
                insert(ApiToken),
                [
                    {
                        "user_id": uid[name],
                        "hash": hash_token(f"token-{name}"),
                        "prefix": f"token-{name}"[:4],
                        "note": "seeded",
                        "created": created,
                        "scopes": '["inherit"]',
                    }
                    for name in names
                ],
            )
    except BaseException:
        seeded.close()
        raise
    finally:
        store.close()
    return seeded
