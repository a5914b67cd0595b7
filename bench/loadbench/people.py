"""One simulated person, as a browser would go: the login form, the progress page, JupyterLab's
page and assets, a kernel, cells over the WebSocket, a notebook saved and read back (checksum),
idle time; until the deadline. Every step is timed into ``Stats``; a failed step is counted
by kind and the person carries on from the login (bounded by the deadline)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import websockets

from loadbench.stats import Stats, Timer

XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')
ASSET = re.compile(r'(?:src|href)="([^"]+\.(?:js|css)(?:\?[^"]*)?)"')
MAX_ASSETS = 12
STEP_TIMEOUT = aiohttp.ClientTimeout(total=180)


class StepError(Exception):
    """A step got an answer it should not have; the message is the error's kind."""


@dataclass(frozen=True)
class Person:
    name: str
    password: str


@dataclass(frozen=True)
class Hub:
    flavor: str  # "courtyard" or "jupyterhub"
    base_url: str


def new_session(hub: Hub) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": hub.base_url, "User-Agent": "courtyard-load-bench"},
        timeout=STEP_TIMEOUT,
    )


async def expect(r: aiohttp.ClientResponse, *ok: int) -> str:
    body = await r.text()
    if r.status not in ok:
        raise StepError(f"HTTP {r.status}")
    return body


async def login(http: aiohttp.ClientSession, hub: Hub, person: Person) -> None:
    async with http.get(hub.base_url + "/hub/login") as r:
        match = XSRF_FIELD.search(await expect(r, 200))
    if match is None:
        raise StepError("no _xsrf on the login page")
    data = {"username": person.name, "password": person.password, "_xsrf": match.group(1)}
    async with http.post(hub.base_url + "/hub/login", data=data, allow_redirects=False) as r:
        await expect(r, 302, 303)


async def start_server(http: aiohttp.ClientSession, hub: Hub, person: Person) -> None:
    """Ask for the server as each hub's home page does, then open the progress page."""
    base = hub.base_url
    if hub.flavor == "courtyard":
        async with http.get(base + "/hub/home") as r:
            match = XSRF_FIELD.search(await expect(r, 200))
        if match is None:
            raise StepError("no _xsrf on the home page")
        form = {"_xsrf": match.group(1)}
        async with http.post(base + "/hub/spawn", data=form) as r:
            await expect(r, 200, 409)  # the progress page; 409: running already (a retry)
    else:
        async with http.get(base + "/hub/spawn") as r:
            await expect(r, 200)  # JupyterHub spawns on GET and redirects to spawn-pending


async def wait_ready(http: aiohttp.ClientSession, hub: Hub, person: Person) -> None:
    url = f"{hub.base_url}/hub/api/users/{person.name}/server/progress"
    async with http.get(url) as r:
        if r.status != 200:
            raise StepError(f"progress HTTP {r.status}")
        async for raw in r.content:
            line = raw.decode(errors="replace").strip()
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("failed"):
                    raise StepError("start failed")
                if event.get("ready"):
                    return
    raise StepError("progress ended without ready")


async def open_lab(http: aiohttp.ClientSession, hub: Hub, person: Person) -> str:
    """JupyterLab's page and its scripts and styles; the server's _xsrf cookie."""
    async with http.get(f"{hub.base_url}/user/{person.name}/lab") as r:
        page = await expect(r, 200)
    assets = [a for a in dict.fromkeys(ASSET.findall(page)) if a.startswith("/")]
    for asset in assets[:MAX_ASSETS]:
        async with http.get(hub.base_url + asset) as r:
            await r.read()
            if r.status != 200:
                raise StepError(f"asset HTTP {r.status}")
    found = [c for c in http.cookie_jar if c.key == "_xsrf"]  # JupyterHub's own is on /hub/
    server = [c for c in found if c["path"].startswith(f"/user/{person.name}")]
    return (server or found)[0].value if found else ""


async def start_kernel(http: aiohttp.ClientSession, hub: Hub, person: Person, xsrf: str) -> str:
    url = f"{hub.base_url}/user/{person.name}/api/kernels"
    async with http.post(url, json={"name": "python3"}, headers={"X-XSRFToken": xsrf}) as r:
        return str(json.loads(await expect(r, 201))["id"])


