"""LocalSpawner with real servers, as real Unix users (needs root)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from courtyard import ports
from courtyard.errors import InterpreterError, SpawnError, SpawnTimeoutError
from courtyard.spawners import procinfo
from courtyard.spawners.local import LocalSpawner
from tests.conftest import UnixUser
from tests.singleuser.socketclient import execute, request, start_kernel
from tests.spawners.conftest import Hub, RunningServer

pytestmark = pytest.mark.root


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def base(user: UnixUser) -> str:
    return f"/user/{user.name}/"


async def test_alices_server_runs_as_alice_and_answers_with_the_secret(
    hub: Hub, alice: UnixUser, alice_server: RunningServer
) -> None:
    pid = alice_server.spawner.pid
    assert pid is not None
    assert uid_of(pid) == alice.uid
    assert await alice_server.spawner.poll() is None
    headers = {"X-Courtyard-Secret": alice_server.started.secret}
    reply = await request(alice_server.sock, "GET", f"{base(alice)}api/status", headers)
    assert reply.status == 200
    assert [event.percent for event in hub.events][-1] == 100


async def test_alices_server_refuses_requests_without_the_right_secret(
    alice: UnixUser, alice_server: RunningServer
) -> None:
    path = f"{base(alice)}api/status"
    assert (await request(alice_server.sock, "GET", path)).status == 403
    wrong = {"X-Courtyard-Secret": "not-" + alice_server.started.secret}
    assert (await request(alice_server.sock, "GET", path, wrong)).status == 403


async def test_alices_socket_and_directory_are_hers_alone(
    hub: Hub, alice: UnixUser, alice_server: RunningServer
) -> None:
    sock = os.stat(alice_server.sock)
    assert stat.S_IMODE(sock.st_mode) == 0o600
    assert sock.st_uid == alice.uid
    directory = os.stat(os.path.dirname(alice_server.sock))
    assert stat.S_IMODE(directory.st_mode) == 0o700
    assert directory.st_uid == alice.uid
    runtime = os.stat(hub.runtime_dir)
    assert (stat.S_IMODE(runtime.st_mode), runtime.st_uid) == (0o711, 0)
    log = os.stat(hub.log_dir / f"{alice.name}.log")
    assert stat.S_IMODE(log.st_mode) == 0o600


async def test_bob_cannot_connect_to_alices_socket(
    bob: UnixUser, alice_server: RunningServer
) -> None:
    code = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\n"
        "except PermissionError:\n    print('denied')\n"
        "else:\n    print('connected')\n"
    )
    done = subprocess.run(
        ["/usr/bin/python3", "-c", code, alice_server.sock],
        user=bob.name,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.strip() == "denied"


async def test_kernel_runs_code_over_the_socket_and_dies_with_the_server(
    alice: UnixUser, alice_server: RunningServer
) -> None:
    sock, secret = alice_server.sock, alice_server.started.secret
    kernel = await start_kernel(sock, base(alice), secret)
    assert await execute(sock, base(alice), secret, kernel, "1+1") == "2"
    pid = alice_server.spawner.pid
    assert pid is not None
    family = [procinfo.read_stat(pid), *procinfo.descendants(pid)]
    assert len(family) >= 2  # the server and at least the kernel
    await alice_server.spawner.stop()
    assert await alice_server.spawner.poll() is not None
    for member in family:
        assert member is not None
        assert not procinfo.is_running(member.pid, member.start_time)
    assert not os.path.exists(sock)


def socket_inodes(pid: int) -> set[str]:
    links = (os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir())
    return {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}


async def test_a_kernel_talks_to_its_server_over_alices_unix_sockets(
    alice: UnixUser, alice_server: RunningServer
) -> None:
    """TCP ports picked by jupyter_client were taken by others' kernels and connections
    before the kernel bound them (kernels.py): a kernel's sockets are its own files."""
    sock, secret = alice_server.sock, alice_server.started.secret
    kernel = await start_kernel(sock, base(alice), secret)
    assert await execute(sock, base(alice), secret, kernel, "1+1") == "2"
    runtime = Path(sock).parent / "jupyter"
    info = json.loads((runtime / f"kernel-{kernel}.json").read_text())
    assert (info["transport"], info["ip"]) == ("ipc", str(runtime / kernel[:8]))
    for channel in ("shell", "iopub", "stdin", "control", "hb"):
        path = Path(f"{info['ip']}-{info[channel + '_port']}")
        assert stat.S_ISSOCK(path.lstat().st_mode), path
        assert path.lstat().st_uid == alice.uid
    # The server listens on none; the kernel's one TCP socket is ipykernel's pipe for output
    # of processes it forks, bound in one step (zmq's bind_to_random_port), so never taken.
    pid = alice_server.spawner.pid
    assert pid is not None
    listening = ports.listening_sockets()
    found = [listening[inode] for inode in socket_inodes(pid) if inode in listening]
    assert not found, f"the server listens on TCP ports {found}"


