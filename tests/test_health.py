import sqlalchemy as sa


async def test_healthz_answers_while_the_process_lives(client):
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_database_reachable_and_migrated(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_reports_pending_migrations(client, settings):
    engine = sa.create_engine(settings.database.url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001_auth'"))
    engine.dispose()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert "migrations pending" in response.json()["detail"]


async def test_openapi_schema_is_served(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/me" in paths and "/api/v1/users" in paths and "/api/v1/api-keys" in paths


async def test_unknown_page_gets_a_404_page_not_a_trace(client):
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Traceback" not in response.text


async def test_static_htmx_is_served_locally(client):
    response = await client.get("/static/vendor/htmx-2.0.11.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:2000]


async def test_interactive_api_docs_load_only_local_assets(client):
    import re

    page = await client.get("/schema")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    assert [a for a in assets if a.startswith("http")] == []
    for asset in assets:
        if asset.startswith("/static/"):
            assert (await client.get(asset)).status_code == 200
