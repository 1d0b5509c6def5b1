"""Open year windows on a column that holds a year ("after 1989", "before the year 2000", "after year 1998")."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Col, Compare, Lit
from tests.semantics.schemas import column, prompt_schema, table

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def festivals() -> Reader:
    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("festivals", column("festival_id", "INTEGER", pk=True), column("festival_name"),
              column("year", "INTEGER"), column("visitors", "INTEGER")),
    )))


@pytest.mark.parametrize("question, op, year", [
    ("Which festivals were held after 1989?", ">=", 1990),
    ("List the festivals held after year 1998.", ">=", 1999),
    ("What are the names of festivals before the year 2000?", "<", 2000),
    ("Show the festivals since 2010.", ">=", 2010),
    ("Which festivals were held before year 1850?", "<", 1850),  # an old year after "before year"
    ("Which festivals were held after the year 1799?", ">=", 1800),
])
def test_an_open_year_window_compares_the_year_column(festivals, question, op, year):
    reading = festivals.read(question, today=TODAY)[0]
    assert reading.plan.where == Compare(Col("festivals", "year"), op, Lit(year)), reading.explanation
    assert not reading.dropped and not reading.unread


@pytest.fixture(scope="module")
def colleges() -> Reader:
    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("colleges", column("college_id", "INTEGER", pk=True), column("college_name"),
              column("established", "INTEGER"), column("students", "INTEGER")),
    )))


@pytest.mark.parametrize("question, op, year", [
    ("What is the average number of students of colleges established before 1850?", "<", 1850),
    ("List the colleges established after 1799.", ">=", 1800),
])
def test_the_year_something_was_founded_takes_a_window_of_an_earlier_century(colleges, question, op, year):
    reading = colleges.read(question, today=TODAY)[0]
    assert Compare(Col("colleges", "established"), op, Lit(year)) == reading.plan.where, reading.explanation


def test_an_earlier_centurys_number_without_a_time_word_is_a_number(colleges):
    reading = colleges.read("Which colleges have more than 1850 students?", today=TODAY)[0]
    assert reading.plan.where == Compare(Col("colleges", "students"), ">", Lit(1850)), reading.explanation


def test_a_time_superlative_orders_by_the_time_column_the_question_names():
    """The patients have no time of their own: "the most recent start" is the visits' start, which the question
    names."""
    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("patients", column("patient_id", "INTEGER", pk=True), column("patient_name")),
        table("visits", column("visit_id", "INTEGER", pk=True), column("patient_id", "INTEGER"),
              column("start_time", "TIMESTAMP"), fks=(("patient_id", "patients", "patient_id"),)))))
    plan = reader.read("Find the name of the patient who made the visit with the most recent start time.",
                       today=TODAY)[0].plan
    assert plan.order_by and plan.order_by[0].expr == Col("visits", "start_time") and plan.order_by[0].desc
    assert plan.limit == 1


@pytest.mark.parametrize("question", [
    "List the year in which there are more than one festivals.",
    "Which years have more than 2 festivals?",
])
def test_a_small_number_counts_rows_per_year_it_is_no_year(question):
    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("festival_detail", column("Festival_ID", "INTEGER", pk=True), column("Festival_Name"),
                        column("Location"), column("Year", "INTEGER"), column("Num_of_Audience", "INTEGER")))))
    plan = reader.read(question, today=TODAY)[0].plan
    assert plan.where is None and plan.having is not None, plan
    assert plan.group_by == (Col("festival_detail", "Year"),)
