"""answers: questions in flight on the ask page, in the app database, so that any server behind a load balancer
can answer the page's progress polls (stages, then the answer or the error)

Revision ID: 0015_ask_progress
Revises: 0014_table_data_version
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015_ask_progress"
down_revision = "0014_table_data_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ask_progress",
        sa.Column("token", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("stages", JSONB, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("answer_id", sa.BigInteger),
        sa.Column("error", JSONB),
    )


def downgrade() -> None:
    op.drop_table("ask_progress")
