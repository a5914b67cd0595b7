"""A real hub with a test service holding a known token, shared by a module's tests."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hubprocess import HubProcess

SERVICE_TOKEN = "cy-test-service-token-5d1f0e8a7b6c"
SERVICE_SCOPES = [
    "admin:users", "admin:servers", "tokens", "admin:groups", "list:services",
    "read:services", "read:hub", "read:metrics", "access:servers", "proxy", "admin:services",
]  # fmt: skip


def api_config(extra: str = "", scopes: list[str] = SERVICE_SCOPES) -> str:
    quoted = ", ".join(f'"{s}"' for s in scopes)
    return f"""
auth = "system"
allowed_users = ["cyalice", "cybob"]
admin_users = ["cyalice"]
python = "{sys.executable}"
start_timeout = 90
stop_grace = 3

[[services]]
name = "tester"
api_token = "{SERVICE_TOKEN}"

[[load_roles]]
name = "tester"
scopes = [{quoted}]
services = ["tester"]
{extra}
"""


@dataclass
class Api:
    """Real HTTP calls to a hub's API with one token (or none)."""

    base: str
    token: str | None = None

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        url = path if path.startswith("http") else f"{self.base}/hub/api{path}"
        return httpx.request(method, url, headers=headers, timeout=60, **kwargs)

    def as_token(self, token: str | None) -> Api:
        return Api(self.base, token)


@pytest.fixture(scope="module")
def module_state() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cy", dir="/tmp"))
    root.chmod(0o755)
    yield root / "state"
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def api_hub(module_state: Path, alice: object, bob: object) -> Iterator[HubProcess]:
    process = HubProcess(module_state, api_config()).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def service(api_hub: HubProcess) -> Api:
    return Api(api_hub.url, SERVICE_TOKEN)


def ensure_unix_account(name: str) -> None:
    """A bare Unix account (test machines only): system auth refuses users without one."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True)


def user_token(service: Api, user: str, **body: Any) -> str:
    service.call("POST", f"/users/{user}").raise_for_status() if service.call(
        "GET", f"/users/{user}"
    ).status_code == 404 else None
    r = service.call("POST", f"/users/{user}/tokens", json=body)
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token
