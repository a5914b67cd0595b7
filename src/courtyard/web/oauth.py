"""/hub/api/oauth2/authorize: the page where a person lets a service know who they are.

GET checks the request (auth/oauth.py), sends a visitor who is not logged in to the login
page (``next`` back here), refuses a person without ``access:services`` for that service, and
shows the scopes asked for (skipped for a service with ``oauth_no_confirm``); the page's POST
(to the same URL, with the form token) approves, with the boxes left ticked, and sends the
browser to the service's registered redirect URI with a code and the ``state`` as given.
"""

from __future__ import annotations

import logging

from aiohttp import web

from courtyard.api.context import API, ApiContext
from courtyard.auth import scopes as sc
from courtyard.auth.oauth import AuthorizeRequest, FatalClientError, RedirectedError, grantable
from courtyard.auth.principal import Principal
from courtyard.web.context import language, render
from courtyard.web.home import require_login
from courtyard.web.i18n import N_, translator

log = logging.getLogger("courtyard.oauth")
NOT_ALLOWED = N_("You do not have permission to access {client}.")
INHERIT = "Everything that the token-owning entity can access."


def checked_request(request: web.Request) -> tuple[ApiContext, Principal, AuthorizeRequest]:
    """The validated request and who is logged in; raises the page or redirect to answer."""
    context = request.app[API]
    who = require_login(request)
    try:
        asked = context.oauth.validate_authorize(request.query)
    except FatalClientError as e:
        log.warning("OAuth authorize refused: %s", e.description)
        raise web.HTTPBadRequest(
            text=page(request, 400, e.description).text, content_type="text/html"
        ) from e
    except RedirectedError as e:
        raise web.HTTPFound(e.location()) from e
    held = context.permissions.of_user(who.name)
    if "access:services" not in held and asked.client.access_scope not in held:
        message = translator(language(request)).gettext(NOT_ALLOWED)
        text = message.format(client=asked.client.description)
        raise web.HTTPForbidden(text=page(request, 403, text).text, content_type="text/html")
    return context, who, asked


def page(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", status=status, status_code=status, message=message)


def granted_scopes(context: ApiContext, who: Principal, asked: AuthorizeRequest) -> list[str]:
    held = context.permissions.of_user(who.name)

    def holds(scope: str) -> bool:
        if scope == "inherit":
            return True  # a token is cut down to what its owner holds at every use
        return not sc.exceeding(context.permissions.expand([scope], who.name, "user"), held)

    granted, withheld = grantable(asked, holds)
    if withheld:
        log.warning("%s asked for scopes %s that %s does not hold; granting only %s",
                    asked.client.description, list(withheld), who.name, list(granted))  # fmt: skip
    return list(granted)


def describe(scope: str) -> str:
    if scope == "inherit":
        return INHERIT
    base, filt = sc.split(scope)
    text = sc.SCOPES.get(base, ("", ()))[0]
    return f"{text} ({filt})" if filt else text


async def authorize_page(request: web.Request) -> web.StreamResponse:
    context, who, asked = checked_request(request)
    granted = granted_scopes(context, who, asked)
    if asked.client.no_confirm:
        raise web.HTTPFound(context.oauth.issue_code(asked, who.name, granted))
    shown = [s for s in granted if s not in asked.client.required_scopes]
    return render(
        request,
        "oauth.html",
        client=asked.client,
        scopes=[(s, describe(s)) for s in shown],
        action=request.path_qs,
    )


async def authorize_submit(request: web.Request) -> web.StreamResponse:
    """The consent form (check_csrf has checked its token): the ticked scopes, at most."""
    context, who, asked = checked_request(request)
    form = await request.post()
    ticked = {str(v) for v in form.getall("scopes", [])}
    granted = [s for s in granted_scopes(context, who, asked) if s in ticked]
    log.info("%s authorized %s (scopes %s)", who.name, asked.client.description, granted)
    raise web.HTTPFound(context.oauth.issue_code(asked, who.name, granted))
