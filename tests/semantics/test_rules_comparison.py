"""Comparisons the reader's fixed phrases don't list (semantics/rules/comparison.py), on invented schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Col, Compare, Lit
from nl2sql.semantics.rules.comparison import comparative
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


@pytest.mark.parametrize("words, op", [
    ("taller than 2", ">"), ("heavier than 2", ">"), ("cheaper than 2", "<"), ("lighter than 2", "<"),
    ("other than 2", None), ("rather than 2", None),
])
def test_any_comparative_before_than_compares(words, op):
    split = words.split()
    found = comparative(split, len(split) - 1)
    assert (found[0] if found else None) == op


def test_a_comparative_names_the_column_it_measures(teams):
    plan = best(teams, "How many athletes are taller than 1.85?")
    assert plan.where == Compare(Col("athletes", "height"), ">", Lit(1.85))


def test_a_comparative_reaches_a_neighbouring_table(teams):
    plan = best(teams, "List the names of teams whose athletes are heavier than 90.")
    assert plan.where == Compare(Col("athletes", "weight"), ">", Lit(90)) or "weight" in plan.dumps()


def test_a_number_right_after_a_column_is_its_value(books):
    plan = best(books, "What is the title of the book with id 7?")
    assert plan.where == Compare(Col("books", "id"), "=", Lit(7))
    assert [o.expr for o in plan.select] == [Col("books", "title")]


def test_a_number_compared_is_no_value_of_another_column(teams):
    plan = best(teams, "Which teams have more than 3 athletes?")
    assert plan.having is not None
    assert plan.where is None


def test_once_and_twice_are_numbers(teams):
    plan = best(teams, "Which teams have more than twice athletes?")
    assert "2" in plan.dumps()


def test_two_comparisons_of_one_column_joined_by_or_are_either(teams):
    from nl2sql.semantics.plan import AnyOf

    plan = best(teams, "List athletes with weight over 100 or under 50.")
    assert plan.where == AnyOf((Compare(Col("athletes", "weight"), ">", Lit(100)),
                                Compare(Col("athletes", "weight"), "<", Lit(50))))
    both = best(teams, "List athletes with weight over 100 and height under 2.")
    assert not isinstance(both.where, AnyOf)


def test_above_and_below_the_average_compare_each_row_with_all_rows(teams):
    from nl2sql.semantics.plan import Agg, Overall
    from nl2sql.semantics.rules.comparison import average_comparison

    assert average_comparison("athletes taller than average".split(), 3) == (">", {1, 2, 3})
    assert average_comparison("a weight below the average".split(), 4) == ("<", {2, 3, 4})
    assert average_comparison("the average weight".split(), 1) is None  # an aggregate, not a comparison
    plan = best(teams, "Which athletes are taller than average?")
    assert plan.where == Compare(Col("athletes", "height"), ">", Overall(Agg("avg", Col("athletes", "height"))))
    assert not plan.aggregated
    plan = best(teams, "List the names of athletes whose weight is lower than the average.")
    assert plan.where == Compare(Col("athletes", "weight"), "<", Overall(Agg("avg", Col("athletes", "weight"))))


def test_an_overall_average_runs_on_every_dialect(library_db):
    from nl2sql.semantics import compile_plan
    from nl2sql.semantics.plan import Agg, Output, Overall, QueryPlan
    import sqlalchemy as sa

    dialect, engine = library_db
    model = build_semantic_model(library(dialect))
    price = Col("books", "price")
    plan = QueryPlan("books", (Output("title", Col("books", "title")),),
                     where=Compare(price, ">", Overall(Agg("avg", price))))
    sql = compile_plan(plan, model, dialect)
    with engine.connect() as conn:
        titles = {r[0] for r in conn.execute(sa.text(sql))}
        everything = [(r[0], float(r[1])) for r in conn.execute(sa.text("SELECT title, price FROM books"))]
    mean = sum(p for _, p in everything) / len(everything)
    assert titles == {t for t, p in everything if p > mean} and titles


def test_each_groups_share_of_all_rows(teams):
    from nl2sql.semantics.plan import Agg, Arith, Overall

    plan = best(teams, "What share of athletes play in each position?")
    assert plan.group_by == (Col("athletes", "position"),)
    ratio = next(o.expr for o in plan.select if isinstance(o.expr, Arith))
    assert ratio.right == Overall(Agg("count"), "athletes")  # all athletes, not the group's own count


@pytest.fixture(scope="module")
def staff() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema("sqlite", table(
        "employees", column("employee_id", "INTEGER", pk=True), column("full_name"), column("phone_number"),
        column("salary", "INTEGER")))))


def test_a_range_of_two_numbers_is_between(staff):
    from nl2sql.semantics.plan import Between

    plan = staff.read("What is the phone number of employees whose salary is in the range of 8000 and 12000?",
                      today=TODAY)[0].plan
    assert isinstance(plan.where, Between) and (plan.where.low.value, plan.where.high.value) == (8000, 12000)


def test_number_ending_a_columns_name_counts_nothing(staff):
    from nl2sql.semantics.plan import Col

    plan = staff.read("What is the phone number of the employee named Ann Lee?", today=TODAY)[0].plan
    assert [o.expr for o in plan.select] == [Col("employees", "phone_number")], plan.select


@pytest.mark.parametrize("question, op", [
    ("Which teams have at most 3 athletes?", "<="),
    ("What are the teams that have at least two athletes?", ">="),
])
def test_at_most_and_at_least_compare_counts_and_pick_no_top_row(teams, question, op):
    plan = best(teams, question)
    assert plan.having is not None and plan.having.op == op and plan.limit in (None, 1000), plan


@pytest.mark.parametrize("question, op", [("How many people are 18 years old?", "="),
                                          ("List the people who are over 20 years old.", ">")])
def test_years_old_compares_the_age(question, op):
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "people", column("person_id", "INTEGER", pk=True), column("full_name"), column("age", "INTEGER"),
        column("height", "REAL")))))
    where = best(reader, question).where
    assert isinstance(where, Compare) and where.left == Col("people", "age") and where.op == op, where


def test_an_aggregate_compared_with_a_number_is_a_having():
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "readings", column("reading_id", "INTEGER", pk=True), column("zip_code", "INTEGER"),
        column("visibility", "REAL"), column("max_temperature", "REAL")))))
    plan = best(reader, "For each zip code, which have an average visibility below 10?")
    assert plan.having == Compare(Agg("avg", Col("readings", "visibility")), "<", Lit(10)) and plan.where is None
    # a column named with an aggregate word is compared row by row
    plan = best(reader, "Give me the readings whose max temperature was higher than 85.")
    assert plan.where == Compare(Col("readings", "max_temperature"), ">", Lit(85)) and plan.having is None, plan


@pytest.mark.parametrize("question", ["Which employees work in department 70 or 90?",
                                      "Show the employee with id 1004 or 1005."])
def test_either_of_two_numbers_of_one_column_is_a_list(question):
    from nl2sql.semantics.plan import InList
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "employees", column("employee_id", "INTEGER", pk=True), column("first_name"),
        column("department_id", "INTEGER")))))
    where = best(reader, question).where
    assert isinstance(where, InList) and len(where.values) == 2, where


@pytest.mark.parametrize("question, negate", [
    ("Which employees have a first name containing the letter M?", False),
    ("Which employees have a first name not containing the letter M?", True),
])
def test_the_letter_named_unquoted_is_a_literal(question, negate):
    from nl2sql.semantics.plan import Match
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "employees", column("employee_id", "INTEGER", pk=True), column("first_name"), column("last_name")))))
    where = best(reader, question).where
    assert isinstance(where, Match) and where.text == "M" and where.mode == "contains" and where.negate == negate, where


def test_rows_of_a_table_keyed_by_several_columns_are_counted_whole():
    """A count of related rows whose key is (swimmer, event): its first column alone gives 1 per swimmer."""
    from nl2sql.semantics import Reader, build_semantic_model, compile_plan
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("swimmers", column("id", "INTEGER", pk=True), column("name")),
        table("meets", column("id", "INTEGER", pk=True), column("meet_name")),
        table("results", column("swimmer_id", "INTEGER", pk=True), column("meet_id", "INTEGER", pk=True),
              column("place", "INTEGER"), fks=(("swimmer_id", "swimmers", "id"), ("meet_id", "meets", "id"))))))
    sql = compile_plan(reader.read("Find the names of swimmers who have at least 2 results.")[0].plan, reader.model)
    assert "JOIN results" in sql and "HAVING COUNT(results.swimmer_id) >= 2" in sql, sql
    assert "DISTINCT" not in sql.split("HAVING")[1], sql


def test_a_number_before_a_reference_columns_name_counts_rows():
    """"more than one patient" where a column is named Patient (a reference to the Patient table, listed first):
    a count of patients, not Patient > 1."""
    from nl2sql.semantics import Reader, build_semantic_model, compile_plan
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("Appointment", column("AppointmentID", "INTEGER", pk=True), column("Patient", "INTEGER"),
              column("Physician", "INTEGER"),
              fks=(("Patient", "Patient", "SSN"), ("Physician", "Physician", "EmployeeID"))),
        table("Patient", column("SSN", "INTEGER", pk=True), column("Name"), column("PCP", "INTEGER"),
              fks=(("PCP", "Physician", "EmployeeID"),)),
        table("Physician", column("EmployeeID", "INTEGER", pk=True), column("Name")))))
    sql = compile_plan(reader.read("Which physicians are in charge of more than one patient?")[0].plan, reader.model)
    assert "HAVING COUNT(" in sql and '"Patient" > 1' not in sql, sql


def test_a_sampled_number_after_a_bound_word_is_no_equality():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "cabinet", column("cabinet_id", "INTEGER", pk=True), column("minister"),
        column("took_office", values=("1957", "1959", "1961", "1963"))))))
    for reading in reader.read("Who are the ministers who took office after 1961 or before 1959?"):
        equalities = [c for c in ([reading.plan.where] if reading.plan.where else [])
                      if isinstance(c, Compare) and c.op == "=" and c.right == Lit("1961")]
        assert not equalities and "'1961'" not in reading.explanation, reading.explanation


def test_a_year_like_bound_of_an_amount_is_a_number():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Col, Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "gadgets", column("gadget_id", "INTEGER", pk=True), column("gadget_name"), column("price", "REAL"),
        column("released_on", "DATE")))))
    plan = reader.read("List the names of gadgets with price above 2000.")[0].plan
    assert plan.where == Compare(Col("gadgets", "price"), ">", Lit(2000)), plan.where
    plan = reader.read("List the names of gadgets released after 2000.")[0].plan
    assert "released_on" in str(plan.where)  # "after 2000" stays the year


def test_a_number_after_is_following_a_column_is_its_value():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Col, Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "borrowers", column("borrower_id", "INTEGER", pk=True), column("state"), column("credit_score", "INTEGER"),
        column("no_of_loans", "INTEGER")))))
    plan = reader.read("Find the state and credit score of the borrower whose number of loans is 0.")[0].plan
    assert plan.where == Compare(Col("borrowers", "no_of_loans"), "=", Lit(0)), plan.where


def test_a_said_average_of_a_column_named_mean_is_compared_per_group():
    from nl2sql.semantics import Reader, build_semantic_model, compile_plan
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "readings", column("reading_id", "INTEGER", pk=True), column("zip_code", "INTEGER"),
        column("mean_visibility", "REAL"), column("max_temperature", "REAL")))))
    sql = compile_plan(reader.read(
        "For each zip code, select all those that have an average mean visibility below 10.")[0].plan, reader.model)
    assert "GROUP BY readings.zip_code HAVING AVG(readings.mean_visibility) < 10" in sql, sql
    sql = compile_plan(reader.read("How many readings have a max temperature above 80?")[0].plan, reader.model)
    assert "WHERE readings.max_temperature > 80" in sql, sql  # the column's own "max": row by row


@pytest.fixture(scope="module")
def bookings() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("guests", column("guest_id", "INTEGER", pk=True), column("guest_name"), column("joined_on", "TEXT",
                                                                                            values=("2021-03-01",))),
        table("stays", column("stay_id", "INTEGER", pk=True), column("guest_id", "INTEGER"),
              column("arrival_date", "DATE"), column("stay_status", values=("booked", "cancelled")),
              fks=(("guest_id", "guests", "guest_id"),)))))


def _compared_columns(plan) -> set[str]:
    from nl2sql.semantics.plan import AllOf, Between

    items = plan.where.items if isinstance(plan.where, AllOf) else (plan.where,) if plan.where else ()
    return {c.left.column for c in items if isinstance(c, Compare) and c.op != "="} | \
        {c.arg.column for c in items if isinstance(c, Between)}


@pytest.mark.parametrize("question", [
    "Which guests have stays with an arrival date after more than 2 nights?",
    "How many guests have at least one stay with status 'cancelled'?",
    "What are the names of guests with ids between 10 and 20 and their arrival dates?",
])
def test_a_date_is_compared_with_years_not_small_numbers(bookings, question):
    assert not _compared_columns(best(bookings, question)) & {"arrival_date", "joined_on"}


def test_at_least_one_of_the_rows_a_plan_joins_is_read(bookings):
    readings = bookings.read("How many guests have at least one stay with status 'cancelled'?", today=TODAY)
    assert "least" not in readings[0].dropped and "least" not in readings[0].unread


@pytest.mark.parametrize("question, op", [
    ("What are the names and ids of teams with 3 or more athletes?", ">="),
    ("Which teams have two or fewer athletes?", "<="),
])
def test_n_or_more_compares_the_rows_named_after_it(teams, question, op):
    """ "teams with 3 or more athletes": the count of athletes, not the id named before the number."""
    plan = best(teams, question)
    assert plan.where is None, plan.dumps()
    assert plan.having is not None and plan.having.op == op, plan.dumps()
    assert "athlete_id" in plan.dumps()


def _gatherings() -> Reader:
    """Invented: storms hit regions; parties hold events; people keep friends as pairs of names (no key)."""
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("storms", column("storm_id", "INTEGER", pk=True), column("name", values=("Two", "Alpha", "Bravo"))),
        table("regions", column("region_id", "INTEGER", pk=True), column("region_name")),
        table("affected_region", column("region_id", "INTEGER"), column("storm_id", "INTEGER"),
              fks=(("region_id", "regions", "region_id"), ("storm_id", "storms", "storm_id"))),
        table("party", column("party_id", "INTEGER", pk=True), column("party_name")),
        table("party_events", column("event_id", "INTEGER", pk=True), column("party_id", "INTEGER"),
              column("event_name"), fks=(("party_id", "party", "party_id"),)),
        table("member", column("member_id", "INTEGER", pk=True), column("member_name"),
              column("party_id", values=("1", "2", "3")), fks=(("party_id", "party", "party_id"),)),
        table("person", column("name", pk=True), column("age", "INTEGER")),
        table("person_friend", column("name"), column("friend"), column("year", "INTEGER"),
              fks=(("name", "person", "name"),)),
    )))


@pytest.fixture(scope="module")
def gatherings() -> Reader:
    return _gatherings()


def test_a_number_word_compared_is_no_value(gatherings):
    """ "regions with two or more storms" where a storm is named 'Two': the two is a bar."""
    plan = best(gatherings, "What are the names of regions with two or more storms?")
    assert plan.where is None, plan.dumps()
    assert plan.having is not None and plan.having.op == ">=" and plan.having.right == Lit(2), plan.dumps()


def test_rows_counted_may_be_named_by_a_table_named_by_words_apart(gatherings):
    """ "parties with at least 2 events": party_events, named by "parties" and "events"."""
    plan = best(gatherings, "What are the names of parties with at least 2 events?")
    assert plan.where is None, plan.dumps()
    assert "event_id" in plan.dumps() and plan.having is not None, plan.dumps()


def test_a_count_of_a_keyless_tables_rows_joins_it(gatherings):
    from nl2sql.semantics import compile_plan

    plan = best(gatherings, "Find the person who has exactly one friend.")
    assert "person_friend" in compile_plan(plan, gatherings.model), compile_plan(plan, gatherings.model)


def test_an_article_may_stand_between_the_comparison_and_the_number(teams):
    plan = best(teams, "How many teams have over a 20000 stadium capacity?")
    assert plan.where == Compare(Col("teams", "stadium_capacity"), ">", Lit(20000)), plan.dumps()


def test_n_of_a_reference_counts_the_rows_holding_it():
    """ "students with at least two allergies" where has_allergy.allergy names the allergy: has_allergy's rows
    counted per student, not the student id compared with 2."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("pupils", column("pupil_id", "INTEGER", pk=True), column("name")),
        table("allergy_kinds", column("allergy", pk=True), column("allergy_group")),
        table("has_allergy", column("pupil_id", "INTEGER"), column("allergy"),
              fks=(("pupil_id", "pupils", "pupil_id"), ("allergy", "allergy_kinds", "allergy"))))))
    plan = best(reader, "Show all pupil ids who have at least two allergies.")
    assert plan.where is None, plan.dumps()
    assert plan.having is not None and plan.having.op == ">=" and plan.having.right == Lit(2), plan.dumps()


