"""auth: single sign-on with OpenID Connect: who a user is at the identity provider, logins begun there and not yet
back (in the database, so any container behind a load balancer finishes them), and groups mapped to roles and
connections on /admin/identity

Revision ID: 0021_oidc
Revises: 0020_policies
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0021_oidc"
down_revision = "0020_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "<issuer> <sub>": the stable identity; the email may change at the provider
    op.add_column("users", sa.Column("sso_subject", sa.String(1000), nullable=True))
    op.create_unique_constraint("users_sso_subject_key", "users", ["sso_subject"])
    op.create_table(
        "oidc_logins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("next_path", sa.String(2000), nullable=False),
        sa.Column("purpose", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "oidc_group_mappings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("group_name", sa.String(500), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("connections", JSONB, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oidc_group_mappings")
    op.drop_table("oidc_logins")
    op.drop_constraint("users_sso_subject_key", "users", type_="unique")
    op.drop_column("users", "sso_subject")
