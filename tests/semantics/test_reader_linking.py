"""How the reader links words to tables on invented schemas: plural table names, tables named inside other
tables' names, and joins that do or don't repeat rows."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.lexicon import Segmenter
from nl2sql.semantics.plan import Col
from tests.semantics.schemas import sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def test_a_plural_ending_is_no_word_of_its_own():
    assert Segmenter({"athlete"}).split("athletes") == ["athletes"]


def test_a_plural_table_name_beside_its_singular_key_is_named_whole(teams):
    assert best(teams, "How many athletes are there?").base == "athletes"


def test_a_table_named_inside_another_tables_name_gives_way(teams):
    plan = best(teams, "How many team sponsors are there?")
    assert plan.base == "team_sponsors"
    assert set(plan.via) <= {"team_sponsors"}


def test_a_join_to_one_row_each_lists_rows_as_they_are(teams):
    plan = best(teams, "List the athletes of teams based in Oslo.")
    assert [o.expr for o in plan.select] == [Col("athletes", "name")]
    assert not plan.distinct


def test_rows_kept_by_a_count_are_grouped_by_their_key(teams):
    plan = best(teams, "Which teams have more than 3 athletes?")
    assert Col("teams", "team_id") in plan.group_by
    assert [o.expr for o in plan.select] == [Col("teams", "team_name")]


def test_values_kept_by_a_count_are_grouped_by_the_value_alone(teams):
    plan = best(teams, "Which positions have more than 2 athletes?")
    assert plan.group_by == (Col("athletes", "position"),)
