"""Sharing in Chromium: cyalice shares her running server from her home page; cybob, in his
own browser (logged in once already, so the hub knows him), finds it under "Shared with me"
and opens JupyterLab in it; alice revokes and bob's next request is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS
from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config, stop_user_servers
from tests.e2e.test_sharing import ROLES
from tests.hubprocess import HubProcess

pytestmark = [pytest.mark.root, pytest.mark.browser]


@pytest.fixture
def sharing_hub(state_dir: Path, alice: UnixUser, bob: UnixUser) -> Iterator[HubProcess]:
    process = HubProcess(state_dir, hub_config(alice.name, bob.name) + ROLES).start()
    yield process
    process.stop()
    stop_user_servers(state_dir)


async def logged_in(
    browser: Browser, hub: HubProcess, who: UnixUser, then: str, after: str
) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{hub.url}/hub/login?next={then}")
    await page.fill("input[name=username]", who.name)
    await page.fill("input[name=password]", who.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(after, timeout=90_000)
    return page


async def test_alice_shares_in_her_browser_and_bob_opens_it_in_his(
    sharing_hub: HubProcess, alice: UnixUser, bob: UnixUser
) -> None:
    hub = sharing_hub
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            b = await logged_in(browser, hub, bob, "/hub/home", "**/hub/home**")
            await expect(b.locator("#shared-with-me")).to_have_count(0)
            # her server starts on login; JupyterLab is where she lands
            a = await logged_in(browser, hub, alice, "", f"**/user/{alice.name}/lab**")
            await a.goto(f"{hub.url}/hub/home")
            sharing = a.locator("#sharing")
            await expect(sharing.get_by_text("Nobody else has access.")).to_be_visible()
            await sharing.locator(".share-form input[name=name]").fill(bob.name)
            await sharing.locator(".share-form button[type=submit]").click()
            await expect(a.locator(f'#sharing tr[data-share="{bob.name}"]')).to_be_visible()

            await b.reload()
            shared = b.locator(f'#shared-with-me tr[data-owner="{alice.name}"]')
            await expect(shared).to_be_visible()
            await shared.get_by_role("link").click()
            await b.wait_for_url(f"**/user/{alice.name}/lab**", timeout=60_000)
            # a fresh workspace, whatever earlier tests left open in alice's JupyterLab
            await b.goto(f"{hub.url}/user/{alice.name}/lab?reset")
            await expect(b.locator(".jp-LauncherCard").first).to_be_visible(timeout=60_000)
            await b.screenshot(path=str(SHOTS / "shared-jupyterlab.png"))

            await a.reload()
            row = a.locator(f'#sharing tr[data-share="{bob.name}"]')
            await row.get_by_role("button").click()
            await expect(row).to_have_count(0)
            await expect(a.get_by_text("Nobody else has access.")).to_be_visible()

            answer = await b.goto(f"{hub.url}/user/{alice.name}/api/me")
            assert answer is not None
            assert answer.status == 403, answer.status
            assert f"You may not open {alice.name}'s server." in await b.content()
            await b.goto(f"{hub.url}/hub/home")
            await expect(b.locator("#shared-with-me")).to_have_count(0)
        finally:
            await browser.close()
