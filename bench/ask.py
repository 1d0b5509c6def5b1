"""Ask bench: median and p95 of POST /api/v1/ask on the demo database.

    .venv/bin/python bench/ask.py                       # fake model (the product's own overhead), then the real model
    .venv/bin/python bench/ask.py --model fake --requests 200
    .venv/bin/python bench/ask.py --model fake --vary        # a new question text per request: embeds every time
    .venv/bin/python bench/ask.py --model real --real-requests 3
    .venv/bin/python bench/ask.py --model cache --requests 100   # the answer cache's hit path vs a miss, one run
    NL2SQL_BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/ask.py   # an existing pgvector server

With the fake model every request still does the real work around the model: API-key auth, rate limit and
request recording, retrieval with the real embedder and pgvector, prompt building, the guard, the EXPLAIN
check, the query (1,000 rows), the chart choice, the answer and result records, JSON encoding. The real
model run uses the configured default model (llama.cpp, bundled GGUF) on a question no golden query answers.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

from nl2sql.db import AppDatabase
from nl2sql.settings import (
    AuthSettings, CatalogSettings, DatabaseSettings, EngineSettings, GatewaySettings, ServerSettings, Settings,
)

ROWS_QUESTION = "List the first 1000 orders with their date, status and shipping cost"
ROWS_SQL = "SELECT id, order_date, status, shipping_cost FROM orders ORDER BY id LIMIT 1000"
REAL_QUESTION = "How many products are there in each category?"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(url: str, secret: str, data_dir: Path, model: str, requests: int, warmup: int, vary: bool,
              answer_cache: int = 1000) -> float:
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from nl2sql.inference import FakeChatModel

    settings = Settings(
        server=ServerSettings(secret_key=secret),  # one key for both runs: they share the demo connection
        database=DatabaseSettings(url=url, data_dir=data_dir, pool_size=5),
        auth=AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1),
        catalog=CatalogSettings(demo=True),
        gateway=GatewaySettings(requests_per_minute=0, tokens_per_day=0),
        engine=EngineSettings(answer_cache=answer_cache),
    )
    chat_model = FakeChatModel([ROWS_SQL]) if model == "fake" else None
    question = ROWS_QUESTION if model == "fake" else REAL_QUESTION
    app = create_app(settings, chat_model=chat_model)
    async with AsyncTestClient(app=app, base_url="http://bench.local", timeout=600) as client:
        auth = app.state.auth
        admin = await auth.create_user(f"bench-{model}-{secrets.token_hex(4)}@example.com", "bench password 1234",
                                       role="admin")
        key = (await auth.create_api_key(admin, name="bench")).key
        headers = {"Authorization": f"Bearer {key}"}
        body = {"question": question, "connection": "demo"}
        samples: list[float] = []
        parts: dict[str, list[float]] = {}
        last = None
        statuses: dict[int, int] = {}
        for index in range(warmup + requests):
            if vary:  # a new text each time, so the question's embedding is never cached
                body["question"] = f"{question} (request {index})"
            started = time.perf_counter()
            response = await client.post("/api/v1/ask", json=body, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if index < warmup:
                continue
            # a real small model may fail to write valid SQL (422): its time still counts, it did the work
            samples.append(elapsed)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code != 200:
                print(f"  request {index}: {response.status_code} {response.json().get('detail', '')[:200]}")
                continue
            last = response.json()
            for name, value in last["timings"].items():
                parts.setdefault(name, []).append(value)
    shape = (f"{last['row_count']} rows, chart {last['chart']['kind'] if last['chart'] else None}, "
             f"trust {last['trust']['kind']}") if last else "no answer with rows"
    cached = "answer cache off" if not answer_cache else ("answer cache on, every request a hit" if not vary and last
                                                          and last.get("cached_from") else "answer cache on")
    print(f"\n{model} model: {len(samples)} requests (after {warmup} warm-up), "
          f"{'a new question text each' if vary else 'the same question'}, {cached}, statuses {statuses}, {shape}")
    print(f"  POST /api/v1/ask  p50 {statistics.median(samples):8.1f} ms   p95 {_pct(samples, 0.95):8.1f} ms   "
          f"min {min(samples):8.1f} ms   max {max(samples):8.1f} ms")
    for name in ("retrieve_ms", "schema_ms", "prompt_ms", "generate_ms", "validate_ms", "probe_ms", "run_ms",
                 "chart_ms", "total_ms", *sorted(n for n in parts if n.startswith("retrieval_"))):
        if name in parts:
            print(f"    {name:<12} p50 {statistics.median(parts[name]):8.1f} ms   p95 {_pct(parts[name], 0.95):8.1f} ms")
    if model == "real" and last:
        print(f"  SQL: {last['sql']}")
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("fake", "real", "both", "cache"), default="both",
                        help="cache: the fake model's same question with the answer cache off, then on (the hit path)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests with the fake model")
    parser.add_argument("--real-requests", type=int, default=3, help="measured requests with the real model")
    parser.add_argument("--vary", action="store_true",
                        help="a new question text per request (no cached question embedding)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    url = os.environ.get("NL2SQL_BENCH_DATABASE_URL")
    database = None
    if not url:
        database = AppDatabase(None, Path(tempfile.mkdtemp(prefix="nl2sql-bench-db-")))
        database.open(migrate=True)  # embedded PostgreSQL + pgvector, migrated
        url = database.url.render_as_string(hide_password=False)
    secret = Fernet.generate_key().decode()
    try:
        if args.model == "cache":
            medians = []
            for size in (0, 1000):
                data_dir = Path(tempfile.mkdtemp(prefix="nl2sql-bench-ask-cache-"))
                medians.append(asyncio.run(run(url, secret, data_dir, "fake", args.requests, warmup=10, vary=False,
                                               answer_cache=size)))
            print(f"\nanswer cache: hit p50 {medians[1]:.1f} ms vs miss p50 {medians[0]:.1f} ms "
                  f"(hit/miss {medians[1] / medians[0]:.2f})")
            return
        for model in (("fake", "real") if args.model == "both" else (args.model,)):
            count = args.requests if model == "fake" else args.real_requests
            data_dir = Path(tempfile.mkdtemp(prefix=f"nl2sql-bench-ask-{model}-"))
            asyncio.run(run(url, secret, data_dir, model, count, warmup=10 if model == "fake" else 1, vary=args.vary))
    finally:
        if database is not None:
            asyncio.run(database.close())


if __name__ == "__main__":
    main()
