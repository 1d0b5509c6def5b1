"""answers: the evidence for the model's measured trust (verified-query checks and compared answers)

Revision ID: 0011_model_trust_checks
Revises: 0010_redact_url_parameters
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_model_trust_checks"
down_revision = "0010_redact_url_parameters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_trust_checks",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("connection_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_trust_checks_model_id", "model_trust_checks", ["model", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_trust_checks_model_id", table_name="model_trust_checks")
    op.drop_table("model_trust_checks")
