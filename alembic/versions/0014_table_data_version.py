"""catalog: each table's data version at its last sync (PostgreSQL's write counters), so a re-sync reads again
only the tables whose rows changed

Revision ID: 0014_table_data_version
Revises: 0013_knowledge_drafts
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_table_data_version"
down_revision = "0013_knowledge_drafts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("catalog_tables", sa.Column("data_version", sa.BigInteger, nullable=True))


def downgrade() -> None:
    op.drop_column("catalog_tables", "data_version")
