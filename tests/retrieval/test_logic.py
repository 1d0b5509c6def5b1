"""Pure retrieval logic: joins, value grounding, keyword queries, the hashing embedder, settings."""

from __future__ import annotations

import math

import pytest

from nl2sql.catalog import ForeignKey, JoinHint, PromptColumn, PromptTable
from nl2sql.retrieval import HashingEmbedder
from nl2sql.retrieval.index import keyword_query
from nl2sql.retrieval.joins import JoinGraph
from nl2sql.retrieval.values import ValueIndex
from nl2sql.retrieval.view import NameIndex
from nl2sql.settings import RetrievalSettings, SettingsError


def column(name: str, *, pk: bool = False, values=None, sensitive: bool = False) -> PromptColumn:
    return PromptColumn(name, "TEXT", "", "", (), True, pk, sensitive, values)


def table(name: str, *columns: PromptColumn, fks=()) -> PromptTable:
    return PromptTable(None, name, "", "", (), None, columns or (column("id", pk=True),), tuple(fks))


def fk(col: str, ref: str) -> ForeignKey:
    return ForeignKey((col,), None, ref, ("id",))


CHAIN = (
    table("a", column("id", pk=True)),
    table("b", column("id", pk=True), column("a_id"), fks=[fk("a_id", "a")]),
    table("c", column("id", pk=True), column("b_id"), fks=[fk("b_id", "b")]),
    table("d", column("id", pk=True), column("c_ref")),
    table("lonely", column("id", pk=True)),
)


def test_bridge_tables_are_the_shortest_path_between_chosen_tables():
    graph = JoinGraph(CHAIN, (JoinHint(1, "d", "c", (("c_ref", "id"),)),))
    assert graph.connect(["a", "c"]) == ["b"]
    assert graph.connect(["a", "d"]) == ["b", "c"]
    assert graph.connect(["c", "d"]) == []


def test_unconnected_tables_bring_no_bridges():
    graph = JoinGraph(CHAIN, ())
    assert graph.connect(["a", "lonely"]) == []
    assert graph.connect(["a", "d"]) == []


def test_join_columns_cover_both_sides_of_keys_and_hints():
    graph = JoinGraph(CHAIN, (JoinHint(1, "d", "c", (("d.c_ref", "c.id"),)),))
    keep = graph.join_columns({"b", "c", "d"})
    assert keep["c"] == {"b_id", "id"}
    assert keep["d"] == {"c_ref"}
    assert keep["b"] == {"id"}


VALUES = (
    table("customers", column("id", pk=True), column("state", values=("CA", "NY", "TX")),
          column("tier", values=("gold", "silver")), column("secret", values=None, sensitive=True)),
    table("cities", column("name", values=("New York", "San Francisco", "Boston"))),
)


def test_exact_values_match_case_insensitively_and_best_first():
    matches = ValueIndex(VALUES).match("Gold customers in san francisco", threshold=0.55, limit=10)
    found = {(m.table, m.column, m.value): m.score for m in matches}
    assert found[("customers", "tier", "gold")] == 1.0
    assert found[("cities", "name", "San Francisco")] == 1.0


def test_state_names_find_state_codes_and_short_codes_need_their_case():
    index = ValueIndex(VALUES)
    assert [(m.value, m.score) for m in index.match("customers in Texas", threshold=0.55, limit=5)] == [("TX", 0.95)]
    assert [m.value for m in index.match("customers in CA", threshold=0.55, limit=5)] == ["CA"]
    # `ca` or `ny` written in lower case inside a sentence is not taken for a code
    assert index.match("a ca. estimate of ny things", threshold=0.55, limit=5) == []


def test_fuzzy_matches_need_similarity_and_the_same_number_of_words():
    index = ValueIndex(VALUES)
    typo = index.match("orders shipped to Bostn", threshold=0.4, limit=5)
    assert typo and typo[0].value == "Boston" and typo[0].score < 1
    assert index.match("orders shipped to Berlin", threshold=0.55, limit=5) == []
    assert all(m.value != "New York" for m in index.match("the newest yorkshire", threshold=0.55, limit=5))


def test_keyword_queries_are_sanitised_or_terms():
    assert keyword_query("How many Customers' orders & <invoices>?!") == "customer | order | invoice"
    assert keyword_query("what is the number of them") is None
    assert "'" not in (keyword_query("O'Brien's ) | ( drop") or "")


def test_identifiers_are_found_by_words_they_contain():
    index = NameIndex({("table", "sbcustomer"): "sbCustomer", ("table", "sbtransaction"): "sbTransaction"})
    found = index.match(["customer", "transaction", "cust"])
    assert set(found) == {("table", "sbcustomer"), ("table", "sbtransaction")}
    assert found[("table", "sbcustomer")] == pytest.approx(8 / 10)


async def test_hashing_embedder_is_deterministic_unit_length_and_word_sensitive():
    embedder = HashingEmbedder()
    a, b, c = await embedder.embed(["customer orders", "orders of customers", "warehouse capacity"])
    assert a == (await embedder.embed(["customer orders"]))[0]
    assert len(a) == embedder.dimension == 384
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-9)
    dot = lambda x, y: sum(p * q for p, q in zip(x, y, strict=True))  # noqa: E731
    assert dot(a, b) > 0.8 > 0.3 > dot(a, c)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("table_min_ratio", 1.5, "NL2SQL_RETRIEVAL_TABLE_MIN_RATIO must be between 0 and 1"),
    ("max_tables", 0, "NL2SQL_RETRIEVAL_MAX_TABLES must be at least 1"),
    ("golden_min_score", -0.1, "NL2SQL_RETRIEVAL_GOLDEN_MIN_SCORE must be between 0 and 1"),
])
def test_settings_refuse_out_of_range_values(field, value, message):
    with pytest.raises(SettingsError, match=message):
        RetrievalSettings(**{field: value})


def test_weights_cannot_both_be_zero():
    with pytest.raises(SettingsError, match="can't both be 0"):
        RetrievalSettings(vector_weight=0, keyword_weight=0)
