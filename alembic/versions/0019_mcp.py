"""auth: a user may use the MCP endpoint (AI assistants and IDEs asking through /mcp with an API key); on for every
user, existing ones included, until an admin turns it off

Revision ID: 0019_mcp
Revises: 0018_metrics
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_mcp"
down_revision = "0018_metrics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("mcp_access", sa.Boolean, nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("users", "mcp_access")
