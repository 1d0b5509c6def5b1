"""Ordering phrases (semantics/rules/ordering.py), on invented schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Col, Order
from nl2sql.semantics.rules.ordering import order_phrase
from tests.semantics.schemas import sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


@pytest.mark.parametrize("question, key, desc", [
    ("names in the descending order of height", 6, True),
    ("names in decreasing order of their weight", 5, True),
    ("sort them in ascending order of height", 6, False),
    ("sort the athletes according to weight", 5, None),
    ("the order of events", None, None),
])
def test_order_phrases(question, key, desc):
    found = order_phrase(question.split())
    assert (found[0], found[1]) == (key, desc) if key is not None else found is None


def test_in_the_descending_order_of_a_column(teams):
    plan = best(teams, "List the names of athletes in the descending order of height.")
    assert plan.order_by == (Order(Col("athletes", "height"), True),)
    assert [o.expr for o in plan.select] == [Col("athletes", "name")]


def test_sorted_according_to_a_column(teams):
    plan = best(teams, "Sort the athletes according to their weight.")
    assert plan.order_by[0].expr == Col("athletes", "weight")


def test_a_number_word_says_how_many_rows_to_list(teams):
    plan = best(teams, "Which three teams have the largest stadium capacity?")
    assert plan.limit == 3
    assert plan.order_by[0] == Order(Col("teams", "stadium_capacity"), True)


def test_alphabetical_order_may_be_descending():
    from nl2sql.semantics import Reader, build_semantic_model
    from tests.semantics.schemas import sports

    reader = Reader(build_semantic_model(sports("sqlite")))
    down = reader.read("List all team names in descending alphabetical order.")[0].plan
    up = reader.read("List all team names in alphabetical order.")[0].plan
    assert [o.desc for o in down.order_by] == [True] and [o.desc for o in up.order_by] == [False]
    assert down.order_by[0].expr == up.order_by[0].expr


@pytest.fixture(scope="module")
def clinic() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("patients", column("ssn", "INTEGER", pk=True), column("name")),
        table("appointments", column("appointment_id", "INTEGER", pk=True), column("patient", "INTEGER"),
              column("starts_at", "DATETIME"), column("ends_at", "DATETIME"),
              fks=(("patient", "patients", "ssn"),)),
        # dates kept as text, as SQLite and loaded files keep them
        table("races", column("race_id", "INTEGER", pk=True), column("race_name"),
              column("race_date", values=("2009-03-29", "2009-04-05", "2010-05-09"))))))


@pytest.mark.parametrize("question, key", [
    ("What is the id of the appointment that starts most recently?", Col("appointments", "starts_at")),
    ("Which appointment ends most recently?", Col("appointments", "ends_at")),
    ("What is the name of the patient who made the most recent appointment?", Col("appointments", "starts_at")),
    ("What is the name of the race held most recently?", Col("races", "race_date")),
    ("Which race was the earliest?", Col("races", "race_date")),
])
def test_a_time_superlative_orders_by_the_time_it_is_about(clinic, question, key):
    plan = best(clinic, question)
    assert plan.limit == 1 and plan.order_by, plan
    assert plan.order_by[0].expr in (key, ) or getattr(plan.order_by[0].expr, "arg", None) == key, plan.order_by


def test_the_top_n_of_a_column_orders_by_it():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "mountains", column("mountain_id", "INTEGER", pk=True), column("mountain_name"), column("mountain_range"),
        column("prominence", "REAL")))))
    plan = best(reader, "List the ranges of the mountains with the top 3 prominence.")
    assert plan.limit == 3 and plan.order_by[0].expr == Col("mountains", "prominence") and plan.order_by[0].desc


def test_alphabetical_order_is_of_the_text_column_asked():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "drivers", column("driver_id", "INTEGER", pk=True), column("forename"), column("surname"),
        column("nationality")))))
    plan = best(reader, "List the forenames of all drivers in alphabetical order.")
    assert plan.order_by == (Order(Col("drivers", "forename"), False),), plan.order_by


@pytest.mark.parametrize("question, desc", [
    ("List the athletes' names and heights sorted by height from the highest to the lowest.", True),
    ("List the names of athletes sorted by weight from large to small.", True),
    ("List the names of athletes ordered by height from lowest to highest.", False),
    ("Show the athletes' names sorted by height from small to large.", False),
])
def test_a_from_to_direction_orders_every_row(teams, question, desc):
    plan = best(teams, question)
    assert plan.order_by and plan.order_by[0].desc is desc, plan.order_by
    assert plan.limit is None  # "from the highest" picks no single row


def test_the_words_of_a_from_to_direction_are_read():
    from nl2sql.answers.candidates import Candidate
    from nl2sql.answers.verdict import ANSWERED, Question, decide
    from nl2sql.semantics import compile_plan, question_coverage

    reader = Reader(build_semantic_model(sports("sqlite")))
    text = "List the names of athletes sorted by weight from large to small."
    reading = reader.read(text, today=TODAY)[0]
    candidate = Candidate("reader", compile_plan(reading.plan, reader.model), reading.plan.to_json(),
                          reading.explanation, reading.score, read_words=reading.read_words)
    candidate.rows, candidate.fit, candidate.score = 3, 0.8, reading.score
    coverage = question_coverage(reader, text, today=TODAY)
    verdict = decide(Question(text, "sports", coverage.content, coverage.unread, None), [candidate], candidate,
                     threshold=0.0)
    # "large" after "from" would be a condition nobody read ("from large cities"); here the reading used it
    assert verdict.status == ANSWERED, verdict


def test_the_words_of_an_ordering_are_no_value():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("sites", column("site_id", "INTEGER", pk=True), column("site_type", values=("office", "warehouse")),
              column("site_details")),
        table("visits", column("visit_id", "INTEGER", pk=True), column("site_id", "INTEGER"),
              column("outcome", values=("Order", "No Response")), fks=(("site_id", "sites", "site_id"),)))))
    plan = best(reader, "Find the types and details for all sites and order by the site type.")
    assert plan.where is None and plan.base == "sites", plan  # no visit whose outcome is 'Order'
    assert plan.order_by[0].expr == Col("sites", "site_type")


def test_a_superlative_ending_its_clause_ranks_by_the_measure_before_it():
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "readings", column("reading_id", "INTEGER", pk=True), column("region_code", values=("N1", "S2", "E3")),
        column("air_pressure", "REAL"), column("taken_on", "DATE")))))
    plan = best(reader, "What is the region code in which the average air pressure is the lowest?")
    assert plan.group_by == (Col("readings", "region_code"),), plan
    assert plan.order_by[0] == Order(Agg("avg", Col("readings", "air_pressure")), False) and plan.limit == 1


def test_the_largest_number_of_a_count_column_ranks_by_the_column():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "accounts", column("uid", "INTEGER", pk=True), column("name"), column("email"),
        column("followers", "INTEGER")))))
    plan = best(reader, "Find the name of the account that has the largest number of followers.")
    assert plan.order_by[0] == Order(Col("accounts", "followers"), True) and plan.limit == 1, plan
    assert not plan.group_by


def test_a_direction_between_ordered_and_by(teams):
    plan = best(teams, "What are the names of athletes, ordered descending by weight?")
    assert plan.order_by[0] == Order(Col("athletes", "weight"), True), plan.order_by


def test_a_bare_direction_orders_by_the_column_asked():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "estimates", column("estimate_id", "INTEGER", pk=True), column("year", "INTEGER"),
        column("country", values=("Japan", "Chile")), column("low_estimate", "REAL")))))
    plan = best(reader, "Please list the years of the estimates where the country is Japan in descending order.")
    assert plan.order_by == (Order(Col("estimates", "year"), True),), plan.order_by


def test_lexicographic_order_is_alphabetical(teams):
    down = best(teams, "List the names of all teams in reversed lexicographic order.")
    up = best(teams, "List the names of all teams in alphabetical order.")
    assert down.order_by[0].desc is True and up.order_by[0].desc is False
    assert down.order_by[0].expr == up.order_by[0].expr


def test_the_shortest_person_is_the_one_of_least_height(teams):
    plan = best(teams, "Return the weight of the shortest athlete.")
    assert plan.order_by[0] == Order(Col("athletes", "height"), False) and plan.limit == 1, plan


def test_a_number_before_a_superlative_after_with_is_how_many_rows(teams):
    plan = best(teams, "List the names of athletes with 3 lowest weights.")
    assert plan.limit == 3 and plan.order_by[0] == Order(Col("athletes", "weight"), False), plan


def test_a_quantity_is_named_without_its_unit_and_what_is_asks_for_one():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "firms", column("firm_id", "INTEGER", pk=True), column("name"), column("headquarters"),
        column("sales_in_billion", "REAL"), column("height_in_meters", "REAL")))))
    plan = best(reader, "What is the headquarters of the firm with the largest sales?")
    assert plan.order_by[0] == Order(Col("firms", "sales_in_billion"), True) and plan.limit == 1, plan
    assert [o.expr for o in plan.select] == [Col("firms", "headquarters")]


@pytest.mark.parametrize("question, limit", [
    ("Find the names of the top 3 expensive lodges.", 3),
    ("Tell me the name of the most pricy lodge.", 1),
])
def test_an_adjective_after_top_or_most_says_what_ranks(question, limit):
    from nl2sql.semantics.plan import Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("lodges", column("lodge_id", "INTEGER", pk=True), column("lodge_name"),
                        column("base_price", "REAL"), column("beds", "INTEGER")))))
    plan = reader.read(question)[0].plan
    assert plan.order_by[0].expr == Col("lodges", "base_price") and plan.order_by[0].desc and plan.limit == limit


def test_a_general_word_after_order_of_names_the_listed_rows_column():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("payments", column("payment_id", "INTEGER", pk=True), column("method_code"),
              column("date_paid", "DATE"), column("amount_paid", "REAL")),
        table("claims", column("claim_id", "INTEGER", pk=True), column("date_claimed", "DATE"),
              column("date_settled", "DATE")))))
    plan = reader.read("List the method, date and amount of all the payments, in ascending order of date.")[0].plan
    assert plan.order_by and plan.order_by[0].expr == Col("payments", "date_paid") and not plan.order_by[0].desc


def test_order_of_a_possessive_is_what_it_owns():
    """ "in descending order of the firm's market value": the value, not the firm (or an id naming it)."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("firms", column("id", "INTEGER", pk=True), column("name"), column("market_value_billion", "REAL")),
        table("branches", column("branch_id", "INTEGER", pk=True), column("firm_id", "INTEGER"), column("city"),
              fks=(("firm_id", "firms", "id"),)))))
    plan = best(reader, "Sort the firm names in descending order of the firm's market value.")
    assert plan.order_by == (Order(Col("firms", "market_value_billion"), True),), plan.dumps()


