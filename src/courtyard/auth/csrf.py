"""Cross-site request forgery defences.

Logged in: a form's token is HMAC(secret_key, "csrf:" + session id hash) - derived, so
nothing is stored, it changes with every login, and it dies with the session.

Before login (the login form itself, against login CSRF) we use a *signed double-submit*
pair. ``new_login_nonce()`` makes a cookie value ``<random>.<issued-at>`` that the login page
sets (HttpOnly, SameSite=Lax, ``__Host-`` over HTTPS); the form carries
``login_token(secret_key, nonce)`` = HMAC(secret_key, "login:" + nonce). ``verify_login_token``
checks that the form token matches the nonce cookie the same browser sent back, and that the
nonce is younger than ``max_age``. Another site can neither read our cookie nor set a
``__Host-`` one, so it cannot build a matching pair. A signed token alone would not do: an
attacker can fetch a valid one for themselves and post it with their own credentials, logging
the victim into the attacker's account.

Cookie-authenticated API writes must pass ``same_origin(headers)``. A form POST carries its
token, which is the defence; it is refused only when the browser says it is cross-site
(``cross_site(headers)``: a foreign ``Origin`` or ``Sec-Fetch-Site``), and accepted with
neither header (curl, python-requests, older browsers), as JupyterHub does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

LOGIN_COOKIE_NAME = "courtyard-login"
SECURE_LOGIN_COOKIE_NAME = "__Host-courtyard-login"
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


def session_token(secret_key: bytes, session_id: str) -> str:
    """The form token of the session whose id (token hash) is ``session_id``."""
    return mac(secret_key, "csrf", session_id)


def verify_session_token(secret_key: bytes, session_id: str, token: str | None) -> bool:
    return equal(token, session_token(secret_key, session_id))


def new_login_nonce(now: float | None = None) -> str:
    """A fresh value for the login cookie: random part and issue time."""
    issued = int(time.time() if now is None else now)
    return f"{secrets.token_urlsafe(16)}.{issued}"


def login_token(secret_key: bytes, nonce: str) -> str:
    """The login form's token, bound to the browser's login cookie ``nonce``."""
    return mac(secret_key, "login", nonce)


def verify_login_token(
    secret_key: bytes,
    nonce: str | None,
    token: str | None,
    *,
    now: float | None = None,
    max_age: float = LOGIN_MAX_AGE,
) -> bool:
    """True if ``token`` was made for this ``nonce`` cookie, issued within ``max_age``."""
    if not nonce or len(nonce) > MAX_TOKEN_CHARS:
        return False
    _random, _dot, issued = nonce.rpartition(".")
    age = (time.time() if now is None else now) - int(issued) if issued.isdigit() else -1
    if not 0 <= age <= max_age:
        return False
    return equal(token, login_token(secret_key, nonce))


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


def cross_site(headers: Mapping[str, str]) -> bool:
    """True if the request says it comes from another site (``Sec-Fetch-Site`` other than
    same-origin/none, or an ``Origin`` that is not ours); False when it says nothing."""
    if header(headers, "Sec-Fetch-Site") is None and header(headers, "Origin") is None:
        return False
    return not same_origin(headers)


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
        if host.endswith(f":{port}"):
            return host[: -len(port) - 1]
    return host
