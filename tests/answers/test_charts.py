"""Semantic charts: column roles, the chart rules, switching, model refinement and the specs' shape."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from nl2sql.answers.charts import (
    CHART_KINDS,
    CHART_REFINEMENT_SCHEMA,
    MAX_CHART_POINTS,
    ChartChoice,
    apply_refinement,
    build_spec,
    choose_chart,
    classify_columns,
    refinement_schema,
)
from nl2sql.sqlguard import ResultColumn

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor" / "vega"


def cols(*pairs: tuple[str, str]) -> tuple[ResultColumn, ...]:
    return tuple(ResultColumn(name, kind) for name, kind in pairs)


MONTHLY = (
    cols(("month", "date"), ("revenue", "number")),
    # Newest first, as ORDER BY month DESC returns it: the chart must still run left to right in time.
    [(dt.date(2024, m, 1), decimal.Decimal(f"{1000 + 37 * m}.50")) for m in range(12, 0, -1)],
)
STATES = (
    cols(("state", "text"), ("revenue", "number")),
    [(s, v) for s, v in zip(["CA", "TX", "NY", "FL", "WA", "OR", "NV", "AZ", "UT"], [50.0, 90, 30, 70, 10, 20, 80, 40, 60])],
)
ORDER_LINES = (
    cols(("unit_price", "number"), ("quantity", "integer")),
    [(round(2.5 + i * 1.75, 2), (i * 7) % 5 + 1) for i in range(40)],
)
PAYMENTS = (
    cols(("payment_method", "text"), ("total_paid", "number")),
    [("card", 5120.0), ("cash", 2040.0), ("paypal", 1990.0), ("voucher", 410.0)],
)
COUNT = (cols(("count", "integer")), [(1234,)])
CUSTOMERS = (
    cols(
        ("customer_id", "integer"), ("name", "text"), ("email", "text"), ("city", "text"),
        ("signup_date", "date"), ("lifetime_value", "number"),
    ),
    [(i, f"Customer {i}", f"c{i}@example.com", "Lyon", dt.date(2023, 1 + i % 12, 1 + i), 10.0 * i) for i in range(20)],
)


def roles(columns, rows) -> dict[str, str]:
    return {s.name: s.role for s in classify_columns(columns, rows)}


def vega_values(choice_or_spec) -> list[dict]:
    spec = choice_or_spec.spec if isinstance(choice_or_spec, ChartChoice) else choice_or_spec
    return spec["data"]["values"]


def walk(node):
    """Every (key, value) pair in a nested spec."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# --- column roles ------------------------------------------------------------------------------


def test_ids_and_codes_are_categories_not_measures():
    columns = cols(("customer_id", "integer"), ("zip", "integer"), ("orders", "integer"), ("customerId", "number"))
    rows = [(i, 75000 + i, i * 3, i) for i in range(10)]
    semantics = {s.name: s for s in classify_columns(columns, rows)}
    assert semantics["customer_id"].role == "category" and semantics["customer_id"].identifier
    assert semantics["zip"].role == "category"
    assert semantics["customerId"].role == "category"
    assert semantics["orders"].role == "measure"


def test_integer_years_are_temporal():
    semantics = classify_columns(cols(("order_year", "integer"), ("revenue", "number")), [(2019 + i, 1.0 * i) for i in range(5)])
    assert semantics[0].role == "temporal" and semantics[0].encoding == "temporal"
    assert semantics[0].time_unit == "utcyear"


def test_years_out_of_range_stay_numbers():
    semantics = classify_columns(cols(("years", "integer"), ("salary", "number")), [(3, 1.0), (7, 2.0), (3, 4.0)])
    assert semantics[0].role == "measure"


def test_iso_text_reads_as_time_and_other_text_as_category():
    columns = cols(("month", "text"), ("day", "text"), ("ts", "text"), ("city", "text"), ("n", "integer"))
    rows = [("2024-01", "2024-01-05", "2024-01-05T10:30:00", "Paris", 1), ("2024-02", "2024-02-05", "2024-02-05 11:00", "Oslo", 2)]
    assert roles(columns, rows) == {"month": "temporal", "day": "temporal", "ts": "temporal", "city": "category", "n": "measure"}


