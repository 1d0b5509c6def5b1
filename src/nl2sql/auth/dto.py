"""What the auth module hands to others: frozen DTOs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    display_name: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None = None
    mcp_access: bool = True  # may use the MCP endpoint (/mcp) with an API key
    # the identity provider's groups and claims (single sign-on), or what an admin set: row policies use them
    groups: tuple[str, ...] = ()
    attributes: dict = field(default_factory=dict, hash=False)
    sso: bool = False  # logs in at the identity provider (single sign-on)
    sso_subject: str | None = None  # "<issuer> <sub>" at the identity provider; None for a local account
    sso_login_at: datetime | None = None  # the last single sign-on login

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


@dataclass(frozen=True)
class ApiKey:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        from nl2sql.db import utcnow

        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())


@dataclass(frozen=True)
class NewApiKey:
    """A key as created: the secret is in `key` and is shown this once."""

    key: str
    api_key: ApiKey


@dataclass(frozen=True)
class Principal:
    """Who made a request and how: a browser session or an API key."""

    user: User
    session_id: int | None = None
    api_key_id: int | None = None


@dataclass(frozen=True)
class NewSession:
    token: str
    expires_at: datetime
