"""Row policies, column masks and users' attributes, for admins: checked with the guard before they are stored
(a condition must parse in the connection's dialect, with its `{user.<name>}` attributes), then kept by the catalog,
which audits each change. The REST API (/api/v1/access) and the page (/admin/access) both call these."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put

from nl2sql.auth import AuthService, current_user, requires_admin
from nl2sql.catalog import MASK_CHOICES, CatalogService, ColumnPolicy, RowPolicy
from nl2sql.errors import ValidationFailed
from nl2sql.sqlguard import Access, GuardPolicy, RowFilter, SqlRefused, condition_tree, sqlglot_dialect, validate

__all__ = ["AccessController", "check_condition"]


async def check_condition(catalog: CatalogService, connection_name: str, table: str, condition: str) -> None:
    """Refuse a condition the guard can't apply: not one SQL condition, an attribute in quotes, or not valid SQL
    on the table (checked by guarding `SELECT * FROM table` under it, with every attribute set)."""
    connection = await catalog.get_connection(connection_name)
    dialect = sqlglot_dialect(connection.dialect)
    try:
        sample = {name: "x" for name in _attribute_names(condition)} | {"id": 1}
        condition_tree(condition, sample, dialect)
        validate(f"SELECT * FROM {table}", GuardPolicy(
            dialect=dialect, allowed_tables={table}, access=Access(filters=(RowFilter(table, condition),),
                                                                    attributes=sample)))
    except SqlRefused as refused:
        raise ValidationFailed(f"the condition can't be used: {refused.detail}") from None


def _attribute_names(condition: str) -> list[str]:
    return re.findall(r"\{\s*user\.([A-Za-z_][A-Za-z0-9_]*)\s*\}", condition or "")


class RowPolicyIn(msgspec.Struct, forbid_unknown_fields=True):
    """`subject`: `user:<id>` or `group:<name>`; `condition`: SQL as after WHERE, attributes as `{user.<name>}`."""

    connection: str
    table: str
    subject: str
    condition: str
    description: str = ""


class RowPolicyPatch(msgspec.Struct, forbid_unknown_fields=True):
    condition: str
    description: str = ""


class ColumnMaskIn(msgspec.Struct, forbid_unknown_fields=True):
    """`mode`: hidden (refused like a sensitive column), redacted (***), last4, or hash (SHA-256)."""

    connection: str
    table: str
    column: str
    subject: str
    mode: str


class UserAccessIn(msgspec.Struct, forbid_unknown_fields=True):
    attributes: dict[str, Any] = {}
    groups: list[str] = []


class UserAccessOut(msgspec.Struct):
    user_id: int
    attributes: dict[str, Any]
    groups: list[str]


class PoliciesOut(msgspec.Struct):
    connection: str
    row_policies: list[RowPolicy]
    column_masks: list[ColumnPolicy]


class AccessController(Controller):
    path = "/api/v1/access"
    tags = ["access"]
    guards = [requires_admin]

    @get("/{connection:str}", summary="A connection's row policies and column masks (admin)")
    async def policies(self, catalog_service: CatalogService, connection: str) -> PoliciesOut:
        found = await catalog_service.get_connection(connection)
        rows, masks = await catalog_service.access_policies(found.id)
        return PoliciesOut(found.name, rows, masks)

    @post("/row-policies", summary="Add a row policy: rows of `table` that `subject` may read (admin, audited)")
    async def add_row_policy(self, request: Request, catalog_service: CatalogService, data: RowPolicyIn) -> RowPolicy:
        await check_condition(catalog_service, data.connection, data.table, data.condition)
        return await catalog_service.add_row_policy(current_user(request), data.connection, data.table, data.subject,
                                                    data.condition, data.description)

    @patch("/row-policies/{policy_id:int}", summary="Change a row policy's condition (admin, audited)")
    async def update_row_policy(self, request: Request, catalog_service: CatalogService, policy_id: int,
                                data: RowPolicyPatch) -> RowPolicy:
        policy = await catalog_service.row_policy(policy_id)
        connection = await catalog_service.get_connection_by_id(policy.connection_id)
        await check_condition(catalog_service, connection.name, policy.table, data.condition)
        return await catalog_service.update_row_policy(current_user(request), policy_id, data.condition,
                                                       data.description)

    @delete("/row-policies/{policy_id:int}", summary="Remove a row policy (admin, audited)")
    async def delete_row_policy(self, request: Request, catalog_service: CatalogService, policy_id: int) -> None:
        await catalog_service.delete_row_policy(current_user(request), policy_id)

    @post("/column-masks", summary="Hide or mask a column for `subject` (admin, audited)")
    async def add_column_mask(self, request: Request, catalog_service: CatalogService,
                              data: ColumnMaskIn) -> ColumnPolicy:
        if data.mode not in MASK_CHOICES:
            raise ValidationFailed(f"mode is one of {', '.join(MASK_CHOICES)}")
        return await catalog_service.add_column_mask(current_user(request), data.connection, data.table, data.column,
                                                     data.subject, data.mode)

    @delete("/column-masks/{mask_id:int}", summary="Remove a column mask (admin, audited)")
    async def delete_column_mask(self, request: Request, catalog_service: CatalogService, mask_id: int) -> None:
        await catalog_service.delete_column_mask(current_user(request), mask_id)

    @get("/users/{user_id:int}", summary="A user's attributes and groups, as policies read them (admin)")
    async def user_access(self, catalog_service: CatalogService, auth_service: AuthService,
                          user_id: int) -> UserAccessOut:
        await auth_service.get_user(user_id)
        attributes, groups = await catalog_service.user_access(user_id)
        return UserAccessOut(user_id, attributes, groups)

    @put("/users/{user_id:int}", summary="Set a user's attributes and groups (admin, audited; at the user's next "
                                         "single sign-on the provider's groups replace these, its claims the "
                                         "attributes of the same names)")
    async def set_user_access(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                              user_id: int, data: UserAccessIn) -> UserAccessOut:
        await auth_service.get_user(user_id)
        attributes, groups = await catalog_service.set_user_access(current_user(request), user_id, data.attributes,
                                                                   data.groups)
        return UserAccessOut(user_id, attributes, groups)
