"""catalog: a connection remembers its last test — when it ran, and why it failed — so a connection saved although
its test failed is marked failing (not offered to analysts or on the ask page) until a test passes

Revision ID: 0017_connection_test_failure
Revises: 0016_draft_base
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_connection_test_failure"
down_revision = "0016_draft_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for every existing connection: not known to fail, so it stays offered as before
    op.add_column("catalog_connections", sa.Column("test_failure", sa.Text, nullable=True))
    op.add_column("catalog_connections", sa.Column("tested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("catalog_connections", "tested_at")
    op.drop_column("catalog_connections", "test_failure")
