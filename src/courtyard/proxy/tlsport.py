"""The hub's port with TLS on: accept, peek at the first byte, then either hand the socket to
TLS + the proxy protocol, or answer a plain-HTTP request with a clear pointer to https://.

A browser pointed at http://host:port/ of an HTTPS hub would otherwise show a TLS error (or
nothing); here it gets a 307 to the https:// URL and a one-line explanation.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl as ssl_module
from collections.abc import Callable

from courtyard.proxy.acceptor import Acceptor

TLS_HANDSHAKE = 0x16  # first byte of every TLS record carrying a ClientHello
MAX_PLAIN_HEAD = 8192
HOST_PATTERN = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


class TlsPort:
    """A listening socket whose connections are sorted into TLS and plain HTTP."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        context: ssl_module.SSLContext,
        timeout: float,
    ) -> None:
        self._factory = factory
        self._context = context
        self._timeout = timeout
        self._acceptor: Acceptor | None = None

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> None:
        self.serve(socket.create_server((host, port), backlog=1024, reuse_port=reuse_port))

    def serve(self, sock: socket.socket) -> None:
        """Accept on an already listening socket (a proxy worker's share of the port)."""
        self._acceptor = Acceptor(sock, self._sort)

    @property
    def sockets(self) -> list[socket.socket]:
        return self._acceptor.sockets if self._acceptor is not None else []

    def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()

    async def _sort(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            first = await asyncio.wait_for(peek(loop, conn), self._timeout)
            if first and first[0] == TLS_HANDSHAKE:
                await loop.connect_accepted_socket(
                    self._factory, conn, ssl=self._context, ssl_handshake_timeout=self._timeout
                )
                return
            if first:
                await asyncio.wait_for(answer_plain_http(loop, conn), self._timeout)
        except (OSError, asyncio.TimeoutError, ssl_module.SSLError):
            pass  # a client that went away or spoke neither TLS nor HTTP: nothing to tell it
        conn.close()


async def peek(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> bytes:
    """The first byte the client sent, left in the socket for whoever reads next."""
    readable: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(conn.fileno(), wake)
    try:
        await readable
    finally:
        loop.remove_reader(conn.fileno())
    return conn.recv(1, socket.MSG_PEEK)


async def answer_plain_http(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < MAX_PLAIN_HEAD:
        chunk = await loop.sock_recv(conn, MAX_PLAIN_HEAD)
        if not chunk:
            break
        head += chunk
    await loop.sock_sendall(conn, plain_http_answer(head))


def plain_http_answer(head: bytes) -> bytes:
    """307 to the same place over https:// when the request names a sane Host, else 400."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    path = parts[1] if len(parts) == 3 and parts[1].startswith("/") else "/"
    hosts = [ln.split(":", 1)[1].strip() for ln in lines[1:] if ln.lower().startswith("host:")]
    host = hosts[0] if len(hosts) == 1 else ""
    if host and HOST_PATTERN.fullmatch(host) and not path.startswith("//"):
        target = f"https://{host}{path}"
        text = f"This port speaks HTTPS. Open {target}\n"
        status = "307 Temporary Redirect"
        extra = f"Location: {target}\r\n"
    else:
        text = "This port speaks HTTPS: use an https:// URL.\n"
        status, extra = "400 Bad Request", ""
    body = text.encode()
    return (
        f"HTTP/1.1 {status}\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1") + body
