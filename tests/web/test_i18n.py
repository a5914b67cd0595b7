"""Language choice and the completeness of the Chinese catalog."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import courtyard
import courtyard.web
from courtyard.web.i18n import LANGUAGES, load_catalog, pick_language, translator
from courtyard.web.render import build_environment

WEB = Path(courtyard.web.__file__).parent
SOURCE = Path(courtyard.__file__).parent  # errors raised anywhere may reach a page
MARKERS = {"_", "gettext", "ngettext", "N_"}


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh_CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", None, "en"),
        ("en;q=0.5, zh;q=0.9", None, "zh_CN"),
        ("zh-Hans", None, "zh_CN"),
        ("zh-Hans-CN", None, "zh_CN"),
        ("zh-SG", None, "zh_CN"),
        ("ZH_cn", None, "zh_CN"),
        ("fr-FR, en-GB;q=0.7", None, "en"),
        ("zh-CN;q=0, en;q=0.1", None, "en"),
        ("zh-TW", None, "en"),
        ("fr, de", None, "en"),
        ("*", None, "en"),
        ("zh;q=bogus, en-AU;q=0.2", None, "en"),
        (None, None, "en"),
        ("", None, "en"),
    ],
)
def test_browser_language_picks_best_match(header: str | None, cookie: None, expected: str) -> None:
    assert pick_language(header, cookie, "en") == expected


def test_cookie_beats_browser() -> None:
    assert pick_language("zh-CN", "en", "zh_CN") == "en"
    assert pick_language("en", "zh_CN", "en") == "zh_CN"


def test_invalid_cookie_is_ignored() -> None:
    assert pick_language("zh", "klingon", "en") == "zh_CN"
    assert pick_language(None, "zh-CN", "en") == "en"


def test_default_applies_when_nothing_matches() -> None:
    assert pick_language("fr", None, "zh_CN") == "zh_CN"
    assert pick_language(None, "", "zh_CN") == "zh_CN"


def test_translator_falls_back_to_english() -> None:
    chinese = translator("zh_CN")
    assert chinese.gettext("Log in") == "登录"
    assert chinese.gettext("no such message") == "no such message"
    assert translator("en").ngettext("%(num)d second", "%(num)d seconds", 2) == "%(num)d seconds"


def test_unknown_language_has_no_translator() -> None:
    with pytest.raises(KeyError, match="klingon"):
        translator("klingon")


def template_messages() -> set[str]:
    environment = build_environment("en", lambda name: name)
    found: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        for _line, _function, message in environment.extract_translations(path.read_text()):
            found.add(message if isinstance(message, str) else str(message[0]))
    return found


def python_messages() -> set[str]:
    """Messages marked in any module of src/courtyard: web handlers and error templates."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _called_name(node) in MARKERS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
    return found


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def all_messages() -> set[str]:
    return template_messages() | python_messages()


def test_messages_are_found_in_templates_and_python() -> None:
    assert "Log in" in template_messages()
    found = python_messages()
    assert "Invalid username or password." in found
    assert "user {name!r} already exists" in found  # an error template from store/
    assert "{name} cannot be a Unix account name" in " ".join(found)  # from auth/


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_message_has_a_translation(lang: str) -> None:
    catalog = load_catalog(lang)
    missing = sorted(m for m in all_messages() if not catalog.get(m, "").strip())
    assert missing == []


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_catalog_has_no_stale_entries(lang: str) -> None:
    assert sorted(set(load_catalog(lang)) - all_messages()) == []


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_translations_keep_their_placeholders(lang: str) -> None:
    catalog = load_catalog(lang)
    for message, translated in catalog.items():
        assert _placeholders(message) == _placeholders(translated), message


def _placeholders(text: str) -> list[str]:
    """``%(name)s`` (templates) and ``{name!r}`` (error templates, str.format)."""
    return sorted(re.findall(r"%\(\w+\)[sd]|\{\w+(?:![rs])?(?::[^{}]*)?\}", text))
