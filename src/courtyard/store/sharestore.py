"""Shares and share codes in the store (tables of migration 0004), composed over a
``Store``. A share is keyed by (server, user) or (server, group): granting again adds scopes
to the one row, revoking removes some (the row goes when none are left)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import aliased

from courtyard.errors import UnknownUserError
from courtyard.store.models import Group, Server, Share, ShareCode, User, UserGroup
from courtyard.store.store import NO_SUCH_USER, Store

Owner = aliased(User)
With = aliased(User)


@dataclass(frozen=True)
class ShareRecord:
    id: int
    owner: str
    server: str
    user: str | None  # exactly one of user and group is set
    group: str | None
    scopes: tuple[str, ...]
    created: datetime


@dataclass(frozen=True)
class ShareCodeRecord:
    id: int
    owner: str
    server: str
    scopes: tuple[str, ...]
    created: datetime
    expires: datetime
    exchange_count: int
    last_exchanged: datetime | None
    hash: str = field(repr=False, default="")


def share_query() -> Any:
    return (
        select(Share, Owner.name, Server.name, With.name, Group.name)
        .join(Server, Share.server_id == Server.id)
        .join(Owner, Server.user_id == Owner.id)
        .outerjoin(With, Share.user_id == With.id)
        .outerjoin(Group, Share.group_id == Group.id)
        .order_by(Share.id)
    )


def code_query() -> Any:
    return (
        select(ShareCode, Owner.name, Server.name)
        .join(Server, ShareCode.server_id == Server.id)
        .join(Owner, Server.user_id == Owner.id)
        .order_by(ShareCode.id)
    )


def share_record(row: Share, owner: str, server: str, user: str | None, group: str | None) -> ShareRecord:  # noqa: E501
    return ShareRecord(
        row.id, owner, server, user, group, tuple(json.loads(row.scopes)), row.created
    )


def code_record(row: ShareCode, owner: str, server: str) -> ShareCodeRecord:
    return ShareCodeRecord(
        id=row.id,
        owner=owner,
        server=server,
        scopes=tuple(json.loads(row.scopes)),
        created=row.created,
        expires=row.expires,
        exchange_count=row.exchange_count,
        last_exchanged=row.last_exchanged,
        hash=row.hash,
    )


class ShareStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def server_id(self, owner: str, server: str) -> int | None:
        query = select(Server.id).join(User).where(User.name == owner, Server.name == server)
        with self.store.transaction() as db:
            return db.scalar(query)

    def grant(
        self, owner: str, server: str, scopes: Iterable[str], *, user: str | None = None,
        group: str | None = None,
    ) -> ShareRecord:  # fmt: skip
        """Add ``scopes`` to the share of the server with ``user`` or ``group`` (created if
        new). UnknownUserError when the server, user or group does not exist."""
        with self.store.transaction() as db:
            sid = db.scalar(
                select(Server.id).join(User).where(User.name == owner, Server.name == server)
            )
            if sid is None:
                raise UnknownUserError(f"No such server: {owner}/{server}")
            who = self._target(db, user, group)
            row = db.scalar(select(Share).where(Share.server_id == sid, *who))
            if row is None:
                uid = gid = None
                if user is not None:
                    uid = db.scalar(select(User.id).where(User.name == user))
                else:
                    gid = db.scalar(select(Group.id).where(Group.name == group))
                row = Share(server_id=sid, user_id=uid, group_id=gid, scopes="[]",
                            created=self.store.now())  # fmt: skip
                db.add(row)
            row.scopes = json.dumps(sorted(set(json.loads(row.scopes)) | set(scopes)))
            db.flush()
            return share_record(row, owner, server, user, group)

    def _target(self, db: Any, user: str | None, group: str | None) -> list[Any]:
        if user is not None:
            uid = db.scalar(select(User.id).where(User.name == user))
            if uid is None:
                raise UnknownUserError(NO_SUCH_USER, params={"name": user})
            return [Share.user_id == uid]
        gid = db.scalar(select(Group.id).where(Group.name == group))
        if gid is None:
            raise UnknownUserError(f"No such group: {group}")
        return [Share.group_id == gid]

    def revoke(
        self, owner: str, server: str, scopes: Iterable[str] | None, *, user: str | None = None,
        group: str | None = None,
    ) -> ShareRecord | None:  # fmt: skip
        """Remove ``scopes`` (None: all) from a share; the share left, or None (deleted)."""
        found = self.find(owner, server, user=user, group=group)
        if found is None:
            return None
        left = sorted(set(found.scopes) - set(scopes)) if scopes is not None else []
        with self.store.transaction() as db:
            if not left:
                db.execute(delete(Share).where(Share.id == found.id))
                return None
            db.execute(update(Share).where(Share.id == found.id).values(scopes=json.dumps(left)))
        return ShareRecord(found.id, owner, server, user, group, tuple(left), found.created)

    def find(
        self, owner: str, server: str, *, user: str | None = None, group: str | None = None
    ) -> ShareRecord | None:
        query = share_query().where(Owner.name == owner, Server.name == server)
        query = query.where(With.name == user) if user is not None else query.where(
            Group.name == group
        )
        with self.store.transaction() as db:
            found = db.execute(query).first()
            return share_record(*found) if found else None

    def delete(self, share_id: int) -> None:
        with self.store.transaction() as db:
            db.execute(delete(Share).where(Share.id == share_id))

    def delete_of_server(self, owner: str, server: str) -> int:
        sid = self.server_id(owner, server)
        with self.store.transaction() as db:
            result = db.execute(delete(Share).where(Share.server_id == sid))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def of_owner(self, owner: str, server: str | None = None) -> list[ShareRecord]:
        query = share_query().where(Owner.name == owner)
        if server is not None:
            query = query.where(Server.name == server)
        with self.store.transaction() as db:
            return [share_record(*row) for row in db.execute(query)]

    def with_user(self, user: str) -> list[ShareRecord]:
        """Shares granted to ``user`` directly or through one of their groups."""
        groups = (
            select(UserGroup.group_id).join(User, UserGroup.user_id == User.id)
            .where(User.name == user)
        )  # fmt: skip
        query = share_query().where((With.name == user) | Share.group_id.in_(groups))
        with self.store.transaction() as db:
            return [share_record(*row) for row in db.execute(query)]

    def with_group(self, group: str) -> list[ShareRecord]:
        query = share_query().where(Group.name == group)
        with self.store.transaction() as db:
            return [share_record(*row) for row in db.execute(query)]

    def create_code(
        self, owner: str, server: str, code_hash: str, prefix: str, scopes: Iterable[str],
        expires: datetime,
    ) -> ShareCodeRecord:  # fmt: skip
        sid = self.server_id(owner, server)
        if sid is None:
            raise UnknownUserError(f"No such server: {owner}/{server}")
        with self.store.transaction() as db:
            row = ShareCode(
                server_id=sid, hash=code_hash, prefix=prefix, scopes=json.dumps(sorted(scopes)),
                created=self.store.now(), expires=expires, exchange_count=0,
            )  # fmt: skip
            db.add(row)
            db.flush()
            return code_record(row, owner, server)

    def codes_of(self, owner: str, server: str | None = None) -> list[ShareCodeRecord]:
        query = code_query().where(Owner.name == owner)
        if server is not None:
            query = query.where(Server.name == server)
        with self.store.transaction() as db:
            return [code_record(*row) for row in db.execute(query)]

    def code_by_hash(self, code_hash: str) -> ShareCodeRecord | None:
        with self.store.transaction() as db:
            found = db.execute(code_query().where(ShareCode.hash == code_hash)).first()
            return code_record(*found) if found else None

    def delete_codes(
        self, owner: str, server: str, *, code_id: int | None = None,
        code_hash: str | None = None,
    ) -> int:  # fmt: skip
        """Delete the server's share codes (all, or the one by id or hash); how many."""
        conditions = [ShareCode.server_id == self.server_id(owner, server)]
        if code_id is not None:
            conditions.append(ShareCode.id == code_id)
        if code_hash is not None:
            conditions.append(ShareCode.hash == code_hash)
        with self.store.transaction() as db:
            result = db.execute(delete(ShareCode).where(*conditions))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def exchanged(self, code_id: int) -> None:
        values = {"exchange_count": ShareCode.exchange_count + 1,
                  "last_exchanged": self.store.now()}  # fmt: skip
        with self.store.transaction() as db:
            db.execute(update(ShareCode).where(ShareCode.id == code_id).values(**values))
