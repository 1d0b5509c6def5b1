"""Row policies and column masks through the app: set by an admin (REST API and page, audited), then every path
that runs an analyst's SQL (ask, follow-ups, edit-and-run, alternatives' re-runs, read-back, CSV) returns only the
rows the analyst may see, and says a policy applied. The shop has 30 orders, 15 `new` and 15 `shipped`."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support import ANALYST_PASSWORD, bearer, form_post, login

SHIPPED = "shipped"


async def ask(client, key: str, question: str, **extra):
    return await client.post("/api/v1/ask", json={"question": question, "connection": "shop"} | extra,
                             headers=bearer(key))


@pytest.fixture
async def policed(client, shop_connection, admin, analyst, admin_key):
    """The analyst is granted the shop and reads only orders whose status is their `status` attribute."""
    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    response = await client.put(f"/api/v1/access/users/{analyst.id}", json={"attributes": {"status": SHIPPED}},
                                headers=bearer(admin_key))
    assert response.status_code == 200, response.text
    response = await client.post("/api/v1/access/row-policies", headers=bearer(admin_key), json={
        "connection": "shop", "table": "orders", "subject": f"user:{analyst.id}", "condition": "status = {user.status}"})
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_ask_returns_only_the_analysts_rows_and_says_a_policy_applied(client, policed, analyst_key,
                                                                                admin_key, script):
    script.extend(["SELECT id, status FROM orders"])
    mine = (await ask(client, analyst_key, "List the orders")).json()
    assert {row[1] for row in mine["rows"]} == {SHIPPED} and len(mine["rows"]) == 15
    assert mine["policies"] == ["row policy on orders: (orders.status = 'shipped')"]
    assert "'shipped'" in mine["sql"]
    script.append("SELECT id FROM orders")
    sql_only = (await client.post("/api/v1/sql", json={"question": "Order ids", "connection": "shop"},
                                  headers=bearer(analyst_key))).json()
    assert sql_only["policies"] == mine["policies"] and "(orders.status = 'shipped')" in sql_only["sql"]
    # the admin is not named by the policy: every row, and the analyst's answer is not reused for them
    script.append("SELECT id, status FROM orders")
    theirs = (await ask(client, admin_key, "List the orders")).json()
    assert len(theirs["rows"]) == 30 and theirs["policies"] == []


async def test_the_answer_cache_never_hands_one_users_rows_to_another(client, policed, analyst_key, admin_key,
                                                                      script):
    script.append("SELECT COUNT(*) FROM orders")
    assert (await ask(client, admin_key, "How many orders?")).json()["rows"] == [[30]]
    again = (await ask(client, analyst_key, "How many orders?")).json()
    assert again["rows"] == [[15]] and again["cached_from"] is None


async def test_a_follow_up_and_the_read_back_keep_the_policy(client, policed, analyst, analyst_key, script):
    script.extend(["SELECT status, COUNT(*) FROM orders GROUP BY status",
                   "SELECT status, SUM(amount) FROM orders GROUP BY status"])
    first = (await ask(client, analyst_key, "orders per status")).json()
    follow = (await ask(client, analyst_key, "their amounts", thread_id=first["thread_id"])).json()
    assert [r[0] for r in first["rows"]] == [SHIPPED] and [r[0] for r in follow["rows"]] == [SHIPPED]
    read_back = (await client.get(f"/api/v1/answers/{first['answer_id']}", headers=bearer(analyst_key)))
    assert read_back.status_code == 200
    assert read_back.json()["sql"] == first["sql"]
    await login(client, analyst.email, ANALYST_PASSWORD)
    page = await client.get(f"/ask?answer={first['answer_id']}")
    assert "Access policies applied: row policy on orders" in page.text


async def test_edit_and_run_of_any_shape_returns_only_permitted_rows(client, policed, analyst, analyst_key, script):
    script.append("SELECT COUNT(*) FROM orders")
    answer = (await ask(client, analyst_key, "How many orders?")).json()
    await login(client, analyst.email, ANALYST_PASSWORD)
    statements = {
        "SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id": 15,
        "WITH x AS (SELECT * FROM orders) SELECT COUNT(*) FROM x": 15,
        "SELECT COUNT(*) FROM (SELECT id FROM orders UNION ALL SELECT id FROM orders) u": 30,
        "SELECT COUNT(*) FROM orders a JOIN orders b ON a.id = b.id": 15,
        "SELECT COUNT(*) FROM customers WHERE id IN (SELECT customer_id FROM orders)": 15,
    }
    for sql, count in statements.items():
        response = await form_post(client, f"/answers/{answer['answer_id']}/run", {"sql": sql},
                                   page=f"/ask?answer={answer['answer_id']}")
        assert response.status_code in (200, 303), response.text
        entry = (await client.get("/api/v1/answers?per_page=1", headers=bearer(analyst_key))).json()["items"][0]
        shown = (await client.get(f"/api/v1/answers/{entry['id']}", headers=bearer(analyst_key))).json()
        assert "orders.status = 'shipped'" in shown["sql"], sql
        rows = (await client.get(f"/api/v1/answers/{entry['id']}/csv", headers=bearer(analyst_key))).text
        assert list(csv.reader(io.StringIO(rows)))[1] == [str(count)], sql


async def test_csv_download_has_only_the_analysts_rows(client, policed, analyst_key, script):
    script.append("SELECT id, status, amount FROM orders ORDER BY id")
    answer = (await ask(client, analyst_key, "All orders")).json()
    text = (await client.get(f"/api/v1/answers/{answer['answer_id']}/csv", headers=bearer(analyst_key))).text
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert len(rows) == 15 and {r[1] for r in rows} == {SHIPPED}


async def test_a_missing_attribute_gives_no_rows_not_an_error(client, policed, admin_key, analyst, analyst_key,
                                                             script):
    await client.put(f"/api/v1/access/users/{analyst.id}", json={"attributes": {}}, headers=bearer(admin_key))
    script.append("SELECT id FROM orders")
    body = (await ask(client, analyst_key, "Order ids")).json()
    assert body["rows"] == [] and body["status"] == "answered"


async def test_masks_hide_and_mask_columns_for_the_user(client, policed, analyst, analyst_key, admin_key, script):
    for column, mode in (("name", "last4"), ("state", "hidden")):
        response = await client.post("/api/v1/access/column-masks", headers=bearer(admin_key), json={
            "connection": "shop", "table": "customers", "column": column, "subject": f"user:{analyst.id}",
            "mode": mode})
        assert response.status_code == 201, response.text
    script.append("SELECT id, name FROM customers ORDER BY id")
    body = (await ask(client, analyst_key, "Customer names")).json()
    assert body["rows"][0] == [1, "***er 1"]
    assert all(not row[1].startswith("Customer") for row in body["rows"])
    script.append("SELECT state FROM customers")
    refused = await ask(client, analyst_key, "Customer states")
    assert "state" in refused.text and not any("CA" in str(r) for r in refused.json().get("rows", []))
    script.append("SELECT id, name FROM customers ORDER BY id")
    admin_view = (await ask(client, admin_key, "Customer names, admin")).json()
    assert admin_view["rows"][0] == [1, "Customer 1"]


async def test_policy_changes_are_audited_and_admin_only(client, policed, analyst, analyst_key, admin_key):
    entries = (await client.get("/api/v1/audit?action=access", headers=bearer(admin_key))).json()["entries"]
    actions = [e["action"] for e in entries]
    assert "access.row_policy.create" in actions and "access.user_attributes" in actions
    created = next(e for e in entries if e["action"] == "access.row_policy.create")
    assert created["after"]["condition"] == "status = {user.status}" and created["actor_email"] == "admin@example.com"
    assert (await client.get("/api/v1/access/shop", headers=bearer(analyst_key))).status_code == 403
    deleted = await client.delete(f"/api/v1/access/row-policies/{policed['id']}", headers=bearer(admin_key))
    assert deleted.status_code == 204
    entries = (await client.get("/api/v1/audit?action=access", headers=bearer(admin_key))).json()["entries"]
    assert entries[0]["action"] == "access.row_policy.delete"


async def test_a_bad_condition_is_refused_before_it_is_stored(client, shop_connection, admin_key, analyst):
    for condition in ("status = '{user.status}'", "status = ; DROP TABLE orders", "nope("):
        response = await client.post("/api/v1/access/row-policies", headers=bearer(admin_key), json={
            "connection": "shop", "table": "orders", "subject": f"user:{analyst.id}", "condition": condition})
        assert response.status_code == 400, (condition, response.text)
    listed = (await client.get("/api/v1/access/shop", headers=bearer(admin_key))).json()
    assert listed["row_policies"] == []


async def test_readiness_flags_a_policy_no_user_has_tried_until_one_does(client, policed, analyst_key, admin_key,
                                                                        script):
    def item(body):
        return next(i for i in body["items"] if i["key"] == "row_policies")

    before = item((await client.get("/api/v1/readiness/shop", headers=bearer(admin_key))).json())
    assert before["ok"] is False and "orders" in before["details"][0]
    script.append("SELECT COUNT(*) FROM orders")
    await ask(client, analyst_key, "How many orders?")
    after = item((await client.get("/api/v1/readiness/shop", headers=bearer(admin_key))).json())
    assert after["ok"] is True


async def test_the_admin_page_adds_a_policy_and_sets_attributes(client, shop_connection, admin, analyst):
    from tests.support import ADMIN_PASSWORD

    await login(client, admin.email, ADMIN_PASSWORD)
    assert "/admin/access?connection=shop" in (await client.get("/connections/shop")).text
    page = await client.get("/admin/access?connection=shop")
    assert page.status_code == 200 and "Row policies" in page.text
    added = await form_post(client, "/admin/access/row-policies", {
        "connection": "shop", "table": "orders", "subject": "group:sales", "condition": "status = {user.status}"},
        page="/admin/access", htmx=True)
    assert added.status_code == 200 and "Row policy added." in added.text and "group:sales" in added.text
    saved = await form_post(client, "/admin/access/users", {
        "user_id": str(analyst.id), "attributes": '{"status": "new"}', "groups": "sales, emea", "connection": "shop"},
        page="/admin/access", htmx=True)
    assert saved.status_code == 200 and "Attributes saved." in saved.text
    assert await client.app.state.catalog.user_access(analyst.id) == ({"status": "new"}, ["emea", "sales"])


async def test_a_group_policy_applies_to_the_groups_members_only(client, shop_connection, admin, analyst, admin_key,
                                                               analyst_key, script):
    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    await client.put(f"/api/v1/access/users/{analyst.id}", json={"attributes": {"status": "new"}, "groups": ["sales"]},
                     headers=bearer(admin_key))
    response = await client.post("/api/v1/access/row-policies", headers=bearer(admin_key), json={
        "connection": "shop", "table": "orders", "subject": "group:sales", "condition": "status = {user.status}"})
    assert response.status_code == 201, response.text
    script.extend(["SELECT DISTINCT status FROM orders", "SELECT DISTINCT status FROM orders"])
    assert (await ask(client, analyst_key, "Which statuses?")).json()["rows"] == [["new"]]
    await client.put(f"/api/v1/access/users/{analyst.id}", json={"attributes": {"status": "new"}, "groups": []},
                     headers=bearer(admin_key))
    assert sorted((await ask(client, analyst_key, "Which statuses, again?")).json()["rows"]) == [["new"], ["shipped"]]


async def test_changing_a_condition_is_checked_audited_and_untried_again(client, policed, admin_key, analyst_key,
                                                                        script):
    script.append("SELECT COUNT(*) FROM orders")
    assert (await ask(client, analyst_key, "How many orders?")).json()["rows"] == [[15]]
    listed = (await client.get("/api/v1/access/shop", headers=bearer(admin_key))).json()
    assert listed["row_policies"][0]["exercised_at"] is not None
    bad = await client.patch(f"/api/v1/access/row-policies/{policed['id']}", json={"condition": "status = ("},
                             headers=bearer(admin_key))
    assert bad.status_code == 400
    changed = await client.patch(f"/api/v1/access/row-policies/{policed['id']}",
                                 json={"condition": "amount > 250"}, headers=bearer(admin_key))
    assert changed.status_code == 200 and changed.json()["exercised_at"] is None
    script.append("SELECT COUNT(*) FROM orders")
    assert (await ask(client, analyst_key, "How many orders, now?")).json()["rows"] == [[5]]
    entries = (await client.get("/api/v1/audit?action=access.row_policy", headers=bearer(admin_key))).json()["entries"]
    assert entries[0]["action"] == "access.row_policy.update" and entries[0]["before"]["condition"] != \
        entries[0]["after"]["condition"]


async def test_choosing_an_alternative_reading_keeps_the_policy(client, policed, analyst_key, settings, script):
    import json

    import sqlalchemy as sa

    script.append("SELECT COUNT(*) FROM orders")
    first = (await ask(client, analyst_key, "How many orders?")).json()
    chosen = {"generator": "reader", "sql": "SELECT COUNT(*) FROM orders", "explanation": "number of orders",
              "rows": 1, "score": 0.8, "chosen": True, "fingerprint": "f1"}
    other = {"generator": "reader", "sql": "SELECT COUNT(*) FROM orders WHERE amount > 0",
             "explanation": "number of orders with an amount", "rows": 1, "score": 0.75, "chosen": False}
    engine = sa.create_engine(settings.database.url)
    with engine.begin() as conn:  # as if the reader had offered a close second reading
        conn.execute(sa.text("UPDATE answers SET candidates = CAST(:c AS jsonb) WHERE id = :i"),
                     {"c": json.dumps([chosen, other]), "i": first["answer_id"]})
    engine.dispose()
    picked = await client.post(f"/api/v1/answers/{first['answer_id']}/alternatives/1", headers=bearer(analyst_key))
    assert picked.status_code == 200, picked.text
    assert picked.json()["rows"] == [[15]] and picked.json()["policies"]


async def test_rows_kept_from_before_a_policy_are_read_again_under_it(client, shop_connection, admin, analyst,
                                                                      admin_key, analyst_key, script):
    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    script.append("SELECT id, status FROM orders")
    first = (await ask(client, analyst_key, "List the orders")).json()
    assert len(first["rows"]) == 30
    await client.post("/api/v1/access/row-policies", headers=bearer(admin_key), json={
        "connection": "shop", "table": "orders", "subject": f"user:{analyst.id}", "condition": "status = 'new'"})
    ask_service = client.app.state.services.ask_service
    again = await ask_service.answer(analyst, first["answer_id"])
    assert {row[1] for row in again.result.rows} == {"new"} and again.policies


async def _mask(client, admin_key, analyst, table: str, column: str, mode: str) -> None:
    response = await client.post("/api/v1/access/column-masks", headers=bearer(admin_key), json={
        "connection": "shop", "table": table, "column": column, "subject": f"user:{analyst.id}", "mode": mode})
    assert response.status_code == 201, response.text


async def test_the_catalog_api_and_browser_show_the_analyst_only_what_their_policies_let_them_see(
        client, policed, analyst, analyst_key, admin_key):
    await _mask(client, admin_key, analyst, "customers", "email", "hidden")
    await _mask(client, admin_key, analyst, "customers", "state", "redacted")

    async def tables(key: str) -> dict:
        response = await client.get("/api/v1/connections/shop/tables", headers=bearer(key))
        assert response.status_code == 200, response.text
        return {t["name"]: t | {"columns": {c["name"]: c for c in t["columns"]}} for t in response.json()}

    theirs, mine = await tables(admin_key), await tables(analyst_key)
    assert theirs["customers"]["columns"]["state"]["distinct_values"] == ["CA", "NY", "TX"]
    assert "email" in theirs["customers"]["columns"] and theirs["orders"]["row_count"] == 30
    assert set(theirs["orders"]["columns"]["status"]["distinct_values"]) == {"new", SHIPPED}
    assert "email" not in mine["customers"]["columns"]  # hidden: not listed at all
    assert mine["customers"]["columns"]["state"]["distinct_values"] is None  # masked: listed, no values
    assert mine["customers"]["row_count"] == 30  # no row policy on customers
    # a row policy on orders: the whole table's values and count are not theirs to see
    assert mine["orders"]["row_count"] is None and mine["orders"]["columns"]["status"]["distinct_values"] is None
    one = (await client.get("/api/v1/connections/shop/tables/customers", headers=bearer(analyst_key))).json()
    assert "email" not in {c["name"] for c in one["columns"]}
    await login(client, analyst.email, ANALYST_PASSWORD)
    page = (await client.get("/catalog/?connection=shop")).text
    assert "c1@example.com" not in page and "email" not in page and SHIPPED not in page


async def test_prompts_and_the_reader_see_only_what_the_analysts_policies_let_them_see(
        client, policed, admin, analyst, analyst_key, admin_key, script, prompts):
    await _mask(client, admin_key, analyst, "customers", "email", "hidden")
    await _mask(client, admin_key, analyst, "customers", "state", "redacted")
    script.extend(["SELECT state, COUNT(*) FROM customers GROUP BY state"] * 2)
    question = {"use_model": True}
    await ask(client, admin_key, "How many customers per state and what status have their orders?", **question)
    theirs = prompts[-1]
    await ask(client, analyst_key, "How many customers per state and what status have their orders?", **question)
    mine = prompts[-1]
    assert "NY" in theirs  # the test means something: the admin's prompt has the values
    assert "NY" not in mine and "email" not in mine and SHIPPED not in mine
    assert "state" in mine  # a masked column is still there to be asked about
    catalog, generation = client.app.state.catalog, client.app.state.generation
    shop = await catalog.get_connection("shop")
    # the reader that read the analyst's question was one built from their view (readers are kept per view)
    view = await catalog.visibility(analyst, shop.id)
    assert view.fingerprint and (shop.id, view.fingerprint) in generation._readers
    their_model = generation.reader(await catalog.schema_for_user(shop.id, admin)).model
    my_model = generation.reader(await catalog.schema_for_user(shop.id, analyst)).model
    assert "email" in {a.name for a in their_model.entity("customers").attributes}
    assert "email" not in {a.name for a in my_model.entity("customers").attributes}  # nothing links to it

    def values(model) -> set[str]:
        return {v.value for entries in model.values.values() for v in entries}

    assert {"NY", SHIPPED} <= values(their_model) and not {"NY", SHIPPED} & values(my_model)


async def test_metrics_naming_a_hidden_column_are_not_listed_and_no_metric_is_tried_on_all_rows(
        client, policed, analyst, analyst_key, admin_key):
    for metric in ({"name": "order value", "expression": "sum(orders.amount)"},
                   {"name": "customer count", "expression": "count(customers.id)"}):
        response = await client.post("/api/v1/connections/shop/metrics", json=metric, headers=bearer(admin_key))
        assert response.status_code == 201, response.text
    await _mask(client, admin_key, analyst, "orders", "amount", "hidden")
    listed = (await client.get("/api/v1/connections/shop/metrics", headers=bearer(analyst_key))).json()
    assert [m["name"] for m in listed] == ["customer count"]
    everyone = (await client.get("/api/v1/connections/shop/metrics", headers=bearer(admin_key))).json()
    value = next(m for m in everyone if m["name"] == "order value")
    assert (await client.get(f"/api/v1/connections/shop/metrics/{value['id']}",
                             headers=bearer(analyst_key))).status_code == 404
    # a trial runs unrewritten on every row: not for a user under policies (the admin may)
    counted = next(m for m in everyone if m["name"] == "customer count")
    tried = await client.post(f"/api/v1/connections/shop/metrics/{counted['id']}/try", headers=bearer(analyst_key))
    assert tried.status_code == 403
    assert (await client.post(f"/api/v1/connections/shop/metrics/{counted['id']}/try",
                              headers=bearer(admin_key))).status_code == 200
