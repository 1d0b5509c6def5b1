"""Two `nl2sql serve` processes on two ports against one app database, as behind a load balancer: a session made
on one works on the other, the rate limit is shared, a background job runs on exactly one of them, and the request
records of both land."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from nl2sql.db import sync_url
from tests.serving import CLEAN_EXIT, stop, wait_ready
from tests.support import CSRF_INPUT
from tests.test_cli import NL2SQL, _env, _free_port, _run

SYNC_LINE = re.compile(r"sync (\d+) of connection \d+: ")


def _start(env: dict[str, str], data_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [NL2SQL, "serve"], env=env | {"NL2SQL_PORT": str(port), "NL2SQL_DATA_DIR": str(data_dir)},
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    return server, f"http://127.0.0.1:{port}"


def _wait_synced(client: httpx.Client, name: str, sync_id: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        status = client.get(f"/api/v1/connections/{name}/sync").json()
        if status["id"] == sync_id and status["status"] in ("succeeded", "failed"):
            assert status["status"] == "succeeded", status
            return
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_two_processes_share_sessions_limits_jobs_and_records(app_db_url, tmp_path):
    env = _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=Fernet.generate_key().decode(),
               NL2SQL_DEMO="false", NL2SQL_EMBEDDING_LOAD_AT_START="false", NL2SQL_RATE_LIMIT_PER_MINUTE="20",
               NL2SQL_LOG_FORMAT="json")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    servers = [_start(env, tmp_path / f"data-{i}", logs[i]) for i in range(2)]
    try:
        for (server, base), log in zip(servers, logs):
            wait_ready(server, base, log)
        (_, a), (_, b) = servers
        for email, role in (("ops@example.com", ["--admin"]), ("analyst@example.com", [])):
            made = _run(["users", "create", *role, "--email", email], env, stdin="scale password 1234\n")
            assert made.returncode == 0, made.stderr
        admin_key = _run(["api-keys", "create", "--user", "ops@example.com"], env).stdout.strip().splitlines()[-1]
        analyst_key = _run(["api-keys", "create", "--user", "analyst@example.com"], env).stdout.strip().splitlines()[-1]
        sent = {"scale-a-": 0, "scale-b-": 0}

        def call(client: httpx.Client, method: str, path: str, **kwargs) -> httpx.Response:
            prefix = "scale-a-" if str(client.base_url).rstrip("/") == a else "scale-b-"
            sent[prefix] += 1
            return client.request(method, path, headers={"X-Request-ID": f"{prefix}{sent[prefix]}"}, **kwargs)

        # a session made on A opens B's pages; a CSRF token A issued is good on B (one secret key)
        with httpx.Client(base_url=a) as on_a, httpx.Client(base_url=b) as on_b:
            token = CSRF_INPUT.search(call(on_a, "GET", "/login").text).group(1)
            login = call(on_a, "POST", "/login", data={"email": "ops@example.com", "password": "scale password 1234",
                                                        "_csrf_token": token})
            assert login.status_code == 303
            assert call(on_b, "GET", "/account").status_code == 302  # no cookie yet: B sends it to /login
            on_b.cookies = on_a.cookies
            account = call(on_b, "GET", "/account")
            assert account.status_code == 200 and "ops@example.com" in account.text
            token = CSRF_INPUT.search(call(on_a, "GET", "/account").text).group(1)
            assert call(on_b, "POST", "/logout", data={"_csrf_token": token}).status_code == 303
            assert call(on_a, "GET", "/account").status_code == 302  # logged out on B: gone on A too

        # a background job runs on exactly one of the two workers
        shop = tmp_path / "shop.db"
        with sqlite3.connect(shop) as conn:
            conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        admin = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(base_url=a, headers=admin) as api_a, httpx.Client(base_url=b, headers=admin) as api_b:
            made = call(api_a, "POST", "/api/v1/connections", json={"name": "shop", "url": f"sqlite:///{shop}"})
            assert made.status_code == 201, made.text
            syncs = []
            for client in (api_b, api_a, api_b):
                started = call(client, "POST", "/api/v1/connections/shop/sync")
                assert started.status_code == 202, started.text
                syncs.append(started.json()["id"])
                _wait_synced(client, "shop", syncs[-1])

        # the rate limit counts the requests of both: 20 a minute in all, not 20 on each
        if datetime.now(UTC).second > 40:  # keep the burst inside one counting minute
            time.sleep(61 - datetime.now(UTC).second)
        analyst = {"Authorization": f"Bearer {analyst_key}"}
        answered = {a: [], b: []}
        with httpx.Client(base_url=a, headers=analyst) as api_a, httpx.Client(base_url=b, headers=analyst) as api_b:
            for i in range(30):
                client = api_a if i % 2 == 0 else api_b
                answered[str(client.base_url).rstrip("/")].append(call(client, "GET", "/api/v1/connections").status_code)
        statuses = answered[a] + answered[b]
        assert statuses.count(200) == 20 and statuses.count(429) == 10, answered
        assert 429 in answered[a] and 429 in answered[b]
    finally:
        for server, _ in servers:
            assert stop(server) in CLEAN_EXIT
    # each sync ran once, on one process or the other
    ran = [int(m) for log in logs for m in SYNC_LINE.findall(log.read_text())]
    assert sorted(ran) == sorted(syncs), ran
    # every request either process answered has its record (the recorder flushed on SIGTERM)
    engine = sa.create_engine(sync_url(app_db_url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for prefix, count in sent.items():
            written = conn.scalar(sa.text("SELECT count(*) FROM gateway_requests WHERE trace_id LIKE :p"),
                                  {"p": prefix + "%"})
            assert written == count, (prefix, written, count)
    engine.dispose()
