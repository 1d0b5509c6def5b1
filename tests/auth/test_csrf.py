from tests.support import ADMIN_PASSWORD, csrf_token, login


async def test_login_form_without_csrf_token_is_rejected(client, admin):
    await client.get("/login")
    response = await client.post("/login", data={"email": admin.email, "password": ADMIN_PASSWORD})
    assert response.status_code == 403
    assert "security token" in response.text


async def test_state_changing_form_with_a_forged_token_is_rejected(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    response = await client.post(
        "/admin/users",
        data={"email": "x@example.com", "password": "long enough password", "role": "analyst", "_csrf_token": "forged"},
    )
    assert response.status_code == 403
    users = await client.app.state.auth.list_users()
    assert [u.email for u in users] == [admin.email]


async def test_htmx_post_without_the_csrf_header_is_rejected(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    response = await client.post(
        "/account/api-keys", data={"name": "k"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    assert response.headers.get("HX-Retarget") == "#flash"


async def test_htmx_post_with_the_csrf_header_succeeds(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    token = await csrf_token(client, "/account")
    response = await client.post(
        "/account/api-keys", data={"name": "htmx key"}, headers={"HX-Request": "true", "x-csrftoken": token}
    )
    assert response.status_code == 200
    assert "htmx key" in response.text
    assert "<html" not in response.text  # the fragment only


async def test_api_with_bearer_key_needs_no_csrf_token(client, admin_key):
    from tests.support import bearer

    response = await client.post("/api/v1/api-keys", json={"name": "scripted"}, headers=bearer(admin_key))
    assert response.status_code == 201
