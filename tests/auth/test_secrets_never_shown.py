"""Secrets never leave: with a database password in a connection URL (and in its query string), the model server's
API key, the server's secret key, users' passwords, an API key and a session token all in play, a walk over every
page and every API read an admin can make, the app's own log lines at debug level, the audit log and every record
in the app database find none of them."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from nl2sql.db import sync_url
from tests.auth.test_users_and_roles import _all_routes
from tests.support import ADMIN_PASSWORD, ANALYST_PASSWORD, bearer, form_post, login

DB_PASSWORD = "Db-Pass-Word-7781"
SSL_PASSWORD = "Ssl-Pass-Word-3344"
MODEL_KEY = "sk-Model-Key-5521"
NEW_PASSWORD = "Changed-Pass-Word-0909"


@pytest.fixture
def settings(settings):
    from dataclasses import replace

    from nl2sql.settings import GatewaySettings
    from tests.conftest import with_section

    # the model server's key is configured (the fake model stands in for the server, the key is still held)
    return with_section(settings, gateway=GatewaySettings(requests_per_minute=0, store_bodies=True),
                        inference=replace(settings.inference, api_key=MODEL_KEY))


def _secrets(settings, admin_key: str, session: str) -> dict[str, str]:
    return {"database password": DB_PASSWORD, "sslpassword": SSL_PASSWORD, "model API key": MODEL_KEY,
            "secret key": settings.server.secret_key, "admin password": ADMIN_PASSWORD,
            "analyst password": ANALYST_PASSWORD, "new password": NEW_PASSWORD, "API key": admin_key,
            "admin's new password": NEW_PASSWORD + "x",
            "API key secret part": admin_key.split("_", 1)[1][8:], "session token": session}


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value and value in text]


async def test_no_secret_in_any_page_api_read_log_line_audit_entry_or_record(client, settings, admin, analyst,
                                                                              admin_key, caplog):
    caplog.set_level(logging.DEBUG)
    await login(client, admin.email, ADMIN_PASSWORD)
    session = client.cookies.get("nl2sql_session")
    assert session
    url = f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:5432/postgres?sslmode=disable&sslpassword={SSL_PASSWORD}"
    made = await client.post("/api/v1/connections", json={"name": "pg", "url": url}, headers=bearer(admin_key))
    assert made.status_code == 201, made.text
    edited = await client.patch("/api/v1/connections/pg", json={"description": "edited"}, headers=bearer(admin_key))
    assert edited.status_code == 200
    await client.post("/api/v1/connections/pg/test", headers=bearer(admin_key))
    changed = await client.patch(f"/api/v1/users/{analyst.id}", json={"password": NEW_PASSWORD},
                                 headers=bearer(admin_key))
    assert changed.status_code == 200, changed.text
    mine = await form_post(client, "/account/password", {"current_password": ADMIN_PASSWORD,
                                                        "new_password": NEW_PASSWORD + "x",
                                                        "confirm_password": NEW_PASSWORD + "x"}, page="/account")
    assert mine.status_code == 200, mine.text
    await client.post("/api/v1/ask", json={"question": "How many tables are there?", "connection": "pg"},
                      headers=bearer(admin_key))
    secrets = _secrets(settings, admin_key, session)

    shown: list[tuple[str, list[str]]] = []
    statuses: list[int] = []

    async def visit(path: str) -> None:
        response = await (client.get(path, headers=bearer(admin_key)) if path.startswith("/api/")
                          else client.get(path))
        statuses.append(response.status_code)
        if leaked := _leaks(response.text, secrets):
            shown.append((path, leaked))

    for method, path in _all_routes(client.app):
        if method == "GET" and "{" not in path and not path.startswith(("/static", "/logout")):
            await visit(path)
    for path in ("/api/v1/connections/pg", "/connections/pg", "/connections/pg/sync", "/api/v1/connections/pg/sync",
                 "/api/v1/audit", "/admin/audit", "/api/v1/logs"):
        await visit(path)
    walked, ok = len(statuses), statuses.count(200)
    assert walked > 40 and ok > 40, (walked, ok)
    assert shown == [], shown
    assert "***" in (await client.get("/api/v1/connections/pg", headers=bearer(admin_key))).text

    logged = "\n".join(r.getMessage() + " " + str(r.__dict__.get("args")) for r in caplog.records)
    assert _leaks(logged, secrets) == []

    engine = sa.create_engine(sync_url(settings.database.url))
    with engine.connect() as conn:
        tables = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
        stored = []
        for table in tables:
            if table == "catalog_connections":  # the URL is there, encrypted: checked below
                continue
            for row in conn.execute(sa.text(f'SELECT t::text FROM "{table}" t')):
                stored.append(row[0])
        sealed = conn.scalar(sa.text("SELECT url_encrypted || display_url FROM catalog_connections"))
    engine.dispose()
    assert len(stored) > 20
    assert _leaks("\n".join(stored), secrets) == [], [n for n in _leaks("\n".join(stored), secrets)]
    assert _leaks(sealed, secrets) == []
