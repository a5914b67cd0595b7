"""ProxyServer: the public face of the data plane (one listening port)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from courtyard.auth.principal import Gate
from courtyard.config.tables import ServiceConfig
from courtyard.errors import ConfigError
from courtyard.ports import family_of
from courtyard.proxy.acceptor import Acceptor, serving
from courtyard.proxy.client import ClientConnection
from courtyard.proxy.context import ProxyContext
from courtyard.proxy.dispatch import identify
from courtyard.proxy.heap import keep_heap_warm
from courtyard.proxy.limits import ProxyLimits
from courtyard.proxy.pool import UpstreamPool
from courtyard.proxy.routes import RouteTable
from courtyard.proxy.tlsport import TlsPort
from courtyard.spawners.base import Endpoint

_CLOSE_POLL = 0.02
SERVICE_URL_SCHEMES = ("http",)
DEFAULT_LIMITS = ProxyLimits()


class ProxyServer:
    """Routes ``/user/<name>/...`` to that user's server when the caller may open it,
    ``/services/<name>/...`` to the service's url (``services``), and everything else to the
    control plane at ``hub_endpoint``."""

    def __init__(
        self,
        routes: RouteTable,
        gate: Gate,
        hub_endpoint: Endpoint,
        *,
        on_upstream_gone: Callable[[str], None] | None = None,
        limits: ProxyLimits = DEFAULT_LIMITS,
        log: logging.Logger | None = None,
        services: Mapping[str, Endpoint] | None = None,
    ) -> None:
        self._routes = routes
        self._gate = gate
        self._hub = hub_endpoint
        self._on_upstream_gone = on_upstream_gone
        self._limits = limits
        self._services = dict(services or {})
        self._log = log or logging.getLogger("courtyard.proxy")
        self._server: Acceptor | TlsPort | None = None
        self._ctx: ProxyContext | None = None
        self._port = 0

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl: ssl_module.SSLContext | None = None,
        reuse_port: bool = False,
        sock: socket.socket | None = None,
    ) -> None:
        """Listen on ``host:port``, or accept on ``sock`` when given (already listening)."""
        loop = asyncio.get_running_loop()
        keep_heap_warm()  # large bodies: no brk() and fresh page faults per socket read
        ctx = ProxyContext(
            routes=self._routes,
            gate=self._gate,
            hub=self._hub,
            limits=self._limits,
            log=self._log,
            loop=loop,
            pool=UpstreamPool(loop, self._limits),
            on_upstream_gone=self._on_upstream_gone,
            services=self._services,
            scheme=b"https" if ssl is not None else b"http",
        )
        if ssl is not None:  # sorts TLS from plain HTTP, which gets a pointer to https://
            tls_port = TlsPort(lambda: ClientConnection(ctx), ssl, self._limits.header_timeout)
            if sock is not None:
                tls_port.serve(sock)
            else:
                await tls_port.start(host, port, reuse_port=reuse_port)
            self._server = tls_port
        else:  # many connections accepted per turn of the loop, on uvloop too (acceptor.py)
            if sock is None:
                sock = socket.create_server(
                    (host, port), family=family_of(host), backlog=1024, reuse_port=reuse_port
                )
            self._server = Acceptor(sock, serving(lambda: ClientConnection(ctx)))
        self._ctx = ctx
        self._port = self._server.sockets[0].getsockname()[1]

    @property
    def port(self) -> int:
        return self._port

    def stats(self) -> dict[str, int]:
        """Connections accepted since start, and open now."""
        ctx = self._ctx
        if ctx is None:
            return {"accepted": 0, "open": 0}
        return {"accepted": ctx.accepted, "open": len(ctx.connections)}

    def recheck_pipes(self) -> None:
        """Close every open WebSocket to a user's server whose caller may no longer open it
        (a share revoked, a session logged out, a token deleted); call after the gate's
        caches were dropped."""
        if self._ctx is not None:
            close_refused_pipes(self._ctx)

    async def close(self) -> None:
        """Stop accepting, close idle connections, let in-flight exchanges finish (bounded)."""
        if self._server is None or self._ctx is None:
            return
        ctx = self._ctx
        ctx.closing = True
        self._server.close()
        for conn in list(ctx.connections):
            conn.close_if_idle()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._limits.shutdown_timeout
        while ctx.connections and loop.time() < deadline:
            await asyncio.sleep(_CLOSE_POLL)
        for conn in list(ctx.connections):
            conn.abort()
        ctx.pool.close_idle()
        self._server = None


def close_refused_pipes(ctx: ProxyContext) -> int:
    closed = 0
    for conn in list(ctx.connections):
        exchange = conn.piped_exchange()
        if exchange is None or exchange.route is None:
            continue
        principal = identify(ctx, exchange.facts)
        route = exchange.route
        if principal is None or not principal.may_access_server(route.user, route.server):
            conn.abort()
            closed += 1
    if closed:
        ctx.log.info("closed %d open connections whose access was revoked", closed)
    return closed


def service_endpoints(services: Iterable[ServiceConfig]) -> dict[str, Endpoint]:
    """Where ``/services/<name>/`` goes for each service with a ``url``
    (``http://host:port``; the path is passed on unchanged, as JupyterHub's proxy does)."""
    found: dict[str, Endpoint] = {}
    for at, config in enumerate(services):
        if not config.url:
            continue
        parts = urlsplit(config.url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in SERVICE_URL_SCHEMES or not parts.hostname or port is None or (
            parts.path not in ("", "/")
        ):
            raise ConfigError(
                f"services[{at}].url is {config.url!r}: give it as http://HOST:PORT (the hub"
                f" serves it at /services/{config.name}/, path and all)."
            )
        found[config.name] = Endpoint(host=parts.hostname, port=port)
    return found
