"""The spawn form: a person picks one of the admin's resource profiles (Slurm) to start with."""

from __future__ import annotations

from aiohttp import web

from courtyard.config.settings import Settings, SlurmProfile
from courtyard.web.context import ctx, language, principal, render
from courtyard.web.i18n import translator


def offered_profiles(settings: Settings) -> list[SlurmProfile]:
    """The profiles users choose from; none unless the Slurm spawner has some."""
    return list(settings.slurm.profiles) if settings.spawner == "slurm" else []


def profile_error(request: web.Request, name: str) -> str | None:
    """A translated message when ``name`` is not a profile this hub offers; None if it is."""
    offered = offered_profiles(ctx(request).settings)
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
    profiles = offered_profiles(ctx(request).settings)
    if not profiles:
        raise web.HTTPFound("/hub/home")
    server = ctx(request).servers.view(who.name)
    return render(request, "spawn_form.html", profiles=profiles, server=server)
