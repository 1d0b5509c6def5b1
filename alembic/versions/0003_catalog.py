"""catalog: connections, grants, tables, columns, keys, join hints, instructions, golden queries, syncs

Revision ID: 0003_catalog
Revises: 0002_jobs
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_catalog"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _connection_fk() -> sa.Column:
    return sa.Column(
        "connection_id", sa.Integer, sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    # trigram indexes make the catalog browser's substring search fast on thousands of tables
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "catalog_connections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("backend", sa.String(40), nullable=False),
        sa.Column("display_url", sa.Text, nullable=False),
        sa.Column("url_encrypted", sa.Text, nullable=False),
        sa.Column("schemas", JSONB, nullable=False, server_default="[]"),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("catalog_changed_at", TS, nullable=False),
        sa.Column("synced_at", TS),
    )
    op.create_table(
        "catalog_grants",
        _connection_fk(),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("granted_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "user_id"),
    )
    op.create_table(
        "catalog_tables",
        sa.Column("id", sa.Integer, primary_key=True),
        _connection_fk(),
        sa.Column("schema", sa.String(255), nullable=False, server_default=""),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False, server_default="table"),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("business_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("synonyms", JSONB, nullable=False, server_default="[]"),
        sa.Column("included", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("row_count", sa.BigInteger),
        sa.Column("search_text", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("connection_id", "schema", "name", name="catalog_tables_unique_name"),
    )
    op.execute(
        "CREATE INDEX catalog_tables_search_trgm ON catalog_tables USING gin (search_text gin_trgm_ops)"
    )
    op.create_table(
        "catalog_columns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("table_id", sa.Integer, sa.ForeignKey("catalog_tables.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("nullable", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("default", sa.Text),
        sa.Column("primary_key", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("business_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("synonyms", JSONB, nullable=False, server_default="[]"),
        sa.Column("included", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("sensitive", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("distinct_values", JSONB),
        sa.UniqueConstraint("table_id", "name", name="catalog_columns_unique_name"),
    )
    op.create_table(
        "catalog_foreign_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("table_id", sa.Integer, sa.ForeignKey("catalog_tables.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False, server_default=""),
        sa.Column("columns", JSONB, nullable=False),
        sa.Column("ref_schema", sa.String(255), nullable=False, server_default=""),
        sa.Column("ref_table", sa.String(255), nullable=False),
        sa.Column("ref_columns", JSONB, nullable=False),
    )
    op.create_table(
        "catalog_join_hints",
        sa.Column("id", sa.Integer, primary_key=True),
        _connection_fk(),
        sa.Column("left_table", sa.String(511), nullable=False),
        sa.Column("right_table", sa.String(511), nullable=False),
        sa.Column("pairs", JSONB, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_catalog_join_hints_connection_id", "catalog_join_hints", ["connection_id"])
    op.create_table(
        "catalog_instructions",
        sa.Column("id", sa.Integer, primary_key=True),
        _connection_fk(),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('always', 'topical')", name="catalog_instructions_kind_valid"),
    )
    op.create_index("ix_catalog_instructions_connection_id", "catalog_instructions", ["connection_id"])
    op.create_table(
        "catalog_golden_queries",
        sa.Column("id", sa.Integer, primary_key=True),
        _connection_fk(),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_catalog_golden_queries_connection_id", "catalog_golden_queries", ["connection_id"])
    op.create_table(
        "catalog_syncs",
        sa.Column("id", sa.Integer, primary_key=True),
        _connection_fk(),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("phase", sa.String(40), nullable=False, server_default=""),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("requested_by", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("error", sa.Text),
        sa.Column("diff", JSONB),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="catalog_syncs_status_valid"),
    )
    op.create_index("ix_catalog_syncs_connection_id", "catalog_syncs", ["connection_id"])


def downgrade() -> None:
    for table in (
        "catalog_syncs",
        "catalog_golden_queries",
        "catalog_instructions",
        "catalog_join_hints",
        "catalog_foreign_keys",
        "catalog_columns",
        "catalog_tables",
        "catalog_grants",
        "catalog_connections",
    ):
        op.drop_table(table)
    # pg_trgm stays: other schemas in the database may use it
