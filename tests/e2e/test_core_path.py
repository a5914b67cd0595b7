"""The path every user walks: log in, start, land in JupyterLab, run code, survive a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root


def server_uid(state_dir: Path, user: str) -> int:
    """Uid of the process serving the user's socket (its owner is the socket's owner)."""
    return (state_dir / "run" / user / "server.sock").stat().st_uid


async def test_alice_logs_in_and_runs_code_through_the_hub(
    hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(hub.url) as client:
        r = await client.login(alice.name, alice.password)
        assert r.status == 302
        assert r.headers["Location"].startswith("/hub/spawn-pending")
        ready = await client.wait_until_ready(alice.name)
        assert ready["url"] == f"/user/{alice.name}/"  # the server's root, as JupyterHub gives it
        status, body, _ = await client.get(f"/user/{alice.name}/lab")
        assert status == 200
        assert "JupyterLab" in body or "jupyter-config-data" in body
        assert server_uid(hub.state_dir, alice.name) == alice.uid
        kernel = await client.start_kernel(alice.name)
        assert await client.execute(alice.name, kernel, "1+1") == "2"


async def test_wrong_password_is_refused_with_one_generic_message(
    hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(hub.url) as client:
        r = await client.login(alice.name, "not-her-password")
        assert r.status == 403
        r2 = await client.login("no-such-user-xyz", "whatever")
        assert r2.status == 403
        status, _, _ = await client.get("/hub/home")
        assert status == 302  # still not logged in


async def test_bob_cannot_open_alices_server(
    hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    async with HubClient(hub.url) as a, HubClient(hub.url) as b:
        await a.login(alice.name, alice.password)
        await a.wait_until_ready(alice.name)
        await b.login(bob.name, bob.password, next_url="/hub/home")
        status, body, _ = await b.get(f"/user/{alice.name}/lab")
        assert status == 403
        assert "jupyter-config-data" not in body
        status, _, _ = await b.get(f"/user/{alice.name}/api/contents")
        assert status == 403
    sock = hub.state_dir / "run" / alice.name / "server.sock"
    probe = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])"
    result = subprocess.run(
        [sys.executable, "-c", probe, str(sock)], user=bob.name, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "PermissionError" in result.stderr


async def test_not_logged_in_is_sent_to_login_with_next(hub: HubProcess, alice: UnixUser) -> None:
    async with HubClient(hub.url) as client:
        status, _, headers = await client.get(f"/user/{alice.name}/lab/tree/x.ipynb")
        assert status == 302
        assert headers["Location"] == f"/hub/login?next=/user/{alice.name}/lab/tree/x.ipynb"


async def test_restarted_hub_reattaches_the_running_server(
    hub: HubProcess, alice: UnixUser
) -> None:
    async with HubClient(hub.url) as client:
        await client.login(alice.name, alice.password)
        await client.wait_until_ready(alice.name)
        kernel = await client.start_kernel(alice.name)
        assert await client.execute(alice.name, kernel, "x = 41; x + 1") == "42"
        hub.restart_reattaching(alice.name)
        client.base = hub.url
        # the same browser session, the same kernel, its state intact
        assert await client.execute(alice.name, kernel, "x + 1") == "42"


@pytest.mark.postgres
async def test_the_hub_runs_on_postgresql(
    state_dir: Path, postgres_url: str, alice: UnixUser, bob: UnixUser
) -> None:
    config = hub_config(alice.name, bob.name) + f'database_url = "{postgres_url}"\n'
    hub = HubProcess(state_dir, config).start()
    try:
        async with HubClient(hub.url) as client:
            assert (await client.login(alice.name, alice.password, "/hub/home")).status == 302
            assert (await client.get("/hub/home"))[0] == 200
        assert not (state_dir / "courtyard.sqlite").exists()
    finally:
        hub.stop()
