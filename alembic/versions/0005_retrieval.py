"""retrieval: tables of the retrieval module

Revision ID: 0005_retrieval
Revises: 0004_gateway
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_retrieval"
down_revision = "0004_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
