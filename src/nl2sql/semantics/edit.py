"""The read-back, editable: the parts of a plan a user may change with a click (the measure's aggregate and
column, each grouping, each filter and its value, the order and the limit), and the plan those changes give.

The edited plan goes through the same compiler and guard as the reader's; no model is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from nl2sql.semantics.explain import humanize
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import AGG_FUNCS, Agg, AllOf, Col, Compare, Lit, Order, Output, QueryPlan

__all__ = ["Control", "EditError", "apply_edits", "reading_controls"]

_NUMERIC = ("number", "integer")
_AGG_LABELS = {"count": "number of", "count_distinct": "number of distinct", "sum": "total", "avg": "average",
               "min": "lowest", "max": "highest"}


class EditError(ValueError):
    """A change the plan can't take (an unknown column, a value that isn't a number where one is needed)."""


@dataclass(frozen=True)
class Control:
    """One changeable part of the reading, as a form field."""

    key: str  # the form field's name
    part: str  # measure, column, grouping, filter, value, order, limit
    label: str  # what the part is now, in words
    kind: str  # select, keep (a checkbox), text, number
    value: str
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for a select


def _columns(model: SemanticModel, table: str, *, numeric: bool = False) -> tuple[tuple[str, str], ...]:
    try:
        entity = model.entity(table)
    except KeyError:
        return ()
    return tuple((a.name, humanize(a.name)) for a in entity.attributes
                 if a.role not in ("key", "reference") and (not numeric or a.kind in _NUMERIC))


def _filters(plan: QueryPlan) -> list:
    if plan.where is None:
        return []
    return list(plan.where.items) if isinstance(plan.where, AllOf) else [plan.where]


def reading_controls(plan: QueryPlan, model: SemanticModel) -> list[Control]:
    """Every part of `plan` a user may change, in the order the English line names them."""
    controls: list[Control] = []
    for i, output in enumerate(plan.select):
        expr = output.expr
        if isinstance(expr, Agg) and (expr.arg is None or isinstance(expr.arg, Col)):
            arg = expr.arg
            numeric = arg is not None and _kind(model, arg) in _NUMERIC
            funcs = ("count",) if arg is None else (AGG_FUNCS if numeric else ("count", "count_distinct", "min", "max"))
            controls.append(Control(f"agg{i}", "measure", _AGG_LABELS.get(expr.func, expr.func), "select", expr.func,
                                    tuple((f, _AGG_LABELS[f]) for f in funcs)))
            if arg is not None:
                options = _columns(model, arg.table, numeric=expr.func in ("sum", "avg"))
                if len(options) > 1:
                    controls.append(Control(f"col{i}", "column", humanize(arg.column), "select", arg.column, options))
        elif isinstance(expr, Col) and expr not in plan.group_by:
            options = _columns(model, expr.table)
            if len(options) > 1:
                controls.append(Control(f"col{i}", "column", humanize(expr.column), "select", expr.column, options))
    for j, group in enumerate(plan.group_by):
        if isinstance(group, Col):
            options = (("", "no grouping"), *_columns(model, group.table))
            controls.append(Control(f"group{j}", "grouping", humanize(group.column), "select", group.column, options))
    for k, condition in enumerate(_filters(plan)):
        if isinstance(condition, Compare) and isinstance(condition.left, Col) and isinstance(condition.right, Lit):
            words = f"{humanize(condition.left.column)} {condition.op}"
            controls.append(Control(f"filter{k}", "filter", words, "keep", "on"))
            controls.append(Control(f"value{k}", "value", words, "text", str(condition.right.value)))
        else:
            controls.append(Control(f"filter{k}", "filter", "a condition", "keep", "on"))
    if plan.order_by:
        value = "desc" if plan.order_by[0].desc else "asc"
        controls.append(Control("order", "order", "highest first" if plan.order_by[0].desc else "lowest first",
                                "select", value, (("desc", "highest first"), ("asc", "lowest first"), ("", "no order"))))
    controls.append(Control("limit", "limit", f"first {plan.limit}" if plan.limit else "all rows", "number",
                            str(plan.limit or "")))
    return controls


def _kind(model: SemanticModel, col: Col) -> str:
    try:
        return model.attribute(col.table, col.column).kind
    except KeyError:
        return "other"


def _column(model: SemanticModel, table: str, name: str) -> Col:
    try:
        model.attribute(table, name)
    except KeyError:
        raise EditError(f"{table} has no column {name!r}") from None
    return Col(table, name)


def _typed(old: object, text: str) -> object:
    if isinstance(old, bool):
        return text.strip().lower() in ("true", "yes", "1")
    if isinstance(old, int):
        try:
            return int(text)
        except ValueError:
            raise EditError(f"{text!r} is not a whole number") from None
    if isinstance(old, float):
        try:
            return float(text)
        except ValueError:
            raise EditError(f"{text!r} is not a number") from None
    return text


def apply_edits(plan: QueryPlan, form: Mapping[str, str], model: SemanticModel) -> QueryPlan:
    """The plan with the form's changes; fields the form leaves out keep their part as it was, except the
    `filter{k}` checkboxes: an unticked (absent) one drops its filter."""
    select, changed = _edited_outputs(plan, form, model)
    group_by, renamed = _edited_groups(plan, form, model)
    select = [o for o in select if not (isinstance(o.expr, Col) and o.expr in renamed and renamed[o.expr] is None)]
    select = [Output(renamed[o.expr].column, renamed[o.expr]) if isinstance(o.expr, Col) and renamed.get(o.expr)
              else o for o in select]
    if not select:
        raise EditError("that leaves nothing to show")
    where = _edited_where(plan, form)
    order_by = _edited_order(plan, form, renamed, changed)
    limit = _edited_limit(plan, form)
    if not group_by and any(isinstance(o.expr, Col) for o in select) and any(isinstance(o.expr, Agg) for o in select):
        # the grouping went: what it showed goes too, or the statement would be invalid
        select = [o for o in select if not isinstance(o.expr, Col)]
    return replace(plan, select=tuple(select), where=where, group_by=tuple(group_by), order_by=order_by,
                   limit=limit)


def _edited_outputs(plan: QueryPlan, form: Mapping[str, str],
                    model: SemanticModel) -> tuple[list[Output], dict[object, object]]:
    """The outputs with the form's `agg{i}` / `col{i}` changes, and each changed output's old expression -> its new
    one (for the ORDER BY)."""
    select = list(plan.select)
    changed: dict[object, object] = {}  # an output's old expression -> its new one (for the ORDER BY)
    for i, output in enumerate(plan.select):
        expr = output.expr
        if isinstance(expr, Agg):
            func = form.get(f"agg{i}", expr.func)
            if func not in AGG_FUNCS:
                raise EditError(f"unknown aggregate {func!r}")
            arg = expr.arg
            if isinstance(arg, Col) and form.get(f"col{i}"):
                arg = _column(model, arg.table, form[f"col{i}"])
            if arg is None and func != "count":
                raise EditError("only counting applies to whole rows")
            if func != expr.func or arg != expr.arg:
                select[i] = Output(_agg_name(func, arg), replace(expr, func=func, arg=arg))
                changed[expr] = select[i].expr
        elif isinstance(expr, Col) and expr not in plan.group_by and form.get(f"col{i}"):
            new = _column(model, expr.table, form[f"col{i}"])
            if new != expr:
                select[i] = Output(new.column, new)
                changed[expr] = new
    return select, changed


def _edited_groups(plan: QueryPlan, form: Mapping[str, str],
                   model: SemanticModel) -> tuple[list, dict[Col, Col | None]]:
    """The GROUP BY with the form's `group{j}` changes, and each regrouped column -> its new one (None: dropped)."""
    renamed: dict[Col, Col | None] = {}
    group_by = []
    for j, group in enumerate(plan.group_by):
        chosen = form.get(f"group{j}", group.column if isinstance(group, Col) else None)
        if isinstance(group, Col) and chosen is not None and chosen != group.column:
            if chosen == "":
                renamed[group] = None  # dropped
                continue
            new = _column(model, group.table, chosen)
            renamed[group] = new
            group_by.append(new)
        else:
            group_by.append(group)
    return group_by, renamed