def test_alphabetical_order_of_the_name_part_asked():
    """ "the first names of all members in alphabetical order": by first name, not the last."""
    from tests.semantics.schemas import library

    reader = Reader(build_semantic_model(library("sqlite")))
    plan = best(reader, "Find the first names of all the members ordered in alphabetical order.")
    assert plan.order_by == (Order(Col("members", "first_name"), False),), plan.dumps()


def test_order_of_count_is_the_count_shown(teams):
    """ "each position and its count in descending order of count": ordered by the count per position."""
    from nl2sql.semantics.plan import Agg

    plan = best(teams, "List each position and its count in descending order of count.")
    assert plan.group_by == (Col("athletes", "position"),), plan.dumps()
    assert len(plan.order_by) == 1 and plan.order_by[0].desc, plan.dumps()
    assert isinstance(plan.order_by[0].expr, Agg) and plan.order_by[0].expr.func.startswith("count"), plan.dumps()


def _venues() -> Reader:
    """Invented: colleges founded in a year (no age), festivals held in a year kept as text, performers who are
    persons (person_id) with a weight."""
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("colleges", column("college_id", "INTEGER", pk=True), column("name"), column("enrollment", "INTEGER"),
              column("founded", "INTEGER"), column("regional_population", "INTEGER")),
        table("festivals", column("festival_id", "INTEGER", pk=True), column("name"),
              column("year", values=("2011", "2012", "2014"))),
        table("persons", column("person_id", "INTEGER", pk=True), column("name"), column("weight", "REAL"),
              column("age", "INTEGER")),
        table("performers", column("performer_id", "INTEGER", pk=True), column("person_id", "INTEGER"),
              column("agency"), fks=(("person_id", "persons", "person_id"),)))))


