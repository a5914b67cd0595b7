"""Map a recorded JupyterHub configuration onto Courtyard settings and render the TOML.

``convert(values)`` takes {"Section.name": value} (see jhrecorder.py) and returns a Conversion:
the Courtyard values, notes on how each JupyterHub setting was carried over, and the ones that
have no equivalent. ``render(conversion)`` writes the TOML, each line commented with its origin.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from courtyard.config.limits import SIZE
from courtyard.config.tomlwrite import toml_key, toml_table_array, toml_value

CULLER_MODULES = ("jupyterhub_idle_culler", "jupyterhub-idle-culler", "cull_idle_servers")
CULLER_FLAGS = {"timeout": "timeout", "cull-every": "every", "max-age": "max_age"}
UNNEEDED_ARGS = {
    "--allow-root": "Courtyard never runs a user's server as root (each runs as its own Unix "
    "user), so '--allow-root' is unnecessary; dropped.",
}
SERVICE_KEYS = ("name", "command", "environment", "url", "api_token", "cwd", "display", "info")
ROLE_KEYS = ("name", "scopes", "description", "users", "groups", "services")


@dataclass
class Conversion:
    values: dict[str, Any] = field(default_factory=dict)  # dotted Courtyard key -> value
    origins: dict[str, str] = field(default_factory=dict)  # Courtyard key -> JupyterHub key
    services: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    culler_services: list[dict[str, Any]] = field(default_factory=list)  # alternative, commented
    culler_roles: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def put(self, key: str, value: Any, origin: str) -> None:
        self.values[key] = value
        self.origins[key] = origin


Mapper = Callable[[Conversion, str, Any], None]


def simple(target: str, kind: type | tuple[type, ...] = object) -> Mapper:
    def mapper(conv: Conversion, origin: str, value: Any) -> None:
        if isinstance(value, (set, frozenset, tuple)):
            value = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        if not isinstance(value, kind):
            conv.unmapped.append(f"{origin} = {value!r} (expected {target} as {kind})")
            return
        conv.put(target, value, origin)

    return mapper


def map_args(conv: Conversion, origin: str, value: Any) -> None:
    kept = []
    for arg in [str(a) for a in value]:
        if arg in UNNEEDED_ARGS:
            conv.notes.append(f"{origin}: {UNNEEDED_ARGS[arg]}")
        else:
            kept.append(arg)
    if kept:
        conv.put("args", kept, origin)


def map_timeout(conv: Conversion, origin: str, value: Any) -> None:
    current = conv.values.get("start_timeout", 0)
    conv.put("start_timeout", float(max(current, value)), origin)


def map_authenticator(conv: Conversion, origin: str, value: Any) -> None:
    name = str(getattr(value, "qualname", getattr(value, "__name__", value)))
    if name.rsplit(".", 1)[-1].lower() in ("pam", "pamauthenticator", "localauthenticator"):
        conv.put("auth", "system", origin)
    else:
        conv.unmapped.append(f"{origin} = {name} (Courtyard has PAM ('system') and 'local')")


def map_spawner(conv: Conversion, origin: str, value: Any) -> None:
    name = str(getattr(value, "qualname", getattr(value, "__name__", value)))
    if name.rsplit(".", 1)[-1].lower() in ("localprocessspawner", "simple", "default"):
        conv.notes.append(f"{origin}: Courtyard's 'local' spawner (the default) is equivalent.")
    else:
        conv.unmapped.append(f"{origin} = {name}")


def map_bind_url(conv: Conversion, origin: str, value: Any) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(str(value))
    conv.put("ip", parts.hostname or "0.0.0.0", origin)
    if parts.port:
        conv.put("port", parts.port, origin)


def map_db_url(conv: Conversion, origin: str, value: Any) -> None:
    url = str(value)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith(("sqlite", "postgresql+psycopg://")):
        conv.put("database_url", url, origin)
        conv.notes.append(f"{origin}: Courtyard keeps its own schema in that database.")
    else:
        conv.unmapped.append(f"{origin} = {url!r} (Courtyard supports SQLite and PostgreSQL)")


def map_cmd(conv: Conversion, origin: str, value: Any) -> None:
    conv.notes.append(
        f"{origin} = {value!r}: Courtyard starts jupyter_server with its own launcher; dropped."
    )


def map_mem_limit(conv: Conversion, origin: str, value: Any) -> None:
    """JupyterHub's ByteSpecification (bytes, or '4G'): enforced by [limits] memory (the
    LocalProcessSpawner only advised it)."""
    text = str(value).strip()
    if isinstance(value, int) and not isinstance(value, bool):
        text = f"{value // (1024 * 1024)}M" if value % (1024 * 1024) == 0 else str(value)
    if SIZE.match(text) is None:
        conv.unmapped.append(f"{origin} = {value!r} (not a size)")
        return
    conv.put("limits.memory", text, origin)
    conv.notes.append(f"{origin}: Courtyard enforces it (cgroups), see [limits] in docs/admin.md.")


def map_cpu_limit(conv: Conversion, origin: str, value: Any) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        conv.put("limits.cpus", float(value), origin)
    else:
        conv.unmapped.append(f"{origin} = {value!r} (not a positive number)")


def map_guarantee(conv: Conversion, origin: str, value: Any) -> None:
    conv.notes.append(f"{origin} = {value!r}: Courtyard has limits, not guarantees; dropped.")


def map_services(conv: Conversion, origin: str, value: Any) -> None:
    for service in value:
        row, extra = pick(service, SERVICE_KEYS)
        conv.unmapped += [f"{origin}[{service.get('name')!r}].{k}" for k in extra]
        timeout = culler_settings(row.get("command", []))
        if timeout is None:
            conv.services.append(row)
            continue
        conv.culler_services.append(row)
        for key, number in timeout.items():
            conv.put(f"culler.{key}", number, f"{origin}[{row['name']!r}]")
        conv.put("culler.enabled", True, f"{origin}[{row['name']!r}]")
        conv.notes.append(
            f"{origin}[{row['name']!r}]: the idle culler maps to Courtyard's built-in [culler] "
            "(active); the service itself is written too, commented out, as the alternative."
        )


def map_roles(conv: Conversion, origin: str, value: Any) -> None:
    culler_names = {s["name"] for s in conv.culler_services}
    for role in value:
        row, extra = pick(role, ROLE_KEYS)
        conv.unmapped += [f"{origin}[{role.get('name')!r}].{k}" for k in extra]
        served = set(row.get("services", []))
        if served and served <= culler_names and not row.get("users") and not row.get("groups"):
            conv.culler_roles.append(row)
        else:
            conv.roles.append(row)


def pick(table: dict[str, Any], keys: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    row = {k: plain(table[k]) for k in keys if k in table}
    return row, [k for k in table if k not in keys]


def plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def culler_settings(command: list[Any]) -> dict[str, int] | None:
    """{"timeout": 3600, ...} when ``command`` runs JupyterHub's idle culler, else None."""
    words = [str(w) for w in command]
    if not any(m in w for w in words for m in CULLER_MODULES):
        return None
    found: dict[str, int] = {"timeout": 600}  # the idle culler's own default
    for i, word in enumerate(words):
        flag, _, inline = word.partition("=")
        name = flag.lstrip("-")
        if flag.startswith("--") and name in CULLER_FLAGS:
            raw = inline or (words[i + 1] if i + 1 < len(words) else "")
            if raw.isdigit():
                found[CULLER_FLAGS[name]] = int(raw)
    return found


