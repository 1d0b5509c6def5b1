"""Faults, as production has them: the app database goes away mid-run and comes back; a customer database goes
down, hangs, or takes too long. Each time: a clear error (never a 500 or a traceback), the process keeps serving,
it recovers on its own, and no request or model-call record is lost."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from nl2sql.db import EmbeddedPostgres, sync_url
from nl2sql.inference import FakeChatModel
from nl2sql.settings import (
    AuthSettings, CatalogSettings, DatabaseSettings, EngineSettings, GatewaySettings, RetrievalSettings,
    ServerSettings, Settings,
)
from tests.support import bearer

COUNT_SQL = "SELECT COUNT(*) AS n FROM items"


def _settings(url: str, data_dir: Path, **catalog) -> Settings:
    return Settings(
        server=ServerSettings(secret_key=Fernet.generate_key().decode()),
        database=DatabaseSettings(url=url, data_dir=data_dir, pool_size=3),
        auth=AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1),
        catalog=CatalogSettings(demo=False, **catalog),
        retrieval=RetrievalSettings(embedding_load_at_start=False),
        gateway=GatewaySettings(requests_per_minute=0, flush_seconds=0.2),
        engine=EngineSettings(generators="model_sql", model_when="always", answer_cache=0),
    )


def _shop(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO items (name) VALUES (?)", [(f"item {i}",) for i in range(20)])
    return f"sqlite:///{path}"


@pytest.fixture
def own_app_database():
    """An embedded PostgreSQL of this test's own, so it can be stopped and started again."""
    # not pytest's tmp_path: its root is mode 0700, which the embedded server's own system user can't traverse
    root = Path(tempfile.mkdtemp(prefix="nl2sql-fault-"))
    server = EmbeddedPostgres(root)
    url = server.start()
    holder = {"server": server}

    def restart() -> str:
        holder["server"] = EmbeddedPostgres(root)
        return holder["server"].start()

    try:
        yield url, server, restart, root
    finally:
        holder["server"].stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_the_app_database_restarting_mid_run_fails_requests_cleanly_then_recovers(own_app_database):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    url, server, restart, root = own_app_database
    app = create_app(_settings(url, root / "data"), chat_model=FakeChatModel([COUNT_SQL]))
    prefix = f"fault-{uuid.uuid4().hex[:6]}-"
    sent = 0
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        auth = app.state.auth
        admin = await auth.create_user("ops@example.com", "ops password 1234", role="admin")
        key = (await auth.create_api_key(admin, name="fault")).key
        await app.state.catalog.create_connection(admin, "shop", _shop(root / "shop.db"))
        assert (await app.state.catalog.sync_now(admin, "shop")).error is None

        async def call(method: str, path: str, **kwargs):
            nonlocal sent
            sent += 1
            headers = bearer(key) | {"X-Request-ID": f"{prefix}{sent}"}
            return await client.request(method, path, headers=headers, **kwargs)

        asked = await call("POST", "/api/v1/ask", json={"question": "How many items?", "connection": "shop"})
        assert asked.status_code == 200, asked.text
        assert (await call("GET", "/api/v1/connections")).status_code == 200
        server.stop()  # the app database goes away, the asked question's records perhaps still in the buffer
        try:
            for path in ("/api/v1/connections", "/api/v1/answers", "/api/v1/me"):
                down = await call("GET", path)
                assert down.status_code == 503, (path, down.status_code, down.text)
                assert "app database" in down.json()["detail"] and "Traceback" not in down.text
            page = await client.get("/ask", headers={"Cookie": "nl2sql_session=whatever"})
            assert page.status_code == 503 and "app database" in page.text
            assert (await client.get("/healthz")).status_code == 200  # the process is alive
            assert (await client.get("/readyz")).status_code == 503
        finally:
            assert restart() == url
        for _ in range(50):  # the pool notices the new server on the next checkout
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        again = await call("POST", "/api/v1/ask", json={"question": "How many items, again?", "connection": "shop"})
        assert again.status_code == 200, again.text
        assert (await call("GET", "/api/v1/connections")).status_code == 200
        assert await app.state.gateway.recorder.flush(timeout=20)
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        requests = conn.scalar(sa.text("SELECT count(*) FROM gateway_requests WHERE trace_id LIKE :p"),
                               {"p": prefix + "%"})
        calls = conn.scalar(sa.text("SELECT count(*) FROM gateway_model_calls WHERE trace_id LIKE :p"),
                            {"p": prefix + "%"})
    engine.dispose()
    assert requests == sent  # the ones made while it was down included: kept in memory and written after
    assert calls >= 2  # both questions' model calls


