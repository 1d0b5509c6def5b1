"""First run: /setup creates the first admin with the start banner's one-time token, then disappears."""

from __future__ import annotations

import asyncio
import stat

from tests.support import ADMIN_PASSWORD, CSRF_INPUT, bearer


async def _setup_form(client) -> str:
    page = await client.get("/setup")
    assert page.status_code == 200, page.text
    return CSRF_INPUT.search(page.text).group(1)


def _token(client) -> str:
    token = client.app.state.first_run.token
    assert token
    return token


async def test_every_page_redirects_to_setup_while_no_user_exists(client):
    for path in ("/", "/login", "/ask", "/catalog", "/admin/users"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/setup", path
    htmx = await client.get("/ask", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["hx-redirect"] == "/setup"
    # the API, health and assets are not pages: they answer as usual
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/static/app.css")).status_code == 200


async def test_the_setup_token_is_written_to_the_data_dir_readable_by_the_owner_only(client, settings):
    path = settings.database.data_dir / "setup-token"
    assert path.read_text().strip() == _token(client)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_wrong_token_is_refused_and_creates_nobody(client):
    csrf = await _setup_form(client)
    response = await client.post("/setup", data={
        "_csrf_token": csrf, "token": "guessed", "email": "boss@example.com",
        "password": ADMIN_PASSWORD, "confirm_password": ADMIN_PASSWORD,
    })
    assert response.status_code == 400
    assert "setup token is wrong" in response.text
    assert await client.app.state.auth.count_users() == 0


async def test_password_rules_and_confirmation_apply(client):
    csrf = await _setup_form(client)
    base = {"_csrf_token": csrf, "token": _token(client), "email": "boss@example.com"}
    differ = await client.post("/setup", data=base | {"password": ADMIN_PASSWORD, "confirm_password": ADMIN_PASSWORD + "x"})
    assert differ.status_code == 400 and "passwords differ" in differ.text
    short = await client.post("/setup", data=base | {"password": "short", "confirm_password": "short"})
    assert short.status_code == 400 and "at least 12 characters" in short.text
    assert await client.app.state.auth.count_users() == 0


async def test_setup_creates_the_admin_logs_in_and_then_answers_404(client, settings):
    csrf = await _setup_form(client)
    response = await client.post("/setup", data={
        "_csrf_token": csrf, "token": _token(client), "email": "Boss@Example.com",
        "password": ADMIN_PASSWORD, "confirm_password": ADMIN_PASSWORD,
    }, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ask"
    users = await client.app.state.auth.list_users()
    assert [(u.email, u.role.value) for u in users] == [("boss@example.com", "admin")]
    # logged in by the same response: the account page opens without a login, and it counts as a login
    assert users[0].last_login_at is not None
    assert (await client.get("/account")).status_code == 200
    listed = await client.get("/admin/users")
    row = listed.text[listed.text.index("boss@example.com"):]
    assert "never" not in row[:row.index("</tr>")]
    assert (await client.get("/setup")).status_code == 404
    assert not (settings.database.data_dir / "setup-token").exists()
    assert client.app.state.first_run.token is None


async def test_two_setups_at_once_create_one_admin(client):
    csrf = await _setup_form(client)
    token = _token(client)

    def form(email: str) -> dict:
        return {"_csrf_token": csrf, "token": token, "email": email,
                "password": ADMIN_PASSWORD, "confirm_password": ADMIN_PASSWORD}

    first, second = await asyncio.gather(
        client.post("/setup", data=form("one@example.com"), follow_redirects=False),
        client.post("/setup", data=form("two@example.com"), follow_redirects=False),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses[0] == 303 and statuses[1] in (404, 409), statuses
    loser = first if first.status_code != 303 else second
    assert "already" in loser.text
    assert await client.app.state.auth.count_users() == 1


async def test_a_user_made_by_the_cli_ends_the_setup_phase(client):
    await client.app.state.auth.create_user("cli@example.com", ADMIN_PASSWORD, role="admin")
    assert (await client.get("/setup")).status_code == 404
    assert (await client.get("/login")).status_code == 200


async def test_no_setup_token_when_users_exist_at_start(settings, admin_key, client):
    from nl2sql.app import create_app
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=create_app(settings)) as second:
        assert second.app.state.first_run.token is None
        assert (await second.get("/setup")).status_code == 404
        assert (await second.get("/api/v1/me", headers=bearer(admin_key))).status_code == 200


async def test_every_server_on_one_app_database_takes_the_same_setup_token(client, settings, tmp_path):
    """Behind a load balancer the setup form may be posted to another container than the one whose banner the
    admin read: with one secret key they all print and accept the same token."""
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from tests.conftest import with_section

    other_dir = with_section(settings, database=replace(settings.database, data_dir=tmp_path / "other-data"))
    async with AsyncTestClient(app=create_app(other_dir), base_url="http://testserver.local") as other:
        assert other.app.state.first_run.token == _token(client)
        assert (tmp_path / "other-data" / "setup-token").read_text().strip() == _token(client)
        csrf = await _setup_form(other)
        made = await other.post("/setup", data={"_csrf_token": csrf, "token": _token(client),
                                                "email": "boss@example.com", "password": ADMIN_PASSWORD,
                                                "confirm_password": ADMIN_PASSWORD}, follow_redirects=False)
        assert made.status_code == 303, made.text
    assert (await client.get("/setup")).status_code == 404  # the first server sees the admin too
