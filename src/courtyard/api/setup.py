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
from courtyard.auth import scopes as sc
from courtyard.auth.authenticators import Authenticator
from courtyard.auth.oauth import OAuthClient, OAuthProvider, client_of
from courtyard.auth.principal import Gate
from courtyard.auth.roles import Permissions, RoleBook
from courtyard.auth.sessions import SessionManager
from courtyard.auth.tokens import TokenManager, token_manager
from courtyard.config.settings import Settings
from courtyard.errors import ConfigError
from courtyard.hub.servers import ServerManager
from courtyard.hub.services import ServiceManager
from courtyard.proxy.server import service_endpoints
from courtyard.store.store import Store
from courtyard.store.tokenstore import GroupStore


@dataclass
class Access:
    groups: GroupStore
    permissions: Permissions
    tokens: TokenManager
    services: ServiceManager
    oauth: OAuthProvider


def build_access(settings: Settings, store: Store) -> Access:
    names = [s.name for s in settings.services]
    if len(set(names)) != len(names):
        raise ConfigError(f"services: two services share a name in {names}.")
    service_endpoints(settings.services)  # a bad url is a config error before anything starts
    groups = GroupStore(store)
    tokens = token_manager(settings, store, groups)
    services = ServiceManager(settings.services, tokens.new_service_token)
    oauth = OAuthProvider(oauth_clients(services, tokens.permissions.book))
    services.oauth_clients = {c.service: c for c in oauth.clients.values()}
    return Access(groups, tokens.permissions, tokens, services, oauth)


def oauth_clients(services: ServiceManager, book: RoleBook) -> list[OAuthClient]:
    """Every service with a url or OAuth settings is a client; its secret is its token."""
    clients: list[OAuthClient] = []
    for at, service in enumerate(services.services.values()):
        config = service.config
        if not config.oauth_client:
            continue
        where = f"services[{at}]"
        if not config.client_id.startswith("service-"):
            raise ConfigError(
                f"{where}.oauth_client_id is {config.client_id!r}: a service's OAuth client"
                " id must start with 'service-' (as JupyterHub's)."
            )
        bad = sc.unknown_scopes(s for s in config.oauth_client_allowed_scopes if s != "inherit")
        if bad:
            raise ConfigError(f"{where}.oauth_client_allowed_scopes: unknown scopes {bad}; "
                              "see docs/api.md for the scope names.")  # fmt: skip
        missing = [r for r in config.oauth_roles if r not in book.roles]
        if missing:
            raise ConfigError(f"{where}.oauth_roles: no such roles {missing}.")
        if any(c.client_id == config.client_id for c in clients):
            raise ConfigError(f"{where}.oauth_client_id {config.client_id!r} is taken.")
        clients.append(client_of(config, service.token, book.raw_scopes(config.oauth_roles)))
    return clients


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
        oauth=access.oauth,
        authenticator=authenticator,
        gate=gate,
        sessions=sessions,
        shutdown=request_shutdown,
        version=f"{API_VERSION} (Courtyard {__version__})",
        proxy_stats=proxy_stats,
    )
    return build_api_app(context)