async def test_stop_without_grace_still_kills_the_kernels(hub: Hub, alice: UnixUser) -> None:
    spawner = hub.spawner(alice.name, stop_grace=0.0)
    started = await spawner.start(hub.events.append)
    sock = started.endpoint.unix_path
    assert sock is not None
    kernel = await start_kernel(sock, base(alice), started.secret)
    assert await execute(sock, base(alice), started.secret, kernel, "1+1") == "2"
    assert spawner.pid is not None
    family = procinfo.descendants(spawner.pid)
    await spawner.stop()
    assert family
    for member in family:
        assert not procinfo.is_running(member.pid, member.start_time)


async def test_a_restarted_hub_reattaches_and_stops_the_server(hub: Hub, alice: UnixUser) -> None:
    first = hub.spawner(alice.name)
    await first.start(hub.events.append)
    state = first.state()
    assert set(state) >= {"pid", "start_time", "socket", "log_path"}
    again = LocalSpawner.from_state(alice.name, hub.settings, hub.runtime_dir, hub.log_dir, state)
    assert await again.poll() is None
    assert again.state() == {**state}
    await again.stop()
    assert not procinfo.is_running(state["pid"], state["start_time"])
    assert await again.poll() == -1
    await again.stop()  # idempotent


async def test_a_recycled_pid_is_never_signalled(hub: Hub, alice: UnixUser) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        state = {"pid": bystander.pid, "start_time": 1, "socket": "/nonexistent.sock"}
        spawner = LocalSpawner.from_state(
            alice.name, hub.settings, hub.runtime_dir, hub.log_dir, state
        )
        assert await spawner.poll() == -1
        await spawner.stop()
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


async def test_interpreter_the_user_cannot_run_fails_fast(hub: Hub, alice: UnixUser) -> None:
    private = hub.root / "private"
    private.mkdir(mode=0o700)
    python = private / "python3"
    python.symlink_to("/usr/bin/python3")
    spawner = hub.spawner(alice.name, python=str(python))
    began = time.monotonic()
    with pytest.raises(InterpreterError) as caught:
        await spawner.start(hub.events.append)
    assert time.monotonic() - began < 5
    assert str(python) in caught.value.message
    assert 'python = "' in caught.value.message
    assert spawner.pid is None


async def test_pyenv_under_root_is_refused_for_alice(hub: Hub, alice: UnixUser) -> None:
    python = "/root/.pyenv/versions/3.11.7/bin/python3"
    if not os.path.exists(python):
        pytest.skip(f"{python} is not installed here")
    with pytest.raises(InterpreterError, match="may not enter '/root'"):
        await hub.spawner(alice.name, python=python).start(hub.events.append)


async def test_server_exiting_at_start_reports_its_log(hub: Hub, alice: UnixUser) -> None:
    spawner = hub.spawner(alice.name, args=["--no-such-jupyter-flag"])
    with pytest.raises(SpawnError) as caught:
        await spawner.start(hub.events.append)
    assert not isinstance(caught.value, SpawnTimeoutError)
    assert "exited during start" in caught.value.message
    assert caught.value.detail is not None
    assert "--no-such-jupyter-flag" in caught.value.detail


async def test_interpreter_without_jupyter_server_is_named(hub: Hub, alice: UnixUser) -> None:
    python = "/usr/bin/python3"
    if subprocess.run([python, "-c", "import jupyter_server"], capture_output=True).returncode == 0:
        pytest.skip(f"{python} has jupyter_server")
    src = str(Path(__file__).parents[2] / "src")
    spawner = hub.spawner(alice.name, python=python, environment={"PYTHONPATH": src})
    with pytest.raises(SpawnError, match="jupyter_server is not installed in /usr/bin/python3"):
        await spawner.start(hub.events.append)


