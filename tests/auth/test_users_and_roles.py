import pytest
from litestar import Litestar

from tests.support import ADMIN_PASSWORD, ANALYST_PASSWORD, bearer, form_post, login


@pytest.fixture
def settings(settings):
    """No rate limit here: the 403 matrix walks every admin route (over 120 of them) as one analyst."""
    from nl2sql.settings import GatewaySettings
    from tests.conftest import with_section

    return with_section(settings, gateway=GatewaySettings(requests_per_minute=0))


def _admin_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every route whose handler (or controller) is guarded by requires_admin."""
    from nl2sql.auth import requires_admin

    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            guards = [g for layer in handler.ownership_layers for g in (layer.guards or [])]
            if requires_admin in guards:
                for method in handler.http_methods:
                    found.append((method, route.path))
    return sorted(set(found))


def _concrete(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "1", path)


async def test_analyst_gets_403_on_every_admin_route(client, analyst, analyst_key):
    routes = _admin_routes(client.app)
    assert ("GET", "/admin/users") in routes and ("GET", "/api/v1/users") in routes
    await login(client, analyst.email, ANALYST_PASSWORD)
    from tests.support import csrf_token

    token = await csrf_token(client, "/account")
    for method, path in routes:
        url = _concrete(path)
        if path.startswith("/api/"):
            response = await client.request(method, url, headers=bearer(analyst_key), json={} if method in ("POST", "PATCH", "PUT") else None)
        else:
            response = await client.request(method, url, data={"_csrf_token": token} if method != "GET" else None)
        assert response.status_code == 403, (method, path, response.status_code)


async def test_admin_pages_send_anonymous_visitors_to_login(client):
    response = await client.get("/admin/users", follow_redirects=False)
    assert response.status_code in (302, 303, 307)


async def test_admin_creates_lists_and_patches_users_by_api(client, admin_key):
    created = await client.post(
        "/api/v1/users",
        json={"email": "Bob@Example.com", "password": "bob password 123", "role": "analyst", "display_name": "Bob"},
        headers=bearer(admin_key),
    )
    assert created.status_code == 201
    bob = created.json()
    assert bob["email"] == "bob@example.com" and bob["role"] == "analyst" and "password" not in created.text
    listed = (await client.get("/api/v1/users", headers=bearer(admin_key))).json()
    assert {u["email"] for u in listed} == {"admin@example.com", "bob@example.com"}
    patched = await client.patch(f"/api/v1/users/{bob['id']}", json={"role": "admin"}, headers=bearer(admin_key))
    assert patched.json()["role"] == "admin"
    disabled = await client.patch(f"/api/v1/users/{bob['id']}", json={"is_active": False}, headers=bearer(admin_key))
    assert disabled.json()["is_active"] is False


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"email": "not-an-email", "password": "long enough pw"}, 400, "not an email"),
        ({"email": "a@example.com", "password": "short"}, 400, "at least 12"),
        ({"email": "a@example.com", "password": "long enough pw", "role": "owner"}, 400, "role"),
        ({"email": "admin@example.com", "password": "long enough pw"}, 409, "already exists"),
        ({"password": "long enough pw"}, 400, "email"),
    ],
)
async def test_bad_user_input_gets_a_clear_4xx(client, admin_key, body, status, fragment):
    response = await client.post("/api/v1/users", json=body, headers=bearer(admin_key))
    assert response.status_code == status
    assert fragment in response.text


async def test_malformed_json_gets_400(client, admin_key):
    response = await client.post(
        "/api/v1/users", content=b"{not json", headers=bearer(admin_key) | {"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_last_admin_cannot_be_demoted_or_disabled(client, admin, admin_key):
    response = await client.patch(f"/api/v1/users/{admin.id}", json={"role": "analyst"}, headers=bearer(admin_key))
    assert response.status_code == 400
    assert "last active admin" in response.json()["detail"]


async def test_admin_page_creates_an_analyst_who_can_log_in(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    response = await form_post(
        client,
        "/admin/users",
        {"email": "carol@example.com", "display_name": "Carol", "password": "carol password 1", "role": "analyst"},
        page="/admin/users",
        htmx=True,
    )
    assert response.status_code == 200
    assert "Created carol@example.com" in response.text
    await form_post(client, "/logout", {}, page="/account")
    assert (await login(client, "carol@example.com", "carol password 1")).status_code == 303
    assert (await client.get("/admin/users")).status_code == 403


async def test_admin_page_disables_changes_role_and_resets_password(client, admin, analyst):
    await login(client, admin.email, ADMIN_PASSWORD)
    r = await form_post(client, f"/admin/users/{analyst.id}", {"action": "role", "role": "admin"}, page="/admin/users", htmx=True)
    assert "Changed the role" in r.text
    assert (await client.app.state.auth.get_user(analyst.id)).role == "admin"
    r = await form_post(client, f"/admin/users/{analyst.id}", {"action": "password", "password": "new password 456"}, page="/admin/users", htmx=True)
    assert "Reset the password" in r.text
    r = await form_post(client, f"/admin/users/{analyst.id}", {"action": "disable"}, page="/admin/users", htmx=True)
    assert "Disabled" in r.text
    r = await form_post(client, f"/admin/users/{analyst.id}", {"action": "enable"}, page="/admin/users", htmx=True)
    assert "Enabled" in r.text
    await form_post(client, "/logout", {}, page="/account")
    assert (await login(client, analyst.email, "new password 456")).status_code == 303


async def test_admin_changes_are_audited(client, admin, admin_key):
    await client.post(
        "/api/v1/users", json={"email": "dan@example.com", "password": "dan password 12"}, headers=bearer(admin_key)
    )
    from nl2sql.audit import AuditLog

    entries, total = await AuditLog(client.app.state.db.sessions).search(action="user.", target="dan@")
    assert total == 1
    assert entries[0].actor_email == admin.email and entries[0].target == "user:dan@example.com"
    assert "password" not in str(entries[0].after)


async def test_change_password_on_account_page(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    wrong = await form_post(client, "/account/password", {"current_password": "nope nope nope", "new_password": "brand new password", "confirm_password": "brand new password"}, htmx=True)
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    ok = await form_post(client, "/account/password", {"current_password": ADMIN_PASSWORD, "new_password": "brand new password", "confirm_password": "brand new password"}, htmx=True)
    assert ok.status_code == 200 and "Password changed" in ok.text
    await form_post(client, "/logout", {}, page="/account")
    assert (await login(client, admin.email, "brand new password")).status_code == 303


async def test_changing_ones_password_logs_out_every_other_session_but_this_one(client, admin):
    auth = client.app.state.auth
    _, elsewhere = await auth.login(admin.email, ADMIN_PASSWORD, client_addr="10.0.0.9", user_agent="phone")
    assert await auth.resolve_session(elsewhere.token) is not None
    await login(client, admin.email, ADMIN_PASSWORD)
    ok = await form_post(client, "/account/password", {"current_password": ADMIN_PASSWORD, "new_password": "brand new password", "confirm_password": "brand new password"}, htmx=True)
    assert ok.status_code == 200 and "other session elsewhere was logged out" in ok.text
    assert await auth.resolve_session(elsewhere.token) is None  # the other browser is out at once
    assert (await client.get("/account")).status_code == 200  # this one stays in


PUBLIC = {"/", "/healthz", "/readyz", "/metrics", "/login", "/logout", "/setup", "/static", "/schema"}


def _all_routes(app: Litestar) -> list[tuple[str, str]]:
    return sorted({(method, route.path) for route in app.routes for handler in getattr(route, "route_handlers", [])
                   for method in handler.http_methods if method not in ("HEAD", "OPTIONS")})


async def test_anonymous_visitors_get_nothing_but_the_public_routes(client, admin):
    """Every route of the app, present or future, asks for a login unless it is one of the few public ones:
    the API answers 401, pages send the visitor to /login."""
    routes = _all_routes(client.app)
    assert len(routes) > 150
    checked = 0
    for method, path in routes:
        if any(path == p or path.startswith(p + "/") for p in PUBLIC if p != "/") or path == "/":
            continue
        url = _concrete(path)
        response = await client.request(method, url, follow_redirects=False,
                                        json={} if path.startswith("/api/") and method != "GET" else None)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
        else:
            assert response.status_code in (302, 303, 401, 403), (method, path, response.status_code)
            if response.status_code in (302, 303):
                assert response.headers["location"].startswith("/login"), (method, path)
        checked += 1
    assert checked > 120


async def test_an_analyst_reads_a_connection_only_with_its_grant(client, admin, analyst, analyst_key, tmp_path):
    """Every connection-scoped read an analyst may make (present or future routes with the connection's name in
    the path): 404 without a grant (the name isn't disclosed), an answer with it."""
    from tests.answers.conftest import build_shop_db

    path = tmp_path / "grant_shop.db"
    build_shop_db(path)
    catalog = client.app.state.catalog
    await catalog.create_connection(admin, "shop", f"sqlite:///{path}")
    assert (await catalog.sync_now(admin, "shop")).error is None
    admin_only = set(_admin_routes(client.app))
    reads = [p for m, p in _all_routes(client.app) if m == "GET" and ("GET", p) not in admin_only
             and p.startswith(("/api/v1/connections/{name", "/connections/{name"))]
    assert len(reads) >= 8, reads
    await login(client, analyst.email, ANALYST_PASSWORD)

    def url(path: str) -> str:
        import re

        return re.sub(r"\{[^}]+\}", "1", path.replace("{name:str}", "shop").replace("{name}", "shop"))

    async def get(path: str):
        headers = bearer(analyst_key) if path.startswith("/api/") else {}
        return await client.get(url(path), headers=headers, follow_redirects=False)

    for path in reads:
        response = await get(path)
        assert response.status_code == 404, (path, response.status_code)
    await catalog.set_grants(admin, "shop", [analyst.id])
    for path in reads:
        response = await get(path)
        assert response.status_code in (200, 404) and "no connection named" not in response.text, (
            path, response.status_code, response.text[:200])


async def test_every_form_post_needs_the_csrf_token(client, admin):
    """Every page route taking a POST (present or future) refuses a logged-in browser's post without the form's
    CSRF token, before doing anything."""
    posts = [p for m, p in _all_routes(client.app) if m in ("POST", "PUT", "PATCH", "DELETE")
             and not p.startswith(("/api/", "/schema"))]
    assert len(posts) > 30
    await login(client, admin.email, ADMIN_PASSWORD)
    for path in posts:
        response = await client.post(_concrete(path), data={"x": "1"}, follow_redirects=False)
        assert response.status_code == 403 and "security token" in response.text, (path, response.status_code)