def test_year_text_is_temporal_only_in_a_year_column():
    rows = [("2021", 1), ("2022", 2)]
    assert roles(cols(("fiscal_year", "text"), ("n", "integer")), rows)["fiscal_year"] == "temporal"
    assert roles(cols(("label", "text"), ("n", "integer")), rows)["label"] == "category"


def test_group_key_integers_are_ordinal_categories():
    semantics = classify_columns(cols(("rating", "integer"), ("reviews", "integer")), [(r, r * 11) for r in range(1, 6)])
    assert (semantics[0].role, semantics[0].encoding) == ("category", "ordinal")
    assert semantics[1].role == "measure"


def test_columns_may_be_plain_mappings():
    semantics = classify_columns([{"name": "state", "type": "text"}, {"name": "n", "type": "integer"}], [("CA", 1)])
    assert [s.role for s in semantics] == ["category", "measure"]


# --- the rules ---------------------------------------------------------------------------------


def test_monthly_revenue_is_a_line_sorted_by_time():
    choice = choose_chart("monthly revenue in 2024", *MONTHLY)
    assert (choice.kind, choice.x, choice.y, choice.color) == ("line", "month", ("revenue",), None)
    months = [v["month"] for v in vega_values(choice)]
    assert months == sorted(months) and months[0] == "2024-01-01"
    x = choice.spec["encoding"]["x"]
    assert x["type"] == "temporal" and x["timeUnit"] == "utcyearmonth" and x["title"] == "Month"
    assert choice.spec["encoding"]["y"]["type"] == "quantitative"
    assert isinstance(vega_values(choice)[0]["revenue"], float)  # Decimal became a JSON number


def test_several_measures_over_time_fold_into_a_multi_line():
    columns = cols(("month", "text"), ("revenue", "number"), ("orders", "integer"))
    choice = choose_chart("revenue and orders by month", columns, [(f"2024-{m:02d}", m * 10.0, m) for m in range(1, 13)])
    assert (choice.kind, choice.y) == ("line", ("revenue", "orders"))
    (fold,) = choice.spec["transform"]
    assert fold["fold"] == ["revenue", "orders"]
    assert choice.spec["encoding"]["color"]["field"] == fold["as"][0]


def test_time_with_a_category_is_one_line_per_category():
    columns = cols(("month", "date"), ("channel", "text"), ("revenue", "number"))
    rows = [(dt.date(2024, m, 1), ch, m * 1.0) for m in range(1, 7) for ch in ("web", "store")]
    choice = choose_chart("revenue by month and channel", columns, rows)
    assert (choice.kind, choice.x, choice.color) == ("line", "month", "channel")


def test_revenue_by_state_is_a_bar_sorted_descending():
    choice = choose_chart("revenue by state", *STATES)
    assert (choice.kind, choice.x, choice.y) == ("bar", "state", ("revenue",))
    assert choice.spec["mark"]["type"] == "bar"
    assert choice.spec["encoding"]["x"]["sort"] == "-y"
    assert choice.spec["encoding"]["x"]["type"] == "nominal"
    assert "largest first" in choice.reason


def test_long_labels_make_the_bar_horizontal():
    columns = cols(("product_name", "text"), ("units_sold", "integer"))
    rows = [(f"Deluxe stainless kettle model {i}", 100 - i) for i in range(8)]
    spec = choose_chart("best selling products", columns, rows).spec
    assert spec["encoding"]["y"]["field"] == "product_name"
    assert spec["encoding"]["y"]["sort"] == "-x"
    assert spec["height"] == 8 * 20


def test_ordinal_categories_keep_their_order():
    choice = choose_chart("reviews per rating", cols(("rating", "integer"), ("reviews", "integer")), [(r, 60 - r * 7) for r in range(1, 6)])
    assert choice.kind == "bar"
    assert "sort" not in choice.spec["encoding"]["x"]
    assert choice.spec["encoding"]["x"]["type"] == "ordinal"


