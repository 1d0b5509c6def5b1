"""The admin's semantic layer as the reader and compiler see it: metrics (a formula of aggregates, its filters and
time column) and segments (a named condition), parsed from their SQL into plan expressions, with their words.

A definition that doesn't parse, names a column the catalog lacks, or uses SQL a plan can't express is left out
of the model and listed in `problems` (saving one runs the same parse, so the admin hears the reason first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from nl2sql.semantics.lexicon import STOP_WORDS, identifier_words, normalize, stem
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    AnyOf,
    Arith,
    Between,
    Col,
    Compare,
    Condition,
    Expr,
    InList,
    IsNull,
    Lit,
    Not,
    columns_of,
    node_json,
)

__all__ = ["LayerError", "MetricDef", "SegmentDef", "build_layer", "metric_parts", "output_name", "parse_condition", "parse_formula",
           "spell"]


class LayerError(ValueError):
    """A metric or segment the plan can't express, with the reason."""


@dataclass(frozen=True)
class MetricDef:
    """A metric: `expr` (aggregates), `where` (its filters), the table it is reported from and its time column."""

    name: str
    phrases: tuple[tuple[str, ...], ...]  # stems of the name and each synonym
    expr: Expr
    where: Condition | None
    table: str
    time: Col | None
    description: str
    format: str
    readback: str  # "revenue (sum of quantity × unit price, cancelled orders excluded)"

    @property
    def output(self) -> str:
        """The name of its output column."""
        return output_name(self.name)


def metric_parts(metrics: Sequence[MetricDef]) -> tuple[dict[str, Any], ...]:
    """Each metric as the plan's JSON writes it (its output name, expression, filter and table): what a reading
    that reports the metric takes from the admin's definition rather than from the question's words."""
    return tuple({"output": m.output, "expr": node_json(m.expr), "where": node_json(m.where), "table": m.table}
                 for m in metrics)


def output_name(name: str) -> str:
    """A metric's output column: "average order value" -> average_order_value."""
    return "_".join(identifier_words(name)) or "metric"


@dataclass(frozen=True)
class SegmentDef:
    """A segment: a named condition on one table's rows ("active products")."""

    name: str
    phrases: tuple[tuple[str, ...], ...]
    condition: Condition
    table: str
    description: str


# (table as written or None, column) -> the column in the model, KeyError when unknown
Resolve = Callable[[str | None, str], Col]

_AGGS = {exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max"}
_ARITH = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}
_COMPARE = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}