class Proxy:
    """A TCP forwarder in front of a database, which the test can take down, make hang, or bring back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "up"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "down":
                client.close()
                continue
            self._open.append(client)
            if self.mode == "hang":
                continue  # accepted, never answered
            upstream = socket.create_connection(self.target)
            self._open.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def set(self, mode: str) -> None:
        self.mode = mode
        if mode != "up":  # the connections in the pool die with it
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._open.clear()

    def close(self) -> None:
        self.set("down")
        self._listener.close()


@pytest.fixture
def pg_items():
    name = f"fault_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE items (id serial PRIMARY KEY, name text)"))
        conn.execute(sa.text("INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 20) g"))
    engine.dispose()
    proxy = Proxy(("127.0.0.1", 5432))
    try:
        yield f"postgresql://postgres:pw@127.0.0.1:{proxy.port}/{name}", proxy
    finally:
        proxy.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def test_a_customer_database_down_hanging_or_slow_gets_a_clear_error_and_the_pool_recovers(
        settings, pg_items, tmp_path):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from tests.conftest import with_section

    url, proxy = pg_items
    slow = ("SELECT COUNT(*) AS n FROM items a, items b, items c, items d, items e, items f "
            "WHERE a.name || b.name || c.name || d.name || e.name || f.name LIKE '%zzz%'")
    replies = {"sql": COUNT_SQL}
    model = FakeChatModel([lambda prompt: replies["sql"]])
    configured = _settings(settings.database.url, tmp_path / "data", connect_timeout=2, query_timeout=2)
    app = create_app(with_section(configured, server=settings.server), chat_model=model)
    async with AsyncTestClient(app=app, base_url="http://testserver.local", timeout=60) as client:
        auth = app.state.auth
        admin = await auth.create_user("ops@example.com", "ops password 1234", role="admin")
        key = bearer((await auth.create_api_key(admin, name="fault")).key)
        await app.state.catalog.create_connection(admin, "items", url)
        assert (await app.state.catalog.sync_now(admin, "items")).error is None

        async def ask(question: str):
            return await client.post("/api/v1/ask", json={"question": question, "connection": "items"}, headers=key)

        assert (await ask("How many items?")).status_code == 200
        for mode in ("down", "hang"):
            proxy.set(mode)
            failed = await ask(f"How many items now ({mode})?")
            assert failed.status_code in (502, 503, 504), (mode, failed.status_code, failed.text)
            assert "Traceback" not in failed.text and failed.json()["detail"], failed.text
            assert (await client.get("/healthz")).status_code == 200
            proxy.set("up")
            back = await ask(f"How many items, back from {mode}?")
            assert back.status_code == 200, (mode, back.text)
        replies["sql"] = slow
        timed_out = await ask("Which items match across every combination?")
        assert timed_out.status_code in (408, 422, 504), timed_out.text
        assert "ran longer than" in timed_out.json()["detail"], timed_out.text
        replies["sql"] = COUNT_SQL
        assert (await ask("How many items after the slow one?")).status_code == 200


@pytest.mark.parametrize("backend", ["down", "garbage"])
async def test_a_model_server_down_or_answering_garbage_gets_a_clear_bounded_error(settings, tmp_path, backend):
    """The openai backend pointed at nothing listening, or at a server answering noise: the question ends in a
    clear error after a bounded number of attempts, recorded in history, and the reader's answers still come."""
    from dataclasses import replace
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from tests.conftest import with_section

    calls = []

    class Noise(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self._send(b'{"data": [{"id": "noise"}]}')

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            calls.append(self.path)
            self._send(b'{"choices": [{"message": {"content": "\\u0000%%%% not sql at all \\ud83d"}}]')

        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    if backend == "garbage":
        noise = ThreadingHTTPServer(("127.0.0.1", 0), Noise)
        threading.Thread(target=noise.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{noise.server_address[1]}/v1"
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base_url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # nothing listens there once closed
    inference = replace(settings.inference, backend="openai", base_url=base_url, retries=1, request_timeout=10)
    configured = with_section(_settings(settings.database.url, tmp_path / "data"), server=settings.server,
                              inference=inference, engine=EngineSettings(answer_cache=0))
    app = create_app(configured)
    try:
        async with AsyncTestClient(app=app, base_url="http://testserver.local", timeout=60) as client:
            auth = app.state.auth
            admin = await auth.create_user("ops@example.com", "ops password 1234", role="admin")
            key = bearer((await auth.create_api_key(admin, name="fault")).key)
            await app.state.catalog.create_connection(admin, "shop", _shop(tmp_path / "shop.db"))
            assert (await app.state.catalog.sync_now(admin, "shop")).error is None
            failed = await client.post("/api/v1/ask", json={"question": "qqq zzz xyzzy plugh", "connection": "shop"},
                                       headers=key)
            assert failed.status_code in (422, 502, 503), failed.text
            body = failed.json()
            assert body["detail"] and "Traceback" not in failed.text
            assert len(body.get("attempts") or []) <= 3  # repair is bounded
            if backend == "garbage":
                assert 1 <= len(calls) <= 6, calls
            history = await client.get("/api/v1/answers", headers=key)
            assert history.status_code == 200 and history.json()  # the failed question is in history
            read = await client.post("/api/v1/ask", json={"question": "How many items are there?",
                                                          "connection": "shop"}, headers=key)
            assert read.status_code == 200 and read.json()["rows"] == [[20]], read.text
            assert read.json()["generator"] == "reader"  # the model failed or wasn't needed: the reading stands
    finally:
        if backend == "garbage":
            noise.shutdown()
            noise.server_close()


def _can_mount() -> bool:
    import os
    import subprocess

    if os.geteuid() != 0:
        return False
    probe = Path(tempfile.mkdtemp(prefix="nl2sql-mount-probe-", dir="/var/tmp"))
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
        if done.returncode == 0:
            subprocess.run(["umount", str(probe)])
        return done.returncode == 0
    finally:
        probe.rmdir()


@pytest.mark.skipif(not _can_mount(), reason="needs root to mount a small tmpfs as the data dir")
async def test_a_full_data_dir_gets_a_clear_error_and_recovers_when_space_is_freed():
    """The embedded database's data dir on a small filesystem, filled up: a write answers 507 saying the disk is
    full, reads and the health check still answer, nothing is lost from the records, and freeing space is enough."""
    import subprocess

    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    root = Path(tempfile.mkdtemp(prefix="nl2sql-full-", dir="/var/tmp"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160m,mode=0755", "tmpfs", str(root)], check=True)
    prefix, sent = f"full-{uuid.uuid4().hex[:6]}-", 0
    try:
        app = create_app(_settings(None, root / "data"))
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            auth = app.state.auth
            admin = await auth.create_user("ops@example.com", "ops password 1234", role="admin")
            key = bearer((await auth.create_api_key(admin, name="full")).key)

            async def call(method: str, path: str, **kwargs):
                nonlocal sent
                sent += 1
                return await client.request(method, path, headers=key | {"X-Request-ID": f"{prefix}{sent}"}, **kwargs)

            filler = root / "filler"
            with filler.open("wb") as f:
                with pytest.raises(OSError):
                    while True:
                        f.write(b"\0" * (1 << 20))
                        f.flush()
            refused = None
            for i in range(500):  # PostgreSQL has free room in its pages and WAL: it fills up after some writes
                made = await call("POST", "/api/v1/users", json={"email": f"u{i}@example.com", "display_name": "x" * 200,
                                                                 "password": "long password 123"})
                if made.status_code != 201:
                    refused = made
                    break
            assert refused is not None and refused.status_code == 507, refused and refused.text
            assert "out of disk space" in refused.json()["detail"] and "NL2SQL_DATA_DIR" in refused.json()["detail"]
            assert (await call("GET", "/api/v1/connections")).status_code == 200
            assert (await client.get("/healthz")).status_code == 200
            filler.unlink()
            again = await call("POST", "/api/v1/users", json={"email": "after@example.com",
                                                              "password": "long password 123"})
            assert again.status_code == 201, again.text
            assert await app.state.gateway.recorder.flush(timeout=20)
            engine = sa.create_engine(sync_url(app.state.db.url), poolclass=sa.pool.NullPool)
            with engine.connect() as conn:
                written = conn.scalar(sa.text("SELECT count(*) FROM gateway_requests WHERE trace_id LIKE :p"),
                                      {"p": prefix + "%"})
            engine.dispose()
            assert written == sent  # kept in memory while the disk was full, written once there was room
    finally:
        subprocess.run(["umount", "-l", str(root)])
        shutil.rmtree(root, ignore_errors=True)
