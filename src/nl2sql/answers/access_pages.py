"""/admin/access: a connection's row policies and column masks, and a user's attributes and groups (admin)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from nl2sql.answers.access import check_condition
from nl2sql.auth import AuthService, current_user, requires_admin
from nl2sql.catalog import MASK_CHOICES, CatalogService
from nl2sql.errors import AppError, ValidationFailed
from nl2sql.web import render

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()


class AccessPages(Controller):
    path = "/admin/access"
    include_in_schema = False
    guards = [requires_admin]

    async def _context(self, catalog: CatalogService, auth: AuthService, connection: str | None,
                       user_id: int | None = None, **extra: Any) -> dict[str, Any]:
        connections = await catalog.list_connections()
        chosen = next((c for c in connections if c.name == connection), connections[0] if connections else None)
        rows, masks = await catalog.access_policies(chosen.id) if chosen else ([], [])
        users = await auth.list_users()
        picked = next((u for u in users if u.id == user_id), None)
        attributes, groups = await catalog.user_access(picked.id) if picked else ({}, [])
        return {"connections": connections, "connection": chosen, "row_policies": rows, "column_masks": masks,
                "users": users, "picked": picked, "attributes_json": json.dumps(attributes, indent=1),
                "groups_text": ", ".join(groups), "modes": MASK_CHOICES, "message": None, "error": None} | extra

    @get("/")
    async def page(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                   connection: str | None = None, user: int | None = None) -> Template:
        ctx = await self._context(catalog_service, auth_service, connection, user)
        return render(request, "answers/access.html", ctx)

    async def _after(self, request: Request, catalog: CatalogService, auth: AuthService, connection: str,
                     change, message: str, user_id: int | None = None) -> Template:
        try:
            await change()
            extra, status = {"message": message}, 200
        except AppError as error:
            extra, status = {"error": error.detail}, error.status_code
        ctx = await self._context(catalog, auth, connection, user_id, **extra)
        return render(request, "answers/access.html", ctx, fragment="answers/_access.html", status_code=status)

    @post("/row-policies")
    async def add_row_policy(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                             data: Annotated[dict[str, Any], Form]) -> Template:
        name, table, condition = _text(data, "connection"), _text(data, "table"), _text(data, "condition")

        async def change() -> None:
            await check_condition(catalog_service, name, table, condition)
            await catalog_service.add_row_policy(current_user(request), name, table, _text(data, "subject"),
                                                 condition, _text(data, "description"))

        return await self._after(request, catalog_service, auth_service, name, change, "Row policy added.")

    @post("/row-policies/{policy_id:int}/delete")
    async def delete_row_policy(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                                policy_id: int, data: Annotated[dict[str, Any], Form]) -> Template:
        return await self._after(request, catalog_service, auth_service, _text(data, "connection"),
                                 lambda: catalog_service.delete_row_policy(current_user(request), policy_id),
                                 "Row policy removed.")

    @post("/column-masks")
    async def add_column_mask(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                              data: Annotated[dict[str, Any], Form]) -> Template:
        name = _text(data, "connection")
        return await self._after(request, catalog_service, auth_service, name, lambda: catalog_service.add_column_mask(
            current_user(request), name, _text(data, "table"), _text(data, "column"), _text(data, "subject"),
            _text(data, "mode")), "Column mask added.")

    @post("/column-masks/{mask_id:int}/delete")
    async def delete_column_mask(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                                 mask_id: int, data: Annotated[dict[str, Any], Form]) -> Template:
        return await self._after(request, catalog_service, auth_service, _text(data, "connection"),
                                 lambda: catalog_service.delete_column_mask(current_user(request), mask_id),
                                 "Column mask removed.")

    @post("/users")
    async def set_user_access(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                              data: Annotated[dict[str, Any], Form]) -> Template:
        user_id = int(_text(data, "user_id") or 0)

        async def change() -> None:
            try:
                attributes = json.loads(_text(data, "attributes") or "{}")
            except ValueError:
                raise ValidationFailed('attributes are a JSON object, e.g. {"region": "EU"}') from None
            if not isinstance(attributes, dict):
                raise ValidationFailed('attributes are a JSON object, e.g. {"region": "EU"}')
            await auth_service.get_user(user_id)
            await catalog_service.set_user_access(current_user(request), user_id, attributes,
                                                  _text(data, "groups").split(","))

        return await self._after(request, catalog_service, auth_service, _text(data, "connection"), change,
                                 "Attributes saved.", user_id)
