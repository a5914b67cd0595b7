"""What /user/<name>/... answers when the proxy did not forward it to a server.

The proxy forwards to the control plane whenever it cannot route: nobody logged in, another
user's server, or no server running. Each gets its own answer here.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from courtyard.web.context import ctx, error_page, principal, render, wants_json


async def user_path(request: web.Request) -> web.StreamResponse:
    owner = request.match_info["name"]
    who = principal(request)
    if who is None:
        if wants_json(request) or is_api(request):
            return refusal(request, "Not authenticated.")
        raise web.HTTPFound(f"/hub/login?next={quote(request.path_qs)}")
    server = named_server_in(request, owner)
    if not who.may_access_server(owner, server):
        return refusal(request, f"You may not open {owner}'s server.")
    if ctx(request).servers.routes.lookup(owner, server or None) is not None:
        # routed but the proxy refused: the route appeared between its check and ours
        raise web.HTTPFound(request.path_qs)
    what = f"{owner}'s server {server!r}" if server else f"{owner}'s server"
    if wants_json(request) or is_api(request, server):
        return web.json_response({"status": 424, "message": f"{what} is not running."}, status=424)
    return render(
        request,
        "not_running.html",
        status=424 if request.method != "GET" else 200,
        owner=owner,
        server=server,
        is_self=owner == who.name,
        next_url=request.path_qs,
    )


def named_server_in(request: web.Request, owner: str) -> str:
    """The named server a /user/<owner>/<server>/... path is for ("" for the default)."""
    segment = request.match_info.get("tail", "").split("/", 1)[0]
    if not segment or ctx(request).store.get_server(owner, segment) is None:
        return ""
    return segment


def refusal(request: web.Request, message: str) -> web.Response:
    """403: as JSON for the server's API (a script holding a token), a page otherwise."""
    if is_api(request):
        return web.json_response({"status": 403, "message": message}, status=403)
    return error_page(request, 403, message)


def is_api(request: web.Request, server: str = "") -> bool:
    parts = request.path.split("/")
    at = 4 if server else 3
    return len(parts) > at and parts[at] == "api"
