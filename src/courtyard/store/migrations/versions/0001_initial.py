"""Initial schema: users, servers, sessions, groups, user_group, api_tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def stamp(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def user_fk(nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        stamp("created"),
        stamp("last_activity", nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
    )
    op.create_table(
        "servers",
        sa.Column("id", sa.Integer(), primary_key=True),
        user_fk(),
        sa.Column("state", sa.String(16), nullable=False),
        stamp("started", nullable=True),
        stamp("last_activity", nullable=True),
        sa.Column("spawner_state", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("user_id", name=op.f("uq_servers_user_id")),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        user_fk(),
        stamp("created"),
        stamp("expires"),
        stamp("last_seen"),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"])
    op.create_index(op.f("ix_sessions_expires"), "sessions", ["expires"])
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
    )
    op.create_table(
        "user_group",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        user_fk(nullable=True),
        sa.Column("service", sa.String(255), nullable=True),
        sa.Column("hash", sa.String(255), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        stamp("created"),
        stamp("expires", nullable=True),
        stamp("last_activity", nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.UniqueConstraint("hash", name=op.f("uq_api_tokens_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])


def downgrade() -> None:
    for table in ("api_tokens", "user_group", "groups", "sessions", "servers", "users"):
        op.drop_table(table)
