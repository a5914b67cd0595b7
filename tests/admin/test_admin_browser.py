"""In Chromium: an admin adds a user with a password, that user logs in (a second browser
context) and starts their server, and the admin table shows it running with its memory; with
admin_access the admin then opens it, and the hub logs that."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.async_api import async_playwright, expect

from tests.admin.conftest import random_name, start_hub
from tests.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS
from tests.conftest import UnixUser
from tests.hubprocess import HubProcess

pytestmark = [pytest.mark.root, pytest.mark.browser]


@pytest.fixture(scope="module")
def open_hub(admin_user: UnixUser) -> Iterator[HubProcess]:
    hub, root = start_hub(admin_user.name, admin_access=True)
    yield hub
    hub.stop()
    shutil.rmtree(root, ignore_errors=True)


async def test_admin_adds_a_user_who_starts_a_server_shown_with_its_memory(
    open_hub: HubProcess, admin_user: UnixUser, made_names: list[str]
) -> None:
    name, password = random_name(), "Browser-pw-8642"
    made_names.append(name)
    url = open_hub.url
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            admin = await (await browser.new_context()).new_page()
            await admin.goto(f"{url}/hub/login?next=/hub/admin")
            await admin.fill("input[name=username]", admin_user.name)
            await admin.fill("input[name=password]", admin_user.password)
            await admin.click("button[type=submit]")
            await admin.wait_for_url("**/hub/admin")
            await admin.fill("textarea[name=names]", name)
            await admin.fill("input[name=password]", password)
            await admin.click("form[action='/hub/admin/users'] button[type=submit]")
            await expect(admin.locator(f'tr[data-user="{name}"]')).to_be_visible()

            person = await (await browser.new_context()).new_page()
            await person.goto(f"{url}/hub/login")
            await person.fill("input[name=username]", name)
            await person.fill("input[name=password]", password)
            await person.click("button[type=submit]")
            await person.wait_for_url(f"**/user/{name}/lab**", timeout=90_000)

            await admin.goto(f"{url}/hub/admin?running=1")
            row = admin.locator(f'tr[data-user="{name}"]')
            await expect(row).to_have_attribute("data-state", "running")
            await expect(row.locator("td.memory")).to_have_text(re.compile(r"\d+\.\d MiB"))
            await admin.screenshot(path=str(SHOTS / "admin.png"), full_page=True)

            await row.locator("a", has_text="Open").click()
            await admin.wait_for_url(f"**/user/{name}/**", timeout=60_000)
            open_hub.wait_for_output(rf"admin {admin_user.name} opened {name}'s server")

            await admin.goto(f"{url}/hub/admin?q={name}")
            await admin.locator(f'tr[data-user="{name}"] button', has_text="Stop").click()
            await expect(admin.locator(f'tr[data-user="{name}"]')).to_have_attribute(
                "data-state", "stopped", timeout=30_000
            )
        finally:
            await browser.close()
