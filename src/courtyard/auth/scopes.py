"""JupyterHub's scopes: names, hierarchy, filters, and the checks the API makes.

A scope is ``base`` or ``base!filter`` where filter is ``user=<name>``, ``group=<name>``,
``server=<user>/<server>`` or ``service=<name>``. Expansion turns roles' raw scopes into the
full set they imply (``users`` -> ``read:users`` -> ``read:users:name`` ..., keeping the
filter); ``self`` and the bare ``!user`` / ``!server`` filters are resolved against the
owner. Group filters are resolved to the groups' current members (``!user=`` filters), so a
check is only set membership: cheap enough for the proxy's hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

# name -> (description, subscopes); after JupyterHub's scope table
SCOPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "self": ("Your own resources (resolves to your user-filtered scopes).", ()),
    "inherit": ("Everything the token's owner can access.", ()),
    "admin-ui": ("Access the admin page.", ()),
    "admin:users": (
        "Read, modify, create and delete users (not their servers or tokens).",
        ("admin:auth_state", "users", "read:roles:users", "delete:users"),
    ),
    "admin:auth_state": ("Read a user's authentication state.", ()),
    "users": (
        "Read and write user models (no servers, tokens, auth state).",
        ("read:users", "list:users", "users:activity"),
    ),
    "delete:users": ("Delete users.", ()),
    "list:users": ("List users, including at least their names.", ("read:users:name",)),
    "read:users": (
        "Read user models (no servers, tokens, auth state).",
        ("read:users:name", "read:users:groups", "read:users:activity"),
    ),
    "read:users:name": ("Read names of users.", ()),
    "read:users:groups": ("Read users' group membership.", ()),
    "read:users:activity": ("Read time of last user activity.", ()),
    "read:roles": (
        "Read role assignments.",
        ("read:roles:users", "read:roles:services", "read:roles:groups"),
    ),
    "read:roles:users": ("Read user role assignments.", ()),
    "read:roles:services": ("Read service role assignments.", ()),
    "read:roles:groups": ("Read group role assignments.", ()),
    "users:activity": ("Update time of last user activity.", ("read:users:activity",)),
    "admin:servers": (
        "Read, start, stop, create and delete user servers and their state.",
        ("admin:server_state", "servers"),
    ),
    "admin:server_state": ("Read and write users' server state.", ()),
    "servers": (
        "Start and stop user servers.",
        ("read:servers", "start:servers", "delete:servers"),
    ),
    "start:servers": ("Start and edit users' servers (JupyterHub 6).", ()),
    "read:servers": ("Read users' names and their server models.", ("read:users:name",)),
    "delete:servers": ("Stop and delete users' servers.", ()),
    "tokens": ("Read, write, create and delete user tokens.", ("read:tokens",)),
    "read:tokens": ("Read user tokens.", ()),
    "admin:groups": (
        "Read and write group information, create and delete groups.",
        ("groups", "read:roles:groups", "delete:groups"),
    ),
    "groups": (
        "Read and write group information, including membership.",
        ("read:groups", "list:groups"),
    ),
    "list:groups": ("List groups, including at least their names.", ("read:groups:name",)),
    "read:groups": ("Read group models.", ("read:groups:name",)),
    "read:groups:name": ("Read group names.", ()),
    "delete:groups": ("Delete groups.", ()),
    "admin:services": (
        "Create, read, update, delete services (not those defined in the settings).",
        ("list:services", "read:services", "read:roles:services"),
    ),
    "list:services": ("List services, including at least their names.", ("read:services:name",)),
    "read:services": ("Read service models.", ("read:services:name",)),
    "read:services:name": ("Read service names.", ()),
    "read:hub": ("Read detailed information about the Hub.", ()),
    "access:servers": ("Access user servers via API or browser.", ()),
    "access:services": ("Access services via API or browser.", ()),
    "shares": (
        "Manage access to shared servers.",
        ("access:servers", "read:shares", "users:shares", "groups:shares"),
    ),
    "read:shares": ("Read information about shared access to servers.", ()),
    "users:shares": ("Read and revoke a user's access to shared servers.", ("read:users:shares",)),
    "read:users:shares": ("Read servers shared with a user.", ()),
    "groups:shares": (
        "Read and revoke a group's access to shared servers.",
        ("read:groups:shares",),
    ),
    "read:groups:shares": ("Read servers shared with a group.", ()),
    "proxy": ("Read the proxy's routing table.", ()),
    "shutdown": ("Shut down the hub.", ()),
    "read:metrics": ("Read Prometheus metrics.", ()),
}

SELF_SCOPES = (
    "read:users",
    "read:users:name",
    "read:users:groups",
    "users:activity",
    "read:users:activity",
    "servers",
    "start:servers",
    "delete:servers",
    "read:servers",
    "tokens",
    "read:tokens",
    "access:servers",
    "read:shares",
    "users:shares",
    "read:users:shares",
)
FILTER_KINDS = ("user", "group", "server", "service")
Members = Callable[[str], Iterable[str]]  # group name -> its users' names


def split(scope: str) -> tuple[str, str]:
    """``"read:users!user=alice"`` -> ``("read:users", "user=alice")``; no filter -> ``""``."""
    base, _, filt = scope.partition("!")
    return base, filt


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes that are not well formed names of known scopes (with a valid filter)."""
    bad = []
    for scope in scopes:
        base, filt = split(scope)
        kind, eq, value = filt.partition("=")
        filter_ok = not filt or (kind in FILTER_KINDS and (bool(value) or not eq))
        if base not in SCOPES or not filter_ok:
            bad.append(scope)
    return bad