async def test_interpreter_without_courtyard_is_named(hub: Hub, alice: UnixUser) -> None:
    spawner = hub.spawner(alice.name, python="/usr/bin/python3")
    with pytest.raises(SpawnError, match="courtyard is not installed in /usr/bin/python3"):
        await spawner.start(hub.events.append)


async def test_a_socket_path_that_is_too_long_is_refused(hub: Hub, alice: UnixUser) -> None:
    deep = hub.root / ("d" * 100)
    spawner = LocalSpawner(alice.name, hub.settings, deep, hub.log_dir)
    with pytest.raises(SpawnError, match="Set state_dir to a shorter directory"):
        await spawner.start(hub.events.append)


async def test_a_server_that_never_answers_times_out_and_is_killed(
    hub: Hub, alice: UnixUser
) -> None:
    # An "interpreter" alice may run that starts, never listens, and never exits.
    silent = hub.root / "silent-python"
    silent.write_text("#!/bin/sh\nexec sleep 600\n")
    silent.chmod(0o755)
    spawner = hub.spawner(alice.name, start_timeout=3.0, python=str(silent))
    with pytest.raises(SpawnTimeoutError):
        await spawner.start(hub.events.append)
    assert await spawner.poll() is not None


RESEARCHER_SCRIPT = """
import asyncio, os, sys
from pathlib import Path
from courtyard.config.settings import Settings
from courtyard.spawners.local import LocalSpawner
from courtyard.spawners.probe import probe_status

async def main() -> None:
    root = Path(sys.argv[1])
    settings = Settings(python=sys.executable, state_dir=str(root), start_timeout=60)
    spawner = LocalSpawner("researcher", settings, root / "run", root / "logs")
    started = await spawner.start(lambda event: None)
    status = await probe_status(
        started.endpoint.unix_path, "/user/researcher/api/status",
        {"X-Courtyard-Secret": started.secret},
    )
    uid = os.stat(f"/proc/{spawner.pid}").st_uid
    await spawner.stop()
    print(status, uid == os.getuid(), await spawner.poll())

asyncio.run(main())
"""


def test_without_root_the_server_runs_as_the_hubs_own_account(hub: Hub, bob: UnixUser) -> None:
    own = hub.root / "bob"
    own.mkdir()
    os.chown(own, bob.uid, -1)
    done = subprocess.run(
        [hub.settings.python, "-c", RESEARCHER_SCRIPT, str(own)],
        user=bob.name,
        cwd=str(own),
        env={"PATH": "/usr/bin:/bin", "HOME": bob.home},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.split() == ["200", "True", "-1"], done.stderr[-2000:]


async def test_roots_own_server_runs_without_allow_root_from_the_admin(hub: Hub) -> None:
    """The seed's admin is root: its server starts with no --allow-root in any setting."""
    assert not any("allow" in arg for arg in hub.settings.args)
    spawner = hub.spawner("root", admin_users=["root"])  # as the seed configures it
    started = await spawner.start(hub.events.append)
    try:
        assert started.endpoint.unix_path is not None
        assert os.stat(f"/proc/{spawner.pid}").st_uid == 0
        reply = await request(
            started.endpoint.unix_path,
            "GET",
            "/user/root/api/status",
            {"X-Courtyard-Secret": started.secret},
        )
        assert reply.status == 200
    finally:
        await spawner.stop()
    assert await spawner.poll() is not None


@pytest.mark.parametrize("name", ["root", "daemon", "nobody"])
async def test_system_accounts_get_no_server_unless_the_config_names_them(
    hub: Hub, name: str
) -> None:
    """An admin adding a hub user called ``daemon`` must not get a process (and, with
    admin_access, a shell) as that account; only admin_users/allowed_users open the door."""
    spawner = hub.spawner(name)
    with pytest.raises(SpawnError, match=rf"'{name}' is a system account \(uid \d+, outside"):
        await spawner.start(hub.events.append)
    assert await spawner.poll() is not None
    assert hub.events == []  # refused before anything was started
    allowed = hub.spawner(name, allowed_users=[name], python="/nonexistent/python3")
    with pytest.raises(InterpreterError):  # past the account check, on to the next one
        await allowed.start(hub.events.append)
