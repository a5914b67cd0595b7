"""The admin page (/hub/admin): every user with their server, searchable, sortable, paged.

Only admins see it; every action (admin_actions.py) checks that again on the server. Memory
and CPU are measured from /proc for the running servers on the shown page only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from courtyard.auth.principal import Principal
from courtyard.hub.usage import Usage, UsageMeter
from courtyard.hub.users import UserAdmin
from courtyard.store.records import ServerRecord, ServerState, UserRecord
from courtyard.store.store import USER_SHOWS, USER_SORTS, UserQuery
from courtyard.web.admin_limits import LIMITER, LimitCells, cells_for, gpu_rows
from courtyard.web.context import ctx, language, render
from courtyard.web.home import require_login
from courtyard.web.i18n import N_, translator

PAGE_SIZE = 50
MAX_SEARCH = 64
IDLE_AFTER = timedelta(minutes=15)  # "Idle": a running server with no activity this long
USAGE = web.AppKey("usage", UsageMeter)

NOT_ADMIN = N_("Only administrators may do this.")
NOTICES = {
    "added": N_("The users were added."),
    "started": N_("Starting the selected servers."),
    "stopped": N_("The servers were stopped."),
    "stopping": N_("The server was stopped."),
    "starting": N_("The server is starting."),
    "saved": N_("The changes were saved."),
    "deleted": N_("The user was deleted."),
    "none": N_("No user was selected."),
}


def require_admin(request: web.Request) -> Principal:
    who = require_login(request)
    if not who.admin:
        raise web.HTTPForbidden(reason=gettext(request, NOT_ADMIN))
    return who


def gettext(request: web.Request, message: str) -> str:
    return translator(language(request)).gettext(message)


def user_admin(request: web.Request) -> UserAdmin:
    c = ctx(request)
    return UserAdmin(c.settings, c.store, c.authenticator, c.sessions)


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str
    admin: bool
    state: ServerState
    started: datetime | None
    last_activity: datetime | None
    usage: Usage | None
    limits: LimitCells | None = None  # from the server's cgroup, against its limits
    named: tuple[ServerRecord, ...] = ()  # the user's named servers (named_servers)
    named_limits: dict[str, LimitCells] = field(default_factory=dict)  # by server name

    @property
    def memory(self) -> str:
        if self.limits is not None:
            return self.limits.memory
        return format_bytes(self.usage.rss_bytes) if self.usage else ""

    @property
    def cpu(self) -> str:
        if self.limits is not None:
            return self.limits.cpu
        return f"{self.usage.cpu_percent:.0f}%" if self.usage else ""


def format_bytes(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def parse_query(request: web.Request) -> tuple[UserQuery, int]:
    """The table's query from the URL, bounded; and the 1-based page number."""
    q = request.query
    sort = q.get("sort", "name")
    try:
        page = max(1, min(int(q.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    show = "running" if q.get("running") == "1" else q.get("show", "all")
    query = UserQuery(
        search=q.get("q", "").strip().lower()[:MAX_SEARCH],
        sort=sort if sort in USER_SORTS else "name",
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        show=show if show in USER_SHOWS else "all",
        idle_before=datetime.now(timezone.utc) - IDLE_AFTER,
    )
    return query, page


def listing_url(query: UserQuery, page: int, **changes: Any) -> str:
    params: dict[str, Any] = {
        "q": query.search,
        "show": query.show,
        "sort": query.sort,
        "page": page,
    }
    params.update(changes)
    defaults = {("page", 1), ("show", "all"), ("sort", "name")}
    kept = {k: v for k, v in params.items() if v not in ("", None) and (k, v) not in defaults}
    return "/hub/admin" + (f"?{urlencode(kept)}" if kept else "")


async def build_rows(
    request: web.Request, found: list[tuple[UserRecord, ServerRecord | None]]
) -> list[Row]:
    c = ctx(request)
    pids = {
        user.name: int(server.spawner_state["pid"])
        for user, server in found
        if server and server.state == "running" and server.spawner_state.get("pid")
    }
    usage = await request.app[USAGE].measured(pids.values())
    named: dict[str, list[ServerRecord]] = {}
    if c.settings.named_servers > 0:
        named = c.store.servers_by_user([user.name for user, _ in found])
    rows = []
    for user, server in found:
        state: ServerState = server.state if server else "stopped"
        route = c.servers.routes.get(user.name)
        activity = latest(user.last_activity, server.last_activity if server else None)
        if route is not None:
            activity = latest(activity, datetime.fromtimestamp(route.last_activity, timezone.utc))
        pid = pids.get(user.name)
        rows.append(
            Row(
                name=user.name,
                admin=user.admin,
                state=state,
                started=server.started if server and state != "stopped" else None,
                last_activity=activity,
                usage=usage.get(pid) if pid is not None else None,
                limits=cells_for(request, user.name) if state == "running" else None,
                named=tuple(r for r in named.get(user.name, []) if r.server),
                named_limits={
                    r.server: cells
                    for r in named.get(user.name, [])
                    if r.server
                    and r.state == "running"
                    and (cells := cells_for(request, user.name, r.server)) is not None
                },
            )
        )
    return rows


def latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


async def admin_page(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    query, page = parse_query(request)
    found = ctx(request).store.find_users(query)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    notice = NOTICES.get(request.query.get("done", ""))
    return render(
        request,
        "admin.html",
        rows=await build_rows(request, found.rows),
        query=query,
        page=page,
        pages=pages,
        total=found.total,
        back=listing_url(query, page),
        prev_url=listing_url(query, page - 1) if page > 1 else None,
        next_url=listing_url(query, page + 1) if page < pages else None,
        sort_urls={s: listing_url(query, 1, sort=s) for s in USER_SORTS},
        messages=[gettext(request, notice)] if notice else [],
        admin_access=ctx(request).settings.admin_access,
        users=user_admin(request),
        gpus=gpu_rows(request),
        limits_live=LIMITER in request.app,
        error=None,
    )


def install_meter(app: web.Application) -> None:
    """Give the app the UsageMeter that remembers CPU totals between page loads."""
    app[USAGE] = UsageMeter()
