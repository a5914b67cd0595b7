"""One connection to an upstream (a user's server or the control plane).

It parses responses with httptools and hands every event to the Exchange that owns it; after a
101 it becomes one half of a raw byte pipe. While idle in the pool it owns nothing: any byte or
close from the upstream then just ends it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import httptools

from courtyard.proxy.deadline import Deadline
from courtyard.proxy.heads import (
    DROPPED_RESPONSE_PREFIX,
    WATCHED_RESPONSE,
    ResponseFacts,
    note_response_header,
)
from courtyard.spawners.base import Endpoint

NO_BODY = frozenset({*range(100, 200), 204, 304})

if TYPE_CHECKING:
    from courtyard.proxy.exchange import Exchange
    from courtyard.proxy.pool import UpstreamPool


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "body_left",
        "deadline",
        "endpoint",
        "exchange",
        "got_bytes",
        "keep_alive_after_head",
        "parser",
        "piping",
        "pool",
        "response",
        "reused",
        "skip_body",
        "transport",
    )

    def __init__(
        self, pool: UpstreamPool, endpoint: Endpoint, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: Exchange | None = None
        self.response = ResponseFacts()
        self.reused = False
        self.got_bytes = False
        self.piping = False
        self.skip_body = False
        self.keep_alive_after_head = False
        self.body_left = 0  # of a Content-Length body, once the parser has seen its head
        self.deadline = Deadline(loop, self._timed_out)

    # -- transport events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:
            self.close()  # bytes nobody asked for: the connection is no longer trustworthy
            return
        if self.piping:
            exchange.pipe_to_client(data)
            return
        if self.body_left > 0:
            self._pass_body(exchange, data)
            return
        self.got_bytes = True
        client = exchange.client
        client.cork()
        try:
            self._feed(exchange, data)
        finally:
            client.uncork()

    def _feed(self, exchange: Exchange, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            exchange.upstream_upgraded(self, data[upgrade.args[0] :])
            return
        except httptools.HttpParserError:
            exchange.upstream_failed(self, "malformed response")
            return
        if self.skip_body:  # a HEAD response: the head was the whole message
            self.skip_body = False
            self.parser = httptools.HttpResponseParser(self)
            exchange.response_complete(self, self.keep_alive_after_head)

    def _pass_body(self, exchange: Exchange, data: bytes) -> None:
        """Inside a Content-Length body: straight to the client, without the parser's copy."""
        left = self.body_left
        size = len(data)
        if size < left:
            self.body_left = left - size
            exchange.response_body(data)
            return
        self.body_left = 0
        self.parser = httptools.HttpResponseParser(self)  # the old one is still mid-body
        exchange.response_body(data if size == left else data[:left])
        exchange.response_complete(self, self.keep_alive_after_head)
        if size > left:  # bytes after the response: nobody asked for them
            self.data_received(data[left:])

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline.cancel()
        self.pool.discard(self)
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.upstream_lost(self, exc)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.client.pause_reading_for_upstream(True)

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.client.pause_reading_for_upstream(False)

    # -- parser callbacks
    def on_message_begin(self) -> None:
        self.response = ResponseFacts()
        self.body_left = 0  # on_body counts it down; only > 0 after a head means anything

    def on_status(self, reason: bytes) -> None:
        self.response.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        low = name.lower()
        if low in WATCHED_RESPONSE:
            note_response_header(self.response, low, name, value)
        elif not low.startswith(DROPPED_RESPONSE_PREFIX):
            self.response.lines.append(b"%b: %b\r\n" % (name, value))

    def on_headers_complete(self) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        self.deadline.disarm()
        status = self.parser.get_status_code()
        exchange.response_head(self.response, status)
        if exchange.method == b"HEAD" and not 100 <= status < 200:
            self.skip_body = True
            self.keep_alive_after_head = self.parser.should_keep_alive()
            return
        length = self.response.content_length
        if length is not None and not self.response.chunked and status not in NO_BODY:
            self.body_left = int(length.partition(b":")[2])  # llhttp checked the value
            self.keep_alive_after_head = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None and not self.skip_body:
            self.body_left -= len(body)
            self.exchange.response_body(body)

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is not None and not self.skip_body:
            exchange.response_complete(self, self.parser.should_keep_alive())

    # -- control
    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def set_reading(self, reading: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if reading:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    def close(self) -> None:
        self.exchange = None
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.exchange = None
        if self.transport is not None:
            self.transport.abort()

    def _timed_out(self) -> None:
        exchange = self.exchange
        if exchange is None:
            self.close()  # idle too long in the pool
        else:
            exchange.upstream_timed_out(self)
