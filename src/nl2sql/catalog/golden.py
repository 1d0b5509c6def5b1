"""Golden-query SQL checks: the protocol the service takes, and the catalog's own read-only check."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from nl2sql.catalog.dto import Connection, Metric, PromptSchema
from nl2sql.errors import ValidationFailed



@dataclass(frozen=True)
class SqlTarget:
    """What a golden query may touch: the connection, its included tables and its sensitive columns."""

    connection: Connection
    allowed_tables: frozenset[str]
    sensitive_columns: frozenset[str]


# (sql, target, engine) -> the SQL to store; raises ValidationFailed (or another AppError) with the reason
GoldenSqlCheck = Callable[[str, SqlTarget, sa.Engine], str]

# (metric, the connection's schema with that metric in it, engine) -> what the check found (the semantic check:
# the SQL, a metric's value, a segment's row count); raises ValidationFailed with the reason
MetricCheck = Callable[[Metric, PromptSchema, sa.Engine], Any]


def parse_check(metric: Metric, schema: PromptSchema, engine: sa.Engine) -> str:
    """The catalog's own check: the formula and filters parse in the connection's dialect (app.py wires the
    semantic check, which also compiles, guards and runs them)."""
    for part in (metric.expression, *metric.filters):
        try:
            sqlglot.parse_one(part, read=schema.dialect)
        except SqlglotError as exc:
            raise ValidationFailed(f"{part!r} does not parse: {str(exc).splitlines()[0][:200]}") from None
    return "parses"


_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command, exp.Into)


def parse_read_only(sql: str, dialect: str) -> exp.Expression:
    """Exactly one read-only statement in `dialect`, or ValidationFailed naming what is wrong."""
    text = (sql or "").strip()
    if not text:
        raise ValidationFailed("the SQL is empty")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except SqlglotError as exc:
        raise ValidationFailed(f"the SQL does not parse as {dialect}: {str(exc).splitlines()[0][:300]}") from None
    if len(statements) != 1:
        raise ValidationFailed(f"the SQL must be exactly one statement, found {len(statements)}")
    tree = statements[0]
    for node in tree.walk():
        if isinstance(node, _WRITES):
            kind = "SELECT ... INTO" if isinstance(node, exp.Into) else node.key.upper()
            raise ValidationFailed(f"the SQL must be read-only: it contains {kind}")
    if not isinstance(tree, exp.Query):
        raise ValidationFailed(f"the SQL must be a query (SELECT or WITH ... SELECT), not {tree.key.upper()}")
    return tree


class ReadOnlyCheck:
    """sqlglot parse plus a read-only test run with a timeout; app.py may wire sqlguard's stricter check instead."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def __call__(self, sql: str, target: SqlTarget, engine: sa.Engine) -> str:
        parse_read_only(sql, target.connection.dialect)
        text = sql.strip().rstrip(";").strip()
        self.test_run(text, target.connection, engine)
        return text

    def test_run(self, sql: str, connection: Connection, engine: sa.Engine) -> None:
        backend = engine.dialect.name
        deadline = time.monotonic() + self.timeout
        conn = engine.connect()
        try:
            if backend == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(self.timeout * 1000)}")
            elif backend in ("mysql", "mariadb"):
                conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
                for statement in (
                    f"SET SESSION max_statement_time = {self.timeout}",  # MariaDB
                    f"SET SESSION max_execution_time = {int(self.timeout * 1000)}",  # MySQL
                ):
                    try:
                        conn.exec_driver_sql(statement)
                    except sa.exc.DBAPIError:
                        pass
                conn.rollback()
            elif backend == "sqlite":
                raw = conn.connection.dbapi_connection
                raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10000)
            # a raw cursor without parameters: `%` in the SQL (LIKE 'a%') is not a placeholder then
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql)
                cursor.fetchmany(1)
            finally:
                cursor.close()
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:
            message = " ".join(str(getattr(exc, "orig", exc)).split())[:300]
            if time.monotonic() >= deadline or "timeout" in message.lower() or "interrupted" in message.lower():
                raise ValidationFailed(f"the test run took longer than {self.timeout:g} s") from None
            raise ValidationFailed(f"the test run on {connection.name} failed: {message}") from None
        finally:
            # the session settings above must not leak into the pool
            conn.invalidate()
            conn.close()
