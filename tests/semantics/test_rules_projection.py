"""Which columns a list shows and whether it lists each row once (semantics/rules/projection.py), on invented
schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.plan import Col
from tests.semantics.schemas import library, sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def books() -> Reader:
    return Reader(build_semantic_model(library("sqlite")))


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def shown(plan) -> list:
    return [o.expr for o in plan.select]


def test_the_columns_asked_for_are_the_columns_shown(books):
    plan = best(books, "What are the titles and prices of the books?")
    assert shown(plan) == [Col("books", "title"), Col("books", "price")]
    assert not plan.distinct


def test_a_generic_word_like_name_is_asked_for_when_it_names_a_column_of_the_listed_table(teams):
    plan = best(teams, "What are the names and nationalities of the athletes?")
    assert set(shown(plan)) == {Col("athletes", "name"), Col("athletes", "nationality")}


def test_a_list_of_things_shows_their_name_without_their_key(books):
    plan = best(books, "List all the authors.")
    assert shown(plan) == [Col("authors", "name")]


def test_a_list_of_things_without_a_name_shows_their_key(teams):
    plan = best(teams, "List all games.")
    assert shown(plan) == [Col("games", "game_id")]


def test_rows_of_one_table_are_not_made_distinct_unless_asked(teams):
    assert not best(teams, "What are the heights of the athletes?").distinct
    assert best(teams, "What are the different nationalities of the athletes?").distinct


def test_a_category_asked_for_without_its_table_is_the_set_of_its_values(teams):
    plan = best(teams, "Show all nationalities.")
    assert shown(plan) == [Col("athletes", "nationality")]
    assert plan.distinct





def test_an_ordering_key_is_not_shown_unless_asked(teams):
    plan = best(teams, "List the names of athletes ordered by height.")
    assert [o.expr for o in plan.select] == [Col("athletes", "name")]
    assert plan.order_by[0].expr == Col("athletes", "height")


def test_rows_asked_for_beside_a_measure_are_named(teams):
    plan = best(teams, "Get the teams in Oslo and their stadium capacity")
    assert [o.expr for o in plan.select] == [Col("teams", "team_name"), Col("teams", "stadium_capacity")]


def test_a_measure_of_the_rows_alone_is_shown_alone(teams):
    assert [o.expr for o in best(teams, "What are the heights of the athletes?").select] == [Col("athletes", "height")]


def test_the_single_top_row_shows_its_name_and_what_ranks_it(teams):
    plan = best(teams, "Which team has the largest stadium capacity?")
    assert [o.expr for o in plan.select] == [Col("teams", "team_name"), Col("teams", "stadium_capacity")]
    assert plan.limit == 1


def test_a_grouping_by_a_named_entity_shows_its_name_and_keeps_its_key_in_the_grouping(teams):
    plan = best(teams, "How many athletes does each team have?")
    assert Col("teams", "team_id") not in [o.expr for o in plan.select]
    assert Col("teams", "team_id") in plan.group_by


def test_a_grouping_shows_the_key_when_the_question_names_it(teams):
    plan = best(teams, "Show the id and name of each team and the number of athletes.")
    assert Col("teams", "team_id") in [o.expr for o in plan.select]


@pytest.fixture(scope="module")
def hostels() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("guests", column("guest_id", "INTEGER", pk=True), column("first_name"), column("last_name"),
              column("email")),
        table("hostels", column("hostel_id", "INTEGER", pk=True), column("hostel_name"), column("capacity", "INTEGER"),
              column("opened", "DATE")),
        table("stays", column("stay_id", "INTEGER", pk=True), column("guest_id", "INTEGER"),
              column("hostel_id", "INTEGER"), column("arrival_date", "DATE"), column("nights", "INTEGER"),
              fks=(("guest_id", "guests", "guest_id"), ("hostel_id", "hostels", "hostel_id"))),
    )))


def test_general_words_in_a_list_read_on_the_rows_listed(hostels):
    plan = best(hostels, "Give me the stay id, the date and the nights of every stay.")
    assert shown(plan) == [Col("stays", "stay_id"), Col("stays", "arrival_date"), Col("stays", "nights")]
    plan = best(hostels, "What are the full names of the guests?")
    assert shown(plan) == [Col("guests", "first_name"), Col("guests", "last_name")]


def test_the_columns_asked_of_the_best_row_by_a_count(hostels):
    plan = best(hostels, "What are the name and capacity of the hostel with the most stays?")
    assert shown(plan)[:2] == [Col("hostels", "hostel_name"), Col("hostels", "capacity")]
    assert plan.limit == 1 and Col("hostels", "hostel_id") in plan.group_by


def test_all_the_information_about_rows_shows_every_column(hostels):
    from nl2sql.semantics.rules.projection import asks_everything

    assert asks_everything("show all the information about hostels".split()) == {1, 2, 3}
    assert asks_everything("everything about the guest".split()) == {0}
    assert not asks_everything("all hostels with information desks".split())
    plan = best(hostels, "Show all the information about the hostels opened in 2020.")
    assert shown(plan) == [Col("hostels", c) for c in ("hostel_id", "hostel_name", "capacity", "opened")]


@pytest.fixture(scope="module")
def inns() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("rooms", column("room_id", "INTEGER", pk=True), column("room_name"), column("bed_type"),
              column("decor", values=("modern", "traditional", "rustic")), column("country"),
              column("number_of_hosts", "INTEGER")),
        table("hosts", column("host_id", "INTEGER", pk=True), column("host_name")),
        table("room_hosts", column("room_id", "INTEGER", pk=True), column("host_id", "INTEGER", pk=True),
              fks=(("room_id", "rooms", "room_id"), ("host_id", "hosts", "host_id"))))))


def test_a_list_of_columns_goes_on_past_a_short_owner(inns):
    plan = best(inns, "List the type of bed and name of all traditional rooms.")
    assert [c.column for c in shown(plan)] == ["bed_type", "room_name"]


def test_a_second_question_in_the_sentence_asks_for_another_column(inns):
    plan = best(inns, "What are the names of every room and in which countries are they?")
    assert [c.column for c in shown(plan)] == ["room_name", "country"]


def test_a_table_named_inside_a_measured_columns_name_is_not_joined(inns):
    plan = best(inns, "What is the average number of hosts of the rooms?")
    assert plan.base == "rooms" and not [t for t in plan.via if t != "rooms"], plan


@pytest.mark.parametrize("question, columns", [
    # the question names what it wants of the top row: what picks the row is not shown
    ("What is the name of the team with the largest stadium capacity?", [Col("teams", "team_name")]),
    # the question asks for the row itself: what ranks it is part of the answer
    ("Which team has the largest stadium capacity?", [Col("teams", "team_name"), Col("teams", "stadium_capacity")]),
])
def test_what_picks_the_top_row_is_shown_unless_the_question_names_its_columns(teams, question, columns):
    plan = best(teams, question)
    assert plan.limit == 1 and [o.expr for o in plan.select] == columns, plan.select


def test_a_count_that_only_ranks_is_not_shown_unless_asked(teams):
    plan = best(teams, "What is the name of the team with the most athletes?")
    assert [o.expr for o in plan.select] == [Col("teams", "team_name")], plan.select
    plan = best(teams, "What is the name of the team with the most athletes, and how many athletes does it have?")
    assert len(plan.select) == 2, plan.select


def test_a_column_named_by_two_tables_is_the_measured_tables():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("trips", column("trip_id", "INTEGER", pk=True), column("zip_code", "INTEGER")),
        table("weather", column("reading_id", "INTEGER", pk=True), column("zip_code", "INTEGER"),
              column("pressure", "REAL")))))
    plan = best(reader, "What is the zip code that has the lowest average pressure?")
    assert plan.group_by == (Col("weather", "zip_code"),) and plan.limit == 1, plan


@pytest.fixture(scope="module")
def clubs() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema("sqlite", table(
        "clubs", column("club_id", "INTEGER", pk=True), column("club_name", values=("Chess Club", "Hiking Club")),
        column("club_description"), column("club_location")))))


def test_where_asks_for_the_place(clubs):
    plan = best(clubs, "Where is the Chess Club located?")
    assert [o.expr for o in plan.select] == [Col("clubs", "club_location")], plan.select


def test_a_quoted_word_in_their_names_is_contained(clubs):
    from nl2sql.semantics.plan import Match

    plan = best(clubs, "How many clubs have 'Club' in their names?")
    assert isinstance(plan.where, Match) and plan.where.mode == "contains", plan.where


def test_a_column_of_the_top_row_named_with_its_owner_is_the_answer():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "submissions", column("submission_id", "INTEGER", pk=True), column("author", values=("Ann", "Bo", "Cy")),
        column("college"), column("score", "REAL")))))
    plan = best(reader, "What is the author of the submission with the highest score?")
    assert [o.expr for o in plan.select] == [Col("submissions", "author")] and plan.limit == 1, plan
    assert plan.order_by[0].expr == Col("submissions", "score") and plan.order_by[0].desc


def test_a_column_of_the_listed_table_named_in_part_is_asked():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "students", column("student_id", "INTEGER", pk=True), column("first_name", values=("Emma", "Liam", "Noah")),
        column("last_name", values=("Rohan", "Smith", "Lee")), column("email_address"), column("home_address")))))
    plan = best(reader, 'What is the email of the student with first name "Emma" and last name "Rohan"?')
    assert [o.expr for o in plan.select] == [Col("students", "email_address")], plan.select


def test_a_count_per_group_counts_rows_not_the_grouped_values():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Agg, Col, Output, QueryPlan
    from nl2sql.semantics.rules.projection import degenerate
    from tests.semantics.schemas import column, prompt_schema, table

    # a text key, and the table's word in its columns' names (foul_move): a count of the team was read first
    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("wrestlers", column("wrestler_id", "TEXT", pk=True), column("name")),
        table("foul", column("foul_id", "TEXT", pk=True), column("wrestler_id"), column("team"), column("fouled_by"),
              column("foul_move"), column("time"), fks=(("wrestler_id", "wrestlers", "wrestler_id"),)))))
    for question in ("How many fouls did each team have?", "Show each team and the number of fouls of each team."):
        readings = reader.read(question)
        plan = readings[0].plan
        assert plan.group_by == (Col("foul", "team"),), plan
        counts = [o.expr for o in plan.select if isinstance(o.expr, Agg)]
        assert counts and counts[0].arg != Col("foul", "team"), plan.select  # never 1 per team
        assert not degenerate(plan)
    shown = QueryPlan("foul", (Output("team", Col("foul", "team")),
                               Output("n", Agg("count_distinct", Col("foul", "team")))), group_by=(Col("foul", "team"),))
    assert degenerate(shown)


def test_different_values_of_a_numeric_column_are_counted_once():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Agg, Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "pupils", column("pupil_id", "INTEGER", pk=True), column("last_name"), column("tutor", "INTEGER"),
        column("sex", values=("F", "M")), column("age", "INTEGER")))))
    plan = reader.read("How many different tutors are listed?")[0].plan
    assert plan.select[0].expr == Agg("count_distinct", Col("pupils", "tutor")), plan.select
    # the column a condition fixes is no count's target: "male pupils (sex is 'M')" are counted, not their sexes
    plan = reader.read("How many male pupils (sex is 'M') are older than 12?")[0].plan
    counted = plan.select[0].expr
    assert isinstance(counted, Agg) and counted.arg != Col("pupils", "sex"), plan.select


def test_gender_names_a_sex_column_and_acc_an_account():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Col
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "members", column("member_id", "INTEGER", pk=True), column("sex", values=("F", "M")),
        column("acc_type", values=("saving", "checking")), column("acc_bal", "REAL"), column("weight", "REAL")))))
    plan = reader.read("Find the average and minimum weight for each gender.")[0].plan
    assert plan.group_by == (Col("members", "sex"),), plan
    plan = reader.read("For each account type, find the average account balance.")[0].plan
    assert plan.group_by == (Col("members", "acc_type"),) and plan.select[-1].expr.arg == Col("members", "acc_bal")


def test_a_column_shown_beside_an_aggregate_is_grouped_by():
    from nl2sql.semantics.plan import Agg, Col, Output, QueryPlan
    from nl2sql.semantics.rules.projection import grouped_outputs

    loose = QueryPlan("rooms", (Output("building", Col("rooms", "building")),
                                Output("n", Agg("count"))))
    assert grouped_outputs(loose).group_by == (Col("rooms", "building"),)
    listed = QueryPlan("rooms", (Output("building", Col("rooms", "building")),))
    assert grouped_outputs(listed) == listed  # no aggregate: a list, not a grouping
    whole = QueryPlan("rooms", (Output("n", Agg("count")),))
    assert grouped_outputs(whole) == whole


def test_how_many_of_a_plural_value_counts_the_rows_holding_it():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Agg, Col, Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "members", column("name", pk=True), column("age", "INTEGER"), column("city"),
        column("gender", values=("female", "male"))))))
    plan = reader.read("How many females are in the club?")[0].plan
    assert [o.expr for o in plan.select] == [Agg("count")], plan.select
    assert plan.where == Compare(Col("members", "gender"), "=", Lit("female"))


@pytest.fixture(scope="module")
def crews() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("vessel", column("vessel_id", "INTEGER", pk=True), column("name"), column("tonnage", "INTEGER")),
        table("sailor", column("sailor_id", "INTEGER", pk=True), column("name"), column("vessel_id", "INTEGER"),
              fks=(("vessel_id", "vessel", "vessel_id"),)))))


def test_a_general_word_names_the_column_of_the_table_named_after_it(crews):
    plan = best(crews, "Show names of sailors and the names of vessels they serve on.")
    assert shown(plan) == [Col("sailor", "name"), Col("vessel", "name")]


def test_a_general_word_inside_a_longer_name_is_not_asked_of_the_table_after_it():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("fleet", column("fleet_name", pk=True), column("home_port")),
        table("sailor", column("sailor_id", "INTEGER", pk=True), column("name"), column("fleet_name"),
              fks=(("fleet_name", "fleet", "fleet_name"),)))))
    plan = best(reader, "Find the fleet name of the sailor whose name contains 'Ahab'.")
    assert [c.column for c in shown(plan)] == ["fleet_name"]


@pytest.fixture(scope="module")
def campus() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("person", column("person_id", "INTEGER", pk=True), column("name"), column("height", "REAL")),
        table("rower", column("rower_id", "INTEGER", pk=True), column("seat", "INTEGER"),
              fks=(("rower_id", "person", "person_id"),)),
        table("faculty", column("faculty_name", pk=True), column("budget", "REAL"), column("building")),
        table("module", column("module_id", "INTEGER", pk=True), column("title"), column("faculty_name"),
              fks=(("faculty_name", "faculty", "faculty_name"),)))))


def test_a_general_word_in_the_plural_names_the_listed_tables_column(campus):
    plan = best(campus, "What are the names and budgets of faculties with budgets over 100?")
    assert shown(plan) == [Col("faculty", "faculty_name"), Col("faculty", "budget")]


def test_the_name_of_a_row_that_is_another_tables_row_is_that_tables_name(campus):
    # a rower is a person (its key is a person's key): the person holds its name
    plan = best(campus, "List the names of the rowers ordered by their heights.")
    assert Col("person", "name") in shown(plan)


def test_a_reference_holds_another_rows_name_not_the_listed_rows(campus):
    plan = best(campus, "What are the names of modules?")
    assert shown(plan) == [Col("module", "title")]


@pytest.fixture(scope="module")
def harbour() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("ferry", column("ferry_id", "INTEGER", pk=True), column("ferry"), column("home_port"),
              column("tonnage", "INTEGER")),
        table("berths", column("berth_id", "INTEGER", pk=True), column("other_berth_details"),
              column("length_m", "REAL")))))


def test_the_name_of_rows_kept_in_a_column_named_like_their_table(harbour):
    plan = best(harbour, "What are the names and home ports of all ferries ordered by tonnage?")
    assert shown(plan)[:2] == [Col("ferry", "ferry"), Col("ferry", "home_port")]


def test_the_details_asked_are_the_one_details_column(harbour):
    plan = best(harbour, "Show the details of the 2 longest berths.")
    assert shown(plan)[0] == Col("berths", "other_berth_details")


@pytest.mark.parametrize("question", [
    "Which hostels have a capacity above 40? Tell me the name and opening date of these hostels.",
    "Find the hostels with a capacity above 40. Report their names and opening dates.",
])
def test_a_second_sentence_telling_what_to_show_lists_the_columns(hostels, question):
    plan = best(hostels, question)
    assert shown(plan) == [Col("hostels", "hostel_name"), Col("hostels", "opened")]


@pytest.mark.parametrize("question", [
    "Which genres have an average price above 20?",
    "List the genres whose average price is above 20.",
])
def test_the_column_asked_beside_a_compared_aggregate_is_what_it_is_per(books, question):
    plan = best(books, question)
    assert shown(plan) == [Col("books", "genre")]
    assert plan.group_by == (Col("books", "genre"),) and plan.having is not None


def test_a_phone_number_is_a_column_not_a_count():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("lodges", column("lodge_id", "INTEGER", pk=True), column("lodge_address"), column("lodge_phone"),
              column("keeper", values=("Brenden", "Mila"))))))
    plan = best(reader, 'What are the address and phone number of the lodges kept by "Brenden"?')
    assert shown(plan) == [Col("lodges", "lodge_address"), Col("lodges", "lodge_phone")]


@pytest.fixture(scope="module")
def stage() -> Reader:
    """Invented: a performer row points at the person it is (person_id); the person has the name."""
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("persons", column("person_id", "INTEGER", pk=True), column("name"), column("weight", "REAL")),
        table("performers", column("performer_id", "INTEGER", pk=True), column("person_id", "INTEGER"),
              column("agency"), column("fee", "REAL"), fks=(("person_id", "persons", "person_id"),)))))


@pytest.mark.parametrize("question", ["What are the names of performers?",
                                      "What is the name of the performer with the highest fee?"])
def test_nameless_rows_are_named_by_the_row_they_point_at(stage, question):
    plan = stage.read(question, today=dt.date(2024, 3, 15))[0].plan
    assert [o.expr for o in plan.select] == [Col("persons", "name")], plan.dumps()


def test_a_long_list_of_columns_is_shown_whole(books):
    """ "the distinct first names, last names, cities, and join dates": every column listed, however long."""
    plan = best(books, "What are the distinct first names, last names, cities, and joined on dates for all members?")
    assert set(shown(plan)) >= {Col("members", "first_name"), Col("members", "last_name"), Col("members", "city"),
                                Col("members", "joined_on")}, plan.dumps()


def test_other_details_is_the_rows_own_detail():
    """ "the name and detail of each depot": the depot's other_details, not a farther table's vehicle_details."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("depots", column("depot_id", "INTEGER", pk=True), column("name"), column("other_details")),
        table("vehicles", column("vehicle_id", "INTEGER", pk=True), column("depot_id", "INTEGER"),
              column("vehicle_details"), fks=(("depot_id", "depots", "depot_id"),)))))
    plan = best(reader, "What is the name and detail of each depot?")
    assert shown(plan) == [Col("depots", "name"), Col("depots", "other_details")], plan.dumps()


