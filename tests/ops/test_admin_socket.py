"""The hub's admin socket on its own: 0600, peer credentials checked, the CLI's client side.

The end-to-end case (a running hub, a running server, ``courtyard user remove``) is in
tests/admin/test_cli.py.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from courtyard.daemon.adminsocket import (
    ask_hub_to_stop_server,
    build_admin_app,
    serve_admin_socket,
)
from courtyard.errors import DaemonError
from courtyard.hub.servers import ServerManager
from courtyard.proxy.routes import RouteTable
from courtyard.store.store import Store
from tests.conftest import UnixUser

REQUEST = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "try:\n"
    "    s.connect(sys.argv[1])\n"
    "except OSError as e:\n"
    "    print(type(e).__name__); sys.exit()\n"
    "s.sendall(b'POST /servers/ada/stop HTTP/1.1\\r\\nHost: x\\r\\n'\n"
    "          b'Content-Length: 0\\r\\nConnection: close\\r\\n\\r\\n')\n"
    "print(s.recv(100).split(b'\\r\\n')[0].decode())\n"
)


@pytest_asyncio.fixture
async def admin_socket() -> AsyncIterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cyadm", dir="/tmp"))
    root.chmod(0o755)  # traversable, so only the socket's own mode keeps others out
    store = Store.open(f"sqlite:///{root / 'cy.sqlite'}")
    store.ensure_user("ada")
    servers = ServerManager(store, RouteTable(), lambda user, state: None)  # type: ignore[arg-type,return-value]
    path = root / "admin.sock"
    runner: web.AppRunner = await serve_admin_socket(build_admin_app(servers, store), path)
    yield path
    await runner.cleanup()
    store.close()
    shutil.rmtree(root, ignore_errors=True)


async def run_as(user: str, path: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", REQUEST, str(path), user=user, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode().strip()


async def test_the_socket_is_private_and_answers_its_owner(admin_socket: Path) -> None:
    assert stat.S_IMODE(admin_socket.stat().st_mode) == 0o600
    assert await asyncio.to_thread(ask_hub_to_stop_server, admin_socket, "ada", 10.0)
    with pytest.raises(DaemonError, match="404"):
        await asyncio.to_thread(ask_hub_to_stop_server, admin_socket, "nobody", 10.0)


@pytest.mark.root
async def test_other_users_cannot_connect_or_are_refused(
    admin_socket: Path, alice: UnixUser
) -> None:
    assert await run_as(alice.name, admin_socket) == "PermissionError"
    admin_socket.chmod(0o666)  # a mistake: the peer-credential check still refuses
    assert await run_as(alice.name, admin_socket) == "HTTP/1.1 403 Forbidden"


def test_no_hub_means_false(tmp_path: Path) -> None:
    assert not ask_hub_to_stop_server(tmp_path / "missing.sock", "ada", 5.0)
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(stale))  # a socket file nobody listens on (a crashed hub's)
    assert not ask_hub_to_stop_server(stale, "ada", 5.0)
