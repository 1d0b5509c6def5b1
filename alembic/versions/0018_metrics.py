"""catalog: the admin's semantic layer — metrics (a named formula over a connection's columns, its filters, time
column, synonyms, description and format) and segments (a named filter) in one table, and value synonyms per column
(the words people use for a column's values: `CA` ↔ California)

Revision ID: 0018_metrics
Revises: 0017_connection_test_failure
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0018_metrics"
down_revision = "0017_connection_test_failure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),  # metric or segment
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("expression", sa.Text, nullable=False),  # a metric's formula, a segment's condition (SQL)
        sa.Column("filters", JSONB, nullable=False, server_default="[]"),
        sa.Column("time_column", sa.String(511), nullable=False, server_default=""),
        sa.Column("synonyms", JSONB, nullable=False, server_default="[]"),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("format", sa.String(10), nullable=False, server_default="plain"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("connection_id", "kind", "name", name="uq_catalog_metrics_name"),
    )
    # {value: [words]}: empty for every existing column
    op.add_column("catalog_columns", sa.Column("value_synonyms", JSONB, nullable=False, server_default="{}"))


def downgrade() -> None:
    op.drop_column("catalog_columns", "value_synonyms")
    op.drop_table("catalog_metrics")
