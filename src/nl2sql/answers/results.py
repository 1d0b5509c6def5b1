"""Results of answers: the SQL as highlighted HTML, the uncapped SQL behind a capped one, recent rows, CSV."""

from __future__ import annotations

import time

import csv
import datetime as dt
import decimal
import io
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape
from sqlglot import exp, parse_one
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from nl2sql.sqlguard import ResultColumn, ValidatedSql

__all__ = ["CachedResult", "ResultCache", "csv_chunks", "highlight_sql", "json_value", "uncapped_sql"]

_PLAIN = {TokenType.VAR, TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA, TokenType.DOT, TokenType.SEMICOLON}


def highlight_sql(sql: str, dialect: str = "") -> Markup:
    """The SQL as escaped HTML with <span class="kw|fn|str|num|id|cm"> around its tokens; plain text if it won't tokenize."""
    try:
        tokens = Dialect.get_or_raise(dialect or None).tokenize(sql)
    except (SqlglotError, ValueError, KeyError):
        return Markup(escape(sql))
    out: list[str] = []
    position = 0
    for index, token in enumerate(tokens):
        start, end = token.start, token.end + 1
        if start < position or end > len(sql):
            return Markup(escape(sql))  # positions that don't add up: show the text as it is
        gap = sql[position:start]
        if gap.strip():
            out.append(f'<span class="cm">{escape(gap)}</span>')
        else:
            out.append(str(escape(gap)))
        text = escape(sql[start:end])
        kind = _token_class(token, tokens[index + 1] if index + 1 < len(tokens) else None)
        out.append(f'<span class="{kind}">{text}</span>' if kind else str(text))
        position = end
    rest = sql[position:]
    out.append(f'<span class="cm">{escape(rest)}</span>' if rest.strip() else str(escape(rest)))
    return Markup("".join(out))


def _token_class(token, following) -> str | None:
    kind = token.token_type
    if kind == TokenType.STRING:
        return "str"
    if kind == TokenType.NUMBER:
        return "num"
    if kind == TokenType.IDENTIFIER:
        return "id"
    if kind == TokenType.VAR:
        return "fn" if following is not None and following.token_type == TokenType.L_PAREN else None
    if kind in _PLAIN or not token.text[:1].isalpha():
        return None
    return "kw"


def uncapped_sql(validated: ValidatedSql) -> str:
    """The query without the LIMIT the guard added (a re-run with another cap validates it again)."""
    if not validated.limit_applied:
        return validated.sql
    try:
        tree = parse_one(validated.sql, read=validated.dialect)
    except SqlglotError:
        return validated.sql
    if not isinstance(tree, exp.Query):
        return validated.sql
    tree.set("limit", None)
    tree.set("fetch", None)
    return tree.sql(dialect=validated.dialect, comments=False, normalize_functions=False)


@dataclass(frozen=True)
class CachedResult:
    """Rows of one answer kept in memory for paging, chart switching and the page's re-render."""

    columns: tuple[ResultColumn, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    row_cap: int
    elapsed_ms: float
    values_cut: int = 0  # values longer than the value cap, cut to it (each one marked)
    bytes_cut: bool = False  # rows left out because the result reached its byte cap
    value_cap: int = 0
    byte_cap: int = 0
    size_bytes: int = 0  # memory the rows take, about
    at: float = field(default_factory=time.monotonic)  # when it was run

    @property
    def cut_note(self) -> str | None:
        """What the caps on size left out, in a sentence; None when nothing was."""
        notes = []
        if self.bytes_cut:
            notes.append(f"Only the first {len(self.rows):,} rows are shown: the result reached the "
                         f"{_size(self.byte_cap)} size cap, so the rest were not fetched.")
        if self.values_cut:
            many = f"{self.values_cut:,} values were" if self.values_cut != 1 else "1 value was"
            notes.append(f"{many} longer than {self.value_cap:,} characters and cut there (marked '[cut: ...]').")
        return " ".join(notes) or None


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count:,} bytes"


class ResultCache:
    """The most recent results (with their charts) by answer id, at most `size` of them and about `max_bytes` in
    all; the oldest go first (they can be re-run)."""

    def __init__(self, size: int, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._items: OrderedDict[int, tuple[Any, int]] = OrderedDict()
        self.bytes = 0  # what the kept results weigh, about

    def put(self, answer_id: int, result: Any, size: int = 0) -> None:
        """Keep `result`, which weighs about `size` bytes; one heavier than the whole cache is not kept."""
        self._drop(answer_id)
        if size > self._max_bytes:
            return
        self._items[answer_id] = (result, size)
        self.bytes += size
        while len(self._items) > self._size or self.bytes > self._max_bytes:
            self._drop(next(iter(self._items)))

    def get(self, answer_id: int) -> Any:
        entry = self._items.get(answer_id)
        if entry is None:
            return None
        self._items.move_to_end(answer_id)
        return entry[0]

    def __len__(self) -> int:
        return len(self._items)

    def _drop(self, answer_id: int) -> None:
        entry = self._items.pop(answer_id, None)
        if entry is not None:
            self.bytes -= entry[1]


def json_value(value: Any) -> Any:
    """A result value as JSON can carry it: dates as ISO text, decimals as numbers, bytes as a note."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    return str(value)


def csv_chunks(
    columns: Sequence[ResultColumn], rows: Iterable[Sequence[Any]], *, batch: int = 500, note: str | None = None,
    headers: Sequence[str] | None = None,
) -> Iterator[bytes]:
    """The result as CSV (UTF-8, header first: `headers`, the column names with their units, else the names), a few
    hundred rows per chunk so a large one streams; the values keep full precision; `note`, when given, is a last
    line saying what was left out."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(headers) if headers is not None and len(headers) == len(columns) else [c.name for c in columns])
    pending = 0
    for row in rows:
        writer.writerow(["" if v is None else json_value(v) for v in row])
        pending += 1
        if pending >= batch:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if note:
        writer.writerow([f"# {note}"])
    yield buffer.getvalue().encode()
