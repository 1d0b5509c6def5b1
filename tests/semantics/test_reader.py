"""The question reader on schemas invented for these tests: every cue of analytics questions, read without a model.

The library questions run on a real SQLite copy and are checked by their rows; the others check the plan.
"""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from nl2sql.semantics import Reader, build_semantic_model, compile_plan
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    Arith,
    Bucket,
    Col,
    Compare,
    IsNull,
    Match,
    columns_of,
)
from tests.semantics.schemas import clinic, fleet, library, web_shop

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def library_reader() -> Reader:
    return Reader(build_semantic_model(library("sqlite")))


def answer(reader: Reader, engine, question: str) -> list[tuple]:
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    sql = compile_plan(readings[0].plan, reader.model)
    with engine.connect() as conn:
        out = conn.exec_driver_sql(sql).fetchall()
    return [tuple(float(v) if isinstance(v, decimal.Decimal) else v for v in row) for row in out]


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def conditions(plan) -> list:
    out = []

    def walk(c):
        if c is None:
            return
        if isinstance(c, AllOf):
            for i in c.items:
                walk(i)
        else:
            out.append(c)

    walk(plan.where)
    return out


LIBRARY = [
    # counting, with and without filters
    ("How many books are there?", [(6,)]),
    ("How many fantasy books are there?", [(2,)]),
    ("How many books are not fantasy?", [(4,)]),
    ("How many books are fantasy or poetry?", [(3,)]),
    ("How many members live in Lagos?", [(2,)]),
    # aggregates of a quantity
    ("What is the average price of books?", [(pytest.approx(23.833333),)]),
    ("What is the total number of pages of history books?", [(915,)]),
    ("What is the maximum late fee charged?", [(3.0,)]),
    # grouping
    ("How many books are there per genre?", {("fantasy", 2), ("history", 2), ("poetry", 1), ("science", 1)}),
    ("What is the total fee of loans for each city?", {("Lagos", 1.0), ("Lima", 2.5), ("Osaka", 3.0)}),
    # comparisons with numbers
    ("Which books have more than 400 pages?", {"The Glass Tower", "Stars and Atoms", "Empires Lost"}),
    ("How many books cost between 20 and 30 euros?", [(2,)]),
    ("Which books have fewer than one hundred pages?", {"Night Haiku"}),
    # top N and the one with the most
    ("What are the 2 longest books?", ["Empires Lost", "Stars and Atoms"]),
    ("Which member has borrowed the most books?", {"Ifeoma"}),
    # time
    ("How many loans were made in 2023?", [(6,)]),
    ("How many loans were made in February 2024?", [(1,)]),
    ("How many members joined in the last 2 years?", [(2,)]),
    ("How many loans per month in 2023?", 6),
    # negation over a relation, strings
    ("Which members have never borrowed a book?", {"Claire"}),
    ("Which books have a title containing 'night'?", {"Night Haiku"}),
    # the first and the latest
    ("When was the latest loan?", [("2024-02-14",)]),
]


@pytest.mark.parametrize("question,expected", LIBRARY, ids=[q for q, _ in LIBRARY])
def test_library_questions_are_answered_right(library_reader, library_sqlite, question, expected):
    got = answer(library_reader, library_sqlite, question)
    if isinstance(expected, int):
        assert len(got) == expected, got
    elif isinstance(expected, set):
        if all(isinstance(e, str) for e in expected):
            labels = {next(v for v in row if isinstance(v, str)) for row in got}
            assert labels == expected, got
        else:
            assert {tuple(r[:len(next(iter(expected)))]) for r in got} == expected or {
                tuple(v for v in r if not isinstance(v, int) or isinstance(next(iter(expected))[-1], int))
                for r in got} >= expected, got
    elif expected and isinstance(expected[0], str):
        assert [next(v for v in row if isinstance(v, str)) for row in got] == expected, got
    else:
        assert got == expected


def test_the_answer_says_how_it_was_read(library_reader):
    reading = library_reader.read("What is the average price of fantasy books?", today=TODAY)[0]
    assert reading.explanation == "average price of books, where genre is 'fantasy'"
    reading = library_reader.read("How many books are there per genre?", today=TODAY)[0]
    assert reading.explanation == "number of books by genre"


