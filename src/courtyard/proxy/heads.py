"""Reading and rewriting message heads in one pass: framing checks, hop-by-hop and forged headers.

Header names arrive as the client sent them; every comparison is on the lower-cased name.
The client may not set anything the upstream trusts: ``X-Courtyard-*``, ``X-Real-IP``,
``X-Forwarded-*`` and ``Forwarded`` are removed and the proxy's own values are added.

Each header is looked at once, as the parser reports it: the parser callbacks put the lines
that pass straight into ``lines`` (already encoded as ``Name: value\\r\\n``) and hand the few
names that matter (``WATCHED_REQUEST`` / ``WATCHED_RESPONSE``) to ``note_request_header`` /
``note_response_header``. Only a ``Connection`` header naming further hop-by-hop headers
(rare) makes ``build_*_head`` filter the kept lines a second time.
"""

from __future__ import annotations

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
REQUEST_FACTS = frozenset({b"cookie", b"authorization", b"host", b"accept"})
WATCHED_REQUEST = HOP_BY_HOP | FORGEABLE | REQUEST_FACTS
WATCHED_RESPONSE = HOP_BY_HOP | {b"set-cookie"}
DROPPED_REQUEST_PREFIXES = (b"x-courtyard-", b"proxy-")
DROPPED_RESPONSE_PREFIX = b"proxy-"
_NEUTRAL_TOKENS = frozenset({b"close", b"keep-alive", b"upgrade"})
_EMPTY: frozenset[bytes] = frozenset()


class FramingError(ValueError):
    """The message framing is ambiguous or malformed; the connection must be closed."""


class RequestFacts:
    """What the proxy needs to know from a request head, and the header lines it forwards."""

    __slots__ = (
        "accept",
        "authorization",
        "chunked",
        "content_length",
        "cookie",
        "credentials",
        "extra_hop",
        "host",
        "lines",
        "size",
        "upgrade",
    )

    def __init__(self) -> None:
        self.cookie: bytes | None = None
        self.authorization: bytes | None = None
        self.host: bytes | None = None
        self.accept: bytes | None = None
        self.upgrade: bytes | None = None
        self.content_length: int | None = None
        self.chunked = False
        self.extra_hop = _EMPTY
        self.lines: list[bytes] = []
        self.credentials: tuple[int, ...] = ()  # where in ``lines`` Cookie/Authorization are
        self.size = 0  # of the whole head as received (names + values + separators)


def _connection_tokens(value: bytes) -> frozenset[bytes]:
    tokens = frozenset(t.strip().lower() for t in value.split(b","))
    return tokens - _NEUTRAL_TOKENS


def note_request_header(facts: RequestFacts, low: bytes, name: bytes, value: bytes) -> None:
    """One header whose lower-cased name is in ``WATCHED_REQUEST``; raises FramingError."""
    if low == b"content-length":
        if facts.content_length is not None or not value.isdigit():
            raise FramingError("duplicate or malformed Content-Length")
        facts.content_length = int(value)
    elif low == b"transfer-encoding":
        if facts.chunked or value.strip().lower() != b"chunked":
            raise FramingError("only a single 'Transfer-Encoding: chunked' is accepted")
        facts.chunked = True
    elif low == b"connection":
        facts.extra_hop = facts.extra_hop | _connection_tokens(value)
    elif low == b"upgrade":
        facts.upgrade = value
    elif low in REQUEST_FACTS:  # noted and forwarded
        if low == b"cookie":
            facts.cookie = value if facts.cookie is None else facts.cookie + b"; " + value
            facts.credentials += (len(facts.lines),)
        elif low == b"authorization":
            facts.authorization = facts.authorization or value
            facts.credentials += (len(facts.lines),)
        elif low == b"host":
            if facts.host is not None:
                raise FramingError("duplicate Host")
            facts.host = value
        else:
            facts.accept = value
        facts.lines.append(b"%b: %b\r\n" % (name, value))
    if facts.chunked and facts.content_length is not None:
        raise FramingError("Content-Length together with Transfer-Encoding")


HUB_COOKIE_PREFIXES = (b"courtyard", b"__host-courtyard", b"__secure-courtyard")  # lower-case


def is_hub_cookie(pair: bytes) -> bool:
    """Whether a ``name=value...`` pair names one of the hub's cookies (any case, with or
    without a ``__Host-`` / ``__Secure-`` prefix)."""
    return pair.lstrip().lower().startswith(HUB_COOKIE_PREFIXES)


