"""A hub-managed service that dies is started again (1 s, then 2 s: the backoff), and stopping
the hub stops it and the processes it started - checked by pid."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from courtyard.daemon.procs import is_running
from tests.api.conftest import SERVICE_TOKEN, Api, api_config
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root

# the service starts a child of its own, which must not outlive the hub either
WORKER = (
    "import os, subprocess, time\n"
    "child = subprocess.Popen(['sleep', '600'])\n"
    "print('worker', os.getpid(), 'child', child.pid, os.environ['JUPYTERHUB_SERVICE_NAME'],"
    " bool(os.environ['JUPYTERHUB_API_TOKEN']), flush=True)\n"
    "time.sleep(600)\n"
)
SERVICE = f"""
[[services]]
name = "worker"
command = ["{sys.executable}", "-c", {WORKER!r}]
"""


@pytest.fixture
def service_hub(module_state: Path, alice: object, bob: object) -> Iterator[HubProcess]:
    process = HubProcess(module_state.parent / "services-state", api_config(SERVICE)).start()
    yield process
    process.stop()


def service_pid(api: Api) -> int:
    pid: int = api.call("GET", "/services").json()["worker"]["pid"]
    return pid


def wait_new_pid(api: Api, old: int, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while (pid := service_pid(api)) in (0, old):
        assert time.monotonic() < deadline, "the service was not started again"
        time.sleep(0.1)
    return pid


def wait_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while left := [p for p in pids if is_running(p)]:
        assert time.monotonic() < deadline, f"still running: {left}"
        time.sleep(0.05)


def test_a_dead_service_restarts_with_backoff_and_stops_with_the_hub(
    service_hub: HubProcess,
) -> None:
    api = Api(service_hub.url, SERVICE_TOKEN)
    first = wait_new_pid(api, 0)
    service_hub.wait_for_output(rf"worker {first} child \d+ worker True")
    os.kill(first, signal.SIGKILL)
    second = wait_new_pid(api, first)
    service_hub.wait_for_output(r"service 'worker' exited; restarting in 1 s")
    os.kill(second, signal.SIGKILL)  # died quickly again: the next wait doubles
    third = wait_new_pid(api, second)
    service_hub.wait_for_output(r"service 'worker' exited; restarting in 2 s")
    line = service_hub.wait_for_output(rf"worker {third} child \d+")
    child = int(line.split(" child ")[1].split()[0])
    assert is_running(third)
    assert is_running(child)

    assert service_hub.stop() == 0
    wait_gone([third, child])
