"""answers: tables of the answers module

Revision ID: 0006_answers
Revises: 0005_retrieval
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_answers"
down_revision = "0005_retrieval"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
