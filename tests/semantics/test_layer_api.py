"""The semantic layer through the app: metrics and segments listed, created (tried on the data first, refused
with the reason), tried, edited, deleted; value synonyms; the semantics page; metadata export and import; the
audit log; and a question read with the definition."""

from __future__ import annotations

import json

from nl2sql.semantics import compile_plan
from tests.answers.conftest import build_shop_db
from tests.support import ADMIN_PASSWORD, bearer, csrf_token, form_post, login

REVENUE = {"name": "revenue", "expression": "sum(orders.amount)", "filters": ["orders.status <> 'new'"],
           "synonyms": ["sales", "turnover"], "description": "Shipped order amounts", "format": "currency"}


async def _shop(client, tmp_path):
    admin = await client.app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
    build_shop_db(tmp_path / "layer_shop.db")
    await client.app.state.catalog.create_connection(admin, "shop", f"sqlite:///{tmp_path / 'layer_shop.db'}")
    assert (await client.app.state.catalog.sync_now(admin, "shop")).error is None
    return admin, (await client.app.state.auth.create_api_key(admin, name="t")).key


async def test_metrics_are_tried_saved_edited_and_deleted_through_the_api(client, tmp_path):
    _, key = await _shop(client, tmp_path)
    base = "/api/v1/connections/shop/metrics"
    created = await client.post(base, json=REVENUE, headers=bearer(key))
    assert created.status_code == 201, created.text
    metric = created.json()
    assert metric["name"] == "revenue" and metric["filters"] == ["orders.status <> 'new'"]
    # shipped orders are the odd ids: 10 + 30 + ... + 290
    tried = await client.post(f"{base}/{metric['id']}/try", headers=bearer(key))
    assert tried.status_code == 200, tried.text
    assert tried.json()["value"] == 2250 and "SUM(orders.amount)" in tried.json()["sql"]
    assert tried.json()["readback"].startswith("revenue (sum of amount, new orders excluded)")

    refused = await client.post(base, json={"name": "cost", "expression": "sum(orders.cost)"}, headers=bearer(key))
    assert refused.status_code == 400 and "no column orders.cost" in refused.text
    text = await client.post(base, json={"name": "first", "expression": "min(customers.name)"}, headers=bearer(key))
    assert text.status_code == 400 and "not a number" in text.text
    twice = await client.post(base, json=REVENUE, headers=bearer(key))
    assert twice.status_code == 409

    segment = await client.post(base, json={"kind": "segment", "name": "new orders", "expression": "orders.status = 'new'",
                                            "synonyms": ["open orders"]}, headers=bearer(key))
    assert segment.status_code == 201, segment.text
    trial = await client.post(f"{base}/try", json={"kind": "segment", "name": "x", "expression": "orders.amount > 100"},
                              headers=bearer(key))
    assert trial.json()["value"] == 20

    changed = await client.put(f"{base}/{metric['id']}", json={**REVENUE, "filters": []}, headers=bearer(key))
    assert changed.status_code == 200 and changed.json()["filters"] == []
    listed = await client.get(f"{base}?kind=metric", headers=bearer(key))
    assert [m["name"] for m in listed.json()] == ["revenue"]
    assert (await client.delete(f"{base}/{segment.json()['id']}", headers=bearer(key))).status_code == 204
    assert [m["kind"] for m in (await client.get(base, headers=bearer(key))).json()] == ["metric"]

    audit = (await client.get("/api/v1/audit?action=catalog.", headers=bearer(key))).json()["entries"]
    actions = [e["action"] for e in audit]
    assert {"catalog.metric.create", "catalog.metric.update", "catalog.segment.create",
            "catalog.segment.delete"} <= set(actions)


async def test_value_synonyms_export_and_import_carry_the_layer(client, tmp_path):
    _, key = await _shop(client, tmp_path)
    catalog = client.app.state.catalog
    connection = await catalog.get_connection("shop")
    assert (await client.post("/api/v1/connections/shop/metrics", json=REVENUE, headers=bearer(key))).status_code == 201
    kept = await client.put("/api/v1/connections/shop/value-synonyms",
                            json={"table": "orders", "column": "status", "synonyms": {"new": ["open", "pending"]}},
                            headers=bearer(key))
    assert kept.status_code == 200 and kept.json() == {"new": ["open", "pending"]}
    exported = await catalog.export_metadata(connection.id)
    assert exported["metrics"][0]["name"] == "revenue"
    orders = next(t for t in exported["tables"] if t["name"] == "orders")
    assert next(c for c in orders["columns"] if c["name"] == "status")["value_synonyms"] == {"new": ["open", "pending"]}

    metric = (await catalog.metrics(connection.id))[0]
    await catalog.delete_metric(None, connection.id, metric.id)
    await catalog.set_value_synonyms(None, connection.id, "orders", "status", {})
    exported["metrics"].append({"kind": "metric", "name": "broken", "expression": "sum(orders.nothing)"})
    report = await catalog.import_metadata(None, connection.id, exported)
    assert [m.name for m in await catalog.metrics(connection.id)] == ["revenue"]
    assert any("broken" in reason and "no column" in reason for _, reason in report.errors), report
    status = {c.name: c for c in (await catalog.table(connection.id, "orders")).columns}["status"]
    assert status.value_synonyms == {"new": ("open", "pending")}

    # the engine's reader (built per catalog version) reads the imported definitions
    reader = client.app.state.generation.reader(await catalog.schema_for_prompt(connection.id))
    sql = compile_plan(reader.read("total sales of customers in Texas")[0].plan, reader.model)
    assert "SUM(orders.amount)" in sql and "orders.status <> 'new'" in sql and "customers.state = 'TX'" in sql, sql
    sql = compile_plan(reader.read("how many pending orders are there")[0].plan, reader.model)
    assert "orders.status = 'new'" in sql and "COUNT(" in sql, sql


