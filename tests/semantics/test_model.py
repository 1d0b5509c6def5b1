"""The semantic model read off a catalog: roles, keys, labels, time, joins (declared, hinted and by name)."""

from __future__ import annotations

from nl2sql.catalog import JoinHint
from nl2sql.semantics import build_semantic_model, describe
from nl2sql.semantics.plan import Agg, Col, Compare, Lit, Order, Output, QueryPlan
from tests.semantics.schemas import column, library, prompt_schema, table, web_shop


def test_roles_keys_labels_and_time_come_from_names_and_types():
    model = build_semantic_model(library())
    books = model.entity("books")
    assert books.key == ("id",) and books.label == "title" and books.time == "published_on"
    roles = {a.name: a.role for a in books.attributes}
    assert roles == {"id": "key", "title": "label", "genre": "dimension", "pages": "measure", "price": "measure",
                     "published_on": "time"}
    assert {a.name: a.aggregate for a in books.attributes}["price"] == "avg"  # prices are averaged, not added
    members = model.entity("members")
    assert members.label is None and members.label_parts == ("first_name", "last_name")
    assert members.attribute("is_active").role == "flag"
    assert model.entity("book_authors").bridge


def test_run_together_names_are_split_and_joined_by_their_hints():
    model = build_semantic_model(web_shop())
    order = model.entity("shoporder")
    assert order.words == ("order",)  # the shared "shop" is dropped
    assert order.attribute("ordertotal").core_words == ("total",)
    assert model.path("shoporder", "shopcustomer")[0].pairs == (("ordercustid", "custid"),)


def test_joins_nobody_declared_are_found_by_name():
    schema = prompt_schema(
        "sqlite",
        table("customers", column("customer_id", "INTEGER", pk=True), column("name")),
        table("invoices", column("invoice_id", "INTEGER", pk=True), column("customer_id", "INTEGER"),
              column("total", "NUMERIC")),
    )
    model = build_semantic_model(schema)
    [edge] = model.path("invoices", "customers")
    assert edge.pairs == (("customer_id", "customer_id"),) and edge.source == "name"


def test_a_declared_join_is_not_doubled_by_a_look_alike_name():
    # offering_instructor.offering_id points at course_offering (declared); a table `offer` with an `id` is no
    # second target for it, though "offering_id" reads as "offer id"
    schema = prompt_schema(
        "sqlite",
        table("course_offering", column("offering_id", "INTEGER", pk=True), column("semester")),
        table("offering_instructor", column("offering_instructor_id", "INTEGER", pk=True),
              column("offering_id", "INTEGER"), column("instructor_id", "INTEGER"),
              fks=(("offering_id", "course_offering", "offering_id"),)),
        table("offer", column("id", "INTEGER", pk=True), column("amount", "NUMERIC")),
        table("instructor", column("instructor_id", "INTEGER", pk=True), column("name")),
    )
    model = build_semantic_model(schema)
    assert model.path("offering_instructor", "offer") is None
    [edge] = model.path("offering_instructor", "instructor")
    assert edge.source == "name" and edge.pairs == (("instructor_id", "instructor_id"),)


def test_a_family_of_run_together_names_loses_its_prefix_among_other_tables():
    family = [table(name, column(f"{name}id", "INTEGER", pk=True), column(f"{name}name"), column(f"{name}code"))
              for name in ("sbcustomer", "sbticker", "sbtransaction")]
    others = [table(name, column("id", "INTEGER", pk=True), column("name"))
              for name in ("customer_zone", "sbcustomer_archive", "coupon", "contract", "course")]
    model = build_semantic_model(prompt_schema("sqlite", *family, *others))
    assert model.entity("sbcustomer").words == ("custom",) and model.entity("sbticker").words == ("ticker",)
    assert model.entity("coupon").words == ("coupon",) and model.entity("course").words == ("cours",)


def test_each_pair_of_a_join_hint_is_one_way_to_join():
    schema = prompt_schema(
        "sqlite",
        table("airports", column("code", pk=True), column("city")),
        table("flights", column("flight_id", "INTEGER", pk=True), column("from_airport"), column("to_airport")),
        hints=(JoinHint(1, "flights", "airports", (("from_airport", "code"), ("to_airport", "code"))),),
    )
    model = build_semantic_model(schema)
    edges = [e for e in model.joins if {e.left, e.right} == {"flights", "airports"}]
    assert sorted(e.pairs for e in edges) == [(("from_airport", "code"),), (("to_airport", "code"),)]


