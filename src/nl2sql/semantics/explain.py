"""A plan in one line of plain English: how the product read the question."""

from __future__ import annotations

from nl2sql.semantics.lexicon import ABBREVIATIONS, identifier_words
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    AnyOf,
    Arith,
    Between,
    Bucket,
    Col,
    Compare,
    Condition,
    Elapsed,
    Overall,
    Expr,
    InList,
    IsNull,
    Lit,
    Match,
    Not,
    Part,
    QueryPlan,
    Related,
    Today,
)

__all__ = ["describe", "humanize"]

_AGG_WORDS = {"count": "number of", "count_distinct": "number of distinct", "sum": "total", "avg": "average",
              "min": "lowest", "max": "highest"}
_OPS = {"=": "is", "<>": "is not", "<": "under", "<=": "at most", ">": "over", ">=": "at least"}


def humanize(name: str) -> str:
    """`review_num` -> "review number"; `xyOrderDateTime` -> "order date time"."""
    words = [ABBREVIATIONS.get(w, w) for w in identifier_words(name)]
    return " ".join(words) or name


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es" if not word.endswith("s") else word
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


class _Describer:
    def __init__(self, model: SemanticModel) -> None:
        self.model = model

    def entity(self, table: str, plural: bool = True) -> str:
        try:
            entity = self.model.entity(table)
        except KeyError:
            return table
        name = humanize(entity.name)
        return _plural(name) if plural else name

    def column(self, col: Col) -> str:
        try:
            entity = self.model.entity(col.table)
            entity.attribute(col.column)  # a column the model doesn't know reads as its own name
        except KeyError:
            return col.column
        words = humanize(col.column)
        if entity.label == col.column or col.column in entity.label_parts:
            return self.entity(col.table, plural=False) + ("" if entity.label == col.column else f" {words}")
        return words

    def expr(self, node: Expr) -> str:
        metric = next((m for m in self.model.metrics if m.expr == node), None)
        if metric is not None:
            return metric.readback  # "revenue (sum of quantity × unit price, cancelled orders excluded)"
        if isinstance(node, Col):
            return self.column(node)
        if isinstance(node, Lit):
            return repr(node.value) if isinstance(node.value, str) else str(node.value)
        if isinstance(node, Today):
            return "today"
        if isinstance(node, Agg):
            if node.arg is None:
                what = f"number of {self.entity(self._base)}"
            else:
                what = f"{_AGG_WORDS[node.func]} {self.expr(node.arg)}"
                if node.func in ("count", "count_distinct") and isinstance(node.arg, Col):
                    entity = self.model.entities.get(node.arg.table)
                    if entity is not None and node.arg.column in entity.key:
                        what = f"{_AGG_WORDS[node.func]} {self.entity(node.arg.table)}"
            if node.where is not None:
                what += f" where {self.condition(node.where)}"
            return what
        if isinstance(node, Arith):
            if node.op == "/" and isinstance(node.right, Lit) and node.right.value in (60, 3600, 86400, 604800):
                unit = {60: "minutes", 3600: "hours", 86400: "days", 604800: "weeks"}[node.right.value]
                return f"{self.expr(node.left)} in {unit}"
            if node.op == "/":
                return f"ratio of {self.expr(node.left)} to {self.expr(node.right)}"
            word = {"+": "plus", "-": "minus", "*": "times"}[node.op]
            return f"{self.expr(node.left)} {word} {self.expr(node.right)}"
        if isinstance(node, Bucket):
            return f"{node.grain} of {self.expr(node.arg)}"
        if isinstance(node, Part):
            part = {"dow": "weekday"}.get(node.part, node.part)
            return f"{part} of {self.expr(node.arg)}"
        if isinstance(node, Elapsed):
            return f"{node.unit}s from {self.expr(node.start)} to {self.expr(node.end)}"
        if isinstance(node, Overall):
            return f"the {self.expr(node.agg)} of all"
        return type(node).__name__

    def condition(self, node: Condition) -> str:
        if isinstance(node, Compare):
            return f"{self.expr(node.left)} {_OPS[node.op]} {self.expr(node.right)}"
        if isinstance(node, Between):
            return f"{self.expr(node.arg)} from {self.expr(node.low)} to {self.expr(node.high)}"
        if isinstance(node, InList):
            values = ", ".join(self.expr(v) for v in node.values)
            return f"{self.expr(node.arg)} {'is not' if node.negate else 'is'} one of {values}"
        if isinstance(node, Match):
            verb = {"contains": "contains", "starts": "starts with", "ends": "ends with", "equals": "is"}[node.mode]
            return f"{self.expr(node.arg)} {'does not ' + verb.replace('contains', 'contain') if node.negate else verb} {node.text!r}"
        if isinstance(node, IsNull):
            return f"{self.expr(node.arg)} is {'known' if node.negate else 'missing'}"
        if isinstance(node, AllOf):
            return " and ".join(self.condition(i) for i in node.items)
        if isinstance(node, AnyOf):
            return "(" + " or ".join(self.condition(i) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"not ({self.condition(node.item)})"
        if isinstance(node, Related):
            inner = f" where {self.condition(node.where)}" if node.where is not None else ""
            return f"{'without' if node.negate else 'with'} {self.entity(node.table)}{inner}"
        return type(node).__name__

    def plan(self, plan: QueryPlan) -> str:
        self._base = plan.base
        grouped = set(plan.group_by)
        measures = [o for o in plan.select if o.expr not in grouped]
        keys = [o for o in plan.select if o.expr in grouped]
        if measures:
            head = ", ".join(self.expr(o.expr) for o in measures if not self._is_label(o.expr)) or self.entity(plan.base)
            if not plan.aggregated and any(isinstance(o.expr, Col) for o in measures):
                labelled = [o for o in measures if self._is_label(o.expr)]
                rest = [o for o in measures if not self._is_label(o.expr)]
                head = self.entity(plan.base) + (f" with {', '.join(self.expr(o.expr) for o in rest)}" if rest else "")
                if labelled and labelled[0].expr.table != plan.base:  # type: ignore[union-attr]
                    head = self.entity(labelled[0].expr.table) + (  # type: ignore[union-attr]
                        f" with {', '.join(self.expr(o.expr) for o in rest)}" if rest else "")
            elif not plan.aggregated:
                head = ", ".join(self.expr(o.expr) for o in measures)
            elif plan.base and "of " not in head and not head.startswith(("number", "ratio")):
                head += f" of {self.entity(plan.base)}"
        else:
            head = self.entity(plan.base)
        parts = [head]
        if keys:
            by = []
            for o in keys:
                if isinstance(o.expr, Col) and self._is_label(o.expr):
                    by.append(self.entity(o.expr.table, plural=False))
                elif isinstance(o.expr, Col):
                    entity = self.model.entities.get(o.expr.table)
                    if entity and o.expr.column in entity.key and any(self._is_label(k.expr) for k in keys):
                        continue
                    by.append(self.expr(o.expr))
                else:
                    by.append(self.expr(o.expr))
            parts[0] += " by " + ", ".join(dict.fromkeys(by))
        where = self._without_metric_filters(plan)
        segments = [s for s in self.model.segments if s.condition in where]
        where = [c for c in where if not any(s.condition == c for s in segments)]
        parts += [f"only {s.name} ({self.condition(s.condition)})" for s in segments]
        if where:
            parts.append("where " + " and ".join(self.condition(c) for c in where))
        if plan.having is not None:
            parts.append("keeping those where " + self.condition(plan.having))
        if plan.order_by:
            first = plan.order_by[0]
            if plan.limit == 1:
                parts.append("the highest only" if first.desc else "the lowest only")
            else:
                if isinstance(first.expr, Col) and first.expr.column in self.model.entity(first.expr.table).display:
                    order = "alphabetically" + (" from Z" if first.desc else "")
                else:
                    named = next((m.name for m in self.model.metrics if m.expr == first.expr), None)
                    order = f"{'highest' if first.desc else 'lowest'} {named or self.expr(first.expr)} first"
                parts.append(order)
                if plan.limit:
                    parts.append(f"top {plan.limit}")
        elif plan.limit:
            parts.append(f"first {plan.limit}")
        if plan.distinct:
            parts.append("each listed once")
        return ", ".join(parts)

    def _without_metric_filters(self, plan: QueryPlan) -> list[Condition]:
        """The plan's conditions less those of the metrics it shows (their read-back says them already)."""
        if plan.where is None:
            return []
        items = list(plan.where.items) if isinstance(plan.where, AllOf) else [plan.where]
        said: list[Condition] = []
        for metric in self.model.metrics:
            if metric.where is not None and any(o.expr == metric.expr for o in plan.select):
                said += list(metric.where.items) if isinstance(metric.where, AllOf) else [metric.where]
        return [c for c in items if c not in said]

    def _is_label(self, expr: Expr) -> bool:
        if not isinstance(expr, Col):
            return False
        entity = self.model.entities.get(expr.table)
        return bool(entity) and (expr.column in entity.display)


def describe(plan: QueryPlan, model: SemanticModel) -> str:
    """One line of plain English for the plan ("average rating of restaurants by food type, where city is ...")."""
    return _Describer(model).plan(plan)
