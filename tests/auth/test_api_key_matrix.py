"""Every operation of the OpenAPI document, with an API key of each role: an admin's key is let through everywhere
(no 401, no 403), an analyst's key is refused (403) exactly where the route is for admins and let through
elsewhere, a revoked or disabled user's key gets 401 everywhere, and no key opens a page (keys are for the API)."""

from __future__ import annotations

import re

import pytest

from tests.auth.test_users_and_roles import _admin_routes
from tests.support import bearer

MISSING = "999999"  # ids and names nothing has: an allowed request answers 404/400, never 401/403


@pytest.fixture
def settings(settings):
    """No rate limit: the matrix walks every operation several times as the same users."""
    from nl2sql.settings import GatewaySettings
    from tests.conftest import with_section

    return with_section(settings, gateway=GatewaySettings(requests_per_minute=0))


async def _operations(client) -> list[tuple[str, str, str]]:
    """(method, path template, concrete url) for every operation the API documents; deletions last, so that a
    key never revokes itself before the walk ends."""
    document = (await client.get("/schema/openapi.json")).json()
    found = []
    for path, item in document["paths"].items():
        for method in item:
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                found.append((method.upper(), path, re.sub(r"\{[^}]+\}", MISSING, path)))
    return sorted(found, key=lambda op: (op[0] == "DELETE", op[1], op[0]))


async def _call(client, method: str, url: str, key: str):
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return await client.request(method, url, headers=bearer(key), json=body, follow_redirects=False)


def _is_admin_route(method: str, template: str, admin_routes: set[tuple[str, str]]) -> bool:
    # OpenAPI writes {name}, the router {name:str}
    return (method, template) in {(m, re.sub(r"\{(\w+):\w+\}", r"{\1}", p)) for m, p in admin_routes}


async def test_each_role_s_key_on_every_documented_operation(client, admin_key, analyst_key):
    operations = [op for op in await _operations(client) if op[1].startswith("/api/")]
    assert len(operations) > 60
    admin_routes = set(_admin_routes(client.app))
    for_admins = 0
    for method, template, url in operations:
        admin_says = (await _call(client, method, url, admin_key)).status_code
        assert admin_says not in (401, 403) and admin_says < 500, (method, template, admin_says)
        analyst_says = (await _call(client, method, url, analyst_key)).status_code
        if _is_admin_route(method, template, admin_routes):
            for_admins += 1
            assert analyst_says == 403, (method, template, analyst_says)
        else:
            assert analyst_says not in (401, 403) and analyst_says < 500, (method, template, analyst_says)
    assert for_admins > 30


async def test_a_revoked_key_and_a_disabled_users_key_get_401_on_every_operation(client, admin, analyst, admin_key):
    auth = client.app.state.auth
    revoked = await auth.create_api_key(admin, name="revoked")
    await auth.revoke_api_key(admin, revoked.api_key.id)
    disabled = (await auth.create_api_key(analyst, name="disabled")).key
    patched = await client.patch(f"/api/v1/users/{analyst.id}", json={"is_active": False}, headers=bearer(admin_key))
    assert patched.status_code == 200
    for method, template, url in await _operations(client):
        if not template.startswith("/api/"):
            continue
        for key in (revoked.key, disabled, "nl2sql_" + "x" * 40):
            response = await _call(client, method, url, key)
            assert response.status_code == 401, (method, template, response.status_code)
            assert response.headers["content-type"].startswith("application/problem+json")


async def test_no_key_opens_a_page(client, admin_key):
    for path in ("/ask", "/history", "/admin/users", "/account", "/usage", "/admin/usage/log"):
        response = await client.get(path, headers=bearer(admin_key), follow_redirects=False)
        assert response.status_code in (302, 303) and response.headers["location"].startswith("/login"), path
