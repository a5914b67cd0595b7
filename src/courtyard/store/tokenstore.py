"""API tokens and groups in the store: queries over the ``api_tokens``, ``groups`` and
``user_group`` tables (made by migration 0001), composed over a ``Store``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from courtyard.errors import UnknownUserError, UserExistsError
from courtyard.store.models import ApiToken, Group, User, UserGroup
from courtyard.store.store import NO_SUCH_USER, Store


@dataclass(frozen=True)
class TokenRecord:
    """An API token of a user. ``hash`` is sha256 of the token; the token is never stored."""

    id: int
    user: str
    note: str
    scopes: tuple[str, ...]
    created: datetime
    expires: datetime | None
    last_activity: datetime | None
    prefix: str
    hash: str = field(repr=False, default="")


def token_record(row: ApiToken, owner: str) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        user=owner,
        note=row.note,
        scopes=tuple(json.loads(row.scopes)),
        created=row.created,
        expires=row.expires,
        last_activity=row.last_activity,
        prefix=row.prefix,
        hash=row.hash,
    )


class TokenStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        user: str,
        token_hash: str,
        prefix: str,
        *,
        note: str,
        scopes: list[str],
        expires: datetime | None,
    ) -> TokenRecord:
        with self.store.transaction() as db:
            owner = db.scalar(select(User).where(User.name == user))
            if owner is None:
                raise UnknownUserError(NO_SUCH_USER, params={"name": user})
            row = ApiToken(
                user_id=owner.id,
                hash=token_hash,
                prefix=prefix,
                note=note,
                created=self.store.now(),
                expires=expires,
                scopes=json.dumps(sorted(scopes)),
            )
            db.add(row)
            db.flush()
            return token_record(row, user)

    def by_hash(self, token_hash: str) -> TokenRecord | None:
        query = select(ApiToken, User.name).join(User).where(ApiToken.hash == token_hash)
        with self.store.transaction() as db:
            found = db.execute(query).first()
            return token_record(*found) if found else None

    def of_user(self, user: str) -> list[TokenRecord]:
        query = (
            select(ApiToken, User.name).join(User).where(User.name == user).order_by(ApiToken.id)
        )
        with self.store.transaction() as db:
            return [token_record(row, name) for row, name in db.execute(query)]

    def delete(self, user: str, token_id: int) -> TokenRecord | None:
        query = (
            select(ApiToken, User.name)
            .join(User)
            .where(User.name == user)
            .where(ApiToken.id == token_id)
        )
        with self.store.transaction() as db:
            found = db.execute(query).first()
            if found is None:
                return None
            db.execute(delete(ApiToken).where(ApiToken.id == token_id))
            return token_record(*found)

    def touch(self, token_id: int, when: datetime) -> None:
        with self.store.transaction() as db:
            db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_activity=when))


@dataclass(frozen=True)
class GroupListed:
    """A group as ``GET /hub/api/groups`` lists it."""

    name: str
    properties: dict[str, Any]
    users: list[str]


class GroupStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def names(self) -> list[str]:
        with self.store.transaction() as db:
            return list(db.scalars(select(Group.name).order_by(Group.name)))

    def members(self, group: str) -> list[str] | None:
        """The sorted member names of ``group``, or None if there is no such group."""
        with self.store.transaction() as db:
            gid = db.scalar(select(Group.id).where(Group.name == group))
            if gid is None:
                return None
            query = select(User.name).join(UserGroup, UserGroup.user_id == User.id)
            return list(db.scalars(query.where(UserGroup.group_id == gid).order_by(User.name)))

    def properties(self, groups: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The properties of each of ``groups`` that exists (one query)."""
        wanted = list(groups)
        if not wanted:
            return {}
        query = select(Group.name, Group.properties).where(Group.name.in_(wanted))
        with self.store.transaction() as db:
            return {name: json.loads(text or "{}") for name, text in db.execute(query)}

    def set_properties(self, group: str, properties: Mapping[str, Any]) -> bool:
        """Replace ``group``'s properties (JupyterHub's PUT); False if there is no such group."""
        text = json.dumps(dict(properties), sort_keys=True)
        query = update(Group).where(Group.name == group).values(properties=text)
        with self.store.transaction() as db:
            return bool(db.execute(query).rowcount)  # type: ignore[attr-defined]

    def listing(
        self, names: frozenset[str] | None = None, offset: int = 0, limit: int | None = None
    ) -> tuple[list[GroupListed], int]:
        """One page of groups (by name; ``names`` None: every group, else only these) with
        each one's properties and sorted members, and how many groups there are in all:
        three queries in one transaction (the groups, their count, their members by id)."""
        conditions = [] if names is None else [Group.name.in_(sorted(names))]
        query = select(Group.id, Group.name, Group.properties).where(*conditions)
        count = select(func.count(Group.id)).where(*conditions)
        with self.store.transaction() as db:
            conn = db.connection()  # Core rows: ORM row loading was ~40 % of the members' cost
            shown = list(conn.execute(query.order_by(Group.name).offset(offset).limit(limit)))
            total = int(conn.scalar(count) or 0)
            members: dict[int, list[str]] = {gid: [] for gid, _, _ in shown}
            if shown:
                who = (
                    select(UserGroup.group_id, User.name)
                    .join(User, UserGroup.user_id == User.id)
                    .where(UserGroup.group_id.in_(list(members)))
                )  # sorted below, not in SQL: a sort of the whole join was a third of it
                for gid, member in conn.execute(who):
                    members[gid].append(member)
        listed = []
        for gid, name, text in shown:
            members[gid].sort()
            listed.append(GroupListed(name, json.loads(text or "{}"), members[gid]))
        return listed, total

    def of_users(self, users: Iterable[str]) -> dict[str, list[str]]:
        """The sorted group names of each of ``users`` (one query)."""
        wanted = sorted(set(users))
        found: dict[str, list[str]] = {name: [] for name in wanted}
        if not wanted:
            return found
        query = (
            select(User.name, Group.name)
            .select_from(UserGroup)
            .join(Group, UserGroup.group_id == Group.id)
            .join(User, UserGroup.user_id == User.id)
            .where(User.name.in_(wanted))
            .order_by(User.name, Group.name)
        )
        with self.store.transaction() as db:
            for user, group in db.execute(query):
                found[user].append(group)
        return found

    def of_user(self, user: str) -> list[str]:
        query = (
            select(Group.name)
            .join(UserGroup, UserGroup.group_id == Group.id)
            .join(User, UserGroup.user_id == User.id)
            .where(User.name == user)
            .order_by(Group.name)
        )
        with self.store.transaction() as db:
            return list(db.scalars(query))

    def create(self, group: str) -> None:
        try:
            with self.store.transaction() as db:
                db.add(Group(name=group))
        except IntegrityError as exc:
            raise UserExistsError(f"Group {group} already exists") from exc

    def delete(self, group: str) -> bool:
        with self.store.transaction() as db:
            result = db.execute(delete(Group).where(Group.name == group))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def add_members(self, group: str, users: list[str]) -> None:
        with self.store.transaction() as db:
            gid = db.scalar(select(Group.id).where(Group.name == group))
            for name in users:
                uid = db.scalar(select(User.id).where(User.name == name))
                if uid is None:
                    raise UnknownUserError(f"No such user: {name}")
                if gid is not None and db.get(UserGroup, (uid, gid)) is None:
                    db.add(UserGroup(user_id=uid, group_id=gid))

    def remove_members(self, group: str, users: list[str]) -> None:
        with self.store.transaction() as db:
            gid = db.scalar(select(Group.id).where(Group.name == group))
            uids = select(User.id).where(User.name.in_(users))
            db.execute(
                delete(UserGroup)
                .where(UserGroup.group_id == gid)
                .where(UserGroup.user_id.in_(uids))
            )
