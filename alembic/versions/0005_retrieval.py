"""retrieval: embeddings of catalog items (pgvector + full-text) and per-connection index state

Revision ID: 0005_retrieval
Revises: 0004_gateway
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0005_retrieval"
down_revision = "0004_gateway"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
KINDS = ("table", "column", "instruction", "golden")
# the bundled all-MiniLM-L6-v2; other dimensions get their indexes when a model of that size is first used
DIMENSION = 384


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "retrieval_embeddings",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "connection_id", sa.Integer, sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("item_key", sa.Text, nullable=False),
        sa.Column("item_id", sa.Integer),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("version", TS, nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("dim", sa.SmallInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("embedding", Vector(), nullable=False),  # any dimension: indexes are per dimension
        # written by the indexer from the body's words, plural-stemmed (exact terms rank far faster than prefixes)
        sa.Column("tsv", TSVECTOR, nullable=False),
        sa.Column("embedded_at", TS, nullable=False),
        sa.UniqueConstraint("connection_id", "kind", "item_key", name="uq_retrieval_embeddings_item"),
    )
    op.create_index("ix_retrieval_embeddings_tsv", "retrieval_embeddings", ["tsv"], postgresql_using="gin")
    for kind in KINDS:
        op.execute(
            f"CREATE INDEX retrieval_hnsw_{kind}_{DIMENSION} ON retrieval_embeddings "
            f"USING hnsw ((embedding::vector({DIMENSION})) vector_cosine_ops) "
            f"WHERE dim = {DIMENSION} AND kind = '{kind}'"
        )
    op.create_table(
        "retrieval_index_state",
        sa.Column(
            "connection_id", sa.Integer, sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("version", TS, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("indexed_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retrieval_index_state")
    op.drop_table("retrieval_embeddings")
