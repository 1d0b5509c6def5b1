"""Every plan construct compiled for, and run on, SQLite, PostgreSQL and MariaDB with the expected rows."""

from __future__ import annotations

import decimal

import pytest
import sqlalchemy as sa

from nl2sql.semantics import CompileError, build_semantic_model, compile_plan, plan_from_json
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    AnyOf,
    Arith,
    Between,
    Bucket,
    Col,
    Compare,
    Elapsed,
    InList,
    IsNull,
    Lit,
    Match,
    Not,
    Order,
    Output,
    Part,
    QueryPlan,
    Related,
)
from tests.semantics.schemas import library

B = "books"


def c(table: str, column: str) -> Col:
    return Col(table, column)


def rows(dialect: str, engine: sa.Engine, plan: QueryPlan) -> list[tuple]:
    sql = compile_plan(plan, build_semantic_model(library(dialect)))
    with engine.connect() as conn:
        out = conn.execution_options(no_parameters=True).exec_driver_sql(sql).fetchall()
    return [tuple(_plain(v) for v in row) for row in out]


def _plain(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


CASES = {
    "count rows": (QueryPlan(B, (Output("n", Agg("count")),)), [(6,)]),
    "count distinct": (QueryPlan(B, (Output("n", Agg("count_distinct", c(B, "genre"))),)), [(4,)]),
    "sum avg min max": (
        QueryPlan(B, (Output("s", Agg("sum", c(B, "pages"))), Output("a", Agg("avg", c(B, "pages"))),
                      Output("lo", Agg("min", c(B, "pages"))), Output("hi", Agg("max", c(B, "pages"))))),
        [(2323, 2323 / 6, 96, 605)]),
    "group by column, ordered": (
        QueryPlan(B, (Output("genre", c(B, "genre")), Output("n", Agg("count"))), group_by=(c(B, "genre"),),
                  order_by=(Order(c(B, "genre")),)),
        [("fantasy", 2), ("history", 2), ("poetry", 1), ("science", 1)]),
    "equality and comparison": (
        QueryPlan(B, (Output("title", c(B, "title")),), where=AllOf((
            Compare(c(B, "genre"), "=", Lit("fantasy")), Compare(c(B, "pages"), ">", Lit(400)))),
            distinct=True),
        [("The Glass Tower",)]),
    "not equal, in, between": (
        QueryPlan(B, (Output("n", Agg("count")),), where=AllOf((
            Compare(c(B, "genre"), "<>", Lit("poetry")), InList(c(B, "genre"), (Lit("history"), Lit("science"))),
            Between(c(B, "price"), Lit(24), Lit(35))))),
        [(3,)]),
    "case-insensitive contains, starts, not": (
        QueryPlan(B, (Output("title", c(B, "title")),), where=AnyOf((
            Match(c(B, "title"), "NIGHT", "contains"), Match(c(B, "title"), "drag", "starts"))),
            order_by=(Order(c(B, "title")),)),
        [("Dragon Winter",), ("Night Haiku",)]),
    "literal with a percent sign is matched literally": (
        QueryPlan(B, (Output("n", Agg("count")),), where=Match(c(B, "title"), "50%", "contains")), [(0,)]),
    "equals ignoring case, negated": (
        QueryPlan(B, (Output("n", Agg("count")),), where=Not(Match(c(B, "genre"), "FANTASY", "equals"))), [(4,)]),
    "is null": (QueryPlan("loans", (Output("n", Agg("count")),), where=IsNull(c("loans", "returned_on"))), [(2,)]),
    "is not null": (
        QueryPlan("loans", (Output("n", Agg("count")),), where=IsNull(c("loans", "returned_on"), negate=True)), [(6,)]),
    "having": (
        QueryPlan(B, (Output("genre", c(B, "genre")), Output("n", Agg("count"))), group_by=(c(B, "genre"),),
                  having=Compare(Agg("count"), ">", Lit(1)), order_by=(Order(c(B, "genre")),)),
        [("fantasy", 2), ("history", 2)]),
    "top n": (
        QueryPlan(B, (Output("title", c(B, "title")), Output("pages", c(B, "pages"))),
                  order_by=(Order(c(B, "pages"), desc=True),), limit=2),
        [("Empires Lost", 605), ("Stars and Atoms", 512)]),
    "argmax over a join": (
        QueryPlan("loans", (Output("first_name", c("members", "first_name")), Output("n", Agg("count"))),
                  group_by=(c("members", "first_name"),), order_by=(Order(Agg("count"), desc=True),
                                                                    Order(c("members", "first_name"))), limit=1),
        [("Ifeoma", 3)]),
    "join through a bridge table": (
        QueryPlan("authors", (Output("name", c("authors", "name")), Output("n", Agg("count_distinct", c(B, "id")))),
                  where=Compare(c(B, "genre"), "=", Lit("fantasy")), group_by=(c("authors", "name"),)),
        [("Ada Obi", 2)]),
    "distinct": (
        QueryPlan("loans", (Output("city", c("members", "city")),), distinct=True,
                  order_by=(Order(c("members", "city")),)),
        [("Lagos",), ("Lima",), ("Osaka",)]),
    "ratio of two filtered aggregates": (
        QueryPlan(B, (Output("r", Arith("/", Agg("count", None, Compare(c(B, "genre"), "=", Lit("fantasy"))),
                                         Agg("count", None, Compare(c(B, "genre"), "=", Lit("poetry"))))),)),
        [(2,)]),
    "share of all": (
        QueryPlan(B, (Output("r", Arith("*", Lit(100), Arith("/", Agg("count", None, Compare(c(B, "pages"), ">", Lit(400))),
                                                               Agg("count")))),)),
        [(50,)]),
    "division by zero is null": (
        QueryPlan(B, (Output("r", Arith("/", Agg("sum", c(B, "pages")),
                                         Agg("count", None, Compare(c(B, "genre"), "=", Lit("none"))))),)),
        [(None,)]),
    "per row arithmetic": (
        QueryPlan(B, (Output("title", c(B, "title")), Output("ppe", Arith("/", c(B, "pages"), c(B, "price")))),
                  where=Compare(c(B, "id"), "=", Lit(4))),
        [("Stars and Atoms", 512 / 35)]),
    "time window on a date": (
        QueryPlan("loans", (Output("n", Agg("count")),), where=AllOf((
            Compare(c("loans", "loaned_on"), ">=", Lit("2023-01-01")), Compare(c("loans", "loaned_on"), "<", Lit("2024-01-01"))))),
        [(6,)]),
    "bucket by month": (
        QueryPlan("loans", (Output("month", Bucket("month", c("loans", "loaned_on"))), Output("n", Agg("count"))),
                  where=Compare(c("loans", "loaned_on"), "<", Lit("2023-05-01")),
                  group_by=(Bucket("month", c("loans", "loaned_on")),),
                  order_by=(Order(Bucket("month", c("loans", "loaned_on"))),)),
        [("2023-01-01", 1), ("2023-02-01", 1), ("2023-04-01", 1)]),
    "bucket by year": (
        QueryPlan("loans", (Output("year", Bucket("year", c("loans", "loaned_on"))), Output("n", Agg("count"))),
                  group_by=(Bucket("year", c("loans", "loaned_on")),), order_by=(Order(Bucket("year", c("loans", "loaned_on"))),)),
        [(2023, 6), (2024, 2)]),
    "bucket by quarter": (
        QueryPlan("loans", (Output("q", Bucket("quarter", c("loans", "loaned_on"))), Output("n", Agg("count"))),
                  where=Compare(c("loans", "loaned_on"), "<", Lit("2024-01-01")),
                  group_by=(Bucket("quarter", c("loans", "loaned_on")),),
                  order_by=(Order(Bucket("quarter", c("loans", "loaned_on"))),)),
        [("2023-01-01", 2), ("2023-04-01", 2), ("2023-07-01", 1), ("2023-10-01", 1)]),
    "weekday part": (
        QueryPlan("loans", (Output("n", Agg("count")),),
                  where=InList(Part("dow", c("loans", "loaned_on")), (Lit(0), Lit(6)))),
        [(2,)]),  # 2023-04-01 and 2023-11-11 are Saturdays
    "elapsed days": (
        QueryPlan("loans", (Output("d", Elapsed("day", c("loans", "loaned_on"), c("loans", "returned_on"))),),
                  where=Compare(c("loans", "id"), "=", Lit(2))),
        [(33,)]),
    "related rows absent": (
        QueryPlan("members", (Output("first_name", c("members", "first_name")),),
                  where=Related("loans", None, negate=True)),
        [("Claire",)]),
    "related rows matching": (
        QueryPlan("members", (Output("first_name", c("members", "first_name")),),
                  where=Related("loans", Compare(c("loans", "fee"), ">", Lit(2))), order_by=(Order(c("members", "first_name")),)),
        [("Pedro",), ("Yuki",)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_plan_constructs_run_on_every_database(case, library_db):
    dialect, engine = library_db
    plan, expected = CASES[case]
    got = rows(dialect, engine, plan)
    assert len(got) == len(expected), got
    for row, want in zip(got, expected):
        for value, wanted in zip(row, want):
            if isinstance(wanted, float):
                assert value == pytest.approx(wanted, rel=1e-6)
            else:
                assert value == wanted, (row, want)


def test_a_plan_survives_json_and_compiles_the_same():
    model = build_semantic_model(library("postgres"))
    for plan, _ in CASES.values():
        again = plan_from_json(plan.dumps())
        assert again == plan
        assert compile_plan(again, model) == compile_plan(plan, model)


def test_joins_follow_the_shortest_path_through_the_bridge():
    model = build_semantic_model(library("postgres"))
    plan = QueryPlan("authors", (Output("title", c(B, "title")),))
    sql = compile_plan(plan, model)
    assert "JOIN book_authors ON authors.id = book_authors.author_id" in sql
    assert "JOIN books ON book_authors.book_id = books.id" in sql


def test_unknown_columns_and_unconnected_tables_are_refused():
    model = build_semantic_model(library())
    with pytest.raises(CompileError, match="unknown column"):
        compile_plan(QueryPlan(B, (Output("x", c(B, "nope")),)), model)
    with pytest.raises(CompileError, match="unknown table"):
        compile_plan(QueryPlan("nowhere", (Output("x", Agg("count")),)), model)


def test_names_that_need_quotes_are_quoted_per_dialect():
    from tests.semantics.schemas import column, prompt_schema, table

    schema = prompt_schema("postgres", table("Order", column("id", "INTEGER", pk=True), column("Total Amount", "NUMERIC")))
    sql = compile_plan(QueryPlan("Order", (Output("t", Agg("sum", Col("Order", "Total Amount"))),)),
                       build_semantic_model(schema))
    assert 'SUM("Order"."Total Amount")' in sql and 'FROM "Order"' in sql
    schema = prompt_schema("mysql", table("Order", column("id", "INTEGER", pk=True), column("Total Amount", "NUMERIC")))
    sql = compile_plan(QueryPlan("Order", (Output("t", Agg("sum", Col("Order", "Total Amount"))),)),
                       build_semantic_model(schema))
    assert "SUM(`Order`.`Total Amount`)" in sql
