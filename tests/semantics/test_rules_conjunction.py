"""Two values of one column in one question (semantics/rules/conjunction.py) and made-up short forms in column
names (lexicon.expand_name_parts), on invented schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.semantics import Reader, build_semantic_model, compile_plan
from nl2sql.semantics.lexicon import abbreviates, everyday_word, expand_name_parts
from nl2sql.semantics.plan import AllOf, AnyOf, InList, Related
from tests.semantics.schemas import column, prompt_schema, table

TODAY = dt.date(2024, 3, 15)


@pytest.fixture(scope="module")
def pets() -> Reader:
    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("owners", column("owner_id", "INTEGER", pk=True), column("owner_name"), column("town")),
        table("pets", column("pet_id", "INTEGER", pk=True), column("owner_id", "INTEGER"), column("pet_name"),
              column("species", values=("dog", "cat", "parrot", "rabbit")),
              fks=(("owner_id", "owners", "owner_id"),)),
        table("performances", column("performance_id", "INTEGER", pk=True), column("band"),
              column("stage", values=("North", "South", "Tent"))),
    )))


@pytest.fixture(scope="module")
def school() -> Reader:
    """Columns named the way old schemas name them: StuID, LName, Fname, crs_code, stu_hrs."""
    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("Student", column("StuID", "INTEGER", pk=True), column("LName"), column("Fname"),
              column("Age", "INTEGER"), column("stu_hrs", "INTEGER")),
        table("Course", column("crs_code", pk=True), column("crs_description"), column("crs_credit", "REAL")),
        table("Enrolled", column("StuID", "INTEGER"), column("crs_code"),
              fks=(("StuID", "Student", "StuID"), ("crs_code", "Course", "crs_code"))),
    )))


def best(reader: Reader, question: str):
    readings = reader.read(question, today=TODAY)
    assert readings, f"no reading of {question!r}"
    return readings[0].plan


def _items(where):
    return list(where.items) if isinstance(where, AllOf) else [where]


def test_both_values_in_a_related_table_are_two_exists(pets):
    plan = best(pets, "Which owners have both a dog and a cat?")
    assert plan.base == "owners"
    related = [c for c in _items(plan.where) if isinstance(c, Related)]
    assert len(related) == 2 and not any(r.negate for r in related)
    assert {r.where.right.value for r in related} == {"dog", "cat"}
    assert "EXISTS" in compile_plan(plan, pets.model, "sqlite")


def test_both_values_of_the_listed_table_group_and_keep_both(pets):
    plan = best(pets, "Which bands played on both the North stage and the South stage?")
    assert plan.base == "performances"
    assert any(isinstance(c, InList) for c in _items(plan.where))
    assert plan.having is not None and plan.having.right.value == 2
    assert [o.expr.column for o in plan.select] == ["band"]


def test_either_value_is_one_condition(pets):
    plan = best(pets, "List the names of owners with a pet of species 'dog' or a pet of species 'parrot'.")
    conditions = _items(plan.where)
    assert any(isinstance(c, AnyOf | InList) for c in conditions), plan.where
    assert not (isinstance(plan.where, AllOf) and len(plan.where.items) >= 2)


def test_short_forms_are_spelt_out_from_the_schemas_own_words():
    full = {"student": 3, "course": 2, "employee": 1, "agent": 2}
    assert expand_name_parts(["stu", "id"], full) == ["student", "id"]
    assert expand_name_parts(["crs", "code"], full) == ["course", "code"]
    # "emp" is a short form every schema uses: lexicon.ABBREVIATIONS spells it out when it is stemmed
    assert expand_name_parts(["emp", "fname"], full) == ["emp", "first", "name"]
    assert expand_name_parts(["l", "name"], full) == ["last", "name"]
    assert expand_name_parts(["age"], full) == ["age"]  # an everyday word stays itself, though "agent" starts so
    assert expand_name_parts(["zzq"], full) == ["zzq"]  # nothing it could stand for
    assert abbreviates("hrs", "hours") and abbreviates("stu", "student") and abbreviates("prof", "professor")
    assert not abbreviates("hrs", "harbor") and not abbreviates("st", "salt") and not abbreviates("cr", "course")
    assert everyday_word("grade") and not everyday_word("crs")


def test_questions_reach_abbreviated_columns(school):
    plan = best(school, "What are the first names of students older than 20?")
    assert [o.expr.column for o in plan.select] == ["Fname"]
    plan = best(school, "Show the last name and age of every student.")
    assert {o.expr.column for o in plan.select} == {"LName", "Age"}
    plan = best(school, "What is the description of the course with code 'ACCT-211'?")
    assert [o.expr.column for o in plan.select] == ["crs_description"]


def test_two_ranges_of_one_column_no_row_meets_ask_for_groups_with_rows_of_each():
    from nl2sql.semantics import Reader, build_semantic_model
    from nl2sql.semantics.plan import Agg, Col, Compare, Lit
    from tests.semantics.schemas import column, prompt_schema, table

    reader = Reader(build_semantic_model(prompt_schema("sqlite", table(
        "pilots", column("pilot_id", "INTEGER", pk=True), column("pilot_name"),
        column("position", values=("Captain", "First Officer")), column("join_year", "INTEGER")))))
    plan = reader.read("Show the positions that have both pilots who joined after 2005 and pilots who joined "
                       "before 2000.", today=dt.date(2024, 3, 15))[0].plan
    assert plan.group_by == (Col("pilots", "position"),) and plan.where is None, plan
    assert set(plan.having.items) == {
        Compare(Agg("count", None, Compare(Col("pilots", "join_year"), ">=", Lit(2006))), ">", Lit(0)),
        Compare(Agg("count", None, Compare(Col("pilots", "join_year"), "<", Lit(2000))), ">", Lit(0))}, plan.having


def test_the_column_both_values_belong_to_is_not_shown(pets):
    """Each owner is listed once: the species differs between the two related rows, so showing it would list the
    owner once per pet."""
    plan = best(pets, "List the owner names and species of owners who have both a dog and a cat.")
    assert [o.expr.column for o in plan.select] == ["owner_name"]
    assert "pets" not in plan.via


@pytest.fixture(scope="module")
def peaks() -> Reader:
    return Reader(build_semantic_model(prompt_schema(
        "sqlite",
        table("peaks", column("peak_id", "INTEGER", pk=True), column("peak_name"), column("height", "REAL"),
              column("prominence", "REAL"), column("range_name", values=("Alps", "Andes", "Atlas")),
              column("first_climbed", "INTEGER")),
    )))


@pytest.mark.parametrize("question", [
    "Show the names of peaks with height more than 5000 or prominence more than 1000.",
    "Which peaks are either in the Andes or have a height above 5000?",
    "List the peaks with a prominence under 300 or in the Atlas range.",
])
def test_two_conditions_joined_by_or_are_one_condition(peaks, question):
    plan = best(peaks, question)
    assert isinstance(plan.where, AnyOf) and len(plan.where.items) == 2, plan.where
    assert plan.having is None and not plan.group_by
