"""The identity provider a user's server runs with: it trusts the hub, and nobody else.

The hub starts each server with a per-server secret in ``COURTYARD_SERVER_SECRET``; the proxy
adds that secret to every request it forwards (``X-Courtyard-Secret``) together with the name
of the person it authenticated (``X-Courtyard-User``). A request without the right secret is
unauthenticated: API calls get 403, pages redirect to the hub's login page (never to a
``/login`` page of this server, which does not exist).

XSRF protection stays on for browser requests: JupyterLab echoes its ``_xsrf`` cookie in the
``X-XSRFToken`` header, which works through a same-origin proxy. A request the proxy
authenticated with an API token rather than a cookie carries ``X-Courtyard-Auth: token`` and
is treated as token-authenticated (no XSRF check), as jupyter_server does for its own tokens.
The proxy must strip every client-sent ``X-Courtyard-*`` header.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web

from courtyard.singleuser.contract import (
    AUTH_KIND_HEADER,
    OWNER_ENV,
    SECRET_ENV,
    SECRET_HEADER,
    USER_HEADER,
)


class MissingSecretError(RuntimeError):
    """The server was started without COURTYARD_SERVER_SECRET."""


def take_secret(environ: dict[str, str] | os._Environ[str]) -> str:
    """Read the server secret and remove it, so kernels and terminals never inherit it."""
    secret = environ.pop(SECRET_ENV, "")
    if not secret:
        raise MissingSecretError(f"{SECRET_ENV} is not set; this server only runs under the hub")
    return secret


class CourtyardIdentityProvider(IdentityProvider):
    """Accept a request only when it carries the hub's secret for this server."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._secret = take_secret(os.environ).encode()
        self._owner = os.environ.get(OWNER_ENV, "")
        self.token = ""  # no jupyter token: the secret is the only credential

    def get_user(self, handler: web.RequestHandler) -> User | None:
        offered = handler.request.headers.get(SECRET_HEADER, "")
        if not offered or not hmac.compare_digest(offered.encode(), self._secret):
            return None
        if handler.request.headers.get(AUTH_KIND_HEADER, "") == "token":
            handler._token_authenticated = True  # type: ignore[attr-defined]
        name = handler.request.headers.get(USER_HEADER, "") or self._owner or "owner"
        return User(username=name)

    def get_handlers(self) -> list[tuple[str, object]]:
        return []  # no login or logout pages: the hub owns both

    @property
    def login_available(self) -> bool:
        return False

    @property
    def logout_available(self) -> bool:
        return False

    def validate_security(self, app: Any, ssl_options: dict[str, Any] | None = None) -> None:
        """Nothing to warn about: the socket is private and every request needs the secret."""
