"""Usage, log and trace through the REST API and the pages; CSV export; quota overrides; /metrics."""

from __future__ import annotations

import csv
import io
import re

from nl2sql.gateway import RequestContext, call_context, request_context
from nl2sql.inference import FakeChatModel
from tests.gateway.conftest import flushed
from tests.support import ADMIN_PASSWORD, ANALYST_PASSWORD, bearer, form_post, login


async def _model_call(client, user_id: int, trace_id: str, purpose: str = "generate") -> None:
    model = client.app.state.gateway.wrap(FakeChatModel(["SELECT count(*) FROM orders"], model="tiny"))
    with request_context(RequestContext(trace_id=trace_id, user_id=user_id)):
        with call_context(purpose=purpose, connection="demo"):
            await model.complete("how many orders are there")


async def test_analysts_see_their_own_usage_and_remaining_quota(client, analyst, analyst_key, admin):
    await _model_call(client, analyst.id, "a" * 32)
    await _model_call(client, admin.id, "b" * 32)
    await flushed(client)
    report = (await client.get("/api/v1/usage?group_by=model", headers=bearer(analyst_key))).json()
    assert report["user_id"] == analyst.id
    assert report["summary"]["model_calls"] == 1
    assert report["summary"]["tokens"] == 9  # 5 prompt + 4 completion words
    assert report["groups"] == [
        {"key": "fake/tiny", "requests": None, "model_calls": 1, "prompt_tokens": 5, "completion_tokens": 4,
         "model_errors": 0, "p95_model_ms": report["groups"][0]["p95_model_ms"], "tokens": 9}
    ]
    assert report["quota"]["tokens_today"] == 9
    assert report["quota"]["tokens_left"] == report["quota"]["tokens_per_day"] - 9
    other = await client.get(f"/api/v1/usage?user_id={admin.id}", headers=bearer(analyst_key))
    assert other.status_code == 403


async def test_admins_see_everyone_grouped_by_user_and_connection(client, analyst, admin, admin_key):
    await _model_call(client, analyst.id, "a" * 32)
    await _model_call(client, admin.id, "b" * 32)
    await flushed(client)
    by_user = (await client.get("/api/v1/usage?group_by=user", headers=bearer(admin_key))).json()
    assert {g["key"]: g["model_calls"] for g in by_user["groups"]} == {str(analyst.id): 1, str(admin.id): 1}
    by_connection = (await client.get("/api/v1/usage?group_by=connection", headers=bearer(admin_key))).json()
    assert [(g["key"], g["tokens"]) for g in by_connection["groups"]] == [("demo", 18)]
    bad = await client.get("/api/v1/usage?group_by=colour", headers=bearer(admin_key))
    assert bad.status_code == 400 and "group_by must be one of" in bad.json()["detail"]


async def test_log_is_admin_only_filtered_paginated_and_drills_into_a_trace(client, admin_key, analyst_key, analyst):
    me = await client.get("/api/v1/me", headers=bearer(analyst_key))
    trace_id = me.headers["x-trace-id"]
    for _ in range(3):
        await client.get("/healthz")
    await _model_call(client, analyst.id, trace_id)
    await flushed(client)
    assert (await client.get("/api/v1/logs", headers=bearer(analyst_key))).status_code == 403
    page = (await client.get("/api/v1/logs?route=/healthz&limit=2", headers=bearer(admin_key))).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    mine = (await client.get(f"/api/v1/logs?user_id={analyst.id}&status=2xx", headers=bearer(admin_key))).json()
    assert [(i["route"], i["model_calls"], i["tokens"]) for i in mine["items"]] == [("/api/v1/me", 1, 9)]
    trace = (await client.get(f"/api/v1/logs/{trace_id}", headers=bearer(admin_key))).json()
    assert [r["route"] for r in trace["requests"]] == ["/api/v1/me"]
    assert [(c["purpose"], c["connection"], c["prompt_tokens"]) for c in trace["model_calls"]] == [("generate", "demo", 5)]
    missing = await client.get("/api/v1/logs/nope-nope-nope", headers=bearer(admin_key))
    assert missing.status_code == 404
    bad = await client.get("/api/v1/logs?status=teapot", headers=bearer(admin_key))
    assert bad.status_code == 400
    # a digit Python reads as one ('³'), a user id no integer column holds: a 400, not a 500
    for query in ("status=%C2%B3", "status=99999999999", "user_id=-108948328417", "api_key_id=99999999999"):
        for path in ("/api/v1/logs", "/api/v1/logs.csv"):
            assert (await client.get(f"{path}?{query}", headers=bearer(admin_key))).status_code == 400, (path, query)


