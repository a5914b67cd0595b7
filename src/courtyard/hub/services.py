"""Hub-managed services: processes the hub starts, restarts when they die, stops with itself.

Each gets an API token (its configured ``api_token``, or a fresh one per hub start) and
JupyterHub's environment for a service (``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_API_URL``,
``JUPYTERHUB_SERVICE_NAME``, ..., and for an OAuth client ``JUPYTERHUB_CLIENT_ID``,
``JUPYTERHUB_OAUTH_CALLBACK_URL``, ``JUPYTERHUB_OAUTH_ACCESS_SCOPES``, ...) plus
Courtyard's names for the same values. A service that exits is started again after a delay
that doubles per quick death (1 s up to 60 s) and resets once it has stayed up for a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from courtyard.auth.oauth import OAuthClient
from courtyard.config.tables import ServiceConfig

log = logging.getLogger("courtyard.services")
FIRST_DELAY = 1.0
MAX_DELAY = 60.0
STABLE_AFTER = 60.0
STOP_GRACE = 5.0
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "USER", "PYTHONPATH", "VIRTUAL_ENV")


@dataclass
class ManagedService:
    config: ServiceConfig
    token: str
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    started: float = 0.0
    stopping: bool = False
    delays: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        p = self.process
        return p.pid if p is not None and p.returncode is None else None


def service_environment(
    config: ServiceConfig, token: str, api_url: str, client: OAuthClient | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    prefix = config.prefix
    values = {
        "API_TOKEN": token,
        "API_URL": api_url,
        "SERVICE_NAME": config.name,
        "SERVICE_PREFIX": prefix,
        "SERVICE_URL": config.url,
        "BASE_URL": "/",
    }
    for key, value in values.items():
        env["JUPYTERHUB_" + key] = value
        env["COURTYARD_SERVICE_" + key if key != "API_TOKEN" else "COURTYARD_API_TOKEN"] = value
    env["COURTYARD_API_URL"] = api_url
    if client is not None:  # JupyterHub's OAuth environment (jupyterhub.services.auth.HubOAuth)
        access = json.dumps([client.access_scope])
        env["JUPYTERHUB_CLIENT_ID"] = client.client_id
        env["JUPYTERHUB_OAUTH_CALLBACK_URL"] = client.redirect_uri
        env["JUPYTERHUB_OAUTH_ACCESS_SCOPES"] = access
        env["JUPYTERHUB_OAUTH_SCOPES"] = access  # the name before JupyterHub 3
        env["JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES"] = json.dumps(list(client.allowed_scopes))
    env.update(config.environment)
    return env


class ServiceManager:
    """Runs every service that has a ``command``; ``start(api_url)``, ``close()``."""

    def __init__(self, configs: list[ServiceConfig], new_token: Callable[[str], str]) -> None:
        self.services: dict[str, ManagedService] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}  # by service name (api/setup.py)
        for config in configs:
            token = config.api_token or new_token(config.name)
            self.services[config.name] = ManagedService(config, token)

    def start(self, api_url: str) -> None:
        for service in self.services.values():
            if service.config.command:
                service.task = asyncio.create_task(
                    self._keep_running(service, api_url), name=f"service-{service.config.name}"
                )

    async def _keep_running(self, service: ManagedService, api_url: str) -> None:
        delay = FIRST_DELAY
        while not service.stopping:
            client = self.oauth_clients.get(service.config.name)
            env = service_environment(service.config, service.token, api_url, client)
            try:
                await self._run_once(service, env)
            except OSError as e:
                log.error("service %r could not start: %s", service.config.name, e)
            if service.stopping:
                return
            if time.monotonic() - service.started >= STABLE_AFTER:
                delay = FIRST_DELAY
            service.restarts += 1
            service.delays.append(delay)
            log.warning("service %r exited; restarting in %.0f s", service.config.name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    async def _run_once(self, service: ManagedService, env: dict[str, str]) -> None:
        service.started = time.monotonic()
        service.process = await asyncio.create_subprocess_exec(
            *service.config.command,
            env=env,
            cwd=service.config.cwd or None,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        log.info("service %r started (pid %d)", service.config.name, service.process.pid)
        code = await service.process.wait()
        log.info("service %r exited with status %s", service.config.name, code)

    async def close(self) -> None:
        for service in self.services.values():
            service.stopping = True
        await asyncio.gather(*(self._stop(s) for s in self.services.values()))

    async def _stop(self, service: ManagedService) -> None:
        process = service.process
        if process is not None and process.returncode is None:
            signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            except asyncio.TimeoutError:
                signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        if service.task is not None:
            service.task.cancel()
            await asyncio.gather(service.task, return_exceptions=True)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the service's process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
