"""The plan form a language model fills: a JSON schema whose enums are the columns and operators on offer.

A small model can't write SQL, but it can pick from lists; the filled form becomes a QueryPlan, which the
compiler turns into SQL like the reader's plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, AllOf, Col, Compare, Lit, Match, Order, Output, QueryPlan

__all__ = ["form_columns", "plan_form_schema", "plan_from_form"]

AGGS = ("none", "count", "sum", "avg", "min", "max")
OPS = ("=", "<>", "<", ">", "<=", ">=", "contains")
MAX_COLUMNS = 60


def form_columns(model: SemanticModel, tables: Iterable[str]) -> list[str]:
    """`table.column` of the tables offered (their non-sensitive columns), at most MAX_COLUMNS."""
    out: list[str] = []
    for table in tables:
        entity = model.entities.get(table)
        if entity is None:
            continue
        for attribute in entity.attributes:
            if not attribute.sensitive:
                out.append(f"{entity.table}.{attribute.name}")
    return out[:MAX_COLUMNS]


def plan_form_schema(columns: list[str]) -> dict[str, Any]:
    """The JSON schema of the form: what to show, how to aggregate, group, filter, order and limit."""
    column = {"type": "string", "enum": columns}
    return {
        "type": "object",
        "properties": {
            "show": {"type": "array", "items": column, "minItems": 0, "maxItems": 3},
            "aggregate": {"type": "string", "enum": list(AGGS)},
            "measure": {"type": "string", "enum": columns + ["rows"]},
            "group_by": {"type": "array", "items": column, "minItems": 0, "maxItems": 2},
            "filters": {
                "type": "array", "minItems": 0, "maxItems": 3,
                "items": {"type": "object", "properties": {
                    "column": column, "op": {"type": "string", "enum": list(OPS)},
                    "value": {"type": "string", "maxLength": 60}},
                    "required": ["column", "op", "value"]},
            },
            "order": {"type": "string", "enum": ["none", "highest first", "lowest first"]},
            "limit": {"type": "integer", "minimum": 0, "maximum": 1000},
        },
        "required": ["show", "aggregate", "measure", "group_by", "filters", "order", "limit"],
    }


def _col(ref: str, model: SemanticModel) -> Col | None:
    if "." not in ref:
        return None
    table, column = ref.rsplit(".", 1)
    try:
        model.attribute(table, column)
    except KeyError:
        return None
    return Col(model.entity(table).table, column)


def plan_from_form(form: Mapping[str, Any], model: SemanticModel) -> QueryPlan | None:
    """The form as a plan; None when it names nothing usable (an unknown column, no table at all)."""
    show = [c for c in (_col(r, model) for r in form.get("show") or []) if c is not None]
    groups = [c for c in (_col(r, model) for r in form.get("group_by") or []) if c is not None]
    aggregate = form.get("aggregate") or "none"
    measure_ref = form.get("measure") or "rows"
    measure = _col(measure_ref, model) if measure_ref != "rows" else None
    base = (measure or (groups[0] if groups else None) or (show[0] if show else None))
    if base is None:
        return None
    conditions = _form_conditions(form, model)
    select: list[Output] = [Output(g.column, g) for g in groups]
    expr = None
    if aggregate != "none":
        func = {"count": "count"}.get(aggregate, aggregate)
        if measure is None and func != "count":
            return None
        expr = Agg(func, measure) if measure is not None else Agg("count")
        select.append(Output(f"{aggregate}_{measure.column if measure else 'rows'}", expr))
    for c in show:
        if not any(o.expr == c for o in select):
            if expr is not None and c not in groups:
                groups.append(c)
            select.insert(0, Output(c.column, c))
    if not select:
        return None
    order_by = _form_order(form, select, expr, measure, show)
    limit = form.get("limit") or None
    where = None if not conditions else (conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions)))
    return QueryPlan(
        base=base.table,
        select=tuple(select),
        where=where,
        group_by=tuple(groups) if expr is not None else (),
        order_by=order_by,
        limit=int(limit) if limit else None,
        distinct=expr is None,
    )


def _form_conditions(form: Mapping[str, Any], model: SemanticModel) -> list:
    """The form's usable filters as conditions (an unknown column, operator or an empty value is skipped)."""
    conditions = []
    for item in form.get("filters") or []:
        col = _col(str(item.get("column", "")), model)
        op = item.get("op")
        value = str(item.get("value", "")).strip()
        if col is None or op not in OPS or not value:
            continue
        attribute = model.attribute(col.table, col.column)
        if op == "contains":
            conditions.append(Match(col, value, "contains"))
            continue
        literal: object = value
        if attribute.is_numeric:
            try:
                literal = float(value) if "." in value else int(value)
            except ValueError:
                continue
        conditions.append(Compare(col, op, Lit(literal)))  # type: ignore[arg-type]
    return conditions


def _form_order(form: Mapping[str, Any], select: list[Output], expr, measure, show) -> tuple[Order, ...]:
    """The form's ordering; what it orders by joins `select` (as "value") when not shown already."""
    order = form.get("order") or "none"
    order_by: tuple[Order, ...] = ()
    if order != "none":
        key = expr if expr is not None else (measure or (show[-1] if show else None))
        if key is not None:
            order_by = (Order(key, order == "highest first"),)
            if not any(o.expr == key for o in select):
                select.append(Output("value", key))
    return order_by
