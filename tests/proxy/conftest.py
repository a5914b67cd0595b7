"""Fixtures: a running ProxyServer in front of real upstream servers, on uvloop."""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop
from aiohttp import web

from courtyard.auth.principal import Principal
from courtyard.proxy import ProxyLimits, ProxyServer, Route, RouteTable
from courtyard.spawners.base import Endpoint
from tests.proxy.proxykit import DictGate, hub_app, user_app

TEST_LIMITS = ProxyLimits(
    max_head_bytes=8 * 1024,
    max_header_line=4 * 1024,
    max_request_line=2 * 1024,
    header_timeout=0.5,
    keepalive_timeout=0.8,
    upstream_connect_timeout=1.0,
    upstream_response_timeout=0.6,
    upstream_idle_timeout=5.0,
    pool_size=4,
    shutdown_timeout=2.0,
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": uvloop.new_event_loop}


@dataclass
class Stack:
    proxy: ProxyServer
    routes: RouteTable
    gate: DictGate
    tmp: Path
    gone: list[str] = field(default_factory=list)
    runners: list[web.AppRunner] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.proxy.port


async def serve_unix(app: web.Application, path: Path, runners: list[web.AppRunner]) -> Endpoint:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.UnixSite(runner, str(path)).start()
    runners.append(runner)
    return Endpoint(unix_path=str(path))


async def serve_tcp(app: web.Application, runners: list[web.AppRunner]) -> Endpoint:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    runners.append(runner)
    port = runner.addresses[0][1]
    return Endpoint(host="127.0.0.1", port=port)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """alice's server on a unix socket, bob's on TCP, the hub on a unix socket."""
    with tempfile.TemporaryDirectory(prefix="cyproxy-") as tmp:
        runners: list[web.AppRunner] = []
        hub = await serve_unix(hub_app(), Path(tmp) / "hub.sock", runners)
        alice = await serve_unix(user_app("alice"), Path(tmp) / "alice.sock", runners)
        bob = await serve_tcp(user_app("bob"), runners)
        routes = RouteTable()
        routes.add(Route("alice", alice, "alice-secret"))
        routes.add(Route("bob", bob, "bob-secret"))
        gate = DictGate(
            {
                "alice-cookie": Principal("alice"),
                "bob-cookie": Principal("bob"),
                "admin-cookie": Principal("root", admin=True, admin_access=True),
                "plain-admin-cookie": Principal("carol", admin=True, admin_access=False),
            }
        )
        gone: list[str] = []
        proxy = ProxyServer(
            routes,
            gate,
            hub,
            on_upstream_gone=gone.append,
            limits=TEST_LIMITS,
            log=logging.getLogger("courtyard.proxy.test"),
        )
        await proxy.start("127.0.0.1", 0)
        yield Stack(proxy, routes, gate, Path(tmp), gone, runners)
        await proxy.close()
        for runner in runners:
            await runner.cleanup()


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
