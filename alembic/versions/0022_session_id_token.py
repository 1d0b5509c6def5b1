"""auth: a single sign-on session keeps the provider's ID token, so logout can name it to the provider's end-session
endpoint (`id_token_hint`, as OpenID Connect RP-initiated logout expects); a user keeps the time of their last
single sign-on login (the users page shows it)

Revision ID: 0022_session_id_token
Revises: 0021_oidc
Create Date: 2026-12-07
"""

import sqlalchemy as sa

from alembic import op

revision = "0022_session_id_token"
down_revision = "0021_oidc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("auth_sessions", sa.Column("id_token", sa.Text, nullable=True))
    op.add_column("users", sa.Column("sso_login_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "sso_login_at")
    op.drop_column("auth_sessions", "id_token")