@pytest.fixture(scope="module")
def venues() -> Reader:
    return _venues()


@pytest.mark.parametrize("question, key, desc", [
    ("Find the names of all persons sorted in the descending order using age.", Col("persons", "age"), True),
    ("What are the three largest colleges in terms of regional population?", Col("colleges", "regional_population"),
     True),
    ("What is the name of the festival that happened in the most recent year?", Col("festivals", "year"), True),
    ("Show the enrollment of the oldest college.", Col("colleges", "founded"), False),
    ("Return the agency of the heaviest performer.", Col("persons", "weight"), True),
])
def test_superlatives_and_orders_name_their_key(venues, question, key, desc):
    plan = best(venues, question)
    assert plan.order_by[:1] == (Order(key, desc),), plan.dumps()


@pytest.mark.parametrize("question, key, desc", [
    ("List names of all festivals in the order of their years starting from the most recent one.",
     Col("festivals", "year"), True),
    ("What are the names of all the colleges starting with the oldest?", Col("colleges", "founded"), False),
])
def test_starting_from_an_end_orders_the_whole_list(venues, question, key, desc):
    """ "starting from the most recent one": every row, in that order (no single row, no top one)."""
    plan = best(venues, question)
    assert plan.order_by[:1] == (Order(key, desc),) and plan.limit is None, plan.dumps()


