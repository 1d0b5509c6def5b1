"""catalog: the admin's corrections of the semantic model (a column's role and aggregate; a table's display and
main time column)

Revision ID: 0009_catalog_semantics
Revises: 0008_answers_candidates
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009_catalog_semantics"
down_revision = "0008_answers_candidates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("catalog_tables", sa.Column("semantics", JSONB, nullable=False, server_default="{}"))
    op.add_column("catalog_columns", sa.Column("semantics", JSONB, nullable=False, server_default="{}"))


def downgrade() -> None:
    op.drop_column("catalog_columns", "semantics")
    op.drop_column("catalog_tables", "semantics")