UNLIMITED_NAMED_SERVERS = 1000  # the most named_servers allows


def map_allow_named_servers(conv: Conversion, origin: str, value: Any) -> None:
    if not isinstance(value, bool):
        conv.unmapped.append(f"{origin} = {value!r} (expected true or false)")
        return
    conv.put("named_servers", UNLIMITED_NAMED_SERVERS if value else 0, origin)
    if value:
        conv.notes.append(
            f"{origin}: JupyterHub allows any number of named servers unless "
            f"named_server_limit_per_user says otherwise; Courtyard's named_servers is a "
            f"count (0 = off), set to {UNLIMITED_NAMED_SERVERS} here. Lower it to what one "
            "person should have."
        )


def map_named_server_limit(conv: Conversion, origin: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        conv.unmapped.append(f"{origin} = {value!r} (expected a count)")
    elif conv.values.get("named_servers", 0) > 0 and value > 0:
        conv.put("named_servers", min(value, UNLIMITED_NAMED_SERVERS), origin)


AUTH = ("Authenticator", "PAMAuthenticator", "LocalAuthenticator")
MAPPERS: dict[str, Mapper] = {
    **{f"{s}.admin_users": simple("admin_users", list) for s in AUTH},
    **{f"{s}.allowed_users": simple("allowed_users", list) for s in AUTH},
    **{f"{s}.whitelist": simple("allowed_users", list) for s in AUTH},
    **{f"{s}.allowed_groups": simple("allowed_groups", list) for s in AUTH},
    "LocalAuthenticator.create_system_users": simple("create_system_users", bool),
    "PAMAuthenticator.create_system_users": simple("create_system_users", bool),
    "PAMAuthenticator.service": simple("pam_service", str),
    "PAMAuthenticator.executor_threads": simple("pam_threads", int),
    "JupyterHub.admin_access": simple("admin_access", bool),
    "JupyterHub.ip": simple("ip", str),
    "JupyterHub.port": simple("port", int),
    "JupyterHub.bind_url": map_bind_url,
    "JupyterHub.ssl_cert": simple("ssl_cert", str),
    "JupyterHub.ssl_key": simple("ssl_key", str),
    "JupyterHub.db_url": map_db_url,
    "JupyterHub.authenticator_class": map_authenticator,
    "JupyterHub.spawner_class": map_spawner,
    "JupyterHub.services": map_services,
    "JupyterHub.load_roles": map_roles,
    "JupyterHub.allow_named_servers": map_allow_named_servers,
    "JupyterHub.named_server_limit_per_user": map_named_server_limit,
    "Spawner.args": map_args,
    "Spawner.notebook_dir": simple("notebook_dir", str),
    "Spawner.default_url": simple("default_url", str),
    "Spawner.environment": simple("environment", dict),
    "Spawner.env_keep": simple("env_keep", list),
    "Spawner.start_timeout": map_timeout,
    "Spawner.http_timeout": map_timeout,
    "Spawner.cmd": map_cmd,
    "Spawner.mem_limit": map_mem_limit,
    "Spawner.cpu_limit": map_cpu_limit,
    "Spawner.mem_guarantee": map_guarantee,
    "Spawner.cpu_guarantee": map_guarantee,
}
# services before load_roles (roles of the culler follow it); allowing named servers before
# their limit
ORDER = ("JupyterHub.services", "JupyterHub.allow_named_servers")


def convert(values: dict[str, Any]) -> Conversion:
    conv = Conversion()
    keys = sorted(values, key=lambda k: (k not in ORDER, list(values).index(k)))
    for key in keys:
        value = values[key]
        short = key.replace("LocalProcessSpawner.", "Spawner.")
        mapper = MAPPERS.get(short)
        if mapper is None:
            conv.unmapped.append(f"c.{key} = {value!r}")
        else:
            mapper(conv, f"c.{key}", value)
    if "auth" not in conv.values:
        conv.put("auth", "system", "JupyterHub's default authenticator is PAM")
    return conv


def render(conv: Conversion, source: str) -> str:
    lines = [
        f"# Courtyard settings converted from {source} by 'courtyard import-jupyterhub-config'.",
        "# Each line names the JupyterHub setting it came from. Check: courtyard config check",
        "",
    ]
    sections: dict[str, list[str]] = {}
    for key, value in conv.values.items():
        section, _, name = key.rpartition(".")
        line = f"{toml_key(name)} = {toml_value(value)}  # {conv.origins[key]}"
        sections.setdefault(section, []).append(line)
    lines += sections.pop("", [])
    for section, body in sections.items():
        lines += ["", f"[{section}]", *body]
    lines += ["", *toml_table_array("services", conv.services)]
    lines += toml_table_array("load_roles", conv.roles)
    lines += culler_alternative(conv)
    if conv.notes:
        lines += ["# Notes:", *(f"# - {n}" for n in conv.notes)]
    if conv.unmapped:
        lines += ["# NOT converted (no Courtyard equivalent):"]
        lines += [f"#   {u}" for u in conv.unmapped]
    return "\n".join(lines).rstrip("\n") + "\n"


def culler_alternative(conv: Conversion) -> list[str]:
    if not conv.culler_services:
        return []
    return [
        "# Idle culling: the built-in culler ([culler] above) is ACTIVE. It does what",
        "# jupyterhub-idle-culler did, inside the hub, with no API token or extra process.",
        "# Alternative: run JupyterHub's idle-culler as a hub-managed service through",
        "# Courtyard's JupyterHub-compatible REST API: set [culler] enabled = false and",
        "# uncomment these tables (needs jupyterhub-idle-culler installed for that python:",
        f"# {shlex.join(str(w) for w in conv.culler_services[0].get('command', []))}).",
        *toml_table_array("services", conv.culler_services, prefix="# "),
        *toml_table_array("load_roles", conv.culler_roles, prefix="# "),
    ]
