"""How the reader links words to tables on invented schemas: plural table names, tables named inside other
tables' names, and joins that do or don't repeat rows."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model
from nl2sql.semantics.lexicon import Segmenter
from nl2sql.semantics.plan import Col
from tests.semantics.schemas import sports

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def teams() -> Reader:
    return Reader(build_semantic_model(sports("sqlite")))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def test_a_plural_ending_is_no_word_of_its_own():
    assert Segmenter({"athlete"}).split("athletes") == ["athletes"]


def test_a_plural_table_name_beside_its_singular_key_is_named_whole(teams):
    assert best(teams, "How many athletes are there?").base == "athletes"


def test_a_table_named_inside_another_tables_name_gives_way(teams):
    plan = best(teams, "How many team sponsors are there?")
    assert plan.base == "team_sponsors"
    assert set(plan.via) <= {"team_sponsors"}


def test_a_join_to_one_row_each_lists_rows_as_they_are(teams):
    plan = best(teams, "List the athletes of teams based in Oslo.")
    assert [o.expr for o in plan.select] == [Col("athletes", "name")]
    assert not plan.distinct


def test_rows_kept_by_a_count_are_grouped_by_their_key(teams):
    plan = best(teams, "Which teams have more than 3 athletes?")
    assert Col("teams", "team_id") in plan.group_by
    assert [o.expr for o in plan.select] == [Col("teams", "team_name")]


def test_values_kept_by_a_count_are_grouped_by_the_value_alone(teams):
    plan = best(teams, "Which positions have more than 2 athletes?")
    assert plan.group_by == (Col("athletes", "position"),)


@pytest.fixture(scope="module")
def staff() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema("sqlite", table(
        "staff", column("staff_id", "INTEGER", pk=True), column("first_name"), column("middle_name"),
        column("last_name"), column("home_city"), column("work_city")))))


def _shown(plan) -> list[str]:
    return [o.expr.column for o in plan.select if isinstance(o.expr, Col)]


@pytest.mark.parametrize("question, columns", [
    ("What are the first, middle, and last names of all staff?", ["first_name", "middle_name", "last_name"]),
    ("List the first and last names of the staff.", ["first_name", "last_name"]),
    ("Show the home and work cities of every staff member.", ["home_city", "work_city"]),
])
def test_a_noun_after_coordinated_modifiers_is_each_modifiers(staff, question, columns):
    assert _shown(best(staff, question)) == columns


def test_a_modifier_keeps_its_own_column_when_it_names_one(staff):
    assert _shown(best(staff, "Show the staff id and last name of every staff member.")) == ["staff_id", "last_name"]


def test_a_schema_word_clipped_from_the_questions_word_names_it():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("course", column("course_id", "INTEGER", pk=True), column("title")),
        table("prereq", column("course_id", "INTEGER", pk=True), column("prereq_id", "INTEGER", pk=True),
              fks=(("course_id", "course", "course_id"),)))))
    assert best(reader, "How many prerequisites are there?").base == "prereq"


@pytest.mark.parametrize("singular, plural", [("person", "people"), ("child", "children"), ("lens", "lenses"),
                                              ("bus", "buses"), ("course", "courses"), ("city", "cities"),
                                              ("shelf", "shelves"), ("half", "halves")])
def test_a_plural_and_its_singular_share_a_stem(singular, plural):
    from nl2sql.semantics.lexicon import stem

    assert stem(singular) == stem(plural)


def test_a_word_naming_a_table_is_the_table_not_a_value_of_it():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("nurse", column("employee_id", "INTEGER", pk=True), column("name"),
              column("position", values=("Head Nurse", "Nurse"))),
        table("appointment", column("appointment_id", "INTEGER", pk=True), column("prep_nurse", "INTEGER"),
              fks=(("prep_nurse", "nurse", "employee_id"),)))))
    plan = best(reader, "Find the name of the nurse who has the largest number of appointments.")
    assert plan.where is None and plan.limit == 1 and plan.group_by, plan


@pytest.mark.parametrize("word, one", [("instructors", "instructor"), ("categories", "category"), ("boxes", "box"),
                                       ("people", "person"), ("status", "status"), ("class", "class"),
                                       ("analysis", "analysis"), ("branches", "branch")])
def test_the_singular_of_a_plural(word, one):
    from nl2sql.semantics.lexicon import singular

    assert singular(word) == one


def test_a_plural_of_a_sampled_value_filters_by_it():
    """'Instructor' is a rank, not a table: "the instructors" are the staff of that rank. A plural that is the
    schema's own word ("names") stays a name."""
    from nl2sql.semantics.plan import Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "staff", column("staff_id", "INTEGER", pk=True), column("first_name"), column("last_name"),
        column("rank", values=("Instructor", "Professor", "Lecturer")), column("label", values=("Name", "Other"))))))
    plan = best(reader, "What are the first names and last names of all the instructors?")
    assert plan.where == Compare(Col("staff", "rank"), "=", Lit("Instructor")), plan.where
    plan = best(reader, "List the names of the staff.")
    assert plan.where is None, plan.where  # 'Name' is a label's value, but "names" is the columns' word


