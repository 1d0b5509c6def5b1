"""The judging rule on hand-made cases: column order, aliases, extra columns, duplicate rows, ordering, float
tolerance, several gold alternatives and {a, b} expansion."""

from __future__ import annotations

from nl2sql.evaluation.judge import Table, asks_for_order, gold_alternatives, judge, match, order_index


def t(cols, *rows, order=None) -> Table:
    return Table(tuple(cols) if not isinstance(cols, str) else (cols,), tuple(rows), order)


def test_column_order_and_aliases_do_not_matter():
    gold = t(("name", "total"), ("a", 3), ("b", 5))
    assert match(t(("amount", "who"), (3, "a"), (5, "b")), [gold], False) == "subset"  # renamed: matched by values
    assert match(t(("total", "name"), (3, "a"), (5, "b")), [gold], False) == "exact"


def test_extra_columns_are_allowed_but_missing_ones_and_extra_rows_are_not():
    gold = t(("n",), (3,), (5,))
    assert match(t(("id", "n"), (1, 3), (2, 5)), [gold], False) == "subset"
    assert match(t(("id",), (1,), (2,)), [gold], False) is None
    assert match(t(("n",), (3,), (5,), (7,)), [gold], False) is None


def test_duplicate_rows_count_once():
    assert match(t(("n", "x"), (1, "a"), (1, "a")), [t(("n", "x"), (1, "a"))], False) == "exact"


def test_row_order_counts_only_where_asked_in_the_order_of_the_first_order_by_item():
    gold = t(("n", "x"), (3, "a"), (1, "b"), (1, "c"), order=0)
    assert judge(t(("n", "x"), (1, "b"), (3, "a"), (1, "c")), [gold], ordered=False)
    assert not judge(t(("n", "x"), (1, "b"), (3, "a"), (1, "c")), [gold], ordered=True)
    assert judge(t(("n", "x"), (3, "a"), (1, "c"), (1, "b")), [gold], ordered=True)  # ties in any order
    assert asks_for_order("List the names sorted by age") and asks_for_order("anything", "order_by")
    assert not asks_for_order("How many orders are there?")


def test_floats_within_the_tolerance():
    assert judge(t("avg", (3.000001,)), [t("avg", (3.0,))], False)
    assert not judge(t("avg", (3.01,)), [t("avg", (3.0,))], False)


def test_several_gold_alternatives_and_interchangeable_columns():
    assert gold_alternatives("SELECT {a, b} FROM t GROUP BY {};SELECT c FROM t") == [
        "SELECT a FROM t GROUP BY a", "SELECT b FROM t GROUP BY b", "SELECT a, b FROM t GROUP BY a, b",
        "SELECT c FROM t"]
    golds = [t("a", (1,)), t("c", (9,))]
    assert match(t("c", (9,)), golds, False) == "exact"


def test_order_index_finds_the_first_order_by_item():
    assert order_index("SELECT a, COUNT(*) AS n FROM t GROUP BY a ORDER BY n DESC", ("a", "n")) == 1
    assert order_index("SELECT a, b FROM t ORDER BY t.b", ("a", "b")) == 1
    assert order_index("SELECT a, b FROM t ORDER BY 1", ("a", "b")) == 0
    assert order_index("SELECT a FROM t", ("a",)) is None