async def test_log_exports_as_csv(client, admin_key):
    await client.get("/healthz")
    await flushed(client)
    response = await client.get("/api/v1/logs.csv?route=/healthz", headers=bearer(admin_key))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["method"], r["route"], r["status"]) for r in rows] == [("GET", "/healthz", "200")]


async def test_admins_set_and_remove_quota_overrides_through_the_api(client, admin_key, analyst):
    put = await client.put(
        f"/api/v1/quotas/user/{analyst.id}", json={"requests_per_minute": 5, "tokens_per_day": 1000},
        headers=bearer(admin_key),
    )
    assert put.status_code == 200, put.text
    listed = (await client.get("/api/v1/quotas", headers=bearer(admin_key))).json()
    assert [(o["subject_kind"], o["subject_id"], o["requests_per_minute"], o["tokens_per_day"]) for o in listed] == [
        ("user", analyst.id, 5, 1000)
    ]
    assert (await client.put("/api/v1/quotas/user/9999", json={"tokens_per_day": 1}, headers=bearer(admin_key))).status_code == 404
    assert (await client.put("/api/v1/quotas/team/1", json={"tokens_per_day": 1}, headers=bearer(admin_key))).status_code == 400
    assert (await client.delete(f"/api/v1/quotas/user/{analyst.id}", headers=bearer(admin_key))).status_code == 200
    assert (await client.get("/api/v1/quotas", headers=bearer(admin_key))).json() == []


async def test_usage_page_shows_own_usage_and_quota(client, analyst):
    await _model_call(client, analyst.id, "c" * 32)
    await flushed(client)
    await login(client, "analyst@example.com", ANALYST_PASSWORD)
    page = await client.get("/usage")
    assert page.status_code == 200
    assert "Model tokens today" in page.text and "<svg" in page.text
    assert "demo" in page.text
    assert (await client.get("/admin/usage")).status_code == 403


async def test_admin_pages_show_dashboard_log_trace_and_csv(client, admin, analyst):
    await _model_call(client, analyst.id, "d" * 32, purpose="repair")
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    await client.get("/healthz")
    await flushed(client)
    dashboard = await client.get("/admin/usage?range=24h")
    assert dashboard.status_code == 200
    assert "analyst@example.com" in dashboard.text and "<svg" in dashboard.text and "p95" in dashboard.text
    log = await client.get("/admin/usage/log?route=healthz")
    assert log.status_code == 200 and "/healthz" in log.text
    fragment = await client.get("/admin/usage/log?status=5xx", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "No request matches" in fragment.text
    bad = await client.get("/admin/usage/log?since=yesterday")
    assert bad.status_code == 400 and "since must be a date" in bad.text
    trace = await client.get("/admin/usage/log/" + "d" * 32)
    assert trace.status_code == 200 and "repair" in trace.text and "Bodies not stored" in trace.text
    assert re.search(r"total \d+(\.\d)? (ms|s|min)", trace.text)  # durations as people read them
    exported = await client.get("/admin/usage/log.csv?route=healthz")
    assert exported.text.splitlines()[0].startswith("time,trace_id")


async def test_admin_sets_a_quota_on_the_page_with_visible_errors(client, admin, analyst):
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    saved = await form_post(
        client, "/admin/usage/quotas",
        {"kind": "user", "subject": "analyst@example.com", "requests_per_minute": "7", "tokens_per_day": ""},
        page="/admin/usage", htmx=True,
    )
    assert saved.status_code == 200 and "Limits of user" in saved.text
    status = await client.app.state.gateway.quotas.status("user", analyst.id)
    assert status.requests_per_minute == 7
    wrong = await form_post(
        client, "/admin/usage/quotas", {"kind": "user", "subject": "nobody@example.com", "requests_per_minute": "1"},
        page="/admin/usage", htmx=True,
    )
    assert wrong.status_code == 400 and "no user with email" in wrong.text


async def test_metrics_are_exposed_in_prometheus_format(client, analyst):
    await client.get("/healthz")
    await _model_call(client, analyst.id, "e" * 32)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'nl2sql_http_requests_total{method="GET",route="/healthz",status="200"} 1' in text
    assert 'nl2sql_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 1' in text
    assert 'nl2sql_model_tokens_total{model="tiny",purpose="generate",kind="prompt"} 5' in text
    assert 'nl2sql_model_queue_depth{backend="fake",model="tiny"} 0' in text
    assert "nl2sql_gateway_records_dropped_total 0" in text
    assert "nl2sql_gateway_buffered_records" in text