def test_price_against_quantity_is_a_scatter():
    choice = choose_chart("unit price vs quantity", *ORDER_LINES)
    assert (choice.kind, choice.x, choice.y) == ("scatter", "unit_price", ("quantity",))
    assert choice.spec["mark"]["type"] == "point"
    assert choice.spec["encoding"]["x"]["type"] == choice.spec["encoding"]["y"]["type"] == "quantitative"


def test_scatter_colours_by_a_grouping_category():
    columns = cols(("segment", "text"), ("price", "number"), ("quantity", "integer"))
    rows = [(("retail", "wholesale")[i % 2], 1.0 + i, i % 7) for i in range(30)]
    choice = choose_chart("price and quantity per order", columns, rows)
    assert (choice.kind, choice.color) == ("scatter", "segment")
    assert choice.spec["encoding"]["color"]["type"] == "nominal"


def test_share_by_payment_method_is_a_pie():
    choice = choose_chart("share of revenue by payment method", *PAYMENTS)
    assert (choice.kind, choice.x, choice.y) == ("pie", "payment_method", ("total_paid",))
    assert choice.spec["mark"]["type"] == "arc"
    assert choice.spec["encoding"]["theta"]["field"] == "total_paid"
    assert choice.spec["encoding"]["color"]["field"] == "payment_method"


def test_a_percentage_column_summing_to_100_is_a_pie_without_share_words():
    rows = [("card", 61.5), ("cash", 23.5), ("paypal", 15.0)]
    assert choose_chart("payments by method", cols(("method", "text"), ("pct", "number")), rows).kind == "pie"


def test_small_group_by_without_parts_words_stays_a_bar():
    assert choose_chart("average price by category", cols(("category", "text"), ("avg_price", "number")), PAYMENTS[1]).kind == "bar"


def test_too_many_parts_fall_back_to_a_bar():
    choice = choose_chart("share of revenue by state", *STATES)
    assert choice.kind == "bar" and "too many parts" in choice.reason


def test_parts_with_a_second_category_stack():
    columns = cols(("region", "text"), ("channel", "text"), ("revenue", "number"))
    rows = [(r, ch, 10.0) for r in ("north", "south", "east", "west", "centre") for ch in ("web", "store")]
    choice = choose_chart("breakdown of revenue by region and channel", columns, rows)
    assert (choice.kind, choice.x, choice.color) == ("stacked_bar", "region", "channel")
    assert choice.spec["mark"]["type"] == "bar" and choice.spec["encoding"]["color"]["field"] == "channel"


def test_single_count_is_a_number_card():
    choice = choose_chart("how many orders were placed?", *COUNT)
    assert choice.kind == "number"
    assert choice.spec == {"kind": "number", "field": "count", "title": "Count", "value": 1234}
    assert choice.alternatives == ("number", "table")


def test_wide_mixed_table_is_a_table():
    choice = choose_chart("list our customers", *CUSTOMERS)
    assert (choice.kind, choice.spec) == ("table", {"kind": "table"})


def test_text_only_and_empty_results_are_tables():
    assert choose_chart("names", cols(("name", "text")), [("a",), ("b",)]).kind == "table"
    assert choose_chart("revenue by state", STATES[0], []).kind == "table"


def test_ids_are_not_measures_in_the_choice():
    columns = cols(("customer_id", "integer"), ("orders", "integer"))
    choice = choose_chart("orders per customer", columns, [(100 + i, (i * 5) % 9 + 1) for i in range(15)])
    assert (choice.kind, choice.x, choice.y) == ("bar", "customer_id", ("orders",))
    channels = {channel["field"]: channel["type"] for channel in choice.spec["encoding"].values() if isinstance(channel, dict)}
    assert channels == {"customer_id": "nominal", "orders": "quantitative"}


