"""Rotating NL2SQL_SECRET_KEY: stored credentials sealed with a previous key still open while it is listed in
NL2SQL_PREVIOUS_SECRET_KEYS, `nl2sql db reseal` moves them all to the current key, and then the old key is not
needed. A credential no listed key opens is a clear error, never a crash."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from nl2sql.catalog import CatalogService
from nl2sql.db import async_url, sync_url
from nl2sql.errors import AppError
from nl2sql.settings import CatalogSettings
from tests.catalog.conftest import PG_PASSWORD
from tests.test_cli import _env, _run

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


async def _catalog(app_db_url: str, key: str, previous: tuple[str, ...] = ()) -> tuple[CatalogService, object]:
    engine = create_async_engine(async_url(app_db_url), pool_size=2)
    return CatalogService(async_sessionmaker(engine, expire_on_commit=False), CatalogSettings(demo=False), key,
                          previous_keys=previous), engine


async def _url_of(app_db_url: str, key: str, previous: tuple[str, ...] = ()) -> str:
    service, engine = await _catalog(app_db_url, key, previous)
    try:
        connection = await service.get_connection("shop")
        return (await service._url(connection.id)).render_as_string(hide_password=False)
    finally:
        service.close()
        await engine.dispose()


async def test_rotate_the_secret_key_and_reseal(app_db_url, pg_shop):
    service, engine = await _catalog(app_db_url, OLD)
    await service.create_connection(None, "shop", pg_shop)
    service.close()
    await engine.dispose()
    assert PG_PASSWORD in await _url_of(app_db_url, OLD)
    with pytest.raises(AppError, match="can't be decrypted"):
        await _url_of(app_db_url, NEW)  # the new key alone: the old credentials don't open
    assert PG_PASSWORD in await _url_of(app_db_url, NEW, (OLD,))  # during the rotation they do

    refused = _run(["db", "reseal"], _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=NEW))
    assert refused.returncode == 2 and "NL2SQL_PREVIOUS_SECRET_KEYS" in refused.stderr, refused.stderr
    done = _run(["db", "reseal"], _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=NEW,
                                       NL2SQL_PREVIOUS_SECRET_KEYS=f"{Fernet.generate_key().decode()}, {OLD}"))
    assert done.returncode == 0 and "1 connection(s)" in done.stdout, done.stderr
    assert PG_PASSWORD in await _url_of(app_db_url, NEW)  # the old key is no longer needed
    with pytest.raises(AppError, match="can't be decrypted"):
        await _url_of(app_db_url, OLD)
    engine = sa.create_engine(sync_url(app_db_url))
    with engine.connect() as conn:
        stored = conn.scalar(sa.text("SELECT url_encrypted FROM catalog_connections WHERE name = 'shop'"))
        audited = conn.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action = 'catalog.credentials.reseal'"))
    engine.dispose()
    assert PG_PASSWORD not in stored and audited == 1


def test_a_previous_key_that_is_not_a_key_stops_the_start(app_db_url):
    bad = _run(["db", "reseal"], _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=NEW,
                                      NL2SQL_PREVIOUS_SECRET_KEYS="not-a-key"))
    assert bad.returncode == 2 and "NL2SQL_PREVIOUS_SECRET_KEYS must hold Fernet keys" in bad.stderr, bad.stderr
