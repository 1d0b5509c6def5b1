"""catalog: a connection's knowledge drafts (a hidden copy of its curated catalog, edited and tried before publishing)

Revision ID: 0013_knowledge_drafts
Revises: 0012_evaluation_runs
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013_knowledge_drafts"
down_revision = "0012_evaluation_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("catalog_connections", sa.Column(
        "draft_of", sa.Integer, sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), nullable=True))
    op.add_column("catalog_connections", sa.Column("draft_origin", JSONB, nullable=True))
    op.create_unique_constraint("uq_catalog_connections_draft_of", "catalog_connections", ["draft_of"])
    # a trial compares the live knowledge with a draft: two runs of one question set, the draft's pointing at the live one
    op.add_column("eval_runs", sa.Column("trial_of", sa.Integer, nullable=True))
    op.add_column("eval_items", sa.Column("holdout", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("eval_items", "holdout")
    op.drop_column("eval_runs", "trial_of")
    op.drop_constraint("uq_catalog_connections_draft_of", "catalog_connections", type_="unique")
    op.drop_column("catalog_connections", "draft_origin")
    op.drop_column("catalog_connections", "draft_of")
