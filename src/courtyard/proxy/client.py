"""One client connection: httptools request parsing, pipelining order, timeouts, the pipe.

Requests are answered strictly in order: each parsed request becomes an Exchange in
``queue``; only the first is forwarded, later ones wait with their bytes buffered (reading
pauses once a second request is queued or a waiting body passes 1 MiB). Framing errors answer
400 (431/414 for oversized heads), in order, and close the connection.

A refused request (400/414/431) closes as nginx does, "lingering": the answer is written, the
sending side shut down, and what the client still sends is read and dropped for at most
``linger_timeout`` / ``linger_bytes`` before the socket closes - closing with unread input
would make the kernel send a reset, and the client would never read the answer.

Timeouts: a request head must be complete ``header_timeout`` after it starts (or after the
connection opens); an idle keep-alive connection closes after ``keepalive_timeout``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

import httptools

from courtyard.proxy.context import ProxyContext
from courtyard.proxy.deadline import Deadline
from courtyard.proxy.exchange import Exchange
from courtyard.proxy.heads import (
    DROPPED_REQUEST_PREFIXES,
    WATCHED_REQUEST,
    note_request_header,
)
from courtyard.proxy.upstream import UpstreamConnection

_HTTP, _REJECTED, _UPGRADING, _PIPE, _CLOSED, _LINGERING = range(6)
_PAUSE_UPSTREAM, _PAUSE_PENDING, _PAUSE_STOP = 1, 2, 4


class _Reject(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "ctx",
        "deadline",
        "eof",
        "forwarded",
        "head_bytes",
        "in_head",
        "linger_left",
        "out",
        "parser",
        "parsing",
        "paused",
        "pipe",
        "queue",
        "state",
        "tail",
        "transport",
        "write_paused",
    )

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Exchange] = deque()
        self.parsing: Exchange | None = None
        self.state = _HTTP
        self.paused = 0
        self.write_paused = False
        self.in_head = True
        self.head_bytes = 0
        self.tail = b""
        self.pipe: UpstreamConnection | None = None
        self.forwarded = b""
        self.out: list[bytes] | None = None
        self.eof = False
        self.linger_left = 0
        self.deadline = Deadline(ctx.loop, self._timed_out)

    # -- transport events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.ctx.connections.add(self)
        self.ctx.accepted += 1
        peer = transport.get_extra_info("peername")
        address = (peer[0] if isinstance(peer, tuple) else "local").encode()
        self.forwarded = b"X-Forwarded-For: %b\r\nX-Real-IP: %b\r\nX-Forwarded-Proto: %b\r\n" % (
            address,
            address,
            self.ctx.scheme,
        )
        self.deadline.arm(self.ctx.limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == _PIPE:
            assert self.pipe is not None
            self.pipe.write(data)
            self.queue[0].pipe_from_client(data)
            return
        if state == _LINGERING:
            self.linger_left -= len(data)
            if self.linger_left < 0:
                self.close()
            return
        if state == _UPGRADING:
            self.tail += data
            if len(self.tail) > self.ctx.limits.max_head_bytes:
                self._pause(_PAUSE_STOP)
            return
        if state != _HTTP:
            return
        if self.in_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.state = _UPGRADING
            self.tail = data[upgrade.args[0] :]
            return
        except httptools.HttpParserCallbackError as error:
            reason = error.__context__
            self._reject(reason.status if isinstance(reason, _Reject) else 400)
            return
        except httptools.HttpParserError:
            self._reject(400)
            return
        if self.in_head and self.head_bytes > self.ctx.limits.max_head_bytes:
            self._reject(431)

    def eof_received(self) -> bool:
        self.eof = True
        if self.state == _LINGERING:
            return False  # drained: the transport closes
        if self.queue and self.state != _PIPE:
            self.state = _REJECTED if self.state == _HTTP else self.state
            return True  # answer what was asked, then close
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _CLOSED
        self.ctx.connections.discard(self)
        self.deadline.cancel()
        for exchange in self.queue:
            exchange.client_lost()
        self.queue.clear()
        if self.pipe is not None:
            self.pipe.close()
            self.pipe = None

    def pause_writing(self) -> None:
        self.write_paused = True
        self._set_upstream_reading(False)

    def resume_writing(self) -> None:
        self.write_paused = False
        self._set_upstream_reading(True)

    def _set_upstream_reading(self, reading: bool) -> None:
        if self.pipe is not None:
            self.pipe.set_reading(reading)
        elif self.queue and self.queue[0].upstream is not None:
            self.queue[0].upstream.set_reading(reading)

    # -- parser callbacks
    def on_message_begin(self) -> None:
        self.parsing = Exchange(self)
        self.in_head = True
        if not self.queue:
            self.deadline.arm(self.ctx.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        assert self.parsing is not None
        self.parsing.url += url
        if len(self.parsing.url) > self.ctx.limits.max_request_line:
            raise _Reject(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.parsing is not None
        facts = self.parsing.facts
        line = len(name) + len(value) + 4
        if line > self.ctx.limits.max_header_line:
            raise _Reject(431)
        facts.size += line
        low = name.lower()
        if low in WATCHED_REQUEST:
            note_request_header(facts, low, name, value)  # FramingError: a 400
        elif not low.startswith(DROPPED_REQUEST_PREFIXES):
            facts.lines.append(b"%b: %b\r\n" % (name, value))

    def on_headers_complete(self) -> None:
        exchange = self.parsing
        assert exchange is not None
        parser = self.parser
        if len(exchange.url) + exchange.facts.size > self.ctx.limits.max_head_bytes:
            raise _Reject(431)
        exchange.method = parser.get_method()
        exchange.http11 = parser.get_http_version() == "1.1"
        exchange.keep_alive = parser.should_keep_alive()
        if exchange.facts.upgrade is not None and not parser.should_upgrade():
            exchange.facts.upgrade = None
        self.in_head = False
        self.head_bytes = 0
        self.deadline.disarm()
        queue = self.queue
        queue.append(exchange)
        if len(queue) == 1:
            exchange.start()

    def on_body(self, body: bytes) -> None:
        assert self.parsing is not None
        self.parsing.feed_body(body)

    def on_message_complete(self) -> None:
        exchange = self.parsing
        assert exchange is not None
        self.parsing = None
        self.in_head = True
        exchange.request_complete()
        if len(self.queue) > 1:
            self._pause(_PAUSE_PENDING)

    # -- called by exchanges
    def exchange_done(self, exchange: Exchange, keep_alive: bool) -> None:
        if not self.queue or self.queue[0] is not exchange:
            return
        self.queue.popleft()
        if not keep_alive or self.state not in (_HTTP, _UPGRADING):
            self._linger() if self.state == _REJECTED else self.close()
            return
        if self.queue:
            self.queue[0].start()
            return
        if self.paused & _PAUSE_PENDING:
            self._resume(_PAUSE_PENDING)
        if self.parsing is not None:
            self.deadline.arm(self.ctx.limits.header_timeout)
        else:
            self.deadline.arm(self.ctx.limits.keepalive_timeout)

    def pause_reading_for_upstream(self, paused: bool) -> None:
        (self._pause if paused else self._resume)(_PAUSE_UPSTREAM)

    def pause_reading_for_pending(self, paused: bool) -> None:
        (self._pause if paused else self._resume)(_PAUSE_PENDING)

    def start_pipe(self, conn: UpstreamConnection) -> None:
        self.state = _PIPE
        self.pipe = conn
        self.deadline.cancel()
        self._resume(_PAUSE_STOP)
        if self.tail:
            conn.write(self.tail)
            if self.queue:
                self.queue[0].pipe_from_client(self.tail)
            self.tail = b""

    def cork(self) -> None:
        """Collect writes until uncork(): one send for a response head and its body."""
        self.out = []

    def uncork(self) -> None:
        out, self.out = self.out, None
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def write(self, data: bytes) -> None:
        if self.out is not None:
            self.out.append(data)
        elif self.transport is not None:
            self.transport.write(data)

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        if self.out is not None:
            self.out += parts
        elif self.transport is not None:
            self.transport.writelines(parts)

    def close(self) -> None:
        self.uncork()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def piped_exchange(self) -> Exchange | None:
        """The exchange whose WebSocket (or other upgrade) this connection pipes, if any."""
        return self.queue[0] if self.state == _PIPE and self.queue else None

    def close_if_idle(self) -> None:
        if not self.queue and self.parsing is None:
            self.close()

    # -- internals
    def _linger(self) -> None:
        """Answered a refusal: shut down writing, drain the client's input briefly, close."""
        self.uncork()
        transport = self.transport
        if self.eof or transport is None or transport.is_closing() or not transport.can_write_eof():
            self.close()
            return
        transport.write_eof()
        self.state = _LINGERING
        self.linger_left = self.ctx.limits.linger_bytes
        self.deadline.arm(self.ctx.limits.linger_timeout)
        self.paused = 0
        transport.resume_reading()

    def _reject(self, status: int) -> None:
        self.state = _REJECTED
        self._pause(_PAUSE_STOP)
        self.deadline.disarm()
        exchange, self.parsing = self.parsing, None
        if exchange is not None and not self.in_head:  # queued already: its body was bad
            exchange.reject = status
            exchange.keep_alive = False
            if self.queue and self.queue[0] is exchange:
                exchange.refuse(status)
            return
        exchange = exchange or Exchange(self)
        exchange.reject = status
        exchange.keep_alive = False
        self.queue.append(exchange)
        if len(self.queue) == 1:
            exchange.start()

    def _pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused |= reason

    def _resume(self, reason: int) -> None:
        if not self.paused & reason:
            return
        self.paused &= ~reason
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _timed_out(self) -> None:
        if self.state == _LINGERING:
            self.close()
        elif self.state == _HTTP and not self.queue:
            self.abort()
