"""Languages of the hub's pages: which one a request gets, and the translation of each message.

Catalogs are JSON files in ``web/locale/<lang>.json`` mapping an English message id to its
translation; English is the source language and needs no catalog. A plural message
(``ngettext``) is keyed by its singular id. Chinese has a single plural form, so one string
serves every ``n``; a language with more forms would need a plural rule here.

Messages that Python code (the handlers) shows on a page are marked with :func:`N_` where they
are defined and translated with ``translator(lang).gettext(...)`` where they are shown, so that
the catalog tests find every one of them. Errors (CourtyardError) carry a marked template and
its params, wherever in Courtyard they are raised: ``translator(lang).error(exc)`` shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from courtyard.errors import N_ as N_
from courtyard.errors import CourtyardError

LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}

SOURCE_LANGUAGE = "en"

# Accept-Language tags (lower case, "-" separated) that select Simplified Chinese.
_SIMPLIFIED_CHINESE = ("zh", "zh-cn", "zh-sg", "zh-hans")

_MAX_HEADER = 1024  # longer Accept-Language headers are cut; nobody needs more


# Messages the handlers put on pages (defined here so the catalog and its tests see them).
LOGIN_FAILED = N_("Invalid username or password.")
SESSION_EXPIRED = N_("Your session has expired. Please log in again.")
SERVER_STOPPING = N_("Your server is stopping.")
SERVER_ALREADY_RUNNING = N_("Your server is already running.")
FORM_EXPIRED = N_("The form has expired. Please try again.")


@dataclass(frozen=True)
class Translator:
    """Translates messages into one language; unknown messages stay in English."""

    lang: str
    catalog: dict[str, str] = field(default_factory=dict)

    def gettext(self, message: str) -> str:
        return self.catalog.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        translated = self.catalog.get(singular)
        if translated:
            return translated
        return singular if n == 1 else plural

    def error(self, exc: CourtyardError) -> str:
        """The error's message in this language: its translated template with its params
        (the English message if a translation does not fit the params)."""
        translated = self.gettext(exc.template)
        if not exc.params:
            return translated
        try:
            return translated.format(**exc.params)
        except (KeyError, IndexError, ValueError):
            return exc.message


def load_catalog(lang: str) -> dict[str, str]:
    """The catalog of *lang* as shipped with the package (empty for English)."""
    if lang == SOURCE_LANGUAGE:
        return {}
    path = resources.files("courtyard.web").joinpath("locale").joinpath(f"{lang}.json")
    text = path.read_text("utf-8")
    catalog = json.loads(text)
    if not isinstance(catalog, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in catalog.items()
    ):
        raise ValueError(f"translation catalog for {lang!r} must map strings to strings")
    return catalog


@cache
def translator(lang: str) -> Translator:
    """The translator for *lang*, one of :data:`LANGUAGES`."""
    if lang not in LANGUAGES:
        raise KeyError(f"no translations for language {lang!r}; known: {sorted(LANGUAGES)}")
    return Translator(lang, load_catalog(lang))


def pick_language(accept_language: str | None, cookie_value: str | None, default: str) -> str:
    """The cookie's language if valid, else the browser's best match, else *default*."""
    if cookie_value in LANGUAGES:
        return cookie_value
    for tag in _ranked_tags(accept_language or ""):
        if tag == "*":
            return default
        lang = _language_of(tag)
        if lang:
            return lang
    return default


def _language_of(tag: str) -> str | None:
    """The language of ours that an Accept-Language tag asks for, if any."""
    if tag == "en" or tag.startswith("en-"):
        return "en"
    if tag in _SIMPLIFIED_CHINESE or tag.startswith("zh-hans-"):
        return "zh_CN"
    return None


def _ranked_tags(header: str) -> list[str]:
    """Language tags of an Accept-Language header, best first, leaving out q=0 and bad entries."""
    weighted: list[tuple[float, str]] = []
    for entry in header[:_MAX_HEADER].split(","):
        tag, _, params = entry.partition(";")
        tag = tag.strip().lower().replace("_", "-")
        quality = _quality(params)
        if tag and quality > 0:
            weighted.append((quality, tag))
    weighted.sort(key=lambda item: -item[0])  # stable: header order breaks ties
    return [tag for _, tag in weighted]


def _quality(params: str) -> float:
    """The q value of ``;q=0.8`` parameters; 1 when absent, 0 when malformed."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        try:
            quality = float(value.strip())
        except ValueError:
            return 0.0
        return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