def expand(
    raw: Iterable[str], *, owner: str | None, owner_kind: str = "user", members: Members
) -> frozenset[str]:
    """Every scope ``raw`` implies for ``owner`` (a user or service name)."""
    out: set[str] = set()
    for scope in raw:
        if scope == "self":
            if owner_kind == "user" and owner:
                for name in SELF_SCOPES:
                    out |= expand_one(f"{name}!user={owner}")
            continue
        out.update(expand_one(resolve_bare_filter(scope, owner)))
    for scope in list(out):
        base, filt = split(scope)
        if filt.startswith("group="):
            out.update(f"{base}!user={name}" for name in members(filt[6:]))
    return frozenset(out)


def resolve_bare_filter(scope: str, owner: str | None) -> str:
    base, filt = split(scope)
    if filt == "user":
        return f"{base}!user={owner}"
    if filt == "server":
        return f"{base}!server={owner}/"
    return scope


def expand_one(scope: str) -> set[str]:
    base, filt = split(scope)
    suffix = f"!{filt}" if filt else ""
    found = {scope}
    for sub in SCOPES.get(base, ("", ()))[1]:
        found |= expand_one(sub + suffix)
    return found


def intersect(token: frozenset[str], owner: frozenset[str]) -> frozenset[str]:
    """What a token may do: its scopes, cut down to what its owner holds."""
    owner_bases = {s for s in owner if "!" not in s}
    out: set[str] = set()
    for scope in token:
        base, filt = split(scope)
        if base in owner_bases or scope in owner:
            out.add(scope)
        elif not filt:
            out.update(s for s in owner if split(s)[0] == base)
        elif filt.startswith("server=") and f"{base}!user={filt[7:].split('/')[0]}" in owner:
            out.add(scope)
    return frozenset(out)


def exceeding(requested: frozenset[str], owner: frozenset[str]) -> list[str]:
    """Requested (expanded) scopes the owner does not hold, sorted."""
    return sorted(requested - intersect(requested, owner))


def allows(scopes: frozenset[str], base: str, user: str | None = None, server: str = "") -> bool:
    """Whether ``scopes`` grant ``base`` for ``user`` (or unfiltered, when user is None);
    a ``!server=`` filter must name ``user``'s server ``server`` ("" the default one)."""
    if base in scopes:
        return True
    if user is None:
        return False
    return f"{base}!user={user}" in scopes or f"{base}!server={user}/{server}" in scopes


def users_allowed(scopes: frozenset[str], base: str) -> frozenset[str] | None:
    """The users ``scopes`` grant ``base`` for: None when unfiltered (every user), else the
    names in its ``!user=`` and ``!server=`` filters (group filters are expanded to users
    already, see ``expand``). What a list query filters on, in SQL."""
    if base in scopes:
        return None
    names = set()
    for scope in scopes:
        found, filt = split(scope)
        if found != base:
            continue
        if filt.startswith("user="):
            names.add(filt[5:])
        elif filt.startswith("server="):
            names.add(filt[7:].split("/")[0])
    return frozenset(names)


def has_any(scopes: frozenset[str], base: str) -> bool:
    """Whether ``scopes`` hold ``base`` at all, with any filter."""
    return any(s == base or s.startswith(base + "!") for s in scopes)


def describe(scopes: Mapping[str, tuple[str, tuple[str, ...]]] = SCOPES) -> dict[str, str]:
    return {name: text for name, (text, _) in scopes.items()}
