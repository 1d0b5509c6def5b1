"""The most (or least) frequent value of a column (semantics/rules/frequency.py), on invented schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Agg, Col, Compare, Lit, Order
from nl2sql.semantics.rules.frequency import frequency_cue
from tests.semantics.schemas import sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


@pytest.mark.parametrize("question, desc", [
    ("which position is the most common", True), ("the least frequent position", False),
    ("which city appears the most ?", True), ("which position appears most often", True),
    ("the most goals", None),
])
def test_frequency_cues(question, desc):
    found = frequency_cue(question.split())
    assert (found[1] if found else None) == desc


def test_the_most_common_value_groups_counts_and_keeps_one(teams):
    plan = best(teams, "Which position is the most common among athletes?")
    assert [o.expr for o in plan.select] == [Col("athletes", "position")]
    assert plan.group_by == (Col("athletes", "position"),)
    assert plan.order_by == (Order(Agg("count"), True),)
    assert plan.limit == 1


def test_the_least_common_value_orders_up_and_keeps_the_filter(teams):
    plan = best(teams, "What is the least common nationality of athletes taller than 1.9?")
    assert plan.group_by == (Col("athletes", "nationality"),)
    assert plan.order_by == (Order(Agg("count"), False),)
    assert plan.where == Compare(Col("athletes", "height"), ">", Lit(1.9))


def test_the_most_common_part_of_a_composite_key():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "happy_hours", column("shop_id", "INTEGER", pk=True), column("month", pk=True, values=("April", "May", "June")),
        column("staff_in_charge", "INTEGER")))))
    plan = reader.read("Which month has the most happy hours?", today=dt.date(2024, 3, 15))[0].plan
    assert plan.group_by == (Col("happy_hours", "month"),) and plan.limit == 1, plan


def test_an_order_naming_a_category_that_has_the_most_groups_by_it():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "faculty", column("fac_id", "INTEGER", pk=True), column("last_name"),
        column("building", values=("NEB", "Barton", "Krieger"))))))
    plan = reader.read("Find the building that has the largest number of faculty members.",
                       today=dt.date(2024, 3, 15))[0].plan
    assert plan.group_by == (Col("faculty", "building"),) and plan.limit == 1, plan
    # the columns of one row asked for: no category
    plan = reader.read("Find the last name and building of the faculty member with the largest id.",
                       today=dt.date(2024, 3, 15))[0].plan
    assert not plan.group_by, plan


def test_the_most_common_value_of_a_reference_shows_the_named_tables_name():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("genres", column("genre_id", "INTEGER", pk=True), column("genre_name")),
        table("tracks", column("track_id", "INTEGER", pk=True), column("track_name"), column("genre_id", "INTEGER"),
              fks=(("genre_id", "genres", "genre_id"),)))))
    plan = reader.read("Which genre is the most common across all tracks?", today=dt.date(2024, 3, 15))[0].plan
    assert [o.expr for o in plan.select] == [Col("genres", "genre_name")] and plan.limit == 1, plan
    plan = reader.read("What is the genre id that is most common across all tracks?", today=dt.date(2024, 3, 15))[0].plan
    assert [o.expr for o in plan.select] == [Col("tracks", "genre_id")], plan


def test_how_many_beside_the_most_common_value_shows_its_count(teams):
    plan = best(teams, "What is the most common position of athletes, and how many are there?")
    assert [o.expr for o in plan.select] == [Col("athletes", "position"), Agg("count")], plan.select
    assert plan.limit == 1 and plan.order_by[0] == Order(Agg("count"), True)


def test_the_most_of_a_loosely_named_table_counts_its_rows():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "book_club", column("book_club_id", "INTEGER", pk=True), column("year", "INTEGER"),
        column("book_title"), column("publisher"), column("category")))))
    plan = best(reader, "Return the publisher that has published the most books.")
    assert plan.group_by == (Col("book_club", "publisher"),) and plan.limit == 1, plan
    assert plan.order_by[0] == Order(Agg("count"), True)


@pytest.mark.parametrize("question, col", [
    ("What is the name of the home city that has the most teams?", Col("teams", "home_city")),
    ("What is the name of the position that has the most athletes?", Col("athletes", "position")),
])
def test_the_name_of_a_column_value_with_the_most_rows(teams, question, col):
    """ "the name of the studio that made the most films" (studio a column): the column's most frequent value,
    not the rows' name column."""
    plan = best(teams, question)
    assert [o.expr for o in plan.select][:1] == [col], plan.dumps()
    assert plan.group_by[:1] == (col,) and plan.limit == 1, plan.dumps()


def test_a_value_between_the_superlative_and_the_rows_counted_filters_them(teams):
    """ "the team with the most forward athletes": the athletes counted are the forwards."""
    plan = best(teams, "Which team has the most forward athletes?")
    assert plan.where == Compare(Col("athletes", "position"), "=", Lit("forward")), plan.dumps()
    assert plan.limit == 1 and plan.order_by and plan.order_by[0].desc, plan.dumps()
    assert "count" in plan.dumps()


def test_a_name_column_with_the_most_of_its_own_rows_groups_them():
    """ "the manager name with the most stations" (manager_name the stations' own name column): stations counted
    per manager name, not one station."""
    from nl2sql.semantics import Reader, build_semantic_model
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "fuel_stations", column("station_id", "INTEGER", pk=True), column("manager_name"), column("location"),
        column("open_year", "INTEGER")))))
    plan = best(reader, "Show the manager name with the most number of fuel stations opened after 2000.")
    assert plan.group_by == (Col("fuel_stations", "manager_name"),) and plan.limit == 1, plan.dumps()


@pytest.mark.parametrize("question, column", [("What is the most frequent status of tickets?", "status_code"),
                                              ("What is the most common ticket type?", "type_code")])
def test_status_or_type_alone_names_its_code_column(question, column):
    """ "the most frequent status" where the column is status_code (all its words generic): that column's most
    frequent value."""
    from tests.semantics.schemas import column as col, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("tickets", col("ticket_id", "INTEGER", pk=True), col("status_code"), col("type_code"),
                        col("opened_on", "DATE")))))
    plan = best(reader, question)
    assert plan.group_by == (Col("tickets", column),) and plan.limit == 1, plan.dumps()
    assert plan.order_by and plan.order_by[0].expr == Agg("count"), plan.dumps()


def test_a_column_named_after_its_tables_word_is_what_the_rows_are_counted_by():
    """ "the name of the game publisher that has the most games", publisher a column of games: per publisher
    (the table's word opens the column's name)."""
    from tests.semantics.schemas import column as col, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("game", col("game_id", "INTEGER", pk=True), col("title"), col("publisher"),
                        col("release_year", "INTEGER")))))
    plan = best(reader, "List the name of game publisher that has the most games.")
    assert plan.group_by == (Col("game", "publisher"),) and plan.limit == 1, plan.dumps()
