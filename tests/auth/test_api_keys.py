import sqlalchemy as sa

from tests.support import bearer


async def test_key_reaches_me_and_is_shown_once_with_prefix(client, admin, admin_key):
    response = await client.get("/api/v1/me", headers=bearer(admin_key))
    assert response.status_code == 200
    assert response.json()["email"] == admin.email
    created = await client.post("/api/v1/api-keys", json={"name": "reporting"}, headers=bearer(admin_key))
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(body["api_key"]["prefix"] + "_")
    listed = await client.get("/api/v1/api-keys", headers=bearer(admin_key))
    assert "key" not in listed.text.replace('"key_', "")  # listing shows prefixes, never secrets
    assert body["key"] not in listed.text
    assert {k["name"] for k in listed.json()} == {"test", "reporting"}


async def test_key_is_stored_hashed(client, admin_key, settings):
    engine = sa.create_engine(settings.database.url)
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(sa.text("SELECT * FROM api_keys")) for v in row)
    engine.dispose()
    assert admin_key not in dump
    assert admin_key.split("_", 2)[2] not in dump  # the secret (it may hold "_" itself)


async def test_missing_key_gets_401_problem(client):
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"].startswith("missing API key")


async def test_invalid_key_gets_401(client):
    response = await client.get("/api/v1/me", headers=bearer("nl2sql_deadbeef_notarealkey"))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid API key"
    malformed = await client.get("/api/v1/me", headers={"Authorization": "Token abc"})
    assert malformed.status_code == 401


async def test_revoked_key_gets_401(client, admin, admin_key):
    other = (await client.post("/api/v1/api-keys", json={"name": "to revoke"}, headers=bearer(admin_key))).json()
    revoked = await client.delete(f"/api/v1/api-keys/{other['api_key']['id']}", headers=bearer(admin_key))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = await client.get("/api/v1/me", headers=bearer(other["key"]))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_expired_key_gets_401(client, admin_key, settings):
    created = (
        await client.post(
            "/api/v1/api-keys", json={"name": "short", "expires_at": "2099-01-01T00:00:00Z"}, headers=bearer(admin_key)
        )
    ).json()
    assert (await client.get("/api/v1/me", headers=bearer(created["key"]))).status_code == 200
    engine = sa.create_engine(settings.database.url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = :id"),
                     {"id": created["api_key"]["id"]})
    engine.dispose()
    response = await client.get("/api/v1/me", headers=bearer(created["key"]))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_past_expiry_is_refused(client, admin_key):
    response = await client.post(
        "/api/v1/api-keys", json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, headers=bearer(admin_key)
    )
    assert response.status_code == 400
    assert "past" in response.json()["detail"]


async def test_last_used_time_is_recorded(client, admin_key):
    await client.get("/api/v1/me", headers=bearer(admin_key))
    keys = (await client.get("/api/v1/api-keys", headers=bearer(admin_key))).json()
    assert keys[0]["last_used_at"] is not None


async def test_admin_creates_a_key_for_another_user_but_analyst_cannot(client, admin_key, analyst, analyst_key, admin):
    made = await client.post("/api/v1/api-keys", json={"name": "for ann", "user_id": analyst.id}, headers=bearer(admin_key))
    assert made.status_code == 201
    me = await client.get("/api/v1/me", headers=bearer(made.json()["key"]))
    assert me.json()["email"] == analyst.email
    refused = await client.post("/api/v1/api-keys", json={"name": "x", "user_id": admin.id}, headers=bearer(analyst_key))
    assert refused.status_code == 403


async def test_analyst_cannot_revoke_someone_elses_key(client, admin_key, analyst_key):
    admin_keys = (await client.get("/api/v1/api-keys", headers=bearer(admin_key))).json()
    response = await client.delete(f"/api/v1/api-keys/{admin_keys[0]['id']}", headers=bearer(analyst_key))
    assert response.status_code == 404
    assert (await client.get("/api/v1/me", headers=bearer(admin_key))).status_code == 200


async def test_key_of_a_disabled_user_gets_401(client, admin, analyst, analyst_key):
    await client.app.state.auth.update_user(admin, analyst.id, is_active=False)
    response = await client.get("/api/v1/me", headers=bearer(analyst_key))
    assert response.status_code == 401
    assert "disabled" in response.json()["detail"]


async def test_account_page_creates_and_revokes_a_key(client, admin):
    import re

    from tests.support import ADMIN_PASSWORD, form_post, login

    await login(client, admin.email, ADMIN_PASSWORD)
    page = await form_post(client, "/account/api-keys", {"name": "page key", "expires_on": ""}, htmx=True)
    assert page.status_code == 200
    key = re.search(r'<pre class="secret" id="new-key">([^<]+)</pre>', page.text).group(1)
    assert (await client.get("/api/v1/me", headers=bearer(key))).status_code == 200
    key_id = (await client.app.state.auth.list_api_keys(admin))[0].id
    await form_post(client, f"/account/api-keys/{key_id}/revoke", {}, htmx=True)
    assert (await client.get("/api/v1/me", headers=bearer(key))).status_code == 401
