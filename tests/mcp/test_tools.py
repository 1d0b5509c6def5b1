"""The official MCP client over streamable HTTP against a running app on the demo database: the tools, resources and
prompt; who may call them; the guard; clarifications as results; rate limits and quotas as the protocol expects;
and a request record per call, filterable on the usage and log pages."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from mcp import MCPError

from nl2sql.db import sync_url
from tests.mcp.conftest import mcp_client, refusal
from tests.support import bearer

TOOLS = {"list_connections", "describe_schema", "ask", "run_sql", "search_knowledge"}


async def test_lists_its_tools_with_schemas_and_read_only_hints(served):
    async with mcp_client(served.url, served.analyst_key) as client:
        listed = (await client.list_tools()).tools
        templates = (await client.list_resource_templates()).resource_templates
        prompts = (await client.list_prompts()).prompts
    assert {t.name for t in listed} == TOOLS
    for tool in listed:
        assert len(tool.description) > 80, tool.name  # written for an agent to choose by
        assert tool.input_schema["type"] == "object" and tool.output_schema["type"] == "object"
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False
    ask = next(t for t in listed if t.name == "ask")
    assert set(ask.input_schema["required"]) == {"connection", "question"}
    assert "description" in ask.input_schema["properties"]["question"]
    assert {"status", "sql", "reading", "rows", "link", "clarification"} <= set(ask.output_schema["properties"])
    assert [t.uri_template for t in templates] == ["nl2sql://connections/{connection}/schema"]
    assert [p.name for p in prompts] == ["analyse_question"]


async def test_an_analyst_asks_the_demo_and_follows_up(served):
    async with mcp_client(served.url, served.analyst_key) as client:
        connections = (await client.call_tool("list_connections", {})).structured_content
        result = await client.call_tool("ask", {"connection": "demo",
                                                "question": "How many orders were placed in each status?"})
        answer = result.structured_content
        assert not result.is_error, result.content
        follow = await client.call_tool("ask", {"connection": "demo", "question": "only delivered ones",
                                                "thread": answer["thread_id"]})
    assert [c["name"] for c in connections["connections"]] == ["demo"]
    assert connections["connections"][0]["description"]
    assert answer["status"] == "answered" and answer["sql"].upper().startswith("SELECT")
    assert answer["reading"].startswith("number of orders by status")
    assert answer["trust"]["kind"] in ("read", "verified", "adapted")
    assert [c["name"] for c in answer["columns"]] == ["status", "number_of_orders"]
    assert len(answer["rows"]) == answer["rows_returned"] == 5 and not answer["more_rows"]
    assert answer["link"] == f"{served.url}/ask?answer={answer['answer_id']}"
    # the text content is the same answer, for clients that read only text
    assert json.loads(result.content[0].text)["answer_id"] == answer["answer_id"]
    assert follow.structured_content["thread_id"] == answer["thread_id"]


async def test_a_question_it_cannot_read_comes_back_as_a_clarification_not_an_error(served):
    async with mcp_client(served.url, served.analyst_key) as client:
        result = await client.call_tool("ask", {"connection": "demo",
                                                "question": "How many orders were glorped by the flurbs per zorp?"})
    assert not result.is_error, result.content
    answer = result.structured_content
    assert answer["status"] in ("clarify", "refused") and answer["sql"] is None and answer["rows"] == []
    assert answer["clarification"]["message"]
    assert answer["link"].endswith(f"/ask?answer={answer['answer_id']}")


async def test_run_sql_answers_and_the_guard_refuses_a_write(served):
    async with mcp_client(served.url, served.analyst_key) as client:
        counted = await client.call_tool("run_sql", {"connection": "demo", "sql": "SELECT COUNT(*) AS n FROM orders"})
        write = await client.call_tool("run_sql", {"connection": "demo", "sql": "DELETE FROM orders"})
        smuggled = await client.call_tool("run_sql", {"connection": "demo",
                                                      "sql": "SELECT 1; DROP TABLE orders"})
        again = await client.call_tool("run_sql", {"connection": "demo", "sql": "SELECT COUNT(*) AS n FROM orders"})
    assert not counted.is_error, counted.content
    rows = counted.structured_content["rows"]
    assert rows[0][0] > 0 and counted.structured_content["trust"]["kind"] == "written"
    assert write.is_error and smuggled.is_error
    assert "read-only" in write.content[0].text.lower() or "select" in write.content[0].text.lower()
    assert again.structured_content["rows"] == rows  # nothing was deleted


async def test_describe_schema_prunes_to_a_question_or_named_tables(served):
    async with mcp_client(served.url, served.analyst_key) as client:
        whole = (await client.call_tool("describe_schema", {"connection": "demo"})).structured_content
        named = (await client.call_tool("describe_schema", {"connection": "demo", "tables": ["orders"]})).structured_content
        pruned = (await client.call_tool("describe_schema", {
            "connection": "demo", "question": "Which products cost the most?"})).structured_content
        unknown = await client.call_tool("describe_schema", {"connection": "demo", "tables": ["no_such_table"]})
    names = {t["name"] for t in whole["tables"]}
    assert {"orders", "customers", "products"} <= names and whole["table_count"] == len(names)
    orders = next(t for t in whole["tables"] if t["name"] == "orders")
    status = next(c for c in orders["columns"] if c["name"] == "status")
    assert "delivered" in status["values"]
    assert orders["foreign_keys"] and whole["dialect"] == "sqlite"
    revenue = next(m for m in whole["metrics"] if m["name"] == "revenue")
    assert revenue["kind"] == "metric" and "order_items.unit_price" in revenue["expression"]
    assert {"active products", "discontinued products"} <= {m["name"] for m in whole["metrics"]}
    assert [t["name"] for t in named["tables"]] == ["orders"]
    assert "products" in {t["name"] for t in pruned["tables"]} and "question" in pruned["note"]
    assert unknown.is_error and "no_such_table" in unknown.content[0].text


async def test_search_knowledge_finds_verified_queries_and_instructions(served):
    async with mcp_client(served.url, served.analyst_key) as client:
        found = (await client.call_tool("search_knowledge", {
            "connection": "demo", "query": "how many customers are there"})).structured_content
        revenue = (await client.call_tool("search_knowledge", {
            "connection": "demo", "query": "revenue per year"})).structured_content
    assert found["golden_queries"][0]["question"] == "How many customers are there?"
    assert found["golden_queries"][0]["sql"].startswith("SELECT COUNT(*)")
    assert any("US dollars" in i["text"] for i in found["instructions"])  # an "always" instruction
    assert any("Revenue means" in i["text"] for i in revenue["instructions"])
    assert revenue["metrics"][0]["name"] == "revenue"  # named first; those that mention revenue after it
    assert not {"active products", "discontinued products"} & {m["name"] for m in revenue["metrics"]}
    assert found["metrics"] == []  # "customers" alone is in revenue's description: not enough


async def test_the_schema_resource_and_the_prompt(served):
    async with mcp_client(served.url, served.stranger_key) as client:
        assert (await client.list_resources()).resources == []  # no grant, no schema to read
        with pytest.raises(MCPError, match="no connection named 'demo'"):
            await client.read_resource("nl2sql://connections/demo/schema")
    async with mcp_client(served.url, served.analyst_key) as client:
        listed = (await client.list_resources()).resources
        read = await client.read_resource("nl2sql://connections/demo/schema")
        prompt = await client.get_prompt("analyse_question", {"connection": "demo", "question": "Top customers?"})
    assert [(str(r.uri), r.mime_type) for r in listed] == [("nl2sql://connections/demo/schema", "application/json")]
    schema = json.loads(read.contents[0].text)
    assert schema["connection"] == "demo" and {"orders", "customers"} <= {t["name"] for t in schema["tables"]}
    text = prompt.messages[0].content.text
    assert "Top customers?" in text and "search_knowledge" in text and "clarify" in text


async def test_who_may_call(served):
    """No key and a revoked key: 401 with the reason; an analyst without a grant sees no connection and can't ask
    one; an admin sees every connection."""
    for key, reason in ((None, "missing API key"), (served.revoked_key, "this API key has been revoked"),
                        ("nl2sql_bogus", "invalid API key")):
        assert reason in await refusal(served.url, key)
    raw = httpx.post(f"{served.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                     headers={"Accept": "application/json, text/event-stream"})
    assert raw.status_code == 401 and raw.headers["www-authenticate"].startswith("Bearer")
    assert raw.json()["error"]["message"].startswith("missing API key")
    async with mcp_client(served.url, served.stranger_key) as client:
        assert (await client.call_tool("list_connections", {})).structured_content == {"connections": []}
        denied = await client.call_tool("ask", {"connection": "demo", "question": "How many customers are there?"})
        sql = await client.call_tool("run_sql", {"connection": "demo", "sql": "SELECT 1"})
    assert denied.is_error and "no connection named 'demo'" in denied.content[0].text
    assert sql.is_error and "no connection named 'demo'" in sql.content[0].text
    async with mcp_client(served.url, served.admin_key) as client:
        listed = (await client.call_tool("list_connections", {})).structured_content
    assert [c["name"] for c in listed["connections"]] == ["demo"]


async def test_an_admin_turns_mcp_off_for_one_user(served):
    admin = bearer(served.admin_key)
    async with httpx.AsyncClient(base_url=served.url, headers=admin) as api:
        off = await api.patch(f"/api/v1/users/{served.stranger_id}", json={"mcp_access": False})
        assert off.status_code == 200 and off.json()["mcp_access"] is False
        try:
            assert "MCP is turned off for your account" in await refusal(served.url, served.stranger_key)
            # the same key still works on the REST API: only MCP was turned off
            assert (await api.get("/api/v1/me", headers=bearer(served.stranger_key))).status_code == 200
        finally:
            on = await api.patch(f"/api/v1/users/{served.stranger_id}", json={"mcp_access": True})
            assert on.json()["mcp_access"] is True
    async with mcp_client(served.url, served.stranger_key) as client:
        assert await client.list_tools()


async def test_the_rate_limit_is_a_429_json_rpc_error_with_retry_after(served):
    key_id, key = await _new_key(served, "limited")
    async with httpx.AsyncClient(base_url=served.url, headers=bearer(served.admin_key)) as api:
        if datetime.now(UTC).second > 50:  # keep the calls inside one counting minute
            await asyncio.sleep(61 - datetime.now(UTC).second)
        limited = await api.put(f"/api/v1/quotas/key/{key_id}", json={"requests_per_minute": 2})
        assert limited.status_code == 200, limited.text
    async with mcp_client(served.url, key) as client:
        await client.list_tools()  # the handshake is not counted: this and the next are
        await client.call_tool("list_connections", {})
        with pytest.raises(MCPError, match="rate limit reached: this API key may make 2 requests per minute"):
            await client.call_tool("list_connections", {})
    raw = httpx.post(f"{served.url}/mcp", json={"jsonrpc": "2.0", "id": 7, "method": "tools/list"},
                     headers=bearer(key) | {"Accept": "application/json, text/event-stream"})
    assert raw.status_code == 429 and int(raw.headers["retry-after"]) >= 1
    assert raw.json()["error"]["data"]["retry_after"] >= 1


async def _new_key(served, name: str) -> tuple[int, str]:
    """A new API key of the analyst's (its own counters), made through the API."""
    async with httpx.AsyncClient(base_url=served.url, headers=bearer(served.analyst_key)) as api:
        made = (await api.post("/api/v1/api-keys", json={"name": name})).json()
    return made["api_key"]["id"], made["key"]


