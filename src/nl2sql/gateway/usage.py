"""Usage reports read from the records: totals, time series, groupings, percentiles, the log and one trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.errors import NotFoundError, ValidationFailed
from nl2sql.gateway.models import ModelCallRow, RequestRow
from nl2sql.gateway.recorder import ModelCallRecord

GroupBy = Literal["day", "user", "connection", "model", "channel"]
GROUPINGS: tuple[str, ...] = ("day", "user", "connection", "model", "channel")
# where a request came in: MCP tools (/mcp), the REST API (/api/), the pages (anything else)
CHANNELS: tuple[str, ...] = ("pages", "api", "mcp")


def channel_of(route) -> sa.Case:
    """A request's channel from its recorded route (SQL)."""
    return sa.case((route.like("/mcp%"), "mcp"), (route.like("/api/%"), "api"), else_="pages")


def _call_channel() -> sa.Case:
    """A model call's channel: that of the request it was made for; "background" for a job's."""
    route = (sa.select(RequestRow.route).where(RequestRow.trace_id == ModelCallRow.trace_id).limit(1)
             .scalar_subquery())
    return sa.case((route.is_(None), "background"), else_=channel_of(route))
MAX_PAGE = 500
MAX_EXPORT = 100_000


@dataclass(frozen=True)
class Percentiles:
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class UsageSummary:
    """Totals over a period."""

    requests: int
    server_errors: int
    client_errors: int
    rate_limited: int
    refusals: int
    model_calls: int
    model_errors: int
    prompt_tokens: int
    completion_tokens: int
    request_latency: Percentiles
    model_latency: Percentiles
    ttft: Percentiles
    tokens: int
    error_rate: float
    refusal_rate: float
    model_error_rate: float
    feedback: str = "not tracked"
    feedback_up: int = 0
    feedback_down: int = 0


@dataclass(frozen=True)
class UsageGroup:
    """One row of a grouping (by day, user, connection or model)."""

    key: str
    requests: int | None
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    model_errors: int
    p95_model_ms: float | None
    tokens: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", self.prompt_tokens + self.completion_tokens)


@dataclass(frozen=True)
class SeriesPoint:
    start: datetime
    requests: int
    errors: int
    tokens: int


@dataclass(frozen=True)
class RequestEntry:
    trace_id: str
    at: datetime
    user_id: int | None
    api_key_id: int | None
    client_addr: str | None
    method: str
    route: str
    status: int
    duration_ms: float
    outcome: str | None
    model_calls: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class LogFilter:
    """What the log shows; None means any."""

    since: datetime | None = None
    until: datetime | None = None
    user_id: int | None = None
    api_key_id: int | None = None
    route: str | None = None
    method: str | None = None
    status: str | None = None
    q: str | None = None
    channel: str | None = None  # pages, api or mcp

    def __post_init__(self) -> None:
        # ASCII digits only: "³".isdigit() is true in Python, and int() of it fails
        if self.status and not (self.status in ("2xx", "3xx", "4xx", "5xx") or re.fullmatch(r"[1-5][0-9][0-9]",
                                                                                           self.status)):
            raise ValidationFailed(f"status must be a code like 429 or a class like 5xx, got {self.status!r}")
        for name in ("user_id", "api_key_id"):
            value = getattr(self, name)
            if value is not None and not -(2**31) <= value < 2**31:
                raise ValidationFailed(f"{name} is out of range: {value}")
        if self.channel and self.channel not in CHANNELS:
            raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}, got {self.channel!r}")


@dataclass(frozen=True)
class LogPage:
    items: list[RequestEntry]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class TraceDetail:
    """One trace: its request record(s) and the model calls made for it."""

    trace_id: str
    requests: list[RequestEntry]
    model_calls: list[ModelCallRecord] = field(default_factory=list)


def _percentiles(values) -> Percentiles:
    values = list(values) if values else [None, None, None]
    return Percentiles(*values)


FeedbackCounter = Callable[[datetime, datetime, "int | None"], Awaitable[tuple[int, int]]]


