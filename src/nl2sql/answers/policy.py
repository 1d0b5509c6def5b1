"""The guard's rules for a connection (every included table, its sensitive columns), narrowed per statement, and the guard's check run off the event loop."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio

from nl2sql.catalog import PromptSchema
from nl2sql.sqlguard import (
    GuardPolicy,
    ValidatedSql,
    validate,
)

if TYPE_CHECKING:
    pass

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
