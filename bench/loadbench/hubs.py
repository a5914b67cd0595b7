"""The two hubs under test and the Unix users they serve.

Courtyard is started as ``courtyard up`` (tests/hubprocess.py's HubProcess: the real CLI, its
ready line); JupyterHub by bench/jupyterhub_ref.py. Bench users ``cyload01``.. are created with
useradd (random passwords) and removed with userdel at the end unless they existed before;
a run holds their lock throughout, and refuses if another run holds it (bench/benchkit.py).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchkit import throwaway_users
from jupyterhub_ref import _children

from loadbench.people import Person

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.hubprocess import HubProcess

from courtyard.proxy.fleet import WORKER_MODULE

USER_PREFIX = "cyload"


@contextmanager
def bench_users(count: int) -> Iterator[list[Person]]:
    """``count`` Unix users cyload01.. with fresh passwords, locked for this run (benchkit.py);
    the ones created here are removed, with whatever the hubs left running as them."""
    names = [f"{USER_PREFIX}{n:02d}" for n in range(1, count + 1)]
    with throwaway_users(USER_PREFIX, names) as users:
        yield [Person(name, password) for name, password in users.items()]


def uids(people: list[Person]) -> set[int]:
    return {pwd.getpwnam(p.name).pw_uid for p in people}


@dataclass
class CourtyardHub:
    process: HubProcess
    admin_token: str

    @property
    def base_url(self) -> str:
        return self.process.url

    def pids(self) -> dict[str, int]:
        """The hub and its proxy workers, not users' servers. Workers are known by their
        command line: a server's launch is for a moment a root-owned fork of the hub too
        (its whole RSS, shared), and counting it would add a second hub to the peak."""
        assert self.process.proc is not None
        hub = self.process.proc.pid
        found = {"hub": hub}
        workers = [pid for pid, argv in _children(hub) if WORKER_MODULE in argv]
        for n, pid in enumerate(workers, start=1):
            found[f"worker{n}"] = pid
        return found


def courtyard_config(people: list[Person], token: str, extra: str = "") -> str:
    names = ", ".join(f'"{p.name}"' for p in people)
    return f"""auth = "system"
allowed_users = [{names}]
python = "{sys.executable}"
start_timeout = 180
stop_grace = 3
{extra}

[[services]]
name = "bench-admin"
api_token = "{token}"

[[load_roles]]
name = "bench-admin"
scopes = ["admin:users", "admin:servers", "admin:server_state", "access:servers", "list:users",
          "read:users:activity"]
services = ["bench-admin"]
"""


@contextmanager
def start_courtyard(
    people: list[Person], work_dir: Path, extra: str = "", state_dir: Path | None = None
) -> Iterator[CourtyardHub]:
    token = secrets.token_hex(24)
    state = state_dir or work_dir / "courtyard-state"
    state.mkdir(parents=True, exist_ok=True)
    process = HubProcess(state, courtyard_config(people, token, extra))
    process.start(timeout=60)
    try:
        yield CourtyardHub(process, token)
    finally:
        process.stop()
        # The hub's own settings: with database_url (pg-restart) its servers are recorded in
        # PostgreSQL, and a stop-servers reading the state dir's SQLite found none of them.
        subprocess.run(
            [sys.executable, "-m", "courtyard", "stop-servers", "--state-dir", str(state),
             "--config", str(process.config_path)],
            check=False, capture_output=True, env={**os.environ},
        )  # fmt: skip
        if state_dir is None:
            shutil.rmtree(state, ignore_errors=True)
        else:  # the hub's own log beside its servers' (bench/load.py --keep keeps them)
            (state / "hub-output.log").write_text("".join(f"{line}\n" for line in process.output))
