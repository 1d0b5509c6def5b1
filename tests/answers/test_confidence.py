"""The reading-confidence model (answers/confidence.py) on an invented schema with an admin's metric: what the
metric's definition brings to a reading (its expression, its filter, the tables they join) is not counted as the
reading's own guesses, and a reading that reports no metric is scored as before."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from nl2sql.answers.candidates import Candidate
from nl2sql.answers.confidence import as_defined
from nl2sql.answers.verdict import Question, reading_confidence, reading_features
from nl2sql.catalog import Metric
from nl2sql.semantics import Reader, build_semantic_model, compile_plan, metric_parts, question_coverage
from tests.semantics.schemas import library

TODAY = dt.date(2026, 1, 15)


def reader_with(*metrics: Metric) -> Reader:
    return Reader(build_semantic_model(dataclasses.replace(library(), metrics=metrics)))


def scored(reader: Reader, text: str, *, defined: bool) -> tuple[dict[str, float], float, Candidate]:
    """The features and confidence of the best reading, with or without the connection's metric definitions."""
    reading = reader.read(text, today=TODAY)[0]
    candidate = Candidate("reader", compile_plan(reading.plan, reader.model), reading.plan.to_json(),
                          reading.explanation, reading.score)
    candidate.rows, candidate.fit, candidate.score = 3, 0.56, reading.score  # fit as sql_fit gives an unsaid value
    coverage = question_coverage(reader, text, today=TODAY)
    asked = Question(text, "library", coverage.content, coverage.unread, None,
                     metrics=metric_parts(reader.model.metrics) if defined else ())
    return (reading_features(asked, [candidate], candidate), reading_confidence(asked, [candidate], candidate),
            candidate)


POETRY_FEES = Metric(0, 1, "metric", "poetry fees", "sum(loans.fee)", ("books.genre = 'poetry'",), "loans.loaned_on", ())
VERSE_INCOME = Metric(0, 1, "metric", "verse income", "sum(loans.fee)", ("books.genre = 'poetry'",), "loans.loaned_on",
                      ())


def test_a_metrics_own_joins_and_aggregate_are_not_the_readings_guesses():
    reader = reader_with(POETRY_FEES)
    before, doubted, candidate = scored(reader, "poetry fees by member city", defined=False)
    after, trusted, _ = scored(reader, "poetry fees by member city", defined=True)
    assert "books" in candidate.sql and "SUM(loans.fee)" in candidate.sql  # the metric joins books for its filter
    assert before["tables"] == 3 and after["tables"] == 2  # loans (the metric's) and members (named by "member")
    assert before["aggregate_unasked"] == 1 and after["aggregate_unasked"] == 0  # the metric's name asks for it
    assert trusted > doubted + 0.2


def test_values_of_a_metrics_filter_the_question_never_says_are_not_foreign():
    reader = reader_with(VERSE_INCOME)
    before, doubted, candidate = scored(reader, "verse income per member city", defined=False)
    after, trusted, _ = scored(reader, "verse income per member city", defined=True)
    assert "'poetry'" in candidate.sql
    assert before["literals_foreign"] == 1 and after["literals_foreign"] == 0
    # sql_fit's penalty for a value the question never names is lifted for the metric's own
    assert after["fit"] > before["fit"]
    assert trusted > doubted


@pytest.mark.parametrize("text", ["how many books per genre", "average price of books by genre",
                                  "members who never borrowed a book"])
def test_a_reading_without_a_metric_scores_as_it_did(text):
    reader = reader_with(POETRY_FEES)
    before, doubted, _ = scored(reader, text, defined=False)
    after, trusted, _ = scored(reader, text, defined=True)
    assert before == after and doubted == trusted


def test_an_ordering_by_the_metric_is_the_metric_too():
    plan = {"select": [{"kind": "Output", "name": "fees", "expr": {"kind": "Agg", "func": "sum", "arg": {
        "kind": "Col", "table": "loans", "column": "fee"}}}],
        "order_by": [{"kind": "Order", "expr": {"kind": "Agg", "func": "sum", "arg": {
            "kind": "Col", "table": "loans", "column": "fee"}}, "descending": True}],
        "where": {"kind": "AllOf", "items": [{"kind": "IsNull", "arg": {"kind": "Col", "table": "loans",
                                                                          "column": "returned_on"}},
                                             {"kind": "Compare", "op": "=", "left": {"kind": "Col", "table": "books",
                                                                                      "column": "genre"},
                                              "right": {"kind": "Lit", "value": "poetry"}}]}}
    defined = ({"output": "fees", "table": "loans", "expr": plan["select"][0]["expr"],
                "where": plan["where"]["items"][1]},)
    seen = as_defined(plan, defined)
    metric = {"kind": "Agg", "func": "metric", "where": None, "arg": {"kind": "Col", "table": "loans", "column": "fees"}}
    assert seen["select"][0]["expr"] == metric and seen["order_by"][0]["expr"] == metric
    assert seen["where"] == plan["where"]["items"][0]  # the metric's filter is its own; the question's stays
    assert as_defined(plan, ()) == plan
