"""access: row policies (a filter per connection, table and subject, written with the user's attributes) and
column masks (hidden or masked per column and subject), enforced by rewriting each statement; users get the
attributes policies are written with and the groups policies apply to (set by an admin, or at single sign-on)

Revision ID: 0020_policies
Revises: 0019_mcp
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0020_policies"
down_revision = "0019_mcp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # {name: value}: `region`, `team`, ... as the policies' filters name them (`{user.region}`)
    op.add_column("users", sa.Column("attributes", JSONB, nullable=False, server_default="{}"))
    # the group names a policy's `group:<name>` subject matches; single sign-on may fill them at login
    op.add_column("users", sa.Column("groups", JSONB, nullable=False, server_default="[]"))
    op.create_table(
        "access_row_policies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("table_name", sa.String(511), nullable=False),  # as the catalog names it (schema.table)
        sa.Column("subject", sa.String(300), nullable=False),  # user:<id> or group:<name>
        sa.Column("condition", sa.Text, nullable=False),  # SQL condition with {user.<attribute>} placeholders
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # the last time a statement of a non-admin user ran under it (the readiness checklist asks)
        sa.Column("exercised_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("connection_id", "table_name", "subject", name="uq_access_row_policy"),
    )
    op.create_table(
        "access_column_masks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("table_name", sa.String(511), nullable=False),
        sa.Column("column_name", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),  # hidden, redacted, last4, hash
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("connection_id", "table_name", "column_name", "subject", name="uq_access_column_mask"),
    )


def downgrade() -> None:
    op.drop_table("access_column_masks")
    op.drop_table("access_row_policies")
    op.drop_column("users", "groups")
    op.drop_column("users", "attributes")
