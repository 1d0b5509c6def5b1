"""catalog: tables of the catalog module

Revision ID: 0003_catalog
Revises: 0002_jobs
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_catalog"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
