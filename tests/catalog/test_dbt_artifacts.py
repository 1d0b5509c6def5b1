"""Reading dbt artifacts without dbt: what maps to what, and artifacts that are not dbt's refused with a reason
(never a server error)."""

from __future__ import annotations

import pytest

from nl2sql.catalog.dbt import read_dbt
from nl2sql.errors import ValidationFailed


def test_metrics_filters_and_entities_read_into_the_catalogs_terms():
    manifest = {"nodes": {"model.p.sales": {"resource_type": "model", "unique_id": "model.p.sales", "name": "sales",
                                            "schema": "mart", "description": "Sales",
                                            "columns": {"net": {"name": "net", "description": "Net amount"}}},
                          "model.p.shops": {"resource_type": "model", "unique_id": "model.p.shops", "name": "shops",
                                            "schema": "mart"}}}
    semantic = {"semantic_models": [
        {"name": "sales", "node_relation": {"alias": "sales", "schema_name": "mart"},
         "defaults": {"agg_time_dimension": "sold_at"},
         "entities": [{"name": "sale", "type": "primary", "expr": "sale_id"},
                      {"name": "shop", "type": "foreign", "expr": "shop_id"}],
         "dimensions": [{"name": "sold_at", "type": "time"}, {"name": "channel", "type": "categorical"},
                        {"name": "is_refund", "type": "categorical"}],
         "measures": [{"name": "net_sales", "agg": "sum", "expr": "net"},
                      {"name": "buyers", "agg": "count_distinct", "expr": "customer_id"},
                      {"name": "p90", "agg": "percentile", "expr": "net"}]},
        {"name": "shops", "node_relation": {"alias": "shops", "schema_name": "mart"},
         "entities": [{"name": "shop", "type": "primary", "expr": "id"}]}],
        "metrics": [
            {"name": "online_sales", "type": "simple", "type_params": {"measure": {"name": "net_sales"}},
             "filter": {"where_filters": [{"where_sql_template": "{{ Dimension('sale__channel') }} = 'web'"}]}},
            {"name": "sales_per_buyer", "type": "derived",
             "type_params": {"expr": "s / buyers", "metrics": [{"name": "online_sales", "alias": "s"},
                                                           {"name": "buyers"}]}},
            {"name": "odd", "type": "simple", "type_params": {"measure": {"name": "net_sales"}},
             "filter": {"where_filters": [{"where_sql_template": "{{ Dimension('store__region') }} = 'x'"}]}},
            {"name": "tail", "type": "simple", "type_params": {"measure": {"name": "p90"}}}]}
    project = read_dbt(manifest, None, semantic)
    sales = "{{node:model.p.sales}}"
    by_name = {m["name"]: m for m in project.metrics}
    assert by_name["online sales"]["expression"] == f"sum({sales}.net)"
    assert by_name["online sales"]["filters"] == [f"{sales}.channel = 'web'"]
    assert by_name["online sales"]["time_column"] == f"{sales}.sold_at"
    assert by_name["sales per buyer"]["expression"] == "online_sales / buyers"
    assert by_name["refund"] == {"kind": "segment", "name": "refund", "expression": f"{sales}.is_refund",
                                 "synonyms": [], "description": ""}
    assert ("{{node:model.p.sales}}", "shop_id", "{{node:model.p.shops}}", "id") in project.relationships
    assert any("'odd'" in u and "store__region" in u for u in project.unsupported)
    assert any("'tail'" in u and "percentile" in u for u in project.unsupported)


@pytest.mark.parametrize("manifest", [None, [], {"nodes": []}, {"no": "nodes"}])
def test_what_is_not_a_manifest_is_refused(manifest):
    with pytest.raises(ValidationFailed):
        read_dbt(manifest)


def test_junk_inside_a_manifest_is_skipped_or_refused_with_a_reason():
    project = read_dbt({"nodes": {"a": 1, "b": {"resource_type": "model", "name": "x", "columns": [1]}},
                        "sources": "nope"})
    assert [m.name for m in project.models] == ["x"]
    odd = read_dbt({"nodes": {}}, None, {"semantic_models": [{"name": "s", "node_relation": {"alias": "x"}}, 3],
                                         "metrics": [{"name": "m", "type": "simple"}, "x"]})
    assert odd.unsupported == ["semantic model 's': its model is not in the manifest",
                               "metric 'm': its measure is in no semantic model"]
