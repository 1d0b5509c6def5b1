"""Load bench: concurrent simulated users against `nl2sql serve` for minutes, mixing questions, pages and API reads.

    .venv/bin/python bench/load.py                          # 50 users for 5 minutes
    .venv/bin/python bench/load.py --users 5 --seconds 10   # a short run

Each user is an analyst granted the demo database, with an API key and a logged-in browser session, and loops
(about one request a second, under the default rate limit of 120 a minute): ask a question over the API (the
demo's questions, some answered by the reader, some by the model), read the answers list and the connections over
the API, load the /ask and /history pages and one answer's page fragments. The model is a fake OpenAI-compatible
server in this process that answers at once (the product's own work is what is measured: the server runs on its
default settings, with the openai backend pointed at the fake). The app database is an embedded PostgreSQL
started by the bench, so its records can be counted after the server stopped.

Prints throughput, latency p50/p95/p99 per kind of request, errors (5xx, 429 and transport errors: the target is
none), the server's resident memory over time (growth is the median of the last minute minus the first, after a
warm-up), and records written (request records and model-call records) against requests made. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).parent))
from memory import cli, rss_mb  # noqa: E402
from startup import NL2SQL, free_port, stop, wait_ready  # noqa: E402

from nl2sql.db import AppDatabase, sync_url  # noqa: E402

QUESTIONS = [
    "How many orders were placed in each status?",
    "How many customers are there?",
    "What is the total shipping cost of all orders?",
    "How many products are there in each category?",
    "Which ten customers placed the most orders?",
    "qqq zzz xyzzy plugh",  # about nothing in the catalog: refused (the trusted fake model is asked too)
    "Show the orders with the highest shipping cost",
]
FAKE_SQL = "SELECT status, COUNT(*) AS orders FROM orders GROUP BY status"
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


class FakeModelServer:
    """An OpenAI-compatible server that answers every completion at once with one SQL statement."""

    def __init__(self) -> None:
        self.calls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "fake-sql", "object": "model"}]})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.calls += 1
                chat = self.path.endswith("/chat/completions")
                request = json.loads(body or b"{}")
                text = "{}" if "response_format" in request else FAKE_SQL
                choice = {"index": 0, "finish_reason": "stop"}
                choice |= {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
                self._send({"id": "x", "object": "chat.completion", "model": "fake-sql", "choices": [choice],
                            "usage": {"prompt_tokens": 400, "completion_tokens": 20, "total_tokens": 420}})

            def _send(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Tally:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.sent = 0
        self.latency: dict[str, list[float]] = {}
        self.statuses: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    async def call(self, kind: str, request) -> httpx.Response | None:
        self.sent += 1
        headers = {"X-Request-ID": f"{self.prefix}{self.sent}"}
        started = time.perf_counter()
        try:
            response = await request(headers)
        except httpx.HTTPError as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            return None
        self.latency.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        self.statuses[str(response.status_code)] = self.statuses.get(str(response.status_code), 0) + 1
        if response.status_code >= 500 or response.status_code == 429:
            self.errors[str(response.status_code)] = self.errors.get(str(response.status_code), 0) + 1
        return response


async def user(base: str, key: str, email: str, tally: Tally, stop: float, think: float, index: int) -> None:
    api = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=120) as browser:
        page = await browser.get("/login")
        token = CSRF.search(page.text).group(1)
        await browser.post("/login", data={"email": email, "password": "bench password 1234", "_csrf_token": token})
        n = index  # users start at different steps of the loop
        answers: list[int] = []  # this user's own: another's answer is not theirs to read
        while time.monotonic() < stop:
            n += 1
            step = n % 6
            if step == 0:
                question = QUESTIONS[n // 6 % len(QUESTIONS)]
                response = await tally.call("POST /api/v1/ask", lambda h: browser.post(
                    "/api/v1/ask", json={"question": question, "connection": "demo"}, headers=h | api))
                if response is not None and response.status_code == 200 and response.json().get("answer_id"):
                    answers.append(response.json()["answer_id"])
            elif step == 1:
                await tally.call("GET /api/v1/answers", lambda h: browser.get("/api/v1/answers", headers=h | api))
            elif step == 2:
                await tally.call("GET /ask (page)", lambda h: browser.get("/ask", headers=h))
            elif step == 3:
                await tally.call("GET /api/v1/connections",
                                 lambda h: browser.get("/api/v1/connections", headers=h | api))
            elif step == 4:
                await tally.call("GET /history (page)", lambda h: browser.get("/history", headers=h))
            elif answers:
                answer = answers[n % len(answers)]
                await tally.call("GET /answers/N/rows (fragment)",
                                 lambda h: browser.get(f"/answers/{answer}/rows", headers=h))
            await asyncio.sleep(think)


async def run_load(base: str, users: list[tuple[str, str]], seconds: float, think: float, pid: int,
                   prefix: str) -> tuple[Tally, list[tuple[float, float]], float]:
    tally = Tally(prefix)
    samples: list[tuple[float, float]] = []
    began = time.monotonic()
    stop = began + seconds

    async def watch() -> None:
        while time.monotonic() < stop:
            samples.append((time.monotonic() - began, rss_mb(pid)))
            await asyncio.sleep(2)

    await asyncio.gather(watch(), *(user(base, key, email, tally, stop, think, i)
                                    for i, (key, email) in enumerate(users)))
    return tally, samples, time.monotonic() - began


def report(tally: Tally, samples: list[tuple[float, float]], elapsed: float, users: int, written: int,
           model_records: int, model_calls: int) -> None:
    every = [v for values in tally.latency.values() for v in values]
    print(f"\n== load: {users} users for {elapsed:.0f} s (asking, pages, API reads) ==")
    print(f"requests made: {tally.sent}  responses {dict(sorted(tally.statuses.items()))}  "
          f"errors (5xx, 429, transport): {sum(tally.errors.values())} {tally.errors or ''}")
    print(f"throughput: {len(every) / elapsed:.1f} req/s   all requests p50 {_pct(every, 0.5):.0f} ms  "
          f"p95 {_pct(every, 0.95):.0f} ms  p99 {_pct(every, 0.99):.0f} ms")
    for kind, values in sorted(tally.latency.items()):
        print(f"  {kind:<32} n={len(values):<6} p50 {_pct(values, 0.5):7.0f} ms  p95 {_pct(values, 0.95):7.0f} ms  "
              f"p99 {_pct(values, 0.99):7.0f} ms")
    warm = [(t, mb) for t, mb in samples if t >= min(30.0, elapsed / 3)]
    window = min(60.0, elapsed / 3)
    first = [mb for t, mb in warm if t < warm[0][0] + window] if warm else []
    last = [mb for t, mb in warm if t > elapsed - window] if warm else []
    timeline = "  ".join(f"{t:.0f}s {mb:.0f}" for t, mb in samples[:: max(1, len(samples) // 10)])
    print(f"server RSS (MB) over time: {timeline}")
    if first and last:
        print(f"server RSS: max {max(mb for _, mb in samples):.0f} MB; median of the first {window:.0f} s after "
              f"warm-up {statistics.median(first):.0f} MB, of the last {window:.0f} s {statistics.median(last):.0f} MB "
              f"(growth {statistics.median(last) - statistics.median(first):+.0f} MB)")
    print(f"request records written: {written}  vs requests made: {tally.sent}  "
          f"({'equal' if written == tally.sent else 'DIFFERENT'})")
    print(f"model-call records written: {model_records}  vs calls the model server received: {model_calls}  "
          f"({'equal' if model_records == model_calls else 'DIFFERENT'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--think", type=float, default=1.0, help="seconds each user waits between requests")
    parser.add_argument("--setting", action="append", default=[], metavar="NL2SQL_NAME=VALUE",
                        help="a server setting besides the defaults (repeatable), to compare one change side by side")
    args = parser.parse_args()
    database = AppDatabase(None, Path(tempfile.mkdtemp(prefix="nl2sql-bench-load-db-")))
    database.open(migrate=True)
    url = database.url.render_as_string(hide_password=False)
    model = FakeModelServer()
    data_dir = Path(tempfile.mkdtemp(prefix="nl2sql-bench-load-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")} | {
        "NL2SQL_DATABASE_URL": url, "NL2SQL_SECRET_KEY": Fernet.generate_key().decode(),
        "NL2SQL_DATA_DIR": str(data_dir), "NL2SQL_PORT": str(port), "HF_HUB_OFFLINE": "1",
        "NL2SQL_LLM_BASE_URL": model.url, "NL2SQL_LOG_LEVEL": "warning",
    } | dict(item.split("=", 1) for item in args.setting)
    base = f"http://127.0.0.1:{port}"
    prefix = f"load-{uuid.uuid4().hex[:8]}-"
    proc = subprocess.Popen([NL2SQL, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(base, proc, poll=0.3)
        users = []
        for i in range(max(1, args.users)):
            email = f"load{i}@example.com"
            cli(env, "users", "create", "--email", email, "--password-stdin", stdin="bench password 1234\n")
            users.append((cli(env, "api-keys", "create", "--user", email).splitlines()[-1], email))
        cli(env, "users", "create", "--email", "load-admin@example.com", "--admin", "--password-stdin",
            stdin="bench password 1234\n")
        admin = cli(env, "api-keys", "create", "--user", "load-admin@example.com").splitlines()[-1]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=120) as client:
            ids = [u["id"] for u in client.get("/api/v1/users").json() if u["email"].startswith("load")
                   and u["role"] != "admin"]
            client.put("/api/v1/connections/demo/grants", json={"user_ids": ids}).raise_for_status()
        setup_calls = model.calls
        tally, samples, elapsed = asyncio.run(run_load(base, users, args.seconds, args.think, proc.pid, prefix))
    finally:
        stop(proc, signal.SIGTERM)  # graceful: requests in flight finish, the recorder flushes
        model.close()
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        written = conn.scalar(sa.text("SELECT count(*) FROM gateway_requests WHERE trace_id LIKE :p"),
                              {"p": prefix + "%"})
        model_records = conn.scalar(sa.text("SELECT count(*) FROM gateway_model_calls"))
    engine.dispose()
    database.stop_embedded()
    report(tally, samples, elapsed, len(users), written, model_records, model.calls)
    if setup_calls:
        print(f"(the model server received {setup_calls} calls before the load began; they count on both sides)")


if __name__ == "__main__":
    main()
