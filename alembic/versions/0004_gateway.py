"""gateway: tables of the gateway module

Revision ID: 0004_gateway
Revises: 0003_catalog
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_gateway"
down_revision = "0003_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