def _parse(text: str, dialect: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(text, read=dialect)
    except SqlglotError as error:
        raise LayerError(f"{text!r} does not parse: {str(error).splitlines()[0][:200]}") from None


def parse_formula(text: str, dialect: str, resolve: Resolve, metrics: Mapping[str, MetricDef] | None = None) -> Expr:
    """A metric's formula as a plan expression: aggregates (sum, avg, min, max, count, count distinct) of columns,
    numbers and + - * /, and other metrics by name (each keeping its own filters)."""
    expr = _expr(_parse(text, dialect), resolve, metrics or {}, inside=False)
    if not _has_agg(expr):
        raise LayerError(f"{text!r} aggregates nothing: a metric is a sum, count, average, minimum or maximum")
    return expr


def parse_condition(text: str, dialect: str, resolve: Resolve) -> Condition:
    """A filter or segment condition as a plan condition (comparisons, IN, BETWEEN, IS NULL, AND, OR, NOT)."""
    return _condition(_parse(text, dialect), resolve)


def _expr(node: exp.Expression, resolve: Resolve, metrics: Mapping[str, MetricDef], inside: bool) -> Expr:
    if isinstance(node, exp.Paren):
        return _expr(node.this, resolve, metrics, inside)
    if isinstance(node, exp.Column):
        table = node.table or None
        named = node.name.lower() if node.name.lower() in metrics else node.name.lower().replace("_", " ")
        if table is None and not inside and named in metrics:  # `order_total` names the metric "order total"
            metric = metrics[named]
            return _with_where(metric.expr, metric.where)
        try:
            return resolve(table, node.name)
        except KeyError as error:
            raise LayerError(f"no column {error.args[0]} in this connection's catalog") from None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return Lit(node.this)
        number = float(node.this)
        return Lit(int(number) if number.is_integer() and "." not in node.this else number)
    if isinstance(node, exp.Boolean):
        return Lit(bool(node.this))
    if isinstance(node, exp.Neg):
        return Arith("-", Lit(0), _expr(node.this, resolve, metrics, inside))
    for kind, op in _ARITH.items():
        if isinstance(node, kind):
            return Arith(op, _expr(node.this, resolve, metrics, inside), _expr(node.expression, resolve, metrics, inside))
    for kind, func in _AGGS.items():
        if isinstance(node, kind):
            if inside:
                raise LayerError("an aggregate inside an aggregate can't be computed")
            return Agg(func, _expr(node.this, resolve, metrics, True))
    if isinstance(node, exp.Count):
        if inside:
            raise LayerError("an aggregate inside an aggregate can't be computed")
        arg = node.this
        if arg is None or isinstance(arg, exp.Star):
            return Agg("count")
        if isinstance(arg, exp.Distinct):
            if len(arg.expressions) != 1:
                raise LayerError("count(distinct ...) takes one column")
            return Agg("count_distinct", _expr(arg.expressions[0], resolve, metrics, True))
        return Agg("count", _expr(arg, resolve, metrics, True))
    raise LayerError(f"{node.sql()[:80]!r} is not supported in a formula (columns, numbers, + - * /, sum, avg, min, "
                     "max, count, count(distinct ...), other metrics)")


def _condition(node: exp.Expression, resolve: Resolve) -> Condition:
    def value(n: exp.Expression) -> Expr:
        return _expr(n, resolve, {}, inside=True)

    if isinstance(node, exp.Paren):
        return _condition(node.this, resolve)
    if isinstance(node, exp.And):
        return AllOf(tuple(_flat(node, exp.And, resolve)))
    if isinstance(node, exp.Or):
        return AnyOf(tuple(_flat(node, exp.Or, resolve)))
    if isinstance(node, exp.Not):
        inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
        if isinstance(inner, exp.In):
            found = _condition(inner, resolve)
            return InList(found.arg, found.values, negate=True)  # type: ignore[union-attr]
        if isinstance(inner, exp.Is):
            return IsNull(value(inner.this), negate=True)
        return Not(_condition(inner, resolve))
    for kind, op in _COMPARE.items():
        if isinstance(node, kind):
            return Compare(value(node.this), op, value(node.expression))
    if isinstance(node, exp.In):
        if node.args.get("query") is not None:
            raise LayerError("IN (SELECT ...) is not supported in a condition: list the values")
        values = tuple(value(v) for v in node.expressions)
        if not all(isinstance(v, Lit) for v in values):
            raise LayerError("IN takes a list of values")
        return InList(value(node.this), values, negate=bool(node.args.get("negate")))  # type: ignore[arg-type]
    if isinstance(node, exp.Between):
        between = Between(value(node.this), value(node.args["low"]), value(node.args["high"]))
        return Not(between) if node.args.get("negate") else between
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        # some dialects parse IS NOT NULL as a negated IS, others as NOT (... IS NULL)
        return IsNull(value(node.this), negate=bool(node.args.get("negate")))
    if isinstance(node, exp.Column | exp.Boolean):
        return Compare(value(node), "=", Lit(True))
    raise LayerError(f"{node.sql()[:80]!r} is not supported in a condition (=, <>, <, >, IN, BETWEEN, IS NULL, "
                     "AND, OR, NOT)")


def _flat(node: exp.Expression, kind: type, resolve: Resolve) -> Iterable[Condition]:
    for side in (node.this, node.expression):
        if isinstance(side, kind):
            yield from _flat(side, kind, resolve)
        else:
            yield _condition(side, resolve)


def _has_agg(expr: Expr) -> bool:
    if isinstance(expr, Agg):
        return True
    if isinstance(expr, Arith):
        return _has_agg(expr.left) or _has_agg(expr.right)
    return False


def _with_where(expr: Expr, where: Condition | None) -> Expr:
    """Another metric used in a formula keeps its filters: its aggregates count only the rows they keep."""
    if where is None:
        return expr
    if isinstance(expr, Agg):
        both = where if expr.where is None else AllOf((expr.where, where))
        return Agg(expr.func, expr.arg, both)
    if isinstance(expr, Arith):
        return Arith(expr.op, _with_where(expr.left, where), _with_where(expr.right, where))
    return expr


def _phrases(name: str, synonyms: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    out = []
    for text in (name, *synonyms):
        words = tuple(stem(w) for w in normalize(text).split() if w not in STOP_WORDS or w in ("no", "not"))
        if words and words not in out:
            out.append(words)
    return tuple(out)


def build_layer(definitions: Iterable[Any], dialect: str, resolve: Resolve) -> tuple[tuple[MetricDef, ...], tuple[SegmentDef, ...], tuple[str, ...]]:
    """The connection's metrics and segments (catalog `Metric`s) read into plan terms; what can't be is listed.

    Metrics that use other metrics come after them (a definition's order doesn't matter)."""
    metrics: dict[str, MetricDef] = {}
    segments: list[SegmentDef] = []
    problems: list[str] = []
    pending = [d for d in definitions if d.kind == "metric"]
    for _ in range(len(pending) + 1):  # metrics naming others: read those first
        waiting = []
        for d in pending:
            try:
                metrics[d.name.lower()] = metric_def(d, dialect, resolve, metrics)
            except LayerError as error:
                waiting.append((d, str(error)))
        if len(waiting) == len(pending):
            problems += [f"metric {d.name!r}: {reason}" for d, reason in waiting]
            break
        pending = [d for d, _ in waiting]
    for d in definitions:
        if d.kind != "segment":
            continue
        try:
            condition = parse_condition(d.expression, dialect, resolve)
            table = columns_of(condition)[0].table if columns_of(condition) else ""
            segments.append(SegmentDef(d.name, _phrases(d.name, d.synonyms), condition, table, d.description))
        except LayerError as error:
            problems.append(f"segment {d.name!r}: {error}")
    return tuple(metrics.values()), tuple(segments), tuple(problems)


def metric_def(d: Any, dialect: str, resolve: Resolve, metrics: Mapping[str, MetricDef]) -> MetricDef:
    """One catalog metric in plan terms (LayerError with the reason when it can't be)."""
    expr = parse_formula(d.expression, dialect, resolve, metrics)
    conditions = [parse_condition(f, dialect, resolve) for f in d.filters]
    where = None if not conditions else conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))
    time = None
    if d.time_column:
        table, _, column = d.time_column.rpartition(".")
        try:
            time = resolve(table or None, column)
        except KeyError:
            raise LayerError(f"no time column {d.time_column!r} in this connection's catalog") from None
    columns = columns_of(expr)
    table = time.table if time is not None else (columns[0].table if columns else "")
    if not table:
        raise LayerError("the formula names no column, so no table to count from: write count(table.key)")
    readback = f"{d.name} ({spell(expr, where)})"
    return MetricDef(d.name, _phrases(d.name, d.synonyms), expr, where, table, time, d.description, d.format,
                     readback)


