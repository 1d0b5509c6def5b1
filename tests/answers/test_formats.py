"""Numbers shown by their meaning: money in the catalog's currency, shares as percent, sensible decimals;
durations people read."""

from __future__ import annotations

import decimal
from types import SimpleNamespace

import pytest

from nl2sql.answers.charts import classify_columns
from nl2sql.answers.formats import ColumnFormat, catalog_currencies, column_formats, currency_named, formatted_spec
from nl2sql.answers.results import csv_chunks
from nl2sql.web import human_duration


def col(name: str, type_: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, type=type_)


def formats_of(columns, rows, currencies=None) -> dict[str, ColumnFormat]:
    found = column_formats(classify_columns(columns, rows), rows, currencies)
    return {f.name: f for f in found}


CATALOG = [SimpleNamespace(columns=[
    SimpleNamespace(name="amount", description="Amount paid in USD", business_name=""),
    SimpleNamespace(name="unit_price", description="Price per unit at the time of the order, in USD", business_name=""),
    SimpleNamespace(name="quantity", description="Units ordered", business_name=""),
])]


def test_names_the_currency_a_description_gives():
    assert currency_named("Amount paid in USD") == "USD"
    assert currency_named("Preis in Euro") == "EUR"
    assert currency_named("Price in Canadian dollars") == "CAD"
    assert currency_named("Units ordered") is None
    assert catalog_currencies(CATALOG) == {"amount": "USD", "unit_price": "USD"}


def test_an_average_shows_two_decimals_with_separators_not_thirteen():
    rows = [("books", 1234.5678901234567), ("toys", 12.3456789012345)]
    found = formats_of([col("category", "text"), col("avg_quantity", "number")], rows)
    assert found["avg_quantity"].show(rows[0][1]) == "1,234.57"
    assert found["avg_quantity"].show(rows[1][1]) == "12.35"
    assert found["category"].show("books") == "books"


def test_money_carries_the_catalogs_currency_when_it_names_one():
    rows = [("card", decimal.Decimal("10234.50")), ("paypal", decimal.Decimal("-3.10"))]
    found = formats_of([col("method", "text"), col("revenue", "number")], rows, catalog_currencies(CATALOG))
    assert found["revenue"].kind == "money" and found["revenue"].unit == "USD"
    assert found["revenue"].show(rows[0][1]) == "$10,234.50"
    assert found["revenue"].show(rows[1][1]) == "-$3.10"
    assert found["revenue"].header == "revenue (USD)"
    # a column named after a catalog money column takes that column's currency
    exact = formats_of([col("avg_unit_price", "number")], [(12.0,)], {"unit_price": "EUR"})
    assert exact["avg_unit_price"].show(12.0) == "€12.00"


def test_money_without_a_named_currency_has_no_unit():
    found = formats_of([col("method", "text"), col("revenue", "number")], [("card", 1500.0), ("cash", 20.25)])
    assert found["revenue"].unit is None and found["revenue"].show(1500.0) == "1,500.00"  # one shape per column
    assert found["revenue"].show(20.25) == "20.25"


def test_shares_show_as_percent_whether_a_fraction_or_already_in_percent():
    fractions = [("card", 0.129), ("paypal", 0.871)]
    found = formats_of([col("method", "text"), col("share", "number")], fractions)
    assert found["share"].kind == "fraction" and found["share"].show(0.129) == "12.9%"
    percents = [("card", 61.2), ("paypal", 38.8)]
    found = formats_of([col("method", "text"), col("percent", "number")], percents)
    assert found["percent"].show(61.2) == "61.2%" and found["percent"].header == "percent (%)"
    ratio = formats_of([col("store", "text"), col("price_ratio", "number")], [("a", 2.5), ("b", 3.25)])
    assert ratio["price_ratio"].kind == "decimal" and ratio["price_ratio"].show(2.5) == "2.50"


def test_counts_ids_and_years_keep_their_own_shape():
    rows = [(2023, 1204, 17), (2024, 98765, 18)]
    found = formats_of([col("year", "integer"), col("orders", "integer"), col("customer_id", "integer")], rows)
    assert found["orders"].show(98765) == "98,765"
    assert found["year"].show(2024) == "2024" and found["customer_id"].show(17) == "17"
    assert found["orders"].show(None) == ""


def test_the_chart_spec_gets_axis_formats_units_and_a_number_cards_text():
    spec = {"encoding": {"x": {"field": "method", "type": "nominal", "title": "Method"},
                         "y": {"field": "revenue", "type": "quantitative", "title": "Revenue", "format": ",.2~f"},
                         "tooltip": [{"field": "share", "type": "quantitative", "title": "Share"}]}}
    formats = [ColumnFormat("method"), ColumnFormat("revenue", "money", "USD"), ColumnFormat("share", "fraction")]
    out = formatted_spec(spec, formats)
    assert out["encoding"]["y"]["title"] == "Revenue (USD)" and out["encoding"]["y"]["axis"] == {"format": ",.2~f"}
    assert "format" not in out["encoding"]["y"]  # axes take their format from `axis`
    assert out["encoding"]["tooltip"][0]["format"] == ".1%"
    assert spec["encoding"]["y"]["title"] == "Revenue"  # the cached spec is left as it was
    card = formatted_spec({"kind": "number", "field": "avg_amount", "value": 53.456789123},
                          [ColumnFormat("avg_amount", "money", "USD")])
    assert card["text"] == "$53.46"


def test_the_csv_header_carries_the_unit_and_the_values_keep_full_precision():
    columns = [col("method", "text"), col("revenue", "number")]
    body = b"".join(csv_chunks(columns, [("card", 1234.5678901234)], headers=["method", "revenue (USD)"])).decode()
    assert body.splitlines() == ["method,revenue (USD)", "card,1234.5678901234"]


@pytest.mark.parametrize(("ms", "shown"), [
    (0, "0 ms"), (45, "45 ms"), (999.4, "999 ms"), (1234, "1.2 s"), (12_400, "12 s"), (59_400, "59 s"),
    (332_756, "5 min 33 s"), (120_000, "2 min"), (7_530_000, "2 h 05 min"), (None, ""),
])
def test_durations_read_as_people_say_them(ms, shown):
    assert human_duration(ms) == shown


def test_an_admins_metric_format_wins_over_what_its_name_suggests():
    from nl2sql.answers.formats import metric_formats
    from nl2sql.catalog import Metric

    schema = SimpleNamespace(metrics=(Metric(1, 1, "metric", "average order value", "x", format="currency"),
                                      Metric(2, 1, "metric", "margin rate", "y", format="percent"),
                                      Metric(3, 1, "segment", "active", "z")))
    declared = metric_formats(schema)
    assert declared == {"average_order_value": "currency", "margin_rate": "percent"}
    columns = [col("category", "text"), col("average_order_value", "number"), col("margin_rate", "number")]
    rows = [("Books", 41.5, 12.25), ("Toys", 38.0, 9.5)]
    found = {f.name: f for f in column_formats(classify_columns(columns, rows), rows, {"amount": "USD"}, declared)}
    assert found["average_order_value"].kind == "money" and found["average_order_value"].currency == "USD"
    assert found["margin_rate"].kind == "percent" and found["margin_rate"].show(9.5) == "9.5%"
    assert formats_of(columns, rows, {"amount": "USD"})["average_order_value"].kind == "decimal"
