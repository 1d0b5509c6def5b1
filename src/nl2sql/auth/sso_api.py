"""REST routes of single sign-on: /api/v1/identity (what the settings say, admin) and its group mappings."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, Request, delete, get, post

from nl2sql.auth.guards import current_user, requires_admin
from nl2sql.auth.sso import GroupMapping, SsoService


class IdentityView(msgspec.Struct):
    sso_enabled: bool
    local_login: bool
    issuer: str | None
    client_id: str | None
    client_secret_set: bool
    scopes: str
    groups_claim: str
    redirect_uri: str | None  # None: built from each request (this server's /login/sso/callback)
    mappings: list[GroupMapping]


class MappingCreate(msgspec.Struct, forbid_unknown_fields=True):
    group: str
    role: Literal["admin", "analyst"] | None = None
    connections: list[str] = []


class IdentityController(Controller):
    path = "/api/v1/identity"
    tags = ["auth"]
    guards = [requires_admin]

    @get("/", summary="Single sign-on: what the settings say, and the group mappings (admin)")
    async def identity(self, sso_service: SsoService) -> IdentityView:
        s = sso_service.settings
        return IdentityView(
            sso_enabled=sso_service.enabled, local_login=s.local_login, issuer=s.oidc_issuer,
            client_id=s.oidc_client_id, client_secret_set=bool(s.oidc_client_secret), scopes=s.oidc_scopes,
            groups_claim=s.oidc_groups_claim, redirect_uri=s.oidc_redirect_uri, mappings=await sso_service.mappings())

    @post("/mappings", summary="Map a group to a role and connections (admin; audited)")
    async def add_mapping(self, request: Request, sso_service: SsoService, data: MappingCreate) -> GroupMapping:
        return await sso_service.add_mapping(current_user(request), data.group, role=data.role,
                                             connections=data.connections)

    @delete("/mappings/{mapping_id:int}", summary="Remove a group mapping (admin; audited)", status_code=204)
    async def remove_mapping(self, request: Request, sso_service: SsoService, mapping_id: int) -> None:
        await sso_service.remove_mapping(current_user(request), mapping_id)


sso_api_routes = [IdentityController]
