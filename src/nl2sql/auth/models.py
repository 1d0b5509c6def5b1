"""Tables of the auth module."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.db import Base


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    # may use the MCP endpoint (AI assistants and IDEs) with their API keys; on for every new user
    mcp_access: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    password_hash: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # (migration 0020) from the identity provider at each single sign-on login, or set by an admin: row policies
    # apply to groups and are written with attributes
    groups: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    attributes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # "<issuer> <sub>": who this user is at the identity provider (None: a local account)
    sso_subject: Mapped[str | None] = mapped_column(sa.String(1000), unique=True)
    # (migration 0022) the last login through the identity provider
    sso_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SessionRow(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    client_addr: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # (migration 0022) a single sign-on session's ID token: logout hands it to the provider as `id_token_hint`
    id_token: Mapped[str | None] = mapped_column(sa.Text)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    prefix: Mapped[str] = mapped_column(sa.String(32))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class LoginFailureRow(Base):
    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), index=True)
    client_addr: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)


class OidcLoginRow(Base):
    """A login begun at the identity provider and not yet come back: in the database, so any container can finish it."""

    __tablename__ = "oidc_logins"

    state_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(sa.String(128))
    code_verifier: Mapped[str] = mapped_column(sa.String(128))
    redirect_uri: Mapped[str] = mapped_column(sa.String(2000))
    next_path: Mapped[str] = mapped_column(sa.String(2000))
    purpose: Mapped[str] = mapped_column(sa.String(10))  # login, or test (an admin trying the settings)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)


class GroupMappingRow(Base):
    """A group at the identity provider mapped to a role and connections (besides those in the settings)."""

    __tablename__ = "oidc_group_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_name: Mapped[str] = mapped_column(sa.String(500), unique=True)
    role: Mapped[str | None] = mapped_column(sa.String(20))
    connections: Mapped[list] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
