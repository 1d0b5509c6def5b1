"""Two `nl2sql serve` processes on one app database, as behind a load balancer without sticky sessions: one MCP client
whose requests go to them in turn is answered by both, and every request lands as a record."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import httpx2
import sqlalchemy as sa
from cryptography.fernet import Fernet
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from nl2sql.db import sync_url
from tests.serving import CLEAN_EXIT, stop, wait_ready
from tests.test_cli import NL2SQL, _env, _free_port, _run


class Alternating(httpx2.AsyncBaseTransport):
    """Sends each request to the next of `ports` in turn (a round-robin load balancer)."""

    def __init__(self, ports: list[int]) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._ports = itertools.cycle(ports)
        self.sent: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self._ports)
        request.url = request.url.copy_with(port=port)
        self.sent.append(port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _start(env: dict[str, str], data_dir: Path, log: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    server = subprocess.Popen([NL2SQL, "serve"], env=env | {"NL2SQL_PORT": str(port), "NL2SQL_DATA_DIR": str(data_dir)},
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    return server, port


def _shop(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)")
        conn.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"item {i}", i * 1.5) for i in range(1, 21)])


async def test_two_serve_processes_answer_one_client_in_turn(app_db_url, tmp_path):
    env = _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=Fernet.generate_key().decode(), NL2SQL_DEMO="false",
               NL2SQL_EMBEDDING_LOAD_AT_START="false", NL2SQL_LOG_FORMAT="json")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    servers = [_start(env, tmp_path / f"data-{i}", logs[i]) for i in range(2)]
    try:
        for (server, port), log in zip(servers, logs):
            wait_ready(server, f"http://127.0.0.1:{port}", log)
        made = _run(["users", "create", "--admin", "--email", "ops@example.com"], env, stdin="scale password 1234\n")
        assert made.returncode == 0, made.stderr
        key = _run(["api-keys", "create", "--user", "ops@example.com"], env).stdout.strip().splitlines()[-1]
        _shop(tmp_path / "shop.db")
        with httpx.Client(base_url=f"http://127.0.0.1:{servers[0][1]}", headers={"Authorization": f"Bearer {key}"},
                          timeout=60) as api:
            created = api.post("/api/v1/connections", json={"name": "shop", "url": f"sqlite:///{tmp_path / 'shop.db'}"})
            assert created.status_code == 201, created.text
            _synced(api)

        transport = Alternating([port for _, port in servers])
        http = httpx2.AsyncClient(transport=transport, headers={"Authorization": f"Bearer {key}"},
                                  timeout=httpx2.Timeout(30, read=120))
        async with http, Client(streamable_http_client(f"http://127.0.0.1:{servers[0][1]}/mcp", http_client=http),
                                mode="legacy") as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            listed = (await client.call_tool("list_connections", {})).structured_content
            results = [await client.call_tool("run_sql", {"connection": "shop", "sql": f"SELECT COUNT(*) FROM items "
                                                                                       f"WHERE id > {i}"})
                       for i in range(4)]
            asked = await client.call_tool("ask", {"connection": "shop", "question": "How many items are there?"})
        assert "ask" in tools and [c["name"] for c in listed["connections"]] == ["shop"]
        assert [r.structured_content["rows"][0][0] for r in results] == [20, 19, 18, 17]
        assert not asked.is_error and asked.structured_content["status"] == "answered", asked.content
        assert asked.structured_content["rows"] == [[20]]
        assert {port for _, port in servers} == set(transport.sent)  # both answered
    finally:
        for server, _ in servers:
            assert stop(server) in CLEAN_EXIT
    engine = sa.create_engine(sync_url(app_db_url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        recorded = conn.scalar(sa.text("SELECT count(*) FROM gateway_requests WHERE route LIKE '/mcp%'"))
    engine.dispose()
    assert recorded == len(transport.sent)  # records = calls, on both processes (flushed on SIGTERM)


def _synced(api: httpx.Client) -> None:
    started = api.post("/api/v1/connections/shop/sync")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while True:
        status = api.get("/api/v1/connections/shop/sync").json()
        if status["id"] == started.json()["id"] and status["status"] in ("succeeded", "failed"):
            assert status["status"] == "succeeded", status
            return
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
