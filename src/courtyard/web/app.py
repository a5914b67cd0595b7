"""The control plane: an aiohttp app the proxy forwards every non-server request to."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from courtyard.api import hub as hub_api
from courtyard.api.context import API
from courtyard.auth import csrf
from courtyard.auth.tokens import token_from_header
from courtyard.errors import CourtyardError
from courtyard.store import UNREACHABLE, store_unavailable
from courtyard.web import (
    account,
    admin_actions,
    fallback,
    home,
    login,
    oauth,
    sharing,
    spawnform,
)
from courtyard.web.context import (
    CONTEXT,
    WebContext,
    error_page,
    error_text,
    form_token_valid,
    language,
)
from courtyard.web.i18n import N_, translator
from courtyard.web.static import static_file
from courtyard.web.tokens import create_token, revoke_token, show_tokens

log = logging.getLogger("courtyard.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_FORM_BYTES = 64 * 1024
CROSS_SITE = N_("Cross-site request refused.")
AUTHORIZE = "/hub/api/oauth2/authorize"  # a page under the API's prefix (JupyterHub's URL)
CLIENT_AUTHENTICATED = frozenset({"/hub/api/oauth2/token"})  # a client secret, no cookie
FORM_STALE = N_("This form has expired. Reload the page and try again.")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status in (403, 404, 405, 413) and not (e.text or "").startswith("<"):
            return error_page(request, e.status, e.reason)
        raise
    except CourtyardError as e:
        log.warning("%s %s: %s", request.method, request.path, e.message)
        return error_page(request, e.http_status, error_text(request, e))
    except UNREACHABLE as e:  # the disk under the state dir is full, PostgreSQL restarting
        trouble = store_unavailable(e)
        return error_page(request, trouble.http_status, error_text(request, trouble))


@web.middleware
async def check_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every form POST carries the page's token; API writes must come from our own origin.

    A form with neither ``Origin`` nor ``Sec-Fetch-Site`` (a script) passes on its token alone;
    a cross-site one is refused whatever it carries.
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path in CLIENT_AUTHENTICATED:
        return await handler(request)
    if token_from_header(request.headers.get("Authorization")):
        return await handler(request)  # a token is no ambient credential: no CSRF to fear
    api = request.path.startswith("/hub/api/") and request.path != AUTHORIZE
    if csrf.cross_site(request.headers) or (api and not csrf.same_origin(request.headers)):
        return error_page(request, 403, translator(language(request)).gettext(CROSS_SITE))
    if api:
        return await handler(request)
    form = await request.post()
    if not form_token_valid(request, str(form.get("_xsrf", ""))):
        return error_page(request, 403, translator(language(request)).gettext(FORM_STALE))
    return await handler(request)


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def build_control_app(context: WebContext, api: web.Application) -> web.Application:
    """The control plane, with the REST API (api/app.py) under /hub/api."""
    app = web.Application(middlewares=[errors, check_csrf], client_max_size=MAX_FORM_BYTES)
    app[CONTEXT] = context
    mount_api(app, api)
    app.add_routes(
        [
            web.get("/", home.root),
            web.get("/hub", home.root),
            web.get("/hub/", home.root),
            web.get("/hub/login", login.login_page),
            web.post("/hub/login", login.login_submit),
            web.post("/hub/logout", login.logout),
            web.get("/hub/home", home.home),
            web.get("/hub/spawn", spawnform.spawn_form),
            web.post("/hub/spawn", home.spawn),
            web.get("/hub/spawn-pending", home.spawn_pending),
            web.get("/hub/spawn/{name}/{server}", home.spawn_named_form),
            web.post("/hub/spawn/{name}/{server}", home.spawn),
            web.get("/hub/spawn-pending/{name}/{server}", home.spawn_pending),
            web.post("/hub/stop", home.stop),
            web.post("/hub/delete-server", home.delete_server),
            web.get("/hub/language", home.set_language),
            web.get("/hub/health", health),
            web.get("/hub/static/{file}", static_file),
            web.route("*", "/user/{name}", fallback.user_path),
            web.route("*", "/user/{name}/{tail:.*}", fallback.user_path),
        ]
    )
    admin_actions.add_routes(app)
    account.add_routes(app)
    sharing.add_routes(app)
    return app


def mount_api(app: web.Application, api: web.Application) -> None:
    app[API] = api[API]
    app.router.add_get("/hub/api", hub_api.root)  # JupyterHub's r"/api/?" (before the subapp)
    app.router.add_get(AUTHORIZE, oauth.authorize_page)  # pages, also before the subapp
    app.router.add_post(AUTHORIZE, oauth.authorize_submit)
    app.add_subapp("/hub/api", api)
    app.router.add_get("/hub/metrics", hub_api.metrics)
    app.router.add_get("/hub/token", show_tokens)
    app.router.add_post("/hub/token", create_token)
    app.router.add_post("/hub/token/revoke", revoke_token)
