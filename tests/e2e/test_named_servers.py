"""Named servers, each in its own environment: real hubs, real Unix users, real interpreters.

alice runs her default server in the hub's Python and a named server "torch" in a second
venv this module builds (from /usr/bin/python3, with the main venv's packages on its path
through a .pth file but without Courtyard installed: the shim provides courtyard.singleuser).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import site
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import SERVICE_TOKEN, Api, user_token
from tests.conftest import UnixUser
from tests.e2e.conftest import new_state_dir, stop_user_servers
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root

SERVICE_SCOPES = '["admin:users", "admin:servers", "tokens", "access:servers", "list:users"]'


def make_venv(path: Path, with_packages: bool) -> Path:
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    if with_packages:
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        main_site = next(p for p in site.getsitepackages() if p.endswith("site-packages"))
        (Path(purelib) / "courtyard-test-main.pth").write_text(main_site + "\n")
    return python


CONDA_ENV = "cy-test-conda"


def make_conda_env(home: Path, uid: int, gid: int) -> Path:
    """A conda-like environment of alice's own at ~/.conda/envs/<name>: an interpreter with
    ipykernel in its site-packages (a link to the main venv's), owned by her."""
    envs_dir = home / ".conda" / "envs"
    env = envs_dir / CONDA_ENV
    python = make_venv(env, with_packages=True)
    import ipykernel

    purelib = next(env.glob("lib/python3*/site-packages"))
    (purelib / "ipykernel").symlink_to(Path(ipykernel.__file__).parent)
    for path in [home / ".conda", envs_dir, env, *env.rglob("*")]:
        os.lchown(path, uid, gid)
    return python


@pytest.fixture(scope="module")
def envs(unix_users: dict[str, UnixUser]) -> Iterator[dict[str, Path]]:
    root = Path(tempfile.mkdtemp(prefix="cyenv", dir="/tmp"))
    root.chmod(0o755)
    alice = pwd.getpwnam("cyalice")
    home = Path(alice.pw_dir)
    shutil.rmtree(home / ".conda", ignore_errors=True)
    yield {
        "torch": make_venv(root / "torch", with_packages=True),
        "bare": make_venv(root / "bare", with_packages=False),
        "conda": make_conda_env(home, alice.pw_uid, alice.pw_gid),
    }
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(home / ".conda", ignore_errors=True)


def named_config(envs: dict[str, Path], culler: str = "") -> str:
    return f"""
auth = "system"
allowed_users = ["cyalice", "cybob"]
python = "{site_python()}"
start_timeout = 90
stop_grace = 3
named_servers = 2
kernels_from_conda = true

[[profiles]]
name = "standard"
description = "The hub's Python"

[[profiles]]
name = "torch"
description = "PyTorch (a venv of its own)"
python = "{envs["torch"]}"

[[profiles]]
name = "bare"
python = "{envs["bare"]}"

[[services]]
name = "tester"
api_token = "{SERVICE_TOKEN}"

[[load_roles]]
name = "tester"
scopes = {SERVICE_SCOPES}
services = ["tester"]
{culler}
"""


def site_python() -> str:
    import sys

    return sys.executable


def running_hub(config: str) -> Iterator[HubProcess]:
    """A hub on a fresh state dir for a fixture; its servers stopped and the dir removed after."""
    state = new_state_dir()
    process = HubProcess(state, config).start()
    yield process
    process.stop()
    stop_user_servers(state)
    shutil.rmtree(state.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def named_hub(envs: dict[str, Path], unix_users: object) -> Iterator[HubProcess]:
    yield from running_hub(named_config(envs))


def servers_of(api: Api, user: str) -> dict[str, dict[str, object]]:
    r = api.call("GET", f"/users/{user}")
    assert r.status_code == 200, r.text
    found: dict[str, dict[str, object]] = r.json()["servers"]
    return found


def wait_ready(api: Api, user: str, server: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = servers_of(api, user).get(server, {})
        if model.get("ready"):
            return model
        time.sleep(0.3)
    raise AssertionError(f"{user}'s server {server!r} did not become ready")


def start(api: Api, user: str, server: str, profile: str) -> dict[str, object]:
    path = f"/users/{user}/servers/{server}" if server else f"/users/{user}/server"
    r = api.call("POST", path, json={"profile": profile})
    assert r.status_code in (201, 202), r.text
    return wait_ready(api, user, server)


async def test_two_servers_two_interpreters_and_nobody_else_gets_in(
    named_hub: HubProcess, envs: dict[str, Path], alice: UnixUser, bob: UnixUser
) -> None:
    service = Api(named_hub.url, SERVICE_TOKEN)
    user_token(service, alice.name)  # alice exists in the hub
    default = start(service, alice.name, "", "standard")
    torch = start(service, alice.name, "torch", "torch")
    assert default["url"] == f"/user/{alice.name}/"
    assert torch["url"] == f"/user/{alice.name}/torch/"
    assert torch["name"] == "torch"
    assert torch["full_name"] == f"{alice.name}/torch"
    assert torch["user_options"] == {"profile": "torch"}
    assert torch["progress_url"] == f"/hub/api/users/{alice.name}/servers/torch/progress"

    where = "import sys; sys.executable"
    async with HubClient(named_hub.url) as a:
        await a.login(alice.name, alice.password, next_url="/hub/home")
        seen = {}
        for key in (alice.name, f"{alice.name}/torch"):
            kernel = await a.start_kernel(key)
            seen[key] = await a.execute(key, kernel, where)
        assert seen[f"{alice.name}/torch"] == repr(str(envs["torch"]))
        assert seen[alice.name] != seen[f"{alice.name}/torch"]
        status, body, _ = await a.get("/hub/home")
        assert status == 200
        assert 'data-server="torch" data-state="running"' in body
        for server in ("", "torch"):  # each running server's memory (one /proc scan for both)
            row = re.search(
                rf'<tr data-server="{server}" data-state="running">.*?</tr>', body, re.S
            )
            assert row is not None, server
            assert re.search(r'class="memory">\d+\.\d MiB<', row.group(0)), row.group(0)

    async with HubClient(named_hub.url) as b:
        await b.login(bob.name, bob.password, next_url="/hub/home")
        for path in (f"/user/{alice.name}/lab", f"/user/{alice.name}/torch/lab",
                     f"/user/{alice.name}/torch/api/contents"):  # fmt: skip
            status, body, _ = await b.get(path)
            assert status == 403, path
            assert "jupyter-config-data" not in body

    only_torch = user_token(
        service, alice.name, scopes=[f"access:servers!server={alice.name}/torch"]
    )
    headers = {"Authorization": f"token {only_torch}"}
    ok = httpx.get(f"{named_hub.url}/user/{alice.name}/torch/api/status", headers=headers)
    assert ok.status_code == 200, ok.text
    refused = httpx.get(f"{named_hub.url}/user/{alice.name}/api/status", headers=headers)
    assert refused.status_code == 403

    # alice's own conda environment with ipykernel is a kernel in every server of hers
    mine = user_token(service, alice.name, scopes=[f"access:servers!user={alice.name}"])
    headers = {"Authorization": f"token {mine}"}
    for prefix in (f"/user/{alice.name}", f"/user/{alice.name}/torch"):
        specs = httpx.get(f"{named_hub.url}{prefix}/api/kernelspecs", headers=headers)
        assert specs.status_code == 200, specs.text
        assert f"conda-{CONDA_ENV}" in specs.json()["kernelspecs"], prefix
    made = httpx.post(
        f"{named_hub.url}/user/{alice.name}/torch/api/kernels",
        json={"name": f"conda-{CONDA_ENV}"}, headers=headers, timeout=60,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    async with HubClient(named_hub.url) as a:
        await a.login(alice.name, alice.password, next_url="/hub/home")
        key = f"{alice.name}/torch"
        assert await a.execute(key, made.json()["id"], where) == repr(str(envs["conda"]))

    # a restarted hub re-attaches both, and both still run code
    named_hub.stop()
    named_hub.start()
    service = Api(named_hub.url, SERVICE_TOKEN)
    models = servers_of(service, alice.name)
    assert models[""]["ready"]
    assert models["torch"]["ready"]
    async with HubClient(named_hub.url) as a:
        await a.login(alice.name, alice.password, next_url="/hub/home")
        kernel = await a.start_kernel(f"{alice.name}/torch")
        assert await a.execute(f"{alice.name}/torch", kernel, "6*7") == "42"

    for server in ("torch", ""):
        path = f"/users/{alice.name}/servers/{server}" if server else f"/users/{alice.name}/server"
        assert service.call("DELETE", path).status_code in (202, 204)


def test_bad_names_limits_and_a_broken_environment_fail_clearly(
    named_hub: HubProcess, bob: UnixUser
) -> None:
    service = Api(named_hub.url, SERVICE_TOKEN)
    user_token(service, bob.name)
    for bad in ("a%2Fb", "%2E%2E", "a/b"):  # refused as a path, before any handler
        r = service.call("POST", f"{named_hub.url}/hub/api/users/{bob.name}/servers/{bad}")
        assert r.status_code in (400, 404), (bad, r.status_code, r.text)
    for bad in ("with space", "x" * 300, "lab", "-dash", "caf\u00e9"):
        r = service.call("POST", f"/users/{bob.name}/servers/{bad}")
        assert r.status_code == 400, (bad, r.text)
        assert r.headers["Content-Type"].startswith("application/json"), bad
        assert "cannot name a server" in r.json()["message"], r.text

    began = time.monotonic()
    r = service.call("POST", f"/users/{bob.name}/servers/nojs", json={"profile": "bare"})
    assert r.status_code == 500, r.text
    message = r.json()["message"]
    assert "does not have jupyter_server" in message
    assert f"{Path(str(named_hub.state_dir))}" not in message
    assert "-m pip install jupyterlab" in message
    assert time.monotonic() - began < 30  # at once, not after start_timeout (90 s)

    # the failed one counts as one of bob's two; a third is refused with the limit
    r = service.call("POST", f"/users/{bob.name}/servers/second", json={"profile": "bare"})
    assert r.status_code == 500
    r = service.call("POST", f"/users/{bob.name}/servers/third")
    assert r.status_code == 400
    assert "named_servers = 2" in r.json()["message"]
    for name in ("nojs", "second"):
        r = service.call("DELETE", f"/users/{bob.name}/servers/{name}", json={"remove": True})
        assert r.status_code == 204, r.text
    assert set(servers_of(service, bob.name)) <= {""}
    r = service.call("DELETE", f"/users/{bob.name}/servers/nojs", json={"remove": True})
    assert r.status_code == 404
    r = service.call("DELETE", f"/users/{bob.name}/server", json={"remove": True})
    assert r.status_code == 400


CULLER = """
[culler]
timeout = 15
every = 2
"""


@pytest.fixture
def culling_hub(envs: dict[str, Path], unix_users: object) -> Iterator[HubProcess]:
    yield from running_hub(named_config(envs, CULLER))


def test_culler_stops_the_idle_named_server_and_keeps_the_active_default(
    culling_hub: HubProcess, alice: UnixUser
) -> None:
    service = Api(culling_hub.url, SERVICE_TOKEN)
    user_token(service, alice.name)
    start(service, alice.name, "", "standard")
    start(service, alice.name, "notes", "standard")
    deadline = time.monotonic() + 60
    while "notes" in servers_of(service, alice.name):  # running, then stopping, then gone
        assert time.monotonic() < deadline, "the idle named server was not culled"
        now = datetime.now(timezone.utc).isoformat()
        r = service.call(
            "POST", f"/users/{alice.name}/activity", json={"servers": {"": {"last_activity": now}}}
        )
        assert r.status_code == 200, r.text
        time.sleep(1)
    models = servers_of(service, alice.name)
    assert models[""]["ready"], "the active default server was culled too"
    assert "notes" not in models  # stopped (listed again with include_stopped_servers)
    stopped = service.call("GET", f"/users/{alice.name}?include_stopped_servers=1").json()
    assert stopped["servers"]["notes"]["stopped"] is True
    assert service.call("DELETE", f"/users/{alice.name}/server").status_code in (202, 204)


IDLE_CULLER = """
[[services]]
name = "idle-culler"
command = ["{python}", "-m", "jupyterhub_idle_culler", "--timeout=15", "--cull-every=3",
           "--remove-named-servers=true"]

[[load_roles]]
name = "idle-culler"
scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
services = ["idle-culler"]
"""


@pytest.fixture
def idle_culler_hub(envs: dict[str, Path], unix_users: object) -> Iterator[HubProcess]:
    culler = IDLE_CULLER.replace("{python}", site_python())
    yield from running_hub(named_config(envs, culler))


def test_jupyterhub_idle_culler_removes_the_idle_named_server(
    idle_culler_hub: HubProcess, bob: UnixUser
) -> None:
    service = Api(idle_culler_hub.url, SERVICE_TOKEN)
    user_token(service, bob.name)
    start(service, bob.name, "scratch", "standard")
    deadline = time.monotonic() + 90
    while True:
        stopped = service.call("GET", f"/users/{bob.name}?include_stopped_servers=1").json()
        if "scratch" not in stopped["servers"]:
            break  # stopped and deleted, as --remove-named-servers does
        log = "\n".join(idle_culler_hub.output[-30:])
        assert time.monotonic() < deadline, f"not removed: {stopped['servers']}\n{log}"
        time.sleep(1)


@pytest.mark.browser
async def test_chromium_creates_opens_stops_and_deletes_a_named_server(
    named_hub: HubProcess, bob: UnixUser
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, log_in

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await log_in(page, named_hub.url, bob.name, bob.password)
            await page.goto(named_hub.url + "/hub/home")
            form = page.locator("form.new-server")
            await form.locator("input[name=server]").fill("notes")
            await form.locator("select[name=profile]").select_option("standard")
            await form.get_by_role("button", name="Create and start").click()
            await page.wait_for_url(f"**/user/{bob.name}/notes/lab**", timeout=120_000)
            await expect(page.locator(".jp-LauncherCard").first).to_be_visible(timeout=60_000)
            await page.goto(named_hub.url + "/hub/home")
            row = page.locator('#my-servers tr[data-server="notes"]')
            await expect(row).to_have_attribute("data-state", "running")
            await expect(row.get_by_role("link", name="Open")).to_have_attribute(
                "href", f"/user/{bob.name}/notes/lab"
            )
            await page.screenshot(path=str(SHOTS / "named-servers.png"))
            await row.get_by_role("button", name="Stop").click()
            await page.wait_for_url("**/hub/home")
            row = page.locator('#my-servers tr[data-server="notes"]')
            await expect(row).to_have_attribute("data-state", "stopped", timeout=30_000)
            await row.get_by_role("button", name="Delete").click()
            await page.wait_for_url("**/hub/home")
            await expect(page.locator('#my-servers tr[data-server="notes"]')).to_have_count(0)
        finally:
            await browser.close()
