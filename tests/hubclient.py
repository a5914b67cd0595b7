"""A person using the hub over HTTP: log in through the form, start, open, run code."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

import aiohttp
import websockets
from websockets.typing import Origin

XSRF = re.compile(r'name="_xsrf"\s+value="([^"]+)"')


class HubClient:
    def __init__(self, base_url: str) -> None:
        self.base = base_url
        # a browser sends Origin on every POST; the hub refuses cross-site writes without it
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=60),
            headers={"Origin": base_url},
        )

    async def close(self) -> None:
        await self.http.close()

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def form_token(self, path: str) -> str:
        async with self.http.get(self.base + path) as r:
            text = await r.text()
            match = XSRF.search(text)
            if not match:
                raise AssertionError(f"no _xsrf field on {path} ({r.status}):\n{text[:500]}")
            return match.group(1)

    async def login(self, name: str, password: str, next_url: str = "") -> aiohttp.ClientResponse:
        token = await self.form_token("/hub/login")
        data = {"username": name, "password": password, "_xsrf": token, "next": next_url}
        async with self.http.post(self.base + "/hub/login", data=data, allow_redirects=False) as r:
            await r.read()
            return r

    async def post_form(
        self, path: str, data: dict[str, str], token_from: str = "/hub/home"
    ) -> aiohttp.ClientResponse:
        token = await self.form_token(token_from)
        async with self.http.post(
            self.base + path, data={**data, "_xsrf": token}, allow_redirects=False
        ) as r:
            await r.read()
            return r

    async def wait_until_ready(
        self, user: str, timeout: float = 90.0, server: str = ""
    ) -> dict[str, Any]:
        """Follow the progress event stream until the server (``server``: a named one) is
        ready; fail on 'failed'."""
        url = f"{self.base}/hub/api/users/{user}/server/progress"
        if server:
            url = f"{self.base}/hub/api/users/{user}/servers/{server}/progress"
        deadline = time.monotonic() + timeout
        async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            assert r.status == 200, await r.text()
            async for raw in r.content:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                event: dict[str, Any] = json.loads(line[5:])
                if event.get("failed"):
                    raise AssertionError(f"start failed: {event['message']}")
                if event.get("ready"):
                    return event
                if time.monotonic() > deadline:
                    break
        raise AssertionError("progress stream ended without ready")

    async def get(self, path: str, **kw: Any) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
        async with self.http.get(self.base + path, allow_redirects=False, **kw) as r:
            return r.status, await r.text(), r.headers

    def cookie_header(self) -> str:
        return "; ".join(f"{c.key}={c.value}" for c in self.http.cookie_jar)

    async def xsrf_cookie(self, user: str) -> str:
        """Visit the user's server once so jupyter_server sets its _xsrf cookie."""
        await self.get(f"/user/{user}/lab")
        for c in self.http.cookie_jar:
            if c.key == "_xsrf":
                return c.value
        return ""

    async def start_kernel(self, user: str) -> str:
        xsrf = await self.xsrf_cookie(user)
        async with self.http.post(
            f"{self.base}/user/{user}/api/kernels",
            json={"name": "python3"},
            headers={"X-XSRFToken": xsrf},
        ) as r:
            body = await r.text()
            assert r.status == 201, f"{r.status}: {body[:300]}"
            kernel_id: str = json.loads(body)["id"]
            return kernel_id

    def kernel_channels(self, user: str, kernel_id: str) -> websockets.connect:
        """The kernel's channels WebSocket through the hub. jupyter_server answers the
        upgrade only once the kernel replied to kernel_info, which takes well over the
        library's 10 s default when several servers start at once on two cores."""
        ws_url = (
            self.base.replace("http", "ws", 1) + f"/user/{user}/api/kernels/{kernel_id}/channels"
        )
        return websockets.connect(
            ws_url,
            additional_headers={"Cookie": self.cookie_header()},
            origin=Origin(self.base),
            max_size=None,
            open_timeout=90,
        )

    async def execute(self, user: str, kernel_id: str, code: str, timeout: float = 60) -> str:
        """Run ``code`` in the kernel over the WebSocket through the hub; the result text."""
        async with self.kernel_channels(user, kernel_id) as ws:
            msg_id = uuid.uuid4().hex
            await ws.send(json.dumps(execute_request(msg_id, code)))
            return await asyncio.wait_for(read_result(ws, msg_id), timeout)


def execute_request(msg_id: str, code: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
        },
    }


async def read_result(ws: Any, msg_id: str) -> str:
    async for raw in ws:
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "execute_result":
            text: str = msg["content"]["data"]["text/plain"]
            return text
        if msg["msg_type"] == "error":
            raise AssertionError(f"kernel error: {msg['content']['ename']}")
    raise AssertionError("websocket closed before the result")
