"""Builds the API's parts from the settings: roles, tokens, groups, services, the app."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from courtyard import __version__
from courtyard.api.app import build_api_app
from courtyard.api.context import ApiContext, ProxyStats, no_proxy_stats
from courtyard.api.hub import API_VERSION
from courtyard.auth.authenticators import Authenticator
from courtyard.auth.principal import Gate
from courtyard.auth.roles import Permissions
from courtyard.auth.sessions import SessionManager
from courtyard.auth.tokens import TokenManager, token_manager
from courtyard.config.settings import Settings
from courtyard.errors import ConfigError
from courtyard.hub.servers import ServerManager
from courtyard.hub.services import ServiceManager
from courtyard.store.store import Store
from courtyard.store.tokenstore import GroupStore


@dataclass
class Access:
    groups: GroupStore
    permissions: Permissions
    tokens: TokenManager
    services: ServiceManager


def build_access(settings: Settings, store: Store) -> Access:
    names = [s.name for s in settings.services]
    if len(set(names)) != len(names):
        raise ConfigError(f"services: two services share a name in {names}.")
    groups = GroupStore(store)
    tokens = token_manager(settings, store, groups)
    services = ServiceManager(settings.services, tokens.new_service_token)
    return Access(groups, tokens.permissions, tokens, services)


def request_shutdown() -> None:
    """Ask this process to stop as Ctrl-C would (serve_until_signalled handles SIGTERM)."""
    os.kill(os.getpid(), signal.SIGTERM)


def build_api(
    access: Access,
    settings: Settings,
    store: Store,
    servers: ServerManager,
    authenticator: Authenticator,
    gate: Gate,
    sessions: SessionManager,
    proxy_stats: Callable[[], ProxyStats] = no_proxy_stats,
) -> web.Application:
    context = ApiContext(
        settings=settings,
        store=store,
        groups=access.groups,
        servers=servers,
        tokens=access.tokens,
        permissions=access.permissions,
        services=access.services,
        authenticator=authenticator,
        gate=gate,
        sessions=sessions,
        shutdown=request_shutdown,
        version=f"{API_VERSION} (Courtyard {__version__})",
        proxy_stats=proxy_stats,
    )
    return build_api_app(context)
