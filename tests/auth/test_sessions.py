import sqlalchemy as sa

from tests.support import ADMIN_PASSWORD, csrf_token, login


async def test_login_sets_an_httponly_samesite_session_cookie(client, admin):
    response = await login(client, admin.email, ADMIN_PASSWORD)
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("nl2sql_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; behind TLS it is set
    assert (await client.get("/account")).status_code == 200


async def test_session_cookie_is_secure_over_tls(settings, admin_factory=None):

    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as tls_client:
        await tls_client.app.state.auth.create_user("tls@example.com", ADMIN_PASSWORD, role="admin")
        response = await login(tls_client, "tls@example.com", ADMIN_PASSWORD)
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("nl2sql_session="))
        assert "Secure" in cookie


async def test_wrong_password_shows_an_error_on_the_login_page(client, admin):
    response = await login(client, admin.email, "not the right password")
    assert response.status_code == 401
    assert "wrong email or password" in response.text
    assert (await client.get("/account", follow_redirects=False)).status_code in (302, 303, 307)


async def test_pages_redirect_to_login_when_not_logged_in(client, admin):
    response = await client.get("/account", follow_redirects=False)
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"].startswith("/login?next=/account")


async def test_login_redirects_only_to_local_paths(client, admin):
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        data={"email": admin.email, "password": ADMIN_PASSWORD, "_csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


async def test_logout_revokes_the_session_server_side(client, admin):
    response = await login(client, admin.email, ADMIN_PASSWORD)
    session_cookie = client.cookies.get("nl2sql_session")
    token = await csrf_token(client, "/account")
    out = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    # replaying the old cookie no longer works: the session is revoked in the database
    client.cookies.set("nl2sql_session", session_cookie)
    again = await client.get("/account", follow_redirects=False)
    assert again.status_code in (302, 303, 307)


async def _age_session(settings, **interval):
    engine = sa.create_engine(settings.database.url)
    column, minutes = next(iter(interval.items()))
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE auth_sessions SET {column} = {column} - make_interval(mins => :m)"), {"m": minutes})
    engine.dispose()


async def test_session_expires_after_idle_time(client, admin, settings):
    await login(client, admin.email, ADMIN_PASSWORD)
    assert (await client.get("/account")).status_code == 200
    await _age_session(settings, last_seen_at=settings.auth.session_idle_minutes + 1)
    assert (await client.get("/account", follow_redirects=False)).status_code in (302, 303, 307)


async def test_session_expires_at_its_absolute_limit_even_when_used(client, admin, settings):
    await login(client, admin.email, ADMIN_PASSWORD)
    await _age_session(settings, expires_at=settings.auth.session_max_hours * 60 + 1)
    assert (await client.get("/account", follow_redirects=False)).status_code in (302, 303, 307)


async def test_sessions_live_in_the_app_database_and_are_shared_by_instances(client, admin, settings):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    await login(client, admin.email, ADMIN_PASSWORD)
    cookie = client.cookies.get("nl2sql_session")
    # a second app instance (another container) on the same database accepts the session
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as other:
        other.cookies.set("nl2sql_session", cookie)
        assert (await other.get("/account")).status_code == 200


async def test_disabling_a_user_ends_their_sessions(client, admin, analyst):
    from tests.support import ANALYST_PASSWORD

    await login(client, analyst.email, ANALYST_PASSWORD)
    assert (await client.get("/account")).status_code == 200
    await client.app.state.auth.update_user(admin, analyst.id, is_active=False)
    assert (await client.get("/account", follow_redirects=False)).status_code in (302, 303, 307)
    response = await login(client, analyst.email, ANALYST_PASSWORD)
    assert response.status_code == 401
    assert "disabled" in response.text


async def test_the_login_redirect_keeps_the_query_string(client, admin):
    from urllib.parse import unquote

    response = await client.get("/ask?answer=47&x=1", follow_redirects=False)
    location = response.headers["location"]
    assert location.startswith("/login?next=") and unquote(location.removeprefix("/login?next=")) == "/ask?answer=47&x=1"
    token = await csrf_token(client)
    done = await client.post("/login", data={"email": admin.email, "password": ADMIN_PASSWORD, "_csrf_token": token,
                                              "next": "/ask?answer=47&x=1"}, follow_redirects=False)
    assert done.headers["location"] == "/ask?answer=47&x=1"


async def test_a_session_id_planted_before_login_is_never_the_one_logged_in(client, admin):
    """Session fixation: a cookie an attacker set before the login is replaced by a new, server-issued token,
    and the planted one opens nothing, before or after."""
    planted = "attacker-chosen-session-token"
    client.cookies.set("nl2sql_session", planted)
    assert (await client.get("/account", follow_redirects=False)).status_code in (302, 303)
    response = await login(client, admin.email, ADMIN_PASSWORD)
    issued = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("nl2sql_session="))
    token = issued.split(";", 1)[0].split("=", 1)[1]
    assert token and token != planted and len(token) >= 32
    assert (await client.get("/account")).status_code == 200
    client.cookies.clear()
    client.cookies.set("nl2sql_session", planted)
    assert (await client.get("/account", follow_redirects=False)).status_code in (302, 303)


async def test_an_admins_password_reset_ends_the_users_sessions_at_once(client, analyst, admin_key):
    from tests.support import ANALYST_PASSWORD, bearer

    await login(client, analyst.email, ANALYST_PASSWORD)
    assert (await client.get("/account", follow_redirects=False)).status_code == 200
    reset = await client.patch(f"/api/v1/users/{analyst.id}", json={"password": "reset password 789"},
                               headers=bearer(admin_key))
    assert reset.status_code == 200
    after = await client.get("/account", follow_redirects=False)
    assert after.status_code in (302, 303) and after.headers["location"].startswith("/login")
