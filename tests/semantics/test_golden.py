"""Golden-query adaptation: a verified query reused with the new question's literals, or refused."""

from __future__ import annotations

import sqlglot

from nl2sql.semantics import adapt_golden, build_semantic_model
from tests.semantics.schemas import library

MODEL = build_semantic_model(library("postgres"))


def test_values_are_substituted_in_the_syntax_tree():
    adapted = adapt_golden(
        "How many fantasy books were published in 2021?",
        "How many poetry books were published in 2019?",
        "SELECT COUNT(*) FROM books WHERE genre = 'poetry' AND EXTRACT(YEAR FROM published_on) = 2019",
        MODEL,
    )
    assert adapted is not None
    assert dict(adapted.replaced) == {"poetry": "fantasy", "2019": "2021"}
    tree = sqlglot.parse_one(adapted.sql, read="postgres")
    literals = {l.this for l in tree.find_all(sqlglot.exp.Literal)}
    assert {"fantasy", "2021"} <= literals and "poetry" not in literals


def test_year_ranges_written_as_dates_move_with_the_year():
    adapted = adapt_golden(
        "How many loans were made in 2024?", "How many loans were made in 2023?",
        "SELECT COUNT(*) FROM loans WHERE loaned_on >= '2023-01-01' AND loaned_on < '2024-01-01'", MODEL)
    assert adapted is not None
    assert "'2024-01-01'" in adapted.sql and "'2025-01-01'" in adapted.sql and "2023" not in adapted.sql


def test_a_literal_only_in_quotes_is_adapted_too():
    adapted = adapt_golden("Which books are titled 'Night Haiku'?", "Which books are titled 'Dragon Winter'?",
                           "SELECT id FROM books WHERE title = 'Dragon Winter'", MODEL)
    assert adapted is not None and "'Night Haiku'" in adapted.sql


def test_a_different_structure_is_refused():
    # another aggregate: the words differ beyond the literals
    assert adapt_golden("What is the average price of fantasy books?", "How many poetry books are there?",
                        "SELECT COUNT(*) FROM books WHERE genre = 'poetry'", MODEL) is None
    # another number of literals
    assert adapt_golden("How many fantasy books from 2021 are there?", "How many poetry books are there?",
                        "SELECT COUNT(*) FROM books WHERE genre = 'poetry'", MODEL) is None


def test_a_literal_the_sql_does_not_hold_is_refused():
    assert adapt_golden("How many fantasy books are there?", "How many poetry books are there?",
                        "SELECT COUNT(*) FROM books WHERE genre = 'verse'", MODEL) is None


def test_the_same_question_is_no_adaptation():
    assert adapt_golden("How many poetry books are there?", "How many poetry books are there?",
                        "SELECT COUNT(*) FROM books WHERE genre = 'poetry'", MODEL) is None
