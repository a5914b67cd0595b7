"""Proxy workers (workers = N): real worker processes on a shared SO_REUSEPORT port, fed by a
real WorkerFleet, checking real sessions from a real store, in front of real upstreams.

Here the test process does not serve the port itself: every connection lands on a worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from courtyard.auth.sessions import SessionManager
from courtyard.auth.tokens import TokenManager, token_manager
from courtyard.config.load import settings_to_data
from courtyard.config.settings import Settings
from courtyard.config.tables import RoleConfig, ServiceConfig
from courtyard.daemon.procs import is_running
from courtyard.errors import PortInUseError, ProxyWorkerError
from courtyard.ports import shared_listeners
from courtyard.proxy import Route, RouteTable
from courtyard.proxy.fleet import WorkerFleet
from courtyard.spawners.base import Endpoint
from courtyard.store.store import Store
from courtyard.store.tokenstore import GroupStore
from tests.proxy.conftest import serve_tcp, serve_unix, wait_for
from tests.proxy.proxykit import RawClient, Response, hub_app, user_app

WORKERS = 2
CONNECTIONS = 40  # fresh connections per check: (1/2)^39 that all land on one worker


@dataclass
class Fleet:
    fleet: WorkerFleet
    routes: RouteTable
    sessions: SessionManager
    tokens: TokenManager
    store: Store
    port: int
    alice: str  # cookie values
    bob: str
    bob_endpoint: Endpoint
    gone: list[str] = field(default_factory=list)


def cookie(value: str) -> str:
    return f"courtyard-session={value}"


async def request(port: int, path: str, cookie_header: str = "", method: str = "GET") -> Response:
    """``cookie_header`` is a Cookie header's value, or ``token ...`` for Authorization."""
    client = await RawClient.open(port)
    try:
        extra = f"Cookie: {cookie_header}\r\n" if cookie_header else ""
        if cookie_header.startswith("token "):
            extra = f"Authorization: {cookie_header}\r\n"
        client.send(
            f"{method} {path} HTTP/1.1\r\nHost: hub\r\n{extra}Content-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        return await client.response()
    finally:
        client.writer.close()


async def owners(port: int, path: str, cookie_header: str = "", n: int = CONNECTIONS) -> set[str]:
    """Who answered ``n`` requests, each on its own connection: a user's name, or "hub"."""
    answers = await asyncio.gather(*(request(port, path, cookie_header) for _ in range(n)))
    found = set()
    for answer in answers:
        assert answer.status == 200, answer.body[:200]
        body = answer.json()
        found.add("hub" if body.get("hub") else str(body["owner"]))
    return found


def make_fleet(
    routes: RouteTable, init: dict[str, object], port: int, gone: list[str]
) -> WorkerFleet:
    return WorkerFleet(
        routes, lambda: dict(init), ("127.0.0.1", port), on_upstream_gone=gone.append
    )


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    with tempfile.TemporaryDirectory(prefix="cyworkers-") as tmp:
        runners: list[web.AppRunner] = []
        hub = await serve_unix(hub_app(), Path(tmp) / "hub.sock", runners)
        alice_endpoint = await serve_unix(user_app("alice"), Path(tmp) / "alice.sock", runners)
        bob_endpoint = await serve_tcp(user_app("bob"), runners)
        svc = await serve_tcp(user_app("svc", base="/services/svc"), runners)
        settings = Settings(
            state_dir=tmp,
            database_url=f"sqlite:///{tmp}/hub.sqlite",
            services=[ServiceConfig(name="svc", url=f"http://127.0.0.1:{svc.port}")],
            load_roles=[RoleConfig(name="svc-role", scopes=["access:servers"], services=["svc"])],
        )
        store = Store.open(settings.resolved_database_url())
        tokens = token_manager(settings, store, GroupStore(store))
        secret = os.urandom(32)
        sessions = SessionManager(store, secret, 3600)
        store.ensure_user("alice")
        store.ensure_user("bob")
        alice, bob = sessions.create("alice"), sessions.create("bob")
        routes = RouteTable()
        routes.add(Route("alice", alice_endpoint, "alice-secret"))
        listeners = shared_listeners("127.0.0.1", 0, WORKERS)
        port = listeners[0].getsockname()[1]
        gone: list[str] = []
        init = {
            "settings": settings_to_data(settings),
            "secret": secret.hex(),
            "cookie": "courtyard-session",
            "hub": hub.unix_path,
            "services": {},
        }
        workers = make_fleet(routes, init, port, gone)
        sessions.on_revoke.append(lambda: workers.auth_changed(dict(tokens.services)))
        tokens.on_change.append(lambda: workers.auth_changed(dict(tokens.services)))
        try:
            await workers.start(listeners)
            yield Fleet(
                workers, routes, sessions, tokens, store, port, alice, bob, bob_endpoint, gone
            )
        finally:
            await workers.close()
            for runner in runners:
                await runner.cleanup()
            store.close()


async def test_every_worker_serves_and_checks_the_session_itself(fleet: Fleet) -> None:
    assert await owners(fleet.port, "/user/alice/echo", cookie(fleet.alice)) == {"alice"}
    assert await owners(fleet.port, "/user/alice/echo", cookie(fleet.bob)) == {"hub"}
    assert await owners(fleet.port, "/user/alice/echo") == {"hub"}
    answer = await request(fleet.port, "/user/alice/echo", cookie(fleet.alice))
    assert answer.sent_header("X-Courtyard-User") == ["alice"]
    assert answer.sent_header("X-Courtyard-Secret") == ["alice-secret"]
    assert answer.sent_header("Cookie") == []  # the hub's cookie never reaches the server
    await wait_for(lambda: all(s["accepted"] for s in fleet.fleet.stats()), timeout=5)
    stats = fleet.fleet.stats()
    assert [s["worker"] for s in stats] == [1, 2]
    assert sum(int(s["accepted"] or 0) for s in stats) >= 3 * CONNECTIONS + 1


async def test_every_worker_proxies_a_service_at_its_prefix(fleet: Fleet) -> None:
    assert await owners(fleet.port, "/services/svc/echo", cookie(fleet.alice)) == {"svc"}
    assert await owners(fleet.port, "/services/svc/echo") == {"svc"}  # the service decides
    assert await owners(fleet.port, "/services/other/echo") == {"hub"}  # no such service
    answer = await request(fleet.port, "/services/svc/echo?x=1", "token a-callers-token")
    assert answer.json()["path"] == "/services/svc/echo?x=1"  # the path unchanged
    assert answer.sent_header("Authorization") == ["token a-callers-token"]  # for the service
    assert answer.sent_header("X-Courtyard-Secret") == []  # no user server's secret
    mixed = await request(fleet.port, "/services/svc/echo", cookie(fleet.alice) + "; own=1")
    assert mixed.sent_header("Cookie") == ["own=1"]  # its own cookies, never the hub's


async def test_route_changes_reach_every_worker_at_once(fleet: Fleet) -> None:
    assert await owners(fleet.port, "/user/bob/echo", cookie(fleet.bob)) == {"hub"}
    fleet.routes.add(Route("bob", fleet.bob_endpoint, "bob-secret"))
    await wait_for_owners(fleet, "/user/bob/echo", cookie(fleet.bob), {"bob"})
    fleet.routes.remove("alice")
    await wait_for_owners(fleet, "/user/alice/echo", cookie(fleet.alice), {"hub"})


async def wait_for_owners(fleet: Fleet, path: str, cookie_header: str, want: set[str]) -> None:
    """The workers apply a change within milliseconds; allow two seconds, well below the 5 s
    the identity caches would take."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while (seen := await owners(fleet.port, path, cookie_header)) != want:
        assert loop.time() < deadline, f"still {seen}, want {want}"
        await asyncio.sleep(0.02)


async def test_logout_is_refused_by_every_worker_at_once(fleet: Fleet) -> None:
    assert await owners(fleet.port, "/user/alice/echo", cookie(fleet.alice)) == {"alice"}
    assert fleet.sessions.revoke(fleet.alice)
    await wait_for_owners(fleet, "/user/alice/echo", cookie(fleet.alice), {"hub"})


async def test_tokens_open_a_server_through_every_worker_until_revoked(fleet: Fleet) -> None:
    token, record = fleet.tokens.create(
        "alice", note="script", scopes=["access:servers!user=alice"], expires_in=None
    )
    assert await owners(fleet.port, "/user/alice/echo", f"token {token}") == {"alice"}
    answer = await request(fleet.port, "/user/alice/echo", f"token {token}")
    assert answer.sent_header("X-Courtyard-Auth") == ["token"]
    assert answer.sent_header("Authorization") == []
    assert fleet.tokens.revoke("alice", record.id)
    await wait_for_owners(fleet, "/user/alice/echo", f"token {token}", {"hub"})
    # a hub-managed service's token is made when the service starts: the workers learn it
    service_token = fleet.tokens.new_service_token("svc")
    await wait_for_owners(fleet, "/user/alice/echo", f"token {service_token}", {"alice"})


async def test_activity_seen_by_a_worker_reaches_the_hubs_route(fleet: Fleet) -> None:
    route = fleet.routes.get("alice")
    assert route is not None
    route.last_activity = before = route.last_activity - 600
    answer = await request(fleet.port, "/user/alice/echo", cookie(fleet.alice), method="POST")
    assert answer.status == 200
    await wait_for(lambda: route.last_activity > before + 500, timeout=5)
    assert route.activity_kind != "start"
    quiet = route.last_activity
    # a status poll is traffic, not a person's activity
    await request(fleet.port, "/user/alice/api/status", cookie(fleet.alice))
    await asyncio.sleep(1.5)
    assert route.last_activity == quiet


async def test_a_dead_upstream_is_reported_to_the_hub(fleet: Fleet) -> None:
    fleet.routes.add(Route("bob", Endpoint(unix_path="/nonexistent/bob.sock"), "bob-secret"))
    await asyncio.sleep(0.2)
    answer = await request(fleet.port, "/user/bob/echo", cookie(fleet.bob))
    assert answer.status == 502
    await wait_for(lambda: "bob" in fleet.gone, timeout=5)


async def test_a_killed_worker_is_started_again_and_the_port_keeps_answering(
    fleet: Fleet,
) -> None:
    first = fleet.fleet.workers[0]
    pid = first.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: first.restarts == 1 and first.pid not in (None, pid), timeout=10)
    assert not is_running(pid)
    # connections to the new socket wait in its queue until the new process accepts them
    assert await owners(fleet.port, "/user/alice/echo", cookie(fleet.alice)) == {"alice"}
    await wait_for(lambda: first.accepted > 0, timeout=5)


async def test_workers_exit_when_the_hub_stops_and_when_its_link_closes(fleet: Fleet) -> None:
    one, two = fleet.fleet.workers
    pid = one.pid
    assert one.writer is not None
    one.writer.transport.abort()  # as if the hub died: the worker's end reads EOF
    await wait_for(lambda: not is_running(pid), timeout=15)
    pids = [w.pid for w in fleet.fleet.workers]
    await fleet.fleet.close()
    assert not any(is_running(p) for p in [*pids, two.pid] if p is not None)


async def test_a_worker_that_cannot_start_fails_the_start_with_its_own_words() -> None:
    with tempfile.TemporaryDirectory(prefix="cyworkers-") as tmp:
        settings = Settings(state_dir=tmp, database_url=f"sqlite:///{tmp}/hub.sqlite")
        init = {"settings": settings_to_data(settings), "secret": "not hex", "cookie": "c"}
        listeners = shared_listeners("127.0.0.1", 0, 1)
        workers = make_fleet(RouteTable(), init, listeners[0].getsockname()[1], [])
        with pytest.raises(ProxyWorkerError) as caught:
            await workers.start(listeners)
        await workers.close()
    text = str(caught.value)
    assert "proxy worker 1 exited with code 1 while starting" in text
    assert "ValueError" in text  # the worker's traceback, not a timeout


def test_shared_listeners_refuse_a_port_someone_already_serves() -> None:
    with socket.create_server(("127.0.0.1", 0), reuse_port=True) as other:
        port = other.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} is in use by pid {os.getpid()}"):
            shared_listeners("127.0.0.1", port, 2)
    listeners = shared_listeners("127.0.0.1", 0, 3)
    try:
        ports = {s.getsockname()[1] for s in listeners}
        assert len(ports) == 1
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in listeners)
    finally:
        for s in listeners:
            s.close()