def test_synonyms_from_the_catalog_name_tables(library_reader):
    plan = best(library_reader, "How many checkouts were there in 2024?")
    assert plan.base == "loans"


def test_ratio_of_two_filtered_counts(library_reader, library_sqlite):
    got = answer(library_reader, library_sqlite, "What is the ratio of fantasy books to history books?")
    assert got == [(1.0,)]
    plan = best(library_reader, "What is the ratio of fantasy books to history books?")
    ratio = plan.select[0].expr
    assert isinstance(ratio, Arith) and ratio.op == "/"
    assert isinstance(ratio.left, Agg) and ratio.left.where == Compare(Col("books", "genre"), "=", ratio.left.where.right)


def test_share_of_all(library_reader, library_sqlite):
    got = answer(library_reader, library_sqlite, "What percentage of members are active?")
    assert got == [(80.0,)]


def test_ambiguous_phrases_give_several_readings():
    reader = Reader(build_semantic_model(clinic()))
    readings = reader.read("How many visits are there per full name?", today=TODAY)
    grouped = {g for r in readings for g in r.plan.group_by}
    assert {Col("doctors", "full_name"), Col("patients", "full_name")} <= grouped


def test_clinic_average_per_joined_dimension():
    reader = Reader(build_semantic_model(clinic()))
    plan = best(reader, "What is the average bill amount per specialty?")
    assert plan.base == "visits" and plan.group_by == (Col("doctors", "specialty"),)
    assert plan.select[-1].expr == Agg("avg", Col("visits", "bill_amount"))


def test_clinic_argmax_with_a_time_window_on_a_timestamp():
    reader = Reader(build_semantic_model(clinic()))
    plan = best(reader, "Which doctor had the most visits in 2024?")
    assert plan.limit == 1 and plan.order_by[0].desc
    assert Col("doctors", "full_name") in plan.group_by
    window = conditions(plan)
    assert Compare(Col("visits", "visit_date"), ">=", window[0].right) in window
    assert {c.right.value for c in window} == {"2024-01-01", "2025-01-01"}


def test_clinic_value_filter_and_null_check():
    reader = Reader(build_semantic_model(clinic()))
    plan = best(reader, "How many patients have no insurance?")
    assert plan.base == "patients"
    [found] = conditions(plan)
    assert found == IsNull(Col("patients", "insurance")) or (
        isinstance(found, Compare) and found.left == Col("patients", "insurance") and found.right.value == "none")


def test_fleet_sum_grouped_by_a_column_of_another_table():
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "What is the total distance driven by each truck model?")
    assert plan.group_by == (Col("trucks", "model"),)
    assert plan.select[-1].expr == Agg("sum", Col("trips", "distance_km"))
    sql = compile_plan(plan, reader.model)
    assert "`" not in sql or "JOIN" in sql  # MySQL dialect, joined through trips.truck_id
    assert "JOIN trucks ON trips.truck_id = trucks.truck_id" in sql


def test_fleet_value_and_date_comparison():
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "How many trips carried steel?")
    assert conditions(plan) == [Compare(Col("trips", "cargo"), "=", conditions(plan)[0].right)]
    assert conditions(plan)[0].right.value == "steel"
    plan = best(reader, "Which drivers were hired before 2020-01-01?")
    assert Compare(Col("drivers", "hired_on"), "<", conditions(plan)[0].right) == conditions(plan)[0]


def test_fleet_top_n_by_a_quantity():
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "Show the top 3 trucks by capacity")
    assert plan.limit == 3 and plan.order_by[0].expr == Col("trucks", "capacity_tons") and plan.order_by[0].desc


def test_web_shop_run_together_names_and_join_hints():
    reader = Reader(build_semantic_model(web_shop()))
    plan = best(reader, "How many orders per customer country?")
    assert plan.base == "shoporder" and plan.group_by == (Col("shopcustomer", "custcountry"),)
    sql = compile_plan(plan, reader.model)
    assert "JOIN shopcustomer ON shoporder.ordercustid = shopcustomer.custid" in sql
    plan = best(reader, "What is the total of paid orders?")
    assert conditions(plan) == [Compare(Col("shoporder", "orderstatus"), "=", conditions(plan)[0].right)]
    assert plan.select[0].expr == Agg("sum", Col("shoporder", "ordertotal"))


