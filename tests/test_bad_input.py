"""Values the app database can't store (NUL characters, ids beyond 64 bits, giant emails) answer 400/404 with a
readable message, never 500, on the API and on the pages."""

import pytest

from tests.support import bearer, form_post, login

HUGE = str(2**70)


STR_VALUES = {"name": "shop", "kind": "user"}


def _id_routes(app) -> list[tuple[str, str]]:
    """(method, path) for every route with an integer id, the id 2**70 and other parameters real."""
    out = set()
    for route in app.routes:
        params = route.path_parameters
        params = list(params.values()) if isinstance(params, dict) else list(params or ())
        if not any(p.type is int for p in params):
            continue
        path = route.path
        for p in params:
            value = HUGE if p.type is int else STR_VALUES.get(p.name, "x")
            path = path.replace(f"{{{p.name}:{'int' if p.type is int else 'str'}}}", value)
        for method in getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}:
            out.add((method, path))
    return sorted(out)


async def test_ids_beyond_64_bits_are_not_found_or_refused_on_every_route(client, admin, admin_key, tmp_path):
    import sqlite3

    db = tmp_path / "shop.db"
    sqlite3.connect(db).executescript("CREATE TABLE t (id integer primary key); INSERT INTO t VALUES (1);")
    made = await client.post("/api/v1/connections", json={"name": "shop", "url": f"sqlite:///{db}"}, headers=bearer(admin_key))
    assert made.status_code == 201, made.text
    routes = _id_routes(client.app)
    assert len(routes) >= 20  # the routes with an id are found, not silently none
    await login(client, admin.email, "correct horse battery staple")
    for method, path in routes:
        if path.startswith("/api/"):
            response = await client.request(method, path, headers=bearer(admin_key),
                                            json={} if method in ("POST", "PUT", "PATCH") else None)
        elif method == "GET":
            response = await client.get(path)
        else:
            response = await form_post(client, path, {}, htmx=True)
        assert response.status_code in (400, 404), (method, path, response.status_code, response.text[:200])
        assert "went wrong on our side" not in response.text, (method, path)


@pytest.mark.parametrize("path, body", [
    ("/api/v1/users", {"email": "a\u0000b@example.com", "password": "long enough password"}),
    ("/api/v1/users", {"email": "ok@example.com", "password": "long enough\u0000password", "display_name": "x\u0000y"}),
    ("/api/v1/api-keys", {"name": "key\u0000one"}),
    ("/api/v1/connections", {"name": "shop", "url": "sqlite:////tmp/a.db", "description": "a\u0000b"}),
    ("/api/v1/users", {"email": "a" * 100_000 + "@example.com", "password": "long enough password"}),
])
async def test_nul_characters_and_oversized_values_in_json_bodies_are_refused(client, admin_key, path, body):
    response = await client.post(path, json=body, headers=bearer(admin_key))
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    detail = response.json()["detail"]
    assert "went wrong on our side" not in detail and len(detail) < 400


async def test_a_nul_character_is_named_in_the_message(client, admin_key):
    response = await client.post("/api/v1/api-keys", json={"name": "key\u0000one"}, headers=bearer(admin_key))
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


async def test_login_with_a_giant_or_nul_email_is_a_400_on_the_page(client, admin):
    for email in ("a" * 100_000 + "@example.com", "a\u0000b@example.com"):
        response = await form_post(client, "/login", {"email": email, "password": "whatever it is"}, page="/login")
        assert response.status_code == 400, response.status_code
        assert "not an email address" in response.text
        assert len(response.text) < 50_000  # the giant value isn't echoed back whole
    assert (await login(client, admin.email, "correct horse battery staple")).status_code == 303


async def test_nul_in_a_page_form_is_shown_as_an_error_in_the_page(client, admin):
    await login(client, admin.email, "correct horse battery staple")
    response = await form_post(client, "/account/api-keys", {"name": "key\u0000one"}, htmx=True)
    assert response.status_code == 400 and "NUL" in response.text
    assert (await client.get("/healthz")).status_code == 200
