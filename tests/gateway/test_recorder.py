"""The recorder never blocks the request: batches off the path, a bounded buffer, retries after outages."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from nl2sql.db import async_url
from nl2sql.gateway import MemoryRecordStore, Recorder, RequestRecord, SqlRecordStore


def _request(n: int) -> RequestRecord:
    return RequestRecord(
        trace_id=f"trace-{n:08d}",
        at=datetime.now(UTC),
        user_id=None,
        api_key_id=None,
        client_addr="127.0.0.1",
        method="GET",
        route="/healthz",
        status=200,
        duration_ms=1.0,
    )


async def test_records_are_written_in_batches():
    store = MemoryRecordStore()
    recorder = Recorder(store, batch_size=10, flush_seconds=0.05)
    recorder.start()
    for n in range(25):
        recorder.record(_request(n))
    assert await recorder.flush()
    await recorder.close()
    assert [r.trace_id for r in store.requests] == [f"trace-{n:08d}" for n in range(25)]
    assert recorder.stats().written == 25


async def test_full_buffer_counts_and_logs_drops(caplog):
    store = MemoryRecordStore()
    store.fail = ConnectionError("database down")
    recorder = Recorder(store, capacity=5, batch_size=2, flush_seconds=0.01, backoff_initial=0.01, backoff_max=0.02)
    recorder.start()
    with caplog.at_level(logging.ERROR, logger="nl2sql.gateway"):
        for n in range(8):
            recorder.record(_request(n))
    assert recorder.stats().dropped == 3
    assert recorder.stats().buffered == 5
    assert any("buffer full" in message for message in caplog.messages)
    store.fail = None
    assert await recorder.flush()
    await recorder.close()
    assert len(store.requests) == 5


async def test_records_survive_a_store_outage_and_arrive_after_it():
    store = MemoryRecordStore()
    store.fail = ConnectionError("database down")
    recorder = Recorder(store, batch_size=7, flush_seconds=0.01, backoff_initial=0.01, backoff_max=0.05)
    recorder.start()
    for n in range(50):
        recorder.record(_request(n))
    while recorder.stats().write_failures < 3:
        await asyncio.sleep(0.01)
    assert store.requests == []
    store.fail = None
    assert await recorder.flush()
    await recorder.close()
    assert [r.trace_id for r in store.requests] == [f"trace-{n:08d}" for n in range(50)]


@pytest.fixture
def admin_engine(pg_admin_url):
    engine = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def _set_available(admin_engine, database: str, available: bool) -> None:
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(available).lower()}'))
        if not available:
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                {"d": database},
            )


async def test_app_database_outage_loses_no_record_once_it_returns(app_db_url, admin_engine):
    database = make_url(app_db_url).database
    engine = create_async_engine(async_url(app_db_url), pool_pre_ping=True)
    recorder = Recorder(SqlRecordStore(engine), batch_size=20, flush_seconds=0.02, backoff_initial=0.05, backoff_max=0.2)
    recorder.start()
    try:
        for n in range(30):
            recorder.record(_request(n))
        assert await recorder.flush()
        _set_available(admin_engine, database, False)
        try:
            for n in range(30, 130):
                recorder.record(_request(n))
            while recorder.stats().write_failures < 2:
                await asyncio.sleep(0.02)
            assert recorder.stats().buffered == 100
        finally:
            _set_available(admin_engine, database, True)
        assert await recorder.flush(timeout=20)
    finally:
        await recorder.close()
        await engine.dispose()
    check = sa.create_engine(app_db_url, poolclass=sa.pool.NullPool)
    with check.connect() as conn:
        written = [r[0] for r in conn.execute(sa.text("SELECT trace_id FROM gateway_requests ORDER BY trace_id"))]
    check.dispose()
    assert written == [f"trace-{n:08d}" for n in range(130)]
    assert recorder.stats().dropped == 0
