"""The admin's controls: MCP off for the whole server (NL2SQL_MCP_ENABLED) and per user on /admin/users; cookies
never authenticate /mcp."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from nl2sql.app import create_app
from nl2sql.settings import McpSettings
from tests.conftest import with_section
from tests.support import ADMIN_PASSWORD, bearer, form_post, login

LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
ACCEPT = {"Accept": "application/json, text/event-stream"}


async def test_mcp_turned_off_answers_404_with_the_setting_named(settings):
    app = create_app(with_section(settings, mcp=McpSettings(enabled=False)))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        user = await client.app.state.auth.create_user("root@example.com", ADMIN_PASSWORD, role="admin")
        key = (await client.app.state.auth.create_api_key(user, name="assistant")).key
        answer = await client.post("/mcp", json=LIST_TOOLS, headers=bearer(key) | ACCEPT)
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "MCP is turned off on this server (NL2SQL_MCP_ENABLED)"


async def test_the_users_page_turns_mcp_off_and_on_for_a_user(client, admin, analyst, analyst_key):
    assert analyst.mcp_access is True  # analysts may use MCP by default
    listed = await client.post("/mcp", json=LIST_TOOLS, headers=bearer(analyst_key) | ACCEPT)
    assert listed.status_code == 200 and "list_connections" in listed.text
    await login(client, admin.email, ADMIN_PASSWORD)
    page = await client.get("/admin/users")
    assert f"Turn MCP off for {analyst.email}" in page.text
    off = await form_post(client, f"/admin/users/{analyst.id}", {"action": "mcp_off"}, page="/admin/users", htmx=True)
    assert off.status_code == 200 and f"Turned MCP off for {analyst.email}" in off.text
    refused = await client.post("/mcp", json=LIST_TOOLS, headers=bearer(analyst_key) | ACCEPT)
    assert refused.status_code == 403 and "turned off for your account" in refused.json()["error"]["message"]
    on = await form_post(client, f"/admin/users/{analyst.id}", {"action": "mcp_on"}, page="/admin/users", htmx=True)
    assert f"Allowed MCP for {analyst.email}" in on.text
    assert (await client.post("/mcp", json=LIST_TOOLS, headers=bearer(analyst_key) | ACCEPT)).status_code == 200
    audit = await client.get("/api/v1/audit", headers=bearer((await client.app.state.auth.create_api_key(
        admin, name="audit")).key))
    assert "mcp_access" in audit.text


async def test_a_browser_session_is_no_key_for_mcp(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    assert (await client.get("/account")).status_code == 200  # logged in
    answer = await client.post("/mcp", json=LIST_TOOLS, headers=ACCEPT)
    assert answer.status_code == 401 and answer.json()["error"]["message"].startswith("missing API key")


async def test_there_is_no_server_stream_to_hold_open(client, analyst_key):
    """Stateless: no session id is handed out and GET /mcp opens no stream, so any container answers any request."""
    opened = await client.get("/mcp", headers=bearer(analyst_key) | {"Accept": "text/event-stream"})
    assert opened.status_code == 405
    listed = await client.post("/mcp", json=LIST_TOOLS, headers=bearer(analyst_key) | ACCEPT)
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in listed.headers


async def test_the_log_page_filters_mcp_calls_and_the_usage_page_counts_them_by_channel(client, admin, analyst_key):
    assert (await client.post("/mcp", json=LIST_TOOLS, headers=bearer(analyst_key) | ACCEPT)).status_code == 200
    await login(client, admin.email, ADMIN_PASSWORD)
    await client.app.state.gateway.recorder.flush()
    everything = await client.get("/admin/usage/log")
    log = await client.get("/admin/usage/log", params={"channel": "mcp"})
    assert "/login" in everything.text and "/mcp tools/list" in everything.text
    assert log.status_code == 200 and "/mcp tools/list" in log.text and "/login" not in log.text.split("<table")[-1]
    assert '<option value="mcp" selected>' in log.text
    usage = await client.get("/admin/usage")
    assert "By channel" in usage.text and "<td>mcp</td>" in usage.text


async def test_run_sql_follows_the_rule_for_editing_sql(settings):
    """With NL2SQL_ANSWERS_ANALYSTS_EDIT_SQL off an analyst may not write SQL on the pages, nor through run_sql."""
    from nl2sql.settings import AnswersSettings

    app = create_app(with_section(settings, answers=AnswersSettings(analysts_edit_sql=False)))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        analyst = await client.app.state.auth.create_user("ann@example.com", ADMIN_PASSWORD, role="analyst")
        key = (await client.app.state.auth.create_api_key(analyst, name="assistant")).key
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "run_sql", "arguments": {"connection": "demo", "sql": "SELECT 1"}}}
        answer = (await client.post("/mcp", json=call, headers=bearer(key) | ACCEPT)).json()
    assert answer["result"]["isError"] is True
    assert "NL2SQL_ANSWERS_ANALYSTS_EDIT_SQL is off" in answer["result"]["content"][0]["text"]
