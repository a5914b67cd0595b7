"""The enter step (courtyard.spawners.limits.enter) that every server of another user goes
through, with or without limits: the hub never forks itself to become the user (needs root)."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from courtyard.spawners import local
from courtyard.spawners.limits.enter import (
    EXIT_CANNOT_BECOME,
    EXIT_CANNOT_RUN,
    MODULE,
    enter_command,
)
from tests.conftest import UnixUser
from tests.spawners.conftest import Hub

pytestmark = pytest.mark.root

SHOW_IDS = "import os; print(os.getuid(), os.getgid(), sorted(os.getgroups()))"


def ids_of(user: UnixUser) -> tuple[int, int, list[int]]:
    entry = pwd.getpwnam(user.name)
    return entry.pw_uid, entry.pw_gid, os.getgrouplist(user.name, entry.pw_gid)


def test_the_step_becomes_the_user_with_their_groups_and_execs_the_command(
    alice: UnixUser,
) -> None:
    uid, gid, groups = ids_of(alice)
    command = enter_command(["/usr/bin/python3", "-c", SHOW_IDS], ids=(uid, gid, groups))
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == f"{uid} {gid} {sorted(set(groups))}"  # hers, no more (root's)


def test_the_servers_environment_does_not_reach_the_step_that_runs_as_root(
    alice: UnixUser,
) -> None:
    """PYTHONPATH, PYTHONSTARTUP and the like are the server's (a profile's, a user's
    environment's): the root step runs isolated, so a sitecustomize on that path runs only
    in the user's own process."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 - alice reads the sitecustomize in it
        seen = Path(tmp) / "seen"
        seen.touch()
        os.chown(seen, alice.uid, -1)  # alice's process may write it; root's could anyway
        (Path(tmp) / "sitecustomize.py").write_text(
            f"import os\nwith open({str(seen)!r}, 'a') as f: f.write(f'{{os.getuid()}}\\n')\n"
        )
        os.chmod(Path(tmp) / "sitecustomize.py", 0o644)
        command = enter_command(["/usr/bin/python3", "-c", "pass"], ids=ids_of(alice))
        env = {**os.environ, "PYTHONPATH": tmp}
        subprocess.run(command, env=env, check=True, timeout=30)
        assert seen.read_text().split() == [str(alice.uid)]  # never "0"


def test_a_step_that_cannot_become_the_user_says_so_with_its_own_status(
    alice: UnixUser,
) -> None:
    command = enter_command(["/bin/true"], ids=(0, 0, [0]))  # alice asks to become root
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=30, user=alice.uid, group=alice.uid
    )
    assert done.returncode == EXIT_CANNOT_BECOME
    assert "courtyard-enter: cannot become uid 0" in done.stderr


def test_a_command_that_cannot_run_exits_127_naming_it(alice: UnixUser) -> None:
    command = enter_command(["/nonexistent/python3", "-V"], ids=ids_of(alice))
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_CANNOT_RUN
    assert "cannot run '/nonexistent/python3'" in done.stderr


async def test_alices_server_starts_through_the_step_not_a_fork_of_the_hub(
    hub: Hub, alice: UnixUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Popen(user=...) would make CPython fork the hub (no vfork with a uid change) and
    block its event loop until the child has exec'd."""
    launched: list[tuple[list[str], dict[str, object]]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        launched.append((list(args), kwargs))
        return real_popen(args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(local.subprocess, "Popen", recording_popen)
    spawner = hub.spawner(alice.name)
    try:
        await spawner.start(hub.events.append)
    finally:
        await spawner.stop()
    [(args, kwargs)] = launched
    assert args[:4] == [sys.executable, "-I", "-m", MODULE]
    assert kwargs.get("user") is None
    assert kwargs.get("group") is None
    assert kwargs.get("extra_groups") is None
    assert args[args.index("--uid") + 1] == str(alice.uid)
