"""Every request is recorded exactly once, with its trace id, user, key, route template and status."""

from __future__ import annotations

import re

from tests.gateway.conftest import flushed, rows
from tests.support import ADMIN_PASSWORD, bearer, login

PARAM = re.compile(r"\{(\w+):(\w+)\}")


def _concrete(path: str) -> str:
    return PARAM.sub(lambda m: "1" if m.group(2) == "int" else "x", path)


async def test_every_route_produces_exactly_one_request_record(client, admin, admin_key, app_sql):
    await login(client, "admin@example.com", ADMIN_PASSWORD)
    made: list[tuple[str, str, str]] = []
    for route in client.app.routes:
        if route.path.startswith("/static"):
            continue  # static files are not recorded (docs/gateway.md)
        for method in sorted(getattr(route, "methods", ()) - {"HEAD", "OPTIONS"}):
            path = _concrete(route.path)
            headers = bearer(admin_key) if path.startswith("/api/") else {}
            response = await client.request(method, path, headers=headers, follow_redirects=False)
            made.append((method, path, response.headers["x-trace-id"]))
    response = await client.get("/no/such/page")
    made.append(("GET", "/no/such/page", response.headers["x-trace-id"]))
    assert len(made) > 10
    await flushed(client)
    for method, path, trace_id in made:
        found = rows(app_sql, "SELECT method FROM gateway_requests WHERE trace_id = :t", t=trace_id)
        assert [r.method for r in found] == [method], f"{method} {path}: {len(found)} records"
    total = rows(app_sql, "SELECT count(*) AS n FROM gateway_requests")[0].n
    # the login above made its own requests (GET + POST /login); nothing else is recorded
    assert total == len(made) + 2


async def test_static_files_are_not_recorded(client, app_sql):
    response = await client.get("/static/app.css")
    assert response.status_code == 200
    await flushed(client)
    assert rows(app_sql, "SELECT count(*) AS n FROM gateway_requests")[0].n == 0


async def test_record_names_user_key_route_template_and_status(client, admin, admin_key, app_sql):
    response = await client.get(f"/api/v1/users/{admin.id}", headers=bearer(admin_key))
    assert response.status_code == 200
    await flushed(client)
    (record,) = rows(
        app_sql, "SELECT * FROM gateway_requests WHERE trace_id = :t", t=response.headers["x-trace-id"]
    )
    assert record.route == "/api/v1/users/{user_id}"
    assert record.user_id == admin.id
    assert record.api_key_id is not None
    assert record.status == 200
    assert record.method == "GET"
    assert record.client_addr
    assert record.duration_ms > 0


async def test_failed_requests_are_recorded_with_their_status(client, app_sql):
    unauthenticated = await client.get("/api/v1/me")
    unmatched = await client.get("/api/v1/nothing-here")
    assert (unauthenticated.status_code, unmatched.status_code) == (401, 404)
    await flushed(client)
    found = {
        r.trace_id: (r.route, r.status, r.user_id)
        for r in rows(app_sql, "SELECT trace_id, route, status, user_id FROM gateway_requests")
    }
    assert found[unauthenticated.headers["x-trace-id"]] == ("/api/v1/me", 401, None)
    assert found[unmatched.headers["x-trace-id"]] == ("(unmatched)", 404, None)


async def test_well_formed_incoming_trace_ids_are_kept(client):
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    kept = await client.get("/healthz", headers={"traceparent": traceparent})
    assert kept.headers["x-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    request_id = await client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
    assert request_id.headers["x-trace-id"] == "req-12345678"


async def test_malformed_incoming_trace_ids_are_replaced(client):
    bad = await client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>", "traceparent": "junk"})
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-trace-id"])
    zero = await client.get("/healthz", headers={"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"})
    assert zero.headers["x-trace-id"] != "0" * 32
