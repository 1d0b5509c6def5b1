"""The guard's rules for a connection (every included table, its sensitive columns), narrowed per statement, with
the asking user's row policies and column masks; and the guard's check run off the event loop."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import replace

import anyio

from nl2sql.auth import User
from nl2sql.catalog import CatalogService, ColumnPolicy, PromptSchema, RowPolicy, subject_matches
from nl2sql.sqlguard import (
    Access,
    ColumnMask,
    GuardPolicy,
    RowFilter,
    ValidatedSql,
    validate,
)

log = logging.getLogger("nl2sql.answers")




async def guarded(sql: str, policy: ConnectionPolicy) -> ValidatedSql:
    """The guard's check of `sql`, off the event loop: parsing a long statement takes CPU seconds, and the server
    keeps serving meanwhile (the guard also refuses statements past its size limits)."""
    return await anyio.to_thread.run_sync(lambda: validate(sql, policy.for_sql(sql)))



def guard_policy(schema: PromptSchema, row_cap: int, extra_functions: frozenset[str] = frozenset()) -> GuardPolicy:
    """The guard's rules for a connection: every included table (not only retrieved ones), its sensitive columns."""
    schemas = {t.schema for t in schema.tables}
    allowed = {t.qualified_name for t in schema.tables}
    default_schema = next(iter(schemas)) if len(schemas) == 1 else None
    return GuardPolicy(
        dialect=schema.dialect,
        allowed_tables=frozenset(allowed),
        sensitive_columns=schema.sensitive_columns,
        row_cap=row_cap,
        default_schema=default_schema,
        extra_functions=extra_functions,
    )


# Every word and quoted name in a statement: a table it reads is among them, however it is written.
_NAME_TOKENS = re.compile(r'"((?:[^"]|"")+)"|`((?:[^`]|``)+)`|\[([^\]]+)\]|([^\W\d][\w$]*)', re.UNICODE)


class ConnectionPolicy:
    """A connection's guard policy and its tables by name, so each check names only the tables the SQL mentions.

    The guard normalizes every allowed name on each call; on a catalog of thousands of tables that is most
    of its time. A policy narrowed to the tables whose names occur in the SQL refuses exactly what the full
    one refuses (a table not written in the SQL can't be read by it) and can only refuse more, never less.
    """

    def __init__(self, policy: GuardPolicy) -> None:
        self.policy = policy
        self.fingerprint = ""  # the user's access rules, for caches: "" when the user has none
        self._by_name: dict[str, list[str]] = {}
        for entry in policy.allowed_tables:
            self._by_name.setdefault(entry.rsplit(".", 1)[-1].casefold(), []).append(entry)
        self._sensitive_by_table: dict[str, list[str]] = {}
        for entry in policy.sensitive_columns:
            table = entry.rsplit(".", 2)[-2].casefold()
            self._sensitive_by_table.setdefault(table, []).append(entry)

    def for_sql(self, sql: str) -> GuardPolicy:
        words = {next(g for g in m.groups() if g is not None).casefold() for m in _NAME_TOKENS.finditer(sql)}
        allowed = frozenset(entry for word in words for entry in self._by_name.get(word, ()))
        # a sensitive column can only be exposed through a table the SQL reads, so only those tables' count
        sensitive = frozenset(entry for word in words for entry in self._sensitive_by_table.get(word, ()))
        return replace(self.policy, allowed_tables=allowed, sensitive_columns=sensitive)

    def restricted(self, access: Access, hidden: frozenset[str]) -> ConnectionPolicy:
        """This policy for one user: their row filters and masks, their hidden columns refused as sensitive ones."""
        narrowed = ConnectionPolicy(replace(self.policy, access=access,
                                            sensitive_columns=self.policy.sensitive_columns | hidden))
        narrowed.fingerprint = access.fingerprint
        return narrowed


def user_access(user: User, rows: list[RowPolicy], masks: list[ColumnPolicy],
                schema: PromptSchema) -> tuple[Access, frozenset[str]]:
    """The guard's Access for `user` from the policies that name them or their groups, and their hidden columns.

    `{user.id}` and `{user.email}` are always there; the other attributes are the user's own (an admin's or the
    identity provider's)."""
    rows = [r for r in rows if subject_matches(r.subject, user)]
    masks = [m for m in masks if subject_matches(m.subject, user)]
    attributes = dict(user.attributes or {}) | {"id": user.id, "email": user.email}
    shown = [m for m in masks if m.mode != "hidden"]
    hidden = frozenset(f"{m.table}.{m.column}" for m in masks if m.mode == "hidden")
    masked_tables = {m.table for m in shown}
    columns = {t.qualified_name: tuple(c.name for c in t.columns)
               for t in schema.tables if t.qualified_name in masked_tables}
    filters = tuple(RowFilter(r.table, r.condition) for r in rows)
    column_masks = tuple(ColumnMask(f"{m.table}.{m.column}", m.mode) for m in shown)
    used = sorted({name for r in rows for name in re.findall(r"\{\s*user\.(\w+)\s*\}", r.condition)})
    fingerprint = hashlib.sha256(json.dumps(
        [[(f.table, f.condition) for f in filters], [(m.column, m.mode) for m in column_masks], sorted(hidden),
         [(name, attributes.get(name)) for name in used]], default=str).encode()).hexdigest() if rows or masks else ""
    return Access(filters, column_masks, attributes, columns, fingerprint), hidden


async def for_user(catalog: CatalogService, policy: ConnectionPolicy, user: User,
                   schema: PromptSchema) -> ConnectionPolicy:
    """The connection's policy as it applies to `user`: unchanged when no row policy or mask names them."""
    rows, masks = await catalog.access_policies(schema.connection_id)
    access, hidden = user_access(user, rows, masks, schema)
    if not access.restricts and not hidden:
        return policy
    return policy.restricted(access, hidden)


async def note_exercised(catalog: CatalogService, user: User, connection_id: int, validated: ValidatedSql) -> None:
    """Record that a non-admin user's statement ran under row policies (the readiness checklist asks)."""
    if not validated.policies or user.is_admin:
        return
    rows, _ = await catalog.access_policies(connection_id)
    read = {table.casefold().rsplit(".", 1)[-1] for table in validated.tables}
    await catalog.note_policies_exercised([r.id for r in rows if subject_matches(r.subject, user)
                                           and r.table.casefold().rsplit(".", 1)[-1] in read])
