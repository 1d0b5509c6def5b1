"""Coordinated extremes ("the highest and lowest cost", "the highest, lowest, and average price") are the column's
aggregates, not an ordering; a ratio word inside a column's name ("market share") is that column, on invented
schemas."""

from __future__ import annotations

from datetime import date

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Agg, Col
from tests.semantics.schemas import column, prompt_schema, table


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("treatments", column("treatment_id", "INTEGER", pk=True), column("label"),
              column("fee", "NUMERIC(8,2)"), column("duration_minutes", "INTEGER")),
        table("vendors", column("vendor_id", "INTEGER", pk=True), column("vendor_name"),
              column("market_share", "REAL")))))


def aggregates(reader: Reader, question: str) -> list[tuple[str, Col]]:
    plan = reader.read(question)[0].plan
    assert not plan.order_by and plan.limit is None, plan
    return [(o.expr.func, o.expr.arg) for o in plan.select if isinstance(o.expr, Agg)]


@pytest.mark.parametrize("question, funcs", [
    ("What are the highest and lowest fee of treatments?", ["max", "min"]),
    ("Tell me the highest, lowest, and average fee of treatments.", ["max", "min", "avg"]),
    ("What are the longest and the shortest duration minutes of treatments?", ["max", "min"]),
    ("Show the lowest and average fee of all treatments.", ["min", "avg"]),
])
def test_coordinated_extremes_are_aggregates(reader, question, funcs):
    found = aggregates(reader, question)
    assert [f for f, _ in found] == funcs, found
    assert all(arg.table == "treatments" and arg.column in ("fee", "duration_minutes") for _, arg in found)


def test_a_lone_superlative_still_picks_the_top_row(reader):
    plan = reader.read("Which treatment has the highest fee?")[0].plan
    assert plan.limit == 1 and plan.order_by[0].expr == Col("treatments", "fee") and plan.order_by[0].desc


def test_a_ratio_word_in_a_columns_name_is_the_column(reader):
    found = aggregates(reader, "What is the maximum, minimum and average market share of the vendors?")
    assert found == [("max", Col("vendors", "market_share")), ("min", Col("vendors", "market_share")),
                     ("avg", Col("vendors", "market_share"))], found


def test_the_oldest_age_is_the_largest():
    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "pupils", column("pupil_id", "INTEGER", pk=True), column("sex", values=("F", "M")), column("age", "INTEGER"),
        column("enrolled_on", "DATE")))))
    assert aggregates(reader, "What is the average and oldest age of pupils?") == [
        ("avg", Col("pupils", "age")), ("max", Col("pupils", "age"))]


def test_a_column_named_again_with_each_extreme_is_measured_not_grouped(reader):
    plan = reader.read("What are the highest fee, lowest fee and average fee of treatments?")[0].plan
    assert not plan.group_by and all(isinstance(o.expr, Agg) for o in plan.select), plan
    assert {o.expr.func for o in plan.select} == {"max", "min", "avg"}


@pytest.fixture(scope="module")
def flats() -> Reader:
    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("flats", column("flat_id", "INTEGER", pk=True), column("flat_code"), column("room_count", "INTEGER"),
              column("num_tenants", "INTEGER")),
        table("wardens", column("warden_id", "INTEGER", pk=True), column("warden_name"),
              column("flat_num", "INTEGER")))))


def test_the_number_of_things_a_count_column_holds_is_that_column(flats):
    assert aggregates(flats, "What is the minimum and maximum number of rooms of all the flats?") == [
        ("min", Col("flats", "room_count")), ("max", Col("flats", "room_count"))]
    plan = flats.read("List all flat codes in descending order of number of rooms.")[0].plan
    assert [o.expr for o in plan.select] == [Col("flats", "flat_code")] and not plan.aggregated
    assert plan.order_by[0].expr == Col("flats", "room_count") and plan.order_by[0].desc
    plan = flats.read("How many flats have a number of tenants lower than 3?")[0].plan
    assert plan.where is not None and plan.where.left == Col("flats", "num_tenants")


def test_the_column_after_each_groups_what_is_counted():
    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("roster", column("last_name"), column("first_name"), column("grade", "INTEGER"),
              column("classroom", "INTEGER")),
        table("tutors", column("tutor_id", "INTEGER", pk=True), column("tutor_name"), column("classroom", "INTEGER")))))
    plan = reader.read("Report the number of pupils in each classroom.")[0].plan
    assert plan.group_by == (Col("roster", "classroom"),), plan
    assert any(isinstance(o.expr, Agg) and o.expr.func == "count" and o.expr.arg is None for o in plan.select)


def test_extremes_for_every_row_of_the_table_are_over_all_rows():
    """ "the minimum, maximum and average weight for every truck": across the trucks, not one row per truck."""
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("trucks", column("truck_id", "INTEGER", pk=True), column("plate"),
                        column("weight", "REAL")))))
    plan = reader.read("What is the minimum, maximum, and average weight for every truck?",
                       today=date(2024, 3, 15))[0].plan
    assert not plan.group_by, plan.dumps()
    assert {o.expr.func for o in plan.select if isinstance(o.expr, Agg)} == {"min", "max", "avg"}, plan.dumps()
