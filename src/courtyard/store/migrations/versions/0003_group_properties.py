"""Group properties and server display names (JupyterHub's ``PUT /groups/{name}/properties``
and ``PATCH /users/{name}/servers/{server}`` with ``display_name``).

``groups.properties`` is JSON text ("{}" for existing groups); ``servers.display_name`` is ""
for existing servers (shown as the server's name). Downgrade drops both columns: the
properties and display names set since are lost, nothing else.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("properties", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("servers") as batch:
        batch.add_column(
            sa.Column("display_name", sa.String(255), nullable=False, server_default="")
        )
    with op.batch_alter_table("groups") as batch:  # the defaults were for existing rows only
        batch.alter_column("properties", server_default=None)
    with op.batch_alter_table("servers") as batch:
        batch.alter_column("display_name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("display_name")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("properties")
