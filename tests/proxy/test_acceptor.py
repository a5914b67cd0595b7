"""Accepting a crowd: libuv (uvloop) accepts one connection per turn of the event loop, so a
hub whose loop was busy let new clients wait a minute in the kernel's queue (bench/load.py
--people 40: 283-365 API client timeouts). The Acceptor takes everything waiting in one turn,
on uvloop as on CPython's loop (uvloop's own create_server took 4 of these 200 in as many turns)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import uvloop

from courtyard.proxy.acceptor import Acceptor, serving

CROWD = 200


class Counted(asyncio.Protocol):
    made: list[asyncio.BaseTransport]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(transport)


async def accepted_in_a_few_turns(serve: Callable[[socket.socket, type[Counted]], object]) -> int:
    made: list[asyncio.BaseTransport] = []
    protocol = type("P", (Counted,), {"made": made})
    sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
    port = sock.getsockname()[1]
    server = serve(sock, protocol)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CROWD)]
    try:  # every handshake is done (the kernel's); the loop has not run since
        for _ in range(6):
            await asyncio.sleep(0)
        return len(made)
    finally:
        for client in clients:
            client.close()
        for transport in made:
            transport.close()
        server.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("loop_kind", ["uvloop", "asyncio"])
def test_a_crowd_waiting_to_connect_is_accepted_in_one_turn(loop_kind: str) -> None:
    run = uvloop.run if loop_kind == "uvloop" else asyncio.run
    assert run(accepted_in_a_few_turns(lambda sock, p: Acceptor(sock, serving(p)))) == CROWD
