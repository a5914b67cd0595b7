"""A start that cannot work says why, quickly - never a silent timeout."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root


async def failure_message(hub: HubProcess, user: UnixUser) -> tuple[str, float]:
    async with HubClient(hub.url) as client:
        began = time.monotonic()
        await client.login(user.name, user.password)
        with pytest.raises(AssertionError, match="start failed") as failed:
            await client.wait_until_ready(user.name, timeout=60)
        return str(failed.value), time.monotonic() - began


async def test_an_interpreter_the_user_cannot_run_is_named(
    state_dir: Path, tmp_path: Path, alice: UnixUser, bob: UnixUser
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(sys.executable)
    config = hub_config(alice.name, bob.name).replace(sys.executable, str(private / "python"))
    hub = HubProcess(state_dir, config).start()
    try:
        message, elapsed = await failure_message(hub, alice)
    finally:
        hub.stop()
    assert str(private / "python") in message
    assert elapsed < 20


async def test_a_server_that_exits_at_start_fails_with_its_reason(
    state_dir: Path, alice: UnixUser, bob: UnixUser
) -> None:
    config = (
        hub_config(alice.name, bob.name)
        + 'args = ["--ServerApp.no_such_option_x=1", "--bogus-flag-x"]\n'
    )
    hub = HubProcess(state_dir, config).start()
    try:
        message, elapsed = await failure_message(hub, alice)
    finally:
        hub.stop()
    assert "exited" in message or "bogus" in message
    assert elapsed < 60
    assert os.path.exists(state_dir / "logs" / f"{alice.name}.log")
