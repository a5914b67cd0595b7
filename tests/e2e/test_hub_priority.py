"""The hub runs ahead of users' servers (hub_nice): its own nice value and, with autogroup, its
session's scheduling group; a person's server and kernel run at 0 in sessions of their own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from courtyard.priority import apply_hub_priority
from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config, stop_user_servers
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root


def nice_of(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


def autogroup_nice(pid: int) -> int | None:
    """The nice value of ``pid``'s session's scheduling group; None without autogroup."""
    path = Path(f"/proc/{pid}/autogroup")
    if not path.exists():
        return None
    return int(path.read_text().split("nice")[1])


def processes_of(uid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and p.stat().st_uid == uid]  # fmt: skip


async def test_the_hub_runs_ahead_and_a_persons_server_and_kernel_at_zero(
    state_dir: Path, alice: UnixUser, bob: UnixUser
) -> None:
    hub = HubProcess(state_dir, hub_config(alice.name, bob.name, hub_nice=-7)).start()
    try:
        assert hub.proc is not None
        assert nice_of(hub.proc.pid) == -7
        hub.wait_for_output(r"hub priority: nice -7")
        grouped = autogroup_nice(hub.proc.pid)
        assert grouped in (None, -7)
        async with HubClient(hub.url) as a:
            await a.login(alice.name, alice.password)
            await a.wait_until_ready(alice.name)
            await a.start_kernel(alice.name)
            theirs = processes_of(alice.uid)
            assert len(theirs) >= 2  # the server and its kernel
            assert {nice_of(pid) for pid in theirs} == {0}
            if grouped is not None:  # each its own session: its own group, at 0
                assert {autogroup_nice(pid) for pid in theirs} == {0}
                assert all(os.getsid(pid) != os.getsid(hub.proc.pid) for pid in theirs)
    finally:
        hub.stop()
        stop_user_servers(state_dir)


def test_a_hub_not_run_as_root_leaves_its_priority_alone() -> None:
    before = nice_of(0)
    pid = os.fork()
    if pid == 0:  # a child that is no longer root, as a personal hub
        os.setuid(65534)
        os._exit(0 if apply_hub_priority(-5) is None and nice_of(0) == before else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
