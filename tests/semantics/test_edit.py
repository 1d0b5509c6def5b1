"""The read-back's controls on an invented library schema: each change gives the plan it says, compiled and run."""

from __future__ import annotations

import pytest

from nl2sql.semantics import EditError, apply_edits, build_semantic_model, describe, reading_controls
from nl2sql.semantics.plan import Agg, AllOf, Col, Compare, Lit, Order, Output, QueryPlan
from tests.semantics.schemas import library
from tests.semantics.test_compiler import rows

MODEL = build_semantic_model(library("sqlite"))
B = "books"
# average price of books by genre, where pages > 100 and genre <> poetry, highest first, first 3
PLAN = QueryPlan(
    base=B,
    select=(Output("genre", Col(B, "genre")), Output("avg_price", Agg("avg", Col(B, "price")))),
    where=AllOf((Compare(Col(B, "pages"), ">", Lit(100)), Compare(Col(B, "genre"), "<>", Lit("poetry")))),
    group_by=(Col(B, "genre"),),
    order_by=(Order(Agg("avg", Col(B, "price")), desc=True),),
    limit=3,
)


def keep_all(**changes: str) -> dict[str, str]:
    return {"filter0": "on", "filter1": "on", "value0": "100", "value1": "poetry"} | changes


def test_every_part_of_the_reading_is_a_control():
    controls = {c.key: c for c in reading_controls(PLAN, MODEL)}
    assert controls["agg1"].value == "avg" and ("sum", "total") in controls["agg1"].options
    assert controls["col1"].value == "price" and ("pages", "pages") in controls["col1"].options
    assert "title" not in dict(controls["col1"].options)  # averaging a text column is not offered
    assert controls["group0"].value == "genre" and ("", "no grouping") in controls["group0"].options
    assert controls["filter0"].kind == "keep" and controls["value0"].value == "100"
    assert controls["value1"].value == "poetry"
    assert controls["order"].value == "desc" and controls["limit"].value == "3"


def test_another_aggregate_and_column_keep_the_order_on_the_changed_measure():
    plan = apply_edits(PLAN, keep_all(agg1="sum", col1="pages"), MODEL)
    assert plan.select[1].expr == Agg("sum", Col(B, "pages"))
    assert plan.order_by == (Order(Agg("sum", Col(B, "pages")), desc=True),)
    assert "total pages" in describe(plan, MODEL)


def test_dropping_a_filter_and_changing_a_value():
    plan = apply_edits(PLAN, {"filter1": "on", "value1": "history"}, MODEL)
    assert plan.where == Compare(Col(B, "genre"), "<>", Lit("history"))
    typed = apply_edits(PLAN, keep_all(value0="250"), MODEL)
    assert typed.where.items[0].right == Lit(250)
    with pytest.raises(EditError, match="whole number"):
        apply_edits(PLAN, keep_all(value0="many"), MODEL)


def test_dropping_the_grouping_drops_its_column_and_order_and_limit_change():
    plan = apply_edits(PLAN, keep_all(group0="", order="", limit=""), MODEL)
    assert plan.group_by == () and [o.name for o in plan.select] == ["avg_price"]
    assert plan.order_by == () and plan.limit is None
    regrouped = apply_edits(PLAN, keep_all(group0="title", order="asc", limit="2"), MODEL)
    assert regrouped.group_by == (Col(B, "title"),) and regrouped.select[0].expr == Col(B, "title")
    assert regrouped.order_by[0].desc is False and regrouped.limit == 2
    with pytest.raises(EditError):
        apply_edits(PLAN, keep_all(limit="0"), MODEL)
    with pytest.raises(EditError):
        apply_edits(PLAN, keep_all(col1="no_such_column"), MODEL)


def test_edited_plans_compile_and_run_on_every_database(library_db):
    dialect, engine = library_db
    model = build_semantic_model(library(dialect))
    base = rows(dialect, engine, PLAN)
    summed = rows(dialect, engine, apply_edits(PLAN, keep_all(agg1="sum"), model))
    ungrouped = rows(dialect, engine, apply_edits(PLAN, {"group0": "", "limit": ""}, model))
    assert len(base) <= 3 and len(summed) == len(base)
    assert len(ungrouped) == 1 and len(ungrouped[0]) == 1