async def test_a_used_up_token_quota_is_a_tool_error_and_no_model_call(served):
    """A key's daily token quota is used up: ask with the model answers with the quota's message as a tool error."""
    key_id, key = await _new_key(served, "metered")
    async with httpx.AsyncClient(base_url=served.url, headers=bearer(served.admin_key)) as api:
        quota = await api.put(f"/api/v1/quotas/key/{key_id}", json={"tokens_per_day": 10})
        assert quota.status_code == 200, quota.text
    engine = sa.create_engine(sync_url(served.settings.database.url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # 10 tokens used today already
        conn.execute(sa.text("INSERT INTO gateway_counters (subject, kind, window_start, count) "
                             "VALUES (:s, 'tok', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 10)"),
                     {"s": f"key:{key_id}"})
    engine.dispose()
    calls = len(served.model.calls)
    async with mcp_client(served.url, key) as client:
        result = await client.call_tool("ask", {"connection": "demo", "question": "What is the weather like on Mars?",
                                                "use_model": True})
    assert result.is_error and "token quota used up: this API key may use 10" in result.content[0].text
    assert len(served.model.calls) == calls


async def test_each_call_is_a_request_record_filterable_on_the_log_and_usage(served):
    async with mcp_client(served.url, served.analyst_key) as client:
        await client.call_tool("ask", {"connection": "demo", "question": "How many customers are there?"})
        unknown = await client.call_tool("drop_everything", {})
    assert unknown.is_error
    engine = sa.create_engine(sync_url(served.settings.database.url), poolclass=sa.pool.NullPool)
    for _ in range(50):  # records are written in batches every half second
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT route, user_id, api_key_id, status FROM gateway_requests WHERE route LIKE '/mcp%' "
                "AND user_id = :u ORDER BY at"), {"u": served.analyst_id}).all()
        if {"/mcp tools/call ask", "/mcp tools/call ?"} <= {r.route for r in rows}:
            break
        await asyncio.sleep(0.1)
    engine.dispose()
    asked = [r for r in rows if r.route == "/mcp tools/call ask"]
    assert asked and all(r.api_key_id is not None and r.status == 200 for r in asked)
    assert any(r.route == "/mcp initialize" for r in rows)
    # routes are metric labels: a name the server doesn't know is recorded as `?`, never as sent
    assert any(r.route == "/mcp tools/call ?" for r in rows) and not any("drop_everything" in r.route for r in rows)
    async with httpx.AsyncClient(base_url=served.url, headers=bearer(served.admin_key)) as api:
        logged = (await api.get("/api/v1/logs", params={"channel": "mcp", "user_id": served.analyst_id})).json()
        usage = (await api.get("/api/v1/usage", params={"group_by": "channel"})).json()
        bad = await api.get("/api/v1/logs", params={"channel": "fax"})
        metrics = (await api.get("/metrics")).text
    assert logged["items"] and all(i["route"].startswith("/mcp") for i in logged["items"])
    channels = {g["key"]: g["requests"] for g in usage["groups"]}
    assert channels["mcp"] >= len(asked) and set(channels) <= {"pages", "api", "mcp"}
    assert bad.status_code == 400
    assert 'nl2sql_http_requests_total{method="POST",route="/mcp tools/call ask",status="200"}' in metrics


async def test_a_modern_client_discovers_and_calls_without_a_handshake(served):
    async with mcp_client(served.url, served.analyst_key, mode="auto") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("list_connections", {})
    assert names == TOOLS and result.structured_content["connections"][0]["name"] == "demo"
