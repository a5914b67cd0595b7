"""Every page renders in every language, escapes what users type, and suits a strict CSP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

import jinja2
import pytest

from courtyard.web.i18n import LANGUAGES
from courtyard.web.render import PageRenderer

EVIL = "<script>alert(1)</script>"
TOKEN = "csrf-token-123"


@dataclass(frozen=True)
class User:
    name: str
    admin: bool = False


@dataclass(frozen=True)
class Server:
    state: str = "stopped"
    started: datetime | None = None
    last_activity: datetime | None = None
    url: str = "/user/alice/lab"
    stop_reason: str | None = None


RUNNING = Server(
    "running",
    started=datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc),
    last_activity=datetime(2024, 5, 1, 10, 5),
)

PAGES: dict[str, dict[str, Any]] = {
    "login.html": {
        "user": None,
        "next": "/user/alice/lab",
        "username": "",
        "error": None,
        "throttled_seconds": None,
    },
    "home.html": {"server": RUNNING},
    "spawn.html": {
        "server_name": "alice",
        "next_url": "/user/alice/lab",
        "progress_url": "/hub/api/users/alice/server/progress",
    },
    "not_running.html": {"owner": "alice", "is_self": True, "next_url": "/user/alice/lab/tree"},
    "error.html": {"status": 404, "message": "No such page."},
}


@pytest.fixture(scope="module")
def renderer() -> PageRenderer:
    return PageRenderer()


def render(renderer: PageRenderer, template: str, lang: str = "en", **context: Any) -> str:
    common = {
        "user": User("alice", admin=True),
        "csrf_token": TOKEN,
        "request_path": "/hub/home",
        **PAGES[template],
        **context,
    }
    return renderer.render(template, lang, **common)


class Page(HTMLParser):
    """The parts of a page the tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "form":
            self.forms.append({"attrs": attributes, "fields": {}})
        elif tag == "input" and self.forms:
            self.forms[-1]["fields"][attributes.get("name")] = attributes.get("value")

    def with_tag(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", PAGES)
def test_page_renders_for_a_strict_csp(renderer: PageRenderer, template: str, lang: str) -> None:
    html = render(renderer, template, lang)
    page = Page(html)
    assert f'<html lang="{lang.replace("_", "-")}">' in html
    assert page.with_tag("meta")[1] == {
        "name": "viewport",
        "content": "width=device-width, initial-scale=1",
    }
    for tag, attrs in page.tags:
        assert "style" not in attrs
        assert not any(name.startswith("on") for name in attrs), tag
    assert all(
        script.get("src", "").startswith("/hub/static/") for script in page.with_tag("script")
    )
    assert "http://" not in html
    assert "https://" not in html


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", PAGES)
def test_every_form_posts_with_csrf_token(renderer: PageRenderer, template: str, lang: str) -> None:
    forms = Page(render(renderer, template, lang)).forms
    assert forms
    for form in forms:
        assert form["attrs"]["method"] == "post"
        assert form["fields"]["_xsrf"] == TOKEN


def test_chinese_pages_are_translated(renderer: PageRenderer) -> None:
    assert "登录" in render(renderer, "login.html", "zh_CN")
    assert "用户名" in render(renderer, "login.html", "zh_CN")
    home = render(renderer, "home.html", "zh_CN", server=Server())
    assert "启动我的服务器" in home
    assert "退出登录" in home
    assert "打开" in render(renderer, "home.html", "zh_CN")
    assert "服务器未运行" in render(renderer, "not_running.html", "zh_CN", is_self=False)


def test_user_input_is_escaped(renderer: PageRenderer) -> None:
    pages = [
        render(renderer, "home.html", user=User(EVIL), server=Server(stop_reason=EVIL)),
        render(renderer, "login.html", username=EVIL, error=EVIL, next=EVIL),
        render(renderer, "spawn.html", "zh_CN", user=User(EVIL), server_name=EVIL),
        render(renderer, "not_running.html", "zh_CN", owner=EVIL, is_self=False),
        render(renderer, "error.html", message=EVIL, request_path=f"/hub/{EVIL}"),
    ]
    for html in pages:
        assert EVIL not in html
        assert "&lt;script&gt;" in html


def test_header_shows_user_admin_link_and_language_switch(renderer: PageRenderer) -> None:
    html = render(renderer, "home.html", "zh_CN", request_path="/hub/home?x=1&y=2")
    assert '<span class="who"' in html
    assert 'href="/hub/admin"' in html
    assert 'href="/hub/language?lang=en&amp;next=/hub/home%3Fx%3D1%26y%3D2"' in html
    assert 'href="/hub/admin"' not in render(renderer, "home.html", user=User("bob"))


def test_anonymous_pages_have_no_user_menu(renderer: PageRenderer) -> None:
    html = render(renderer, "error.html", user=None, status=403, message="")
    assert "/hub/logout" not in html
    assert "Access denied" in html
    assert "/hub/language?lang=zh_CN" in html


def test_login_form_fields(renderer: PageRenderer) -> None:
    page = Page(render(renderer, "login.html", username="alice", next="/user/alice/lab"))
    assert page.forms[-1]["attrs"]["action"] == "/hub/login"
    assert page.forms[-1]["fields"] == {
        "_xsrf": TOKEN,
        "next": "/user/alice/lab",
        "username": "alice",
        "password": None,
    }
    autocomplete = {
        attrs["name"]: attrs["autocomplete"]
        for attrs in page.with_tag("input")
        if attrs["type"] != "hidden"
    }
    assert autocomplete == {"username": "username", "password": "current-password"}


def test_login_shows_error_or_throttle(renderer: PageRenderer) -> None:
    assert "Invalid username or password." in render(
        renderer, "login.html", error="Invalid username or password."
    )
    throttled = render(renderer, "login.html", "zh_CN", throttled_seconds=30)
    assert "请等待 30 秒后再试" in throttled
    assert "wait 1 second " in render(renderer, "login.html", throttled_seconds=1)


@pytest.mark.parametrize(
    ("state", "present", "absent"),
    [
        ("stopped", ["/hub/spawn"], ["/hub/stop", "/user/alice/lab"]),
        ("starting", ['href="/hub/spawn-pending"'], ["/hub/stop", 'action="/hub/spawn"']),
        ("running", ['href="/user/alice/lab"', "/hub/stop"], ["/hub/spawn"]),
        ("stopping", ['http-equiv="refresh"'], ["/hub/stop", "/hub/spawn"]),
    ],
)
def test_home_buttons_follow_server_state(
    renderer: PageRenderer, state: str, present: list[str], absent: list[str]
) -> None:
    html = render(renderer, "home.html", server=Server(state))
    assert all(text in html for text in present)
    assert not any(text in html for text in absent)


def test_home_shows_times_and_stop_reason(renderer: PageRenderer) -> None:
    html = render(renderer, "home.html", server=RUNNING)
    assert '<time datetime="2024-05-01T09:30:00Z" data-local>2024-05-01 09:30 UTC</time>' in html
    assert 'datetime="2024-05-01T10:05:00Z"' in html
    idle = render(renderer, "home.html", "zh_CN", server=Server(stop_reason="idle"))
    assert "因闲置时间过长已被停止" in idle
    assert "Why your server stopped: disk full" in render(
        renderer, "home.html", server=Server(stop_reason="disk full")
    )


def test_spawn_page_hands_urls_to_its_script(renderer: PageRenderer) -> None:
    page = Page(render(renderer, "spawn.html"))
    (root,) = [attrs for attrs in page.with_tag("section") if attrs.get("id") == "spawn"]
    assert root["data-progress-url"] == "/hub/api/users/alice/server/progress"
    assert root["data-next-url"] == "/user/alice/lab"
    assert root["data-msg-lost"]
    assert any(s["src"].startswith("/hub/static/spawn.js?v=") for s in page.with_tag("script"))
    assert page.forms[-1]["fields"]["next"] == "/user/alice/lab"


def test_not_running_offers_start_only_to_the_owner(renderer: PageRenderer) -> None:
    own = Page(render(renderer, "not_running.html"))
    assert own.forms[-1]["attrs"]["action"] == "/hub/spawn"
    assert own.forms[-1]["fields"]["next"] == "/user/alice/lab/tree"
    other = render(renderer, "not_running.html", user=User("bob"), owner="alice", is_self=False)
    assert "The server of alice is not running." in other
    assert "/hub/spawn" not in other


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (403, "无权访问"),
        (404, "找不到页面"),
        (500, "出错了"),
        (502, "服务器没有响应"),
        (418, "错误 418"),
    ],
)
def test_error_page_titles(renderer: PageRenderer, status: int, title: str) -> None:
    html = render(renderer, "error.html", "zh_CN", status_code=status)
    assert f"<title>{title} · Courtyard</title>" in html
    assert f"<h1>{title}</h1>" in html


def test_error_page_takes_status_or_status_code(renderer: PageRenderer) -> None:
    assert "<h1>Access denied</h1>" in render(renderer, "error.html", status=403)
    html = renderer.render("error.html", "en", user=None, csrf_token="", request_path="/")
    assert "<h1>Something went wrong</h1>" in html


def test_missing_context_is_an_error(renderer: PageRenderer) -> None:
    with pytest.raises(jinja2.UndefinedError):
        renderer.render("home.html", "en", user=None, csrf_token="", request_path="/hub/home")
