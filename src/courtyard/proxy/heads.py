"""Reading and rewriting message heads: framing checks, hop-by-hop and forged headers.

Header names arrive as the client sent them; every comparison is on the lower-cased name.
The client may not set anything the upstream trusts: ``X-Courtyard-*``, ``X-Real-IP``,
``X-Forwarded-*`` and ``Forwarded`` are removed and the proxy's own values are added.
"""

from __future__ import annotations

from dataclasses import dataclass

Headers = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
    }
)
FORGEABLE = frozenset(
    {b"x-real-ip", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
_NEUTRAL_TOKENS = frozenset({b"close", b"keep-alive", b"upgrade"})


class FramingError(ValueError):
    """The message framing is ambiguous or malformed; the connection must be closed."""


@dataclass
class RequestFacts:
    """What the proxy needs to know from a request head, gathered in one pass."""

    cookie: bytes | None = None
    authorization: bytes | None = None
    host: bytes | None = None
    accept: bytes | None = None
    upgrade: bytes | None = None
    content_length: int | None = None
    chunked: bool = False
    extra_hop: frozenset[bytes] = frozenset()


def _connection_tokens(value: bytes) -> frozenset[bytes]:
    tokens = frozenset(t.strip().lower() for t in value.split(b","))
    return tokens - _NEUTRAL_TOKENS


def scan_request(headers: Headers) -> RequestFacts:
    facts = RequestFacts()
    te_seen = False
    for name, value in headers:
        low = name.lower()
        if low == b"content-length":
            if facts.content_length is not None or not value.isdigit():
                raise FramingError("duplicate or malformed Content-Length")
            facts.content_length = int(value)
        elif low == b"transfer-encoding":
            if te_seen or value.strip().lower() != b"chunked":
                raise FramingError("only a single 'Transfer-Encoding: chunked' is accepted")
            te_seen = facts.chunked = True
        elif low == b"cookie":
            facts.cookie = value if facts.cookie is None else facts.cookie + b"; " + value
        elif low == b"authorization":
            facts.authorization = facts.authorization or value
        elif low == b"host":
            if facts.host is not None:
                raise FramingError("duplicate Host")
            facts.host = value
        elif low == b"accept":
            facts.accept = value
        elif low == b"upgrade":
            facts.upgrade = value
        elif low == b"connection":
            facts.extra_hop = facts.extra_hop | _connection_tokens(value)
    if te_seen and facts.content_length is not None:
        raise FramingError("Content-Length together with Transfer-Encoding")
    return facts


def _dropped(low: bytes, extra_hop: frozenset[bytes]) -> bool:
    return (
        low in HOP_BY_HOP
        or low in FORGEABLE
        or low.startswith((b"x-courtyard-", b"proxy-"))
        or (bool(extra_hop) and low in extra_hop)
    )


def build_request_head(
    method: bytes, url: bytes, headers: Headers, facts: RequestFacts, injected: list[bytes]
) -> bytes:
    """The head sent upstream (always HTTP/1.1, keep-alive). ``injected`` are full lines."""
    parts = [method, b" ", url, b" HTTP/1.1\r\n"]
    extra = facts.extra_hop
    for name, value in headers:
        if not _dropped(name.lower(), extra):
            parts += (name, b": ", value, b"\r\n")
    if facts.host is None:
        parts.append(b"Host: localhost\r\n")
    if facts.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif facts.content_length is not None:
        parts.append(b"Content-Length: %d\r\n" % facts.content_length)
    if facts.upgrade is not None:
        parts += (b"Connection: Upgrade\r\nUpgrade: ", facts.upgrade, b"\r\n")
    parts += injected
    parts.append(b"\r\n")
    return b"".join(parts)


@dataclass
class ResponseFacts:
    content_length: bool = False
    chunked: bool = False
    upgrade: bytes | None = None
    extra_hop: frozenset[bytes] = frozenset()


def scan_response(headers: Headers) -> ResponseFacts:
    facts = ResponseFacts()
    for name, value in headers:
        low = name.lower()
        if low == b"content-length":
            facts.content_length = True
        elif low == b"transfer-encoding":
            facts.chunked = True
        elif low == b"connection":
            facts.extra_hop = facts.extra_hop | _connection_tokens(value)
        elif low == b"upgrade":
            facts.upgrade = value
    return facts


def build_response_head(
    status: int, reason: bytes, headers: Headers, facts: ResponseFacts, framing: bytes
) -> bytes:
    """The head sent to the client; ``framing`` holds the lines the proxy decides
    (Transfer-Encoding, Connection, Upgrade). Content-Length passes unless chunked."""
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    extra = facts.extra_hop
    keep_length = not facts.chunked
    for name, value in headers:
        low = name.lower()
        if low == b"content-length":
            if not keep_length:
                continue
        elif low in HOP_BY_HOP or low.startswith(b"proxy-") or (extra and low in extra):
            continue
        parts += (name, b": ", value, b"\r\n")
    parts += (framing, b"\r\n")
    return b"".join(parts)
