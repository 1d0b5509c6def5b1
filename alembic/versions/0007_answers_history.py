"""answers history: conversation threads, result summaries per answer, feedback on answers

Revision ID: 0007_answers_history
Revises: 0006_answers
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007_answers_history"
down_revision = "0006_answers"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "answer_threads",
        sa.Column("id", sa.BigInteger, primary_key=True),
        # ids of other modules' rows, no foreign keys: a thread outlives the user or connection it names
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("connection_id", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_answer_threads_user_updated", "answer_threads", ["user_id", "updated_at"])
    op.create_table(
        "answer_results",
        sa.Column("answer_id", sa.BigInteger, sa.ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("thread_id", sa.BigInteger, sa.ForeignKey("answer_threads.id", ondelete="SET NULL"), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_sql", sa.Text, nullable=True),
        sa.Column("row_count", sa.Integer, nullable=True),
        sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("columns", JSONB, nullable=False, server_default="[]"),
        sa.Column("chart_kind", sa.String(20), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("elapsed_ms", sa.Float, nullable=True),
    )
    op.create_index("ix_answer_results_thread", "answer_results", ["thread_id"])
    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("answer_id", sa.BigInteger, sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("rating", sa.SmallInteger, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("corrected_sql", sa.Text, nullable=True),
        sa.Column("state", sa.String(20), nullable=False, server_default="open"),
        sa.Column("golden_query_id", sa.Integer, nullable=True),
        sa.Column("resolved_by", sa.Integer, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("rating IN (-1, 1)", name="ck_answer_feedback_rating"),
        sa.UniqueConstraint("answer_id", "user_id", name="uq_answer_feedback_answer_user"),
    )
    op.create_index("ix_answer_feedback_created", "answer_feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_answer_feedback_created", table_name="answer_feedback")
    op.drop_table("answer_feedback")
    op.drop_index("ix_answer_results_thread", table_name="answer_results")
    op.drop_table("answer_results")
    op.drop_index("ix_answer_threads_user_updated", table_name="answer_threads")
    op.drop_table("answer_threads")
