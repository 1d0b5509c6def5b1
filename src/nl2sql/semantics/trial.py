"""Trying a metric or segment against the data: it must read into plan terms, compile for the connection's
dialect, pass the SQL guard and run — a metric returning one number, a segment counting its rows. The catalog
calls this before it stores one (app.py wires it), and the semantics page and API call it to show a value."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nl2sql.catalog import Metric, PromptSchema
from nl2sql.errors import ValidationFailed
from nl2sql.semantics.compiler import CompileError, compile_plan
from nl2sql.semantics.explain import describe
from nl2sql.semantics.model import SemanticModel, build_semantic_model
from nl2sql.semantics.plan import Agg, Output, QueryPlan
from nl2sql.sqlguard import GuardPolicy, QueryFailed, QueryTimeout, SqlRefused, run, validate

__all__ = ["Trial", "metric_check", "metric_plan", "try_metric"]


@dataclass(frozen=True)
class Trial:
    """What trying a definition found: its SQL, the value (a metric's) or row count (a segment's), its read-back."""

    sql: str
    value: object
    readback: str

    def summary(self) -> str:
        return f"{self.readback} = {self.value}"


def metric_plan(model: SemanticModel, metric: Metric) -> QueryPlan:
    """The plan that measures a metric over all its rows (or counts a segment's rows); ValidationFailed with the
    reason when the definition can't be read."""
    name = metric.name.lower()
    if metric.kind == "segment":
        found = next((s for s in model.segments if s.name.lower() == name), None)
        if found is None:
            raise ValidationFailed(_problem(model, metric))
        return QueryPlan(base=found.table, select=(Output("rows", Agg("count")),), where=found.condition)
    defined = next((m for m in model.metrics if m.name.lower() == name), None)
    if defined is None:
        raise ValidationFailed(_problem(model, metric))
    return QueryPlan(base=defined.table, select=(Output(defined.output, defined.expr),), where=defined.where)


def _problem(model: SemanticModel, metric: Metric) -> str:
    prefix = f"{metric.kind} {metric.name!r}: "
    found = next((p for p in model.layer_problems if p.lower().startswith(prefix.lower())), None)
    return found[len(prefix):] if found else f"the {metric.kind} can't be read"


def try_metric(metric: Metric, schema: PromptSchema, engine, *, timeout_s: float, row_cap: int = 1000,
               extra_functions: frozenset[str] = frozenset()) -> Trial:
    """Compile, guard and run the definition (in `schema`, which holds it); ValidationFailed says what failed."""
    model = build_semantic_model(schema)
    plan = metric_plan(model, metric)
    try:
        sql = compile_plan(plan, model)
    except CompileError as error:
        raise ValidationFailed(f"it does not compile for {schema.dialect}: {error}") from None
    schemas = {t.schema for t in schema.tables}
    policy = GuardPolicy(dialect=schema.dialect, allowed_tables=frozenset(t.qualified_name for t in schema.tables),
                         sensitive_columns=schema.sensitive_columns, row_cap=row_cap,
                         default_schema=next(iter(schemas)) if len(schemas) == 1 else None,
                         extra_functions=extra_functions)
    try:
        result = run(validate(sql, policy), engine, timeout_s=timeout_s, max_rows=2)
    except SqlRefused as error:
        raise ValidationFailed(f"the SQL guard refuses it: {error.detail}") from None
    except QueryTimeout:
        raise ValidationFailed(f"it took longer than {timeout_s:g} s to compute") from None
    except QueryFailed as error:
        raise ValidationFailed(f"it fails on the database: {error.detail}") from None
    if len(result.rows) != 1 or len(result.rows[0]) != 1:
        raise ValidationFailed("it does not return one value")
    value = result.rows[0][0]
    if value is not None and not isinstance(value, int | float | Decimal):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValidationFailed(f"it returns {value!r}, not a number") from None
    if value is None:
        raise ValidationFailed("it returns no number (NULL): do its filters keep any rows?")
    # a metric reads back as its definition, a segment as "number of products, only active products (...)"
    return Trial(sql, value, describe(plan, model))


def metric_check(*, timeout_s: float, row_cap: int = 1000, extra_functions: frozenset[str] = frozenset()):
    """The catalog's `MetricCheck`: a definition is stored only when trying it works; what it found is the Trial."""
    def check(metric: Metric, schema: PromptSchema, engine) -> Trial:
        return try_metric(metric, schema, engine, timeout_s=timeout_s, row_cap=row_cap,
                          extra_functions=extra_functions)

    return check