def test_revenue_by_year_is_a_line_over_years():
    columns = cols(("year", "integer"), ("revenue", "number"))
    choice = choose_chart("revenue per year", columns, [(2024 - i, 100.0 + i) for i in range(8)])
    assert (choice.kind, choice.x) == ("line", "year")
    assert vega_values(choice)[0]["year"] == "2017-01-01"
    assert choice.spec["encoding"]["x"]["timeUnit"] == "utcyear"


def test_repeated_dates_are_points_not_a_zigzag_line():
    columns = cols(("order_date", "date"), ("amount", "number"))
    rows = [(dt.date(2024, 1, 1 + i % 3), 10.0 + i) for i in range(12)]
    assert choose_chart("order amounts", columns, rows).kind == "scatter"


def test_the_choice_is_deterministic():
    assert choose_chart("revenue by state", *STATES) == choose_chart("revenue by state", *STATES)


# --- alternatives and switching -----------------------------------------------------------------


def test_alternatives_start_with_the_choice_and_end_with_table():
    choice = choose_chart("monthly revenue", *MONTHLY)
    assert choice.alternatives[0] == "line" and choice.alternatives[-1] == "table"
    assert set(choice.alternatives) <= set(CHART_KINDS)
    assert "bar" in choice.alternatives and "pie" not in choice.alternatives


def test_every_alternative_builds_with_default_fields():
    for columns, rows in (MONTHLY, STATES, ORDER_LINES, PAYMENTS, COUNT):
        for kind in choose_chart("q", columns, rows).alternatives:
            assert isinstance(build_spec(kind, None, None, None, columns, rows), dict)


def test_switching_revenue_by_state_to_a_pie_and_back():
    spec = build_spec("pie", "state", "revenue", None, *STATES)
    assert spec["mark"]["type"] == "arc"
    assert build_spec("bar", "state", ["revenue"], None, *STATES)["encoding"]["x"]["field"] == "state"


@pytest.mark.parametrize(
    ("kind", "x", "y", "color", "message"),
    [
        ("radar", "state", "revenue", None, "Unknown chart type"),
        ("bar", "country", "revenue", None, "No column named 'country'"),
        ("bar", "revenue", "state", None, "'state' is not numeric"),
        ("bar", "state", "state", None, "not numeric"),
        ("bar", "state", ["revenue", "revenue"], None, "several are only possible in a line chart"),
        ("number", None, "revenue", None, "one-row result"),
        ("bar", "state", "revenue", "revenue", "already on an axis"),
        ("stacked_bar", "state", "revenue", None, "second category"),
        ("scatter", "state", "revenue", None, "numeric or time column on the x axis"),
    ],
)
def test_build_spec_rejects_what_cannot_be_drawn(kind, x, y, color, message):
    with pytest.raises(ValueError, match=message):
        build_spec(kind, x, y, color, *STATES)


def test_pie_rejects_negative_values_and_many_slices():
    columns = cols(("account", "text"), ("balance", "number"))
    with pytest.raises(ValueError, match="negative"):
        build_spec("pie", "account", "balance", None, columns, [("a", 10.0), ("b", -5.0)])
    with pytest.raises(ValueError, match="at most"):
        build_spec("pie", "account", "balance", None, columns, [(f"a{i}", 1.0) for i in range(30)])


def test_bar_rejects_a_measure_on_x():
    with pytest.raises(ValueError, match="is a measure"):
        build_spec("bar", "unit_price", "quantity", None, *ORDER_LINES)


# --- model refinement ---------------------------------------------------------------------------


def test_valid_refinement_replaces_the_choice():
    choice = choose_chart("revenue by state", *STATES)
    refined = apply_refinement(choice, {"kind": "pie", "x": "state", "y": ["revenue"], "color": None}, *STATES)
    assert (refined.kind, refined.x, refined.y) == ("pie", "state", ("revenue",))
    assert refined.spec["mark"]["type"] == "arc"
    assert "Model" in refined.reason