def _edited_where(plan: QueryPlan, form: Mapping[str, str]):
    """The WHERE from the ticked `filter{k}` boxes, each with its `value{k}` if the form gives one."""
    filters = []
    for k, condition in enumerate(_filters(plan)):
        if form.get(f"filter{k}") != "on":
            continue
        if isinstance(condition, Compare) and isinstance(condition.right, Lit) and f"value{k}" in form:
            value = _typed(condition.right.value, form[f"value{k}"].strip())
            condition = replace(condition, right=Lit(value))
        filters.append(condition)
    return None if not filters else filters[0] if len(filters) == 1 else AllOf(tuple(filters))


def _edited_order(plan: QueryPlan, form: Mapping[str, str], renamed: Mapping[Col, Col | None],
                  changed: Mapping[object, object]) -> tuple[Order, ...]:
    """The ORDER BY following the regrouped and changed outputs, with the form's `order` direction."""
    order_by = tuple(Order(renamed[o.expr] if isinstance(o.expr, Col) and renamed.get(o.expr) else o.expr, o.desc)
                     for o in plan.order_by if not (isinstance(o.expr, Col) and o.expr in renamed
                                                    and renamed[o.expr] is None))
    order_by = tuple(replace(o, expr=changed[o.expr]) if o.expr in changed else o for o in order_by)
    if "order" in form and order_by:
        order_by = () if form["order"] == "" else (replace(order_by[0], desc=form["order"] == "desc"), *order_by[1:])
    return order_by


def _edited_limit(plan: QueryPlan, form: Mapping[str, str]) -> int | None:
    """The LIMIT from the form's `limit` field (empty: none), or the plan's own."""
    limit = plan.limit
    if "limit" in form:
        text = form["limit"].strip()
        if not text:
            limit = None
        elif not text.isdigit() or int(text) < 1:
            raise EditError("the limit is a whole number of rows, 1 or more (empty for all rows)")
        else:
            limit = int(text)
    return limit


def _agg_name(func: str, arg: Col | None) -> str:
    if arg is None:
        return "count"
    return f"{func}_{arg.column}"
