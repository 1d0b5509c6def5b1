"""Running a ValidatedSql on a customer database: read-only transaction, time limit, row and byte caps, rollback."""

from __future__ import annotations

import datetime as dt
import decimal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from nl2sql.errors import UnavailableError
from nl2sql.sqlguard.access import SQLITE_HASH, sha256_hex
from nl2sql.sqlguard.errors import QueryFailed, QueryTimeout, SqlRefused
from nl2sql.sqlguard.policy import sqlglot_dialect
from nl2sql.sqlguard.validation import ValidatedSql

__all__ = ["DEFAULT_RESULT_BYTES", "DEFAULT_VALUE_CAP", "QueryResult", "ResultColumn", "probe", "run"]

DEFAULT_VALUE_CAP = 65_536  # characters of one value kept (bytes of a binary one)
DEFAULT_RESULT_BYTES = 16 * 1024 * 1024  # memory the kept values of one result may take, about


@dataclass(frozen=True)
class ResultColumn:
    """One result column: its name and a type label (integer, number, text, date, datetime, boolean)."""

    name: str
    type: str


@dataclass(frozen=True)
class QueryResult:
    """Rows a query returned; `truncated` says the row cap may have hidden more rows, `bytes_cut` that the byte
    cap did, `values_cut` how many values were longer than the value cap and were cut (each one marked)."""

    columns: tuple[ResultColumn, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_count: int
    truncated: bool
    elapsed_s: float
    values_cut: int = 0
    bytes_cut: bool = False
    size_bytes: int = 0  # memory the kept rows take, about (what the byte cap counts)


def run(
    sql: ValidatedSql,
    engine: Engine,
    *,
    timeout_s: float,
    max_rows: int,
    value_cap: int = DEFAULT_VALUE_CAP,
    max_bytes: int = DEFAULT_RESULT_BYTES,
) -> QueryResult:
    """Run a validated query read-only within `timeout_s`, keeping at most `max_rows` rows, no value longer than
    `value_cap` characters and about `max_bytes` of values in all; always rolls back."""
    if max_rows < 0:
        raise ValueError("max_rows must not be negative")
    if value_cap < 1 or max_bytes < 1:
        raise ValueError("value_cap and max_bytes must be positive")
    kept = _Kept(max_rows, value_cap, max_bytes)
    with _read_only(sql, engine, timeout_s) as (conn, watch):
        started = time.perf_counter()
        try:
            result = _execute(conn, sql.sql, stream=True)
            description = result.cursor.description if result.cursor is not None else None
            if result.returns_rows:
                _fetch(result, kept, started + timeout_s, timeout_s)
            if kept.stopped_early and sqlglot_dialect(engine.dialect.name) == "mysql":
                _abandon(result, conn)
            else:
                result.close()
        except sa.exc.DBAPIError as error:
            raise _translated(error, conn, watch, timeout_s) from None
        elapsed = time.perf_counter() - started
    rows = tuple(kept.rows)
    # A guard-added LIMIT hides whether more rows existed; reaching it counts as "maybe more".
    truncated = kept.more_rows or (sql.limit_applied and len(rows) >= sql.row_cap)
    return QueryResult(
        columns=_columns(description or (), rows, engine.dialect.name),
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        elapsed_s=elapsed,
        values_cut=kept.values_cut,
        bytes_cut=kept.bytes_cut,
        size_bytes=kept.size,
    )


# --- keeping rows within the caps ----------------------------------------------------------------

_FIRST_BATCH = 16  # rows fetched before their size is known
_MAX_BATCH = 500
_BATCH_BYTES = 4 * 1024 * 1024  # what one fetch should bring, about: later batches are sized by the rows seen


class _Kept:
    """The rows kept so far and why fetching stopped."""

    def __init__(self, max_rows: int, value_cap: int, max_bytes: int) -> None:
        self.max_rows, self.value_cap, self.max_bytes = max_rows, value_cap, max_bytes
        self.rows: list[tuple[Any, ...]] = []
        self.size = 0
        self.values_cut = 0
        self.more_rows = False  # a row beyond max_rows exists
        self.bytes_cut = False  # the next row would have passed max_bytes

    @property
    def stopped_early(self) -> bool:
        return self.more_rows or self.bytes_cut

    def add(self, row: Sequence[Any]) -> bool:
        """Keep `row` (its long values cut) if it fits; False once nothing more is to be kept."""
        if len(self.rows) >= self.max_rows:
            self.more_rows = True
            return False
        values = []
        size = sys.getsizeof(()) + 8 * len(row)
        cut = 0
        for value in row:
            value, was_cut = _capped(value, self.value_cap)
            cut += was_cut
            size += _weight(value)
            values.append(value)
        if self.size + size > self.max_bytes:
            self.bytes_cut = True
            return False
        self.rows.append(tuple(values))
        self.size += size
        self.values_cut += cut
        return True


def _fetch(result: sa.CursorResult, kept: _Kept, deadline: float, timeout_s: float) -> None:
    """Fetch rows in batches sized to what they weigh, so no batch brings much more than the caps keep."""
    batch = _FIRST_BATCH
    while True:
        wanted = min(batch, kept.max_rows + 1 - len(kept.rows))  # one row past max_rows says there are more
        fetched = result.fetchmany(wanted)
        weight = 0
        for row in fetched:
            weight += sum(_weight(value, limit=_BATCH_BYTES) for value in row)
            if not kept.add(row):
                return
        if len(fetched) < wanted:
            return
        if time.perf_counter() > deadline:
            # a server-side cursor's statement limit counts each fetch, not the whole query
            raise QueryTimeout(f"the query ran longer than {timeout_s:g} s and was stopped")
        per_row = max(1, weight // max(1, len(fetched)))
        batch = max(1, min(_MAX_BATCH, _BATCH_BYTES // per_row, (kept.max_bytes - kept.size) // per_row + 1))


def _abandon(result: sa.CursorResult, conn: Connection) -> None:
    """Drop a connection whose unbuffered MySQL result we stop reading: closing the result politely would read
    (and throw away) the rest of it; closing the connection ends the query on the server."""
    pending = getattr(result.cursor, "_result", None)  # PyMySQL's unbuffered result, which reads the rest on close
    if pending is not None and hasattr(pending, "unbuffered_active"):
        pending.unbuffered_active = False
    conn.invalidate()


def _capped(value: Any, cap: int) -> tuple[Any, int]:
    """The value, or its first `cap` characters with a marker when it is longer; and 1 if it was cut."""
    if isinstance(value, str):
        if len(value) <= cap:
            return value, 0
        # an ASCII marker: one wider character would make Python hold the whole kept text at 2-4 bytes a character
        return f"{value[:cap]}... [cut: {cap:,} of {len(value):,} characters shown]", 1
    if isinstance(value, (bytes, bytearray, memoryview)):
        size = value.nbytes if isinstance(value, memoryview) else len(value)
        if size <= cap:
            return value, 0
        return f"<{size:,} bytes: binary value over the {cap:,}-byte cap, not kept>", 1
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        text = _text(value, cap + 1)
        if len(text) <= cap:
            return value, 0
        return f"{text[:cap]}... [cut: {cap:,} characters shown]", 1
    return value, 0


def _text(value: Any, limit: int) -> str:
    """An array's or JSON value's text, read no further than `limit` characters."""
    out: list[str] = []
    length = 0
    for piece in _pieces(value, limit):
        out.append(piece)
        length += len(piece)
        if length >= limit:
            break
    return "".join(out)


def _pieces(value: Any, limit: int) -> Iterator[str]:
    if isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ", " if index else ""
            yield from _pieces(key, limit)
            yield ": "
            yield from _pieces(item, limit)
        yield "}"
    elif isinstance(value, (list, tuple, set, frozenset)):
        yield "["
        for index, item in enumerate(value):
            yield ", " if index else ""
            yield from _pieces(item, limit)
        yield "]"
    elif isinstance(value, str):
        yield '"' + value[:limit] + '"'
    elif isinstance(value, (bytes, bytearray, memoryview)):
        yield f"<{value.nbytes if isinstance(value, memoryview) else len(value)} bytes>"
    else:
        yield str(value)[:limit]


def _weight(value: Any, limit: int = sys.maxsize) -> int:
    """About how many bytes of memory the value takes (nested values counted until `limit` is passed)."""
    if isinstance(value, memoryview):
        return sys.getsizeof(value) + value.nbytes
    if isinstance(value, (list, tuple, set, frozenset)):
        total = sys.getsizeof(value)
        for item in value:
            if total > limit:
                break
            total += _weight(item, limit - total)
        return total
    if isinstance(value, dict):
        total = sys.getsizeof(value)
        for key, item in value.items():
            if total > limit:
                break
            total += _weight(key, limit - total) + _weight(item, limit - total)
        return total
    return sys.getsizeof(value)


def probe(sql: ValidatedSql, engine: Engine, timeout_s: float) -> None:
    """Ask the database to plan the query without returning data; raise QueryFailed with its error if it can't."""
    kind = sqlglot_dialect(engine.dialect.name)
    if kind in {"postgres", "mysql", "duckdb"}:
        statement = f"EXPLAIN {sql.sql}"
    elif kind == "sqlite":
        statement = f"EXPLAIN QUERY PLAN {sql.sql}"
    else:
        statement = f"SELECT * FROM ({sql.sql}) probe WHERE 1 = 0"
    with _read_only(sql, engine, timeout_s) as (conn, watch):
        try:
            _execute(conn, statement).fetchall()
        except sa.exc.DBAPIError as error:
            raise _translated(error, conn, watch, timeout_s) from None


def _execute(conn: Connection, statement: str, *, stream: bool = False) -> sa.CursorResult:
    # no_parameters: the driver gets cursor.execute(sql) alone, so a `%` in LIKE '%a%' is not
    # mistaken for a placeholder (psycopg and PyMySQL format when handed even an empty tuple).
    # stream_results: a server-side cursor (PostgreSQL, MySQL), so rows arrive as they are fetched and
    # the byte cap bounds what the driver holds, not only what we keep.
    return conn.execution_options(no_parameters=True, stream_results=stream).exec_driver_sql(statement)


# --- the read-only session -----------------------------------------------------------------------


class _Watch:
    """Whether our own timer stopped the statement (SQLite, and drivers without a server-side limit)."""

    def __init__(self) -> None:
        self.fired = False


@contextmanager
def _read_only(sql: ValidatedSql, engine: Engine, timeout_s: float) -> Iterator[tuple[Connection, _Watch]]:
    if not isinstance(sql, ValidatedSql):
        raise TypeError("run() and probe() take a ValidatedSql from sqlguard.validate()")
    kind = sqlglot_dialect(engine.dialect.name)
    if kind != sql.dialect:
        raise SqlRefused(f"this query was checked as {sql.dialect} SQL, but the database speaks {kind}")
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as error:
        raise UnavailableError(f"can't reach the database: {_database_message(error)}") from None
    watch = _Watch()
    try:
        with conn:
            setup = {"postgres": _postgres, "mysql": _mysql, "sqlite": _sqlite, "oracle": _oracle}.get(kind, _generic)
            try:
                restore = setup(conn, timeout_s, watch)
            except sa.exc.DBAPIError as error:
                raise QueryFailed(f"the database refused a read-only session: {_database_message(error)}") from None
            try:
                yield conn, watch
            finally:
                # Nothing a query did survives: roll back, then put session settings back for the pool.
                try:
                    conn.rollback()
                    restore()
                    conn.rollback()
                except Exception:  # noqa: BLE001 — a connection we can't reset must never be reused
                    conn.invalidate()
    finally:
        conn.close()


def _postgres(conn: Connection, timeout_s: float, watch: _Watch):
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
    return lambda: None  # SET LOCAL ends with the transaction


def _mysql(conn: Connection, timeout_s: float, watch: _Watch):
    # MariaDB limits statements with max_statement_time (seconds); MySQL with max_execution_time (ms).
    mariadb = getattr(conn.dialect, "is_mariadb", False) or "mariadb" in str(
        conn.exec_driver_sql("SELECT VERSION()").scalar()
    ).lower()
    variable, value = ("max_statement_time", f"{timeout_s:.3f}") if mariadb else (
        "max_execution_time",
        str(max(1, int(timeout_s * 1000))),
    )
    previous = conn.exec_driver_sql(f"SELECT @@SESSION.{variable}").scalar()
    conn.exec_driver_sql(f"SET SESSION {variable} = {value}")
    conn.rollback()
    conn.exec_driver_sql("START TRANSACTION READ ONLY")
    return lambda: conn.exec_driver_sql(f"SET SESSION {variable} = {previous}")


def _sqlite(conn: Connection, timeout_s: float, watch: _Watch):
    raw = conn.connection.dbapi_connection
    previous = conn.exec_driver_sql("PRAGMA query_only").scalar()
    conn.exec_driver_sql("PRAGMA query_only = ON")
    deadline = time.monotonic() + timeout_s

    def over_time() -> int:
        if time.monotonic() > deadline:
            watch.fired = True
            return 1  # non-zero aborts the running statement with "interrupted"
        return 0

    raw.set_progress_handler(over_time, 1000)
    raw.create_function(SQLITE_HASH, 1, sha256_hex, deterministic=True)  # the hash column mask (sqlguard.access)

    def restore() -> None:
        raw.set_progress_handler(None, 0)
        conn.exec_driver_sql(f"PRAGMA query_only = {int(bool(previous))}")

    return restore


def _oracle(conn: Connection, timeout_s: float, watch: _Watch):
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    return _generic(conn, timeout_s, watch)


def _generic(conn: Connection, timeout_s: float, watch: _Watch):
    # No server-side limit we know of: a timer interrupts the driver (DuckDB interrupt(), cancel()).
    # Read-only rests on the guard and the rollback here; give such connections a read-only user.
    raw = conn.connection.dbapi_connection
    stop = getattr(raw, "interrupt", None) or getattr(raw, "cancel", None)
    if stop is None:
        return lambda: None

    def interrupt() -> None:
        watch.fired = True
        stop()

    timer = threading.Timer(timeout_s, interrupt)
    timer.daemon = True
    timer.start()
    return timer.cancel


# --- errors and types ----------------------------------------------------------------------------

_TIMEOUT_CODES = {
    "57014",  # PostgreSQL query_canceled (statement_timeout)
    3024,  # MySQL max_execution_time exceeded
    1969,  # MariaDB max_statement_time exceeded
    1317,  # MySQL/MariaDB query interrupted
}


def _translated(error: sa.exc.DBAPIError, conn: Connection, watch: _Watch, timeout_s: float) -> Exception:
    orig = error.orig
    codes = {getattr(orig, "sqlstate", None), *(getattr(orig, "args", None) or ())[:1]}
    if watch.fired or codes & _TIMEOUT_CODES:
        return QueryTimeout(f"the query ran longer than {timeout_s:g} s and was stopped")
    message = _database_message(error)
    return QueryFailed(f"the database rejected the query: {message}", extra={"database_message": message})


def _database_message(error: sa.exc.DBAPIError) -> str:
    orig = error.orig
    args = getattr(orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (errno, message)
        text = str(args[1])
    else:
        text = str(orig)
    return text.strip()[:1000] or type(orig).__name__


# Type codes from cursor descriptions: PostgreSQL OIDs (psycopg) and MySQL field types (PyMySQL).
_POSTGRES_TYPES = {
    16: "boolean", 20: "integer", 21: "integer", 23: "integer", 26: "integer", 700: "number", 701: "number",
    1700: "number", 790: "number", 25: "text", 1042: "text", 1043: "text", 19: "text", 18: "text",
    1082: "date", 1114: "datetime", 1184: "datetime", 1083: "text", 1266: "text", 2950: "text",
}
_MYSQL_TYPES = {
    0: "number", 246: "number", 4: "number", 5: "number", 1: "integer", 2: "integer", 3: "integer",
    8: "integer", 9: "integer", 13: "integer", 16: "integer", 10: "date", 14: "date", 7: "datetime",
    12: "datetime", 11: "text", 15: "text", 253: "text", 254: "text", 245: "text", 247: "text", 248: "text",
}


def _columns(description: Sequence[Sequence[Any]], rows: Sequence[tuple[Any, ...]], dialect: str) -> tuple[ResultColumn, ...]:
    codes = {"postgresql": _POSTGRES_TYPES, "mysql": _MYSQL_TYPES, "mariadb": _MYSQL_TYPES}.get(dialect, {})
    columns = []
    for index, entry in enumerate(description):
        code = entry[1] if len(entry) > 1 else None
        label = codes.get(code) if isinstance(code, int) else None
        columns.append(ResultColumn(name=str(entry[0]), type=label or _value_type(row[index] for row in rows)))
    return tuple(columns)


def _value_type(values) -> str:
    """The label the non-null values share; integers mixed with decimals read as numbers."""
    labels = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            labels.add("boolean")
        elif isinstance(value, int):
            labels.add("integer")
        elif isinstance(value, (float, decimal.Decimal)):
            labels.add("number")
        elif isinstance(value, dt.datetime):
            labels.add("datetime")
        elif isinstance(value, dt.date):
            labels.add("date")
        else:
            return "text"
    if labels == {"integer", "number"}:
        return "number"
    return labels.pop() if len(labels) == 1 else "text"