@pytest.mark.parametrize("question", ["What are the first names and department numbers of staff with last name Ito?",
                                      "List the first name and department number of the staff."])
def test_a_number_after_a_tables_name_is_its_id(question):
    """ "department numbers" for department_id, where no column is spelt department_number."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("departments", column("department_id", "INTEGER", pk=True), column("department_name")),
        table("staff", column("staff_id", "INTEGER", pk=True), column("first_name"), column("last_name"),
              column("department_id", "INTEGER"), fks=(("department_id", "departments", "department_id"),)))))
    columns = {c.column for c in shown(best(reader, question))}
    assert columns == {"first_name", "department_id"}, columns


def test_a_column_spelt_with_number_keeps_the_name():
    """ "card number" names card_number, and no card_id, where both exist."""
    from nl2sql.semantics.lexicon import tokenize
    from nl2sql.semantics.linking import Linker
    from tests.semantics.schemas import column, prompt_schema, table

    def linked(*tables) -> set[tuple[str, str]]:
        links = Linker(build_semantic_model(prompt_schema("sqlite", *tables))).names(tokenize("the card number"))
        return {(l.table, l.column) for l in links if l.kind == "column" and l.score >= 0.9}

    payments = table("payments", column("payment_id", "INTEGER", pk=True), column("card_id", "INTEGER"),
                     column("amount", "REAL"), fks=(("card_id", "cards", "card_id"),))
    assert ("payments", "card_id") in linked(
        table("cards", column("card_id", "INTEGER", pk=True), column("holder")), payments)
    assert linked(table("cards", column("card_id", "INTEGER", pk=True), column("card_number"), column("holder")),
                  payments) == {("cards", "card_number")}


@pytest.mark.parametrize("question", ["Find all the hostel information for hostels opened in 2020.",
                                      "List the information of all hostels opened in 2020.",
                                      "Display all the details from the hostels table for hostels opened in 2020."])
def test_all_the_table_information_shows_every_column(hostels, question):
    """ "all the hostel information", "the information of all hostels", "all the details from the hostels table"."""
    from nl2sql.semantics.rules.projection import asks_everything

    assert not asks_everything("all the distinct hostel details".split())
    plan = best(hostels, question)
    assert shown(plan) == [Col("hostels", c) for c in ("hostel_id", "hostel_name", "capacity", "opened")], plan.dumps()


def test_of_two_columns_named_from_one_word_the_longer_name_is_shown():
    """ "the bunk type" names bunk_type, not bunks, though "bunk" names both."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite", table("cabins", column("cabin_id", "INTEGER", pk=True), column("cabin_name"),
                        column("bunks", "INTEGER"), column("bunk_type")))))
    plan = best(reader, "What are the bunk type and name of all the cabins?")
    assert shown(plan) == [Col("cabins", "bunk_type"), Col("cabins", "cabin_name")], plan.dumps()


