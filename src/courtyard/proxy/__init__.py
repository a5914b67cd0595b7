"""The data plane: an HTTP/1.1 + WebSocket reverse proxy on asyncio Protocols and httptools."""

from courtyard.proxy.limits import ProxyLimits
from courtyard.proxy.routes import Route, RouteTable
from courtyard.proxy.server import ProxyServer

__all__ = ["ProxyLimits", "ProxyServer", "Route", "RouteTable"]
