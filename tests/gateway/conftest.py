"""Gateway fixtures: read the records the app wrote, straight from its database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa


@pytest.fixture
def app_sql(app_db_url: str) -> Iterator[sa.Engine]:
    """A synchronous engine on this test's app database, for assertions."""
    engine = sa.create_engine(app_db_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def rows(engine: sa.Engine, sql: str, **params) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


async def flushed(client) -> None:
    """Wait until every buffered record is in the database."""
    assert await client.app.state.gateway.recorder.flush(timeout=10)
