"""Gateway: the recorder, metrics, quotas and retention of one process, built once by app.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.errors import RateLimitedError
from nl2sql.gateway.chat import LoggedChatModel
from nl2sql.gateway.metrics import Metrics
from nl2sql.gateway.models import ModelCallRow, RequestRow
from nl2sql.gateway.quotas import Clock, Quotas
from nl2sql.gateway.recorder import ModelCallRecord, Recorder, RecordStore, RequestRecord
from nl2sql.gateway.usage import FeedbackCounter, UsageReports
from nl2sql.inference import ChatModel
from nl2sql.settings import GatewaySettings

log = logging.getLogger("nl2sql.gateway")


@dataclass(frozen=True)
class PurgeResult:
    """What one retention run deleted."""

    bodies_cleared: int
    requests_deleted: int
    model_calls_deleted: int
    counters_deleted: int


class Gateway:
    """Records requests and model calls, enforces quotas, exposes metrics and deletes what retention says."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: GatewaySettings,
        store: RecordStore,
        *,
        clock: Clock | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        feedback_counter: FeedbackCounter | None = None,
    ) -> None:
        """`feedback_counter` counts answers' thumbs for the usage pages (the answers module owns them)."""
        self._sessions = sessions
        self.settings = settings
        self.metrics = Metrics()
        self.recorder = Recorder(
            store,
            capacity=settings.buffer_size,
            batch_size=settings.batch_size,
            flush_seconds=settings.flush_seconds,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
        )
        self.quotas = Quotas(sessions, settings, clock=clock, metrics=self.metrics)
        self.reports = UsageReports(sessions, feedback_counter)
        self.model: ChatModel | None = None

    def start(self) -> None:
        self.recorder.start()

    async def close(self) -> None:
        await self.recorder.close()

    def wrap(self, inner: ChatModel) -> LoggedChatModel:
        """The model every module should use: `inner` with quotas and recording around each call (/metrics
        reports its queue depth and slots)."""
        self.model = LoggedChatModel(inner, self)
        return self.model

    # the ledger a LoggedChatModel writes to ------------------------------------------------------

    @property
    def store_bodies(self) -> bool:
        return self.settings.store_bodies

    async def check_tokens(self, user_id: int | None, key_id: int | None) -> None:
        await self.quotas.check_tokens(user_id, key_id)

    async def add_tokens(self, user_id: int | None, key_id: int | None, tokens: int) -> None:
        await self.quotas.add_tokens(user_id, key_id, tokens)

    def record_request(self, record: RequestRecord, seconds: float) -> None:
        self.metrics.observe_request(record.method, record.route, record.status, seconds)
        self.recorder.record(record)

    def record_model_call(self, record: ModelCallRecord) -> None:
        self.metrics.observe_model_call(
            record.backend,
            record.model,
            record.purpose,
            record.status,
            record.prompt_tokens,
            record.completion_tokens,
            record.duration_ms / 1000.0,
        )
        self.recorder.record(record)

    async def hit_request(self, user_id: int, api_key_id: int | None) -> None:
        """Count a request against per-minute limits (RateLimitedError when over); an unreachable DB lets it pass."""
        try:
            await self.quotas.hit_request(user_id, api_key_id)
        except RateLimitedError:
            raise
        except Exception as exc:  # availability first: a database hiccup must not turn into 500s here
            log.warning("rate limit check skipped, app database unavailable: %s", type(exc).__name__)

    def render_metrics(self) -> str:
        model_status = None
        if self.model is not None:
            try:
                model_status = self.model.describe()
            except Exception:  # a backend that can't describe itself just has no queue gauges
                model_status = None
        return self.metrics.render(self.recorder.stats(), model_status)

    async def purge_expired(self, now: datetime | None = None) -> PurgeResult:
        """Clear bodies past their retention, then delete records past theirs, then stale counters; nothing else."""
        now = now or datetime.now(UTC)
        body_cutoff = now - timedelta(days=self.settings.body_retention_days)
        record_cutoff = now - timedelta(days=self.settings.record_retention_days)
        async with self._sessions.begin() as db:
            bodies = await db.execute(
                sa.update(ModelCallRow)
                .where(
                    ModelCallRow.at < body_cutoff,
                    sa.or_(ModelCallRow.prompt.is_not(None), ModelCallRow.completion.is_not(None)),
                )
                .values(prompt=None, completion=None)
            )
        async with self._sessions.begin() as db:
            calls = await db.execute(sa.delete(ModelCallRow).where(ModelCallRow.at < record_cutoff))
            requests = await db.execute(sa.delete(RequestRow).where(RequestRow.at < record_cutoff))
        # counters only matter for the current minute and day
        counters = await self.quotas.purge_counters(now - timedelta(days=2))
        result = PurgeResult(bodies.rowcount or 0, requests.rowcount or 0, calls.rowcount or 0, counters)
        log.info(
            "gateway retention: cleared %d bodies, deleted %d requests, %d model calls, %d counters",
            result.bodies_cleared,
            result.requests_deleted,
            result.model_calls_deleted,
            result.counters_deleted,
        )
        return result
