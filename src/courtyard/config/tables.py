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


@dataclass(frozen=True)
class RoleConfig:
    """A role (named scopes) and who holds it (JupyterHub's ``load_roles`` entries)."""

    name: str
    scopes: list[str] = field(default_factory=list)
    description: str = ""
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