def execute_request(msg_id: str, code: str) -> dict[str, Any]:
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "bench",
              "session": uuid.uuid4().hex, "version": "5.3"}  # fmt: skip
    return {"header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}  # fmt: skip


async def run_cells(
    http: aiohttp.ClientSession, hub: Hub, person: Person, kernel: str, stats: Stats, cells: int
) -> None:
    ws_url = hub.base_url.replace("http", "ws", 1)
    ws_url += f"/user/{person.name}/api/kernels/{kernel}/channels"
    cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    async with websockets.connect(
        ws_url, additional_headers={"Cookie": cookie}, origin=hub.base_url,  # type: ignore[arg-type]
        open_timeout=120, max_size=None,
    ) as ws:  # fmt: skip
        for n in range(cells):
            with Timer(stats, "execute cell"):
                msg_id = uuid.uuid4().hex
                await ws.send(json.dumps(execute_request(msg_id, f"sum(range({n + 1} * 1000))")))
                await asyncio.wait_for(read_reply(ws, msg_id), 120)


async def read_reply(ws: Any, msg_id: str) -> None:
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg.get("msg_type") == "execute_reply":
            if msg["content"].get("status") != "ok":
                raise StepError("cell failed")
            return


def notebook(person: Person, n: int) -> dict[str, Any]:
    source = f"# {person.name} save {n} {uuid.uuid4().hex}\n" + "x = 1\n" * random.randint(1, 400)
    cell: dict[str, Any] = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
            "execution_count": None}  # fmt: skip
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def checksum(nb: dict[str, Any]) -> str:
    sources = "".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"]
    )
    return hashlib.sha256(sources.encode()).hexdigest()


async def save_and_reread(
    http: aiohttp.ClientSession, hub: Hub, person: Person, xsrf: str, stats: Stats, n: int
) -> None:
    path = f"bench-load-{n % 3}.ipynb"
    url = f"{hub.base_url}/user/{person.name}/api/contents/{path}"
    nb = notebook(person, n)
    body = {"type": "notebook", "format": "json", "content": nb}
    with Timer(stats, "save notebook"):
        async with http.put(url, json=body, headers={"X-XSRFToken": xsrf}) as r:
            await expect(r, 200, 201)
    stats.saves[(person.name, path)] = checksum(nb)
    with Timer(stats, "re-read notebook"):
        async with http.get(url + "?content=1") as r:
            got = json.loads(await expect(r, 200))["content"]
    if checksum(got) != checksum(nb):
        stats.lost.append(f"{person.name}/{path}: read back differs right after saving")


async def live_a_session(person: Person, hub: Hub, stats: Stats, deadline: float) -> None:
    """Log in, get a server, work and idle until the deadline. A failed step of the work is
    retried in the same session (a browser reconnects and keeps its cookie); only a failure
    before the work starts, or many in a row, starts over from the login."""
    n = 0
    while time.monotonic() < deadline:
        step = "login"
        try:
            async with new_session(hub) as http:
                began = time.perf_counter()
                with Timer(stats, "login"):
                    await login(http, hub, person)
                step = "start server"
                with Timer(stats, "start server"):
                    await start_server(http, hub, person)
                step = "progress to ready"
                with Timer(stats, "progress to ready"):
                    await wait_ready(http, hub, person)
                step = "open JupyterLab"
                with Timer(stats, "open JupyterLab + assets"):
                    xsrf = await open_lab(http, hub, person)
                stats.record("login -> JupyterLab rendered", time.perf_counter() - began)
                n = await work(http, hub, person, xsrf, stats, deadline, n)
        except FAILURES as e:
            stats.error(step, kind_of(e))
            await asyncio.sleep(1)


FAILURES = (StepError, aiohttp.ClientError, websockets.WebSocketException, OSError,
            asyncio.TimeoutError, KeyError, ValueError)  # fmt: skip


def kind_of(e: BaseException) -> str:
    """An error's kind for the report: a WebSocket refused at its handshake says which HTTP
    status (and the start of the body) refused it."""
    if isinstance(e, StepError):
        return str(e)
    if isinstance(e, websockets.InvalidStatus):
        body = (e.response.body or b"")[:60].decode(errors="replace").replace("\n", " ")
        return f"InvalidStatus HTTP {e.response.status_code} {body}".rstrip()
    return type(e).__name__


async def work(
    http: aiohttp.ClientSession, hub: Hub, person: Person, xsrf: str, stats: Stats,
    deadline: float, n: int,
) -> int:  # fmt: skip
    """A kernel, then cells and saves with idle time between; retried in this session."""
    kernel, failures = "", 0
    while time.monotonic() < deadline and failures < 20:
        step = "start kernel"
        try:
            if not kernel:
                with Timer(stats, "start kernel"):
                    kernel = await start_kernel(http, hub, person, xsrf)
            step = "execute"
            await run_cells(http, hub, person, kernel, stats, cells=3)
            step = "save"
            await save_and_reread(http, hub, person, xsrf, stats, n)
            n, failures = n + 1, 0
            await asyncio.sleep(min(random.uniform(2, 8), max(0, deadline - time.monotonic())))
        except FAILURES as e:
            stats.error(step, kind_of(e))
            failures += 1
            await asyncio.sleep(0.5)
    return n
