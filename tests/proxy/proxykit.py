"""Real upstream servers, a real Gate and a raw HTTP client for the proxy tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field

import httptools
from aiohttp import WSMsgType, web

from courtyard.auth.principal import Principal


@dataclass
class DictGate:
    """A real Gate: session cookie value or token -> Principal, from a dict."""

    sessions: dict[str, Principal]
    calls: int = 0

    def identify(self, cookie: str | None, authorization: str | None) -> Principal | None:
        self.calls += 1
        if authorization and authorization.startswith("token "):
            return self.sessions.get(authorization[len("token ") :])
        for part in (cookie or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "courtyard":
                return self.sessions.get(value)
        return None


def set_cookies(request: web.Request) -> list[tuple[str, str]]:
    """The ``Set-Cookie`` lines a test asks an upstream for: ``?setcookie=<line>``, repeated."""
    return [("Set-Cookie", line) for line in request.query.getall("setcookie", [])]


def user_app(owner: str, base: str = "") -> web.Application:
    """What a user's server looks like from the proxy: echo, stream, slow, WebSocket (under
    ``base``: ``/user/<owner>`` unless given, e.g. ``/services/<name>`` for a service)."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "owner": owner,
                "method": request.method,
                "path": request.raw_path,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": body.decode("latin-1"),
                "conn": id(request.transport),
            },
            headers=set_cookies(request),
        )

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        async for chunk in request.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.query["n"]))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(f"{owner}:{message.data}")
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application(client_max_size=8 << 20)
    base = base or f"/user/{owner}"
    app.router.add_route("*", base + "/echo", echo)
    app.router.add_route("*", base, echo)
    app.router.add_post(base + "/stream", stream)
    app.router.add_get(base + "/big", big)
    app.router.add_get(base + "/slow", slow)
    app.router.add_get(base + "/ws", websocket)
    return app


def hub_app() -> web.Application:
    async def anything(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "hub": True,
                "method": request.method,
                "path": request.raw_path,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": body.decode("latin-1"),
            },
            headers=set_cookies(request),
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data

    def sent_header(self, name: str) -> list[str]:
        """Values of a header as the upstream echoed it."""
        pairs = self.json()["headers"]
        assert isinstance(pairs, list)
        return [v for k, v in pairs if k.lower() == name.lower()]


@dataclass
class _Collector:
    done: list[Response] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    parser: httptools.HttpResponseParser | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        assert self.parser is not None
        self.done.append(
            Response(
                self.parser.get_status_code(),
                self.headers,
                bytes(self.body),
                self.parser.should_keep_alive(),
            )
        )
        self.headers, self.body = [], bytearray()


class RawClient:
    """One TCP connection speaking whatever bytes a test writes; parses responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._collector = _Collector()
        self._collector.parser = httptools.HttpResponseParser(self._collector)

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def responses(
        self, count: int = 1, timeout: float = 5.0, head: bool = False
    ) -> list[Response]:
        async with asyncio.timeout(timeout):
            while len(self._collector.done) < count:
                data = await self.reader.read(65536)
                if not data:
                    if self._collector.parser is not None and self._collector.body:
                        self._collector.on_message_complete()  # close-delimited body
                    break
                assert self._collector.parser is not None
                self._collector.parser.feed_data(data)
                if head and self._collector.headers and not self._collector.done:
                    break
        taken, self._collector.done = self._collector.done[:count], self._collector.done[count:]
        return taken

    async def response(self, timeout: float = 5.0) -> Response:
        got = await self.responses(1, timeout)
        assert got, "the connection closed without a response"
        return got[0]

    async def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection (EOF or reset)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except ConnectionError:
            return True
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await self.writer.wait_closed()


def get(path: str, cookie: str | None = None, extra: str = "", version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: hub.test"]
    if cookie:
        lines.append(f"Cookie: courtyard={cookie}")
    head = "\r\n".join(lines) + "\r\n" + extra + "\r\n"
    return head.encode()