class UsageReports:
    """Read-only queries over gateway_requests and gateway_model_calls."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], feedback: FeedbackCounter | None = None) -> None:
        self._sessions = sessions
        # the answers module counts its own feedback (the gateway can't read its tables)
        self.feedback_counter = feedback

    async def summary(self, since: datetime, until: datetime, *, user_id: int | None = None) -> UsageSummary:
        r, c = RequestRow, ModelCallRow
        req_where = [r.at >= since, r.at < until] + ([r.user_id == user_id] if user_id is not None else [])
        call_where = [c.at >= since, c.at < until] + ([c.user_id == user_id] if user_id is not None else [])
        pct = sa.literal([0.5, 0.95, 0.99], sa.ARRAY(sa.Float))
        async with self._sessions() as db:
            req = (
                await db.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.count().filter(r.status >= 500),
                        sa.func.count().filter(r.status.between(400, 499)),
                        sa.func.count().filter(r.status == 429),
                        sa.func.count().filter(r.outcome == "refused"),
                        sa.func.percentile_cont(pct).within_group(r.duration_ms),
                    ).where(*req_where)
                )
            ).one()
            call = (
                await db.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.count().filter(c.status != "ok"),
                        sa.func.coalesce(sa.func.sum(c.prompt_tokens), 0),
                        sa.func.coalesce(sa.func.sum(c.completion_tokens), 0),
                        sa.func.percentile_cont(pct).within_group(c.duration_ms),
                        sa.func.percentile_cont(pct).within_group(c.ttft_ms),
                    ).where(*call_where)
                )
            ).one()
        return UsageSummary(
            requests=req[0],
            server_errors=req[1],
            client_errors=req[2],
            rate_limited=req[3],
            refusals=req[4],
            model_calls=call[0],
            model_errors=call[1],
            prompt_tokens=int(call[2]),
            completion_tokens=int(call[3]),
            tokens=int(call[2]) + int(call[3]),
            error_rate=req[1] / req[0] if req[0] else 0.0,
            refusal_rate=req[4] / req[0] if req[0] else 0.0,
            model_error_rate=call[1] / call[0] if call[0] else 0.0,
            request_latency=_percentiles(req[5]),
            model_latency=_percentiles(call[4]),
            ttft=_percentiles(call[5]),
            **await self._feedback(since, until, user_id),
        )

    async def _feedback(self, since: datetime, until: datetime, user_id: int | None) -> dict:
        if self.feedback_counter is None:
            return {}
        up, down = await self.feedback_counter(since, until, user_id)
        if not up + down:
            return {"feedback": "no feedback in this period"}
        return {
            "feedback": f"{up} up, {down} down ({up / (up + down):.0%} positive)",
            "feedback_up": up,
            "feedback_down": down,
        }

    async def series(
        self, since: datetime, until: datetime, *, bucket: Literal["hour", "day"] = "day", user_id: int | None = None
    ) -> list[SeriesPoint]:
        """Requests, server errors and tokens per hour or day, gaps filled with zeros."""
        r, c = RequestRow, ModelCallRow
        rb = sa.func.date_trunc(bucket, r.at, "UTC").label("b")
        cb = sa.func.date_trunc(bucket, c.at, "UTC").label("b")
        rq = sa.select(rb, sa.func.count(), sa.func.count().filter(r.status >= 500)).where(r.at >= since, r.at < until)
        cq = sa.select(cb, sa.func.sum(c.prompt_tokens + c.completion_tokens)).where(c.at >= since, c.at < until)
        if user_id is not None:
            rq, cq = rq.where(r.user_id == user_id), cq.where(c.user_id == user_id)
        async with self._sessions() as db:
            requests = {row[0]: (row[1], row[2]) for row in await db.execute(rq.group_by(rb))}
            tokens = {row[0]: int(row[1] or 0) for row in await db.execute(cq.group_by(cb))}
            starts = (
                await db.execute(
                    sa.select(
                        sa.func.generate_series(
                            sa.func.date_trunc(bucket, sa.literal(since), "UTC"),
                            sa.func.date_trunc(bucket, sa.literal(until), "UTC"),
                            sa.cast(f"1 {bucket}", sa.Interval),
                        )
                    )
                )
            ).scalars().all()
        return [
            SeriesPoint(start, requests.get(start, (0, 0))[0], requests.get(start, (0, 0))[1], tokens.get(start, 0))
            for start in starts
        ]

    async def grouped(
        self, by: str, since: datetime, until: datetime, *, user_id: int | None = None
    ) -> list[UsageGroup]:
        """Model calls, tokens and p95 per group; request counts where the grouping applies to requests."""
        if by not in GROUPINGS:
            raise ValidationFailed(f"group_by must be one of {', '.join(GROUPINGS)}, got {by!r}")
        r, c = RequestRow, ModelCallRow
        call_key = {
            "day": sa.func.to_char(sa.func.date_trunc("day", c.at, "UTC"), "YYYY-MM-DD"),
            "user": sa.cast(c.user_id, sa.String),
            "connection": c.connection,
            "model": c.backend + "/" + c.model,
            "channel": _call_channel(),
        }[by].label("k")
        cq = sa.select(
            call_key,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(c.prompt_tokens), 0),
            sa.func.coalesce(sa.func.sum(c.completion_tokens), 0),
            sa.func.count().filter(c.status != "ok"),
            sa.func.percentile_cont(0.95).within_group(c.duration_ms),
        ).where(c.at >= since, c.at < until)
        if user_id is not None:
            cq = cq.where(c.user_id == user_id)
        requests: dict[str | None, int] | None = None
        async with self._sessions() as db:
            calls = {row[0]: row[1:] for row in await db.execute(cq.group_by(call_key))}
            if by in ("day", "user", "channel"):
                req_key = {
                    "day": sa.func.to_char(sa.func.date_trunc("day", r.at, "UTC"), "YYYY-MM-DD"),
                    "user": sa.cast(r.user_id, sa.String),
                    "channel": channel_of(r.route),
                }[by].label("k")
                rq = sa.select(req_key, sa.func.count()).where(r.at >= since, r.at < until)
                if user_id is not None:
                    rq = rq.where(r.user_id == user_id)
                requests = {row[0]: row[1] for row in await db.execute(rq.group_by(req_key))}
        keys = set(calls) | set(requests or {})
        groups = [
            UsageGroup(
                key=key if key is not None else "(none)",
                requests=(requests or {}).get(key, 0) if requests is not None else None,
                model_calls=calls.get(key, (0,))[0],
                prompt_tokens=int(calls.get(key, (0, 0))[1]),
                completion_tokens=int(calls.get(key, (0, 0, 0))[2]),
                model_errors=calls.get(key, (0, 0, 0, 0))[3],
                p95_model_ms=calls.get(key, (0, 0, 0, 0, None))[4],
            )
            for key in keys
        ]
        if by == "day":
            return sorted(groups, key=lambda g: g.key)
        return sorted(groups, key=lambda g: (-g.tokens, -(g.requests or 0), g.key))

    def _log_query(self, f: LogFilter):
        r, c = RequestRow, ModelCallRow
        calls = (
            sa.select(
                c.trace_id.label("trace_id"),
                sa.func.count().label("n"),
                sa.func.sum(c.prompt_tokens + c.completion_tokens).label("tokens"),
            )
            .group_by(c.trace_id)
            .subquery()
        )
        where = []
        if f.since:
            where.append(r.at >= f.since)
        if f.until:
            where.append(r.at < f.until)
        if f.user_id is not None:
            where.append(r.user_id == f.user_id)
        if f.api_key_id is not None:
            where.append(r.api_key_id == f.api_key_id)
        if f.route:
            where.append(r.route.ilike(f"%{_like(f.route)}%", escape="\\"))
        if f.method:
            where.append(r.method == f.method.upper())
        if f.channel:
            where.append(channel_of(r.route) == f.channel)
        if f.status:
            if f.status.isdigit():
                where.append(r.status == int(f.status))
            else:
                low = int(f.status[0]) * 100
                where.append(r.status.between(low, low + 99))
        if f.q:
            pattern = f"%{_like(f.q)}%"
            where.append(
                sa.or_(
                    r.trace_id.ilike(pattern, escape="\\"),
                    r.route.ilike(pattern, escape="\\"),
                    r.client_addr.ilike(pattern, escape="\\"),
                    r.outcome.ilike(pattern, escape="\\"),
                )
            )
        query = (
            sa.select(r, sa.func.coalesce(calls.c.n, 0), sa.func.coalesce(calls.c.tokens, 0))
            .outerjoin(calls, calls.c.trace_id == r.trace_id)
            .where(*where)
        )
        return query, where

    async def log(self, f: LogFilter, *, limit: int = 50, offset: int = 0) -> LogPage:
        """Request records newest first, with their model calls and tokens, one page."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        if offset < 0:
            raise ValidationFailed(f"offset must be 0 or more, got {offset}")
        query, where = self._log_query(f)
        async with self._sessions() as db:
            total = await db.scalar(sa.select(sa.func.count()).select_from(RequestRow).where(*where))
            result = await db.execute(
                query.order_by(RequestRow.at.desc(), RequestRow.id.desc()).limit(limit).offset(offset)
            )
            items = [_request_entry(row[0], row[1], row[2]) for row in result]
        return LogPage(items=items, total=total or 0, limit=limit, offset=offset)

    async def export_csv(self, f: LogFilter) -> str:
        """The filtered log as CSV (newest first, at most 100,000 rows)."""
        query, _ = self._log_query(f)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["time", "trace_id", "user_id", "api_key_id", "client_addr", "method", "route", "status", "duration_ms",
             "outcome", "model_calls", "tokens"]
        )
        async with self._sessions() as db:
            result = await db.stream(query.order_by(RequestRow.at.desc(), RequestRow.id.desc()).limit(MAX_EXPORT))
            async for row in result:
                e = _request_entry(row[0], row[1], row[2])
                writer.writerow(
                    [e.at.isoformat(), e.trace_id, e.user_id or "", e.api_key_id or "", e.client_addr or "", e.method,
                     e.route, e.status, f"{e.duration_ms:.2f}", e.outcome or "", e.model_calls, e.tokens]
                )
        return out.getvalue()

    async def trace(self, trace_id: str) -> TraceDetail:
        """The request(s) and model calls recorded under one trace id."""
        async with self._sessions() as db:
            requests = (
                await db.execute(sa.select(RequestRow).where(RequestRow.trace_id == trace_id).order_by(RequestRow.at))
            ).scalars().all()
            calls = (
                await db.execute(
                    sa.select(ModelCallRow).where(ModelCallRow.trace_id == trace_id).order_by(ModelCallRow.at)
                )
            ).scalars().all()
        if not requests and not calls:
            raise NotFoundError(f"no records for trace {trace_id}")
        return TraceDetail(
            trace_id=trace_id,
            requests=[_request_entry(row, len(calls), sum(c.prompt_tokens + c.completion_tokens for c in calls)) for row in requests],
            model_calls=[_call_entry(row) for row in calls],
        )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _request_entry(row: RequestRow, calls: int = 0, tokens: int = 0) -> RequestEntry:
    return RequestEntry(
        trace_id=row.trace_id,
        at=row.at,
        user_id=row.user_id,
        api_key_id=row.api_key_id,
        client_addr=row.client_addr,
        method=row.method,
        route=row.route,
        status=row.status,
        duration_ms=row.duration_ms,
        outcome=row.outcome,
        model_calls=int(calls or 0),
        tokens=int(tokens or 0),
    )


def _call_entry(row: ModelCallRow) -> ModelCallRecord:
    return ModelCallRecord(
        **{name: getattr(row, name) for name in ModelCallRecord.__dataclass_fields__}  # the stored columns, frozen
    )
