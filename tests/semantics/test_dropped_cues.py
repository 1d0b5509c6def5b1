"""A reading that leaves out a number, a literal, a superlative or a negation names it as dropped (so the answer
asks back instead of answering a different question), and one that uses them doesn't."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.lexicon import tokenize
from nl2sql.semantics.reader import _left_out
from tests.semantics.schemas import sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def test_cues_left_unused_are_dropped(teams):
    parse = teams._parse(tokenize("Which teams do not have the most athletes over 30?"), TODAY)
    _, dropped = _left_out(parse, set(), cues=True)
    assert {"not", "most", "30"} <= set(dropped)
    _, plain = _left_out(parse, set())  # the catalog's own coverage doesn't judge cues
    assert "30" not in plain and "not" not in plain


@pytest.mark.parametrize("question", [
    "Which teams are not from Oslo?",
    "Which athletes weigh more than 80?",
    "What is the name of the tallest athlete?",
    "Which teams do not have sponsors?",
])
def test_readings_that_use_their_cues_drop_none(teams, question):
    reading = teams.read(question, today=TODAY)[0]
    assert not reading.dropped, (question, reading.dropped, reading.explanation)
