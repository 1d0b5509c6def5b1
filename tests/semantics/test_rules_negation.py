"""Negation across tables (semantics/rules/negation.py), on invented schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import AllOf, Related
from nl2sql.semantics.rules.negation import denies
from tests.semantics.schemas import library, sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


@pytest.fixture(scope="module")
def books() -> Reader:
    return Reader(build_semantic_model(library("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def test_a_negation_shortly_before_a_table_denies_it():
    words = "teams that do not have sponsors".split()
    assert denies(words, 5, named=set(), stop_words={"have", "do"})
    assert not denies(words, 5, named={4}, stop_words=set())  # something named between: not this table
    assert not denies("teams that have sponsors".split(), 3, named=set(), stop_words=set())


def test_rows_without_related_rows(teams):
    plan = best(teams, "Which teams do not have sponsors?")
    assert plan.base == "teams"
    assert isinstance(plan.where, Related) and plan.where.negate


def test_never_with_a_verb(books):
    plan = best(books, "List the members who never had loans.")
    assert plan.base == "members"
    assert isinstance(plan.where, Related) and plan.where.negate


def test_a_negation_before_the_values_column_denies_the_value():
    from nl2sql.semantics.plan import Compare
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "climbers", column("climber_id", "INTEGER", pk=True), column("climber_name"),
        column("country", values=("Switzerland", "Italy", "France"))))))
    plan = reader.read("Which climbers are not from the country of Switzerland?", today=TODAY)[0].plan
    assert isinstance(plan.where, Compare) and plan.where.op == "<>", plan.where


def test_a_value_denied_through_a_relation_is_no_related_row_with_it():
    from nl2sql.semantics.plan import Col, Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("customers", column("customer_id", "INTEGER", pk=True), column("customer_name")),
        table("orders", column("order_id", "INTEGER", pk=True), column("customer_id", "INTEGER"),
              column("product", values=("Latte", "Mocha", "Tea")), fks=(("customer_id", "customers", "customer_id"),)))))
    plan = reader.read("What are the names of customers who never ordered the product Latte?", today=TODAY)[0].plan
    assert plan.where == Related("orders", Compare(Col("orders", "product"), "=", Lit("Latte")), negate=True), plan
    assert "orders" not in plan.via


def test_a_value_denied_past_a_table_keyed_by_several_columns_is_no_related_row_with_it():
    """Laps are keyed by race, rider and lap: following the rider's column into them leads to many laps per rider
    (one column of a key of several is no row's key), so "not in the Dutch race" denies any lap there."""
    from nl2sql.semantics.plan import Col, Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("riders", column("rider_id", "INTEGER", pk=True), column("rider_name")),
        table("races", column("race_id", "INTEGER", pk=True), column("race_title", values=("Dutch TT", "Spa Classic"))),
        table("laps", column("race_id", "INTEGER", pk=True), column("rider_id", "INTEGER", pk=True),
              column("lap", "INTEGER", pk=True), column("seconds", "REAL"),
              fks=(("race_id", "races", "race_id"), ("rider_id", "riders", "rider_id"))))))
    plan = reader.read("Which riders rode the Spa Classic but not the Dutch TT?", today=TODAY)[0].plan
    items = list(plan.where.items) if isinstance(plan.where, AllOf) else [plan.where]
    denied = [c for c in items if isinstance(c, Related) and c.negate]
    assert denied == [Related("races", Compare(Col("races", "race_title"), "=", Lit("Dutch TT")), negate=True)], plan
    assert Compare(Col("races", "race_title"), "=", Lit("Spa Classic")) in items


def test_except_a_quoted_name_a_few_words_back_is_negated():
    """ "the total fee of all members except the member with name 'Brown'": the quoted name is excluded."""
    from nl2sql.semantics.plan import Col, Match
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "members", column("member_id", "INTEGER", pk=True), column("name"), column("fee", "REAL")))))
    plan = reader.read("Find the total fee of all members except the member with name 'Brown'.", today=TODAY)[0].plan
    assert plan.where == Match(Col("members", "name"), "Brown", "equals", True), plan.dumps()
