"""Knowing when not to answer (answers/verdict.py) on an invented schema: out-of-scope questions and write requests
are refused, a missing column or a dropped condition is asked back with the words named and ways forward, words
that ask for nothing don't stop an answer, and every answer says how much of the question it covers."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.answers.candidates import Candidate
from nl2sql.answers.verdict import ANSWERED, CLARIFY, REFUSED, Question, decide, verdict_from_json
from nl2sql.semantics import Reader, build_semantic_model, compile_plan, nearest_columns, question_coverage
from tests.semantics.schemas import library

TODAY = dt.date(2026, 1, 15)


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(build_semantic_model(library()))


def verdict_of(reader: Reader, text: str, *, threshold: float = 0.0, admin: bool = False, model_note: str | None = None):
    """The verdict as the service reaches it, each reading compiled and taken to have run with rows."""
    candidates = []
    for reading in reader.read(text, today=TODAY):
        candidate = Candidate("reader", compile_plan(reading.plan, reader.model), reading.plan.to_json(),
                              reading.explanation, reading.score,
                              left_out=tuple(dict.fromkeys((*reading.unread, *reading.dropped))))
        candidate.rows, candidate.fit, candidate.score = 3, 0.8, reading.score
        candidates.append(candidate)
    best = max(candidates, key=lambda c: c.score) if candidates else None
    coverage = question_coverage(reader, text, today=TODAY)
    nearest = {w: [(t, c) for t, c, _ in nearest_columns(reader.model, w)] for w in coverage.unread}
    asked = Question(text, "library", coverage.content, coverage.unread, coverage.write_verb, nearest, model_note, admin)
    return decide(asked, candidates, best, threshold=threshold)


@pytest.mark.parametrize("text", [
    "what's the weather tomorrow?", "Who won the 1998 World Cup?", "asdkj qwe zzx", "tell me a joke",
    "what is the capital of Peru's neighbour Bolivia", "hello there",
])
def test_questions_about_nothing_in_the_catalog_are_refused_in_one_sentence(reader, text):
    verdict = verdict_of(reader, text)
    assert verdict.status == REFUSED, verdict
    assert verdict.message.endswith(".") and "library" in verdict.message


@pytest.mark.parametrize("text", ["delete all members", "please drop the books table",
                                  "Update the price of every book to 10", "remove the loans of Lyon members"])
def test_requests_to_change_data_are_refused(reader, text):
    verdict = verdict_of(reader, text)
    assert verdict.status == REFUSED and "only reads data" in verdict.message


def test_a_column_that_does_not_exist_is_named_and_asked_back(reader):
    verdict = verdict_of(reader, "average fee of loans by religion")
    assert verdict.status == CLARIFY
    assert "religion" in verdict.not_understood and "'religion'" in verdict.message
    assert verdict.label.startswith("partly")


def test_a_misspelled_column_offers_the_catalogs_name_as_one_click(reader):
    verdict = verdict_of(reader, "average pirce of books")
    assert verdict.status == CLARIFY
    asks = [o for o in verdict.options if o.kind == "ask"]
    assert asks and "price" in asks[0].question and asks[0].label == "'pirce' as books.price"


def test_an_admin_is_offered_to_define_the_unknown_word_and_anyone_to_try_the_model(reader):
    verdict = verdict_of(reader, "total revenue of books", admin=True, model_note="a minute or more")
    kinds = [o.kind for o in verdict.options]
    assert "define" in kinds and "model" in kinds
    assert next(o for o in verdict.options if o.kind == "define").term == "revenue"
    assert verdict_of(reader, "total revenue of books").options == () or all(
        o.kind not in ("define", "model") for o in verdict_of(reader, "total revenue of books").options)


def test_a_reading_that_drops_a_condition_is_asked_back_with_the_reading_as_an_option(reader):
    verdict = verdict_of(reader, "members whose city is the country of an author")
    assert verdict.status == CLARIFY and verdict.understood
    reading = [o for o in verdict.options if o.kind == "reading"]
    assert reading and reading[0].label.startswith("Answer as read: ") and reading[0].index is not None


@pytest.mark.parametrize("text", ["how many books are there?", "Please show me the titles of all the books",
                                  "number of loans per member city"])
def test_words_that_ask_for_nothing_dont_stop_an_answer_and_the_label_says_all(reader, text):
    verdict = verdict_of(reader, text)
    assert verdict.status == ANSWERED, verdict
    assert verdict.coverage == "all" and verdict.label == "read from the question: all of it"


def test_a_grouping_by_an_unknown_word_is_never_answered_whatever_the_confidence(reader):
    verdict = verdict_of(reader, "number of loans by planet", threshold=0.0)
    assert verdict.status == CLARIFY and "planet" in verdict.not_understood


def test_the_confidence_threshold_decides_between_answering_and_asking_back(reader):
    assert verdict_of(reader, "how many books are there?", threshold=0.0).status == ANSWERED
    assert verdict_of(reader, "how many books are there?", threshold=1.01).status == CLARIFY


def test_a_verdict_survives_its_json(reader):
    verdict = verdict_of(reader, "average pirce of books", admin=True)
    assert verdict_from_json(verdict.to_json()) == verdict


def test_a_doubted_reading_is_asked_back_with_that_reading_one_click_away(reader):
    verdict = verdict_of(reader, "average price of books by genre", threshold=1.01, model_note="a minute")
    assert verdict.status == CLARIFY and verdict.not_understood == ()
    first = verdict.options[0]
    assert first.kind == "reading" and first.index is not None and verdict.understood in first.label
