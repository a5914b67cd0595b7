"""``courtyard stop`` leaves users' servers running (the next start re-attaches them);
``courtyard stop --servers`` stops them too: server and kernel pids are gone."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from courtyard.daemon.procs import is_running
from tests.conftest import UnixUser
from tests.ops.conftest import courtyard
from tests.ops.test_daemon import start, wait_gone

pytestmark = pytest.mark.root
TOKEN = "cy-ops-stop-servers-token-3f9a1c"  # the test service's API token


def config_for(alice: UnixUser) -> str:
    return f"""
auth = "system"
allowed_users = ["{alice.name}"]
python = "{sys.executable}"
start_timeout = 90
stop_grace = 3

[[services]]
name = "ops"
api_token = "{TOKEN}"

[[load_roles]]
name = "ops"
scopes = ["admin:users", "admin:servers", "tokens", "access:servers"]
services = ["ops"]
"""


def pids_with(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and is_running(int(proc.name)):
            found.append(int(proc.name))
    return found


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def start_server_with_kernel(url: str, user: str) -> str:
    """alice's server, started over the API, with one kernel; the kernel's id."""
    with httpx.Client(base_url=url, headers={"Authorization": f"token {TOKEN}"}, timeout=60) as c:
        assert c.post(f"/hub/api/users/{user}").status_code in (201, 409)
        assert c.post(f"/hub/api/users/{user}/server").status_code in (201, 202)
        deadline = time.monotonic() + 90
        while not c.get(f"/hub/api/users/{user}").json()["servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.3)
        mine = c.post(f"/hub/api/users/{user}/tokens", json={}).json()["token"]
        made = httpx.post(
            f"{url}/user/{user}/api/kernels",
            json={"name": "python3"},
            headers={"Authorization": f"token {mine}"},
            timeout=60,
        )
        assert made.status_code == 201, made.text
        kernel: str = made.json()["id"]
        return kernel


def test_stop_keeps_servers_and_stop_servers_ends_them(state_dir: Path, alice: UnixUser) -> None:
    config = state_dir.parent / "courtyard.toml"
    config.write_text(config_for(alice))
    url, _ = start(state_dir, "--config", str(config), "--auth", "system")
    try:
        kernel = start_server_with_kernel(url.rstrip("/"), alice.name)
        server_pids = pids_with(f"{state_dir}/run/{alice.name}/server.sock")
        kernel_pids = pids_with(kernel)
        # the server and its log keeper (a fork of it: the same command line, the server its parent)
        servers = [pid for pid in server_pids if parent_of(pid) not in server_pids]
        assert len(servers) == 1, server_pids
        assert len(server_pids) == 2, server_pids
        assert kernel_pids

        stopped = courtyard("stop", "--state-dir", str(state_dir), "--config", str(config))
        assert stopped.returncode == 0, stopped.stderr
        assert f"Still running (re-attached next start): servers of {alice.name}." in stopped.stdout
        assert pids_with(f"{state_dir}/run/{alice.name}/server.sock") == server_pids
        assert all(pid in pids_with(kernel) for pid in kernel_pids)

        start(state_dir, "--config", str(config), "--auth", "system")  # re-attaches alice's
        status = courtyard("status", "--state-dir", str(state_dir), "--config", str(config))
        assert f"Running servers: {alice.name}" in status.stdout

        done = courtyard(
            "stop", "--servers", "--state-dir", str(state_dir), "--config", str(config)
        )
        assert done.returncode == 0, done.stderr
        assert f"Stopped the servers of: {alice.name}." in done.stdout
        for pid in server_pids + kernel_pids:
            wait_gone(pid)
        assert pids_with(f"{state_dir}/run/{alice.name}/") == []
    except BaseException:  # a failed test must not leave alice's server behind
        courtyard("stop", "--servers", "--state-dir", str(state_dir), "--config", str(config))
        raise
