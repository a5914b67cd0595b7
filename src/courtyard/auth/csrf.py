"""Cross-site request forgery defences.

Logged in: a form's token is HMAC(secret_key, "csrf:" + session id hash) - derived, so
nothing is stored, it changes with every login, and it dies with the session.

Before login (the login form itself, against login CSRF): a *signed double-submit* pair.
``issue_login()`` returns a cookie value ``<nonce>.<issued-at>`` and a form token
HMAC(secret_key, "login:" + cookie value). ``verify_login`` checks that the form token
matches the cookie the same browser sent back and that it is younger than
``login_max_age``. Another site can neither read our cookie nor set a ``__Host-`` one, so it
cannot build a matching pair; a plain signed token without the cookie would not be enough
(an attacker could fetch one for themselves).

Cookie-authenticated state changes also pass ``same_origin(headers)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

LOGIN_MAX_AGE = 2 * 3600.0
MAX_TOKEN_CHARS = 128
DEFAULT_PORTS = {"http": "80", "https": "443"}


def mac(secret_key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(secret_key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def equal(given: str | None, expected: str) -> bool:
    if not given or len(given) > MAX_TOKEN_CHARS:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class CsrfTokens:
    def __init__(
        self,
        secret_key: bytes,
        now: Callable[[], float] = time.time,
        login_max_age: float = LOGIN_MAX_AGE,
    ) -> None:
        self.secret_key = secret_key
        self.now = now
        self.login_max_age = login_max_age

    def for_session(self, session_id: str) -> str:
        """The form token of the session whose id (token hash) is ``session_id``."""
        return mac(self.secret_key, "csrf", session_id)

    def verify_session(self, session_id: str, token: str | None) -> bool:
        return equal(token, self.for_session(session_id))

    def issue_login(self) -> tuple[str, str]:
        """A fresh (cookie value, form token) pair for the login form."""
        cookie = f"{secrets.token_urlsafe(16)}.{int(self.now())}"
        return cookie, mac(self.secret_key, "login", cookie)

    def verify_login(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or len(cookie) > MAX_TOKEN_CHARS:
            return False
        _nonce, _dot, issued = cookie.rpartition(".")
        if not issued.isdigit() or not 0 <= self.now() - int(issued) <= self.login_max_age:
            return False
        return equal(token, mac(self.secret_key, "login", cookie))


def header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def same_origin(headers: Mapping[str, str]) -> bool:
    """True if the request comes from our own pages.

    ``Sec-Fetch-Site`` decides when present (same-origin, or none = typed by the user);
    otherwise ``Origin`` must name the host in ``Host``. A request with neither is refused.
    """
    site = header(headers, "Sec-Fetch-Site")
    if site is not None:
        return site.strip().lower() in ("same-origin", "none")
    origin = header(headers, "Origin")
    host = header(headers, "Host")
    if not origin or not host or origin.strip() == "null":
        return False
    return origin_host(origin) == normal_host(host, None)


def origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc or parts.path not in ("", "/"):
        return None
    return normal_host(parts.netloc, parts.scheme)


def normal_host(netloc: str, scheme: str | None) -> str:
    """Lower-case host[:port], without the scheme's default port (either, if unknown)."""
    host = netloc.strip().lower()
    defaults = [DEFAULT_PORTS[scheme]] if scheme else list(DEFAULT_PORTS.values())
    for port in defaults:
        if host.endswith(f":{port}") and not host.endswith("]"):
            return host[: -len(port) - 1]
    return host
