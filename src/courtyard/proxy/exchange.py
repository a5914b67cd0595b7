"""One request and its response: the upstream head, streaming both bodies, faults.

Where the request goes (path rules, route, identity, injected lines) is dispatch.py's answer.

The client connection fills the request side (head, then body chunks) and starts the exchange
when it is first in line; the upstream connection feeds the response side. Bodies are never
held whole: they are written through as they arrive, with flow control handled by the two
connections. Until an upstream connection is attached, request bytes wait in ``pending``
(bounded: reading from the client pauses past 1 MiB).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from courtyard.proxy.activity import FrameScanner, scanner_for
from courtyard.proxy.dispatch import choose_upstream
from courtyard.proxy.heads import (
    RequestFacts,
    ResponseFacts,
    build_request_head,
    build_response_head,
    drop_hub_cookies,
)
from courtyard.proxy.pages import error_response, wants_json
from courtyard.proxy.routes import Route
from courtyard.spawners.base import Endpoint

if TYPE_CHECKING:
    from courtyard.proxy.client import ClientConnection
    from courtyard.proxy.upstream import UpstreamConnection

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"})
REPLAY_MAX = 64 * 1024  # request bytes kept to retry on a stale pooled connection
PENDING_MAX = 1 << 20


class Exchange:
    __slots__ = (
        "chunk_out",
        "client",
        "close_after",
        "close_delimited",
        "connecting",
        "ctx",
        "done",
        "endpoint",
        "facts",
        "head_sent",
        "http11",
        "interim",
        "keep_alive",
        "method",
        "pending",
        "pending_size",
        "reject",
        "replay",
        "replay_size",
        "request_done",
        "retried",
        "route",
        "scanner",
        "upstream",
        "url",
    )

    def __init__(self, client: ClientConnection) -> None:
        self.client = client
        self.ctx = client.ctx
        self.method = b"GET"
        self.url = b""
        self.facts = RequestFacts()
        self.http11 = True
        self.keep_alive = False
        self.reject = 0
        self.request_done = False
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.replay: list[bytes] | None = None
        self.replay_size = 0
        self.upstream: UpstreamConnection | None = None
        self.connecting: asyncio.Task[None] | None = None
        self.endpoint: Endpoint | None = None
        self.route: Route | None = None
        self.scanner: FrameScanner | None = None
        self.retried = False
        self.head_sent = False
        self.interim = False
        self.chunk_out = False
        self.close_delimited = False
        self.close_after = False
        self.done = False

    # -- request side, driven by the client connection
    def start(self) -> None:
        if self.reject:
            self.answer(self.reject)
            return
        if self.method == b"CONNECT":
            self.answer(405)
            return
        client = self.client
        destination = choose_upstream(self.ctx, self.method, self.url, self.facts, client.forwarded)
        if destination is None:
            self.answer(400)
            return
        self.endpoint, self.route, injected = destination
        if self.route is not None and self.facts.upgrade is not None:
            self.scanner = scanner_for(self.url)
        head = build_request_head(self.method, self.url, self.facts, injected)
        pending = self.pending
        pending.insert(0, head)
        if self.method in IDEMPOTENT:
            self.replay = list(pending)
            self.replay_size = len(head) + self.pending_size
        conn = self.ctx.pool.take(self.endpoint)
        if conn is not None:
            self._attach(conn)
        else:
            self._connect()

    def _attach(self, conn: UpstreamConnection) -> None:
        self.upstream = conn
        conn.exchange = self
        conn.got_bytes = False
        pending = self.pending
        conn.write(pending[0] if len(pending) == 1 else b"".join(pending))
        pending.clear()
        if self.pending_size:
            self.pending_size = 0
            self.client.pause_reading_for_pending(False)
        if self.request_done:
            conn.deadline.arm(self.ctx.limits.upstream_response_timeout)
        if self.client.write_paused:
            conn.set_reading(False)

    def _connect(self) -> None:
        assert self.endpoint is not None
        self.connecting = self.ctx.loop.create_task(self._open(self.endpoint))

    async def _open(self, endpoint: Endpoint) -> None:
        try:
            conn = await self.ctx.pool.connect(endpoint)
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            self.connecting = None
            if self.route is not None and not self.done:
                self.ctx.upstream_gone(self.route.key)
            self.fail(502, f"cannot connect: {exc.strerror or exc!r}")
            return
        except asyncio.TimeoutError:
            self.connecting = None
            self.fail(504, "connect timed out")
            return
        except OSError as exc:
            self.connecting = None
            self.fail(502, f"cannot connect: {exc.strerror or exc!r}")
            return
        self.connecting = None
        if self.done:
            self.ctx.pool.put(conn)
        else:
            self._attach(conn)

    def feed_body(self, chunk: bytes) -> None:
        if self.facts.chunked:
            chunk = b"%x\r\n%b\r\n" % (len(chunk), chunk)
        self._forward(chunk)

    def _forward(self, data: bytes) -> None:
        if self.done:
            return
        if self.replay is not None:
            self.replay.append(data)
            self.replay_size += len(data)
            if self.replay_size > REPLAY_MAX:
                self.replay = None
        if self.upstream is not None:
            self.upstream.write(data)
            return
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size > PENDING_MAX:
            self.client.pause_reading_for_pending(True)

    def request_complete(self) -> None:
        if self.facts.chunked:
            self._forward(b"0\r\n\r\n")
        self.request_done = True
        if self.upstream is not None and not self.done:
            self.upstream.deadline.arm(self.ctx.limits.upstream_response_timeout)

    # -- response side, driven by the upstream connection
    def response_head(self, facts: ResponseFacts, status: int) -> None:
        if 100 <= status < 200 and status != 101:
            self.interim = True
            if self.http11:
                self.client.write(b"HTTP/1.1 %d %b\r\n\r\n" % (status, facts.reason))
            return
        self.replay = None
        if status == 101:
            self.interim = True  # its message-complete event is not the end: the pipe follows
            upgrade = facts.upgrade or self.facts.upgrade or b"websocket"
            framing = b"Connection: Upgrade\r\nUpgrade: " + upgrade + b"\r\n"
        elif (
            facts.content_length is not None
            and not facts.chunked
            and self.keep_alive
            and self.facts.upgrade is None
            and not self.ctx.closing
        ):
            framing = b"" if self.http11 else b"Connection: keep-alive\r\n"  # the common case
        else:
            framing = self._framing(status, facts)
        if facts.set_cookies and self.endpoint is not self.ctx.hub:
            drop_hub_cookies(facts)  # a user's server (or a service) may not touch hub cookies
        self.client.write(build_response_head(status, facts, framing))
        self.head_sent = True

    def _framing(self, status: int, facts: ResponseFacts) -> bytes:
        framing = b""
        if self.facts.upgrade is not None:
            self.close_after = True  # the client parser stopped at the upgrade request
        bodiless = self.method == b"HEAD" or status in (204, 304)
        if not bodiless and (facts.content_length is None or facts.chunked):
            self.close_delimited = not facts.chunked
            if self.http11:
                self.chunk_out = True
                framing = b"Transfer-Encoding: chunked\r\n"
            else:
                self.close_after = True
        if self.close_after or not self.keep_alive or self.ctx.closing:
            self.close_after = True
            return framing + b"Connection: close\r\n"
        if not self.http11:
            return framing + b"Connection: keep-alive\r\n"
        return framing

    def response_body(self, body: bytes) -> None:
        if self.chunk_out:
            self.client.writelines((b"%x\r\n" % len(body), body, b"\r\n"))
        else:
            self.client.write(body)

    def response_complete(self, conn: UpstreamConnection, reusable: bool) -> None:
        if self.interim:
            self.interim = False
            return
        if self.done:
            return
        if self.chunk_out:
            self.client.write(b"0\r\n\r\n")
        self._release(conn, reusable)
        self._finish()

    def _release(self, conn: UpstreamConnection, reusable: bool) -> None:
        self.upstream = None
        conn.exchange = None
        conn.deadline.disarm()
        if reusable and self.request_done and self.facts.upgrade is None:
            if self.client.write_paused:
                conn.set_reading(True)
            self.ctx.pool.put(conn)
        else:
            conn.close()

    def _finish(self) -> None:
        self.done = True
        keep = self.keep_alive and self.request_done and not self.close_after
        self.client.exchange_done(self, keep and not self.ctx.closing)

    # -- WebSocket (any 101): a raw byte pipe from here on
    def upstream_upgraded(self, conn: UpstreamConnection, tail: bytes) -> None:
        conn.piping = True
        conn.deadline.disarm()
        self.client.start_pipe(conn)
        if tail:
            self.pipe_to_client(tail)

    def pipe_to_client(self, data: bytes) -> None:
        self.client.write(data)
        route = self.route
        if route is not None:
            route.last_traffic = time.time()

    def pipe_from_client(self, data: bytes) -> None:
        """Bytes the client sent into the pipe (already forwarded): stamp, scan for activity."""
        route = self.route
        if route is None:
            return
        now = route.last_traffic = time.time()
        scanner = self.scanner
        if scanner is not None:
            kind = scanner.feed(data)
            if kind is not None:
                route.touch(now, kind)

    # -- faults
    def upstream_lost(self, conn: UpstreamConnection, exc: Exception | None) -> None:
        self.upstream = None
        if self.done:
            return
        if conn.piping:
            self.client.close()
        elif not self.head_sent:
            self._lost_before_head(conn, exc)
        elif self.close_delimited and exc is None:
            if self.chunk_out:
                self.client.write(b"0\r\n\r\n")
            self._finish()
        else:
            self.ctx.warn_upstream(self._describe(), "died mid-response")
            self.client.abort()

    def _lost_before_head(self, conn: UpstreamConnection, exc: Exception | None) -> None:
        stale = conn.reused and not conn.got_bytes
        if stale and not self.retried and self.replay is not None:
            self.retried = True
            self.pending = list(self.replay)
            self.pending_size = 0
            self._connect()
            return
        self.fail(502, f"closed the connection before answering ({exc!r})")

    def upstream_failed(self, conn: UpstreamConnection, why: str) -> None:
        conn.abort()
        self.upstream = None
        if self.head_sent:
            self.ctx.warn_upstream(self._describe(), why)
            self.client.abort()
        else:
            self.fail(502, why)

    def upstream_timed_out(self, conn: UpstreamConnection) -> None:
        conn.abort()
        self.upstream = None
        if self.head_sent:
            self.client.abort()
        else:
            self.fail(504, "no response in time")

    def fail(self, status: int, why: str) -> None:
        if self.done:
            return
        self.ctx.warn_upstream(self._describe(), why)
        if self.upstream is not None:
            self.upstream.abort()
            self.upstream = None
        self.answer(status)

    def refuse(self, status: int) -> None:
        """The client broke framing mid-body: answer if nothing was sent yet, else cut."""
        if self.done:
            return
        if self.head_sent:
            self.client.abort()
            return
        if self.upstream is not None:
            self.upstream.abort()
            self.upstream = None
        self.answer(status)

    def answer(self, status: int) -> None:
        keep_alive = self.keep_alive and self.request_done and not self.ctx.closing
        self.close_after = not keep_alive
        page = error_response(status, as_json=wants_json(self.facts.accept), keep_alive=keep_alive)
        self.client.write(page)
        self.head_sent = True
        self._finish()

    def client_lost(self) -> None:
        self.done = True
        if self.upstream is not None:
            self.upstream.abort()
            self.upstream = None

    def _describe(self) -> str:
        where = self.endpoint.describe() if self.endpoint else "?"
        return where if self.route is None else f"{where} (server {self.route.key})"
