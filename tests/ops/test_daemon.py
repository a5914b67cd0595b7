"""courtyard start/stop/status/restart/logs with real background hubs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from courtyard.daemon.procs import is_running
from tests.ops.conftest import courtyard

RUNNING = re.compile(r"running in the background at (http://\S+) \(pid (\d+)\)")


def start(state: Path, *extra: str) -> tuple[str, int]:
    done = courtyard("start", "--state-dir", str(state), "--port", "0", "--auth", "local", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    match = RUNNING.search(done.stdout)
    assert match, done.stdout
    return match.group(1), int(match.group(2))


def wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        assert time.monotonic() < deadline, f"pid {pid} still there"
        time.sleep(0.05)


def test_start_status_logs_restart_stop_cycle(state_dir: Path) -> None:
    url, pid = start(state_dir)
    with urllib.request.urlopen(url + "hub/login", timeout=10) as r:  # noqa: S310
        assert r.status == 200
    status = courtyard("status", "--state-dir", str(state_dir))
    assert status.returncode == 0
    assert f"pid {pid}" in status.stdout
    assert url in status.stdout
    assert "Running servers: none" in status.stdout
    logs = courtyard("logs", "-n", "2", "--state-dir", str(state_dir))
    assert logs.returncode == 0
    assert len(logs.stdout.splitlines()) == 2
    assert "with password:" not in (state_dir / "logs" / "courtyard.log").read_text()
    again = courtyard("start", "--state-dir", str(state_dir), "--port", "0")
    assert again.returncode != 0
    assert f"already runs (pid {pid})" in again.stderr

    restarted = courtyard("restart", "--state-dir", str(state_dir), "--port", "0")
    assert restarted.returncode == 0, restarted.stderr
    new_pid = int(RUNNING.search(restarted.stdout).group(2))  # type: ignore[union-attr]
    assert new_pid != pid
    wait_gone(pid)

    stopped = courtyard("stop", "--state-dir", str(state_dir))
    assert stopped.returncode == 0
    assert f"pid {new_pid}" in stopped.stdout
    wait_gone(new_pid)
    assert courtyard("status", "--state-dir", str(state_dir)).returncode == 3
    assert not (state_dir / "courtyard.pid").exists()
    assert not (state_dir / "run" / "status.json").exists()


def test_status_lists_the_proxy_workers_and_stop_ends_them(state_dir: Path) -> None:
    url, pid = start(state_dir, "--workers", "3")
    status = courtyard("status", "--state-dir", str(state_dir))
    found = re.search(r"the hub and 2 proxy workers \(pids (\d+), (\d+)\)", status.stdout)
    assert found, status.stdout
    workers = [int(found.group(1)), int(found.group(2))]
    assert "the hub and 2 proxy workers" in (state_dir / "logs" / "courtyard.log").read_text()
    for _ in range(10):  # each on a new connection, to any of the three processes
        with urllib.request.urlopen(url + "hub/login", timeout=10) as r:  # noqa: S310
            assert r.status == 200
    stopped = courtyard("stop", "--state-dir", str(state_dir))
    assert stopped.returncode == 0, stopped.stderr
    for worker in [pid, *workers]:
        wait_gone(worker)


def test_a_killed_hub_is_noticed_and_its_files_cleaned(state_dir: Path) -> None:
    _, pid = start(state_dir)
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    assert (state_dir / "courtyard.pid").exists()  # a crash leaves it behind
    status = courtyard("status", "--state-dir", str(state_dir))
    assert status.returncode == 3
    assert "not running" in status.stdout
    assert not (state_dir / "courtyard.pid").exists()
    assert not (state_dir / "run" / "status.json").exists()
    _, second = start(state_dir)  # and nothing stands in the way of a new start
    assert second != pid


def test_a_pidfile_whose_pid_now_belongs_to_another_process_fools_nobody(
    state_dir: Path,
) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        state_dir.mkdir(parents=True)
        (state_dir / "courtyard.pid").write_text(f"{stranger.pid} 12345\n")  # other start time
        status = courtyard("status", "--state-dir", str(state_dir))
        assert status.returncode == 3
        assert "not running" in status.stdout
        assert not (state_dir / "courtyard.pid").exists()
        (state_dir / "courtyard.pid").write_text(f"{stranger.pid} 12345\n")
        stop = courtyard("stop", "--state-dir", str(state_dir))
        assert "not running" in stop.stdout
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()


def test_a_port_in_use_is_reported_with_its_holder(state_dir: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import socket,sys,time\n"
         "s=socket.socket();s.bind(('127.0.0.1',0));s.listen()\n"
         "print(s.getsockname()[1],flush=True);time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        port = int(holder.stdout.readline())  # type: ignore[union-attr]
        for command in ("start", "up"):
            done = courtyard(
                command, "--state-dir", str(state_dir), "--port", str(port), "--auth", "local"
            )
            assert done.returncode == 3, done.stderr
            assert f"port {port} is in use by pid {holder.pid} (" in done.stderr
            assert "Traceback" not in done.stderr
    finally:
        holder.kill()
        holder.wait()


def test_port_zero_conflict_free_and_tunnel_names_the_port(state_dir: Path) -> None:
    url, _ = start(state_dir)
    port = url.rsplit(":", 1)[1].strip("/")
    tunnel = courtyard("tunnel", "--state-dir", str(state_dir))
    assert f"ssh -N -L {port}:127.0.0.1:{port} " in tunnel.stdout
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5):
        pass


def test_install_service_writes_a_unit_without_systemd(tmp_path: Path) -> None:
    unit = tmp_path / "courtyard.service"
    done = courtyard("install-service", "--output", str(unit), "--state-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    text = unit.read_text()
    assert "KillMode=process" in text
    assert "Delegate=yes" in text  # cgroup v2 limits need the subtree
    assert f"ExecStart={sys.executable} -m courtyard up --state-dir {tmp_path}" in text
    assert "systemctl daemon-reload" in done.stdout
    assert courtyard("install-service", "--output", str(unit)).returncode != 0  # no overwrite
