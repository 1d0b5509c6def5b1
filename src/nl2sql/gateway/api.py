"""REST routes of the gateway: usage, the request log and traces, quota overrides, Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from litestar import Controller, Request, Response, delete, get, put

from nl2sql.auth import AuthService, current_user, requires_admin, requires_user
from nl2sql.errors import ForbiddenError, ValidationFailed
from nl2sql.gateway.quotas import QuotaOverride, QuotaStatus
from nl2sql.gateway.service import Gateway
from nl2sql.gateway.usage import LogFilter, LogPage, TraceDetail, UsageGroup, UsageSummary


class UsageReport(msgspec.Struct):
    since: datetime
    until: datetime
    user_id: int | None
    group_by: str
    summary: UsageSummary
    groups: list[UsageGroup]
    quota: QuotaStatus | None


class QuotaBody(msgspec.Struct, forbid_unknown_fields=True):
    requests_per_minute: int | None = None
    tokens_per_day: int | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def period(since: datetime | None, until: datetime | None, *, default_days: int = 7) -> tuple[datetime, datetime]:
    """The asked period (UTC), by default the last `default_days` days."""
    until = _utc(until) or datetime.now(UTC)
    since = _utc(since) or until - timedelta(days=default_days)
    if since >= until:
        raise ValidationFailed("`since` must be before `until`")
    return since, until


class UsageController(Controller):
    path = "/api/v1/usage"
    tags = ["gateway"]
    guards = [requires_user]

    @get("/", summary="Usage totals and groups (own; admins: everyone's, or ?user_id=)")
    async def usage(
        self,
        request: Request,
        gateway: Gateway,
        since: datetime | None = None,
        until: datetime | None = None,
        group_by: str = "day",
        user_id: int | None = None,
    ) -> UsageReport:
        me = current_user(request)
        if not me.is_admin:
            if user_id is not None and user_id != me.id:
                raise ForbiddenError("you can see your own usage only")
            user_id = me.id
        start, end = period(since, until)
        groups = await gateway.reports.grouped(group_by, start, end, user_id=user_id)
        summary = await gateway.reports.summary(start, end, user_id=user_id)
        quota = await gateway.quotas.status("user", user_id) if user_id is not None else None
        return UsageReport(start, end, user_id, group_by, summary, groups, quota)


def _filter(since, until, user_id, api_key_id, route, method, status, q, channel=None) -> LogFilter:
    return LogFilter(
        since=_utc(since), until=_utc(until), user_id=user_id, api_key_id=api_key_id, route=route or None,
        method=method or None, status=status or None, q=q or None, channel=channel or None,
    )


class LogController(Controller):
    path = "/api/v1/logs"
    tags = ["gateway"]
    guards = [requires_admin]

    @get("/", summary="Request log, newest first, filtered and paginated (admin)")
    async def logs(
        self,
        gateway: Gateway,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: int | None = None,
        api_key_id: int | None = None,
        route: str | None = None,
        method: str | None = None,
        status: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
        channel: str | None = None,
    ) -> LogPage:
        """`channel`: pages, api or mcp (MCP tool calls are recorded as route `/mcp <method> [tool]`)."""
        f = _filter(since, until, user_id, api_key_id, route, method, status, q, channel)
        return await gateway.reports.log(f, limit=limit, offset=offset)

    @get("/{trace_id:str}", summary="One trace: its request and model calls (admin)")
    async def trace(self, gateway: Gateway, trace_id: str) -> TraceDetail:
        return await gateway.reports.trace(trace_id)


@get("/api/v1/logs.csv", guards=[requires_admin], tags=["gateway"], summary="The filtered request log as CSV (admin)")
async def logs_csv(
    gateway: Gateway,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: int | None = None,
    api_key_id: int | None = None,
    route: str | None = None,
    method: str | None = None,
    status: str | None = None,
    q: str | None = None,
    channel: str | None = None,
) -> Response:
    text = await gateway.reports.export_csv(_filter(since, until, user_id, api_key_id, route, method, status, q,
                                                    channel))
    return csv_response(text)


def csv_response(text: str) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        content=text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="nl2sql-requests-{stamp}.csv"'},
    )


class QuotaController(Controller):
    path = "/api/v1/quotas"
    tags = ["gateway"]
    guards = [requires_admin]

    @get("/", summary="Quota overrides per user and API key (admin)")
    async def overrides(self, gateway: Gateway) -> list[QuotaOverride]:
        return await gateway.quotas.overrides()

    @put("/{kind:str}/{subject_id:int}", summary="Set the limits of a user or an API key (admin; null = default)")
    async def set_override(
        self, request: Request, gateway: Gateway, auth_service: AuthService, kind: str, subject_id: int, data: QuotaBody
    ) -> QuotaOverride:
        if data.requests_per_minute is None and data.tokens_per_day is None:
            raise ValidationFailed("give requests_per_minute and/or tokens_per_day (DELETE removes an override)")
        if kind == "user":
            await auth_service.get_user(subject_id)  # 404 for an unknown user
        return await gateway.quotas.set_override(
            current_user(request), kind, subject_id,
            requests_per_minute=data.requests_per_minute, tokens_per_day=data.tokens_per_day,
        )

    @delete("/{kind:str}/{subject_id:int}", summary="Remove an override: the defaults apply again (admin)", status_code=200)
    async def remove_override(self, request: Request, gateway: Gateway, kind: str, subject_id: int) -> QuotaOverride:
        return await gateway.quotas.set_override(
            current_user(request), kind, subject_id, requests_per_minute=None, tokens_per_day=None
        )


@get("/metrics", tags=["ops"], summary="Prometheus metrics", media_type="text/plain; version=0.0.4; charset=utf-8")
async def metrics(gateway: Gateway) -> str:
    return gateway.render_metrics()


api_routes = [UsageController, LogController, logs_csv, QuotaController, metrics]
