"""Named servers: a user's servers are keyed by (user, server name); "" is the default one.

Every existing row becomes that user's default server (name ""), with its state, endpoint and
secret kept, so a hub upgraded while servers run re-attaches them. ``user_options`` (JSON
text) records what the person chose at start.

Downgrade is refused while any named server exists (0001 holds one server per user, so they
would be lost); delete them first (``DELETE /hub/api/users/{name}/servers/{server}`` with
``{"remove": true}``) and downgrade again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DOWNGRADE_REFUSED = (
    "cannot downgrade below revision 0002: {count} named server(s) exist and revision 0001 "
    "holds one server per user. Delete the named servers first (DELETE "
    '/hub/api/users/<name>/servers/<server> with {{"remove": true}}), then downgrade again.'
)


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("name", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("user_options", sa.Text(), nullable=False, server_default="{}"))
        batch.drop_constraint(op.f("uq_servers_user_id"), type_="unique")
        batch.create_unique_constraint("uq_servers_user_id_name", ["user_id", "name"])
    with op.batch_alter_table("servers") as batch:  # the defaults were for existing rows only
        batch.alter_column("name", server_default=None)
        batch.alter_column("user_options", server_default=None)


def downgrade() -> None:
    count = op.get_bind().scalar(sa.text("SELECT count(*) FROM servers WHERE name != ''"))
    if count:
        raise RuntimeError(DOWNGRADE_REFUSED.format(count=count))
    with op.batch_alter_table("servers") as batch:
        batch.drop_constraint("uq_servers_user_id_name", type_="unique")
        batch.create_unique_constraint(op.f("uq_servers_user_id"), ["user_id"])
        batch.drop_column("user_options")
        batch.drop_column("name")
