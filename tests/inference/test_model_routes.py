"""The admin model page and GET /api/v1/models, over the fake backend (logic around the model)."""

import pytest
from litestar.testing import AsyncTestClient

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from tests.support import ADMIN_PASSWORD, bearer, form_post, login


@pytest.fixture
async def fake_client(settings):
    model = FakeChatModel(["SELECT 1", "second reply"])
    async with AsyncTestClient(app=create_app(settings, chat_model=model), base_url="http://testserver.local") as c:
        yield c


async def _admin(client):
    return await client.app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")


async def test_models_api_describes_the_configured_backend(fake_client):
    admin = await _admin(fake_client)
    key = (await fake_client.app.state.auth.create_api_key(admin, name="t")).key
    response = await fake_client.get("/api/v1/models", headers=bearer(key))
    assert response.status_code == 200
    [model] = response.json()
    assert model["status"]["backend"] == "fake"
    assert {"slots", "busy", "queue_depth", "model_file", "supports_grammar"} <= set(model["status"])


async def test_try_api_returns_text_and_metering(fake_client):
    admin = await _admin(fake_client)
    key = (await fake_client.app.state.auth.create_api_key(admin, name="t")).key
    response = await fake_client.post("/api/v1/models/try", json={"prompt": "hello"}, headers=bearer(key))
    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "SELECT 1"
    assert body["completion_tokens"] > 0 and body["total_seconds"] >= 0
    empty = await fake_client.post("/api/v1/models/try", json={"prompt": "  "}, headers=bearer(key))
    assert empty.status_code == 400


async def test_analyst_cannot_open_the_model_page_or_try(fake_client):
    analyst = await fake_client.app.state.auth.create_user("ann@example.com", "analyst password 1", role="analyst")
    key = (await fake_client.app.state.auth.create_api_key(analyst, name="t")).key
    assert (await fake_client.post("/api/v1/models/try", json={"prompt": "x"}, headers=bearer(key))).status_code == 403
    await login(fake_client, "ann@example.com", "analyst password 1")
    assert (await fake_client.get("/admin/models")).status_code == 403


async def test_admin_page_shows_status_and_try_box_generates(fake_client):
    await _admin(fake_client)
    await login(fake_client, "admin@example.com", ADMIN_PASSWORD)
    page = await fake_client.get("/admin/models")
    assert page.status_code == 200 and "Configured backend" in page.text and "fake" in page.text
    result = await form_post(
        fake_client, "/admin/models/try", {"prompt": "say hi", "mode": "chat", "max_tokens": "16"}, page="/admin/models", htmx=True
    )
    assert result.status_code == 200
    assert '<pre id="try-output">SELECT 1</pre>' in result.text


class _FileModel(FakeChatModel):
    def describe(self):
        import dataclasses

        return dataclasses.replace(super().describe(), model_file="/srv/private/models/sqlcoder-7b.Q4_K_M.gguf",
                                   base_url="http://10.1.2.3:8000/v1")


async def test_analysts_see_the_model_files_name_but_not_its_server_path(settings):
    app = create_app(settings, chat_model=_FileModel(["SELECT 1"]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        auth = client.app.state.auth
        admin = await _admin(client)
        analyst = await auth.create_user("ann@example.com", "analyst password 1", role="analyst")
        analyst_view = (await client.get("/api/v1/models", headers=bearer((await auth.create_api_key(analyst, name="a")).key))).json()
        admin_view = (await client.get("/api/v1/models", headers=bearer((await auth.create_api_key(admin, name="b")).key))).json()
    assert analyst_view[0]["status"]["model_file"] == "sqlcoder-7b.Q4_K_M.gguf"
    assert analyst_view[0]["status"]["base_url"] is None and "/srv/private" not in str(analyst_view)
    assert admin_view[0]["status"]["model_file"] == "/srv/private/models/sqlcoder-7b.Q4_K_M.gguf"
