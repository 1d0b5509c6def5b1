"""The query plan: a typed, JSON-serialisable reading of a question that the compiler turns into SQL.

Expressions: `Col` (a column), `Agg` (count, count distinct, sum, avg, min, max; optionally of only the rows
matching a condition), `Arith` (+ - * /, division safe from zero), `Lit`, `Bucket` (day, week, month, quarter,
year), `Part` (year, month, quarter, weekday, hour of a date), `Elapsed` (days, hours or minutes between two
dates), `Today`. Conditions: `Compare`, `Between`, `InList`, `Match` (contains, starts, ends; case-insensitive),
`IsNull`, `AllOf`, `AnyOf`, `Not`, `Related` (rows that do, or don't, have related rows matching a condition).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = [
    "Agg", "AllOf", "AnyOf", "Arith", "Between", "Bucket", "Col", "Compare", "Condition", "Elapsed", "Expr",
    "InList", "IsNull", "Lit", "Match", "Not", "Order", "Output", "Part", "QueryPlan", "Related", "Today",
    "columns_of", "node_json", "plan_from_json",
]

AGG_FUNCS = ("count", "count_distinct", "sum", "avg", "min", "max")
GRAINS = ("day", "week", "month", "quarter", "year")
PARTS = ("year", "month", "quarter", "dow", "day", "hour")
COMPARE_OPS = ("=", "<>", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Col:
    table: str
    column: str


@dataclass(frozen=True)
class Lit:
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Today:
    pass


@dataclass(frozen=True)
class Agg:
    func: str
    arg: Expr | None = None  # None: count the rows
    where: Condition | None = None  # only the rows matching this (a conditional aggregate)

    def __post_init__(self) -> None:
        if self.func not in AGG_FUNCS:
            raise ValueError(f"unknown aggregate {self.func!r}")


@dataclass(frozen=True)
class Arith:
    op: str
    left: Expr
    right: Expr

    def __post_init__(self) -> None:
        if self.op not in ("+", "-", "*", "/"):
            raise ValueError(f"unknown operator {self.op!r}")


@dataclass(frozen=True)
class Bucket:
    grain: str
    arg: Expr

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            raise ValueError(f"unknown time grain {self.grain!r}")


@dataclass(frozen=True)
class Part:
    part: str
    arg: Expr

    def __post_init__(self) -> None:
        if self.part not in PARTS:
            raise ValueError(f"unknown date part {self.part!r}")


@dataclass(frozen=True)
class Elapsed:
    unit: str  # day, hour, minute
    start: Expr
    end: Expr


@dataclass(frozen=True)
class Overall:
    """An aggregate over every row of its column's table, whatever the plan filters or groups: "taller than
    average" compares each row with the average height of all (a scalar subquery)."""

    agg: Agg
    table: str | None = None  # the table a row count counts (an aggregate of a column: that column's table)


Expr = Union[Col, Lit, Today, Agg, Arith, Bucket, Part, Elapsed, Overall]


@dataclass(frozen=True)
class Compare:
    left: Expr
    op: str
    right: Expr

    def __post_init__(self) -> None:
        if self.op not in COMPARE_OPS:
            raise ValueError(f"unknown comparison {self.op!r}")


@dataclass(frozen=True)
class Between:
    arg: Expr
    low: Expr
    high: Expr


@dataclass(frozen=True)
class InList:
    arg: Expr
    values: tuple[Lit, ...]
    negate: bool = False


@dataclass(frozen=True)
class Match:
    arg: Expr
    text: str
    mode: str = "contains"  # contains, starts, ends, equals
    negate: bool = False


@dataclass(frozen=True)
class IsNull:
    arg: Expr
    negate: bool = False


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


@dataclass(frozen=True)
class Related:
    """Rows of the plan's base that have (or, negated, have no) rows in `table` matching `where`."""

    table: str
    where: Condition | None = None
    negate: bool = False


Condition = Union[Compare, Between, InList, Match, IsNull, AllOf, AnyOf, Not, Related]


@dataclass(frozen=True)
class Output:
    name: str
    expr: Expr


@dataclass(frozen=True)
class Order:
    expr: Expr
    desc: bool = False


@dataclass(frozen=True)
class QueryPlan:
    """One reading of a question: FROM `base` (joins found by the compiler), outputs, filters, groups, order."""

    base: str
    select: tuple[Output, ...]
    where: Condition | None = None
    group_by: tuple[Expr, ...] = ()
    having: Condition | None = None
    order_by: tuple[Order, ...] = ()
    limit: int | None = None
    distinct: bool = False
    via: tuple[str, ...] = ()  # tables the question names that the joins must pass through, in its order
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        data = _encode(self)
        data.pop("meta", None)
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @property
    def aggregated(self) -> bool:
        return any(_has_agg(o.expr) for o in self.select)


_TYPES = {cls.__name__: cls for cls in (
    Col, Lit, Today, Agg, Arith, Bucket, Part, Elapsed, Overall, Compare, Between, InList, Match, IsNull, AllOf, AnyOf, Not,
    Related, Output, Order, QueryPlan)}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"kind": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.name == "meta":
                continue
            out[f.name] = _encode(getattr(value, f.name))
        return out
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def node_json(value: Any) -> Any:
    """A plan node (or a tuple of them) as QueryPlan.to_json writes it."""
    return _encode(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "kind" in value:
        cls = _TYPES.get(value["kind"])
        if cls is None:
            raise ValueError(f"unknown plan element {value['kind']!r}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in value and f.name != "meta":
                item = _decode(value[f.name])
                kwargs[f.name] = tuple(item) if isinstance(item, list) else item
        return cls(**kwargs)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def plan_from_json(data: dict[str, Any] | str) -> QueryPlan:
    """A plan back from `to_json()` (or its string); ValueError on anything that is not a plan."""
    if isinstance(data, str):
        data = json.loads(data)
    try:
        plan = _decode(data)
    except TypeError as error:
        raise ValueError(f"not a query plan: {error}") from None
    if not isinstance(plan, QueryPlan):
        raise ValueError("not a query plan")
    return plan


def _has_agg(expr: Any) -> bool:
    if isinstance(expr, Agg):
        return True
    if isinstance(expr, Arith):
        return _has_agg(expr.left) or _has_agg(expr.right)
    return False


def columns_of(node: Any) -> list[Col]:
    """Every column a plan, expression or condition mentions (Related's inner condition included)."""
    found: list[Col] = []

    def walk(value: Any) -> None:
        if isinstance(value, Col):
            found.append(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                if f.name != "meta":
                    walk(getattr(value, f.name))
        elif isinstance(value, tuple | list):
            for item in value:
                walk(item)

    walk(node)
    return found