@pytest.mark.parametrize("question, distinct", [
    ("What cities do the climbers live in?", True),
    ("What ranks do we have for climbers?", True),
    ("What are the cities of the climbers?", False),
    ("List the city of each climber.", False),
    ("Show each climber's city.", False),
])
def test_a_category_asked_of_the_rows_or_as_a_set(question, distinct):
    """ "what cities do the climbers live in": the set of cities; "the cities of the climbers": one per climber."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "climbers", column("climber_id", "INTEGER", pk=True), column("full_name"),
        column("city", values=("Oslo", "Bergen", "Lyon")), column("rank", values=("guide", "novice"))))))
    plan = best(reader, question)
    assert len(plan.select) == 1 and plan.select[0].expr.column in ("city", "rank"), plan.dumps()
    assert plan.distinct is distinct, plan.dumps()


@pytest.mark.parametrize("question", [
    "Show different publishers together with the number of books they have.",
    "Show all the sections along with the number of books the sections have.",
    "What are the different publishers, and how many books of each are there?",
])
def test_a_column_listed_beside_a_count_is_counted_by(question):
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "books", column("book_id", "INTEGER", pk=True), column("title"),
        column("publisher", values=("Penguin", "Vintage", "Faber")), column("section", values=("A", "B", "C"))))))
    plan = best(reader, question)
    grouped = [c.column for c in plan.group_by]
    assert grouped in (["publisher"], ["section"]), plan.dumps()
    assert Col("books", grouped[0]) in shown(plan) and any(isinstance(e, Agg) for e in shown(plan)), plan.dumps()


def test_distinct_values_of_another_tables_column_name_no_rows():
    """ "the distinct hometowns of gymnasts with ...": the hometowns only, not each gymnast's id beside them."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("people", column("people_id", "INTEGER", pk=True), column("name"), column("hometown")),
        table("gymnast", column("gymnast_id", "INTEGER", pk=True), column("total_points", "REAL"),
              fks=(("gymnast_id", "people", "people_id"),)))))
    plan = best(reader, "What are the distinct hometowns of gymnasts with total points more than 57.5?")
    assert shown(plan) == [Col("people", "hometown")] and plan.distinct, plan.dumps()
