"""Settings that are lists of tables: ``[[services]]`` and ``[[load_roles]]``.

Each is a frozen dataclass; ``config/load.py`` checks every key and value of every table and
names a bad one by its place, e.g. ``services[0].command``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceConfig:
    """A service the hub knows: with ``command`` the hub runs it (hub-managed)."""

    name: str
    command: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    url: str = ""
    api_token: str = ""
    cwd: str = ""
    display: bool = True
    info: dict[str, str] = field(default_factory=dict)
    # OAuth client (services with a url, or an oauth_redirect_uri): see auth/oauth.py
    oauth_client_id: str = ""  # "" -> "service-<name>"
    oauth_redirect_uri: str = ""  # "" -> "/services/<name>/oauth_callback"
    oauth_no_confirm: bool = False
    oauth_client_allowed_scopes: list[str] = field(default_factory=list)
    oauth_roles: list[str] = field(default_factory=list)  # JupyterHub < 3: roles' scopes

    @property
    def prefix(self) -> str:
        return f"/services/{self.name}/"

    @property
    def client_id(self) -> str:
        return self.oauth_client_id or f"service-{self.name}"

    @property
    def redirect_uri(self) -> str:
        return self.oauth_redirect_uri or self.prefix + "oauth_callback"

    @property
    def oauth_client(self) -> bool:
        """Whether the hub is this service's OAuth provider (JupyterHub: it has a url or
        oauth settings)."""
        return bool(self.url or self.oauth_redirect_uri or self.oauth_client_id)


@dataclass(frozen=True)
class RoleConfig:
    """A role (named scopes) and who holds it (JupyterHub's ``load_roles`` entries)."""

    name: str
    scopes: list[str] = field(default_factory=list)
    description: str = ""
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
