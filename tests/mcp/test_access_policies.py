"""MCP's run_sql and ask as an analyst under a row policy and column masks: the official client over streamable HTTP
gets only the rows the policy lets through, and the answer says the policy applied; describe_schema, the schema
resource and search_knowledge show none of the metadata the policies hide."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import TEMPLATE_DB
from tests.mcp.conftest import Served, mcp_client, mcp_settings, serve


@pytest.fixture(scope="module")
async def policed(pg_admin_url, template_db_url, tmp_path_factory) -> AsyncIterator[Served]:
    """The demo app, the analyst reading only `delivered` orders (their `status` attribute) and customers' emails
    masked to their last four characters."""
    from nl2sql.auth import AuthService
    from nl2sql.catalog import CatalogService
    from nl2sql.db import AppDatabase

    name = f"t_mcp_access_{id(tmp_path_factory):x}"
    engine = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        async with serve(mcp_settings(url, tmp_path_factory.mktemp("mcp_access") / "data")) as running:
            settings = running.settings
            db = AppDatabase(settings.database.url, settings.database.data_dir)
            db.open(migrate=False)
            try:
                auth = AuthService(db.sessions, settings.auth)
                admin = await auth.get_user(running.admin_id)
                catalog = CatalogService(db.sessions, settings.catalog, settings.server.secret_key)
                await catalog.set_user_access(admin, running.analyst_id, {"status": "delivered"}, [])
                await catalog.add_row_policy(admin, "demo", "orders", f"user:{running.analyst_id}",
                                             "status = {user.status}")
                await catalog.add_column_mask(admin, "demo", "customers", "email", f"user:{running.analyst_id}",
                                              "last4")
                # for the schema the analyst sees: payment methods hidden, customers' states masked
                await catalog.add_column_mask(admin, "demo", "payments", "method", f"user:{running.analyst_id}",
                                              "hidden")
                await catalog.add_column_mask(admin, "demo", "customers", "state", f"user:{running.analyst_id}",
                                              "redacted")
                catalog.close()
            finally:
                await db.close()
            yield running
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


STATEMENTS = [
    "SELECT status, COUNT(*) AS n FROM orders GROUP BY status",
    "SELECT o.status, COUNT(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY o.status",
    "WITH recent AS (SELECT * FROM orders) SELECT status, COUNT(*) AS n FROM recent GROUP BY status",
    "SELECT status, COUNT(*) AS n FROM (SELECT status FROM orders UNION ALL SELECT status FROM orders) u GROUP BY status",
]


async def test_run_sql_returns_only_the_rows_the_policy_lets_through(policed):
    async with mcp_client(policed.url, policed.analyst_key) as client:
        for sql in STATEMENTS:
            result = await client.call_tool("run_sql", {"connection": "demo", "sql": sql})
            answer = result.structured_content
            assert not result.is_error, result.content
            assert {row[0] for row in answer["rows"]} == {"delivered"}, sql
            assert "your access policies applied" in answer["note"] and "row policy on orders" in answer["note"]
    async with mcp_client(policed.url, policed.admin_key) as client:
        admin = (await client.call_tool("run_sql", {"connection": "demo", "sql": STATEMENTS[0]})).structured_content
    assert len({row[0] for row in admin["rows"]}) > 1


async def test_run_sql_shows_masked_emails(policed):
    async with mcp_client(policed.url, policed.analyst_key) as client:
        answer = (await client.call_tool("run_sql", {"connection": "demo",
                                                     "sql": "SELECT email FROM customers"})).structured_content
    emails = [row[0] for row in answer["rows"]]
    assert emails and all(e.startswith("***") and "@" not in e for e in emails if e)


async def test_ask_returns_only_the_rows_the_policy_lets_through(policed):
    async with mcp_client(policed.url, policed.analyst_key) as client:
        result = await client.call_tool("ask", {"connection": "demo",
                                                "question": "How many orders were placed in each status?"})
    answer = result.structured_content
    assert not result.is_error and answer["status"] == "answered", result.content
    assert [row[0] for row in answer["rows"]] == ["delivered"]


def _table(schema: dict, name: str) -> dict:
    return next(t for t in schema["tables"] if t["name"] == name)


def _column(schema: dict, table: str, name: str) -> dict:
    return next(c for c in _table(schema, table)["columns"] if c["name"] == name)


async def test_describe_schema_and_the_resource_show_only_what_the_policies_let_through(policed):
    async with mcp_client(policed.url, policed.admin_key) as client:
        theirs = (await client.call_tool("describe_schema", {"connection": "demo"})).structured_content
    async with mcp_client(policed.url, policed.analyst_key) as client:
        mine = (await client.call_tool("describe_schema", {"connection": "demo"})).structured_content
        pruned = (await client.call_tool("describe_schema", {
            "connection": "demo", "question": "How were the orders paid, by payment method and status?"})
                  ).structured_content
        resource = json.loads((await client.read_resource("nl2sql://connections/demo/schema")).contents[0].text)
    # the admin sees everything: the test means something
    assert "card" in _column(theirs, "payments", "method")["values"] and _column(theirs, "customers", "state")["values"]
    assert "delivered" in _column(theirs, "orders", "status")["values"] and _table(theirs, "orders")["row_count"]
    for schema in (mine, pruned, resource):
        assert "method" not in {c["name"] for t in schema["tables"] for c in t["columns"] if t["name"] == "payments"}
        assert all(c["values"] is None for t in schema["tables"] if t["name"] == "orders" for c in t["columns"])
    assert _column(mine, "customers", "state")["values"] is None  # masked: listed without values
    assert _table(mine, "orders")["row_count"] is None  # under a row policy: no count of everyone's rows
    assert _column(mine, "customers", "city")["values"] == _column(theirs, "customers", "city")["values"]
    assert resource["tables"] == mine["tables"]


async def test_search_knowledge_finds_no_values_the_policies_hide(policed):
    async with mcp_client(policed.url, policed.admin_key) as client:
        theirs = (await client.call_tool("search_knowledge", {"connection": "demo", "query": "paypal orders returned"})
                  ).structured_content
    async with mcp_client(policed.url, policed.analyst_key) as client:
        mine = (await client.call_tool("search_knowledge", {"connection": "demo", "query": "paypal orders returned"})
                ).structured_content
    assert {"paypal", "returned"} <= {v["value"] for v in theirs["values"]}
    assert not {"paypal", "returned"} & {v["value"] for v in mine["values"]}
