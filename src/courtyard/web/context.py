"""What every control-plane handler needs, wired once by the app and found on the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from courtyard.auth import csrf
from courtyard.auth.authenticators import Authenticator
from courtyard.auth.principal import Gate, Principal
from courtyard.auth.sessions import SessionManager
from courtyard.auth.throttle import LoginThrottle
from courtyard.auth.tokens import token_from_header
from courtyard.config.settings import Settings
from courtyard.errors import CourtyardError
from courtyard.hub.servers import ServerManager
from courtyard.store.store import Store
from courtyard.web.i18n import LANGUAGES as LANGUAGES
from courtyard.web.i18n import pick_language, translator
from courtyard.web.render import PageRenderer

LANG_COOKIE = "courtyard-lang"


@dataclass
class WebContext:
    settings: Settings
    store: Store
    authenticator: Authenticator
    sessions: SessionManager
    gate: Gate
    throttle: LoginThrottle
    servers: ServerManager
    renderer: PageRenderer
    secret_key: bytes
    cookie_name: str
    secure_cookies: bool


CONTEXT = web.AppKey("courtyard", WebContext)


def ctx(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def principal(request: web.Request) -> Principal | None:
    """The logged-in person (session cookie, or API token) or None; cached on the request.

    With a token in ``Authorization`` the cookie is not looked at (as in api/context.py):
    check_csrf waives the form token for such requests, so a junk token must not fall back
    to the browser's ambient session."""
    if "principal" not in request:
        authorization = request.headers.get("Authorization")
        cookie = None if token_from_header(authorization) else request.headers.get("Cookie")
        request["principal"] = ctx(request).gate.identify(cookie, authorization)
    found: Principal | None = request["principal"]
    return found


def client_ip(request: web.Request) -> str:
    """The browser's address, as the proxy saw it (the control plane is only reachable
    through the proxy's unix socket, so X-Real-IP is the proxy's word, not the client's)."""
    return request.headers.get("X-Real-IP") or request.remote or "unknown"


def language(request: web.Request) -> str:
    return pick_language(
        request.headers.get("Accept-Language"),
        request.cookies.get(LANG_COOKIE),
        ctx(request).settings.language,
    )


def error_text(request: web.Request, exc: CourtyardError) -> str:
    """The error's message in the request's language (see errors.py: templates + params)."""
    return translator(language(request)).error(exc)


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    who = principal(request)
    new_nonce = None
    if who is not None and who.session_id:
        token = csrf.session_token(ctx(request).secret_key, who.session_id)
    else:  # signed double-submit: the form token is bound to a nonce cookie
        nonce = request.cookies.get(login_cookie_name(request))
        if not nonce:
            nonce = new_nonce = csrf.new_login_nonce()
        token = csrf.login_token(ctx(request).secret_key, nonce)
    body = ctx(request).renderer.render(
        template,
        language(request),
        user=who,
        csrf_token=token,
        request_path=request.path_qs,
        choose_profile=bool(ctx(request).settings.offered_profiles(who.name if who else None)),
        **context,
    )
    response = web.Response(text=body, status=status, content_type="text/html")
    if new_nonce is not None:
        response.set_cookie(
            login_cookie_name(request),
            new_nonce,
            path="/" if ctx(request).secure_cookies else "/hub/",  # __Host- demands Path=/
            httponly=True,
            samesite="Lax",
            secure=ctx(request).secure_cookies,
        )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    if wants_json(request) or request.path.startswith("/hub/api/"):
        return web.json_response({"status": status, "message": message}, status=status)
    return render(request, "error.html", status=status, status_code=status, message=message)


def login_cookie_name(request: web.Request) -> str:
    secure = ctx(request).secure_cookies
    return csrf.SECURE_LOGIN_COOKIE_NAME if secure else csrf.LOGIN_COOKIE_NAME


def form_token_valid(request: web.Request, token: str) -> bool:
    """The form's _xsrf matches this session (or, before login, this browser's nonce)."""
    who = principal(request)
    secret = ctx(request).secret_key
    if who is not None and who.session_id:
        return csrf.verify_session_token(secret, who.session_id, token)
    nonce = request.cookies.get(login_cookie_name(request))
    return bool(nonce) and csrf.verify_login_token(secret, nonce, token)
