"""Single sign-on end to end against a real OpenID Connect provider (oidc-provider-mock) running in this process:
the app discovers it, sends the browser there, redeems the code with PKCE and checks the ID token."""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from oidc_provider_mock import run_server_in_thread

from nl2sql.app import create_app
from nl2sql.errors import NotFoundError
from tests.support import ADMIN_PASSWORD, bearer, form_post, login

CLIENT_ID = "nl2sql-test"


@pytest.fixture(scope="module")
def idp() -> str:
    """The identity provider's issuer URL; it asks for a nonce, as real ones may."""
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def sso_settings(settings, idp: str, **auth):
    return replace(settings, auth=replace(
        settings.auth, oidc_issuer=idp, oidc_client_id=CLIENT_ID, oidc_client_secret="s3cret",
        oidc_group_roles="nl2sql-admins=admin; sales=analyst", oidc_group_grants="sales=shop; finance=books",
        bootstrap_admin_email="admin@example.com", **auth))


@pytest.fixture
async def sso_client(settings, idp, tmp_path: Path):
    app = create_app(sso_settings(settings, idp))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        # the bootstrap admin: the break-glass account (and the instance is past its first-run setup)
        await client.app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
        await _connections(client, tmp_path)
        yield client


async def _connections(client: AsyncTestClient, tmp_path: Path) -> None:
    for name in ("shop", "books"):
        path = tmp_path / f"{name}.db"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, region TEXT)")
        await client.app.state.catalog.create_connection(None, name, f"sqlite:///{path}")


def set_idp_user(idp: str, sub: str, **claims) -> None:
    httpx.put(f"{idp}/users/{sub}", json=claims).raise_for_status()


