"""gateway: request and model-call records, rate/quota counters, quota overrides

Revision ID: 0004_gateway
Revises: 0003_catalog
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004_gateway"
down_revision = "0003_catalog"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # user_id / api_key_id are plain ids, no foreign keys: records outlive deleted users and keys,
    # and a batch insert must never fail because a user disappeared meanwhile.
    op.create_table(
        "gateway_requests",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("trace_id", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("api_key_id", sa.Integer),
        sa.Column("client_addr", sa.String(64)),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(40)),
    )
    op.create_index("ix_gateway_requests_trace_id", "gateway_requests", ["trace_id"])
    op.create_index("ix_gateway_requests_at", "gateway_requests", ["at"])
    op.create_index("ix_gateway_requests_user_id", "gateway_requests", ["user_id"])
    op.create_table(
        "gateway_model_calls",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("trace_id", sa.String(64)),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("api_key_id", sa.Integer),
        sa.Column("connection", sa.String(200)),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("backend", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("queue_ms", sa.Float),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("tokens_per_s", sa.Float, nullable=False),
        sa.Column("finish_reason", sa.String(20)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("prompt", sa.Text),
        sa.Column("completion", sa.Text),
    )
    op.create_index("ix_gateway_model_calls_trace_id", "gateway_model_calls", ["trace_id"])
    op.create_index("ix_gateway_model_calls_at", "gateway_model_calls", ["at"])
    op.create_index("ix_gateway_model_calls_user_id", "gateway_model_calls", ["user_id"])
    op.create_table(
        "gateway_counters",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("window_start", TS, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "gateway_quotas",
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("requests_per_minute", sa.Integer),
        sa.Column("tokens_per_day", sa.BigInteger),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.Integer),
    )


def downgrade() -> None:
    op.drop_table("gateway_quotas")
    op.drop_table("gateway_counters")
    op.drop_table("gateway_model_calls")
    op.drop_table("gateway_requests")
