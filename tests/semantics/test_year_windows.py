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
])
def test_an_open_year_window_compares_the_year_column(festivals, question, op, year):
    reading = festivals.read(question, today=TODAY)[0]
    assert reading.plan.where == Compare(Col("festivals", "year"), op, Lit(year)), reading.explanation
    assert not reading.dropped and not reading.unread