def test_web_shop_monthly_trend_and_ordering():
    reader = Reader(build_semantic_model(web_shop()))
    plan = best(reader, "What is the total order amount per month in 2025, sorted by month?")
    assert plan.group_by == (Bucket("month", Col("shoporder", "orderdate")),)
    assert plan.order_by and plan.order_by[0].expr == Bucket("month", Col("shoporder", "orderdate"))


def test_instructions_in_the_question_choose_the_text_match():
    reader = Reader(build_semantic_model(library()))
    exact = best(reader, "Which books were written by 'Ada Obi'? (Match names exactly)")
    loose = best(reader, "Which books were written by 'ada'? (Filter names with ILIKE)")
    assert [c for c in conditions(exact) if isinstance(c, Match)][0].mode == "equals"
    assert [c for c in conditions(loose) if isinstance(c, Match)][0].mode == "contains"


def test_nothing_to_read_gives_no_reading():
    reader = Reader(build_semantic_model(library()))
    assert reader.read("", today=TODAY) == []
    assert all(r.score < 0.6 for r in reader.read("What's the weather like?", today=TODAY))


def test_reading_never_names_a_column_that_does_not_exist():
    for schema in (library(), clinic(), fleet(), web_shop()):
        model = build_semantic_model(schema)
        reader = Reader(model)
        for question in ("How many are there per month?", "total per type", "Which one is the largest?",
                         "ratio of a to b", "show everything sorted by name"):
            for reading in reader.read(question, today=TODAY):
                for col in columns_of(reading.plan):
                    model.attribute(col.table, col.column)


def _padded_library(count: int):
    """The library among `count` unrelated tables that reuse its words ("title", "name", "<x>_title",
    "book_id") and join nothing of it: a large catalog, as the reader meets one."""
    from tests.semantics.schemas import column, prompt_schema, table

    base = library()
    nouns = ("audit", "claim", "grant", "invoice", "lease", "permit", "quote", "rebate", "shift", "voucher")
    extra = []
    for i in range(count):
        noun = f"{nouns[i % len(nouns)]}_{nouns[(i // len(nouns)) % len(nouns)]}_{i}"
        name = f"{noun}_title" if i % 3 == 0 else (f"{noun}_name" if i % 3 == 1 else noun)
        extra.append(table(name, column("id", "INTEGER", pk=True), column("title"), column("name"),
                           column("ref_code"), column("amount", "NUMERIC(8,2)"),
                           column("status", values=("open", "closed"))))
    # the same name in another schema, joined to nothing: the library's own authors are meant
    staging = table("authors", column("id", "INTEGER", pk=True), column("name"), column("country"), schema="staging")
    return prompt_schema("sqlite", staging, *base.tables, *extra, hints=base.join_hints)


def test_a_large_catalog_of_look_alike_tables_keeps_the_reading():
    reader = Reader(build_semantic_model(_padded_library(300)))
    for question, table, column in (
            ("What are the titles of all books ordered alphabetically?", "books", "title"),
            ("What are the names of the authors from Japan?", "authors", "name"),
            ("What is the title of the book with the most pages?", "books", "title")):
        plan = best(reader, question)
        assert plan.base == table or table in plan.via, (question, plan)
        assert Col(table, column) in [o.expr for o in plan.select], (question, plan)
        assert {c.table for c in columns_of(plan)} <= {"books", "authors", "loans", "members", "book_authors"}, plan
    plan = best(reader, "How many books has each author written?")
    assert {c.table for c in columns_of(plan)} <= {"books", "authors", "book_authors"}, plan
    assert best(reader, "How many authors are there?").base == "authors"  # not the unjoined staging.authors


def test_a_term_defined_in_the_question_is_read_as_its_definition():
    from nl2sql.semantics.reader import expand_definitions

    text, notes = expand_definitions("Which drivers have the highest ADT? (ADT (average distance per trip) = "
                                     "total distance / number of trips)")
    assert text == "Which drivers have the highest the ratio of total distance to number of trips?"
    assert notes == ['read ADT as "the ratio of total distance to number of trips"']
    assert expand_definitions("What is the TFL this year? (TFL = total liters within a given period)")[0] == \
        "What is the total liters this year?"
    formula = "What is the GPM? (GPM = (revenue - cost) / cost * 100)"
    assert expand_definitions(formula) == (formula, [])  # a formula is left to the model
    assert expand_definitions("Trips where cargo = steel")[0] == "Trips where cargo = steel"  # no term in capitals
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "What is the TFL of each truck? (TFL = total liters)")
    assert Agg("sum", Col("fuel_purchases", "liters")) in [o.expr for o in plan.select]
    assert 'read TFL as "total liters"' in reader.read("What is the TFL of each truck? (TFL = total liters)",
                                                        today=TODAY)[0].notes


