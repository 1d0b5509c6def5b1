"""Gateway bench: recording overhead per request (with vs without, same run) and a 200-client load run.

    .venv/bin/python bench/gateway.py                       # both parts, embedded PostgreSQL in a temp dir
    .venv/bin/python bench/gateway.py --part overhead --requests 3000
    .venv/bin/python bench/gateway.py --part load --clients 200 --duration 60
    NL2SQL_BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/gateway.py   # an existing pgvector server

Prints figures; asserts nothing. Every part is bounded in time and cleans up after itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from nl2sql.db import AppDatabase, sync_url
from nl2sql.settings import AuthSettings, DatabaseSettings, ServerSettings, Settings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _asgi_get(app, path: str) -> int:
    """One GET straight through the ASGI callable (no network, no client library)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"bench.local")], "client": ("127.0.0.1", 50000), "server": ("bench.local", 80),
    }
    status = 0

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def overhead(database_url: str, requests: int, rounds: int) -> None:
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from nl2sql.gateway import RequestRecording

    settings = Settings(
        server=ServerSettings(secret_key=Fernet.generate_key().decode()),
        database=DatabaseSettings(url=database_url, data_dir=Path(tempfile.mkdtemp(prefix="nl2sql-bench-"))),
        auth=AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1),
    )
    app = create_app(settings)
    async with AsyncTestClient(app=app):  # runs the lifespan: database, gateway recorder
        outer = app.asgi_handler  # SecurityHeaders(RequestRecording(Litestar's handler)): both sides keep the headers
        recorded = outer.app
        assert isinstance(recorded, RequestRecording), type(recorded)
        bare = recorded.app
        timings: dict[str, list[float]] = {"with gateway": [], "without gateway": []}
        for _ in range(200):  # warm-up both paths
            await _asgi_get(app, "/healthz")
        for _ in range(rounds):  # alternate in rounds so drift hits both sides alike
            for label, handler in (("with gateway", recorded), ("without gateway", bare)):
                outer.app = handler
                for _ in range(requests // rounds):
                    started = time.perf_counter()
                    status = await _asgi_get(app, "/healthz")
                    timings[label].append(time.perf_counter() - started)
                    assert status == 200
        outer.app = recorded
        flushed = await app.state.gateway.recorder.flush(timeout=30)
        stats = app.state.gateway.recorder.stats()
    print(f"\n== recording overhead: GET /healthz through the ASGI app, {requests} requests each, {rounds} rounds ==")
    for label, values in timings.items():
        ms = [v * 1000 for v in values]
        print(f"{label:>16}: p50 {_pct(ms, 0.5):.3f} ms  p95 {_pct(ms, 0.95):.3f} ms  mean {statistics.mean(ms):.3f} ms")
    with_p50 = _pct(timings["with gateway"], 0.5) * 1000
    without_p50 = _pct(timings["without gateway"], 0.5) * 1000
    print(f"{'overhead p50':>16}: {with_p50 - without_p50:.3f} ms per request (target < 2 ms)")
    print(f"{'recorder':>16}: written {stats.written}, dropped {stats.dropped}, buffered {stats.buffered}, flushed {flushed}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(database_url: str, clients: int, duration: float) -> None:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="nl2sql-bench-serve-")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")
    } | {
        "NL2SQL_DATABASE_URL": database_url,
        "NL2SQL_SECRET_KEY": Fernet.generate_key().decode(),
        "NL2SQL_DATA_DIR": data_dir,
        "NL2SQL_LOG_LEVEL": "warning",
    }
    serve = [sys.executable, "-m", "nl2sql.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as probe:
            deadline = time.monotonic() + 120
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"server exited: {server.stderr.read()[-2000:]}")
                try:
                    if (await probe.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("server did not come up in 120 s")
                await asyncio.sleep(0.3)
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            stop_at = time.monotonic() + duration

            async def worker(n: int) -> None:
                nonlocal sent
                i = 0
                while time.monotonic() < stop_at:
                    i += 1
                    sent += 1
                    started = time.perf_counter()
                    try:
                        response = await client.get("/healthz", headers={"X-Request-ID": f"{prefix}{n}-{i}"})
                        if response.status_code != 200:
                            errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                        else:
                            latencies.append(time.perf_counter() - started)
                    except httpx.HTTPError as exc:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

            started = time.monotonic()
            await asyncio.gather(*(worker(n) for n in range(clients)))
            elapsed = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGINT)  # graceful: lifespan shutdown flushes the recorder
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        written = conn.scalar(
            sa.text("SELECT count(*) FROM gateway_requests WHERE trace_id LIKE :p"), {"p": prefix + "%"}
        )
    engine.dispose()
    ms = [v * 1000 for v in latencies]
    print(f"\n== load: {clients} concurrent clients, {duration:.0f} s, GET /healthz on uvicorn (nl2sql serve) ==")
    print(f"requests made: {sent}  served (200): {len(latencies)}  errors: {sum(errors.values())} {errors or ''}")
    print(f"throughput: {len(latencies) / elapsed:.0f} req/s  latency p50 {_pct(ms, 0.5):.1f} ms  p95 {_pct(ms, 0.95):.1f} ms"
          f"  p99 {_pct(ms, 0.99):.1f} ms")
    print(f"records written: {written}  vs requests made: {sent}  ({'equal' if written == sent else 'DIFFERENT'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("overhead", "load", "all"), default="all")
    parser.add_argument("--requests", type=int, default=4000, help="requests per side for the overhead part")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    args.duration = min(args.duration, 600.0)
    url = os.environ.get("NL2SQL_BENCH_DATABASE_URL")
    database = None
    if not url:
        database = AppDatabase(None, Path(tempfile.mkdtemp(prefix="nl2sql-bench-db-")))
        database.open(migrate=True)  # embedded PostgreSQL + pgvector, migrated
        url = database.url.render_as_string(hide_password=False)
    try:
        if args.part in ("overhead", "all"):
            asyncio.run(overhead(url, args.requests, args.rounds))
        if args.part in ("load", "all"):
            asyncio.run(load(url, args.clients, args.duration))
    finally:
        if database is not None:
            database.stop_embedded()


if __name__ == "__main__":
    main()
