"""Two values of one column in one question: "either X or Y", "both X and Y".

A row holds one value per column, so two equalities on the same column can't both hold for a row:
- joined by "or" ("customers who used the service 'Close a policy' or the service 'Upgrade a policy'"), the
  question asks for rows with either value: one condition, `X OR Y`;
- joined by "and" ("students allergic to milk and cat", "teams that have both wrestlers eliminated by Orton
  and wrestlers eliminated by Benjamin"), it asks for the things listed that have rows with each value. When the
  column lives in a related table, each value is its own EXISTS (`Related`); when it lives in the table listed,
  the listed values are grouped and kept where both values occur (`HAVING COUNT(DISTINCT column) = 2`).
"""

from __future__ import annotations

from dataclasses import replace

from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    Col,
    Compare,
    Condition,
    InList,
    Lit,
    Match,
    QueryPlan,
    Related,
    columns_of,
)

# words that join alternatives; a run between two values holding one of these (and none of AND_WORDS) is "or"
OR_WORDS = frozenset({"or", "either"})
AND_WORDS = frozenset({"and", "both", "also"})
# at most this many words between two values joined by "or" ("the service X or the service Y")
OR_REACH = 6


def equality_column(condition: object) -> tuple[Col, object] | None:
    """(column, value) of a plain equality with a literal (`col = 'x'`, a case-insensitive match on the whole
    text); None for anything else."""
    if isinstance(condition, Compare) and condition.op == "=" and isinstance(condition.left, Col) \
            and isinstance(condition.right, Lit):
        return condition.left, condition.right.value
    if isinstance(condition, Match) and condition.mode == "equals" and not condition.negate \
            and isinstance(condition.arg, Col):
        return condition.arg, condition.text
    return None


def joined_by_or(words: list[str], first: set[int], second: set[int]) -> set[int] | None:
    """The connecting words' indices when the two spans are alternatives ("X or Y", "either X or the Y"), else
    None."""
    if not first or not second:
        return None
    a, b = (first, second) if max(first) < min(second) else (second, first)
    between = range(max(a) + 1, min(b))
    if len(between) > OR_REACH:
        return None
    said = {words[i] for i in between}
    if not said & OR_WORDS or said & AND_WORDS:
        return None
    connectors = {i for i in between if words[i] in OR_WORDS}
    if min(a) > 0 and words[min(a) - 1] == "either":
        connectors.add(min(a) - 1)
    return connectors


def both_values(plan: QueryPlan, model: SemanticModel) -> QueryPlan | None:
    """The plan with "has rows with X and with Y" where its WHERE ANDs two or more equalities on one column (a
    WHERE no row can meet); None when it has none."""
    items = list(plan.where.items) if isinstance(plan.where, AllOf) else [plan.where] if plan.where else []
    by_column: dict[Col, list[int]] = {}
    for k, item in enumerate(items):
        found = equality_column(item)
        if found is not None:
            by_column.setdefault(found[0], []).append(k)
    column, ks = next(((c, ks) for c, ks in by_column.items()
                       if len({str(equality_column(items[k])[1]).lower() for k in ks}) > 1), (None, []))  # type: ignore[index]
    if column is None:
        return _both_ranges(plan, model, items)
    rest = [item for k, item in enumerate(items) if k not in ks]
    if column.table != plan.base:
        return _each_related(plan, model, column, rest, [items[k] for k in ks])
    if plan.group_by or any(isinstance(o.expr, Agg) for o in plan.select):
        return None  # "how many teams have both ...": a count over such groups needs a nesting the plan can't say
    values = tuple(dict.fromkeys(Lit(equality_column(items[k])[1]) for k in ks))  # type: ignore[index]
    select = tuple(o for o in plan.select if o.expr != column)  # grouping by the value itself would split the pair
    if not select:
        return None
    keys = tuple(o.expr for o in select)
    return replace(plan, select=select, where=_all(rest + [InList(column, values)]), group_by=keys,
                   having=Compare(Agg("count_distinct", column), "=", Lit(len(values))), distinct=False)


def _bounds(condition: object) -> tuple[Col, float, bool, float, bool] | None:
    """(column, low, low included, high, high included) of a comparison of a column with a number."""
    if not (isinstance(condition, Compare) and isinstance(condition.left, Col) and isinstance(condition.right, Lit)
            and isinstance(condition.right.value, int | float) and not isinstance(condition.right.value, bool)):
        return None
    v, inf = float(condition.right.value), float("inf")
    return {">": (condition.left, v, False, inf, False), ">=": (condition.left, v, True, inf, False),
            "<": (condition.left, -inf, False, v, False), "<=": (condition.left, -inf, False, v, True),
            "=": (condition.left, v, True, v, True)}.get(condition.op)  # type: ignore[return-value]


def _disjoint(a: tuple, b: tuple) -> bool:
    low, low_in = max((a[1], a[2]), (b[1], b[2]), key=lambda x: (x[0], not x[1]))
    high, high_in = min((a[3], a[4]), (b[3], b[4]), key=lambda x: (x[0], x[1]))
    return low > high or (low == high and not (low_in and high_in))


def _both_ranges(plan: QueryPlan, model: SemanticModel, items: list[Condition]) -> QueryPlan | None:
    """ "countries that have both perpetrators with more than 50 injured and perpetrators with fewer than 20":
    two comparisons of one column no row can meet at once ask for things with rows of each."""
    bounds = [(k, _bounds(item)) for k, item in enumerate(items)]
    pair = next(((j, k) for j, a in bounds for k, b in bounds if a and b and j < k and a[0] == b[0]
                 and _disjoint(a, b)), None)
    if pair is None:
        return None
    column = bounds[pair[0]][1][0]  # type: ignore[index]
    rest = [item for k, item in enumerate(items) if k not in pair]
    if column.table != plan.base:
        return _each_related(plan, model, column, rest, [items[k] for k in pair])
    if plan.group_by or any(isinstance(o.expr, Agg) for o in plan.select) or not plan.select:
        return None
    having = AllOf(tuple(Compare(Agg("count", None, items[k]), ">", Lit(0)) for k in pair))
    return replace(plan, where=_all(rest), group_by=tuple(o.expr for o in plan.select), having=having,
                   distinct=False)


def _each_related(plan: QueryPlan, model: SemanticModel, column: Col, rest: list[Condition],
                  each: list[Condition]) -> QueryPlan | None:
    """The plan keeping rows that have related rows in the column's table meeting each condition (one EXISTS
    each); the join to that table dropped where nothing else reads it. None when it doesn't join the plan's base.

    The column itself is no longer shown ("swimmers with both 'win' and 'loss' results" lists swimmers, once
    each): its value differs between the related rows, so showing it would list each swimmer once per result."""
    table = column.table
    if not model.path(plan.base, table):
        return None
    select = tuple(o for o in plan.select if o.expr != column) or plan.select
    plan = replace(plan, select=select)
    where = rest + [Related(table, item) for item in each]
    outer = {c.table for c in _outer(plan, where)}
    return replace(plan, where=_all(where), via=tuple(t for t in plan.via if t != table or t in outer))


def _all(items: list[Condition]) -> Condition | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else AllOf(tuple(items))


def _outer(plan: QueryPlan, where: list[Condition]) -> list[Col]:
    """Columns the outer query still reads (a Related's inner condition excluded)."""
    outer_where = [w for w in where if not isinstance(w, Related)]
    return columns_of((plan.select, outer_where, plan.group_by, plan.having, plan.order_by))