@pytest.mark.parametrize("words, op", [("greater than or equal to", ">="), ("less than or equal to", "<=")])
def test_or_equal_to_keeps_the_bound(teams, words, op):
    plan = best(teams, f"List the names of athletes with weight {words} 90.")
    assert plan.where == Compare(Col("athletes", "weight"), op, Lit(90)), plan.dumps()


def test_rows_named_by_a_value_are_counted_and_compared(teams):
    """ "How many forwards are taller than 2?" with forward a position: the forwards counted, their height compared."""
    from nl2sql.semantics.plan import Agg, AllOf

    plan = best(teams, "How many forwards are taller than 2?")
    assert [o.expr for o in plan.select] == [Agg("count")], plan.dumps()
    assert isinstance(plan.where, AllOf) and Compare(Col("athletes", "height"), ">", Lit(2)) in plan.where.items, \
        plan.dumps()


def test_no_more_than_is_a_bound_not_an_absence(teams):
    """ "teams that have no more than 3 athletes": the count bounded, not "teams with no athletes"."""
    plan = best(teams, "Show the team names that have no more than 3 athletes.")
    assert plan.where is None, plan.dumps()
    assert plan.having is not None and plan.having.op == "<=", plan.dumps()


def test_a_total_compared_is_the_total_per_group():
    """ "document types with more than 10000 total access count" (access_count named with "count"): the sum per
    type compared, not each document's count."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "papers", column("paper_id", "INTEGER", pk=True), column("paper_type", values=("memo", "report", "form")),
        column("access_count", "INTEGER")))))
    plan = best(reader, "What paper types do have more than 10000 total access count?")
    assert plan.where is None, plan.dumps()
    assert plan.having is not None and plan.having.op == ">" and plan.having.right == Lit(10000), plan.dumps()
    assert plan.group_by == (Col("papers", "paper_type"),), plan.dumps()


@pytest.mark.parametrize("question, count", [("What are the names of cabins with two bunks?", 2),
                                             ("List the cabins that have a nightly rate under 90 and 4 bunks.", 4)])
def test_a_number_before_a_column_that_counts_is_equal_to_it(question, count):
    """ "cabins with two bunks" where bunks is a numeric column (and a text column holds the value '2'): bunks = 2."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("cabins", column("cabin_id", "INTEGER", pk=True), column("cabin_name"),
                        column("bunks", "INTEGER"), column("nightly_rate", "REAL"),
                        column("deck", values=("1", "2", "3", "4"))))))
    plan = best(reader, question)
    conditions = getattr(plan.where, "items", (plan.where,))
    assert Compare(Col("cabins", "bunks"), "=", Lit(count)) in conditions, plan.dumps()