def test_refinement_given_as_json_text_is_read():
    choice = choose_chart("revenue by state", *STATES)
    refined = apply_refinement(choice, json.dumps({"kind": "table", "x": None, "y": [], "color": None}), *STATES)
    assert (refined.kind, refined.spec) == ("table", {"kind": "table"})


@pytest.mark.parametrize(
    "garbage",
    [
        "not json at all {",
        None,
        42,
        ["bar"],
        {"kind": "radar", "x": "state", "y": ["revenue"], "color": None},
        {"kind": "bar", "x": "nonexistent", "y": ["revenue"], "color": None},
        {"kind": "bar", "x": "state", "y": ["state"], "color": None},
        {"kind": "bar", "x": "state", "y": [1, 2], "color": None},
        {"kind": "number", "x": None, "y": ["revenue"], "color": None},
        {"kind": "bar", "x": "state", "y": ["revenue"], "color": None, "expr": "alert(1)"},
        {"kind": "bar", "x": {"signal": "alert(1)"}, "y": ["revenue"], "color": None},
    ],
)
def test_invalid_refinement_falls_back_to_the_deterministic_choice(garbage):
    choice = choose_chart("revenue by state", *STATES)
    assert apply_refinement(choice, garbage, *STATES) is choice


def test_refinement_schema_lists_the_result_columns():
    schema = refinement_schema(STATES[0])
    assert schema["properties"]["x"]["anyOf"][0]["enum"] == ["state", "revenue"]
    assert schema["properties"]["kind"]["enum"] == list(CHART_KINDS)
    assert CHART_REFINEMENT_SCHEMA["additionalProperties"] is False


def test_refinement_schemas_compile_to_a_grammar():
    pytest.importorskip("llama_cpp")
    from nl2sql.inference import json_grammar

    assert json_grammar(CHART_REFINEMENT_SCHEMA).gbnf
    assert json_grammar(refinement_schema(STATES[0])).gbnf


# --- specs are data -----------------------------------------------------------------------------

HOSTILE = (
    cols(("name');alert(1);//", "text"), ("a.b[0]", "number")),
    [("x'); alert(document.cookie); //", 1.0), ("{{constructor.constructor('alert(1)')()}}", 2.0)],
)


def test_specs_carry_no_expressions():
    for kind in ("bar", "pie"):
        spec = build_spec(kind, "name');alert(1);//", "a.b[0]", None, *HOSTILE)
        keys = {key for key, _ in walk(spec)}
        assert not keys & {"expr", "signal", "calculate", "filter", "url", "params"}
        json.dumps(spec)  # plain JSON all the way down


def test_field_names_escape_vega_lite_path_syntax():
    spec = build_spec("bar", "name');alert(1);//", "a.b[0]", None, *HOSTILE)
    fields = {channel["title"]: channel["field"] for channel in spec["encoding"]["tooltip"]}
    assert fields == {"A.b[0]": "a\\.b\\[0\\]", "Name');alert(1);//": "name\\');alert(1);//"}
    assert set(vega_values(spec)[0]) == {"name');alert(1);//", "a.b[0]"}  # data keys stay raw


def test_specs_are_structurally_complete():
    for columns, rows in (MONTHLY, STATES, ORDER_LINES, PAYMENTS):
        spec = choose_chart("share", columns, rows).spec
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        assert spec["mark"]["type"] in {"line", "bar", "point", "arc"}
        assert spec["encoding"]["tooltip"]
        assert spec["width"] == "container"
        for key, channel in spec["encoding"].items():
            for entry in channel if isinstance(channel, list) else [channel]:
                assert entry["type"] in {"temporal", "quantitative", "nominal", "ordinal"}, key


def test_data_values_are_capped_with_a_note():
    columns = cols(("x_value", "number"), ("y_value", "number"))
    rows = [(i * 0.5, (i * 37) % 101 * 1.0) for i in range(MAX_CHART_POINTS + 250)]
    choice = choose_chart("x vs y", columns, rows)
    assert len(vega_values(choice)) == MAX_CHART_POINTS
    assert choice.note and f"{MAX_CHART_POINTS:,}" in choice.note
    assert choice.spec["usermeta"]["note"] == choice.note


