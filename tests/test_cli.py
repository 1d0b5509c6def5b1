"""The `nl2sql` command, run as a user would: subprocesses against real databases."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.support import CSRF_INPUT

NL2SQL = str(Path(sys.executable).parent / "nl2sql")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")}
    return env | {"HF_HUB_OFFLINE": "1", "NL2SQL_ARGON2_MEMORY_KIB": "1024", "NL2SQL_ARGON2_TIME_COST": "1"} | extra


def _run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([NL2SQL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def test_users_create_and_api_keys_create_against_a_configured_database(app_db_url):
    env = _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=Fernet.generate_key().decode())
    made = _run(["users", "create", "--admin", "--email", "Root@Example.com"], env, stdin="root password 1234\n")
    assert made.returncode == 0, made.stderr
    assert "created admin root@example.com" in made.stdout
    again = _run(["users", "create", "--email", "root@example.com"], env, stdin="root password 1234\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    key = _run(["api-keys", "create", "--user", "root@example.com", "--name", "setup"], env)
    assert key.returncode == 0 and key.stdout.startswith("nl2sql_")
    short = _run(["users", "create", "--email", "x@example.com"], env, stdin="short\n")
    assert short.returncode == 2 and "at least 12" in short.stderr


def test_invalid_setting_stops_the_start_with_one_line(tmp_path):
    result = _run(["serve"], _env(NL2SQL_PORT="eighty", NL2SQL_DATA_DIR=str(tmp_path)))
    assert result.returncode == 2
    assert result.stderr.strip() == "nl2sql: error: NL2SQL_PORT must be a whole number, got 'eighty'"


def test_external_database_without_secret_key_stops_the_start(app_db_url, tmp_path):
    result = _run(["serve"], _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_DATA_DIR=str(tmp_path)))
    assert result.returncode == 2
    assert "NL2SQL_SECRET_KEY is required" in result.stderr


def test_unreachable_app_database_is_reported_clearly(tmp_path):
    env = _env(
        NL2SQL_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nl2sql",
        NL2SQL_SECRET_KEY=Fernet.generate_key().decode(),
    )
    result = _run(["db", "current"], env)
    assert result.returncode == 2
    assert "cannot reach the app database" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_without_pgvector_names_what_is_missing(tmp_path):
    import sqlalchemy as sa

    # the machine's PostgreSQL 15 has no pgvector: the start must say exactly that
    name = f"nl2sql_cli_novector_{os.getpid()}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            has_vector = conn.scalar(sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"))
            if has_vector:
                pytest.skip("this PostgreSQL has pgvector")
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        env = _env(
            NL2SQL_DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}",
            NL2SQL_SECRET_KEY=Fernet.generate_key().decode(),
        )
        result = _run(["db", "upgrade"], env)
        assert result.returncode == 2
        assert "lacks the pgvector extension `vector`" in result.stderr
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_works_while_serve_runs_on_the_embedded_database():
    """The README's flow: serve on embedded defaults, create an admin with the CLI, log in through the page."""
    import shutil
    import tempfile

    # not pytest's tmp_path: its root is mode 0700, which the embedded server's own system user can't traverse
    tmp_path = Path(tempfile.mkdtemp(prefix="nl2sql-cli-test-"))
    try:
        _serve_and_use_the_cli(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _serve_and_use_the_cli(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(NL2SQL_DATA_DIR=str(tmp_path / "data"), NL2SQL_PORT=str(port))
    server = subprocess.Popen([NL2SQL, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server not ready"
            time.sleep(0.2)
        made = _run(["users", "create", "--admin", "--email", "ops@example.com"], env, stdin="ops password 1234\n")
        assert made.returncode == 0, made.stderr
        assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
        with httpx.Client(base_url=base) as browser:
            token = CSRF_INPUT.search(browser.get("/login").text).group(1)
            response = browser.post(
                "/login", data={"email": "ops@example.com", "password": "ops password 1234", "_csrf_token": token}
            )
            assert response.status_code == 303
            assert browser.get("/account").status_code == 200
        # a backup while it serves; a restore is refused until it stops
        backed = _run(["db", "backup", str(tmp_path / "app.dump")], env)
        assert backed.returncode == 0 and "secret.key" in backed.stdout, backed.stderr
        refused = _run(["db", "restore", str(tmp_path / "app.dump"), "--yes"], env)
        assert refused.returncode == 2 and "serve is running" in refused.stderr
        # the server is still the only PostgreSQL on that data dir and still serving
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    # a clean shutdown stopped the embedded PostgreSQL
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
    # stopped, the backup restores: a user made after it is gone, the one before it is back
    later = _run(["users", "create", "--email", "later@example.com"], env, stdin="later password 1234\n")
    assert later.returncode == 0, later.stderr
    restored = _run(["db", "restore", str(tmp_path / "app.dump"), "--yes"], env)
    assert restored.returncode == 0 and "restored the app database" in restored.stdout, restored.stderr
    assert "already exists" in _run(["users", "create", "--email", "ops@example.com"], env, stdin="x" * 12 + "\n").stderr
    assert _run(["users", "create", "--email", "later@example.com"], env, stdin="later password 1234\n").returncode == 0


def _serve_output(env: dict[str, str], *, terminal: bool, until: str = "nl2sql is ready", timeout: float = 180) -> str:
    """Start `nl2sql serve` with stdout and stderr on a pseudo-terminal (or a pipe), read until `until`, then SIGINT."""
    import pty
    import select

    if terminal:
        parent, child = pty.openpty()
        server = subprocess.Popen([NL2SQL, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=child, stderr=child)
        os.close(child)
        read_fd = parent
    else:
        server = subprocess.Popen([NL2SQL, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        read_fd = server.stdout.fileno()
    out = b""
    try:
        deadline = time.monotonic() + timeout
        while until.encode() not in out:
            assert time.monotonic() < deadline, out.decode(errors="replace")[-3000:]
            ready, _, _ = select.select([read_fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(read_fd, 65536)
                except OSError:  # the pty closes when the child exits
                    chunk = b""
                if not chunk:
                    assert server.poll() is None, out.decode(errors="replace")[-3000:]
                out += chunk
        time.sleep(0.5)  # the lines after the banner
        ready, _, _ = select.select([read_fd], [], [], 0.2)
        if ready:
            out += os.read(read_fd, 65536)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError("serve did not stop within 30 s of SIGINT") from None
        if terminal:
            os.close(read_fd)
    return out.decode(errors="replace")


def _quiet_env(app_db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return _env(
        NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=Fernet.generate_key().decode(),
        NL2SQL_DATA_DIR=str(tmp_path / "data"), NL2SQL_PORT=str(_free_port()), NL2SQL_DEMO="false",
        NL2SQL_EMBEDDING_LOAD_AT_START="false", **extra,
    )


def test_a_terminal_gets_readable_log_lines_and_the_banner(app_db_url, tmp_path):
    out = _serve_output(_quiet_env(app_db_url, tmp_path), terminal=True)
    lines = [line for line in out.replace("\r", "").splitlines() if line.strip()]
    assert not any(line.lstrip().startswith("{") for line in lines), out
    import re

    assert any(re.match(r"\d\d:\d\d:\d\d INFO +\S+ +\S", line) for line in lines), out
    assert "nl2sql is ready: open http://127.0.0.1:" in out
    assert "/setup" in out and "setup token" in out  # no user yet: the banner says how to create the first admin
    token = (tmp_path / "data" / "setup-token").read_text().strip()
    assert token in out


def test_a_pipe_gets_json_lines(app_db_url, tmp_path):
    import json

    # with the embedding model loading at start, so its progress bar would show if it weren't kept quiet
    env = _quiet_env(app_db_url, tmp_path) | {"NL2SQL_EMBEDDING_LOAD_AT_START": "true"}
    out = _serve_output(env, terminal=False, until="embedding model ready")
    logs = [line for line in out.splitlines() if line.startswith("{")]
    assert logs, out
    entries = [json.loads(line) for line in logs]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    # library chatter stays below warning at the default level, and no progress bar interrupts the lines
    assert not [e for e in entries if e["logger"].startswith("procrastinate") and e["level"] == "info"], entries
    assert "Loading weights" not in out and "it/s]" not in out


def test_a_pipe_shows_only_the_products_lines_while_the_embedded_database_starts():
    import json
    import shutil
    import tempfile

    # not pytest's tmp_path: its root is mode 0700, which the embedded server's own system user can't traverse
    root = Path(tempfile.mkdtemp(prefix="nl2sql-pipe-test-"))
    try:
        env = _env(NL2SQL_DATA_DIR=str(root / "data"), NL2SQL_PORT=str(_free_port()), NL2SQL_DEMO="false",
                   NL2SQL_EMBEDDING_LOAD_AT_START="false")
        out = _serve_output(env, terminal=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    # initdb, pg_ctl and uvicorn's start-up lines are debug: not shown at the default level
    assert [e for e in entries if not e["logger"].startswith("nl2sql")] == [], out
    assert "initdb" not in out and "pg_ctl" not in out and "Uvicorn running" not in out
    messages = [e["message"] for e in entries if e["level"] == "info"]
    assert any("starting the embedded PostgreSQL" in m and "first start" in m for m in messages), out
    assert any(m.startswith("app database ready: embedded PostgreSQL") for m in messages), out
    assert "nl2sql is ready: open http://127.0.0.1:" in out


def test_log_format_setting_forces_json_on_a_terminal(app_db_url, tmp_path):
    out = _serve_output(_quiet_env(app_db_url, tmp_path, NL2SQL_LOG_FORMAT="json"), terminal=True)
    assert any(line.startswith("{") and '"level"' in line for line in out.replace("\r", "").splitlines()), out


def test_a_data_dir_that_cannot_be_written_stops_with_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = _env(NL2SQL_DATA_DIR=str(blocker / "data"), NL2SQL_PORT=str(_free_port()))
    for args, says in ((["serve"], "can't hold the secret key"), (["db", "current"], "can't be created")):
        done = subprocess.run([NL2SQL, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert str(blocker / "data") in done.stderr


def test_backup_and_restore_an_external_app_database(app_db_url, tmp_path):
    env = _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=Fernet.generate_key().decode())
    assert _run(["users", "create", "--email", "before@example.com"], env, stdin="before password 1234\n").returncode == 0
    dump = tmp_path / "app.dump"
    backed = _run(["db", "backup", str(dump)], env)
    assert backed.returncode == 0 and "NL2SQL_SECRET_KEY" in backed.stdout, backed.stderr
    assert _run(["users", "create", "--email", "after@example.com"], env, stdin="after password 1234\n").returncode == 0
    unasked = _run(["db", "restore", str(dump)], env, stdin="n\n")  # the question is answered no: nothing changes
    assert unasked.returncode != 0
    assert "already exists" in _run(["users", "create", "--email", "after@example.com"], env, stdin="x" * 12 + "\n").stderr
    restored = _run(["db", "restore", str(dump), "--yes"], env)
    assert restored.returncode == 0, restored.stderr
    assert _run(["users", "create", "--email", "after@example.com"], env, stdin="after password 1234\n").returncode == 0
    assert "already exists" in _run(["users", "create", "--email", "before@example.com"], env, stdin="x" * 12 + "\n").stderr
    missing = _run(["db", "restore", str(tmp_path / "nope.dump"), "--yes"], env)
    assert missing.returncode == 2 and "no backup file" in missing.stderr