def test_a_key_named_with_its_table_is_that_tables_own_key():
    """ "the parcel with id 3" where the parcels' id is copied in a scans table named first: the parcels' own
    parcel_id, with no join to the scans."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("Parcel_Scans", column("parcel_id", "INTEGER", pk=True), column("scan_number", "INTEGER", pk=True),
              column("scanned_at", "DATETIME"), fks=(("parcel_id", "Parcels", "parcel_id"),)),
        table("Parcels", column("parcel_id", "INTEGER", pk=True), column("weight", "REAL"),
              column("delivery_date", "DATE")))))
    plan = best(reader, "What is the delivery date of the parcel with id 3?")
    assert plan.where == Compare(Col("Parcels", "parcel_id"), "=", Lit(3)), plan.dumps()
    assert "Parcel_Scans" not in plan.dumps(), plan.dumps()


def test_a_table_named_in_a_condition_on_a_reference_is_not_joined():
    """ "the emails of staff in department 80": the staff's department_id compared, no join to departments."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("departments", column("department_id", "INTEGER", pk=True), column("department_name")),
        table("staff", column("staff_id", "INTEGER", pk=True), column("email"), column("salary", "REAL"),
              column("department_id", "INTEGER"), fks=(("department_id", "departments", "department_id"),)))))
    plan = best(reader, "What are the emails of the staff who work in department 80?")
    assert plan.where == Compare(Col("staff", "department_id"), "=", Lit(80)), plan.dumps()
    assert "departments" not in plan.via, plan.dumps()