def test_top_n_things_by_a_total_are_grouped_and_ranked():
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "Who are the top 3 drivers by total distance? Return their name and total distance.")
    assert Col("drivers", "name") in plan.group_by or Col("drivers", "driver_id") in plan.group_by
    assert plan.limit == 3 and plan.order_by[0].desc
    assert plan.order_by[0].expr == Agg("sum", Col("trips", "distance_km"))


def test_inclusive_of_today_counts_today_among_the_days():
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "How many trips were started in the past 7 days, inclusive of today?")
    bounds = [c for c in conditions(plan) if isinstance(c, Compare)]
    assert {(c.op, c.right.value) for c in bounds} == {(">=", "2024-03-09"), ("<", "2024-03-16")}


def test_how_to_write_the_sql_is_no_part_of_the_question():
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "Which are the top 5 trucks by total liters? (To get the liters per truck, join the "
                        "trucks and fuel_purchases tables and sum the liters. Always order results with NULLS last.)")
    assert plan.limit == 5 and plan.order_by[0].expr == Agg("sum", Col("fuel_purchases", "liters"))


def test_excluding_the_current_period_ends_the_window_where_it_starts():
    from nl2sql.semantics.timewords import find_windows
    from nl2sql.semantics.lexicon import tokenize

    [window] = find_windows(tokenize("fuel bought in the last 6 months excluding the current month"), TODAY)
    assert (window.start, window.end) == (dt.date(2023, 9, 1), dt.date(2024, 3, 1))
    [window] = find_windows(tokenize("trips in the previous ISO week not including the current week"), TODAY)
    assert (window.start, window.end) == (dt.date(2024, 3, 4), dt.date(2024, 3, 11))


@pytest.mark.parametrize("words, start, end", [
    ("trucks bought before June 21, 2002", None, dt.date(2002, 6, 21)),
    ("trucks bought after 21st June 2002", dt.date(2002, 6, 22), None),
    ("fuel bought on Oct 23, 2010", dt.date(2010, 10, 23), dt.date(2010, 10, 24)),
    ("fuel bought on the 3rd of May 2001", dt.date(2001, 5, 3), dt.date(2001, 5, 4)),
    ("fuel bought between June 1, 2002 and July 5, 2003", dt.date(2002, 6, 1), dt.date(2003, 7, 6)),
])
def test_a_date_spoken_with_its_months_name_is_one_day(words, start, end):
    from nl2sql.semantics.timewords import find_windows
    from nl2sql.semantics.lexicon import tokenize

    [window] = find_windows(tokenize(words), TODAY)
    assert (window.start, window.end) == (start, end)


def test_a_trend_is_grouped_once_per_grain_and_read_in_time_order():
    reader = Reader(build_semantic_model(fleet()))
    plan = best(reader, "What were the total quarterly liters in 2023 per truck? Show each quarter as its first day.")
    buckets = [e for e in plan.group_by if isinstance(e, Bucket)]
    assert buckets == [Bucket("quarter", Col("fuel_purchases", "purchased_on"))]
    assert plan.order_by and plan.order_by[0].expr == buckets[0] and not plan.order_by[0].desc
    daily = best(reader, "Show the daily total liters in the last 7 days")
    assert Col("fuel_purchases", "purchased_on") in daily.group_by  # a date is its own day