def test_the_owner_in_a_possessive_is_a_value_when_what_it_owns_is_named():
    from nl2sql.semantics.lexicon import tokenize
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "accounts", column("account_id", "INTEGER", pk=True), column("holder", values=("Brown", "Granger")),
        column("balance", "REAL")))))
    links = reader.linker.values(tokenize("Find the balance in Brown's account."))
    assert [(l.column, l.value) for l in links] == [("holder", "Brown")]
    assert reader.linker.values(tokenize("Who is Brown's neighbour?")) == []  # the neighbour is nothing here


def test_a_word_inside_a_columns_whole_name_is_no_value():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "images", column("image_id", "INTEGER", pk=True), column("image_name"), column("image_url"),
        column("image_alt_text", values=("Name", "Photo", "Chart"))))))
    plan = best(reader, "List all the image name and URLs in the order of their names.")
    assert plan.where is None, plan.where  # "image name" is the column, not images whose alt text is 'Name'
    assert [o.expr for o in plan.select] == [Col("images", "image_name"), Col("images", "image_url")]
    quoted = best(reader, "List the urls of images whose alt text is 'Name'.")
    assert quoted.where is not None  # a quoted value stays a value


def test_a_time_phrase_that_is_a_columns_whole_name_is_the_column():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "festivals", column("festival_id", "INTEGER", pk=True), column("theme"), column("first_year"),
        column("last_year"), column("held_on", "DATE")))))  # years kept as text, as loaded files often keep them
    plan = best(reader, "What are the first year and last year of the festivals?")
    assert [o.expr for o in plan.select] == [Col("festivals", "first_year"), Col("festivals", "last_year")]
    assert plan.where is None, plan.where  # not the festivals held last year


def test_modifiers_before_the_first_noun_are_the_second_nouns_too():
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "ref_fund_codes", column("fund_type_code", pk=True), column("fund_type_description"), column("created_on",
                                                                                                        "DATE")))))
    plan = best(reader, "List all fund type codes and descriptions.")
    assert [o.expr for o in plan.select] == [Col("ref_fund_codes", "fund_type_code"),
                                             Col("ref_fund_codes", "fund_type_description")], plan.select


@pytest.fixture(scope="module")
def faculty() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema("sqlite", table(
        "lecturers", column("lecturer_id", "INTEGER", pk=True), column("full_name"),
        column("top_degree", values=("Ph.D.", "MA", "M.Sc.")), column("unit", values=("Comp. Sci.", "Math")),
        column("contact_email", values=("ada.k@uni.example", "bo@uni.example"))))))


def _filters(plan) -> set[tuple[str, str]]:
    from nl2sql.semantics.plan import AllOf, AnyOf, Compare, Match

    items = plan.where.items if isinstance(plan.where, (AllOf, AnyOf)) else (plan.where,)
    out = set()
    for item in items:
        for leaf in (item.items if isinstance(item, AnyOf) else (item,)):
            if isinstance(leaf, Compare):
                out.add((leaf.left.column, str(leaf.right.value)))
            elif isinstance(leaf, Match):
                out.add((leaf.arg.column, leaf.text))
    return out


@pytest.mark.parametrize("question, wanted", [
    ("How many lecturers have a Ph.D. degree?", ("top_degree", "Ph.D.")),
    ("List the lecturers in the Comp. Sci. unit.", ("unit", "Comp. Sci.")),
    ("Which lecturer has the contact email ada.k@uni.example?", ("contact_email", "ada.k@uni.example")),
])
def test_a_value_written_with_dots_or_an_at_sign_is_one_value(faculty, question, wanted):
    readings = faculty.read(question, today=TODAY)
    assert wanted in _filters(readings[0].plan)
    assert not readings[0].unread and not readings[0].dropped  # "degree", "email" name the value's column