# -- the read-back ----------------------------------------------------------------------------------------------

_AGG_WORDS = {"sum": "sum of", "avg": "average of", "min": "lowest", "max": "highest", "count": "number of",
              "count_distinct": "number of distinct"}
_OP_WORDS = {"+": "+", "-": "−", "*": "×", "/": "÷"}
_CMP_WORDS = {"=": "is", "<>": "is not", "<": "under", "<=": "at most", ">": "over", ">=": "at least"}


def _words_of(name: str) -> str:
    return " ".join(identifier_words(name.rpartition(".")[2])) or name


def _plural(table: str) -> str:
    word = _words_of(table)
    return word if word.endswith("s") else word + "s"


def _singular(words: str) -> str:
    if words.endswith("ies"):
        return words[:-3] + "y"
    return words[:-1] if words.endswith("s") and not words.endswith("ss") else words


def _spell_expr(expr: Expr) -> str:
    if isinstance(expr, Col):
        return _words_of(expr.column)
    if isinstance(expr, Lit):
        return str(expr.value)
    if isinstance(expr, Arith):
        left, right = _spell_expr(expr.left), _spell_expr(expr.right)
        if expr.op == "/" and _has_agg(expr.left) and _has_agg(expr.right):
            return f"{left} per {_singular(right.removeprefix('number of ').removeprefix('distinct '))}"
        return f"{left} {_OP_WORDS[expr.op]} {right}"
    if isinstance(expr, Agg):
        if expr.arg is None:
            what = "number of rows"
        elif expr.func in ("count", "count_distinct") and isinstance(expr.arg, Col):
            what = f"number of {_plural(expr.arg.table)}"
        else:
            what = f"{_AGG_WORDS[expr.func]} {_spell_expr(expr.arg)}"
        return what + (f" ({_spell_condition(expr.where)})" if expr.where is not None else "")
    return "?"


def _spell_condition(cond: Condition) -> str:
    """ "cancelled and returned orders excluded", "only paid orders", else the condition in words."""
    if isinstance(cond, InList) and isinstance(cond.arg, Col):
        values = " and ".join(str(v.value) for v in cond.values)
        return f"{values} {_plural(cond.arg.table)} " + ("excluded" if cond.negate else "only")
    if isinstance(cond, Compare) and isinstance(cond.left, Col) and isinstance(cond.right, Lit) \
            and isinstance(cond.right.value, str) and cond.op in ("=", "<>"):
        return f"{cond.right.value} {_plural(cond.left.table)} " + ("excluded" if cond.op == "<>" else "only")
    if isinstance(cond, Compare):
        return f"{_spell_expr(cond.left)} {_CMP_WORDS[cond.op]} {_spell_expr(cond.right)}"
    if isinstance(cond, AllOf):
        return ", ".join(_spell_condition(c) for c in cond.items)
    if isinstance(cond, AnyOf):
        return " or ".join(_spell_condition(c) for c in cond.items)
    if isinstance(cond, IsNull):
        return f"{_spell_expr(cond.arg)} {'known' if cond.negate else 'missing'}"
    if isinstance(cond, Between):
        return f"{_spell_expr(cond.arg)} from {_spell_expr(cond.low)} to {_spell_expr(cond.high)}"
    if isinstance(cond, InList):
        return f"{_spell_expr(cond.arg)} {'not ' if cond.negate else ''}in {', '.join(str(v.value) for v in cond.values)}"
    if isinstance(cond, Not):
        return f"not {_spell_condition(cond.item)}"
    return "filtered"


def spell(expr: Expr, where: Condition | None) -> str:
    """A metric's formula and filters in words: "sum of quantity × unit price, cancelled orders excluded"."""
    text = _spell_expr(expr)
    return text + (f", {_spell_condition(where)}" if where is not None else "")
