"""Records off the request path: a bounded in-memory buffer drained in batches by a background writer."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from nl2sql.gateway.models import ModelCallRow, RequestRow

log = logging.getLogger("nl2sql.gateway")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP request as it is stored."""

    trace_id: str
    at: datetime
    user_id: int | None
    api_key_id: int | None
    client_addr: str | None
    method: str
    route: str
    status: int
    duration_ms: float
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class ModelCallRecord:
    """One model call as it is stored; prompt/completion are None unless bodies are stored."""

    id: uuid.UUID
    trace_id: str | None
    at: datetime
    user_id: int | None
    api_key_id: int | None
    connection: str | None
    purpose: str
    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    queue_ms: float | None
    ttft_ms: float | None
    duration_ms: float
    tokens_per_s: float
    finish_reason: str | None
    status: str
    error: str | None = None
    prompt: str | None = None
    completion: str | None = None


Record = RequestRecord | ModelCallRecord


class RecordStore(Protocol):
    """Where batches of records go."""

    async def write(self, requests: Sequence[RequestRecord], calls: Sequence[ModelCallRecord]) -> None: ...


class SqlRecordStore:
    """Writes batches into the app database, one transaction per batch (executemany)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def write(self, requests: Sequence[RequestRecord], calls: Sequence[ModelCallRecord]) -> None:
        async with self._engine.begin() as conn:
            if requests:
                await conn.execute(sa.insert(RequestRow.__table__), [_row(r) for r in requests])
            if calls:
                # a retried batch whose first attempt did commit must not duplicate calls
                stmt = sa.dialects.postgresql.insert(ModelCallRow.__table__).on_conflict_do_nothing(index_elements=["id"])
                await conn.execute(stmt, [_row(c) for c in calls])


class MemoryRecordStore:
    """Keeps written records in lists; `fail` makes writes raise (an outage) until cleared."""

    def __init__(self) -> None:
        self.requests: list[RequestRecord] = []
        self.calls: list[ModelCallRecord] = []
        self.fail: Exception | None = None

    async def write(self, requests: Sequence[RequestRecord], calls: Sequence[ModelCallRecord]) -> None:
        if self.fail is not None:
            raise self.fail
        self.requests.extend(requests)
        self.calls.extend(calls)


def _row(record: Record) -> dict:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


@dataclass(frozen=True, slots=True)
class RecorderStats:
    buffered: int
    written: int
    dropped: int
    write_failures: int
    capacity: int


class Recorder:
    """Accepts records without waiting; a background task writes them in batches and retries with backoff."""

    def __init__(
        self,
        store: RecordStore,
        *,
        capacity: int = 50000,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self._store = store
        self._buffer: deque[Record] = deque()
        self.capacity = capacity
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None
        self._closing = False
        self.written = 0
        self.dropped = 0
        self.write_failures = 0
        self._last_drop_log = 0.0
        self._drops_unlogged = 0

    def record(self, record: Record) -> None:
        """Queue a record; never blocks and never raises. A full buffer counts (and logs) the drop."""
        if len(self._buffer) >= self.capacity:
            self.dropped += 1
            self._drops_unlogged += 1
            now = time.monotonic()
            if now - self._last_drop_log >= 10 or self.dropped == 1:
                log.error(
                    "gateway record buffer full (%d): dropped %d record(s), %d in total",
                    self.capacity,
                    self._drops_unlogged,
                    self.dropped,
                )
                self._last_drop_log = now
                self._drops_unlogged = 0
            return
        self._buffer.append(record)
        self._idle.clear()
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def stats(self) -> RecorderStats:
        return RecorderStats(len(self._buffer), self.written, self.dropped, self.write_failures, self.capacity)

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="nl2sql-gateway-recorder")

    async def flush(self, timeout: float = 10.0) -> bool:
        """Write what is buffered now; True when the buffer emptied within `timeout` seconds."""
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def close(self, timeout: float = 5.0) -> None:
        """Write what is left (for up to `timeout` seconds), then stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        except Exception:  # the writer's own failure has been logged; shutting down goes on
            log.exception("gateway recorder stopped with an error")
        self._task = None
        if self._buffer:
            log.error("gateway recorder stopped with %d record(s) unwritten", len(self._buffer))

    async def _run(self) -> None:
        backoff = self._backoff_initial
        while True:
            if not self._buffer:
                self._idle.set()
                if self._closing:
                    return
            try:
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            while self._buffer:
                batch = list(islice(self._buffer, self._batch_size))
                requests = [r for r in batch if isinstance(r, RequestRecord)]
                calls = [r for r in batch if isinstance(r, ModelCallRecord)]
                try:
                    await self._store.write(requests, calls)
                except Exception as exc:  # any store failure: keep the records, wait, retry
                    self.write_failures += 1
                    log.warning(
                        "gateway could not write %d record(s), retrying in %.1fs: %s",
                        len(batch),
                        backoff,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    )
                    # while closing, close()'s timeout decides when to give up
                    try:
                        await asyncio.wait_for(self._wake.wait(), backoff)
                    except TimeoutError:
                        pass
                    self._wake.clear()
                    backoff = min(backoff * 2, self._backoff_max)
                    continue
                backoff = self._backoff_initial
                for _ in batch:
                    self._buffer.popleft()
                self.written += len(batch)
