"""Rendering the hub's pages: one Jinja2 environment per language, autoescaped.

Every page gets the common context ``lang``, ``languages``, ``user`` (None or an object with
``.name`` and ``.admin``), ``csrf_token``, ``version``, ``request_path`` and ``messages`` (short
notices shown under the header). :meth:`PageRenderer.render` fills ``lang``, ``languages``,
``version`` and ``messages`` itself; a missing variable is an error (StrictUndefined), not a
silently empty page.

Templates can call ``static_url("style.css")`` (a URL with a content hash, so a new release is
never served from a stale cache) and the filters ``iso_time`` / ``utc_time`` for datetimes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import resources
from typing import Any

import jinja2

from courtyard import __version__
from courtyard.web.i18n import LANGUAGES, translator

STATIC_PREFIX = "/hub/static/"


def iso_time(value: datetime) -> str:
    """*value* as an ISO 8601 UTC timestamp (naive datetimes are taken as UTC)."""
    return _as_utc(value).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_time(value: datetime) -> str:
    """*value* for people: ``2024-05-01 12:30 UTC`` (the page's script shows local time)."""
    return _as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def static_hashes() -> dict[str, str]:
    """Short content hashes of the files in ``web/static``, by file name."""
    folder = resources.files("courtyard.web").joinpath("static")
    return {
        item.name: hashlib.sha256(item.read_bytes()).hexdigest()[:12]
        for item in folder.iterdir()
        if item.is_file()
    }


class PageRenderer:
    """Renders a page template in a language."""

    def __init__(self, *, static_prefix: str = STATIC_PREFIX) -> None:
        hashes = static_hashes()

        def static_url(name: str) -> str:
            if name not in hashes:
                raise KeyError(f"no static file {name!r} in courtyard/web/static")
            return f"{static_prefix}{name}?v={hashes[name]}"

        self._environments = {lang: build_environment(lang, static_url) for lang in LANGUAGES}

    def render(self, template: str, lang: str, **context: Any) -> str:
        """The HTML of *template* (``"login.html"``) in *lang*, one of ``LANGUAGES``."""
        environment = self._environments[lang]
        context.setdefault("version", __version__)
        context.setdefault("messages", ())
        return environment.get_template(template).render(lang=lang, languages=LANGUAGES, **context)


def build_environment(lang: str, static_url: Callable[[str], str]) -> jinja2.Environment:
    """The template environment for *lang* (tests use it to extract the messages)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("courtyard.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.policies["ext.i18n.trimmed"] = True
    strings = translator(lang)
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        strings.gettext, strings.ngettext, newstyle=True
    )
    environment.globals["static_url"] = static_url
    environment.filters["iso_time"] = iso_time
    environment.filters["utc_time"] = utc_time
    return environment
