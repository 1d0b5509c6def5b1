"""Number columns stored as text ('344', '12.5': loaded files and older schemas keep amounts so), on invented
schemas: read, compared, averaged and ordered as numbers; codes, keys and names stay text."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model, compile_plan
from nl2sql.semantics.plan import Col, Compare, Lit
from tests.semantics.schemas import column, prompt_schema, table

TODAY = dt.date(2024, 3, 15)


def _climbers(dialect: str = "sqlite") -> Reader:
    return Reader(build_semantic_model(prompt_schema(
        dialect,
        table("climbers", column("climber_id", "INTEGER", pk=True), column("name"),
              column("days_on_summit", "TEXT", values=("344", "113", "1285", "9")),
              column("team_number", "TEXT", values=("12", "7", "30")),
              column("permit_code", "TEXT", values=("007", "012", "113")),
              column("rating", "VARCHAR(5)", values=("4.5", "3", "12.25")),
              column("call_name", "TEXT", values=("42", "7", "99"))))))


@pytest.fixture(scope="module")
def climbers() -> Reader:
    return _climbers()


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def test_a_text_column_of_plain_numbers_is_a_number(climbers):
    attribute = climbers.model.attribute("climbers", "days_on_summit")
    assert attribute.is_numeric and attribute.stored_as_text and attribute.role == "measure"
    assert climbers.model.attribute("climbers", "rating").kind == "number"


@pytest.mark.parametrize("name", ["team_number", "permit_code", "call_name", "name"])
def test_codes_numbers_and_names_stay_text(climbers, name):
    """A leading zero ('007'), a name that numbers or names (team_number, nickname): no amount."""
    assert climbers.model.attribute("climbers", name).kind == "text"


def test_a_comparison_casts_the_text_to_a_number(climbers):
    plan = best(climbers, "Which climbers have days on summit less than 100?")
    assert plan.where == Compare(Col("climbers", "days_on_summit"), "<", Lit(100)), plan.dumps()
    sql = compile_plan(plan, climbers.model)
    assert 'CAST(climbers.days_on_summit AS REAL) < 100' in sql, sql


def test_an_average_and_an_order_cast_too(climbers):
    plan = best(climbers, "What is the average rating of the climbers?")
    assert 'AVG(CAST(climbers.rating AS REAL))' in compile_plan(plan, climbers.model)
    plan = best(climbers, "List the names of climbers in descending order of days on summit.")
    assert 'ORDER BY CAST(climbers.days_on_summit AS REAL) DESC' in compile_plan(plan, climbers.model)


def test_postgres_casts_to_double_precision():
    reader = _climbers("postgres")
    plan = best(reader, "Which climbers have days on summit more than 100?")
    assert "CAST(climbers.days_on_summit AS DOUBLE PRECISION) > 100" in compile_plan(plan, reader.model)


def test_a_year_held_as_a_value_is_filtered_once():
    """ "members who registered in 2016" where the register year holds '2016': that year, and no year window on
    another table's year as well."""
    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("members", column("member_id", "INTEGER", pk=True), column("name")),
        table("clubs", column("club_id", "INTEGER", pk=True), column("name"),
              column("open_year", values=("2001", "2009", "2013"))),
        table("registrations", column("member_id", "INTEGER"), column("club_id", "INTEGER"),
              column("register_year", values=("2015", "2016", "2017")),
              fks=(("member_id", "members", "member_id"), ("club_id", "clubs", "club_id"))))))
    plan = best(reader, "Show the names of members who registered at a club in 2016.")
    assert plan.where in (Compare(Col("registrations", "register_year"), "=", Lit("2016")),
                          Compare(Col("registrations", "register_year"), "=", Lit(2016))), plan.dumps()


def test_first_year_and_last_year_held_as_text_are_the_columns():
    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "fairs", column("fair_id", "INTEGER", pk=True), column("theme", values=("Spring", "Autumn", "Jazz")),
        column("first_year", values=("2000", "2002", "2004")), column("last_year", values=("2001", "2003", "2005"))))))
    plan = best(reader, 'What are the first year and last year of the fairs whose theme is "Spring"?')
    assert [o.expr for o in plan.select] == [Col("fairs", "first_year"), Col("fairs", "last_year")], plan.dumps()
    assert plan.where == Compare(Col("fairs", "theme"), "=", Lit("Spring")), plan.dumps()


def test_the_most_recent_year_orders_without_a_window():
    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "fairs", column("fair_id", "INTEGER", pk=True), column("name"), column("year", "INTEGER")))))
    plan = best(reader, "What is the name of the fair that happened in the most recent year?")
    assert plan.where is None and plan.limit == 1 and plan.group_by == (), plan.dumps()
    assert plan.order_by[0].expr == Col("fairs", "year") and plan.order_by[0].desc, plan.dumps()
