"""The spawn form: a person picks one of the admin's profiles to start with (Slurm's resource
profiles, or the local spawner's ``[[profiles]]`` that fit what their rules allow them)."""

from __future__ import annotations

from aiohttp import web

from courtyard.auth.nexturl import safe_next
from courtyard.web.context import ctx, language, principal, render
from courtyard.web.i18n import translator


def profile_error(request: web.Request, name: str) -> str | None:
    """A translated message when ``name`` is not a profile this hub offers; None if it is."""
    who = principal(request)
    offered = ctx(request).settings.offered_profiles(who.name if who else None)
    if name == "" or any(profile.name == name for profile in offered):
        return None
    text = translator(language(request)).gettext(
        "There is no resource profile named %(name)s. Pick one from the list."
    )
    return text % {"name": repr(name[:64])}


async def spawn_form(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    if who is None:
        raise web.HTTPFound("/hub/login?next=/hub/spawn")
    profiles = ctx(request).settings.offered_profiles(who.name)
    if not profiles:
        raise web.HTTPFound("/hub/home")
    servers = ctx(request).servers
    server = servers.view(who.name)
    nxt = safe_next(request.query.get("next"), servers.url_for(who.name))
    return render(request, "spawn_form.html", profiles=profiles, server=server, next_url=nxt)
