"""The cull warning inside JupyterLab (singleuser/labextension/, source in labextension/):
a tab left open sees a notification before the cull, "Keep my server" resets the clock and
hides it, and the next deadline is announced again.

One hub (timeout 40 s, warning 30 s ahead, checked every 2 s), one real user, headless
Chromium. The notification appearing at all also shows that the extension's polling of the
hub is not activity: it asks every few seconds, well inside the timeout.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from tests.browser import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.conftest import UnixUser, ensure_unix_user
from tests.hubprocess import HubProcess

pytestmark = [pytest.mark.root, pytest.mark.browser]
TIMEOUT = 40
WARN_BEFORE = 30
USER = UnixUser("cylabwarn", "Lab-warn-pw-3k9q")


@pytest.fixture(scope="module")
def warn_hub() -> Iterator[HubProcess]:
    ensure_unix_user(USER)
    root = Path(tempfile.mkdtemp(prefix="cy", dir="/tmp"))
    root.chmod(0o755)
    config = (
        f'auth = "system"\nallowed_users = ["{USER.name}"]\npython = "{sys.executable}"\n'
        f"start_timeout = 90\nstop_grace = 3\n"
        f"[culler]\ntimeout = {TIMEOUT}\nevery = 2\nwarn_before = {WARN_BEFORE}\n"
    )
    hub = HubProcess(root / "state", config)
    try:
        yield hub.start()
    finally:
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)


def logged(hub: HubProcess, pattern: str) -> bool:
    return any(re.search(pattern, line) for line in list(hub.output))


async def test_jupyterlab_warns_and_keep_my_server_resets_the_clock(warn_hub: HubProcess) -> None:
    hub, culling = warn_hub, rf"culling {USER.name}'s server"
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await log_in(page, hub.url, USER.name, USER.password)
            await page.wait_for_url(f"**/user/{USER.name}/lab**", timeout=90_000)
            await page.goto(f"{hub.url}/user/{USER.name}/lab?reset")
            await expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=60_000)
            loaded = time.monotonic()  # the last activity (loading /lab) was before this

            warning = page.get_by_text("Your server will be stopped in 1 minute for inactivity")
            await expect(warning).to_be_visible(timeout=(TIMEOUT - 5) * 1000)
            assert not logged(hub, culling), "culled before the warning"
            assert time.monotonic() - loaded >= TIMEOUT - WARN_BEFORE - 5  # not at once

            await page.get_by_role("button", name="Keep my server").click()
            await expect(warning).to_be_hidden(timeout=10_000)
            deadline = time.monotonic() + 10
            while not logged(hub, rf"{USER.name} asked to keep their server"):
                assert time.monotonic() < deadline, "the hub did not hear 'Keep my server'"
                await asyncio.sleep(0.2)

            # past the cull the warning announced (and a culler pass or two after it)
            await asyncio.sleep(max(0.0, loaded + TIMEOUT + 5 - time.monotonic()))
            assert not logged(hub, culling), "culled despite 'Keep my server'"
            # the extension keeps watching: the next deadline is announced in its turn
            await expect(warning).to_be_visible(timeout=15_000)
            stopped = await page.evaluate(
                f"fetch('/hub/api/users/{USER.name}/server', {{method: 'DELETE'}})"
                ".then(r => r.status)"
            )
            assert stopped in (202, 204)
        finally:
            await browser.close()