async def to_idp(client: AsyncTestClient, next_path: str = "/account") -> str:
    """Press the login button: the app answers with the provider's authorization URL."""
    response = await client.get(f"/login/sso?next={next_path}", follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def authorize_at_idp(authorize_url: str, sub: str) -> str:
    """The person logs in at the provider, which sends the browser back with a code: the callback's path and query."""
    answer = httpx.post(authorize_url, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert back.path == "/login/sso/callback"
    return f"{back.path}?{back.query}"


async def sso_login(client: AsyncTestClient, sub: str):
    return await client.get(authorize_at_idp(await to_idp(client), sub), follow_redirects=False)


async def grants_of(client: AsyncTestClient, user_id: int) -> list[str]:
    catalog = client.app.state.catalog
    return [name for name in ("books", "shop") if user_id in await catalog.grants(name)]


async def test_first_login_creates_the_user_with_the_mapped_role_grants_groups_and_attributes(sso_client, idp):
    set_idp_user(idp, "u-1", email="Sam@Example.com", name="Sam Sales", groups=["sales", "staff"], region="west")
    authorize_url = await to_idp(sso_client)
    query = parse_qs(urlsplit(authorize_url).query)
    assert "code_challenge_method" in query, authorize_url
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]  # PKCE
    assert "nonce" in query and "state" in query
    response = await sso_client.get(authorize_at_idp(authorize_url, "u-1"), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account"
    assert "Sam Sales" in (await sso_client.get("/account")).text  # logged in
    user = await sso_client.app.state.auth.find_user("sam@example.com")
    assert (user.role.value, user.display_name, user.sso) == ("analyst", "Sam Sales", True)
    assert user.groups == ("sales", "staff")
    assert user.attributes["region"] == "west" and "nonce" not in user.attributes and "groups" not in user.attributes
    assert await grants_of(sso_client, user.id) == ["shop"]


async def test_a_group_change_at_the_provider_changes_role_and_grants_at_next_login(sso_client, idp):
    set_idp_user(idp, "u-2", email="fay@example.com", groups=["sales"], region="east")
    assert (await sso_client.app.state.auth.find_user("admin@example.com")).role.value == "admin"
    assert (await sso_login(sso_client, "u-2")).status_code == 303
    fay = await sso_client.app.state.auth.find_user("fay@example.com")
    # an attribute an admin set stays; one the provider sends is the provider's
    async with sso_client.app.state.services.db.sessions() as db:
        await db.execute(sa.text("UPDATE users SET attributes = attributes || '{\"team\": \"t1\", \"region\": \"x\"}'"
                                 " WHERE id = :id"), {"id": fay.id})
        await db.commit()
    # an admin's own grant on a connection no mapping names is left alone
    await sso_client.app.state.catalog.create_connection(None, "extra", f"sqlite:///{_empty_db(idp)}")
    await sso_client.app.state.catalog.set_grants(None, "extra", [fay.id])
    set_idp_user(idp, "u-2", email="fay@example.com", groups=["finance", "nl2sql-admins"], region="east")
    assert (await sso_login(sso_client, "u-2")).status_code == 303
    fay = await sso_client.app.state.auth.find_user("fay@example.com")
    assert fay.role.value == "admin" and fay.groups == ("finance", "nl2sql-admins")
    assert (fay.attributes["team"], fay.attributes["region"]) == ("t1", "east")
    assert await grants_of(sso_client, fay.id) == ["books"]
    assert fay.id in await sso_client.app.state.catalog.grants("extra")
    entries = (await sso_client.get("/api/v1/audit?action=user.update", headers=bearer(await _admin_key(sso_client)))).json()
    assert any("nl2sql-admins" in str(e.get("after")) for e in entries["entries"])


def _empty_db(idp: str) -> Path:
    path = Path(f"/tmp/nl2sql-sso-{urlsplit(idp).port}.db")
    sqlite3.connect(path).close()
    return path


async def _admin_key(client: AsyncTestClient) -> str:
    auth = client.app.state.auth
    admin = await auth.find_user("admin@example.com")
    return (await auth.create_api_key(admin, name="sso test")).key


async def test_a_forged_state_is_refused(sso_client, idp):
    set_idp_user(idp, "u-3", email="eve@example.com", groups=["nl2sql-admins"])
    callback = authorize_at_idp(await to_idp(sso_client), "u-3")
    path, query = callback.split("?")
    forged = {k: v[0] for k, v in parse_qs(query).items()} | {"state": "forged-state"}
    response = await sso_client.get(path, params=forged, follow_redirects=False)
    assert response.status_code == 401 and "begun in another browser" in response.text
    # a state the browser holds too, but that no login began with
    real_state = sso_client.cookies.get("nl2sql_sso_state")
    sso_client.cookies.set("nl2sql_sso_state", "forged-state", path="/login/sso")
    response = await sso_client.get(path, params=forged, follow_redirects=False)
    assert response.status_code == 401 and "state is unknown" in response.text
    sso_client.cookies.set("nl2sql_sso_state", real_state, path="/login/sso")
    # the real state works once, and only once
    assert (await sso_client.get(callback, follow_redirects=False)).status_code == 303
    replay = await sso_client.get(callback, follow_redirects=False)
    assert replay.status_code == 401


async def test_a_login_whose_id_token_carries_another_nonce_is_refused(sso_client, idp):
    set_idp_user(idp, "u-4", email="mallory@example.com", groups=["nl2sql-admins"])
    authorize_url = await to_idp(sso_client)
    # the attacker's authorization (its own nonce) delivered with the victim's state: the ID token's nonce differs
    split = urlsplit(authorize_url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()} | {"nonce": "attacker-nonce"}
    tampered = split._replace(query=httpx.QueryParams(query).__str__()).geturl()
    response = await sso_client.get(authorize_at_idp(tampered, "u-4"), follow_redirects=False)
    assert response.status_code == 401 and "nonce" in response.text
    with pytest.raises(Exception):
        await sso_client.app.state.auth.find_user("mallory@example.com")


async def test_local_login_off_refuses_passwords_except_the_break_glass_admin(settings, idp):
    app = create_app(sso_settings(settings, idp, local_login=False))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        auth = client.app.state.auth
        await auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
        await auth.create_user("other@example.com", ADMIN_PASSWORD, role="admin")
        page = (await client.get("/login")).text
        assert "Log in with single sign-on" in page and "Administrator login with a password" in page
        refused = await login(client, "other@example.com", ADMIN_PASSWORD)
        assert refused.status_code == 403 and "password login is off" in refused.text
        assert (await login(client, "admin@example.com", ADMIN_PASSWORD)).status_code == 303
        assert (await client.get("/account")).status_code == 200


async def test_logout_ends_the_session_and_sends_the_user_to_the_providers_end_session(sso_client, idp):
    set_idp_user(idp, "u-5", email="lou@example.com", groups=["sales"])
    await sso_login(sso_client, "u-5")
    response = await form_post(sso_client, "/logout", {}, page="/account")
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{idp}/oauth2/end_session?client_id={CLIENT_ID}")
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver.local%2Flogin" in response.headers["location"]
    assert (await sso_client.get("/account", follow_redirects=False)).status_code in (302, 303, 307)
    # RP-initiated logout names the session's ID token, the one the provider issued at this login
    hint = parse_qs(urlsplit(response.headers["location"]).query)["id_token_hint"][0]
    payload = json.loads(base64.urlsafe_b64decode(hint.split(".")[1] + "=="))
    assert payload["sub"] == "u-5" and payload["iss"] == idp and payload["aud"] in (CLIENT_ID, [CLIENT_ID])
    # the revoked session keeps no token
    async with sso_client.app.state.services.db.sessions() as db:
        assert await db.scalar(sa.text("SELECT count(*) FROM auth_sessions WHERE id_token IS NOT NULL")) == 0


async def test_logout_of_a_local_user_names_no_provider(sso_client):
    await login(sso_client, "admin@example.com", ADMIN_PASSWORD)
    response = await form_post(sso_client, "/logout", {}, page="/account")
    assert response.status_code == 303 and response.headers["location"].endswith("/login")


async def test_the_users_page_shows_who_signs_in_at_the_provider(sso_client, idp):
    set_idp_user(idp, "u-8", email="sso.user@example.com", groups=["sales"], region="EU")
    assert (await sso_login(sso_client, "u-8")).status_code == 303
    sso_client.cookies.clear()
    await login(sso_client, "admin@example.com", ADMIN_PASSWORD)
    page = (await sso_client.get("/admin/users")).text
    row = page.split('id="user-', 3)
    mine = next(r for r in row if "sso.user@example.com" in r)
    admin = next(r for r in row if "admin@example.com" in r and "sso.user" not in r)
    assert "single sign-on" in mine and idp in mine and "u-8" in mine and "last SSO login never" not in mine
    assert "not recorded" not in mine and "groups: sales" in mine and "region=EU" in mine
    assert "local" in admin and "single sign-on" not in admin


async def test_login_state_lives_in_the_database_so_another_container_finishes_the_login(settings, idp, tmp_path):
    set_idp_user(idp, "u-6", email="kim@example.com", groups=["sales"])
    first, second = create_app(sso_settings(settings, idp)), create_app(sso_settings(settings, idp))
    async with AsyncTestClient(app=first, base_url="http://testserver.local") as one, \
            AsyncTestClient(app=second, base_url="http://testserver.local") as two:
        await one.app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
        await _connections(one, tmp_path)
        callback = authorize_at_idp(await to_idp(one), "u-6")
        # the same browser, its request sent to the other container by the load balancer
        two.cookies.set("nl2sql_sso_state", one.cookies.get("nl2sql_sso_state"), path="/login/sso")
        response = await two.get(callback, follow_redirects=False)
        assert response.status_code == 303
        async with one.app.state.services.db.sessions() as db:
            assert await db.scalar(sa.text("SELECT count(*) FROM oidc_logins")) == 0


async def test_api_keys_keep_working_for_single_sign_on_users(sso_client, idp):
    set_idp_user(idp, "u-7", email="api@example.com", groups=["sales"])
    await sso_login(sso_client, "u-7")
    user = await sso_client.app.state.auth.find_user("api@example.com")
    key = (await sso_client.app.state.auth.create_api_key(user, name="script")).key
    assert (await sso_client.get("/api/v1/me", headers=bearer(key))).json()["email"] == "api@example.com"


async def test_a_single_sign_on_account_has_no_password(sso_client, idp):
    set_idp_user(idp, "u-8", email="nopw@example.com", groups=["sales"])
    await sso_login(sso_client, "u-8")
    sso_client.cookies.clear()
    for guess in ("", "nl2sql-timing-equaliser"):
        assert (await login(sso_client, "nopw@example.com", guess)).status_code in (400, 401)


async def test_admin_maps_a_group_on_the_identity_page_and_the_change_is_audited(sso_client, idp):
    await _admin_key(sso_client)
    await login(sso_client, "admin@example.com", ADMIN_PASSWORD)
    page = (await sso_client.get("/admin/identity")).text
    assert "NL2SQL_OIDC_ISSUER" in page and idp in page and "s3cret" not in page and "(set)" in page
    assert "http://testserver.local/login/sso/callback" in page and "Test login" in page
    added = await form_post(sso_client, "/admin/identity/mappings", {"group": "analysts-eu", "role": "analyst",
                                                                       "connections": "books"}, page="/admin/identity")
    assert added.status_code == 200 and "analysts-eu" in added.text
    set_idp_user(idp, "u-9", email="eu@example.com", groups=["analysts-eu"])
    other = AsyncTestClient(app=sso_client.app, base_url="http://testserver.local")
    await sso_login(other, "u-9")
    eu = await sso_client.app.state.auth.find_user("eu@example.com")
    assert await grants_of(sso_client, eu.id) == ["books"]
    mapping_id = next(m.id for m in await sso_client.app.state.sso.mappings() if m.group == "analysts-eu")
    removed = await form_post(sso_client, f"/admin/identity/mappings/{mapping_id}/delete", {}, page="/admin/identity")
    assert removed.status_code == 200 and "analysts-eu" not in removed.text
    actions = [e.action for e in (await sso_client.app.state.audit.search(limit=50))[0]]
    assert "sso.mapping.create" in actions and "sso.mapping.delete" in actions


async def test_test_login_shows_claims_and_mapping_without_changing_accounts(sso_client, idp):
    await _admin_key(sso_client)
    await login(sso_client, "admin@example.com", ADMIN_PASSWORD)
    response = await form_post(sso_client, "/admin/identity/test", {}, page="/admin/identity")
    assert response.status_code == 303
    set_idp_user(idp, "u-10", email="tess@example.com", groups=["nl2sql-admins"], region="north")
    result = await sso_client.get(authorize_at_idp(response.headers["location"], "u-10"))
    assert result.status_code == 200 and "tess@example.com" in result.text and "north" in result.text
    assert "admin" in result.text and "no account was changed" in result.text
    with pytest.raises(Exception):
        await sso_client.app.state.auth.find_user("tess@example.com")


async def test_posted_forms_may_be_redirected_on_to_the_identity_provider(sso_client, idp):
    # browsers check form-action on a posted form's redirects: logout and the test login go on to the provider
    policy = (await sso_client.get("/login")).headers["content-security-policy"]
    assert f"form-action 'self' {idp};" in policy


async def test_the_provider_cannot_take_over_the_break_glass_admin_or_an_unverified_email(sso_client, idp):
    set_idp_user(idp, "u-11", email="admin@example.com", groups=["sales"])
    response = await sso_login(sso_client, "u-11")
    assert response.status_code == 401 and "break-glass" in response.text
    admin = await sso_client.app.state.auth.find_user("admin@example.com")
    assert (admin.role.value, admin.sso) == ("admin", False)
    await sso_client.app.state.auth.create_user("local@example.com", ADMIN_PASSWORD)
    set_idp_user(idp, "u-12", email="local@example.com", email_verified=False)
    response = await sso_login(sso_client, "u-12")
    assert response.status_code == 401 and "not verified" in response.text
    assert not (await sso_client.app.state.auth.find_user("local@example.com")).sso


async def test_a_disabled_account_stays_out_whatever_the_provider_says(sso_client, idp):
    set_idp_user(idp, "u-13", email="gone@example.com", groups=["sales"])
    await sso_login(sso_client, "u-13")
    auth = sso_client.app.state.auth
    gone = await auth.find_user("gone@example.com")
    await auth.update_user(await auth.find_user("admin@example.com"), gone.id, is_active=False)
    sso_client.cookies.clear()
    response = await sso_login(sso_client, "u-13")
    assert response.status_code == 401 and "disabled" in response.text
    assert (await sso_client.get("/account", follow_redirects=False)).status_code in (302, 303, 307)


async def test_the_identity_api_shows_the_settings_and_maps_groups_for_admins_only(sso_client, idp):
    headers = bearer(await _admin_key(sso_client))
    view = (await sso_client.get("/api/v1/identity", headers=headers)).json()
    assert view["issuer"] == idp and view["client_secret_set"] is True and "s3cret" not in str(view)
    assert {"group": "sales", "role": "analyst", "connections": ["shop"], "source": "settings", "id": None} in view["mappings"]
    created = await sso_client.post("/api/v1/identity/mappings", headers=headers,
                                    json={"group": "auditors", "connections": ["books"]})
    assert created.status_code == 201 and created.json()["source"] == "admin"
    again = await sso_client.post("/api/v1/identity/mappings", headers=headers, json={"group": "auditors", "role": "admin"})
    assert again.status_code == 409
    assert (await sso_client.post("/api/v1/identity/mappings", headers=headers, json={"group": "empty"})).status_code == 400
    gone = await sso_client.delete(f"/api/v1/identity/mappings/{created.json()['id']}", headers=headers)
    assert gone.status_code == 204
    set_idp_user(idp, "u-14", email="ana@example.com", groups=["sales"])
    await sso_login(sso_client, "u-14")
    ana = await sso_client.app.state.auth.find_user("ana@example.com")
    key = (await sso_client.app.state.auth.create_api_key(ana, name="script")).key
    assert (await sso_client.get("/api/v1/identity", headers=bearer(key))).status_code == 403


async def test_a_denied_login_and_an_unreachable_provider_are_explained_on_the_login_page(sso_client, settings):
    denied = httpx.post(await to_idp(sso_client), data={"action": "deny"}, follow_redirects=False)
    back = urlsplit(denied.headers["location"])
    response = await sso_client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert response.status_code == 401 and "refused the login: access_denied" in response.text
    app = create_app(sso_settings(settings, "http://127.0.0.1:9"))  # nothing listens on the discard port
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:  # the same database
        response = await client.get("/login/sso", follow_redirects=False)
        assert response.status_code == 502 and "could not read" in response.text


async def test_a_callback_carried_to_another_browser_is_refused(sso_client, settings, idp):
    # login CSRF: an attacker begins a login, authorizes as themselves and sends the callback URL to a victim
    set_idp_user(idp, "u-15", email="attacker@example.com", groups=["sales"])
    callback = authorize_at_idp(await to_idp(sso_client), "u-15")
    async with AsyncTestClient(app=sso_client.app, base_url="http://testserver.local") as victim:
        response = await victim.get(callback, follow_redirects=False)
        assert response.status_code == 401 and "begun in another browser" in response.text
        assert "nl2sql_session" not in response.headers.get("set-cookie", "")
    with pytest.raises(Exception):
        await sso_client.app.state.auth.find_user("attacker@example.com")


async def test_a_login_whose_groups_the_provider_left_out_is_refused_with_the_reason(sso_client, idp):
    # Entra ID past 200 groups: no groups claim, a pointer to the Graph API instead (a "group overage")
    set_idp_user(idp, "u-30", email="many@example.com", _claim_names={"groups": "src1"},
                 _claim_sources={"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/u-30/getMemberObjects"}})
    response = await sso_login(sso_client, "u-30")
    assert response.status_code == 401 and "groups out of the login" in response.text, response.text
    with pytest.raises(NotFoundError):  # no account made without them
        await sso_client.app.state.auth.find_user("many@example.com")