@pytest.mark.parametrize("question", ["Show the ids and dates of all loans, in descending order by year.",
                                      "Return the ids of the loans, sorted by year."])
def test_order_by_year_is_no_grouping_by_year(question):
    """ "in descending order by year": the rows ordered, not counted per year."""
    from tests.semantics.schemas import library

    plan = best(Reader(build_semantic_model(library("sqlite"))), question)
    assert not plan.group_by and not plan.aggregated, plan.dumps()
    assert plan.order_by, plan.dumps()


def test_the_most_of_a_table_named_with_the_rows_name():
    """ "the manual that has the most chapters", where the chapters are manual_chapters: the name's words are
    split around the superlative, and the chapters are counted per manual."""
    from nl2sql.semantics import compile_plan
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("manuals", column("manual_code", pk=True), column("manual_title")),
        table("manual_chapters", column("chapter_id", "INTEGER", pk=True), column("manual_code"),
              column("heading"), fks=(("manual_code", "manuals", "manual_code"),))))
    plan = Reader(model).read("Return the title of the manual that has the most chapters.", today=TODAY)[0].plan
    assert plan.limit == 1 and plan.order_by and isinstance(plan.order_by[0].expr, Agg), compile_plan(plan, model)
    assert [o.expr for o in plan.select] == [Col("manuals", "manual_title")], plan.dumps()


