"""Negation across tables: "players that do not have coaches", "storms which don't have affected regions",
"people who never sold a car", "students who didn't attend any course".

A negation word shortly before a table's name (at most REACH words), with only verbs and small words between
them (nothing else the question names), says the rows listed have no related row in that table: NOT EXISTS.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import AllOf, Col, Compare, Condition, Match, QueryPlan, Related, columns_of

# negations that deny a relation ("do not have", "never attended", "didn't teach")
NEGATION_VERBS = frozenset({"not", "never", "don't", "doesn't", "didn't", "haven't", "hasn't", "isn't", "aren't",
                            "weren't", "wasn't", "without"})
# how many words before the table's name the negation may stand
REACH = 4


def denies(words: list[str], start: int, named: Collection[int], stop_words: Collection[str]) -> bool:
    """Whether the table named from index `start` is denied: a negation within REACH words before it, and no
    word between them that names something (`named`: indices of words linked to the catalog)."""
    at = next((i for i in range(start - 1, max(-1, start - 1 - REACH), -1) if words[i] in NEGATION_VERBS), None)
    if at is None:
        return False
    return not any(i in named and words[i] not in stop_words for i in range(at + 1, start))


def denied_values(plan: QueryPlan, model: SemanticModel) -> QueryPlan | None:
    """ "customers who never ordered the product Latte": a value denied in a table the listed rows have many of
    is "no related row with that value" (NOT EXISTS ... = 'Latte'), not "some related row with another value";
    it replaces a bare "no related row" on the way there. None when the plan has no such value."""
    items = list(plan.where.items) if isinstance(plan.where, AllOf) else [plan.where] if plan.where else []
    k, column = next(((k, _denied_column(item)) for k, item in enumerate(items)
                      if _denied_column(item) is not None), (None, None))
    if k is None or column is None or column.table == plan.base or plan.aggregated or plan.group_by:
        return None
    path = model.path(plan.base, column.table)
    if not path or all(_to_one(model, edge) for edge in path):
        return None  # one related row per listed row: "another value" is what is asked
    on_path = {edge.right for edge in path}
    kept = [item for j, item in enumerate(items) if j != k and not (
        isinstance(item, Related) and item.negate and item.where is None and item.table in on_path)]
    kept.append(Related(column.table, _affirmed(items[k]), negate=True))
    outer = {c.table for c in columns_of((plan.select, [w for w in kept if not isinstance(w, Related)],
                                          plan.group_by, plan.having, plan.order_by))}
    where = kept[0] if len(kept) == 1 else AllOf(tuple(kept))
    return replace(plan, where=where, via=tuple(t for t in plan.via if t in outer or t == plan.base),
                   distinct=plan.distinct)


def _denied_column(item: object) -> Col | None:
    if isinstance(item, Compare) and item.op == "<>" and isinstance(item.left, Col):
        return item.left
    if isinstance(item, Match) and item.negate and isinstance(item.arg, Col):
        return item.arg
    return None


def _affirmed(item: Condition) -> Condition:
    if isinstance(item, Compare):
        return Compare(item.left, "=", item.right)
    return replace(item, negate=False)  # type: ignore[arg-type]


def _to_one(model: SemanticModel, edge) -> bool:
    """Whether the edge leads from each row to at most one row (it follows a reference to a whole key: one column
    of a key of several, "driver" of lap times keyed by race, driver and lap, leads to many)."""
    target = model.entity(edge.right)
    return bool(target.key) and set(target.key) <= {col for _, col in edge.pairs}
