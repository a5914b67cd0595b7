"""The hub's admin socket: commands from ``courtyard`` on the same machine to the running hub.

Some things only the running hub can do - stopping a user's server is one: the hub holds the
spawner, the route and the watcher. ``courtyard user remove`` runs in another process, so it
asks the hub over ``<state>/run/admin.sock``.

Why a second socket, not a route on the control socket (``hub.sock``): the proxy forwards
every public request that is not for a user server to ``hub.sock``, so anything served there
is one proxy bug (or one routing rule) away from the internet. ``admin.sock`` is a separate
listener with its own tiny app; the proxy knows nothing of it and cannot forward to it.

Who may use it: the socket is created 0600 (bound under umask 0177, so it is never open to
others, not even for an instant) in the state dir's ``run/``; only the hub's own user and
root can connect. The app checks that again from the kernel's peer credentials
(``SO_PEERCRED``) and refuses any other uid. There is no token: being able to open the
socket is the authentication, exactly like being able to write the store.

Commands (JSON answers):

    POST /servers/{name}/stop   stop the user's server and forget it (before deleting them)
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from courtyard.errors import DaemonError
from courtyard.hub.servers import ServerManager
from courtyard.store.store import Store

log = logging.getLogger("courtyard.admin_socket")
SOCKET_NAME = "admin.sock"
SERVERS = web.AppKey("servers", ServerManager)
STORE = web.AppKey("store", Store)
PEER_UID = web.RequestKey("peer_uid", int)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_socket_path(runtime_dir: Path) -> Path:
    return runtime_dir / SOCKET_NAME


# ---- the hub's side ----------------------------------------------------------------------


def peer_uid(request: web.Request) -> int | None:
    """The uid of the process at the other end of the unix socket (None if unknown)."""
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


@web.middleware
async def only_the_hubs_user(request: web.Request, handler: Handler) -> web.StreamResponse:
    uid = peer_uid(request)
    if uid is None or uid not in (0, os.geteuid()):
        log.warning("admin socket: refused a connection from uid %s", uid)
        return web.json_response({"status": 403, "message": "not allowed"}, status=403)
    request[PEER_UID] = uid
    return await handler(request)


async def stop_server(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if request.app[STORE].get_user(name) is None:
        return web.json_response({"status": 404, "message": f"no user named {name!r}"}, status=404)
    log.info("admin socket (uid %s): stopping %s's server", request[PEER_UID], name)
    await request.app[SERVERS].remove(name, reason="admin")
    return web.json_response({"user": name, "state": "stopped"})


def build_admin_app(servers: ServerManager, store: Store) -> web.Application:
    app = web.Application(middlewares=[only_the_hubs_user], client_max_size=4096)
    app[SERVERS] = servers
    app[STORE] = store
    app.add_routes([web.post("/servers/{name}/stop", stop_server)])
    return app


def bind_private_socket(path: Path) -> socket.socket:
    """A unix socket at ``path`` that only this uid (and root) can ever connect to."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return sock


async def serve_admin_socket(app: web.Application, path: Path) -> web.AppRunner:
    """Serve ``app`` on the admin socket; ``await runner.cleanup()`` (then unlink) to stop."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, bind_private_socket(path)).start()
    return runner


# ---- the command line's side ---------------------------------------------------------------


def ask_hub_to_stop_server(path: Path, name: str, timeout: float) -> bool:
    """Ask the running hub to stop ``name``'s server. False if no hub listens at ``path``;
    DaemonError if one does but cannot be used (permissions) or refuses."""
    return asyncio.run(_post(path, f"/servers/{name}/stop", timeout))


async def _post(path: Path, url_path: str, timeout: float) -> bool:
    connector = aiohttp.UnixConnector(path=str(path))
    limit = aiohttp.ClientTimeout(total=timeout)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=limit) as http,
            http.post(f"http://hub{url_path}") as response,
        ):
            answer = await response.json(content_type=None)
    except aiohttp.ClientConnectorError as exc:
        return _no_hub(path, exc.os_error)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise DaemonError(f"the hub did not answer on {path}: {exc or 'timed out'}") from exc
    if response.status != 200:
        said = answer.get("message", "") if isinstance(answer, dict) else ""
        raise DaemonError(f"the hub refused ({response.status}): {said}")
    return True


def _no_hub(path: Path, error: OSError) -> bool:
    if isinstance(error, (FileNotFoundError, ConnectionRefusedError)):
        return False  # no hub runs (or a crashed one left its socket file)
    if isinstance(error, PermissionError):
        raise DaemonError(
            f"cannot open the hub's admin socket {path}: permission denied. Run this as root "
            "or as the user the hub runs as."
        )
    raise DaemonError(f"cannot reach the hub on {path}: {error}")
