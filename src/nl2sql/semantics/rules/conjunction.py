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
        return None
    rest = [item for k, item in enumerate(items) if k not in ks]
    if column.table != plan.base:
        if not model.path(plan.base, column.table):
            return None
        where = rest + [Related(column.table, items[k]) for k in ks]
        outer = {c.table for c in _outer(plan, where)}
        via = tuple(t for t in plan.via if t != column.table or t in outer)
        return replace(plan, where=_all(where), via=via)
    if plan.group_by or any(isinstance(o.expr, Agg) for o in plan.select):
        return None  # "how many teams have both ...": a count over such groups needs a nesting the plan can't say
    values = tuple(dict.fromkeys(Lit(equality_column(items[k])[1]) for k in ks))  # type: ignore[index]
    select = tuple(o for o in plan.select if o.expr != column)  # grouping by the value itself would split the pair
    if not select:
        return None
    keys = tuple(o.expr for o in select)
    return replace(plan, select=select, where=_all(rest + [InList(column, values)]), group_by=keys,
                   having=Compare(Agg("count_distinct", column), "=", Lit(len(values))), distinct=False)


def _all(items: list[Condition]) -> Condition | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else AllOf(tuple(items))


def _outer(plan: QueryPlan, where: list[Condition]) -> list[Col]:
    """Columns the outer query still reads (a Related's inner condition excluded)."""
    outer_where = [w for w in where if not isinstance(w, Related)]
    return columns_of((plan.select, outer_where, plan.group_by, plan.having, plan.order_by))
