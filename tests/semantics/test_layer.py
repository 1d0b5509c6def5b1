"""The admin's semantic layer in the reader: metrics read as defined by any grouping, time window and top N the
question adds, segments as their condition, value synonyms (the admin's and general knowledge) as the value —
on an invented bakery chain the reader was never tuned on."""

from __future__ import annotations

from datetime import date

import pytest

from nl2sql.catalog import Metric
from nl2sql.semantics import build_semantic_model, compile_plan, read_question
from nl2sql.semantics.layer import LayerError, parse_condition, parse_formula, spell
from nl2sql.semantics.plan import Agg, Arith, Col, Compare, InList, Lit
from nl2sql.semantics.synonyms import value_synonyms
from tests.semantics.schemas import column, prompt_schema, table

TODAY = date(2025, 6, 15)


def metric(name: str, expression: str, *, kind: str = "metric", filters: tuple[str, ...] = (), time: str = "",
           synonyms: tuple[str, ...] = ()) -> Metric:
    return Metric(0, 1, kind, name, expression, filters, time, synonyms)


TAKINGS = metric("takings", "sum(sale_lines.quantity * sale_lines.unit_price)", filters=("sales.status <> 'void'",),
                 time="sales.sold_on", synonyms=("turnover", "sales revenue"))
BASKET = metric("average basket", "takings / count(distinct sales.sale_id)", time="sales.sold_on")
SEASONAL = metric("seasonal cakes", "cakes.is_seasonal = 1", kind="segment", synonyms=("cakes of the season",))
RETIRED = metric("retired cakes", "cakes.is_seasonal = 0 AND cakes.price > 3", kind="segment",
                 synonyms=("cakes no longer baked",))


def bakery(*definitions: Metric, admin_synonyms: dict | None = None):
    schema = prompt_schema(
        "sqlite",
        table("bakeries", column("bakery_id", "INTEGER", pk=True), column("bakery_name"),
              column("state", values=("CA", "NY", "TX", "WA", "OR"))),
        table("cakes", column("cake_id", "INTEGER", pk=True), column("cake_name"),
              column("family", values=("tart", "sponge", "cheesecake")), column("price", "NUMERIC(6,2)"),
              column("is_seasonal", "INTEGER")),
        table("sales", column("sale_id", "INTEGER", pk=True), column("bakery_id", "INTEGER"),
              column("sold_on", "DATE"), column("settled_on", "DATE"),
              column("status", values=("paid", "void", "open")),
              fks=(("bakery_id", "bakeries", "bakery_id"),)),
        table("sale_lines", column("line_id", "INTEGER", pk=True), column("sale_id", "INTEGER"),
              column("cake_id", "INTEGER"), column("quantity", "INTEGER"), column("unit_price", "NUMERIC(6,2)"),
              fks=(("sale_id", "sales", "sale_id"), ("cake_id", "cakes", "cake_id"))),
    )
    if admin_synonyms:
        tables = []
        for t in schema.tables:
            columns = tuple(c.__class__(**{**c.__dict__, "value_synonyms": admin_synonyms[(t.name, c.name)]})
                            if (t.name, c.name) in admin_synonyms else c for c in t.columns)
            tables.append(t.__class__(**{**t.__dict__, "columns": columns}))
        schema = schema.__class__(**{**schema.__dict__, "tables": tuple(tables)})
    return build_semantic_model(schema.__class__(**{**schema.__dict__, "metrics": definitions}))


def sql_of(question: str, model) -> tuple[str, str]:
    readings = read_question(question, model, today=TODAY)
    assert readings, question
    # parentheses aside, so the checks read as the SQL a person would write
    sql = compile_plan(readings[0].plan, model).replace("(", " ").replace(")", " ")
    return " ".join(sql.split()), readings[0].explanation


