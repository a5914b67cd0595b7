"""The benchmark's upstream: a deliberately cheap HTTP/1.1 + WebSocket echo server.

It must not be the bottleneck, so it is a raw asyncio Protocol on uvloop with httptools and
pre-built responses:

    GET /user/alice/small   100 bytes
    GET /user/alice/big     1 MiB
    GET /user/alice/ws      WebSocket echo (text and binary, ping -> pong, close -> close)

Anything else is a 404. Keep-alive unless the client asks to close.

Run: ``python bench/upstream_server.py --port 0``; prints ``READY <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import struct
import sys
from typing import cast

import httptools
import uvloop

SMALL_BODY = b"s" * 100
BIG_BODY = b"b" * (1 << 20)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _response(status: bytes, body: bytes) -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
    return head % (status, len(body)) + body


RESPONSES = {
    b"/user/alice/small": _response(b"200 OK", SMALL_BODY),
    b"/user/alice/big": _response(b"200 OK", BIG_BODY),
}
NOT_FOUND = _response(b"404 Not Found", b"not found\n")
CLOSE_HEADER = b"Connection: close\r\n"


def _accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())  # noqa: S324 (RFC 6455)


def _unmask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class WebSocketEcho:
    """Parses client frames (always masked) and echoes each message back unmasked."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while self._one_frame():
            pass

    def _one_frame(self) -> bool:
        buf = self.buffer
        if len(buf) < 2:
            return False
        opcode, length, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return False
            length, at = struct.unpack_from("!H", buf, 2)[0], 4
        elif length == 127:
            if len(buf) < 10:
                return False
            length, at = struct.unpack_from("!Q", buf, 2)[0], 10
        if len(buf) < at + 4 + length:
            return False
        mask, payload = buf[at : at + 4], buf[at + 4 : at + 4 + length]
        self.buffer = buf[at + 4 + length :]
        self._answer(opcode, _unmask(payload, mask))
        return True

    def _answer(self, opcode: int, payload: bytes) -> None:
        if opcode in (0x0, 0x1, 0x2):
            self.transport.write(_frame(opcode, payload))
        elif opcode == 0x9:
            self.transport.write(_frame(0xA, payload))
        elif opcode == 0x8:
            self.transport.write(_frame(0x8, payload[:2]))
            self.transport.close()


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.ws_key: bytes | None = None
        self.ws: WebSocketEcho | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.ws is not None:
            self.ws.feed(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgrade(data[upgrade.args[0] :])
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.ws_key = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"sec-websocket-key":
            self.ws_key = value

    def on_message_complete(self) -> None:
        if self.parser.should_upgrade():
            return
        assert self.transport is not None
        path = self.url.split(b"?", 1)[0]
        response = RESPONSES.get(path, NOT_FOUND)
        if self.parser.should_keep_alive():
            self.transport.write(response)
        else:
            head, _, body = response.partition(b"\r\n\r\n")
            self.transport.write(head + b"\r\n" + CLOSE_HEADER + b"\r\n" + body)
            self.transport.close()

    def _upgrade(self, rest: bytes) -> None:
        assert self.transport is not None
        if self.url.split(b"?", 1)[0] != b"/user/alice/ws" or self.ws_key is None:
            self.transport.write(NOT_FOUND)
            self.transport.close()
            return
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + _accept_key(self.ws_key)
            + b"\r\n\r\n"
        )
        self.ws = WebSocketEcho(self.transport)
        if rest:
            self.ws.feed(rest)


async def serve(host: str, port: int, reuse_port: bool) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        UpstreamProtocol, host, port, backlog=4096, reuse_port=reuse_port or None
    )
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {bound}\n")
    sys.stdout.flush()
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port, args.reuse_port))


if __name__ == "__main__":
    main()