async def test_the_semantics_page_shows_and_edits_the_layer(client, tmp_path):
    admin, _ = await _shop(client, tmp_path)
    await login(client, admin.email, ADMIN_PASSWORD)
    page = "/connections/shop/semantics"
    saved = await form_post(client, f"{page}/metrics", {**REVENUE, "kind": "metric", "filters": "orders.status <> 'new'",
                                                        "synonyms": "sales, turnover", "time_column": ""}, page=page)
    assert saved.status_code == 200 and "Saved the metric &#39;revenue&#39;" in saved.text, saved.text[:2000]
    assert "Business words" in saved.text and "sum(orders.amount)" in saved.text
    bad = await form_post(client, f"{page}/metrics", {"kind": "metric", "name": "bad", "expression": "orders.amount"},
                          page=page)
    assert bad.status_code == 400 and "aggregates nothing" in bad.text
    catalog = client.app.state.catalog
    metric = (await catalog.metrics((await catalog.get_connection("shop")).id))[0]
    tried = await form_post(client, f"{page}/metrics/{metric.id}/try", {}, page=page)
    assert tried.status_code == 200 and "= <strong>2250" in tried.text
    gone = await form_post(client, f"{page}/metrics/{metric.id}/delete", {}, page=page)
    assert gone.status_code == 200 and "Deleted." in gone.text and "None yet." in gone.text

    words = await form_post(client, f"{page}/value-synonyms",
                            {"table": "orders", "column": "status", "synonyms": "new = open, pending\nshipped = sent"},
                            page=page)
    assert words.status_code == 200 and "Saved the words for 2 value(s) of orders.status." in words.text
    assert "<code>new</code> ↔ open, pending" in words.text
    wrong = await form_post(client, f"{page}/value-synonyms",
                            {"table": "orders", "column": "status", "synonyms": "just words"}, page=page)
    assert wrong.status_code == 400 and "line 1: write the value" in wrong.text


def _manifest() -> tuple[dict, dict]:
    """A small dbt project over the shop's tables: its manifest and semantic manifest."""
    def model(name: str, description: str, columns: dict[str, str]) -> dict:
        return {"resource_type": "model", "unique_id": f"model.shop.{name}", "name": name, "alias": name,
                "schema": "main", "description": description,
                "columns": {c: {"name": c, "description": d} for c, d in columns.items()}}

    nodes = {"model.shop.orders": model("orders", "Orders of the shop", {"amount": "Order amount in EUR"}),
             "model.shop.customers": model("customers", "", {"state": "Two-letter state"}),
             "model.shop.stg_lines": model("stg_lines", "Staging", {}),
             "test.shop.accepted": {"resource_type": "test", "column_name": "status",
                                    "attached_node": "model.shop.orders",
                                    "test_metadata": {"name": "accepted_values",
                                                      "kwargs": {"values": ["new", "shipped", "lost"]}}}}
    semantic = {"semantic_models": [{
        "name": "orders", "node_relation": {"alias": "orders", "schema_name": "main"},
        "entities": [{"name": "order", "type": "primary", "expr": "id"}],
        "dimensions": [{"name": "status", "type": "categorical"}],
        "measures": [{"name": "order_amount", "agg": "sum", "expr": "amount"}]}],
        "metrics": [{"name": "gross_takings", "type": "simple", "description": "Amounts of shipped orders",
                     "type_params": {"measure": {"name": "order_amount"}},
                     "filter": {"where_filters": [{"where_sql_template": "{{ Dimension('order__status') }} = 'shipped'"}]}}]}
    return {"nodes": nodes, "sources": {}}, semantic


async def test_a_dbt_import_lands_in_a_draft_through_the_api_and_the_page(client, tmp_path):
    admin, key = await _shop(client, tmp_path)
    manifest, semantic = _manifest()
    response = await client.post("/api/v1/connections/shop/dbt", json={"manifest": manifest,
                                                                       "semantic_manifest": semantic},
                                 headers=bearer(key))
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["draft"] == "shop~draft" and report["metrics"] == 1 and report["tables_described"] == 1
    assert report["columns_described"] == 2
    assert report["unmapped"] == ["model.shop.stg_lines: no table main.stg_lines"]
    catalog = client.app.state.catalog
    draft = await catalog.get_connection("shop~draft")
    metric = (await catalog.metrics(draft.id))[0]
    assert metric.name == "gross takings" and metric.filters == ("orders.status = 'shipped'",)
    assert await catalog.metrics((await catalog.get_connection("shop")).id) == []

    nothing = await client.post("/api/v1/connections/shop/dbt",
                                json={"manifest": {"nodes": {"model.x.y": {"resource_type": "model", "name": "y",
                                                                           "unique_id": "model.x.y"}}}},
                                headers=bearer(key))
    assert nothing.status_code == 400 and "nothing was applied" in nothing.text

    await login(client, admin.email, ADMIN_PASSWORD)
    token = await csrf_token(client, "/connections/shop/semantics")
    uploaded = await client.post("/connections/shop/semantics/dbt", data={"_csrf_token": token},
                                 files={"manifest": ("manifest.json", json.dumps(manifest).encode(), "application/json"),
                                        "semantic_manifest": ("semantic_manifest.json", json.dumps(semantic).encode(),
                                                              "application/json")})
    assert uploaded.status_code == 200, uploaded.text[:1500]
    assert "Imported into the draft shop~draft" in uploaded.text and "stg_lines" in uploaded.text