def test_a_table_named_inside_the_ordering_columns_name_is_not_joined():
    """ "the themes of parties ordered by the number of hosts", where hosts is a table and number_of_hosts a column
    of the parties: ordered by that column, no join through the hosts (which would repeat each party)."""
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("parties", column("party_id", "INTEGER", pk=True), column("theme"), column("number_of_hosts", "INTEGER")),
        table("hosts", column("host_id", "INTEGER", pk=True), column("name")),
        table("party_hosts", column("party_id", "INTEGER"), column("host_id", "INTEGER"),
              fks=(("party_id", "parties", "party_id"), ("host_id", "hosts", "host_id")))))
    plan = Reader(model).read("List the themes of parties in ascending order of number of hosts.", today=TODAY)[0].plan
    assert plan.via == ("parties",), plan.dumps()
    assert plan.order_by[0].expr == Col("parties", "number_of_hosts"), plan.dumps()


def test_the_top_n_of_an_acronyms_plural_orders_by_it():
    """ "the students with the top 5 GPAs": GPAs is the plural of the gpa column (the stemmer keeps an s after a
    vowel), ordered highest first."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "pupils", column("pupil_id", "INTEGER", pk=True), column("first_name"), column("gpa", "REAL")))))
    plan = best(reader, "What are the first names of the pupils with the top 5 GPAs?")
    assert plan.limit == 5 and plan.order_by[0] == Order(Col("pupils", "gpa"), True), plan.dumps()


def test_the_top_n_groups_in_terms_of_an_average_are_ordered_by_it():
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "flats", column("flat_id", "INTEGER", pk=True), column("flat_type", values=("studio", "loft", "duplex")),
        column("room_count", "INTEGER")))))
    plan = best(reader, "What are the top three flat types in terms of the average room count?")
    assert plan.limit == 3 and plan.group_by == (Col("flats", "flat_type"),), plan.dumps()
    assert plan.order_by[0] == Order(Agg("avg", Col("flats", "room_count")), True), plan.dumps()


def test_a_superlative_opening_a_columns_name_ranks_by_that_column():
    """ "the cabin with the maximum occupancy" where max_occupancy is a column: that cabin, no MAX; "the maximum
    occupancy of each deck" stays an aggregate."""
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "cabins", column("cabin_id", "INTEGER", pk=True), column("cabin_name"),
        column("deck", values=("A", "B", "C")), column("max_occupancy", "INTEGER")))))
    plan = best(reader, "Find the name of the cabin with the maximum occupancy.")
    assert plan.limit == 1 and plan.order_by[0] == Order(Col("cabins", "max_occupancy"), True), plan.dumps()
    assert [o.expr for o in plan.select] == [Col("cabins", "cabin_name")], plan.dumps()
    plan = best(reader, "What is the total max occupancy for each deck?")
    assert plan.order_by == () and any(isinstance(o.expr, Agg) for o in plan.select), plan.dumps()


def test_the_number_of_an_amount_is_the_amount_not_a_count_of_its_values():
    """ "the shops by ascending number of sales" with a sales amount column: ordered by the sales, no COUNT."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "shops", column("shop_id", "INTEGER", pk=True), column("name"), column("sales_millions", "REAL")))))
    plan = best(reader, "List the names of shops by ascending number of sales.")
    assert plan.order_by[0] == Order(Col("shops", "sales_millions"), False), plan.dumps()
    assert "count" not in plan.dumps(), plan.dumps()


def test_every_row_ordered_by_its_own_amount_is_no_grouping():
    """ "the name and rank of every company ordered by descending number of sales": all companies, each with its
    name and rank, by its sales; no group per company showing only its key."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "company", column("company_id", "INTEGER", pk=True), column("rank", "INTEGER"), column("company"),
        column("headquarters", values=("USA", "UK", "China")), column("sales_billion", "REAL")))))
    plan = best(reader, "What is the name and rank of every company ordered by descending number of sales?")
    assert plan.group_by == () and plan.order_by[0] == Order(Col("company", "sales_billion"), True), plan.dumps()
    assert {Col("company", "company"), Col("company", "rank")} <= {o.expr for o in plan.select}, plan.dumps()