def test_contain_before_a_tables_name_is_no_literal():
    """ "playlists that contain tracks longer than 300": the tracks are a table, not the text 'tracks' in a name;
    "playlists whose names contain Rock" still matches the word."""
    from nl2sql.semantics.plan import Match
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("playlists", column("playlist_id", "INTEGER", pk=True), column("name")),
        table("tracks", column("track_id", "INTEGER", pk=True), column("name"), column("seconds", "INTEGER"),
              column("playlist_id", "INTEGER"), fks=(("playlist_id", "playlists", "playlist_id"),)))))
    plan = best(reader, "What are the names of playlists that contain tracks longer than 300 seconds?")
    assert "Match" not in plan.dumps(), plan.dumps()
    plan = best(reader, "Which playlists have names that contain Rock?")
    assert isinstance(plan.where, Match) and plan.where.text == "Rock", plan.dumps()


@pytest.mark.parametrize("question, op", [("How many painters are above age 30?", ">"),
                                          ("How many painters are under age 20?", "<"),
                                          ("How many painters are age 25?", "=")])
def test_a_bound_before_the_columns_name_compares(question, op):
    """ "above age 30": the bound stands before the column, the number after it."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "painters", column("painter_id", "INTEGER", pk=True), column("name"), column("age", "INTEGER")))))
    plan = best(reader, question)
    assert isinstance(plan.where, Compare) and plan.where.left == Col("painters", "age") \
        and plan.where.op == op, plan.dumps()


def test_a_column_below_the_maximum_is_compared_with_all_rows_largest():
    from nl2sql.semantics.plan import Agg, Overall
    from nl2sql.semantics.rules.comparison import overall_comparison
    from tests.semantics.schemas import column, prompt_schema, table

    assert overall_comparison("a salary below the maximum salary".split(), 4) == ("<", {2, 3, 4}, "max")
    assert overall_comparison("the maximum salary".split(), 1) is None  # an aggregate, not a comparison
    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "tutors", column("tutor_id", "INTEGER", pk=True), column("name"), column("salary", "REAL")))))
    plan = best(reader, "What are the names of tutors who earn less than the maximum salary?")
    assert plan.where == Compare(Col("tutors", "salary"), "<", Overall(Agg("max", Col("tutors", "salary")))), \
        plan.dumps()