def test_values_are_json_safe():
    columns = cols(("day", "datetime"), ("ratio", "number"))
    rows = [(dt.datetime(2024, 1, 1, 9, 30), float("nan")), (dt.datetime(2024, 1, 2, 9, 30), decimal.Decimal("0.25"))]
    values = vega_values(choose_chart("ratio per day", columns, rows))
    assert values == [{"day": "2024-01-01T09:30:00", "ratio": None}, {"day": "2024-01-02T09:30:00", "ratio": 0.25}]


# --- the vendored Vega-Lite accepts the specs ---------------------------------------------------

RENDER_JS = r"""
const fs = require('fs'), vm = require('vm');
const ctx = {console, structuredClone, setTimeout, clearTimeout, URL, TextEncoder, TextDecoder};
ctx.globalThis = ctx; vm.createContext(ctx);
const dir = process.argv[1];
for (const f of fs.readdirSync(dir).filter(f => /^vega(-lite)?-\d.*\.min\.js$/.test(f)).sort())
  vm.runInContext(fs.readFileSync(dir + '/' + f, 'utf8'), ctx, {filename: f});
const specs = JSON.parse(fs.readFileSync(0, 'utf8'));
(async () => {
  const out = [];
  for (const spec of specs) {
    const warnings = [];
    const logger = {level() { return this; }, warn: (...a) => warnings.push(a.join(' ')), info() {}, debug() {},
                    error: (...a) => warnings.push(a.join(' '))};
    try {
      if (spec.width === 'container') spec.width = 480;
      const vg = ctx.vegaLite.compile(spec, {logger}).spec;
      const view = new ctx.vega.View(ctx.vega.parse(vg), {renderer: 'none'});
      const svg = await view.toSVG();
      out.push({ok: true, warnings, marks: (svg.match(/<(path|line|circle)\b/g) || []).length});
    } catch (e) { out.push({ok: false, warnings, error: String(e.message || e)}); }
  }
  console.log(JSON.stringify(out));
})();
"""


def test_vendored_vega_lite_compiles_and_renders_every_kind():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    specs = [
        choose_chart("monthly revenue", *MONTHLY).spec,
        choose_chart("revenue and orders by month", cols(("month", "text"), ("revenue", "number"), ("orders", "integer")),
                     [(f"2024-{m:02d}", m * 10.0, m) for m in range(1, 13)]).spec,
        choose_chart("revenue by state", *STATES).spec,
        choose_chart("unit price vs quantity", *ORDER_LINES).spec,
        choose_chart("share by payment method", *PAYMENTS).spec,
        build_spec("stacked_bar", None, None, None, cols(("region", "text"), ("channel", "text"), ("revenue", "number")),
                   [(r, ch, 10.0) for r in ("north", "south") for ch in ("web", "store")]),
        build_spec("bar", "name');alert(1);//", "a.b[0]", None, *HOSTILE),
        choose_chart("best selling", cols(("product_name", "text"), ("units_sold", "integer")),
                     [(f"Deluxe stainless kettle model {i}", 100 - i) for i in range(20)]).spec,
    ]
    run = subprocess.run(
        [node, "-e", RENDER_JS, str(VENDOR)], input=json.dumps(specs), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout)
    for spec, result in zip(specs, results, strict=True):
        assert result["ok"], (spec["mark"], result)
        assert result["warnings"] == [], (spec["mark"], result["warnings"])
        assert result["marks"] > 0


def test_vendored_files_are_the_versions_vega_embed_expects():
    names = sorted(p.name for p in VENDOR.glob("*.min.js"))
    assert names == ["vega-6.4.0.min.js", "vega-embed-7.3.0.min.js", "vega-lite-6.5.0.min.js"]
    assert '"6.5.0"' in (VENDOR / "vega-lite-6.5.0.min.js").read_text()[:400]
