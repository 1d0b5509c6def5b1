"""evaluation: runs of a question set through the engine, and their judged items

Revision ID: 0012_evaluation_runs
Revises: 0011_model_trust_checks
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012_evaluation_runs"
down_revision = "0011_model_trust_checks"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False, server_default="questions"),
        sa.Column("connection_id", sa.Integer, nullable=False),
        sa.Column("connection_name", sa.String(63), nullable=False),
        sa.Column("created_by", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("correct", sa.Integer, nullable=False),
        sa.Column("engine", JSONB, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_table(
        "eval_items",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("eval_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("gold_sql", sa.Text, nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("instructions", sa.Text, nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("predicted_sql", sa.Text, nullable=True),
        sa.Column("explanation", sa.Text, nullable=True),
        sa.Column("generator", sa.String(20), nullable=True),
        sa.Column("answer_id", sa.BigInteger, nullable=True),
        sa.Column("correct", sa.Boolean, nullable=True),
        sa.Column("match", sa.String(10), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("seconds", sa.Float, nullable=True),
    )
    op.create_index("ix_eval_items_run_position", "eval_items", ["run_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_eval_items_run_position", table_name="eval_items")
    op.drop_table("eval_items")
    op.drop_table("eval_runs")
