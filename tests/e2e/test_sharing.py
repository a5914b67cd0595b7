"""Sharing end to end, with ``workers = 2``: cyalice shares her running JupyterLab with
cybob (real Unix users); bob opens /user/cyalice/ as himself (the server's /api/me names
him), runs code in a kernel over WebSocket; alice revokes and bob's open WebSocket closes
and his next requests are refused, on the hub's proxy and on the worker alike."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config, stop_user_servers
from tests.e2e.test_workers import statuses
from tests.hubclient import HubClient, execute_request, read_result
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root
ROLES = """
[[load_roles]]
name = "user"
scopes = ["self", "shares!user", "read:users:name", "read:groups:name"]
"""


@pytest.fixture
def sharing_hub(state_dir: Path, alice: UnixUser, bob: UnixUser) -> Iterator[HubProcess]:
    config = hub_config(alice.name, bob.name, workers=2) + ROLES
    process = HubProcess(state_dir, config).start()
    yield process
    process.stop()
    stop_user_servers(state_dir)


async def api(client: HubClient, method: str, path: str, body: object = None) -> tuple[int, str]:
    async with client.http.request(
        method, f"{client.base}/hub/api{path}", json=body, allow_redirects=False
    ) as r:
        return r.status, await r.text()


async def closed(ws: websockets.ClientConnection) -> None:
    """Read (what the kernel still said) until the connection is closed."""
    try:
        while True:
            await ws.recv()
    except websockets.ConnectionClosed:
        return


async def test_bob_works_in_alices_shared_server_until_she_revokes(
    sharing_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    hub = sharing_hub
    base = hub.url.rstrip("/")
    owner = alice.name
    me = f"/user/{owner}/api/me"
    async with HubClient(hub.url) as a, HubClient(hub.url) as b:
        await a.login(alice.name, alice.password)
        await a.wait_until_ready(owner)
        await b.login(bob.name, bob.password, next_url="/hub/home")
        assert 200 not in await statuses(base, me, b.cookie_header())  # not shared yet

        status, text = await api(a, "POST", f"/shares/{owner}/", {"user": bob.name})
        assert status == 200, text
        assert set(await statuses(base, me, b.cookie_header())) == {200}  # both processes
        status, text, _ = await b.get(me)
        assert json.loads(text)["identity"]["username"] == bob.name  # bob, not alice

        kernel = await b.start_kernel(owner)
        assert await b.execute(owner, kernel, "6 * 7") == "42"
        sockets = [await b.kernel_channels(owner, kernel).__aenter__() for _ in range(6)]
        for ws in sockets:  # open, on either process
            msg_id = uuid.uuid4().hex
            await ws.send(json.dumps(execute_request(msg_id, "1 + 1")))
            assert await asyncio.wait_for(read_result(ws, msg_id), 60) == "2"

        status, text = await api(a, "DELETE", f"/shares/{owner}/")
        assert status == 204, text
        for ws in sockets:  # closed at once by whichever process held it
            await asyncio.wait_for(closed(ws), 10)
        refused = await statuses(base, me, b.cookie_header())
        assert 200 not in refused, refused
        assert set(await statuses(base, me, a.cookie_header())) == {200}  # alice unaffected


async def test_home_page_shares_by_name_and_by_link_and_revokes(
    sharing_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    hub = sharing_hub
    async with HubClient(hub.url) as a, HubClient(hub.url) as b:
        await a.login(alice.name, alice.password, next_url="/hub/home")
        await b.login(bob.name, bob.password, next_url="/hub/home")
        _, page, _ = await a.get("/hub/home")
        assert 'id="sharing"' in page
        assert "Nobody else has access." in page
        r = await a.post_form("/hub/share", {"server": "", "kind": "user", "name": bob.name})
        assert r.status == 302
        assert r.headers["Location"] == "/hub/home#sharing"
        _, page, _ = await a.get("/hub/home")
        assert f'data-share="{bob.name}"' in page
        _, page, _ = await b.get("/hub/home")
        assert 'id="shared-with-me"' in page
        assert f'href="/user/{alice.name}/"' in page
        r = await a.post_form("/hub/share/revoke", {"server": "", "kind": "user",
                                                    "name": bob.name})  # fmt: skip
        assert r.status == 302
        _, page, _ = await b.get("/hub/home")
        assert 'id="shared-with-me"' not in page

        async with a.http.post(
            f"{hub.url.rstrip('/')}/hub/share/link",
            data={"server": "", "expires_in": "3600", "_xsrf": await a.form_token("/hub/home")},
        ) as made:
            text = await made.text()
        link = re.search(r'value="(http[^"]+/hub/accept-share\?code=[^"]+)"', text)
        assert link is not None, text[:500]
        path = link.group(1).split(hub.url.rstrip("/"), 1)[1]
        status, page, _ = await b.get(path)
        assert status == 200
        assert 'id="accept-share"' in page
        status, _, _ = await a.get(path)
        assert status == 403  # the owner cannot accept her own link
        code = path.split("code=", 1)[1]
        r = await b.post_form("/hub/accept-share", {"code": code})
        assert r.status == 302
        assert r.headers["Location"] == f"/user/{alice.name}/"
        _, page, _ = await b.get("/hub/home")
        assert f'href="/user/{alice.name}/"' in page
        r = await b.post_form("/hub/accept-share", {"code": "not-a-code"})
        assert r.status == 400

        # a link past its expiry (its row's expiry moved into the past) is refused, both ways
        async with a.http.post(
            f"{hub.url.rstrip('/')}/hub/share/link",
            data={"server": "", "expires_in": "3600", "_xsrf": await a.form_token("/hub/home")},
        ) as made:
            late = re.search(r"accept-share\?code=([^\"&]+)", await made.text())
        assert late is not None
        with sqlite3.connect(hub.state_dir / "courtyard.sqlite") as db:
            changed = db.execute(
                "UPDATE share_codes SET expires = '2000-01-01 00:00:00.000000'"
                " WHERE id = (SELECT max(id) FROM share_codes)"
            ).rowcount
        assert changed == 1
        status, page, _ = await b.get(f"/hub/accept-share?code={late.group(1)}")
        assert status == 404
        assert "Share not found or expired" in page
        r = await b.post_form("/hub/accept-share", {"code": late.group(1)})
        assert r.status == 400
