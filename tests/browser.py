"""Driving Debian's Chromium with Playwright: one launch configuration and one login."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

CHROMIUM = os.environ.get("COURTYARD_TEST_CHROMIUM", "/usr/bin/chromium")
# Headless on a machine with no network but loopback: nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = Path(os.environ.get("COURTYARD_TEST_SHOTS", "/tmp"))


async def log_in(page: Page, hub_url: str, name: str, password: str) -> None:
    """Fill and submit the hub's login form as a person would."""
    await page.goto(hub_url + "/hub/login")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
