"""Evaluation runs through the app: the API starts a background job and reports progress and results; the pages
start one from an upload, show its progress and failures, cancel, and compare two runs; analysts are refused."""

from __future__ import annotations

import asyncio

import pytest

from nl2sql.inference import FakeChatModel
from tests.answers.conftest import build_shop_db
from tests.support import ADMIN_PASSWORD, bearer, csrf_token, form_post, login

CSV = """question,query,query_category
How many orders are there?,SELECT COUNT(*) FROM orders,count
How many customers are there?,SELECT COUNT(*) FROM customers,count
How many orders per status?,"SELECT status, COUNT(*) FROM orders GROUP BY status",group_by
How many orders are there in all?,SELECT COUNT(*) + 1 FROM orders,count
"""


@pytest.fixture
async def client(settings, tmp_path):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    app = create_app(settings, chat_model=FakeChatModel(["SELECT COUNT(*) FROM customers WHERE state = 'CA'"]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        auth, catalog = app.state.auth, app.state.catalog
        admin = await auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
        analyst = await auth.create_user("analyst@example.com", ADMIN_PASSWORD, role="analyst")
        path = tmp_path / "eval_shop.db"
        build_shop_db(path)
        await catalog.create_connection(admin, "shop", f"sqlite:///{path}")
        assert (await catalog.sync_now(admin, "shop")).error is None
        client.admin_key = bearer((await auth.create_api_key(admin, name="a")).key)
        client.analyst_key = bearer((await auth.create_api_key(analyst, name="b")).key)
        yield client


async def _finished(client, run_id: int) -> dict:
    for _ in range(300):
        body = (await client.get(f"/api/v1/evaluations/{run_id}", headers=client.admin_key)).json()
        if body["status"] not in ("queued", "running"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {body}")


async def test_the_api_runs_an_evaluation_in_the_background(client):
    refused = await client.post("/api/v1/evaluations", json={"connection": "shop", "questions_csv": CSV},
                                headers=client.analyst_key)
    assert refused.status_code == 403
    bad = await client.post("/api/v1/evaluations", json={"connection": "shop", "questions_csv": "a,b\n1,2\n"},
                            headers=client.admin_key)
    assert bad.status_code == 400 and "question" in bad.json()["detail"]
    missing = await client.post("/api/v1/evaluations", json={"connection": "nope", "questions_csv": CSV},
                                headers=client.admin_key)
    assert missing.status_code == 404

    started = await client.post("/api/v1/evaluations", json={"connection": "shop", "questions_csv": CSV,
                                                            "name": "first"}, headers=client.admin_key)
    assert started.status_code == 202, started.text
    assert started.json()["total"] == 4
    body = await _finished(client, started.json()["id"])
    assert body["status"] == "done" and (body["done"], body["correct"]) == (4, 3)
    assert {g["name"]: g["correct"] for g in body["per_category"]} == {"count": 2, "group_by": 1}
    failed = [i for i in body["items"] if not i["correct"]]
    assert failed[0]["question"] == "How many orders are there in all?" and failed[0]["reason"]

    second = await client.post("/api/v1/evaluations", json={"connection": "shop", "questions_csv": CSV, "limit": 2},
                               headers=client.admin_key)
    other = await _finished(client, second.json()["id"])
    compared = await client.get(f"/api/v1/evaluations/compare?before={body['id']}&after={other['id']}",
                                headers=client.admin_key)
    assert compared.status_code == 200 and compared.json()["unchanged"] == 2
    listed = await client.get("/api/v1/evaluations", headers=client.admin_key)
    assert [r["id"] for r in listed.json()] == [other["id"], body["id"]]
    ended = await client.post(f"/api/v1/evaluations/{other['id']}/cancel", headers=client.admin_key)
    assert ended.status_code == 409
    assert (await client.get("/api/v1/evaluations/999", headers=client.admin_key)).status_code == 404


async def test_the_pages_start_show_and_compare_runs(client):
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    page = await client.get("/admin/evaluations")
    assert page.status_code == 200 and "No evaluation yet" in page.text
    assert 'href="/admin/evaluations"' in page.text  # in the navigation

    token = await csrf_token(client, "/admin/evaluations")
    empty = await client.post("/admin/evaluations", data={"_csrf_token": token, "connection": "shop"},
                              files={"file": ("q.csv", b"", "text/csv")})
    assert empty.status_code == 400 and "question file" in empty.text

    started = await client.post("/admin/evaluations", data={"_csrf_token": token, "connection": "shop"},
                                files={"file": ("sales-questions.csv", CSV.encode(), "text/csv")},
                                follow_redirects=False)
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    run_id = int(location.rsplit("/", 1)[1])
    await _finished(client, run_id)
    shown = await client.get(location)
    assert "sales-questions.csv" in shown.text and "3 correct (75.0%)" in shown.text
    assert "Failures (1)" in shown.text and "SELECT COUNT(*) + 1 FROM orders" in shown.text
    assert "hx-trigger=\"every 1s\"" not in shown.text  # finished: no more polling
    progress = await client.get(f"/admin/evaluations/{run_id}/progress", headers={"HX-Request": "true"})
    assert progress.status_code == 200 and "<html" not in progress.text

    pasted = await form_post(client, "/admin/evaluations", {"connection": "shop", "questions_csv": CSV,
                                                             "name": "pasted", "limit": "2"},
                             page="/admin/evaluations")
    second = int(pasted.headers["location"].rsplit("/", 1)[1])
    await _finished(client, second)
    compared = await client.get(f"/admin/evaluations/compare?before={run_id}&after={second}")
    assert compared.status_code == 200 and "0 fixed, 0 broken, 2 unchanged" in compared.text

    client.cookies.clear()
    await login(client, "analyst@example.com", ADMIN_PASSWORD)
    assert (await client.get("/admin/evaluations", follow_redirects=False)).status_code in (302, 303, 403)


async def test_a_golden_regression_from_the_page_and_its_trend(client):
    catalog = client.app.state.catalog
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    refused = await form_post(client, "/admin/evaluations/regression", {"connection": "shop"},
                              page="/admin/evaluations")
    assert refused.status_code == 409 and "no golden queries" in refused.text
    connection = await catalog.get_connection("shop")
    await catalog.add_golden_query(None, connection.id, "How many orders are there?", "SELECT COUNT(*) FROM orders")
    await catalog.add_golden_query(None, connection.id, "What is the magic number of orders?",
                                   "SELECT COUNT(*) * 7 FROM orders")
    started = await form_post(client, "/admin/evaluations/regression", {"connection": "shop"},
                              page="/admin/evaluations")
    assert started.status_code == 303
    run_id = int(started.headers["location"].rsplit("/", 1)[1])
    body = await _finished(client, run_id)
    assert body["kind"] == "golden" and (body["done"], body["correct"]) == (2, 1)
    shown = await client.get(f"/admin/evaluations/{run_id}")
    assert "Regressions (1)" in shown.text and "magic number" in shown.text
    listing = await client.get("/admin/evaluations")
    assert 'id="regression-trend"' in listing.text and "1/2 (50%)" in listing.text and "1 regressed" in listing.text
    trend = await client.get("/api/v1/evaluations/regression?connection=shop", headers=client.admin_key)
    assert [r["correct"] for r in trend.json()["shop"]] == [1]
    api = await client.post("/api/v1/evaluations/regression", json={"connection": "shop"}, headers=client.admin_key)
    assert api.status_code == 202 and api.json()["kind"] == "golden"
    await _finished(client, api.json()["id"])


async def test_the_readiness_page_and_api(client):
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    connection_page = await client.get("/connections/shop")
    assert 'href="/connections/shop/readiness"' in connection_page.text
    page = await client.get("/connections/shop/readiness")
    assert page.status_code == 200 and "Readiness of shop" in page.text
    assert 'href="/catalog?connection=shop"' in page.text and 'href="/connections/shop/semantics"' in page.text
    api = await client.get("/api/v1/readiness/shop", headers=client.admin_key)
    assert api.status_code == 200 and api.json()["total"] == 7
    assert "business_words" in {i["key"] for i in api.json()["items"]}
    assert (await client.get("/api/v1/readiness/shop", headers=client.analyst_key)).status_code == 403
    assert (await client.get("/api/v1/readiness/nope", headers=client.admin_key)).status_code == 404


async def test_a_draft_through_the_api_from_start_to_publish(client):
    refused = await client.post("/api/v1/connections/shop/draft", headers=client.analyst_key)
    assert refused.status_code == 403
    assert (await client.get("/api/v1/connections/shop/draft", headers=client.admin_key)).status_code == 404
    made = await client.post("/api/v1/connections/shop/draft", headers=client.admin_key)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "shop~draft" and made.json()["changes"] == [] and made.json()["trial"] is None
    again = await client.post("/api/v1/connections/shop/draft", headers=client.admin_key)
    assert again.status_code == 409 and "already has a draft" in again.json()["detail"]
    listed = await client.get("/api/v1/connections", headers=client.admin_key)
    assert [c["name"] for c in listed.json()] == ["shop"]  # drafts are not connections people pick

    # edited through the usual endpoints, under the draft's name
    added = await client.post("/api/v1/connections/shop~draft/golden-queries", headers=client.admin_key,
                              json={"question": "How many orders are there?", "sql": "SELECT COUNT(*) FROM orders"})
    assert added.status_code == 201, added.text
    shown = (await client.get("/api/v1/connections/shop/draft", headers=client.admin_key)).json()
    assert [(c["kind"], c["action"]) for c in shown["changes"]] == [("golden_query", "add")]

    tried = await client.post("/api/v1/connections/shop/draft/trial", headers=client.admin_key)
    assert tried.status_code == 202, tried.text
    await _finished(client, tried.json()["live"]["id"])
    await _finished(client, tried.json()["draft"]["id"])
    trial = (await client.get("/api/v1/connections/shop/draft", headers=client.admin_key)).json()["trial"]
    assert trial["finished"] and trial["live"]["total"] == trial["draft"]["total"] == 1

    published = await client.post("/api/v1/connections/shop/draft/publish", headers=client.admin_key)
    assert published.status_code == 200 and published.json()["published"] == 1
    live = await client.get("/api/v1/connections/shop/golden-queries", headers=client.admin_key)
    assert [g["question"] for g in live.json()] == ["How many orders are there?"]
    assert (await client.get("/api/v1/connections/shop/draft", headers=client.admin_key)).status_code == 404
    await client.post("/api/v1/connections/shop/draft", headers=client.admin_key)
    assert (await client.delete("/api/v1/connections/shop/draft", headers=client.admin_key)).status_code == 204
    assert (await client.delete("/api/v1/connections/shop/draft", headers=client.admin_key)).status_code == 404


async def test_the_draft_page_creates_tries_and_discards(client):
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    connection_page = await client.get("/connections/shop")
    assert 'href="/connections/shop/draft"' in connection_page.text
    page = await client.get("/connections/shop/draft")
    assert page.status_code == 200 and 'id="draft-create"' in page.text
    made = await form_post(client, "/connections/shop/draft", {}, page="/connections/shop/draft")
    assert made.status_code == 303
    page = await client.get("/connections/shop/draft")
    assert "What publishing changes (0)" in page.text and "Not tried yet" in page.text
    # the draft's own connection page says what it is, without sync, grants or delete
    draft_page = await client.get("/connections/shop~draft")
    assert 'id="draft-banner"' in draft_page.text and 'id="grants-card"' not in draft_page.text

    browsed = await client.get("/catalog?connection=shop~draft")
    assert browsed.status_code == 200 and "<option selected>shop~draft</option>" in browsed.text
    edited = await form_post(client, "/catalog/shop~draft/tables/orders/columns/amount",
                             {"description": "Order total in euros", "included": "on"}, page="/catalog?connection=shop~draft",
                             htmx=True)
    assert edited.status_code in (200, 201), edited.text
    catalog = client.app.state.catalog
    nothing = await form_post(client, "/connections/shop/draft/trial", {}, page="/connections/shop/draft")
    assert nothing.status_code == 409 and "nothing to try the draft on" in nothing.text
    page = await client.get("/connections/shop/draft")
    assert "What publishing changes (1)" in page.text and "Order total in euros" in page.text

    discarded = await form_post(client, "/connections/shop/draft/discard", {}, page="/connections/shop/draft")
    assert discarded.status_code == 303 and "discarded" in discarded.headers["location"]
    page = await client.get(discarded.headers["location"])
    assert 'id="draft-discarded"' in page.text and 'id="draft-create"' in page.text
    live = await catalog.schema_for_prompt((await catalog.get_connection("shop")).id)
    amount = next(c for t in live.tables for c in t.columns if t.name == "orders" and c.name == "amount")
    assert amount.description == ""

    client.cookies.clear()
    await login(client, "analyst@example.com", ADMIN_PASSWORD)
    assert (await client.get("/connections/shop/draft", follow_redirects=False)).status_code in (302, 303, 403)


async def _conflicting_draft(client) -> None:
    """A draft and the live connection both describe orders.amount, differently, after the draft was taken; the
    draft also describes orders.status, which live left alone."""
    assert (await client.post("/api/v1/connections/shop/draft", headers=client.admin_key)).status_code == 201
    for name, column, description in (("shop~draft", "amount", "Total, as the draft says"),
                                      ("shop~draft", "status", "Where the order is"),
                                      ("shop", "amount", "Total, as live says")):
        edited = await client.patch(f"/api/v1/connections/{name}/tables/orders/columns/{column}",
                                    headers=client.admin_key, json={"description": description})
        assert edited.status_code == 200, edited.text


async def _descriptions(client) -> dict[str, str]:
    catalog = client.app.state.catalog
    schema = await catalog.schema_for_prompt((await catalog.get_connection("shop")).id)
    return {c.name: c.description for t in schema.tables if t.name == "orders" for c in t.columns}


async def test_a_publish_conflict_through_the_api_is_a_409_listing_each_conflict(client):
    await _conflicting_draft(client)
    shown = (await client.get("/api/v1/connections/shop/draft", headers=client.admin_key)).json()
    assert [(c["target"], c["field"]) for c in shown["changes"]] == [("orders.status", "description")]
    assert [c["key"] for c in shown["conflicts"]] == ["column:orders.amount:description"]

    stopped = await client.post("/api/v1/connections/shop/draft/publish", headers=client.admin_key)
    assert stopped.status_code == 409 and stopped.headers["content-type"].startswith("application/problem+json")
    problem = stopped.json()
    assert "1 conflict with the live connection" in problem["detail"]
    assert problem["conflicts"] == [{
        "key": "column:orders.amount:description", "kind": "column", "target": "orders.amount",
        "field": "description", "base": "", "base_known": True, "live": "Total, as live says",
        "draft": "Total, as the draft says", "live_did": "changed", "draft_did": "changed",
        "detail": "column orders.amount · description: the live connection changed it since the draft was taken, "
                  "and the draft changed it"}]
    assert (await _descriptions(client))["status"] == ""  # nothing was published

    wrong = await client.post("/api/v1/connections/shop/draft/publish", headers=client.admin_key,
                              json={"resolve": "mine"})
    assert wrong.status_code == 400
    kept = await client.post("/api/v1/connections/shop/draft/publish", headers=client.admin_key,
                             json={"resolve": {"column:orders.amount:description": "live"}})
    assert kept.status_code == 200 and kept.json()["published"] == 1, kept.text
    described = await _descriptions(client)
    assert (described["amount"], described["status"]) == ("Total, as live says", "Where the order is")

    await _conflicting_draft(client)  # live now says "Total, as live says" again: only the draft differs
    taken = await client.post("/api/v1/connections/shop/draft/publish", headers=client.admin_key,
                              json={"resolve": "draft"})
    assert taken.status_code == 200, taken.text
    assert (await _descriptions(client))["amount"] == "Total, as the draft says"


async def test_the_draft_page_shows_a_conflict_and_publishes_with_the_admins_choice(client):
    await _conflicting_draft(client)
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    page = await client.get("/connections/shop/draft")
    assert 'id="draft-conflicts"' in page.text and "Conflicts with shop (1)" in page.text
    assert "Total, as live says" in page.text and "Total, as the draft says" in page.text
    assert 'name="resolve.column:orders.amount:description"' in page.text

    stopped = await form_post(client, "/connections/shop/draft/publish", {}, page="/connections/shop/draft")
    assert stopped.status_code == 409
    assert 'id="draft-error"' in stopped.text and "nothing was published" in stopped.text
    assert 'id="draft-conflicts"' in stopped.text
    undecided = await form_post(client, "/connections/shop/draft/publish",
                                {"resolve.column:orders.amount:description": ""}, page="/connections/shop/draft")
    assert undecided.status_code == 409

    published = await form_post(client, "/connections/shop/draft/publish",
                                {"resolve.column:orders.amount:description": "draft"}, page="/connections/shop/draft")
    assert published.status_code == 303 and "published=2" in published.headers["location"]
    described = await _descriptions(client)
    assert (described["amount"], described["status"]) == ("Total, as the draft says", "Where the order is")
