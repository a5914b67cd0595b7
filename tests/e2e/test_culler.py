"""The idle culler on real servers, real Unix users and a real browser, with short timeouts.

Two hubs run at once, every scenario in parallel (each with its own user), so the whole
module takes about as long as its slowest scenario:

hub A (timeout 20 s, checked every 2 s, warning 10 s ahead, one admin):
  1. a silent ``time.sleep`` longer than the timeout, no browser: kept while busy, culled after;
  2. JupyterLab open in Chromium, nobody touching it: culled;
  3. someone executing a cell every few seconds: never culled;
  4. an idle admin: spared;
  5. the home page warns before the cull, and "Keep my server" resets the clock.
hub B (max_age 25 s, timeout one hour, admins culled too):
  4. a user executing cells is culled at max_age, and so is the admin.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from playwright.async_api import async_playwright, expect

from tests.browser import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.conftest import UnixUser, ensure_unix_user
from tests.e2e.conftest import stop_user_servers
from tests.hubclient import HubClient, execute_request
from tests.hubprocess import HubProcess

pytestmark = [pytest.mark.root, pytest.mark.browser]
TIMEOUT = 20
SLEEP = 35  # the silent cell: longer than the timeout
EXTRA = {f"c{i}": UnixUser(f"cycull{i}", f"Cull-pw-{i}-8r2w") for i in range(1, 6)}


@pytest.fixture(scope="module")
def people(alice: UnixUser, bob: UnixUser) -> dict[str, UnixUser]:
    for user in EXTRA.values():
        ensure_unix_user(user)
    return {"alice": alice, "bob": bob, **EXTRA}


def config(users: list[UnixUser], admin: UnixUser, culler: str) -> str:
    names = ", ".join(f'"{u.name}"' for u in users)
    return (
        f'auth = "system"\nallowed_users = [{names}]\nadmin_users = ["{admin.name}"]\n'
        f'python = "{sys.executable}"\nstart_timeout = 90\nstop_grace = 3\n[culler]\n{culler}'
    )


@pytest.fixture(scope="module")
def hubs(people: dict[str, UnixUser]) -> Iterator[tuple[HubProcess, HubProcess]]:
    root = Path(tempfile.mkdtemp(prefix="cy", dir="/tmp"))
    root.chmod(0o755)
    p = people
    hub_a = HubProcess(
        root / "a",
        config(
            [p["alice"], p["bob"], p["c1"], p["c2"], p["c3"]],
            p["c3"],
            f"timeout = {TIMEOUT}\nevery = 2\nwarn_before = 10\n",
        ),
    )
    hub_b = HubProcess(
        root / "b",
        config(
            [p["c4"], p["c5"]],
            p["c5"],
            "timeout = 3600\nevery = 2\nmax_age = 25\nwarn_before = 0\ncull_admin_servers = true\n",
        ),
    )
    try:
        hub_a.start()
        hub_b.start()
        yield hub_a, hub_b
    finally:
        hub_a.stop()
        hub_b.stop()
        for hub in (hub_a, hub_b):  # a failed scenario must not leave servers (and kernels)
            stop_user_servers(hub.state_dir)  # loading the machine for the tests after it
        shutil.rmtree(root, ignore_errors=True)


def culled(hub: HubProcess, user: UnixUser) -> str | None:
    pattern = re.compile(rf"culling {user.name}'s server")
    return next((line for line in list(hub.output) if pattern.search(line)), None)


async def wait_culled(hub: HubProcess, user: UnixUser, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = culled(hub, user)
        if line is not None:
            return line
        await asyncio.sleep(0.5)
    raise AssertionError(f"{user.name} was not culled:\n" + "\n".join(hub.output[-30:]))


async def until(seconds_from: float, seconds: float) -> None:
    """Sleep until ``seconds`` after the monotonic time ``seconds_from``."""
    await asyncio.sleep(max(0.0, seconds_from + seconds - time.monotonic()))


async def started(hub: HubProcess, user: UnixUser) -> HubClient:
    client = HubClient(hub.url)
    await client.login(user.name, user.password)
    await client.post_form("/hub/spawn", {})
    await client.wait_until_ready(user.name)
    return client


async def run_silently(client: HubClient, user: str, kernel_id: str, code: str) -> None:
    """Send one execute_request, see the kernel go busy, and hang up (no browser stays)."""
    async with client.kernel_channels(user, kernel_id) as ws:
        await ws.send(json.dumps(execute_request(uuid.uuid4().hex, code)))
        async for raw in ws:
            msg = json.loads(raw)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "busy":
                return


async def kernel_ready(client: HubClient, user: str, kernel_id: str) -> None:
    """Wait for a new kernel to answer, reloading JupyterLab meanwhile as a person would.

    jupyter_server upgrades a kernel's channels WebSocket only once the kernel replied to
    kernel_info; on a loaded two-core machine that can take longer than TIMEOUT, and a
    kernel starting is not activity (only the request that asked for it was)."""

    async def connect() -> None:
        async with client.kernel_channels(user, kernel_id):
            pass

    task = asyncio.create_task(connect())
    while not task.done():
        await client.get(f"/user/{user}/lab")
        await asyncio.wait({task}, timeout=3)
    task.result()


async def busy_kernel_is_kept_then_culled(hub: HubProcess, user: UnixUser) -> None:
    async with await started(hub, user) as client:
        kernel = await client.start_kernel(user.name)
        await kernel_ready(client, user.name, kernel)
        await run_silently(client, user.name, kernel, f"import time; time.sleep({SLEEP})")
        t0 = time.monotonic()
    await until(t0, SLEEP - 1)
    assert culled(hub, user) is None, "culled while its kernel was busy"
    line = await wait_culled(hub, user, TIMEOUT + 20)
    assert "idle" in line
    assert "busy kernel" in line
    assert time.monotonic() - t0 >= SLEEP + TIMEOUT - 5


async def open_tab_is_culled(hub: HubProcess, user: UnixUser) -> None:
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await log_in(page, hub.url, user.name, user.password)
            await page.wait_for_url(f"**/user/{user.name}/lab**", timeout=90_000)
            await expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=60_000)
            t0 = time.monotonic()
            line = await wait_culled(hub, user, TIMEOUT + 40)
            assert "idle" in line
            assert time.monotonic() - t0 >= TIMEOUT - 10  # since the page load, not at once
        finally:
            await browser.close()


async def keen_user_is_never_culled(hub: HubProcess, user: UnixUser) -> None:
    async with await started(hub, user) as client:
        kernel = await client.start_kernel(user.name)
        await kernel_ready(client, user.name, kernel)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.5 * TIMEOUT:
            assert await client.execute(user.name, kernel, "6*7") == "42"
            await asyncio.sleep(4)
        assert culled(hub, user) is None
        await client.post_form("/hub/stop", {})


async def admin_is_spared(hub: HubProcess, user: UnixUser) -> None:
    async with await started(hub, user) as client:
        await asyncio.sleep(2.5 * TIMEOUT)
        assert culled(hub, user) is None
        _, text, _ = await client.get("/hub/home")
        assert 'id="cull-warning"' not in text
        await client.post_form("/hub/stop", {})


async def warning_then_keep(hub: HubProcess, user: UnixUser) -> None:
    async with await started(hub, user) as client:
        t0 = time.monotonic()
        while True:
            _, text, _ = await client.get("/hub/home")
            if 'id="cull-warning"' in text:
                break
            assert culled(hub, user) is None, "culled without a warning first"
            assert time.monotonic() - t0 < TIMEOUT + 10, "no warning appeared"
            await asyncio.sleep(0.5)
        assert "for inactivity" in text
        assert time.monotonic() - t0 >= 5  # 10 s ahead of a 20 s timeout, not at once
        kept = await client.post_form("/hub/keep-server", {})
        assert kept.status == 302
        t_keep = time.monotonic()
        _, text, _ = await client.get("/hub/home")
        assert 'id="cull-warning"' not in text
        await until(t0, TIMEOUT + 4)  # past the cull the warning announced
        assert culled(hub, user) is None, "culled despite 'Keep my server'"
        line = await wait_culled(hub, user, TIMEOUT + 15)
        assert "keep my server" in line
        assert time.monotonic() - t_keep >= TIMEOUT - 3


async def max_age_culls_an_active_user(hub: HubProcess, user: UnixUser) -> None:
    async with await started(hub, user) as client:
        kernel = await client.start_kernel(user.name)
        t0 = time.monotonic()
        while culled(hub, user) is None:
            assert time.monotonic() - t0 < 60, "max_age did not cull"
            try:
                await client.execute(user.name, kernel, "1")
            except websockets.WebSocketException:  # the cull cut it short or came first
                await wait_culled(hub, user, 5)
            await asyncio.sleep(2)
        assert "max_age" in (culled(hub, user) or "")


async def max_age_culls_admins_when_configured(hub: HubProcess, user: UnixUser) -> None:
    async with await started(hub, user):
        line = await wait_culled(hub, user, 60)
        assert "max_age" in line


async def test_culler_scenarios_on_real_servers(
    hubs: tuple[HubProcess, HubProcess], people: dict[str, UnixUser]
) -> None:
    hub_a, hub_b = hubs
    p = people
    await asyncio.gather(
        busy_kernel_is_kept_then_culled(hub_a, p["alice"]),
        open_tab_is_culled(hub_a, p["bob"]),
        keen_user_is_never_culled(hub_a, p["c1"]),
        warning_then_keep(hub_a, p["c2"]),
        admin_is_spared(hub_a, p["c3"]),
        max_age_culls_an_active_user(hub_b, p["c4"]),
        max_age_culls_admins_when_configured(hub_b, p["c5"]),
    )