def test_a_formula_reads_into_aggregates_of_columns():
    model = bakery(TAKINGS)
    found = model.metrics[0]
    assert found.expr == Agg("sum", Arith("*", Col("sale_lines", "quantity"), Col("sale_lines", "unit_price")))
    assert found.where == Compare(Col("sales", "status"), "<>", Lit("void"))
    assert found.table == "sales" and found.time == Col("sales", "sold_on")
    assert found.readback == "takings (sum of quantity × unit price, void sales excluded)"


def test_a_metric_may_use_another_keeping_its_filters():
    model = bakery(BASKET, TAKINGS)  # the order of definitions doesn't matter
    basket = next(m for m in model.metrics if m.name == "average basket")
    assert isinstance(basket.expr, Arith) and basket.expr.op == "/"
    assert basket.expr.left.where == Compare(Col("sales", "status"), "<>", Lit("void"))  # type: ignore[union-attr]
    assert basket.expr.right == Agg("count_distinct", Col("sales", "sale_id"))


@pytest.mark.parametrize("formula, reason", [
    ("sum(sale_lines.weight)", "no column sale_lines.weight"),
    ("sale_lines.quantity * 2", "aggregates nothing"),
    ("sum(max(sale_lines.quantity))", "inside an aggregate"),
    ("sum(sale_lines.quantity", "does not parse"),
    ("percentile_cont(0.5) within group (order by sale_lines.quantity)", "not supported"),
])
def test_a_formula_the_plan_cant_express_is_listed_with_its_reason(formula, reason):
    model = bakery(metric("odd", formula))
    assert model.metrics == ()
    assert len(model.layer_problems) == 1 and reason in model.layer_problems[0], model.layer_problems


def test_conditions_read_into_plan_conditions():
    resolve = lambda table, name: Col(table or "sales", name)  # noqa: E731
    assert parse_condition("status NOT IN ('void', 'open')", "sqlite", resolve) == InList(
        Col("sales", "status"), (Lit("void"), Lit("open")), negate=True)
    with pytest.raises(LayerError):
        parse_condition("status IN (SELECT 1)", "sqlite", resolve)
    with pytest.raises(LayerError):
        parse_formula("count(*) + ", "sqlite", resolve)
    assert spell(Agg("count_distinct", Col("sales", "sale_id")), None) == "number of sales"


def test_total_of_a_metric_in_a_year():
    sql, line = sql_of("total takings in 2024", bakery(TAKINGS))
    assert "SUM sale_lines.quantity * sale_lines.unit_price" in sql, sql
    assert "sales.status <> 'void'" in sql and "sales.sold_on >= '2024-01-01'" in sql, sql
    assert "GROUP BY" not in sql, sql
    assert line.startswith("takings (sum of quantity × unit price, void sales excluded)"), line


def test_a_metric_by_a_dimension_joins_through_the_graph():
    sql, _ = sql_of("turnover by family this year", bakery(TAKINGS))
    assert "GROUP BY cakes.family" in sql and "JOIN cakes" in sql, sql
    assert "sales.sold_on >= '2025-01-01'" in sql and "sales.status <> 'void'" in sql, sql


def test_a_metric_by_month():
    sql, _ = sql_of("monthly takings", bakery(TAKINGS))
    assert "SUM sale_lines.quantity * sale_lines.unit_price" in sql and "sales.sold_on" in sql, sql
    assert "GROUP BY" in sql and "%m" in sql, sql


def test_top_n_by_a_metric():
    sql, _ = sql_of("top 3 cakes by takings", bakery(TAKINGS))
    assert "cakes.cake_name" in sql and "ORDER BY" in sql and "DESC" in sql and sql.endswith("LIMIT 3"), sql
    assert "SUM sale_lines.quantity * sale_lines.unit_price" in sql, sql


