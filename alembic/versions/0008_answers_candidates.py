"""answers: the chosen plan, its English line, the winning generator and every candidate of a question

Revision ID: 0008_answers_candidates
Revises: 0007_answers_history
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008_answers_candidates"
down_revision = "0007_answers_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("answers", sa.Column("plan", JSONB, nullable=True))
    op.add_column("answers", sa.Column("explanation", sa.Text, nullable=True))
    op.add_column("answers", sa.Column("generator", sa.String(20), nullable=True))
    op.add_column("answers", sa.Column("candidates", JSONB, nullable=False, server_default="[]"))


def downgrade() -> None:
    for column in ("candidates", "generator", "explanation", "plan"):
        op.drop_column("answers", column)
