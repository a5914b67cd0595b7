"""Sharing (JupyterHub 5's model): ``shares`` (a server's owner grants a user or a group
scopes on it) and ``share_codes`` (links that become a share when accepted; stored hashed).

Both reference the server's row (deleted with it) and the user or group shared with.
Downgrade drops both tables: every share and share code is lost, nothing else.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def stamp(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def fk(name: str, table: str, nullable: bool = False) -> sa.Column[int]:
    target = sa.ForeignKey(f"{table}.id", ondelete="CASCADE")
    return sa.Column(name, sa.Integer(), target, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "shares",
        sa.Column("id", sa.Integer(), primary_key=True),
        fk("server_id", "servers"),
        fk("user_id", "users", nullable=True),
        fk("group_id", "groups", nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        stamp("created"),
    )
    for column in ("server_id", "user_id", "group_id"):
        op.create_index(op.f(f"ix_shares_{column}"), "shares", [column])
    op.create_table(
        "share_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        fk("server_id", "servers"),
        sa.Column("hash", sa.String(255), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        stamp("created"),
        stamp("expires"),
        sa.Column("exchange_count", sa.Integer(), nullable=False),
        stamp("last_exchanged", nullable=True),
        sa.UniqueConstraint("hash", name=op.f("uq_share_codes_hash")),
    )
    op.create_index(op.f("ix_share_codes_server_id"), "share_codes", ["server_id"])


def downgrade() -> None:
    op.drop_table("share_codes")
    op.drop_table("shares")
