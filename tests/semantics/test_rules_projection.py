"""Which columns a list shows and whether it lists each row once (semantics/rules/projection.py), on invented
schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Col
from tests.semantics.schemas import library, sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def books() -> Reader:
    return Reader(build_semantic_model(library("sqlite")))


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def shown(plan) -> list:
    return [o.expr for o in plan.select]


def test_the_columns_asked_for_are_the_columns_shown(books):
    plan = best(books, "What are the titles and prices of the books?")
    assert shown(plan) == [Col("books", "title"), Col("books", "price")]
    assert not plan.distinct


def test_a_generic_word_like_name_is_asked_for_when_it_names_a_column_of_the_listed_table(teams):
    plan = best(teams, "What are the names and nationalities of the athletes?")
    assert set(shown(plan)) == {Col("athletes", "name"), Col("athletes", "nationality")}


def test_a_list_of_things_shows_their_name_without_their_key(books):
    plan = best(books, "List all the authors.")
    assert shown(plan) == [Col("authors", "name")]


def test_a_list_of_things_without_a_name_shows_their_key(teams):
    plan = best(teams, "List all games.")
    assert shown(plan) == [Col("games", "game_id")]


def test_rows_of_one_table_are_not_made_distinct_unless_asked(teams):
    assert not best(teams, "What are the heights of the athletes?").distinct
    assert best(teams, "What are the different nationalities of the athletes?").distinct


def test_a_category_asked_for_without_its_table_is_the_set_of_its_values(teams):
    plan = best(teams, "Show all nationalities.")
    assert shown(plan) == [Col("athletes", "nationality")]
    assert plan.distinct


def test_a_top_group_shows_the_group_not_the_count_that_ranks_it(teams):
    plan = best(teams, "Which team has the most athletes?")
    assert [o.expr for o in plan.select] == [Col("teams", "team_name")]
    assert plan.limit == 1 and plan.order_by


def test_a_second_question_asks_for_the_ranking_measure_too(teams):
    plan = best(teams, "Which team has the most athletes, and how many athletes does it have?")
    assert len(plan.select) == 2


def test_a_grouping_by_an_entity_shows_its_name_and_its_key_only_when_asked(teams):
    by_name = best(teams, "How many athletes does each team have?")
    assert Col("teams", "team_id") not in [o.expr for o in by_name.select]
    assert Col("teams", "team_id") in by_name.group_by
    with_id = best(teams, "Show the team id, name and the number of athletes for each team.")
    assert Col("teams", "team_id") in [o.expr for o in with_id.select]


def test_an_ordering_key_is_not_shown_unless_asked(teams):
    plan = best(teams, "List the names of athletes ordered by height.")
    assert [o.expr for o in plan.select] == [Col("athletes", "name")]
    assert plan.order_by[0].expr == Col("athletes", "height")
