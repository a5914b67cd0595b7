"""Bounds the data plane enforces on every connection (sizes and timeouts)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProxyLimits:
    """Sizes in bytes, times in seconds.

    ``pool_size`` is the number of idle keep-alive connections kept per upstream; it does not
    cap concurrency (a burst opens more connections, the extra ones are closed when released).
    ``upstream_response_timeout`` bounds the wait for a response head once the request has been
    forwarded (504 after it); a streaming response body is not timed.

    The header limits hold for the whole port - hub pages and ``/user/`` paths alike: the
    control plane behind the proxy accepts more (``CONTROL_PLANE_HEADER_BYTES`` in app.py), so
    its parser never answers first.
    """

    max_head_bytes: int = 64 * 1024  # tornado's and nginx's users expect this much: cookies
    max_header_line: int = 16 * 1024  # one header line, name and value (431 above it)
    max_request_line: int = 16 * 1024  # the URL (414 above it)
    linger_timeout: float = 2.0  # after a refusal: drain what the client still sends, so
    linger_bytes: int = 1024 * 1024  # it reads the answer rather than a TCP reset
    header_timeout: float = 10.0
    keepalive_timeout: float = 75.0
    upstream_connect_timeout: float = 5.0
    upstream_response_timeout: float = 300.0
    upstream_idle_timeout: float = 30.0
    pool_size: int = 128  # with 32, 1 request in 10 opened a new connection at 50 clients
    shutdown_timeout: float = 10.0