def test_the_admins_corrections_win():
    schema = library()
    corrections = {"books.pages": {"role": "dimension"}, "books": {"label": "genre", "time": ""},
                   "books.price": {"aggregate": "max"}}
    model = build_semantic_model(schema, corrections)
    books = model.entity("books")
    assert books.attribute("pages").role == "dimension" and books.label == "genre"
    assert books.attribute("price").aggregate == "max"


def test_a_plan_reads_as_one_line_of_english():
    model = build_semantic_model(library())
    plan = QueryPlan("books", (Output("genre", Col("books", "genre")), Output("avg", Agg("avg", Col("books", "price")))),
                     where=Compare(Col("books", "pages"), ">", Lit(100)), group_by=(Col("books", "genre"),),
                     order_by=(Order(Agg("avg", Col("books", "price")), desc=True),), limit=3)
    assert describe(plan, model) == (
        "average price of books by genre, where pages over 100, highest average price first, top 3")


def test_a_text_column_of_dates_is_time():
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema("sqlite", table(
        "visits", column("visit_id", "INTEGER", pk=True), column("visited_on", values=("2024-01-03", "2024-02-11")),
        column("checked_in", values=("2024-01-03 09:15:00", "2024-02-11 17:40:00")),
        column("notes", values=("late", "2024-01-03")), column("start_date"))))
    visits = model.entity("visits")
    assert (visits.by_name["visited_on"].role, visits.by_name["visited_on"].grain) == ("time", "date")
    assert visits.by_name["checked_in"].grain == "timestamp"
    assert visits.by_name["notes"].role != "time"  # one date among words: a text
    assert visits.by_name["start_date"].role == "time"  # nothing sampled: its name says date


def test_numbers_that_name_are_no_amounts():
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema("sqlite", table(
        "stations", column("station_id", "INTEGER", pk=True), column("zip_code", "INTEGER"),
        column("area_code", "INTEGER"), column("docks", "INTEGER"))))
    stations = model.entity("stations")
    assert stations.by_name["zip_code"].role == stations.by_name["area_code"].role == "dimension"
    assert stations.by_name["docks"].role == "measure"


def test_a_table_others_point_at_is_no_bridge_whatever_its_key():
    from tests.semantics.schemas import column, prompt_schema, table

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("classrooms", column("building", pk=True), column("room_number", pk=True), column("capacity", "INTEGER")),
        table("courses", column("course_id", "INTEGER", pk=True), column("title")),
        table("sections", column("section_id", "INTEGER", pk=True), column("course_id", "INTEGER"),
              column("building"), column("room_number"),
              fks=(("course_id", "courses", "course_id"), ("building", "classrooms", "building"))),
        table("teaches", column("teacher_id", "INTEGER", pk=True), column("course_id", "INTEGER", pk=True),
              fks=(("course_id", "courses", "course_id"), ("teacher_id", "teachers", "teacher_id"))),
        table("teachers", column("teacher_id", "INTEGER", pk=True), column("teacher_name"))))
    assert not model.entity("classrooms").bridge
    assert model.entity("teaches").bridge


def test_a_foreign_key_declared_in_another_case_joins_the_columns_as_spelt():
    from nl2sql.semantics import compile_plan

    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("client", column("client_ID", "INTEGER", pk=True), column("client_name")),
        table("invoice", column("invoice_ID", "INTEGER", pk=True), column("client_ID", "INTEGER"),
              column("total", "REAL"), fks=(("Client_id", "client", "CLIENT_ID"),))))
    assert model.path("invoice", "client")[0].pairs == (("client_ID", "client_ID"),)
    plan = QueryPlan("invoice", (Output("client_name", Col("client", "client_name")),))
    assert 'invoice."client_ID" = client."client_ID"' in compile_plan(plan, model, "sqlite")


def test_a_number_column_named_for_when_something_happened_holds_a_year():
    model = build_semantic_model(prompt_schema(
        "sqlite", table("club", column("club_id", "INTEGER", pk=True), column("founded", "INTEGER"),
                        column("members", "INTEGER"))))
    assert (model.attribute("club", "founded").role, model.attribute("club", "founded").grain) == ("time", "year")
    assert model.attribute("club", "members").role == "measure"


def test_a_one_letter_owner_before_a_general_word_is_split():
    """ "bname" is a bank's name ("b" + "name"), so it names the rows; "dname" likewise."""
    model = build_semantic_model(prompt_schema(
        "sqlite",
        table("lenders", column("lender_id", "INTEGER", pk=True), column("bname"), column("city")),
        table("units", column("dnumber", "INTEGER", pk=True), column("dname"), column("ptype"))))
    assert model.attribute("lenders", "bname").words == ("b", "name")
    assert model.entity("lenders").display == ("bname",)
    assert model.entity("units").display == ("dname",)
