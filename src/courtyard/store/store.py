"""The store: every query the hub makes, as small synchronous methods returning records.

The hub calls these from its event loop; each method is one short transaction (SQLite in WAL
mode answers in microseconds). Nothing outside this room sees an ORM object or a session.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Engine, Table, bindparam, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from courtyard.errors import (
    N_,
    StoreError,
    StoreUnavailableError,
    UnknownUserError,
    UserExistsError,
)
from courtyard.store import schema
from courtyard.store.models import Server, Session, User
from courtyard.store.records import (
    ServerRecord,
    ServerState,
    SessionRecord,
    UserRecord,
    as_server_state,
    server_key,
    split_server_key,
)
from courtyard.store.timestamps import from_epoch

# What the driver raises when the database cannot be reached (a restart, a network cut) or
# written (its disk is full): the callers that may go on for a moment on what the database said
# last catch exactly these, and the web layer answers them with store_unavailable()'s 503.
UNREACHABLE = (OperationalError, InterfaceError)
log = logging.getLogger("courtyard.store")
# SQLite's, the OS's and PostgreSQL's words (SQLSTATE 53100) for a full disk
DISK_FULL = ("database or disk is full", "no space left on device", "could not extend file")
DISK_FULL_MESSAGE = N_(
    "The hub cannot save anything right now: the disk that holds its state has no space left. "
    "Servers already running keep working; try again once an administrator has freed space."
)
UNREACHABLE_MESSAGE = N_(
    "The hub cannot reach its database right now. Servers already running keep working; "
    "try again in a moment."
)
TROUBLE_LOG_EVERY = 300.0  # seconds: one log line per kind of trouble, not one per request
_trouble_logged: dict[str, float] = {}

Clock = Callable[[], float]
USER_SORTS = ("name", "activity")
USER_SHOWS = ("all", "running", "idle", "admin")
USER_EXISTS = N_("user {name!r} already exists")
NO_SUCH_USER = N_("no user named {name!r}")


@dataclass(frozen=True)
class UserQuery:
    """What the admin page asks for: a name substring, which users (``show``, one of
    USER_SHOWS: everyone, those with a running server, those whose running server has had
    no activity since ``idle_before``, admins; ``running_only`` is ``show="running"``), a
    sort key (one of USER_SORTS), and a page (``offset``/``limit``)."""

    search: str = ""
    running_only: bool = False
    sort: str = "name"
    offset: int = 0
    limit: int = 50
    show: str = "all"
    idle_before: datetime | None = None


@dataclass(frozen=True)
class ApiUserQuery:
    """What ``GET /hub/api/users`` asks for, all of it done in SQL: ``names`` (None: every
    user; else only these, the caller's filtered ``list:users``), a name substring, a state
    (one of API_STATES, "" any), a sort (one of API_SORTS) and a page."""

    names: frozenset[str] | None = None
    name_filter: str = ""
    state: str = ""
    sort: str = "name"
    offset: int = 0
    limit: int = 200


ACTIVE_STATES = ("starting", "running", "stopping")
API_STATES = {"active": ACTIVE_STATES, "ready": ("running",), "inactive": ACTIVE_STATES}
API_SORTS = ("id", "-id", "name", "-name", "last_activity", "-last_activity", "created", "-created")


@dataclass(frozen=True)
class ServerActivity:
    """A server's stored activity and start, and whether its owner is an admin."""

    last_activity: datetime | None
    started: datetime | None
    admin: bool


@dataclass(frozen=True)
class UserPage:
    rows: list[tuple[UserRecord, ServerRecord | None]]
    total: int


class Unset:
    """Marks a keyword left out of ``save_server`` (None is a value there)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


def user_record(row: User) -> UserRecord:
    return UserRecord(
        id=row.id,
        name=row.name,
        admin=row.admin,
        kind=row.kind,
        created=row.created,
        last_activity=row.last_activity,
        password_hash=row.password_hash,
    )


def server_record(row: Server, owner: str) -> ServerRecord:
    return ServerRecord(
        user=owner,
        state=as_server_state(row.state),
        started=row.started,
        last_activity=row.last_activity,
        spawner_state=json.loads(row.spawner_state),
        endpoint=json.loads(row.endpoint) if row.endpoint else None,
        stop_reason=row.stop_reason,
        secret=row.secret,
        server=row.name,
        user_options=json.loads(row.user_options or "{}"),
        display_name=row.display_name or "",
    )


def session_record(row: Session, owner: User) -> SessionRecord:
    return SessionRecord(
        id_hash=row.id_hash,
        user=owner.name,
        admin=owner.admin,
        created=row.created,
        expires=row.expires,
        last_seen=row.last_seen,
        user_agent=row.user_agent,
        ip=row.ip,
    )


class Store:
    """The hub's database. Build with ``Store.open(url)``; ``close()`` when done."""

    def __init__(self, engine: Engine, *, clock: Clock = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, clock: Clock = time.time) -> Store:
        """Open (creating if needed) the database at ``url`` and migrate it to the newest
        schema. Raises StoreError saying what failed and what to check."""
        from alembic.util import CommandError

        shown = describe(url)
        try:
            engine = schema.make_engine(url)
            schema.upgrade(engine)
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"cannot open the database {shown}: its driver {exc.name!r} is not installed. "
                "Courtyard supports SQLite and PostgreSQL; for PostgreSQL install "
                "courtyard[postgres] and write postgresql+psycopg://user:password@host/db.",
                detail=repr(exc),
            ) from exc
        except CommandError as exc:
            raise StoreError(
                f"cannot migrate the database {shown}: {exc}. Was it made by a newer Courtyard?"
                " Upgrade Courtyard, or point database_url at another database.",
                detail=repr(exc),
            ) from exc
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(
                f"cannot open the database {shown}: {first_line(exc)}. "
                "Check the setting database_url and that the server/file is reachable.",
                detail=repr(exc),
            ) from exc
        return cls(engine, clock=clock)

    @classmethod
    def attach(cls, url: str) -> Store:
        """The database a running hub opened (and migrated): for its proxy workers, which
        only read sessions and tokens (and stamp their last use)."""
        return cls(schema.make_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> datetime:
        return from_epoch(self.clock())

    @contextmanager
    def transaction(self) -> Iterator[OrmSession]:
        with self._sessions.begin() as session:
            yield session

    # users ------------------------------------------------------------------------------

    def get_user(self, name: str) -> UserRecord | None:
        with self.transaction() as db:
            row = db.scalar(select(User).where(User.name == name))
            return user_record(row) if row else None

    def add_user(
        self,
        name: str,
        *,
        admin: bool = False,
        password_hash: str | None = None,
        kind: str = "user",
    ) -> UserRecord:
        """Add a user; raises UserExistsError if the name is taken."""
        row = User(
            name=name, admin=admin, kind=kind, created=self.now(), password_hash=password_hash
        )
        try:
            with self.transaction() as db:
                db.add(row)
                db.flush()
                return user_record(row)
        except IntegrityError as exc:
            raise UserExistsError(USER_EXISTS, params={"name": name}) from exc

    def ensure_user(self, name: str, *, admin: bool = False) -> UserRecord:
        """The user named ``name``, added first if missing (admin only applies when added)."""
        found = self.get_user(name)
        if found is not None:
            return found
        try:
            return self.add_user(name, admin=admin)
        except UserExistsError:  # added concurrently by another worker
            return self.require_user(name)

    def require_user(self, name: str) -> UserRecord:
        found = self.get_user(name)
        if found is None:
            raise UnknownUserError(NO_SUCH_USER, params={"name": name})
        return found

    def delete_user(self, name: str) -> bool:
        """Delete a user with their server, sessions, tokens and memberships. False if absent."""
        with self.transaction() as db:
            result = db.execute(delete(User).where(User.name == name))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def list_users(
        self, *, admin: bool | None = None, offset: int = 0, limit: int | None = None
    ) -> list[UserRecord]:
        """Users ordered by name; ``admin`` filters, ``offset``/``limit`` paginate."""
        query = (
            select(User).where(*admin_filter(admin)).order_by(User.name).offset(offset).limit(limit)
        )
        with self.transaction() as db:
            return [user_record(row) for row in db.scalars(query)]

    def count_users(self, *, admin: bool | None = None) -> int:
        query = select(func.count(User.id)).where(*admin_filter(admin))
        with self.transaction() as db:
            return int(db.scalar(query) or 0)

    def find_users(self, query: UserQuery) -> UserPage:
        """One page of users with their servers, filtered and sorted as ``query`` says, and
        how many users match in all (two indexed/LIMITed queries, fast at 10,000 users)."""
        conditions = user_query_conditions(query)
        rows = (
            select(User, Server)
            .outerjoin(Server, (Server.user_id == User.id) & (Server.name == ""))
            .where(*conditions)
            .order_by(*user_query_order(query.sort))
            .offset(query.offset)
            .limit(query.limit)
        )
        count = select(func.count(User.id)).outerjoin(
            Server, (Server.user_id == User.id) & (Server.name == "")
        )
        with self.transaction() as db:
            found = [
                (user_record(user), server_record(server, user.name) if server else None)
                for user, server in db.execute(rows)
            ]
            total = int(db.scalar(count.where(*conditions)) or 0)
        return UserPage(found, total)

    def page_users(self, query: ApiUserQuery) -> tuple[list[UserRecord], int]:
        """One page of users as the REST API lists them, and how many match in all: two
        queries whatever the page, filtered, sorted and cut in SQL (ties broken by id, so
        paging with offsets returns each user exactly once)."""
        conditions = api_user_conditions(query)
        rows = (
            select(User)
            .where(*conditions)
            .order_by(*api_user_order(query.sort))
            .offset(query.offset)
            .limit(query.limit)
        )
        count = select(func.count(User.id)).where(*conditions)
        with self.transaction() as db:
            found = [user_record(row) for row in db.scalars(rows)]
            total = int(db.scalar(count) or 0)
        return found, total

    def rename_user(self, name: str, new_name: str) -> UserRecord:
        """Rename a user (UnknownUserError if absent, UserExistsError if taken)."""
        try:
            with self.transaction() as db:
                row = db.scalar(select(User).where(User.name == name))
                if row is None:
                    raise UnknownUserError(NO_SUCH_USER, params={"name": name})
                row.name = new_name
                db.flush()
                return user_record(row)
        except IntegrityError as exc:
            raise UserExistsError(USER_EXISTS, params={"name": new_name}) from exc

    def set_admin(self, name: str, admin: bool) -> UserRecord:
        return self._update_user(name, admin=admin)

    def set_password_hash(self, name: str, password_hash: str | None) -> UserRecord:
        return self._update_user(name, password_hash=password_hash)

    def _update_user(self, name: str, **values: Any) -> UserRecord:
        with self.transaction() as db:
            row = db.scalar(select(User).where(User.name == name))
            if row is None:
                raise UnknownUserError(NO_SUCH_USER, params={"name": name})
            for key, value in values.items():
                setattr(row, key, value)
            return user_record(row)

    def record_activity(self, stamps: Mapping[str, datetime], *, servers: bool = True) -> None:
        """Move last_activity forward to the given times; older stamps and unknown names are
        ignored. Keys are server keys (``alice`` or ``alice/torch``, see records.server_key):
        the user's stamp moves, and with ``servers`` that one server's too."""
        users: dict[str, datetime] = {}
        rows = []
        for key, when in stamps.items():
            name, server = split_server_key(key)
            users[name] = max(when, users.get(name, when))
            rows.append({"_n": name, "_s": server, "_w": when})
        if not rows:
            return
        with self.transaction() as db:  # two statements, each run for every stamp at once
            connection = db.connection()
            connection.execute(
                _USER_ACTIVITY, [{"_n": name, "_w": when} for name, when in users.items()]
            )
            if servers:
                connection.execute(_SERVER_ACTIVITY, rows)

    # servers ----------------------------------------------------------------------------

    def get_server(self, name: str, server: str = "") -> ServerRecord | None:
        """User ``name``'s server ``server`` ("" the default), or None if never saved."""
        query = select(Server).join(User).where(User.name == name, Server.name == server)
        with self.transaction() as db:
            row = db.scalar(query)
            return server_record(row, name) if row else None

    def save_server(
        self,
        name: str,
        server: str = "",
        *,
        state: ServerState | Unset = UNSET,
        spawner_state: Mapping[str, Any] | Unset = UNSET,
        endpoint: Mapping[str, Any] | Unset | None = UNSET,
        secret: str | Unset = UNSET,
        started: datetime | Unset | None = UNSET,
        last_activity: datetime | Unset | None = UNSET,
        stop_reason: str | Unset | None = UNSET,
        user_options: Mapping[str, Any] | Unset = UNSET,
        display_name: str | Unset = UNSET,
    ) -> ServerRecord:
        """Create or update user ``name``'s server ``server``; only the keywords given change.
        Raises UnknownUserError if the user does not exist."""
        values = server_values(
            state=state,
            spawner_state=spawner_state,
            endpoint=endpoint,
            secret=secret,
            started=started,
            last_activity=last_activity,
            stop_reason=stop_reason,
            user_options=user_options,
            display_name=display_name,
        )
        with self.transaction() as db:
            if values:  # the row usually exists: one UPDATE ... RETURNING (half the cost of
                # loading user and row and flushing: the culler writes two per server stopped)
                query = (
                    update(Server)
                    .where(Server.user_id == user_id_query(name), Server.name == server)
                    .values(**values)
                    .returning(Server)
                )
                updated = db.scalar(query)
                if updated is not None:
                    return server_record(updated, name)
            user = db.scalar(select(User).where(User.name == name))
            if user is None:
                raise UnknownUserError(NO_SUCH_USER, params={"name": name})
            row = db.scalar(select(Server).where(Server.user_id == user.id, Server.name == server))
            if row is None:
                row = Server(
                    user_id=user.id,
                    name=server,
                    state="stopped",
                    spawner_state="{}",
                    secret="",
                    user_options="{}",
                    display_name="",
                )
                db.add(row)
            for key, value in values.items():
                setattr(row, key, value)
            db.flush()
            return server_record(row, name)

    def save_servers(self, changes: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Many servers' rows updated in one transaction: ``(user, server, values)`` with the
        keywords of save_server, applied in order (several changes of one server merge, the
        later winning). Rows that do not exist are left alone (these are updates of servers
        the hub knows, e.g. the culler stopping 500 at once: one statement per kind of change,
        not two per server)."""
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for name, server, given in changes:
            merged.setdefault((name, server), {}).update(given)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for (name, server), given in merged.items():
            values = server_values(**given)
            if values:
                keys = tuple(sorted(values))
                row = {"_n": name, "_s": server} | {f"_v_{k}": v for k, v in values.items()}
                groups.setdefault(keys, []).append(row)
        if not groups:
            return
        with self.transaction() as db:
            connection = db.connection()
            for keys, rows in groups.items():
                statement = (
                    update(_SERVERS)
                    .where(_SERVER_OF_NAMES)
                    .values({key: bindparam(f"_v_{key}") for key in keys})
                )
                connection.execute(statement, rows)

    def rename_server(self, name: str, server: str, new: str) -> bool:
        """Rename user ``name``'s named server (its row); False if ``server`` is absent.
        Raises UserExistsError when ``new`` is taken."""
        query = (
            update(Server)
            .where(Server.user_id == user_id_query(name), Server.name == server)
            .values(name=new)
        )
        try:
            with self.transaction() as db:
                return bool(db.execute(query).rowcount)  # type: ignore[attr-defined]
        except IntegrityError as exc:
            raise UserExistsError(f"{name} already has a server named {new!r}") from exc

    def delete_server(self, name: str, server: str) -> bool:
        """Forget user ``name``'s named server ``server`` (its row); False if absent."""
        query = delete(Server).where(Server.user_id == user_id_query(name), Server.name == server)
        with self.transaction() as db:
            return bool(db.execute(query).rowcount)  # type: ignore[attr-defined]

    def list_servers(
        self, states: Iterable[ServerState] | None = None, *, user: str | None = None
    ) -> list[ServerRecord]:
        """Saved servers (ordered by owner, then server name), optionally only those in
        ``states`` or of one ``user``."""
        query = select(Server, User.name).join(User).order_by(User.name, Server.name)
        if states is not None:
            query = query.where(Server.state.in_(list(states)))
        if user is not None:
            query = query.where(User.name == user)
        with self.transaction() as db:
            return [server_record(row, owner) for row, owner in db.execute(query)]

    def server_activity(self) -> dict[str, ServerActivity]:
        """What the culler needs of every starting, running or stopping server, by server
        key (``alice``, ``alice/torch``): one query, however many servers run."""
        query = (
            select(User.name, Server.name, Server.last_activity, Server.started, User.admin)
            .join(User, Server.user_id == User.id)
            .where(Server.state.in_(ACTIVE_STATES))
        )
        with self.transaction() as db:
            return {
                server_key(user, server): ServerActivity(activity, started, bool(admin))
                for user, server, activity, started, admin in db.execute(query)
            }

    def servers_by_user(self, names: Iterable[str]) -> dict[str, list[ServerRecord]]:
        """The saved servers of each of ``names`` (one query), by owner."""
        wanted = list(names)
        found: dict[str, list[ServerRecord]] = {name: [] for name in wanted}
        if not wanted:
            return found
        query = (
            select(Server, User.name)
            .join(User)
            .where(User.name.in_(wanted))
            .order_by(User.name, Server.name)
        )
        with self.transaction() as db:
            for row, owner in db.execute(query):
                found[owner].append(server_record(row, owner))
        return found

    # sessions ---------------------------------------------------------------------------

    def create_session(
        self, id_hash: str, name: str, *, expires: datetime, user_agent: str = "", ip: str = ""
    ) -> SessionRecord:
        """Store a login for user ``name`` (UnknownUserError if absent). ``user_agent`` and
        ``ip`` are cut to their column sizes."""
        now = self.now()
        with self.transaction() as db:
            user = db.scalar(select(User).where(User.name == name))
            if user is None:
                raise UnknownUserError(NO_SUCH_USER, params={"name": name})
            row = Session(
                id_hash=id_hash,
                user_id=user.id,
                created=now,
                expires=expires,
                last_seen=now,
                user_agent=user_agent[:255],
                ip=ip[:64],
            )
            db.add(row)
            db.flush()
            return session_record(row, user)

    def get_session(self, id_hash: str) -> SessionRecord | None:
        """The session with this hash, expired or not (the caller compares ``expires``)."""
        query = select(Session, User).join(User).where(Session.id_hash == id_hash)
        with self.transaction() as db:
            found = db.execute(query).first()
            return session_record(*found) if found else None

    def touch_session(self, id_hash: str, when: datetime | None = None) -> None:
        """Set a session's last_seen (now by default)."""
        with self.transaction() as db:
            db.execute(
                update(Session)
                .where(Session.id_hash == id_hash)
                .values(last_seen=when or self.now())
            )

    def delete_session(self, id_hash: str) -> bool:
        with self.transaction() as db:
            result = db.execute(delete(Session).where(Session.id_hash == id_hash))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete_sessions_for_user(self, name: str) -> list[str]:
        """Log user ``name`` out everywhere; returns the deleted sessions' hashes."""
        with self.transaction() as db:
            hashes = list(
                db.scalars(select(Session.id_hash).where(Session.user_id == user_id_query(name)))
            )
            db.execute(delete(Session).where(Session.id_hash.in_(hashes)))
            return hashes

    def purge_expired_sessions(self, now: datetime | None = None) -> int:
        """Delete sessions that expired before ``now``; returns how many."""
        with self.transaction() as db:
            result = db.execute(delete(Session).where(Session.expires <= (now or self.now())))
            return int(result.rowcount)  # type: ignore[attr-defined]


def user_query_conditions(query: UserQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.search:
        conditions.append(User.name.like(f"%{like_escaped(query.search)}%", escape="\\"))
    show = "running" if query.running_only else query.show
    if show in ("running", "idle"):
        conditions.append(Server.state.in_(ACTIVE_STATES))
    if show == "idle" and query.idle_before is not None:
        stamp = func.coalesce(Server.last_activity, Server.started)
        conditions.append(stamp.is_(None) | (stamp < query.idle_before))
    if show == "admin":
        conditions.append(User.admin.is_(True))
    return conditions


def api_user_conditions(query: ApiUserQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.names is not None:
        conditions.append(User.name.in_(sorted(query.names)))
    if query.name_filter:
        pattern = f"%{like_escaped(query.name_filter)}%"
        conditions.append(User.name.like(pattern, escape="\\"))
    if query.state:
        has = exists().where(Server.user_id == User.id, Server.state.in_(API_STATES[query.state]))
        conditions.append(~has if query.state == "inactive" else has)
    return conditions


def api_user_order(sort: str) -> list[Any]:
    column = {
        "id": User.id,
        "name": User.name,
        "created": User.created,
        "last_activity": User.last_activity,
    }[sort.lstrip("-")]
    if sort.startswith("-"):
        return [column.desc().nulls_last(), User.id.desc()]
    return [column.asc().nulls_first(), User.id]


def like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def user_query_order(sort: str) -> list[Any]:
    if sort == "activity":
        return [User.last_activity.desc().nulls_last(), User.name]
    return [User.name]


def admin_filter(admin: bool | None) -> list[ColumnElement[bool]]:
    return [] if admin is None else [User.admin == admin]


# Statements run with many parameter sets at once (executemany): bound by name, built once.
_USERS = cast(Table, User.__table__)
_SERVERS = cast(Table, Server.__table__)
_USER_ID_OF_NAME = select(_USERS.c.id).where(_USERS.c.name == bindparam("_n")).scalar_subquery()
_SERVER_OF_NAMES = (_SERVERS.c.user_id == _USER_ID_OF_NAME) & (_SERVERS.c.name == bindparam("_s"))
_USER_ACTIVITY = (
    update(_USERS)
    .where(_USERS.c.name == bindparam("_n"))
    .where(_USERS.c.last_activity.is_(None) | (_USERS.c.last_activity < bindparam("_w")))
    .values(last_activity=bindparam("_w"))
)
_SERVER_ACTIVITY = (
    update(_SERVERS)
    .where(_SERVER_OF_NAMES)
    .where(_SERVERS.c.last_activity.is_(None) | (_SERVERS.c.last_activity < bindparam("_w")))
    .values(last_activity=bindparam("_w"))
)


def user_id_query(name: str) -> Any:
    return select(User.id).where(User.name == name).scalar_subquery()


def server_values(**given: Any) -> dict[str, Any]:
    values = {key: value for key, value in given.items() if not isinstance(value, Unset)}
    if "spawner_state" in values:
        values["spawner_state"] = json.dumps(dict(values["spawner_state"]), sort_keys=True)
    if "user_options" in values:
        values["user_options"] = json.dumps(dict(values["user_options"]), sort_keys=True)
    if "endpoint" in values and values["endpoint"] is not None:
        values["endpoint"] = json.dumps(dict(values["endpoint"]), sort_keys=True)
    return values


def describe(url: str) -> str:
    try:
        return repr(schema.describe_url(url))
    except SQLAlchemyError:
        return "(an unparsable database_url)"


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def store_unavailable(exc: BaseException, now: Callable[[], float] = time.monotonic) -> StoreError:
    """The person-facing error for a database that cannot be reached or written (``exc`` is
    one of UNREACHABLE). Logged once per kind of trouble every ``TROUBLE_LOG_EVERY`` seconds."""
    text = first_line(exc)
    full = any(words in text.lower() for words in DISK_FULL)
    kind = "disk full" if full else "unreachable"
    last = _trouble_logged.get(kind)
    if last is None or now() - last >= TROUBLE_LOG_EVERY:
        _trouble_logged[kind] = now()
        log.error("database %s: %s (answering 503 until it recovers; logged again in at most "
                  "%.0f minutes if it lasts)", kind, text, TROUBLE_LOG_EVERY / 60)  # fmt: skip
    return StoreUnavailableError(DISK_FULL_MESSAGE if full else UNREACHABLE_MESSAGE, detail=text)
