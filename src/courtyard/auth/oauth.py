"""The hub as an OAuth 2 provider for its services (JupyterHub's ``/hub/api/oauth2/*``).

A service with a ``url`` (or OAuth settings) is a client: its id is ``service-<name>``, its
secret the service's API token, its one redirect URI ``/services/<name>/oauth_callback``
unless set. The authorization-code grant only, as JupyterHub:

1. ``validate_authorize(params)``: the client, the redirect URI (exactly the registered one),
   ``response_type=code``, the scopes asked and an optional PKCE challenge (S256). A bad client
   or redirect URI raises ``FatalClientError`` (shown on the hub's page, never redirected);
   other faults ``RedirectedError`` (sent back to the registered URI with ``error=``).
2. ``issue_code(request, user, scopes)``: a random code, single-use, valid ``CODE_TTL``
   seconds, kept in memory (a restart of the hub drops pending logins; the service starts
   over), and the URL to send the browser to, with ``state`` passed through untouched.
3. ``redeem(...)``: the client authenticates with its secret and trades the code (once) for
   the grant; the caller makes the user's API token from it.

A token's raw scopes are what was asked, cut to what the client may ask for and the user holds,
plus what every OAuth token gets: reading its owner's name and groups and opening the service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from courtyard.auth import scopes as sc
from courtyard.config.tables import ServiceConfig

CODE_TTL = 300.0  # seconds, as JupyterHub's OAuthCode
MAX_CODES = 10_000
IDENTIFY_SCOPES = ("read:users:groups!user", "read:users:name!user")


class OAuthError(Exception):
    """An OAuth 2 error (RFC 6749 section 5.2): ``error`` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class FatalClientError(OAuthError):
    """The client or its redirect URI is wrong: tell the person, redirect nowhere."""


class RedirectedError(OAuthError):
    """Sent back to the client's registered redirect URI as ``?error=...&state=...``."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None):
        super().__init__(error, description)
        self.redirect_uri = redirect_uri
        self.state = state

    def location(self) -> str:
        return with_query(self.redirect_uri, {**self.body(), **state_param(self.state)})


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    service: str
    redirect_uri: str
    secret_hash: str  # sha256 hex of the service's API token
    allowed_scopes: tuple[str, ...] = ()
    no_confirm: bool = False

    @property
    def description(self) -> str:
        return f"Service {self.service}"

    @property
    def access_scope(self) -> str:
        return f"access:services!service={self.service}"

    @property
    def required_scopes(self) -> tuple[str, ...]:
        return (*IDENTIFY_SCOPES, self.access_scope)

    def secret_matches(self, secret: str) -> bool:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        return bool(secret) and hmac.compare_digest(digest, self.secret_hash)

    def may_ask(self, scope: str) -> bool:
        """Whether this client may ask for ``scope``: required, allowed, or a filtered form
        of an allowed scope (``read:users!user=alice`` under ``read:users``)."""
        allowed = {*self.allowed_scopes, *self.required_scopes}
        return scope in allowed or sc.split(scope)[0] in allowed or "inherit" in allowed


@dataclass(frozen=True)
class AuthorizeRequest:
    client: OAuthClient
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]  # raw, as asked (or the client's default), required ones included
    code_challenge: str = ""


@dataclass(frozen=True)
class Grant:
    """What a code stands for until it is redeemed."""

    client_id: str
    user: str
    scopes: tuple[str, ...]
    redirect_uri: str
    expires_at: float
    code_challenge: str = ""


def with_query(uri: str, params: Mapping[str, str]) -> str:
    if not params:
        return uri
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def state_param(state: str | None) -> dict[str, str]:
    return {} if state is None else {"state": state}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OAuthProvider:
    """The clients (fixed at start, from the settings) and the codes issued but not redeemed."""

    def __init__(self, clients: Iterable[OAuthClient], now: Callable[[], float] = time.time):
        self.clients = {c.client_id: c for c in clients}
        self.now = now
        self.codes: dict[str, Grant] = {}

    def client(self, client_id: str | None) -> OAuthClient:
        if not client_id:
            raise FatalClientError("invalid_request", "Missing client_id parameter.")
        found = self.clients.get(client_id)
        if found is None:
            raise FatalClientError("invalid_client", "Invalid client_id parameter value.")
        return found

    def validate_authorize(self, params: Mapping[str, str]) -> AuthorizeRequest:
        client = self.client(params.get("client_id"))
        redirect_uri = params.get("redirect_uri") or client.redirect_uri
        if redirect_uri != client.redirect_uri:
            raise FatalClientError("invalid_request", "Mismatching redirect URI.")
        state = params.get("state")
        if params.get("response_type") != "code":
            raise RedirectedError(
                "unsupported_response_type", "Only response_type=code is supported.",
                redirect_uri, state,
            )  # fmt: skip
        challenge = params.get("code_challenge", "")
        if challenge and params.get("code_challenge_method", "plain") != "S256":
            raise RedirectedError(
                "invalid_request", "Transform algorithm not supported.", redirect_uri, state
            )
        asked = requested_scopes(client, params.get("scope", ""), redirect_uri, state)
        return AuthorizeRequest(client, redirect_uri, state, asked, challenge)

    def issue_code(self, request: AuthorizeRequest, user: str, scopes: Iterable[str]) -> str:
        """A fresh code for ``user``; returns the URL to send the browser to."""
        now = self.now()
        self.drop_expired(now)
        code = secrets.token_urlsafe(32)
        self.codes[code] = Grant(
            request.client.client_id,
            user,
            tuple(sorted(set(scopes) | set(request.client.required_scopes))),
            request.redirect_uri,
            now + CODE_TTL,
            request.code_challenge,
        )
        return with_query(request.redirect_uri, {"code": code, **state_param(request.state)})

    def drop_expired(self, now: float) -> None:
        for code in [c for c, g in self.codes.items() if g.expires_at <= now]:
            del self.codes[code]
        while len(self.codes) >= MAX_CODES:
            del self.codes[next(iter(self.codes))]

    def redeem(
        self, client_id: str | None, secret: str | None, form: Mapping[str, str]
    ) -> Grant:
        """Trade a code for its grant, once; raises OAuthError (the token endpoint's answer)."""
        client = self.clients.get(client_id or "")
        if client is None or not client.secret_matches(secret or ""):
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "Only authorization_code is supported.")
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request", "Missing code parameter.")
        grant = self.codes.pop(code, None)  # single-use, whatever happens next
        if grant is None or grant.expires_at <= self.now() or grant.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid, expired or already used code.")
        if form.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri:
            raise OAuthError("invalid_request", "Mismatching redirect URI.")
        if grant.code_challenge:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(s256(verifier), grant.code_challenge):
                raise OAuthError("invalid_grant", "Code verifier mismatch.")
        return grant


