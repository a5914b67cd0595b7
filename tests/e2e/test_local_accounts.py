"""The researcher's case: the hub runs as a normal user with Courtyard's own accounts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root  # root only to switch to the test user


async def test_local_accounts_hub_as_a_normal_user(state_dir: Path, alice: UnixUser) -> None:
    state_dir.mkdir()
    os.chown(state_dir, alice.uid, -1)
    hub = HubProcess(
        state_dir,
        f'python = "{sys.executable}"\nstart_timeout = 90\n',
        user=alice.name,
        env={"HOME": alice.home, "USER": alice.name, "LOGNAME": alice.name},
    )
    hub.start()
    try:
        banner = "\n".join(hub.output)
        match = re.search(r"Created your account '(\S+)' with password: (\S+)", banner)
        assert match, banner
        name, password = match.groups()
        assert name == alice.name
        assert "Who can log in" in banner
        assert re.search(rf"ssh -N -L {hub.port}:127.0.0.1:{hub.port} \S+@\S+", banner)
        async with HubClient(hub.url) as client:
            assert (await client.login(name, alice.password)).status == 403  # not her PAM one
            assert (await client.login(name, password)).status == 302
            await client.wait_until_ready(name)
            kernel = await client.start_kernel(name)
            assert await client.execute(name, kernel, "import os; os.getuid()") == str(alice.uid)
    finally:
        hub.stop()
    # a second start creates no second account and prints no password
    hub.start()
    try:
        assert not any("Created your account" in line for line in hub.output)
    finally:
        hub.stop()
    stop = [sys.executable, "-m", "courtyard", "stop-servers", "--state-dir", str(state_dir)]
    subprocess.run(
        stop,
        user=alice.name,
        check=True,
        capture_output=True,
        timeout=60,
        env={"HOME": alice.home, "PATH": os.environ["PATH"]},
    )