def test_a_metric_is_reported_by_its_own_time_column():
    settled = metric("settled takings", "sum(sale_lines.quantity * sale_lines.unit_price)", time="sales.settled_on")
    model = bakery(settled)
    assert model.entity("sales").time == "sold_on"  # the table's main time column is another
    sql, _ = sql_of("settled takings in 2024", model)
    assert "sales.settled_on >= '2024-01-01'" in sql and "sold_on" not in sql, sql
    sql, _ = sql_of("monthly settled takings", model)
    assert "sales.settled_on" in sql and "sold_on" not in sql, sql


def test_a_ratio_metric_is_one_measure():
    sql, line = sql_of("what is the average basket in 2024?", bakery(TAKINGS, BASKET))
    assert "COUNT DISTINCT sales.sale_id" in sql and "CASE WHEN sales.status <> 'void'" in sql, sql
    assert "AVG " not in sql, sql


def test_a_segment_filters_any_question():
    model = bakery(TAKINGS, SEASONAL, RETIRED)
    sql, _ = sql_of("how many seasonal cakes are there", model)
    assert "cakes.is_seasonal = 1" in sql and "COUNT " in sql, sql
    sql, _ = sql_of("list the cakes no longer baked", model)
    assert "cakes.is_seasonal = 0" in sql and "cakes.price > 3" in sql, sql
    sql, _ = sql_of("takings of seasonal cakes in 2024", model)
    assert "cakes.is_seasonal = 1" in sql and "SUM sale_lines.quantity * sale_lines.unit_price" in sql, sql


def test_without_a_layer_the_words_mean_nothing_special():
    model = bakery()
    readings = read_question("total takings in 2024", model, today=TODAY)
    assert not readings or "quantity * sale_lines.unit_price" not in compile_plan(readings[0].plan, model)


def test_state_names_find_state_codes_without_an_admin():
    sql, _ = sql_of("how many bakeries are in California", bakery())
    assert "bakeries.state = 'CA'" in sql, sql


def test_an_admins_value_synonyms_find_the_value():
    model = bakery(admin_synonyms={("sales", "status"): {"void": ("cancelled", "voided")}})
    sql, _ = sql_of("how many cancelled sales are there", model)
    assert "sales.status = 'void'" in sql, sql


def test_general_lists_apply_only_where_the_values_fit():
    assert value_synonyms(("CA", "NY", "TX"))["CA"] == ("California",)
    assert "DE" in value_synonyms(("DE", "FR", "JP", "BR"))  # countries: DE is no state of most of these
    assert value_synonyms(("DE", "FR", "JP", "BR"))["DE"][0] == "DEU"
    assert value_synonyms(("Jan", "Feb", "Mar"))["Jan"] == ("January",)
    assert value_synonyms(("red", "green", "CA")) == {}
    assert value_synonyms(("CA", "NY")) == {}  # two values prove nothing
    # a names column gets the codes, except those that are everyday words ("in" Indiana, "or" Oregon)
    assert value_synonyms(("Oregon", "Texas", "Indiana")) == {"Texas": ("TX",)}
    assert value_synonyms(("Peru", "Canada", "Japan")) == {"Peru": ("PE",), "Canada": ("CA",), "Japan": ("JP", "JPN")}
    assert value_synonyms(("x",), {"x": ("ex",)}) == {"x": ("ex",)}


def test_the_sexes_codes_read_as_the_words_questions_use():
    assert value_synonyms(("F", "M"))["F"][0] == "female"
    assert "boys" in value_synonyms(("Male", "Female"))["Male"]
    assert value_synonyms(("S", "M", "L")) == {}  # sizes: M is medium here
    assert value_synonyms(("F", "M", "X", "U")) == {}  # mostly other codes: no list fits
    bakers = build_semantic_model(prompt_schema("sqlite", table(
        "bakers", column("baker_id", "INTEGER", pk=True), column("baker_name"), column("sex", values=("F", "M")))))
    sql, _ = sql_of("how many female bakers are there", bakers)
    assert "bakers.sex = 'F'" in sql, sql
