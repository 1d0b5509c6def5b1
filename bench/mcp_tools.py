"""MCP bench: a tool call's overhead over the same call through the REST API, then concurrent MCP clients.

    .venv/bin/python bench/mcp_tools.py                              # 200 pairs, then 20 clients for 60 s
    .venv/bin/python bench/mcp_tools.py --pairs 50 --clients 5 --seconds 10

`nl2sql serve` on an embedded PostgreSQL started by the bench, the demo database, no rate limit (the load part
measures capacity, not the limit). The official MCP client (streamable HTTP, one session per client) and httpx
(keep-alive) make the calls.

1. Overhead, side by side in one run: the same call alternately through MCP and the REST API, `--pairs` times
   each after a warm-up: `ask` (a demo question the reader answers; the same text each time, so both sides hit the
   answer cache the same way) against `POST /api/v1/ask`, and `list_connections` against
   `GET /api/v1/connections` (almost no work: the protocol's own cost). Prints p50/p95 of each and the p50 ratio
   (target: MCP/REST <= 1.2).
2. Load: `--clients` MCP clients (each its own API key) for `--seconds`, each calling ask, run_sql and
   list_connections in turn without pause. Prints calls, errors (tool errors, protocol errors, transport errors:
   the target is none), p50/p95, and request records of /mcp written against HTTP requests the clients sent
   (target: equal) after the server stopped.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import httpx2
import sqlalchemy as sa
from cryptography.fernet import Fernet
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).parent))
from memory import cli  # noqa: E402
from startup import NL2SQL, free_port, stop, wait_ready  # noqa: E402

from nl2sql.db import AppDatabase, sync_url  # noqa: E402

QUESTION = "How many orders were placed in each status?"
CALLS = [
    ("ask", {"connection": "demo", "question": QUESTION}),
    ("run_sql", {"connection": "demo", "sql": "SELECT status, COUNT(*) AS n FROM orders GROUP BY status"}),
    ("list_connections", {}),
]
sent = {"mcp_http": 0}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _client(base: str, key: str) -> tuple[httpx2.AsyncClient, Client]:
    async def count(request: httpx2.Request) -> None:
        sent["mcp_http"] += 1

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30, read=300),
                              event_hooks={"request": [count]})
    return http, Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy")


async def overhead(base: str, key: str, pairs: int, warmup: int) -> None:
    http, client = _client(base, key)
    rest = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300)
    cases = [("ask", {"connection": "demo", "question": QUESTION}, "POST", "/api/v1/ask",
              {"json": {"connection": "demo", "question": QUESTION}}),
             ("list_connections", {}, "GET", "/api/v1/connections", {})]
    async with http, rest, client:
        for tool, arguments, method, path, kwargs in cases:
            times: dict[str, list[float]] = {"mcp": [], "rest": []}
            for index in range(warmup + pairs):
                started = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                mcp_ms = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                response = await rest.request(method, path, **kwargs)
                rest_ms = (time.perf_counter() - started) * 1000
                if result.is_error or response.status_code != 200:
                    raise SystemExit(f"{tool}: {result.content} / {response.status_code} {response.text[:200]}")
                if index >= warmup:
                    times["mcp"].append(mcp_ms)
                    times["rest"].append(rest_ms)
            mcp50, rest50 = statistics.median(times["mcp"]), statistics.median(times["rest"])
            print(f"{tool:17} MCP p50 {mcp50:7.1f} ms p95 {_pct(times['mcp'], .95):7.1f} | REST {method} {path} "
                  f"p50 {rest50:7.1f} ms p95 {_pct(times['rest'], .95):7.1f} | p50 ratio {mcp50 / rest50:.2f} "
                  f"(target <= 1.2; {pairs} pairs)")


async def load(base: str, keys: list[str], seconds: float) -> tuple[list[float], dict[str, int]]:
    latencies: list[float] = []
    tally = {"calls": 0, "tool_errors": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    async def one(key: str, offset: int) -> None:
        http, client = _client(base, key)
        try:
            async with http, client:
                index = offset
                while time.monotonic() < deadline:
                    tool, arguments = CALLS[index % len(CALLS)]
                    index += 1
                    started = time.perf_counter()
                    result = await client.call_tool(tool, arguments)
                    latencies.append((time.perf_counter() - started) * 1000)
                    tally["calls"] += 1
                    tally["tool_errors"] += bool(result.is_error)
        except Exception as error:  # noqa: BLE001 - counted: the target is none
            tally["errors"] += 1
            print(f"client failed: {error!r}"[:300])

    await asyncio.gather(*(one(key, i) for i, key in enumerate(keys)))
    return latencies, tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    database = AppDatabase(None, Path(tempfile.mkdtemp(prefix="nl2sql-bench-mcp-db-")))
    database.open(migrate=True)
    url = database.url.render_as_string(hide_password=False)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")} | {
        "NL2SQL_DATABASE_URL": url, "NL2SQL_SECRET_KEY": Fernet.generate_key().decode(),
        "NL2SQL_DATA_DIR": tempfile.mkdtemp(prefix="nl2sql-bench-mcp-"), "NL2SQL_PORT": str(port),
        "HF_HUB_OFFLINE": "1", "NL2SQL_LOG_LEVEL": "warning", "NL2SQL_RATE_LIMIT_PER_MINUTE": "0",
    }
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([NL2SQL, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(base, proc, poll=0.3)
        cli(env, "users", "create", "--email", "bench@example.com", "--admin", "--password-stdin",
            stdin="bench password 1234\n")
        keys = [cli(env, "api-keys", "create", "--user", "bench@example.com").splitlines()[-1]]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys[0]}"}) as api:
            keys += [api.post("/api/v1/api-keys", json={"name": f"client {i}"}).json()["key"]
                     for i in range(1, args.clients)]
        asyncio.run(overhead(base, keys[0], args.pairs, args.warmup))
        started = time.monotonic()
        latencies, tally = asyncio.run(load(base, keys[:args.clients], args.seconds))
        elapsed = time.monotonic() - started
    finally:
        stop(proc, signal.SIGTERM)  # graceful: the recorder flushes
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        records = conn.scalar(sa.text("SELECT count(*) FROM gateway_requests WHERE route LIKE '/mcp%'"))
    engine.dispose()
    database.stop_embedded()
    print(f"load: {args.clients} MCP clients x {args.seconds:.0f} s: {tally['calls']} tool calls in {elapsed:.1f} s "
          f"({tally['calls'] / elapsed:.1f}/s), p50 {_pct(latencies, .5):.1f} ms, p95 {_pct(latencies, .95):.1f} ms; "
          f"tool errors {tally['tool_errors']}, failed clients {tally['errors']} (target 0)")
    print(f"records: {records} request records of /mcp, {sent['mcp_http']} HTTP requests sent to /mcp "
          f"({'equal' if records == sent['mcp_http'] else 'NOT equal'})")


if __name__ == "__main__":
    main()
