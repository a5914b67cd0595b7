"""The schema, as SQLAlchemy typed declarative models.

Every change here needs a migration in ``migrations/versions`` (the tests compare the two).
JSON values are stored as text so SQLite and PostgreSQL hold the same thing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from courtyard.store.timestamps import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    admin: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(32), default="user")
    created: Mapped[datetime]
    last_activity: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))

    servers: Mapped[list[Server]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Server(Base):
    """One of a user's servers: ``name`` "" is the default one, others are named servers
    (unique per user)."""

    __tablename__ = "servers"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_servers_user_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(16), default="stopped")
    started: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    spawner_state: Mapped[str] = mapped_column(Text, default="{}")
    endpoint: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(255), default="")
    stop_reason: Mapped[str | None] = mapped_column(Text)
    user_options: Mapped[str] = mapped_column(Text, default="{}")
    display_name: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship(back_populates="servers")


class Session(Base):
    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime]
    expires: Mapped[datetime] = mapped_column(index=True)
    last_seen: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship()


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    properties: Mapped[str] = mapped_column(Text, default="{}")  # JSON, JupyterHub's


class UserGroup(Base):
    __tablename__ = "user_group"
    # A group's members: the primary key leads with user_id, so without this index listing
    # groups scanned the whole table per group (SQLite built an automatic index per query).
    __table_args__ = (Index("ix_user_group_group_id_user_id", "group_id", "user_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )


class ApiToken(Base):
    """An API token, stored hashed. Owned by a user, or by a service (``service`` name)."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str | None] = mapped_column(String(255))
    hash: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime]
    expires: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(Text, default="[]")


class Share(Base):
    """Access to one server granted by its owner to a user or a group (JupyterHub 5's
    sharing): ``scopes`` a JSON list, each filtered ``!server=<owner>/<server>``."""

    __tablename__ = "shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server_id: Mapped[int] = mapped_column(
        ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[str] = mapped_column(Text, default="[]")
    created: Mapped[datetime]


class ShareCode(Base):
    """A link that, accepted by a logged-in user, becomes a Share; stored hashed (sha256)
    like API tokens, shown once."""

    __tablename__ = "share_codes"
    __table_args__ = (UniqueConstraint("hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server_id: Mapped[int] = mapped_column(
        ForeignKey("servers.id", ondelete="CASCADE"), index=True
    )
    hash: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(Text, default="[]")
    created: Mapped[datetime]
    expires: Mapped[datetime]
    exchange_count: Mapped[int] = mapped_column(Integer, default=0)
    last_exchanged: Mapped[datetime | None]
