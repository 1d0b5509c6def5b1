"""REST routes of the auth module: /api/v1/me, /api/v1/api-keys, /api/v1/users."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post

from nl2sql.auth.dto import ApiKey, User
from nl2sql.auth.guards import current_user, requires_admin, requires_user
from nl2sql.auth.service import AuthService


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str = "API key"
    expires_at: datetime | None = None
    user_id: int | None = None


class ApiKeyCreated(msgspec.Struct):
    key: str
    api_key: ApiKey
    note: str = "Store this key now: it is not shown again."


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    role: Literal["admin", "analyst"] = "analyst"
    display_name: str | None = None


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["admin", "analyst"] | None = None
    is_active: bool | None = None
    display_name: str | None = None
    password: str | None = None
    mcp_access: bool | None = None  # may use the MCP endpoint (/mcp) with an API key


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["auth"]
    guards = [requires_user]

    @get("/", summary="The user this API key belongs to")
    async def me(self, request: Request) -> User:
        return current_user(request)


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["auth"]
    guards = [requires_user]

    @get("/", summary="List my API keys (admins: ?user_id= for another user's)")
    async def list_keys(self, request: Request, auth_service: AuthService, user_id: int | None = None) -> list[ApiKey]:
        return await auth_service.list_api_keys(current_user(request), user_id=user_id)

    @post("/", summary="Create an API key; the key is in the response once")
    async def create_key(self, request: Request, auth_service: AuthService, data: ApiKeyCreate) -> ApiKeyCreated:
        created = await auth_service.create_api_key(
            current_user(request), name=data.name, user_id=data.user_id, expires_at=data.expires_at
        )
        return ApiKeyCreated(key=created.key, api_key=created.api_key)

    @delete("/{key_id:int}", summary="Revoke an API key", status_code=200)
    async def revoke_key(self, request: Request, auth_service: AuthService, key_id: int) -> ApiKey:
        return await auth_service.revoke_api_key(current_user(request), key_id)


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["auth"]
    guards = [requires_admin]

    @get("/", summary="List users (admin)")
    async def list_users(self, auth_service: AuthService) -> list[User]:
        return await auth_service.list_users()

    @post("/", summary="Create a user (admin)")
    async def create_user(self, request: Request, auth_service: AuthService, data: UserCreate) -> User:
        return await auth_service.create_user(
            data.email, data.password, role=data.role, display_name=data.display_name, actor=current_user(request)
        )

    @get("/{user_id:int}", summary="One user (admin)")
    async def get_user(self, auth_service: AuthService, user_id: int) -> User:
        return await auth_service.get_user(user_id)

    @patch("/{user_id:int}", summary="Change role, active flag, name, password or MCP access (admin)")
    async def update_user(self, request: Request, auth_service: AuthService, user_id: int, data: UserPatch) -> User:
        return await auth_service.update_user(
            current_user(request),
            user_id,
            role=data.role,
            is_active=data.is_active,
            display_name=data.display_name,
            password=data.password,
            mcp_access=data.mcp_access,
        )


api_routes = [MeController, ApiKeyController, UserController]
