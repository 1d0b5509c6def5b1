"""MCP fixtures: the app with the demo database served over real HTTP (uvicorn in a thread), its users and API keys,
and the official SDK's client over streamable HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import (
    AuthSettings, CatalogSettings, DatabaseSettings, McpSettings, RetrievalSettings, ServerSettings, Settings,
)
from tests.browser.conftest import LiveServer
from tests.conftest import TEMPLATE_DB


@dataclass
class Served:
    """A running app: its address, fake model, and the users' keys (analyst: granted the demo; stranger: no grant;
    revoked: a revoked key of the analyst's)."""

    url: str
    model: FakeChatModel
    settings: Settings
    admin_key: str = ""
    analyst_key: str = ""
    stranger_key: str = ""
    revoked_key: str = ""
    admin_id: int = 0
    analyst_id: int = 0
    stranger_id: int = 0


def mcp_settings(db_url: str, data_dir: Path, **mcp) -> Settings:
    return Settings(
        server=ServerSettings(secret_key=Fernet.generate_key().decode()),
        database=DatabaseSettings(url=db_url, data_dir=data_dir, pool_size=4),
        auth=AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1),
        catalog=CatalogSettings(demo=True),
        retrieval=RetrievalSettings(embedding_load_at_start=False),
        mcp=McpSettings(**mcp),
    )


async def add_users(served: Served) -> None:
    """Admin, analyst (granted the demo), stranger (no grant), each with a key; a revoked key of the analyst's."""
    from nl2sql.auth import AuthService
    from nl2sql.catalog import CatalogService
    from nl2sql.db import AppDatabase

    settings = served.settings
    db = AppDatabase(settings.database.url, settings.database.data_dir)
    db.open(migrate=False)
    try:
        auth = AuthService(db.sessions, settings.auth)
        admin = await auth.create_user("root@example.com", "root password 1234", role="admin")
        analyst = await auth.create_user("ann@example.com", "analyst password 1234", role="analyst")
        stranger = await auth.create_user("sam@example.com", "stranger password 1234", role="analyst")
        catalog = CatalogService(db.sessions, settings.catalog, settings.server.secret_key)
        await catalog.set_grants(admin, "demo", [analyst.id])
        catalog.close()
        served.admin_key = (await auth.create_api_key(admin, name="assistant")).key
        served.analyst_key = (await auth.create_api_key(analyst, name="assistant")).key
        served.stranger_key = (await auth.create_api_key(stranger, name="assistant")).key
        revoked = await auth.create_api_key(analyst, name="old laptop")
        await auth.revoke_api_key(analyst, revoked.api_key.id)
        served.revoked_key = revoked.key
        served.admin_id, served.analyst_id, served.stranger_id = admin.id, analyst.id, stranger.id
    finally:
        await db.close()


@asynccontextmanager
async def serve(settings: Settings, model: FakeChatModel | None = None) -> AsyncIterator[Served]:
    model = model or FakeChatModel(["not SQL at all"])
    with LiveServer(create_app(settings, chat_model=model)) as server:
        served = Served(server.url, model, settings)
        await add_users(served)
        yield served


@pytest.fixture(scope="module")
async def served(pg_admin_url, template_db_url, tmp_path_factory) -> AsyncIterator[Served]:
    """One app for the module's tests (starting one with the demo takes seconds): tests change only their own
    users' limits."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"t_mcp_{id(tmp_path_factory):x}"
    engine = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        async with serve(mcp_settings(url, tmp_path_factory.mktemp("mcp") / "data")) as running:
            yield running
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@asynccontextmanager
async def mcp_client(url: str, key: str | None, *, mode: str = "legacy") -> AsyncIterator[Client]:
    """The SDK's client on `url`/mcp over streamable HTTP, sending `key` as a bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with create_mcp_http_client(headers=headers) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client:
            yield client


def with_mcp(settings: Settings, **mcp) -> Settings:
    return replace(settings, mcp=McpSettings(**mcp))


async def refusal(url: str, key: str | None) -> str:
    """The message of the MCPError a client meets connecting with `key` and listing tools (the SDK raises it inside
    its task groups' exception groups)."""
    from mcp import MCPError

    try:
        async with mcp_client(url, key) as client:
            await client.list_tools()
    except BaseException as error:  # noqa: BLE001 - unwrapped below; anything else fails the test
        found = _first(error, MCPError)
        if found is None:
            raise
        return found.error.message
    raise AssertionError(f"the key {key!r} was let in")


def _first(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    if isinstance(error, kind):
        return error
    for inner in getattr(error, "exceptions", ()):
        found = _first(inner, kind)
        if found is not None:
            return found
    return None
