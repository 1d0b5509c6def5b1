"""The judging rule of text-to-SQL evaluation (../shared/sqleval's README): a predicted result is right when it
matches one gold alternative exactly or as a subset (extra columns allowed), row order only where the question
asks for one (then in the order of the gold's first ORDER BY item), floats within 1e-5.

Gold SQL may list alternatives separated by `;`, and `{a, b}` for interchangeable columns (every non-empty subset
is acceptable)."""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Table", "asks_for_order", "gold_alternatives", "judge", "match", "normal", "order_index"]

ORDER_WORDS = re.compile(r"\b(order|sort|sorted|arrange|arranged|rank|ranked)\b", re.I)


def asks_for_order(question: str, category: str | None = None) -> bool:
    """Row order counts for the order_by category or where the question asks for an order."""
    return category == "order_by" or bool(ORDER_WORDS.search(question))


_BRACES = re.compile(r"\{([^{}]*)\}")


def gold_alternatives(query: str) -> list[str]:
    """Every acceptable gold query: `;`-separated alternatives, each `{a, b}` expanded to its non-empty subsets."""
    out: list[str] = []
    for alternative in (part.strip() for part in query.split(";")):
        if alternative:
            out += _expand(alternative)
    return list(dict.fromkeys(out))


def _expand(query: str) -> list[str]:
    groups = [m for m in _BRACES.finditer(query) if m.group(1).strip()]
    if not groups:
        return [query]
    options = []
    for match in groups:
        columns = [c.strip() for c in match.group(1).split(",") if c.strip()]
        options.append([", ".join(combo) for r in range(1, len(columns) + 1)
                        for combo in itertools.combinations(columns, r)])
    out = []
    for choice in itertools.product(*options):
        text, picks = query, iter(choice)
        # `{}` repeats the first group's choice (e.g. GROUP BY {} after SELECT {a, b})
        text = _BRACES.sub(lambda m: next(picks) if m.group(1).strip() else choice[0], text)
        out.append(text)
    return out


def normal(value: Any) -> Any:
    """A value as the judge compares it (decimals as floats, dates as text, bytes as hex)."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool | int | float) and isinstance(b, bool | int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-5, abs_tol=1e-9)
    return str(a) == str(b)


def _key(value: Any) -> tuple:
    # sortable across types and None
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, round(float(value), 4))
    return (2, str(value))


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    order_index: int | None = None  # gold only: the output column of its first ORDER BY item, when it is one

    def deduplicated(self) -> Table:
        seen, rows = set(), []
        for row in self.rows:
            key = tuple(_key(v) for v in row)
            if key not in seen:
                seen.add(key)
                rows.append(row)
        return Table(self.columns, tuple(rows), self.order_index)


def order_index(sql: str, columns: Sequence[str], dialect: str = "postgres") -> int | None:
    """Which output column the query's first ORDER BY item is (by alias, name or the same expression)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except Exception:  # an unparsable gold query keeps the strict full-order comparison
        return None
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    order = tree.args.get("order") or (select.args.get("order") if select is not None else None)
    if order is None or not order.expressions or select is None:
        return None
    first = order.expressions[0].this
    names = [c.lower() for c in columns]
    if isinstance(first, exp.Literal) and first.is_int:
        index = int(first.this) - 1
        return index if 0 <= index < len(columns) else None
    if isinstance(first, exp.Column) and first.name.lower() in names:
        return names.index(first.name.lower())
    for i, projection in enumerate(select.expressions):
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if inner == first or inner.sql() == first.sql():
            return i if i < len(columns) else None
    return None


def _rows_equal(a: Sequence[Sequence[Any]], b: Sequence[Sequence[Any]], ordered: bool) -> bool:
    if len(a) != len(b):
        return False
    if not ordered:
        a = sorted(a, key=lambda r: tuple(_key(v) for v in r))
        b = sorted(b, key=lambda r: tuple(_key(v) for v in r))
    return all(len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y)) for x, y in zip(a, b))


def exact_match(predicted: Table, gold: Table, ordered: bool) -> bool:
    """Equal after dropping duplicate rows and sorting columns by name; row order only where it counts."""
    p, g = predicted.deduplicated(), gold.deduplicated()
    if len(p.columns) != len(g.columns):
        return False
    p_order = sorted(range(len(p.columns)), key=lambda i: p.columns[i].lower())
    g_order = sorted(range(len(g.columns)), key=lambda i: g.columns[i].lower())
    p_rows = [tuple(r[i] for i in p_order) for r in p.rows]
    g_rows = [tuple(r[i] for i in g_order) for r in g.rows]
    return _rows_equal(p_rows, g_rows, ordered)


def subset_match(predicted: Table, gold: Table, ordered: bool) -> bool:
    """Same rows, and every gold column matched one to one by a predicted column with the same values."""
    p, g = predicted.deduplicated(), gold.deduplicated()
    if len(p.rows) != len(g.rows) or len(p.columns) < len(g.columns):
        return False

    def column(table: Table, i: int) -> list[Any]:
        values = [r[i] for r in table.rows]
        return values if ordered else sorted(values, key=_key)

    p_cols = [column(p, i) for i in range(len(p.columns))]
    g_cols = [column(g, i) for i in range(len(g.columns))]
    fits = [[j for j, pc in enumerate(p_cols) if all(_same(a, b) for a, b in zip(gc, pc))] for gc in g_cols]

    def assign(i: int, used: frozenset[int]) -> bool:
        if i == len(fits):
            return True
        return any(assign(i + 1, used | {j}) for j in fits[i] if j not in used)

    return assign(0, frozenset())


def _ordered_by_first_item(predicted: Table, gold: Table) -> bool:
    """Rows come in the order of the gold's first ORDER BY item: some predicted column holds that column's values
    in the same sequence (ties may come in any order)."""
    p, g = predicted.deduplicated(), gold.deduplicated()
    k = gold.order_index
    assert k is not None
    wanted = [r[k] for r in g.rows]
    for j in range(len(p.columns)):
        got = [r[j] for r in p.rows]
        if len(got) == len(wanted) and all(_same(a, b) for a, b in zip(got, wanted)):
            return True
    return False


def match(predicted: Table, golds: Sequence[Table], ordered: bool) -> str | None:
    """`exact` or `subset` for the first gold alternative the result matches, else None."""
    for g in golds:
        if ordered and g.order_index is not None:
            if not _ordered_by_first_item(predicted, g):
                continue
            if exact_match(predicted, g, False):
                return "exact"
            if subset_match(predicted, g, False):
                return "subset"
        elif exact_match(predicted, g, ordered):
            return "exact"
        elif subset_match(predicted, g, ordered):
            return "subset"
    return None


def judge(predicted: Table, golds: Sequence[Table], ordered: bool) -> bool:
    """The README's rule: exact or subset match; where order counts, in the order of the gold's first ORDER BY item."""
    return match(predicted, golds, ordered) is not None