def test_a_yes_no_column_grouped_by_is_no_filter():
    """ "customers of each gender" with gender kept as 0/1: one count per gender, not the customers with gender 1."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "clients", column("client_id", "INTEGER", pk=True), column("client_name"),
        column("gender", values=("0", "1"))))))
    plan = reader.read("How many clients are there of each gender?", today=dt.date(2024, 3, 15))[0].plan
    assert plan.where is None, plan.dumps()
    assert plan.group_by == (Col("clients", "gender"),), plan.dumps()


@pytest.mark.parametrize("question", ["How many loans were made by members from Lyon?",
                                      "How many loans were there by a member from Lyon?"])
def test_by_after_a_participle_or_before_an_article_is_who_did_it(question, library_reader):
    """ "made by members", "by a member": who did it, not a grouping (one count, no GROUP BY)."""
    plan = best(library_reader, question)
    assert not plan.group_by, plan.dumps()
    assert "Lyon" in plan.dumps()


def test_columns_asked_of_a_table_make_it_the_focus(library_reader):
    """ "the full name and id of the member with the highest total fee": members ranked by their loans' fees, the
    member's columns shown (not the loans' sum)."""
    plan = best(library_reader, "What is the full name and id of the member who has the highest total fee?")
    assert Col("members", "id") in plan.group_by and plan.limit == 1, plan.dumps()
    assert {o.expr for o in plan.select} >= {Col("members", "first_name"), Col("members", "last_name")}, plan.dumps()


def test_a_reading_that_denies_nothing_the_question_denies_loses(library_reader):
    """ "How many members have not had any loan yet?": the members without loans counted, not the loans; a
    reading without the negation names "not" as left out."""
    from nl2sql.semantics.plan import Related

    readings = library_reader.read("How many members have not had any loan yet?", today=TODAY)
    assert isinstance(readings[0].plan.where, Related) and readings[0].plan.where.negate, readings[0].plan.dumps()
    assert all("not" in r.dropped for r in readings if r.plan.where is None)


def test_number_of_a_column_that_holds_the_count_is_the_column():
    """ "the name and number of followers for each user" with a followers column (and a table "follows"): each
    user's followers as kept, not a count of rows."""
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("profiles", column("uid", "INTEGER", pk=True), column("name"), column("followers", "INTEGER")),
        table("follows", column("f1", "INTEGER"), column("f2", "INTEGER"),
              fks=(("f1", "profiles", "uid"), ("f2", "profiles", "uid"))))))
    plan = reader.read("List the name and number of followers for each profile.", today=dt.date(2024, 3, 15))[0].plan
    assert not any(isinstance(o.expr, Agg) and o.expr.func.startswith("count") for o in plan.select), plan.dumps()
    assert "followers" in plan.dumps()


@pytest.mark.parametrize("question", ["What are the titles of books by the author 'Ada Obi'?",
                                      "How many books by the author 'Ada Obi' are there?"])
def test_by_a_named_row_is_who_did_it(question, library_reader):
    """ "books by the author 'Ada Obi'": that author's books, not a group per author."""
    plan = best(library_reader, question)
    assert not plan.group_by, plan.dumps()
    assert plan.where is not None, plan.dumps()


@pytest.mark.parametrize("question, grouped", [
    ("What is the average price of books for the different genres?", True),
    ("Find the average and highest price for books with different genre.", True),
    ("Find the number of different genres of books.", False),
])
def test_different_after_a_preposition_groups_an_aggregate(question, grouped, library_reader):
    """ "for the different genres", "with different genre" beside an average: one per genre; "the number of
    different genres" counts distinct ones."""
    plan = best(library_reader, question)
    assert (plan.group_by == (Col("books", "genre"),)) == grouped, plan.dumps()


def test_columns_asked_of_the_top_n_rows_make_them_the_focus(library_reader):
    """ "the ids and first names of the 3 members that have the most number of loans": the members, ranked by
    their count of loans (the number between "of the" and the table is how many)."""
    plan = best(library_reader, "Find the ids and first names of the 3 members that have the most number of loans?")
    assert Col("members", "id") in plan.group_by and plan.limit == 3, plan.dumps()
    assert {o.expr for o in plan.select} >= {Col("members", "id"), Col("members", "first_name")}, plan.dumps()


def test_each_closing_the_question_groups_by_the_table_named_first(library_reader):
    """ "the titles and ids of the different books, and how many loans are on each?": one count per book."""
    plan = best(library_reader, "What are the titles and ids of the different books, and how many loans are on each?")
    assert Col("books", "id") in plan.group_by or Col("loans", "book_id") in plan.group_by, plan.dumps()
    assert any(isinstance(o.expr, Agg) for o in plan.select), plan.dumps()
