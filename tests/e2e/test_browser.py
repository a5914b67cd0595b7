"""A real person in a real browser: log in, watch the start, use JupyterLab through the hub."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from tests.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS
from tests.conftest import UnixUser
from tests.hubprocess import HubProcess

pytestmark = [pytest.mark.root, pytest.mark.browser]


async def test_chromium_logs_in_and_runs_a_cell_in_jupyterlab(
    hub: HubProcess, alice: UnixUser, tmp_path: Path
) -> None:
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(hub.url + "/")
            await page.fill("input[name=username]", alice.name)
            await page.fill("input[name=password]", alice.password)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"**/user/{alice.name}/lab**", timeout=90_000)
            # a fresh workspace, whatever earlier tests left open in alice's home
            await page.goto(f"{hub.url}/user/{alice.name}/lab?reset")
            await expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=60_000)
            await page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
            idle = page.get_by_text("Python 3 (ipykernel) | Idle")
            await expect(idle).to_be_visible(timeout=60_000)
            cell = page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first
            await cell.click()
            await page.keyboard.type("6*7")
            await page.keyboard.press("Shift+Enter")
            output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output").first
            try:
                await expect(output).to_have_text("42", timeout=60_000)
                # no "get Jupyter news?" toast on a hub (docs/architecture.md)
                await expect(page.get_by_text("Jupyter news")).to_have_count(0)
            finally:
                await page.screenshot(path=str(SHOTS / "jupyterlab.png"))
        finally:
            await browser.close()
