"""spawn.js in a real browser, against a real server sending progress events, under a strict CSP."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from importlib import resources

import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright

from courtyard.web.render import PageRenderer

pytestmark = pytest.mark.browser
RENDERER = web.AppKey("renderer", PageRenderer)
CHROMIUM = os.environ.get("COURTYARD_TEST_CHROMIUM", "/usr/bin/chromium")
CSP = "default-src 'self'"

EVENTS = {
    "ready": [
        {"progress": 10, "message": "Server requested"},
        {"progress": 50, "message": "Spawning server..."},
        {"progress": 100, "message": "Server ready", "ready": True, "url": "/user/alice/lab"},
    ],
    "failed": [
        {"progress": 10, "message": "Server requested"},
        {"progress": 100, "message": "jupyter <b>not</b> found", "failed": True},
    ],
    "hostile": [{"progress": 100, "ready": True, "url": "//evil.example/"}],
}


async def spawn_page(request: web.Request) -> web.Response:
    html = request.app[RENDERER].render(
        "spawn.html",
        "en",
        user=None,
        csrf_token="token",
        request_path=request.path_qs,
        server_name="alice",
        next_url=request.query.get("next", "/user/alice/next"),
        progress_url=f"/progress/{request.match_info['kind']}",
    )
    return web.Response(
        text=html, content_type="text/html", headers={"Content-Security-Policy": CSP}
    )


async def progress(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for event in EVENTS[request.match_info["kind"]]:
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
    return response


async def static_file(request: web.Request) -> web.Response:
    item = resources.files("courtyard.web").joinpath("static").joinpath(request.match_info["file"])
    kind = "text/javascript" if item.name.endswith(".js") else "text/css"
    return web.Response(body=item.read_bytes(), content_type=kind)


async def landing(request: web.Request) -> web.Response:
    return web.Response(text=f"landed on {request.path}")


async def no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = web.Application()
    app[RENDERER] = PageRenderer()
    app.router.add_get("/spawn/{kind}", spawn_page)
    app.router.add_get("/progress/{kind}", progress)
    app.router.add_get("/hub/static/{file}", static_file)
    app.router.add_get("/user/alice/{tail:.*}", landing)
    app.router.add_get("/hub/home", landing)
    app.router.add_get("/favicon.ico", no_icon)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def page(base_url: str) -> AsyncIterator[Page]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM!r}")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = await browser.new_page()
        problems: list[str] = []
        tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: problems.append(str(e)))
        yield tab
        await browser.close()
        assert problems == []


async def test_ready_event_leads_where_the_person_was_going(page: Page, base_url: str) -> None:
    """The ready event's url is the server's root (JupyterHub's); the page goes on to the
    next url (a notebook deep link) instead."""
    await page.goto(f"{base_url}/spawn/ready")
    await page.wait_for_url(f"{base_url}/user/alice/next", timeout=10_000)


async def test_without_a_next_url_the_ready_event_leads_to_the_server(
    page: Page, base_url: str
) -> None:
    await page.goto(f"{base_url}/spawn/ready?next=")
    await page.wait_for_url(f"{base_url}/user/alice/lab", timeout=10_000)


async def test_failed_event_shows_message_and_try_again(page: Page, base_url: str) -> None:
    await page.goto(f"{base_url}/spawn/failed")
    retry = page.get_by_role("button", name="Try again")
    await retry.wait_for(state="visible", timeout=10_000)
    error = page.locator("#spawn-error")
    assert await error.text_content() == "jupyter <b>not</b> found"
    assert await page.locator("#spawn-log li").count() == 2
    assert await page.locator("#spawn-progress").evaluate("bar => bar.value") == 100


async def test_ready_url_off_site_is_not_followed(page: Page, base_url: str) -> None:
    await page.goto(f"{base_url}/spawn/hostile?next=")
    await page.wait_for_url(f"{base_url}/hub/home", timeout=10_000)
