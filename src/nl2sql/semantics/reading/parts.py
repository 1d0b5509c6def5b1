"""The reader's working data: the parse of a question, the plan parts the phases read from it (measures,
filters, ratio spans), the draft they fill in, and small helpers on plan expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from nl2sql.semantics.lexicon import Token
from nl2sql.semantics.linking import Link
from nl2sql.semantics.plan import Agg, Arith, Bucket, Col, Condition, Expr, Output, Part, columns_of
from nl2sql.semantics.timewords import TimeBucket, TimeWindow


@dataclass
class _Parse:
    """A question's tokens with what the linker found in them: names of tables and columns, values, times."""

    tokens: list[Token]
    words: list[str]
    links: list[Link]
    values: list[Link]
    windows: list[TimeWindow]
    used: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Measure:
    """A quantity to show, the table it is over and the words that named it."""

    expr: Expr
    table: str
    tokens: set[int]
    name: str
    implicit: bool = False  # the aggregate word was only part of the column's name ("number of citations")


@dataclass
class _Filter:
    """A condition on rows, the tables it reads and the words that named it."""

    condition: Condition
    tables: set[str]
    tokens: set[int]
    strength: float = 1.0


@dataclass(frozen=True)
class _Having:
    """A condition on an aggregate of each group (HAVING)."""

    condition: Condition


@dataclass(frozen=True)
class _Absent:
    """Rows that have no related row in `table` ("students without a minor")."""

    table: str


@dataclass(frozen=True)
class _RatioSpan:
    """Where a ratio's word and its two sides are in the question."""

    index: int  # the ratio word
    to: int | None  # where the second side starts ("to", "versus", "over"); None for a share of all
    end: int  # where the second side ends
    share: bool  # proportion, share, percentage, fraction: part of a whole
    average: bool  # "the average ratio of A to B"
    out_of: int | None = None  # "out of all X"

    def side(self, index: int) -> int | None:
        """0 for the first side, 1 for the second, None outside the ratio."""
        if self.to is None:
            return 0 if self.index < index < (self.out_of or self.end) else (1 if self.out_of and index > self.out_of else None)
        if self.index < index < self.to:
            return 0
        if self.to < index < self.end:
            return 1
        return None


@dataclass
class _Draft:
    """One question's plan parts as the reading's phases add them (reader.py runs the phases in order)."""

    p: _Parse
    match_mode: str
    # the question's cues, read before any part
    head: int  # where the answer starts: "which X", "what is the Y", "list the Z", "how many W"
    buckets: list[TimeBucket]
    limit: int | None
    limit_tokens: set[int]
    ratio_span: _RatioSpan | None
    agg_cues: list[tuple[int, int, str]]
    sup_cues: list[tuple[int, bool]]
    group_cues: list[tuple[int, int]]
    order: tuple[int | None, bool | None, set[int]] | None
    # measures.py
    measures: list[_Measure] = field(default_factory=list)
    measure_alternatives: list[list[_Measure]] = field(default_factory=list)
    averaged: list[_Filter] = field(default_factory=list)
    named_metrics: list = field(default_factory=list)
    durations: list[tuple[Expr, set[int], int]] = field(default_factory=list)
    # focus.py
    focus_entity: str | None = None
    focus_tokens: set[int] = field(default_factory=set)
    focus_column: tuple[Col, set[int]] | None = None
    time_head: tuple[str, set[int]] | None = None
    # filters.py, timing.py
    filters: list[_Filter] = field(default_factory=list)
    value_choices: list[list[tuple[float, Link]]] = field(default_factory=list)
    # grouping.py: (exprs, table, tokens), and another reading of one group's words
    groups: list[tuple[list[Expr], str, set[int]]] = field(default_factory=list)
    group_rivals: list[tuple[int, tuple]] = field(default_factory=list)
    # ordering.py
    order_by: list[tuple[Expr, bool, set[int]]] = field(default_factory=list)
    top_one: bool = False


def _measured(expr: object) -> object:
    """What an aggregate is over: its column, or the counted table's rows (None for other expressions)."""
    if isinstance(expr, Agg):
        return expr.arg if expr.arg is not None else ("rows", expr.where)
    return None


def _has_agg(expr: object) -> bool:
    if isinstance(expr, Agg):
        return True
    if isinstance(expr, Arith):
        return _has_agg(expr.left) or _has_agg(expr.right)
    return False


def _strip_agg(expr: Expr) -> Expr:
    if isinstance(expr, Agg) and expr.arg is not None and expr.func in ("sum", "avg", "min", "max"):
        return expr.arg
    if isinstance(expr, Arith):
        return Arith(expr.op, _strip_agg(expr.left), _strip_agg(expr.right))
    return expr


def _name_of(expr: Expr) -> str:
    if isinstance(expr, Col):
        return expr.column
    if isinstance(expr, Agg):
        inner = expr.arg.column if isinstance(expr.arg, Col) else "rows"
        return f"{expr.func}_{inner}"
    if isinstance(expr, Bucket):
        return expr.grain
    if isinstance(expr, Part):
        return expr.part
    return "value"


def _unique_outputs(select: list[Output]) -> list[Output]:
    out: list[Output] = []
    names: set[str] = set()
    for o in select:
        if any(o.expr == x.expr for x in out):
            continue
        name = o.name
        n = 2
        while name in names:
            name = f"{o.name}_{n}"
            n += 1
        names.add(name)
        out.append(Output(name, o.expr))
    return out


def _table_of(expr: object) -> str | None:
    cols = columns_of(expr)
    return cols[0].table if cols else None


def _strip_where(expr: Expr) -> Expr:
    if isinstance(expr, Agg):
        return replace(expr, where=None)
    return expr


def _int_or(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _plain_number(text: str) -> str:
    try:
        value = float(text.replace(",", "").replace("$", "").rstrip("%"))
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)