def test_a_sentences_own_full_stop_joins_no_value(faculty):
    readings = faculty.read("List the lecturers. Math unit only.", today=TODAY)
    assert ("unit", "Math") in _filters(readings[0].plan)


@pytest.fixture(scope="module")
def authors() -> Reader:
    from tests.semantics.schemas import column, prompt_schema, table

    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("writers", column("writer_id", "INTEGER", pk=True), column("given_name", values=("Ines", "Omar")),
              column("family_name", values=("Okafor", "Lindqvist"))),
        table("essays", column("essay_id", "INTEGER", pk=True), column("writer_id", "INTEGER"),
              column("heading", values=("Ines Okafor", "On tides")), fks=(("writer_id", "writers", "writer_id"),)))))


def test_a_quoted_full_name_is_read_as_first_and_last_name(authors):
    plan = best(authors, 'What are the headings of essays written by "Omar Okafor"?')
    assert _filters(plan) == {("given_name", "Omar"), ("family_name", "Okafor")}


def test_a_quoted_value_stays_whole(authors):
    # the words are a given and a family name too, but the quoted whole is a value of its own
    plan = best(authors, 'Who wrote the essay "Ines Okafor"?')
    assert ("heading", "Ines Okafor") in _filters(plan)


@pytest.fixture(scope="module")
def lending() -> Reader:
    from tests.semantics.schemas import library

    return Reader(build_semantic_model(library("sqlite")))


@pytest.mark.parametrize("question, column, value", [
    ("Which books did the member with the first name Ada borrow?", "first_name", "Ada"),
    ("How many loans did members whose last name is Okafor make?", "last_name", "Okafor"),
    ("How many loans did the member with the first name April make?", "first_name", "April"),
])
def test_a_capitalised_word_after_an_unsampled_name_column_is_its_value(lending, question, column, value):
    """Names are too varied to sample: "the member with the first name Ada" is still a filter on first_name (and
    "April" there is a name, not a month)."""
    from nl2sql.semantics.plan import Match

    plan = lending.read(question, today=dt.date(2024, 3, 15))[0].plan
    assert plan.where == Match(Col("members", column), value, "equals", False), plan.dumps()


def test_order_names_a_table_of_orders_unless_it_orders():
    """ "the latest order" names customer_orders; "in descending order" names nothing."""
    from nl2sql.semantics.lexicon import tokenize
    from nl2sql.semantics.linking import Linker
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("clients", column("client_id", "INTEGER", pk=True), column("client_name")),
        table("client_orders", column("order_id", "INTEGER", pk=True), column("client_id", "INTEGER"),
              column("order_date", "DATE"), fks=(("client_id", "clients", "client_id"),))))
    linker = Linker(model)

    def tables(question: str) -> set[str]:
        return {l.table for l in linker.names(tokenize(question)) if l.kind == "entity" and l.score >= 0.3}

    assert "client_orders" in tables("Who made the latest order?")
    assert "client_orders" not in tables("List the names in descending order of date.")


def test_a_table_is_not_named_across_a_grouping():
    """ "How many sponsors are there for each team?" names the sponsors (team_sponsors), grouped by team: "team"
    after "each" is no word of the sponsors' table."""
    from tests.semantics.schemas import sports

    reader = Reader(build_semantic_model(sports("sqlite")))
    plan = reader.read("How many sponsors are there for each team?", today=dt.date(2024, 3, 15))[0].plan
    assert plan.group_by and plan.group_by[0].table == "teams", plan.dumps()


@pytest.mark.parametrize("question, mode", [
    ('Which teams have a home city that contains "Oslo"?', "contains"),
    ('Which teams have a home city that contained the word "Oslo"?', "contains"),
    ('Which teams have a home city that started with "Oslo"?', "starts"),
])
def test_a_value_after_a_match_phrase_is_matched_not_equal(question, mode):
    """ "contains 'Oslo'" where Oslo is a sampled city: the text contained, not equality."""
    from nl2sql.semantics.plan import Match
    from tests.semantics.schemas import sports

    reader = Reader(build_semantic_model(sports("sqlite")))
    plan = reader.read(question, today=dt.date(2024, 3, 15))[0].plan
    conditions = getattr(plan.where, "items", (plan.where,))
    assert Match(Col("teams", "home_city"), "Oslo", mode, False) in conditions, plan.dumps()
    assert not any(getattr(c, "op", None) == "=" for c in conditions), plan.dumps()


