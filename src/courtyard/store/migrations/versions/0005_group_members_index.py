"""An index on ``user_group (group_id, user_id)``: a group's members.

The table's primary key is (user_id, group_id), which answers "the groups of a user" but not
"the members of a group": ``GET /hub/api/groups`` scanned the whole table for each group
listed (at 10,000 users SQLite built an automatic index on every request). Downgrade drops the
index; nothing else changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_user_group_group_id_user_id", "user_group", ["group_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_user_group_group_id_user_id", table_name="user_group")
