"""Wires the rooms into one running hub and owns its startup and graceful shutdown.

Startup: state dir -> secret key -> store -> auth -> route table + servers (re-attach) ->
control plane on a unix socket -> proxy on the public port. Shutdown runs it backwards and
leaves every user's server running, to be re-attached by the next start.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from courtyard.api.context import ProxyStats
from courtyard.api.setup import Access, build_access, build_api
from courtyard.auth.authenticators import Authenticator, LocalAuthenticator, make_authenticator
from courtyard.auth.keys import load_or_create_secret
from courtyard.auth.sessions import SECURE_COOKIE_NAME, SessionGate, SessionManager
from courtyard.auth.throttle import LoginThrottle
from courtyard.config.load import settings_to_data
from courtyard.config.settings import Settings, running_as_root
from courtyard.culler.loop import Culler
from courtyard.daemon.adminsocket import (
    admin_socket_path,
    bind_private_socket,
    build_admin_app,
    serve_admin_socket,
)
from courtyard.daemon.records import remove_status, write_status
from courtyard.hub.servers import ServerManager
from courtyard.ports import bind_or_explain, shared_listeners
from courtyard.proxy.acceptor import Acceptor, serving
from courtyard.proxy.fleet import WorkerFleet
from courtyard.proxy.routes import RouteTable
from courtyard.proxy.server import ProxyServer, service_endpoints
from courtyard.spawners import procinfo
from courtyard.spawners.base import Endpoint, Spawner
from courtyard.spawners.limits.limiter import Limiter
from courtyard.spawners.local import LocalSpawner
from courtyard.spawners.slurm import SlurmSpawner
from courtyard.store.store import Store
from courtyard.tls import server_context
from courtyard.web.admin_limits import add_limits
from courtyard.web.app import build_control_app
from courtyard.web.context import WebContext
from courtyard.web.culling import add_culling
from courtyard.web.render import PageRenderer

log = logging.getLogger("courtyard")
COOKIE = "courtyard-session"
# The proxy in front bounds every head (ProxyLimits: 16 KiB a line, 64 KiB in all) and answers
# 431 itself; the control plane must accept whatever passes, plus the lines the proxy adds.
CONTROL_PLANE_BACKLOG = 1024
CONTROL_PLANE_HEADER_BYTES = 128 * 1024


@dataclass(frozen=True)
class StateLayout:
    """Where a hub keeps its files; the runtime dir must be traversable by user servers."""

    root: Path

    @property
    def runtime(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def control_socket(self) -> Path:
        return self.runtime / "hub.sock"

    @property
    def admin_socket(self) -> Path:  # never behind the proxy: see daemon/adminsocket.py
        return admin_socket_path(self.runtime)

    def create(self) -> None:
        mode = 0o711 if running_as_root() else 0o700
        for folder in (self.root, self.runtime):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(mode)
        self.logs.mkdir(exist_ok=True)
        self.logs.chmod(0o700)


class Courtyard:
    """One hub: build with settings, ``await start()``, ``await close()``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = StateLayout(settings.resolved_state_dir())
        self.routes = RouteTable()
        self.store: Store | None = None
        self.authenticator: Authenticator | None = None
        self.servers: ServerManager | None = None
        self.culler: Culler | None = None
        self.proxy: ProxyServer | None = None
        self.fleet: WorkerFleet | None = None
        self.first_account: tuple[str, str] | None = None  # (name, password), shown once
        self._runner: web.AppRunner | None = None
        self._control_acceptor: Acceptor | None = None
        self._admin_runner: web.AppRunner | None = None
        self.access: Access | None = None
        self.limiter: Limiter | None = None
        self.scanner = procinfo.ProcessScanner()  # /proc scans shared by the local spawners
        cert, key = settings.ssl_cert, settings.ssl_key
        self.tls = server_context(cert, key) if cert else None
        self.cookie_name = SECURE_COOKIE_NAME if self.tls else COOKIE  # __Host- needs Secure

    def make_spawner(
        self, user: str, state: dict[str, Any] | None, profile: str = "", server: str = ""
    ) -> Spawner:
        args = (user, self.settings, self.layout.runtime, self.layout.logs)
        if self.settings.spawner == "slurm":
            if state is None:
                return SlurmSpawner(*args, profile=profile, server=server)
            return SlurmSpawner.from_state(*args, state, server=server)
        if state is None:
            return LocalSpawner(
                *args, limiter=self.limiter, server=server, profile=profile, scanner=self.scanner
            )
        return LocalSpawner.from_state(
            *args, state, limiter=self.limiter, server=server, scanner=self.scanner
        )

    async def start(self) -> None:
        settings = self.settings
        if settings.admin_access:
            log.warning(
                "admin_access is on: users' servers share the hub's origin, so a page served by"
                " a user's server that an admin opens can act as that admin. See docs/admin.md."
            )
        if settings.spawner == "local":
            self.limiter = Limiter.start(settings.limits, settings.profiles)
        self.layout.create()
        secret = load_or_create_secret(self.layout.root / "secret.key")
        store = self.store = Store.open(settings.resolved_database_url())
        self.authenticator = make_authenticator(settings, store)
        if isinstance(self.authenticator, LocalAuthenticator) and store.count_users() == 0:
            name = getpass.getuser()
            password = await self.authenticator.create_user(name, admin=True)
            self.first_account = (name, password)
        sessions = SessionManager(store, secret, settings.session_max_age)
        access = self.access = build_access(settings, store)
        gate = SessionGate(
            sessions, store, settings, cookie_name=self.cookie_name, tokens=access.tokens
        )
        servers = self.servers = ServerManager(
            store,
            self.routes,
            self.make_spawner,
            default_url=settings.default_url,
            named_servers=settings.named_servers,
        )
        attached = await servers.reattach_all()
        if attached:
            log.info("re-attached running servers of: %s", ", ".join(attached))
        if self.limiter is not None:
            self.limiter.sweep(servers.limit_keys())
        context = WebContext(
            settings=settings,
            store=store,
            authenticator=self.authenticator,
            sessions=sessions,
            gate=gate,
            throttle=LoginThrottle(),
            servers=servers,
            renderer=PageRenderer(),
            secret_key=secret,
            cookie_name=self.cookie_name,
            secure_cookies=self.tls is not None,
        )
        api = build_api(
            access,
            settings,
            store,
            servers,
            self.authenticator,
            gate,
            sessions,
            proxy_stats=self.proxy_stats,
        )
        culler = self.culler = Culler(
            settings.culler,
            servers,
            self.routes,
            store,
            admin_users=frozenset(settings.admin_users),
            delete_accounts=settings.resolved_auth() == "local",
        )
        control = build_control_app(context, api)
        add_culling(control, culler)
        add_limits(control, self.limiter)
        await self._start_control_plane(control)
        self._admin_runner = await serve_admin_socket(
            build_admin_app(servers, store), self.layout.admin_socket
        )
        self.proxy = ProxyServer(
            self.routes,
            gate,
            Endpoint(unix_path=str(self.layout.control_socket)),
            on_upstream_gone=servers.on_upstream_gone,
            services=service_endpoints(settings.services),
        )
        proxy = self.proxy
        sessions.on_revoke.append(proxy.recheck_pipes)  # open WebSockets of what was revoked
        access.tokens.on_change.append(proxy.recheck_pipes)
        count = settings.resolved_workers()
        if count == 1:
            await bind_or_explain(
                self.proxy.start(settings.ip, settings.port, ssl=self.tls), settings.port
            )
        else:
            listeners = shared_listeners(settings.ip, settings.port, count)
            await self.proxy.start(sock=listeners[0], ssl=self.tls)
            await self._start_workers(listeners[1:], secret, sessions, access)
        servers.start_watching()
        culler.start()
        access.services.start(self.url.rstrip("/") + "/hub/api")
        limits = self.limiter.describe() if self.limiter is not None else ""
        write_status(self.layout.root, self.url, self.port, limits)

    async def _start_workers(
        self,
        listeners: list[socket.socket],
        secret: bytes,
        sessions: SessionManager,
        access: Access,
    ) -> None:
        """Proxy workers on the rest of the port's SO_REUSEPORT sockets (proxy/fleet.py)."""
        assert self.servers is not None
        tokens = access.tokens
        init = {
            "settings": settings_to_data(self.settings),
            "secret": secret.hex(),
            "cookie": self.cookie_name,
            "hub": str(self.layout.control_socket),
        }
        fleet = self.fleet = WorkerFleet(
            self.routes,
            lambda: {**init, "services": dict(tokens.services)},
            (self.settings.ip, self.port),
            on_upstream_gone=self.servers.on_upstream_gone,
        )

        def flush_workers() -> None:
            fleet.auth_changed(dict(tokens.services))

        sessions.on_revoke.append(flush_workers)
        tokens.on_change.append(flush_workers)
        await fleet.start(listeners)
        log.info("the port is served by %d processes: the hub and %d proxy workers",
                 len(listeners) + 1, len(listeners))  # fmt: skip

    def proxy_stats(self) -> ProxyStats:
        """Connections per serving process: 0 is the hub, 1.. its proxy workers."""
        rows: ProxyStats = []
        if self.proxy is not None:
            rows.append({"worker": 0, "pid": os.getpid(), **self.proxy.stats()})
        return rows + (self.fleet.stats() if self.fleet else [])

    async def _start_control_plane(self, app: web.Application) -> None:
        sock = self.layout.control_socket
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            max_line_size=CONTROL_PLANE_HEADER_BYTES,
            max_field_size=CONTROL_PLANE_HEADER_BYTES,
        )
        await self._runner.setup()
        server = self._runner.server
        assert server is not None  # set by setup()
        listening = bind_private_socket(sock)  # 0600: root's proxy workers, nobody else
        listening.listen(CONTROL_PLANE_BACKLOG)  # deep: 1,000 API clients at once are 1,000
        self._control_acceptor = Acceptor(listening, serving(server))  # connections from the proxy

    @property
    def port(self) -> int:
        return self.proxy.port if self.proxy else self.settings.port

    @property
    def url(self) -> str:
        s = self.settings
        host = "127.0.0.1" if s.ip in ("0.0.0.0", "") else s.ip
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    async def close(self) -> None:
        remove_status(self.layout.root, os.getpid())
        if self.access is not None:
            await self.access.services.close()
        closing = [self.proxy.close()] if self.proxy is not None else []
        if self.fleet is not None:
            closing.append(self.fleet.close())
        await asyncio.gather(*closing)  # the workers finish their requests meanwhile
        if self.culler is not None:
            await self.culler.close()
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
            self.layout.admin_socket.unlink(missing_ok=True)
        if self.servers is not None:
            await self.servers.close()
        if self._control_acceptor is not None:
            self._control_acceptor.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.store is not None:
            self.store.close()


async def serve_until_signalled(hub: Courtyard, on_ready: Callable[[Courtyard], None]) -> None:
    """Run ``hub`` until SIGINT or SIGTERM, then shut it down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await hub.start()
        on_ready(hub)
        await stop.wait()
    finally:
        log.info("stopping the hub; user servers keep running")
        await hub.close()