def drop_hub_credentials(facts: RequestFacts, *, keep_authorization: bool = False) -> None:
    """Before a request goes to a user's server: remove what authenticates to the *hub*.

    A user's server runs that user's code. When an admin (or a token holder) opens it, the
    server must not see the admin's session cookie or API token, or the user could take them
    over. The server trusts the proxy's secret instead, so it needs neither: every cookie
    whose name starts with ``courtyard`` / ``__Host-courtyard`` and every Authorization header
    are dropped; the server's own cookies (``_xsrf``, ...) pass. A service
    (``keep_authorization``) gets the Authorization header: its clients call it with a token
    that it checks with the hub, as JupyterHub's services do.
    """
    if (keep_authorization or facts.authorization is None) and (
        facts.cookie is None or b"courtyard" not in facts.cookie.lower()
    ):
        return
    lines = facts.lines
    for at in facts.credentials:  # only the Cookie and Authorization lines are looked at
        name, _, value = lines[at].partition(b":")
        if name.lower() == b"authorization":
            if not keep_authorization:
                lines[at] = b""
            continue
        pairs = [p.strip() for p in value.strip().split(b";")]
        pairs = [p for p in pairs if p and not is_hub_cookie(p)]
        lines[at] = b"Cookie: " + b"; ".join(pairs) + b"\r\n" if pairs else b""


def _without(lines: list[bytes], names: frozenset[bytes]) -> list[bytes]:
    """The lines whose header name is not in ``names`` (lower-case)."""
    return [line for line in lines if line.partition(b":")[0].lower() not in names]


def build_request_head(method: bytes, url: bytes, facts: RequestFacts, injected: bytes) -> bytes:
    """The head sent upstream (always HTTP/1.1, keep-alive). ``injected`` are full lines."""
    lines = facts.lines if not facts.extra_hop else _without(facts.lines, facts.extra_hop)
    parts = [method, b" ", url, b" HTTP/1.1\r\n", *lines]
    if facts.host is None:
        parts.append(b"Host: localhost\r\n")
    if facts.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif facts.content_length is not None:
        parts.append(b"Content-Length: %d\r\n" % facts.content_length)
    if facts.upgrade is not None:
        parts += (b"Connection: Upgrade\r\nUpgrade: ", facts.upgrade, b"\r\n")
    parts += (injected, b"\r\n")
    return b"".join(parts)


class ResponseFacts:
    """A response head as the upstream sent it: reason, kept lines, framing facts."""

    __slots__ = (
        "chunked",
        "content_length",
        "extra_hop",
        "lines",
        "reason",
        "set_cookies",
        "upgrade",
    )

    def __init__(self) -> None:
        self.reason = b""
        self.content_length: bytes | None = None  # the line, passed on unless chunked
        self.chunked = False
        self.upgrade: bytes | None = None
        self.extra_hop = _EMPTY
        self.lines: list[bytes] = []
        self.set_cookies: tuple[int, ...] = ()  # where in ``lines`` the Set-Cookie lines are


def note_response_header(facts: ResponseFacts, low: bytes, name: bytes, value: bytes) -> None:
    """One header whose lower-cased name is in ``WATCHED_RESPONSE``: hop-by-hop ones are
    noted, a ``Set-Cookie`` is kept and its place remembered (see ``drop_hub_cookies``)."""
    if low == b"set-cookie":
        facts.set_cookies += (len(facts.lines),)
        facts.lines.append(b"%b: %b\r\n" % (name, value))
    elif low == b"content-length":
        facts.content_length = b"%b: %b\r\n" % (name, value)
    elif low == b"transfer-encoding":
        facts.chunked = True
    elif low == b"connection":
        facts.extra_hop = facts.extra_hop | _connection_tokens(value)
    elif low == b"upgrade":
        facts.upgrade = value


def drop_hub_cookies(facts: ResponseFacts) -> None:
    """Before a user's server's response goes to the browser: remove every ``Set-Cookie`` for
    one of the hub's cookies, so the server cannot fix, replace or delete the hub's session
    (the response-side twin of ``drop_hub_credentials``). Its own cookies pass."""
    lines = facts.lines
    for at in facts.set_cookies:  # only the Set-Cookie lines are looked at
        if is_hub_cookie(lines[at].partition(b":")[2]):
            lines[at] = b""


def build_response_head(status: int, facts: ResponseFacts, framing: bytes) -> bytes:
    """The head sent to the client; ``framing`` holds the lines the proxy decides
    (Transfer-Encoding, Connection, Upgrade). Content-Length passes unless chunked."""
    lines = facts.lines if not facts.extra_hop else _without(facts.lines, facts.extra_hop)
    length = facts.content_length if facts.content_length and not facts.chunked else b""
    status_line = b"HTTP/1.1 %d %b\r\n" % (status, facts.reason)
    return b"".join((status_line, *lines, length, framing, b"\r\n"))