def test_a_word_of_a_tables_name_before_its_short_name_is_part_of_it():
    """ "the most food vendors", where the table is street_food_vendor: "vendors" alone scores higher, and "food"
    before it still names the table, so the superlative counts the vendors."""
    from nl2sql.semantics import compile_plan
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("venue", column("id", "INTEGER", pk=True), column("name")),
        table("street_food_vendor", column("id", "INTEGER", pk=True), column("name"), column("cuisine")),
        table("vendor_permit", column("vendor_id", "INTEGER"), column("venue_id", "INTEGER"),
              column("issued_year", "INTEGER"),
              fks=(("vendor_id", "street_food_vendor", "id"), ("venue_id", "venue", "id")))))
    reading = Reader(model).read("What is the name of the venue that hosts the most food vendors?", today=TODAY)[0]
    sql = compile_plan(reading.plan, model)
    assert "ORDER BY COUNT" in sql and "LIMIT 1" in sql, sql
    assert "food" not in reading.unread, reading.unread


@pytest.mark.parametrize("question, expected", [
    ("How old is the pilot named Zach?", "age"),
    ("On average, how old are the pilots?", "age"),
])
def test_how_old_asks_for_the_age(question, expected):
    from nl2sql.semantics.plan import Agg
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "pilots", column("pilot_id", "INTEGER", pk=True), column("name"), column("age", "INTEGER"),
        column("rank", values=("captain", "first officer"))))))
    plan = best(reader, question)
    shown = [o.expr.arg if isinstance(o.expr, Agg) else o.expr for o in plan.select]
    assert Col("pilots", expected) in shown, plan.dumps()


def test_a_stop_word_is_a_code_only_as_the_code_is_written():
    """ "the distinct currency codes in all the offices" where a code 'IN' is sampled: no filter on India; "the
    offices with country code IN" still finds it."""
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "offices", column("office_id", "INTEGER", pk=True), column("city"),
        column("country_code", values=("IN", "US", "FR")), column("currency_code", values=("INR", "USD", "EUR"))))))
    plan = best(reader, "What are the distinct country codes in all the offices?")
    assert plan.where is None, plan.dumps()
    plan = best(reader, "Which cities have offices with country code IN?")
    assert '"value":"IN"' in plan.dumps(), plan.dumps()


def test_a_join_goes_through_the_bridge_not_up_to_a_shared_parent_and_down():
    """Students and courses both belong to a department and meet in enrollments: "students who have taken
    Statistics courses" joins the enrollments (who took what), not the department the two share."""
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("department", column("dept_name", pk=True), column("building")),
        table("student", column("student_id", "INTEGER", pk=True), column("name"), column("dept_name"),
              fks=(("dept_name", "department", "dept_name"),)),
        table("course", column("course_id", "INTEGER", pk=True), column("title"), column("dept_name"),
              fks=(("dept_name", "department", "dept_name"),)),
        table("enrollment", column("student_id", "INTEGER", pk=True), column("course_id", "INTEGER", pk=True),
              column("grade"), fks=(("student_id", "student", "student_id"), ("course_id", "course", "course_id")))))
    assert [e.right for e in model.path("student", "course")] == ["enrollment", "course"]
    assert [e.right for e in model.path("student", "department")] == ["department"]


def test_a_qualified_reference_is_joined_though_nobody_declared_it():
    """`rides.start_dock_id` with no foreign key: a qualifier, the docks' name and a key word point at the
    docks (the first such column joins them)."""
    from nl2sql.semantics import compile_plan
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("dock", column("id", "INTEGER", pk=True), column("name"), column("city"),
              column("dock_count", "INTEGER")),
        table("rides", column("id", "INTEGER", pk=True), column("duration", "INTEGER"),
              column("start_dock_id", "INTEGER"), column("end_dock_id", "INTEGER"))))
    [edge] = model.path("rides", "dock")
    assert edge.pairs == (("start_dock_id", "id"),)
    reader = Reader(model)
    plan = best(reader, "What is the id of the ride that started from the dock with the highest dock count?")
    assert '"column":"dock_count"' in plan.dumps() and plan.limit == 1 and plan.order_by[0].desc, plan.dumps()
    assert "start_dock_id" in compile_plan(plan, model)
