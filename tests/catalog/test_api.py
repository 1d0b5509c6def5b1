import json
from pathlib import Path

from nl2sql.catalog import SyncState
from tests.catalog.conftest import PG_PASSWORD, wait_for_sync
from tests.support import bearer

SQLEVAL = Path("/work/shared/sqleval/dbs")


async def _connect(client, key, name, url, **extra):
    response = await client.post("/api/v1/connections", json={"name": name, "url": url, **extra}, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json()


async def _sync(client, key, name):
    response = await client.post(f"/api/v1/connections/{name}/sync", headers=bearer(key))
    assert response.status_code == 202, response.text
    status = await wait_for_sync(client.app.state.catalog, name)
    assert status.status == SyncState.SUCCEEDED, status.error
    return status


async def test_api_creates_lists_and_never_returns_the_password(client, admin_key, pg_shop):
    created = await _connect(client, admin_key, "shop", pg_shop, description="Shop DB")
    assert PG_PASSWORD not in json.dumps(created)
    listed = await client.get("/api/v1/connections", headers=bearer(admin_key))
    assert [c["name"] for c in listed.json()] == ["shop"]
    assert PG_PASSWORD not in listed.text
    tested = await client.post("/api/v1/connections/shop/test", headers=bearer(admin_key))
    assert tested.status_code == 200 and tested.json()["ok"] is True


async def test_api_refuses_a_bad_connection_name_stating_the_rule(client, admin_key, sqlite_shop):
    r = await client.post("/api/v1/connections", json={"name": "Sales Data!", "url": sqlite_shop}, headers=bearer(admin_key))
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "'Sales Data!' is not a valid connection name" in detail
    assert "lowercase letters, digits, - and _, starting with a letter or digit" in detail


async def test_api_refuses_a_connection_whose_test_fails_with_the_reason(client, admin_key, tmp_path):
    r = await client.post("/api/v1/connections", headers=bearer(admin_key),
                          json={"name": "down", "url": "postgresql://u:topsecret@127.0.0.1:1/db"})
    assert r.status_code == 400
    problem = r.json()
    assert "the connection test failed, so nothing was saved: cannot reach 127.0.0.1:1" in problem["detail"]
    assert '"save_failing": true' in problem["detail"] and problem["reason"].startswith("cannot reach 127.0.0.1:1")
    assert "topsecret" not in r.text
    assert (await client.get("/api/v1/connections", headers=bearer(admin_key))).json() == []


async def test_api_saves_a_failing_connection_marked_and_hides_it_until_a_test_passes(
        client, admin, admin_key, analyst, analyst_key, tmp_path, sqlite_shop):
    missing = tmp_path / "later.db"
    r = await client.post("/api/v1/connections", headers=bearer(admin_key),
                          json={"name": "later", "url": f"sqlite:///{missing}", "save_failing": True})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["test_failure"] == f"the SQLite file {missing} does not exist (or is not a file)"
    assert created["tested_at"]
    await _connect(client, admin_key, "shop", sqlite_shop)  # passes its test: offered as usual
    assert (await client.get("/api/v1/connections/shop", headers=bearer(admin_key))).json()["test_failure"] is None
    grants = {"user_ids": [analyst.id]}
    for name in ("later", "shop"):
        assert (await client.put(f"/api/v1/connections/{name}/grants", json=grants, headers=bearer(admin_key))).status_code == 200
    # the admin's list shows it, with its reason; the pickers (analysts, the ask page) don't offer it
    admin_list = (await client.get("/api/v1/connections", headers=bearer(admin_key))).json()
    assert {c["name"]: bool(c["test_failure"]) for c in admin_list} == {"later": True, "shop": False}
    analyst_list = (await client.get("/api/v1/connections", headers=bearer(analyst_key))).json()
    assert [c["name"] for c in analyst_list] == ["shop"]
    assert (await client.get("/api/v1/connections/later", headers=bearer(analyst_key))).status_code == 404
    asked = await client.post("/api/v1/ask", json={"question": "how many orders", "connection": "later"},
                              headers=bearer(analyst_key))
    assert asked.status_code == 404
    catalog = client.app.state.catalog
    assert [c.name for c in await catalog.accessible_connections(admin)] == ["shop"]
    # test again once the file exists: it passes, and is offered to everyone it is granted to
    missing.write_bytes(Path(sqlite_shop.removeprefix("sqlite:///")).read_bytes())
    tested = await client.post("/api/v1/connections/later/test", headers=bearer(admin_key))
    assert tested.json()["ok"] is True
    analyst_list = (await client.get("/api/v1/connections", headers=bearer(analyst_key))).json()
    assert [c["name"] for c in analyst_list] == ["later", "shop"]
    assert [c.name for c in await catalog.accessible_connections(admin)] == ["later", "shop"]
    # and a test that fails again marks it failing again
    missing.unlink()
    assert (await client.post("/api/v1/connections/later/test", headers=bearer(admin_key))).json()["ok"] is False
    assert [c["name"] for c in (await client.get("/api/v1/connections", headers=bearer(analyst_key))).json()] == ["shop"]


async def test_api_sync_job_runs_in_the_worker_and_reports_progress_and_diff(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    status = await client.get("/api/v1/connections/shop/sync", headers=bearer(admin_key))
    body = status.json()
    assert body["status"] == "succeeded" and body["done"] == body["total"] == 2
    assert body["diff"]["added_tables"] == ["customers", "orders"]
    tables = await client.get("/api/v1/connections/shop/tables", headers=bearer(admin_key))
    assert tables.headers["x-total-count"] == "2"
    orders = next(t for t in tables.json() if t["name"] == "orders")
    assert orders["foreign_keys"][0]["ref_table"] == "customers"
    assert {c["name"] for c in orders["columns"]} == {"id", "customer_id", "status", "amount"}


async def test_api_edits_tables_and_columns(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    r = await client.patch("/api/v1/connections/shop/tables/orders", headers=bearer(admin_key),
                           json={"description": "One row per order", "synonyms": ["purchases"]})
    assert r.status_code == 200 and r.json()["synonyms"] == ["purchases"]
    r = await client.patch("/api/v1/connections/shop/tables/customers/columns/email", headers=bearer(admin_key),
                           json={"sensitive": True})
    assert r.json()["sensitive"] is True and r.json()["distinct_values"] is None
    r = await client.patch("/api/v1/connections/shop/tables/nope", headers=bearer(admin_key), json={"description": "x"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


async def test_api_refuses_bad_input_with_problem_details(client, admin_key):
    r = await client.post("/api/v1/connections", json={"name": "x", "url": "nonsense"}, headers=bearer(admin_key))
    assert r.status_code == 400
    assert "SQLAlchemy URL" in r.json()["detail"]
    r = await client.post("/api/v1/connections", json={"name": "x"}, headers=bearer(admin_key))
    assert r.status_code == 400


async def test_grants_decide_what_an_analyst_sees_in_the_api(client, admin_key, analyst_key, analyst, sqlite_shop, tmp_path):
    await _connect(client, admin_key, "granted", sqlite_shop)
    (tmp_path / "other.db").write_bytes(Path(sqlite_shop.removeprefix("sqlite:///")).read_bytes())
    await _connect(client, admin_key, "secret", f"sqlite:///{tmp_path}/other.db")
    assert (await client.get("/api/v1/connections", headers=bearer(analyst_key))).json() == []
    r = await client.put("/api/v1/connections/granted/grants", json={"user_ids": [analyst.id]}, headers=bearer(admin_key))
    assert r.status_code == 200 and r.json() == {"user_ids": [analyst.id]}
    names = [c["name"] for c in (await client.get("/api/v1/connections", headers=bearer(analyst_key))).json()]
    assert names == ["granted"]
    assert (await client.get("/api/v1/connections/granted/tables", headers=bearer(analyst_key))).status_code == 200
    assert (await client.get("/api/v1/connections/secret", headers=bearer(analyst_key))).status_code == 404
    assert (await client.get("/api/v1/connections/secret/tables", headers=bearer(analyst_key))).status_code == 404
    # analysts can't change anything, not even on a granted connection
    assert (await client.post("/api/v1/connections/granted/sync", headers=bearer(analyst_key))).status_code == 403
    r = await client.put("/api/v1/connections/granted/grants", json={"user_ids": []}, headers=bearer(analyst_key))
    assert r.status_code == 403
    r = await client.put("/api/v1/connections/granted/grants", json={"user_ids": [99999]}, headers=bearer(admin_key))
    assert r.status_code == 400


async def test_golden_queries_refuse_dml_ddl_and_several_statements(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    url = "/api/v1/connections/shop/golden-queries"
    good = await client.post(url, headers=bearer(admin_key), json={
        "question": "How many orders shipped?", "sql": "SELECT count(*) FROM orders WHERE status = 'shipped';"})
    assert good.status_code == 201, good.text
    for sql in ("DELETE FROM orders", "DROP TABLE orders", "SELECT 1 FROM orders; SELECT 2 FROM orders",
                "UPDATE orders SET status = 'x'", "SELECT * FROM no_such_table", "SELEC oops"):
        r = await client.post(url, headers=bearer(admin_key), json={"question": "bad", "sql": sql})
        assert r.status_code == 400, (sql, r.text)
        assert r.json()["detail"], sql
    typo = await client.post(url, headers=bearer(admin_key), json={"question": "typo", "sql": "SELEC count(*) FROM orders"})
    assert typo.status_code == 400
    assert "statements are not allowed" not in typo.json()["detail"]
    assert "did you mean SELECT?" in typo.json()["detail"]
    listed = await client.get(url, headers=bearer(admin_key))
    assert [q["question"] for q in listed.json()] == ["How many orders shipped?"]


async def test_golden_query_selecting_a_sensitive_column_is_refused(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    r = await client.post("/api/v1/connections/shop/golden-queries", headers=bearer(admin_key),
                          json={"question": "hashes", "sql": "SELECT password_hash FROM customers"})
    assert r.status_code == 400


async def test_golden_csv_import_keeps_good_rows_and_reports_bad_ones(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    csv_text = (
        "question,sql\n"
        "Orders per status,\"SELECT status, count(*) FROM orders GROUP BY status\"\n"
        "Remove all,DELETE FROM orders\n"
        ",SELECT 1\n"
        "Customers in CA,SELECT name FROM customers WHERE state = 'CA'\n"
    )
    r = await client.post("/api/v1/connections/shop/golden-queries/import", content=csv_text,
                          headers=bearer(admin_key) | {"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 2
    assert [line for line, _ in report["errors"]] == [3, 4]
    exported = await client.get("/api/v1/connections/shop/golden-queries/export", headers=bearer(admin_key))
    assert exported.text.splitlines()[0] == "question,sql"
    assert len(exported.text.strip().splitlines()) == 3


async def test_instructions_crud(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    url = "/api/v1/connections/shop/instructions"
    r = await client.post(url, headers=bearer(admin_key), json={"text": "Amounts are in USD", "kind": "always"})
    assert r.status_code == 201
    first = r.json()["id"]
    await client.post(url, headers=bearer(admin_key), json={"text": "Churn means no order for 90 days", "kind": "topical"})
    assert [i["kind"] for i in (await client.get(url, headers=bearer(admin_key))).json()] == ["always", "topical"]
    assert len((await client.get(url + "?kind=topical", headers=bearer(admin_key))).json()) == 1
    r = await client.put(f"{url}/{first}", headers=bearer(admin_key), json={"text": "Amounts are in EUR", "kind": "always"})
    assert r.json()["text"] == "Amounts are in EUR"
    assert (await client.delete(f"{url}/{first}", headers=bearer(admin_key))).status_code == 204
    r = await client.post(url, headers=bearer(admin_key), json={"text": "  ", "kind": "always"})
    assert r.status_code == 400


async def test_sqleval_description_and_join_files_import(client, admin_key, tmp_path):
    import sqlite3

    document = json.loads((SQLEVAL / "broker.json").read_text())
    path = tmp_path / "broker.db"
    with sqlite3.connect(path) as conn:
        for table, columns in document["table_metadata"].items():
            conn.execute(f'CREATE TABLE "{table}" ({", ".join(chr(34) + c["column_name"] + chr(34) for c in columns)})')
    await _connect(client, admin_key, "broker", f"sqlite:///{path}")
    await _sync(client, admin_key, "broker")
    r = await client.post("/api/v1/connections/broker/metadata", json=document, headers=bearer(admin_key))
    assert r.status_code == 200, r.text
    report = r.json()
    described = sum(1 for cols in document["table_metadata"].values() for c in cols if c["column_description"].strip())
    assert report["errors"] == [] and report["imported"] == described + 1  # + the glossary as an instruction
    instructions = (await client.get("/api/v1/connections/broker/instructions", headers=bearer(admin_key))).json()
    assert instructions[0]["text"].startswith("- sbTicker can be joined")
    joins = json.loads((SQLEVAL / "columns_join.json").read_text())
    r = await client.post("/api/v1/connections/broker/metadata", json=joins, headers=bearer(admin_key))
    assert r.status_code == 200, r.text
    hints = (await client.get("/api/v1/connections/broker/join-hints", headers=bearer(admin_key))).json()
    assert len(hints) == len(joins["broker"])
    assert hints[0]["pairs"] == joins["broker"][0]["columns"]
    r = await client.post("/api/v1/connections/broker/metadata?db=nope", json=joins, headers=bearer(admin_key))
    assert r.status_code == 400 and "academic" in r.json()["detail"]


async def test_metadata_csv_round_trip_reports_unknown_rows(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    exported = (await client.get("/api/v1/connections/shop/metadata?format=csv", headers=bearer(admin_key))).text
    assert exported.splitlines()[0] == "table,column,description,business_name,synonyms,included,sensitive"
    csv_text = (
        "table,column,description,business_name,synonyms,included,sensitive\n"
        "orders,,All orders,Orders,\"purchases, sales\",true,\n"
        "orders,amount,Total in USD,,,,\n"
        "orders,nope,x,,,,\n"
        "ghosts,,x,,,,\n"
    )
    r = await client.post("/api/v1/connections/shop/metadata/csv", content=csv_text,
                          headers=bearer(admin_key) | {"content-type": "text/csv"})
    report = r.json()
    assert report["imported"] == 2
    assert [line for line, _ in report["errors"]] == [4, 5]
    table = (await client.get("/api/v1/connections/shop/tables/orders", headers=bearer(admin_key))).json()
    assert table["description"] == "All orders" and table["synonyms"] == ["purchases", "sales"]


async def test_admin_changes_land_in_the_audit_log(client, admin_key, analyst_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await client.patch("/api/v1/connections/shop", json={"description": "changed"}, headers=bearer(admin_key))
    r = await client.get("/api/v1/audit?action=catalog.connection", headers=bearer(admin_key))
    actions = [e["action"] for e in r.json()["entries"]]
    assert actions == ["catalog.connection.update", "catalog.connection.create"]
    entry = r.json()["entries"][0]
    assert entry["actor_email"] == "admin@example.com" and entry["after"]["description"] == "changed"
    assert (await client.get("/api/v1/audit", headers=bearer(analyst_key))).status_code == 403


async def test_connection_routes_are_in_the_openapi_schema(client):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in ("/api/v1/connections", "/api/v1/connections/{name}/sync", "/api/v1/connections/{name}/tables",
                 "/api/v1/connections/{name}/golden-queries", "/api/v1/connections/{name}/grants", "/api/v1/audit"):
        assert path in paths, path


async def test_analysts_never_read_metadata_of_excluded_tables_or_columns(client, admin_key, analyst_key, analyst, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    await client.put("/api/v1/connections/shop/grants", json={"user_ids": [analyst.id]}, headers=bearer(admin_key))
    hidden = await client.patch("/api/v1/connections/shop/tables/customers", json={"included": False}, headers=bearer(admin_key))
    assert hidden.status_code == 200
    column = await client.patch("/api/v1/connections/shop/tables/orders/columns/amount", json={"included": False},
                                headers=bearer(admin_key))
    assert column.status_code == 200

    listed = (await client.get("/api/v1/connections/shop/tables", headers=bearer(analyst_key))).json()
    assert [t["name"] for t in listed] == ["orders"]
    assert "amount" not in [c["name"] for c in listed[0]["columns"]]
    assert (await client.get("/api/v1/connections/shop/tables/customers", headers=bearer(analyst_key))).status_code == 404
    orders = (await client.get("/api/v1/connections/shop/tables/orders", headers=bearer(analyst_key))).json()
    assert "amount" not in [c["name"] for c in orders["columns"]]
    assert (await client.get("/api/v1/connections/shop/metadata", headers=bearer(analyst_key))).status_code == 403
    # admins see everything, excluded or not
    everything = (await client.get("/api/v1/connections/shop/tables", headers=bearer(admin_key))).json()
    assert [t["name"] for t in everything] == ["customers", "orders"]
    assert (await client.get("/api/v1/connections/shop/metadata", headers=bearer(admin_key))).status_code == 200


async def test_a_second_golden_query_with_the_same_question_is_refused(client, admin_key, sqlite_shop):
    await _connect(client, admin_key, "shop", sqlite_shop)
    await _sync(client, admin_key, "shop")
    url = "/api/v1/connections/shop/golden-queries"
    first = await client.post(url, headers=bearer(admin_key), json={
        "question": "How many orders shipped?", "sql": "SELECT count(*) FROM orders WHERE status = 'shipped'"})
    assert first.status_code == 201
    again = await client.post(url, headers=bearer(admin_key), json={
        "question": "  how many orders   shipped ", "sql": "SELECT 1 FROM orders"})
    assert again.status_code == 409 and f"#{first.json()['id']}" in again.json()["detail"]
    other = await client.post(url, headers=bearer(admin_key), json={
        "question": "How many orders?", "sql": "SELECT count(*) FROM orders"})
    assert other.status_code == 201
    renamed = await client.put(f"{url}/{other.json()['id']}", headers=bearer(admin_key), json={
        "question": "How many orders shipped?", "sql": "SELECT count(*) FROM orders"})
    assert renamed.status_code == 409
    assert len((await client.get(url, headers=bearer(admin_key))).json()) == 2


async def test_golden_save_runs_the_query_so_an_endless_one_is_refused(settings, sqlite_shop, pg_shop):
    """Saving a golden query runs it (read-only, bounded by NL2SQL_CATALOG_QUERY_TIMEOUT); planning it alone let
    queries that never end be saved as verified."""
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from nl2sql.settings import CatalogSettings
    from tests.conftest import with_section

    app = create_app(with_section(settings, catalog=CatalogSettings(demo=False, query_timeout=1.0)))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        admin = await app.state.auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
        key = (await app.state.auth.create_api_key(admin, name="test")).key
        endless = {
            "lite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n",
            "pg": "SELECT count(*) FROM generate_series(1, 100000000000) AS g(x)",
        }
        for name, url in (("lite", sqlite_shop), ("pg", pg_shop)):
            await _connect(client, key, name, url)
            await _sync(client, key, name)
            r = await client.post(f"/api/v1/connections/{name}/golden-queries", headers=bearer(key),
                                  json={"question": "forever", "sql": endless[name]})
            assert r.status_code == 400, r.text
            assert "longer than 1 s" in r.json()["detail"], r.text
            ok = await client.post(f"/api/v1/connections/{name}/golden-queries", headers=bearer(key),
                                   json={"question": "how many orders", "sql": "SELECT count(*) FROM orders"})
            assert ok.status_code == 201, ok.text
