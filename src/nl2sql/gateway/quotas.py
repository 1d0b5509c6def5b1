"""Rate limits (requests per minute) and token quotas (per UTC day) per user and API key, counted in the app DB."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql import audit
from nl2sql.errors import NotFoundError, RateLimitedError, ValidationFailed
from nl2sql.gateway.metrics import Metrics
from nl2sql.gateway.models import CounterRow, QuotaRow
from nl2sql.settings import GatewaySettings

SubjectKind = Literal["user", "key"]
REQUESTS = "req"
TOKENS = "tok"


class Clock(Protocol):
    """Where "now" comes from; windows are computed from it."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        # the start of the current real minute: the hourly retention job purges counters by the real clock, so
        # a clock set months back would see its counters deleted under it
        self._now = start or datetime.now(UTC).replace(second=0, microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


def subject(kind: SubjectKind, subject_id: int) -> str:
    return f"{kind}:{subject_id}"


def minute_window(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def day_window(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class QuotaOverride:
    """An admin's limits for one user or key; None means the default applies."""

    subject_kind: str
    subject_id: int
    requests_per_minute: int | None
    tokens_per_day: int | None
    updated_at: datetime
    updated_by: int | None


@dataclass(frozen=True)
class QuotaStatus:
    """Where one user (or key) stands now; limits of 0 mean no limit."""

    subject_kind: str
    subject_id: int
    requests_this_minute: int
    requests_per_minute: int
    tokens_today: int
    tokens_per_day: int
    tokens_left: int | None = None  # None: no quota

    def __post_init__(self) -> None:
        if self.tokens_per_day:
            object.__setattr__(self, "tokens_left", max(0, self.tokens_per_day - self.tokens_today))


class Quotas:
    """Counts requests and tokens per subject and window with atomic upserts shared by every container."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: GatewaySettings,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self.clock = clock or SystemClock()
        self._metrics = metrics

    def _default(self, kind: SubjectKind, counter: str) -> int:
        s = self._settings
        if counter == REQUESTS:
            return s.requests_per_minute if kind == "user" else s.key_requests_per_minute
        return s.tokens_per_day if kind == "user" else s.key_tokens_per_day

    @staticmethod
    def _subjects(user_id: int | None, api_key_id: int | None) -> list[tuple[SubjectKind, int]]:
        found: list[tuple[SubjectKind, int]] = []
        if user_id is not None:
            found.append(("user", user_id))
        if api_key_id is not None:
            found.append(("key", api_key_id))
        return found

    async def hit_request(self, user_id: int | None, api_key_id: int | None) -> None:
        """Count one request; raise RateLimitedError when a subject is over its per-minute limit."""
        subjects = self._subjects(user_id, api_key_id)
        if not subjects:
            return
        now = self.clock.now()
        window = minute_window(now)
        up = (
            insert(CounterRow)
            .values([{"subject": subject(k, i), "kind": REQUESTS, "window_start": window, "count": 1} for k, i in subjects])
            .on_conflict_do_update(
                index_elements=["subject", "kind", "window_start"], set_={"count": CounterRow.count + 1}
            )
            .returning(CounterRow.subject, CounterRow.count)
            .cte("up")
        )
        stmt = sa.select(up.c.subject, up.c["count"], QuotaRow.requests_per_minute).outerjoin(
            QuotaRow, QuotaRow.subject == up.c.subject
        )
        async with self._sessions.begin() as db:
            rows = (await db.execute(stmt)).all()
        counts = {row[0]: (row[1], row[2]) for row in rows}
        for kind, ident in subjects:
            count, override = counts[subject(kind, ident)]
            limit = override if override is not None else self._default(kind, REQUESTS)
            if limit and count > limit:
                if self._metrics is not None:
                    self._metrics.observe_rate_limited(f"{kind}_requests_per_minute")
                wait = math.ceil((window + timedelta(minutes=1) - now).total_seconds())
                who = "your account" if kind == "user" else "this API key"
                raise RateLimitedError(
                    f"rate limit reached: {who} may make {limit} requests per minute; try again in {max(1, wait)} s",
                    retry_after=wait,
                    extra={"limit": limit, "window": "minute", "subject": kind},
                )

    async def check_tokens(self, user_id: int | None, api_key_id: int | None) -> None:
        """Raise RateLimitedError when a subject has used up its tokens for today."""
        subjects = self._subjects(user_id, api_key_id)
        if not subjects:
            return
        now = self.clock.now()
        window = day_window(now)
        for status in await self._statuses(subjects, now):
            if status.tokens_per_day and status.tokens_today >= status.tokens_per_day:
                if self._metrics is not None:
                    self._metrics.observe_rate_limited(f"{status.subject_kind}_tokens_per_day")
                wait = math.ceil((window + timedelta(days=1) - now).total_seconds())
                who = "your account" if status.subject_kind == "user" else "this API key"
                raise RateLimitedError(
                    f"token quota used up: {who} may use {status.tokens_per_day} model tokens per day "
                    f"({status.tokens_today} used); it resets at 00:00 UTC",
                    retry_after=wait,
                    extra={"limit": status.tokens_per_day, "used": status.tokens_today, "window": "day"},
                )

    async def add_tokens(self, user_id: int | None, api_key_id: int | None, tokens: int) -> None:
        """Count model tokens used now against today's quotas."""
        subjects = self._subjects(user_id, api_key_id)
        if not subjects or tokens <= 0:
            return
        window = day_window(self.clock.now())
        values = insert(CounterRow).values(
            [{"subject": subject(k, i), "kind": TOKENS, "window_start": window, "count": tokens} for k, i in subjects]
        )
        stmt = values.on_conflict_do_update(
            index_elements=["subject", "kind", "window_start"],
            set_={"count": CounterRow.count + values.excluded["count"]},
        )
        async with self._sessions.begin() as db:
            await db.execute(stmt)

    async def status(self, kind: SubjectKind, subject_id: int) -> QuotaStatus:
        """Requests this minute and tokens today against the limits that apply."""
        return (await self._statuses([(kind, subject_id)], self.clock.now()))[0]

    async def _statuses(self, subjects: list[tuple[SubjectKind, int]], now: datetime) -> list[QuotaStatus]:
        names = [subject(k, i) for k, i in subjects]
        minute, day = minute_window(now), day_window(now)
        async with self._sessions() as db:
            counters = (
                await db.execute(
                    sa.select(CounterRow.subject, CounterRow.kind, CounterRow.count).where(
                        CounterRow.subject.in_(names),
                        sa.or_(
                            sa.and_(CounterRow.kind == REQUESTS, CounterRow.window_start == minute),
                            sa.and_(CounterRow.kind == TOKENS, CounterRow.window_start == day),
                        ),
                    )
                )
            ).all()
            overrides = {
                row.subject: row
                for row in (await db.execute(sa.select(QuotaRow).where(QuotaRow.subject.in_(names)))).scalars()
            }
        counts = {(row[0], row[1]): row[2] for row in counters}
        result = []
        for kind, ident in subjects:
            name = subject(kind, ident)
            override = overrides.get(name)
            rpm = override.requests_per_minute if override and override.requests_per_minute is not None else None
            tpd = override.tokens_per_day if override and override.tokens_per_day is not None else None
            result.append(
                QuotaStatus(
                    subject_kind=kind,
                    subject_id=ident,
                    requests_this_minute=counts.get((name, REQUESTS), 0),
                    requests_per_minute=rpm if rpm is not None else self._default(kind, REQUESTS),
                    tokens_today=counts.get((name, TOKENS), 0),
                    tokens_per_day=tpd if tpd is not None else self._default(kind, TOKENS),
                )
            )
        return result

    async def overrides(self) -> list[QuotaOverride]:
        async with self._sessions() as db:
            rows = (await db.execute(sa.select(QuotaRow).order_by(QuotaRow.subject))).scalars().all()
        return [_override(row) for row in rows]

    async def set_override(
        self,
        actor,
        kind: str,
        subject_id: int,
        *,
        requests_per_minute: int | None,
        tokens_per_day: int | None,
    ) -> QuotaOverride:
        """Set (or, with both None, remove) the limits of one user or key; audited."""
        if kind not in ("user", "key"):
            raise ValidationFailed("a quota applies to a `user` or a `key`")
        for label, value in (("requests per minute", requests_per_minute), ("tokens per day", tokens_per_day)):
            if value is not None and value < 0:
                raise ValidationFailed(f"{label} must be 0 (no limit) or more, got {value}")
        name = subject(kind, subject_id)
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            row = await db.get(QuotaRow, name)
            before = _audit_view(row)
            if requests_per_minute is None and tokens_per_day is None:
                if row is None:
                    raise NotFoundError(f"no quota override for {kind} {subject_id}")
                await db.delete(row)
                result = QuotaOverride(kind, subject_id, None, None, now, actor.id)
            else:
                if row is None:
                    row = QuotaRow(subject=name)
                    db.add(row)
                row.requests_per_minute = requests_per_minute
                row.tokens_per_day = tokens_per_day
                row.updated_at = now
                row.updated_by = actor.id
                result = _override(row)
            audit.record(
                db,
                actor_id=actor.id,
                actor_email=actor.email,
                action="gateway.quota",
                target=name,
                before=before,
                after=_audit_view(row) if requests_per_minute is not None or tokens_per_day is not None else None,
            )
        return result

    async def purge_counters(self, before: datetime) -> int:
        """Delete counter rows of windows that started before `before`."""
        async with self._sessions.begin() as db:
            result = await db.execute(sa.delete(CounterRow).where(CounterRow.window_start < before))
        return result.rowcount or 0


def _override(row: QuotaRow) -> QuotaOverride:
    kind, _, ident = row.subject.partition(":")
    return QuotaOverride(kind, int(ident), row.requests_per_minute, row.tokens_per_day, row.updated_at, row.updated_by)


def _audit_view(row: QuotaRow | None) -> dict | None:
    if row is None:
        return None
    return {"requests_per_minute": row.requests_per_minute, "tokens_per_day": row.tokens_per_day}
