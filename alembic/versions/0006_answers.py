"""answers: one record per question asked (the SQL, its attempts, what was retrieved, timings)

Revision ID: 0006_answers
Revises: 0005_retrieval
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006_answers"
down_revision = "0005_retrieval"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.BigInteger, primary_key=True),
        # ids of other modules' rows, no foreign keys: a record outlives the user or connection it names
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("api_key_id", sa.Integer, nullable=True),
        sa.Column("connection_id", sa.Integer, nullable=True),
        sa.Column("connection_name", sa.String(63), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("sql", sa.Text, nullable=True),
        sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("golden_query_id", sa.Integer, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", JSONB, nullable=False, server_default="[]"),
        sa.Column("retrieved", JSONB, nullable=False, server_default="{}"),
        sa.Column("timings", JSONB, nullable=False, server_default="{}"),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_answers_user_created", "answers", ["user_id", "created_at"])
    op.create_index("ix_answers_connection_created", "answers", ["connection_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_answers_connection_created", table_name="answers")
    op.drop_index("ix_answers_user_created", table_name="answers")
    op.drop_table("answers")
