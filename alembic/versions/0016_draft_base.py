"""catalog: a knowledge draft keeps what the live connection said when it was taken (its base), so that publishing
applies only what the draft changed and stops where the live connection changed the same thing since

Revision ID: 0016_draft_base
Revises: 0015_ask_progress
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016_draft_base"
down_revision = "0015_ask_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for drafts taken before this revision: their base is unknown, so every difference is a conflict to decide
    op.add_column("catalog_connections", sa.Column("draft_base", JSONB, nullable=True))


def downgrade() -> None:
    op.drop_column("catalog_connections", "draft_base")