def requested_scopes(
    client: OAuthClient, raw: str, redirect_uri: str, state: str | None
) -> tuple[str, ...]:
    """The scopes asked (space-separated; none: the client's allowed ones), checked."""
    asked = {s for s in raw.split() if s != "identify"} or set(client.allowed_scopes)
    bad = sc.unknown_scopes(asked - {"inherit"})
    if bad:
        raise RedirectedError("invalid_scope", f"No such scopes: {sorted(bad)[:10]}",
                              redirect_uri, state)  # fmt: skip
    refused = sorted(s for s in asked if not client.may_ask(s))
    if refused:
        raise RedirectedError("invalid_scope", f"Scopes not allowed for {client.client_id}: "
                              f"{refused[:10]}", redirect_uri, state)  # fmt: skip
    return tuple(sorted(asked | set(client.required_scopes)))


def grantable(
    request: AuthorizeRequest, holds: Callable[[str], bool]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(granted, withheld): the asked scopes the user holds (``holds(raw_scope)``), and the
    rest; the required ones are always granted."""
    required = set(request.client.required_scopes)
    granted = [s for s in request.scopes if s in required or holds(s)]
    withheld = [s for s in request.scopes if s not in granted]
    return tuple(granted), tuple(withheld)


def client_of(config: ServiceConfig, token: str, role_scopes: Iterable[str] = ()) -> OAuthClient:
    """The OAuth client of a service whose API token is ``token``; ``role_scopes`` are the
    scopes of its ``oauth_roles`` (JupyterHub 2's way to say the allowed scopes)."""
    return OAuthClient(
        client_id=config.client_id,
        service=config.name,
        redirect_uri=config.redirect_uri,
        secret_hash=hashlib.sha256(token.encode()).hexdigest(),
        allowed_scopes=tuple(sorted({*config.oauth_client_allowed_scopes, *role_scopes})),
        no_confirm=config.oauth_no_confirm,
    )
