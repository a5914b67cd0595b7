"""Talk to a user's server the way the proxy does: over its unix socket, with the secret."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from websockets.asyncio.client import unix_connect


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def request(
    sock: str,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    connector = aiohttp.UnixConnector(path=sock)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.request(
            method, f"http://localhost{path}", headers=headers, data=body, allow_redirects=False
        ) as response,
    ):
        return Reply(response.status, dict(response.headers), await response.read())


async def start_kernel(sock: str, base: str, secret: str) -> str:
    headers = {"X-Courtyard-Secret": secret, "X-Courtyard-Auth": "token"}
    reply = await request(sock, "POST", f"{base}api/kernels", headers, b"{}")
    assert reply.status == 201, reply
    return str(reply.json()["id"])


def execute_request(code: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


async def execute(sock: str, base: str, secret: str, kernel_id: str, code: str) -> str:
    """Run ``code`` in the kernel over its WebSocket; the text of its execute_result."""
    return await asyncio.wait_for(_execute(sock, base, secret, kernel_id, code), 60)


async def _execute(sock: str, base: str, secret: str, kernel_id: str, code: str) -> str:
    message = execute_request(code)
    msg_id = message["header"]["msg_id"]
    uri = f"ws://localhost{base}api/kernels/{kernel_id}/channels"
    headers = {"X-Courtyard-Secret": secret}
    async with unix_connect(sock, uri, additional_headers=headers, open_timeout=30) as ws:
        await ws.send(json.dumps(message))
        async for raw in ws:
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "execute_result":
                return str(reply["content"]["data"]["text/plain"])
            if reply["msg_type"] == "error":
                raise AssertionError(f"kernel error: {reply['content']}")
    raise AssertionError("the WebSocket closed before an execute_result")
