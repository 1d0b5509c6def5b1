"""Coordinated aggregates (semantics/rules/coordination.py), on invented schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Agg, Col
from nl2sql.semantics.rules.coordination import aggregate_chains
from tests.semantics.schemas import sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def test_aggregate_words_joined_by_commas_and_and_form_a_chain():
    words = "the minimum , average , and maximum height".split()
    cues = [(1, 2, "min"), (3, 4, "avg"), (6, 7, "max")]
    assert aggregate_chains(words, cues) == [cues]


def test_a_count_phrase_after_an_aggregate_word_is_no_aggregate_of_its_own():
    words = "the maximum number of goals".split()
    assert aggregate_chains(words, [(1, 2, "max"), (2, 4, "count")]) == []


def test_several_aggregates_of_one_column(teams):
    plan = best(teams, "What are the minimum, average and maximum height of athletes?")
    height = Col("athletes", "height")
    assert [o.expr for o in plan.select] == [Agg("min", height), Agg("avg", height), Agg("max", height)]


def test_the_maximum_and_minimum_values(teams):
    plan = best(teams, "What are the maximum and minimum weight of all athletes?")
    weight = Col("athletes", "weight")
    assert [o.expr for o in plan.select] == [Agg("max", weight), Agg("min", weight)]


def test_one_aggregate_over_coordinated_columns(teams):
    plan = best(teams, "What is the average height and weight of athletes?")
    assert [o.expr for o in plan.select] == [Agg("avg", Col("athletes", "height")), Agg("avg", Col("athletes", "weight"))]


def test_a_column_listed_beside_an_aggregate_groups_it(teams):
    plan = best(teams, "Show the positions and the average height.")
    assert plan.group_by == (Col("athletes", "position"),)
    assert [o.expr for o in plan.select] == [Col("athletes", "position"), Agg("avg", Col("athletes", "height"))]


def test_an_aggregate_alone_groups_nothing(teams):
    assert best(teams, "Show the average height of athletes.").group_by == ()


def test_a_superlative_within_each_group_is_the_groups_maximum(teams):
    plan = best(teams, "For each position, what is the highest weight?")
    assert plan.group_by == (Col("athletes", "position"),)
    assert Agg("max", Col("athletes", "weight")) in [o.expr for o in plan.select]
    assert plan.limit is None


def test_the_maximum_and_minimum_number_of_a_counted_column_across_all_rows():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Agg, Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("farms", column("farm_id", "INTEGER", pk=True), column("farm_name"),
                        column("cows", "INTEGER"), column("horses", "INTEGER")))))
    plan = reader.read("What are the maximum and minimum number of cows across all farms?")[0].plan
    assert [o.expr for o in plan.select] == [Agg("max", Col("farms", "cows")), Agg("min", Col("farms", "cows"))]
    assert not plan.group_by


def test_a_total_across_a_plural_is_over_all_of_them():
    """ "the total number of cows across farms": one total, not one per farm."""
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Agg, Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("farms", column("farm_id", "INTEGER", pk=True), column("farm_name"),
                        column("cows", "INTEGER"), column("horses", "INTEGER")))))
    plan = reader.read("What is the total number of cows across farms?")[0].plan
    assert [o.expr for o in plan.select] == [Agg("sum", Col("farms", "cows"))], plan.dumps()
    assert not plan.group_by


@pytest.fixture(scope="module")
def school() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema("sqlite", table(
        "pupils", column("pupil_id", "INTEGER", pk=True), column("pupil_name"), column("age", "INTEGER"),
        column("sex", values=("F", "M")), column("house", values=("Red", "Blue", "Green"))))))


@pytest.mark.parametrize("question, grouped", [
    ("What are the average ages of male and female pupils?", True),  # every value: each side by side
    ("How many pupils are male or female?", False),  # "or": one set of rows
    ("What is the average age of pupils in the Red and Blue houses?", False),  # some values: one set
])
def test_every_value_of_a_column_under_an_aggregate_is_a_group(school, question, grouped):
    from nl2sql.semantics.plan import Col

    readings = school.read(question, today=TODAY)
    assert readings, question
    plan = readings[0].plan
    assert (plan.group_by == (Col("pupils", "sex"),)) == grouped, plan


def test_how_many_in_total_is_a_count(teams):
    from nl2sql.semantics.plan import Agg

    plan = teams.read("How many athletes are there in total?", today=TODAY)[0].plan
    assert [o.expr for o in plan.select] == [Agg("count")] and plan.base == "athletes", plan


@pytest.mark.parametrize("question, func", [("What is the total number of followers of all users?", "sum"),
                                            ("What is the number of followers of each user?", None)])
def test_the_number_of_a_column_that_holds_a_count_is_that_column(question, func):
    from nl2sql.semantics.plan import Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "users", column("user_id", "INTEGER", pk=True), column("user_name"), column("followers", "INTEGER")))))
    exprs = [o.expr for o in reader.read(question, today=TODAY)[0].plan.select]
    if func is None:
        assert Col("users", "followers") in exprs, exprs
    else:
        assert Agg(func, Col("users", "followers")) in exprs, exprs


def test_each_of_two_columns_groups_by_both():
    """ "how many faculty for each rank and gender": one count per rank and gender."""
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "faculty", column("fac_id", "INTEGER", pk=True), column("lname"),
        column("rank", values=("Professor", "Instructor", "AsstProf")), column("sex", values=("M", "F"))))))
    plan = reader.read("How many faculty members do we have for each rank and gender?")[0].plan
    assert plan.group_by == (Col("faculty", "rank"), Col("faculty", "sex")), plan.dumps()
