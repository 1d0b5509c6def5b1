"""Usage pages: a user's own usage and quota, the admin dashboard, the request log and one trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Response, Template

from nl2sql.auth import AuthService, current_user, requires_admin, requires_user
from nl2sql.errors import AppError, ValidationFailed
from nl2sql.gateway.api import csv_response
from nl2sql.gateway.charts import bar_chart
from nl2sql.gateway.service import Gateway
from nl2sql.gateway.usage import LogFilter
from nl2sql.web import render

Form = Body(media_type=RequestEncodingType.URL_ENCODED)

RANGES = {"24h": (timedelta(hours=24), "hour"), "7d": (timedelta(days=7), "day"), "30d": (timedelta(days=30), "day"),
          "90d": (timedelta(days=90), "day")}
PAGE_SIZE = 50


def _range(name: str | None) -> tuple[str, datetime, datetime, str]:
    name = name if name in RANGES else "7d"
    span, bucket = RANGES[name]
    until = datetime.now(UTC)
    return name, until - span, until, bucket


def _label(start: datetime, bucket: str) -> str:
    return start.strftime("%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


async def _charts(gateway: Gateway, since, until, bucket, user_id=None) -> dict[str, Any]:
    series = await gateway.reports.series(since, until, bucket=bucket, user_id=user_id)
    return {
        "requests_chart": bar_chart([(_label(p.start, bucket), p.requests) for p in series], title="Requests"),
        "tokens_chart": bar_chart([(_label(p.start, bucket), p.tokens) for p in series], title="Model tokens"),
        "errors_chart": bar_chart([(_label(p.start, bucket), p.errors) for p in series], title="Server errors"),
    }


class UsagePages(Controller):
    path = "/usage"
    include_in_schema = False
    guards = [requires_user]

    @get("/")
    async def usage(self, request: Request, gateway: Gateway, range: str | None = None) -> Template:
        me = current_user(request)
        name, since, until, bucket = _range(range)
        ctx = {
            "range": name,
            "ranges": list(RANGES),
            "summary": await gateway.reports.summary(since, until, user_id=me.id),
            "quota": await gateway.quotas.status("user", me.id),
            "by_connection": await gateway.reports.grouped("connection", since, until, user_id=me.id),
            "by_model": await gateway.reports.grouped("model", since, until, user_id=me.id),
            "by_channel": await gateway.reports.grouped("channel", since, until, user_id=me.id),
        } | await _charts(gateway, since, until, bucket, me.id)
        return render(request, "gateway/usage.html", ctx)


class AdminUsagePages(Controller):
    path = "/admin/usage"
    include_in_schema = False
    guards = [requires_admin]

    async def _quota_context(self, gateway: Gateway, auth_service: AuthService, **extra: Any) -> dict[str, Any]:
        users = {u.id: u for u in await auth_service.list_users()}
        return {"overrides": await gateway.quotas.overrides(), "users": users, "settings": gateway.settings,
                "quota_message": None, "quota_error": None, "form": {}} | extra

    @get("/")
    async def dashboard(
        self, request: Request, gateway: Gateway, auth_service: AuthService, range: str | None = None
    ) -> Template:
        name, since, until, bucket = _range(range)
        ctx = {
            "range": name,
            "ranges": list(RANGES),
            "summary": await gateway.reports.summary(since, until),
            "by_user": await gateway.reports.grouped("user", since, until),
            "by_connection": await gateway.reports.grouped("connection", since, until),
            "by_model": await gateway.reports.grouped("model", since, until),
            "by_channel": await gateway.reports.grouped("channel", since, until),
            "recorder": gateway.recorder.stats(),
        } | await _charts(gateway, since, until, bucket) | await self._quota_context(gateway, auth_service)
        return render(request, "gateway/admin.html", ctx)

    @post("/quotas")
    async def set_quota(
        self, request: Request, gateway: Gateway, auth_service: AuthService, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        status = 200
        try:
            kind, subject_id = await _subject(auth_service, str(data.get("kind", "")), str(data.get("subject", "")))
            rpm, tpd = _limit(data.get("requests_per_minute")), _limit(data.get("tokens_per_day"))
            if rpm is None and tpd is None:
                raise ValidationFailed("give a requests-per-minute limit, a tokens-per-day quota, or both")
            await gateway.quotas.set_override(
                current_user(request), kind, subject_id, requests_per_minute=rpm, tokens_per_day=tpd
            )
            ctx = await self._quota_context(gateway, auth_service, quota_message=f"Limits of {kind} {subject_id} saved.")
        except AppError as exc:
            status = exc.status_code
            ctx = await self._quota_context(gateway, auth_service, quota_error=exc.detail, form=dict(data))
        return render(request, "gateway/admin.html", ctx, fragment="gateway/_quotas.html", status_code=status)

    @post("/quotas/{kind:str}/{subject_id:int}/delete")
    async def remove_quota(
        self, request: Request, gateway: Gateway, auth_service: AuthService, kind: str, subject_id: int
    ) -> Template:
        await gateway.quotas.set_override(current_user(request), kind, subject_id, requests_per_minute=None,
                                          tokens_per_day=None)
        ctx = await self._quota_context(gateway, auth_service, quota_message=f"Limits of {kind} {subject_id} removed.")
        return render(request, "gateway/admin.html", ctx, fragment="gateway/_quotas.html")

    @get("/log")
    async def log(self, request: Request, gateway: Gateway, auth_service: AuthService) -> Template:
        query = request.query_params
        f = _log_filter(query)
        page = max(1, _int(query.get("page"), "page") or 1)
        result = await gateway.reports.log(f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        params = {k: v for k, v in query.items() if k != "page" and v}
        users = await auth_service.list_users()
        ctx = {
            "log": result,
            "page": page,
            "pages": max(1, -(-result.total // PAGE_SIZE)),
            "query": params,
            "qs": urlencode(params),
            "users": {u.id: u for u in users},
            "user_list": users,
        }
        return render(request, "gateway/log.html", ctx, fragment="gateway/_log_table.html")

    @get("/log.csv")
    async def log_csv(self, request: Request, gateway: Gateway) -> Response:
        return csv_response(await gateway.reports.export_csv(_log_filter(request.query_params)))

    @get("/log/{trace_id:str}")
    async def trace(self, request: Request, gateway: Gateway, auth_service: AuthService, trace_id: str) -> Template:
        detail = await gateway.reports.trace(trace_id)
        users = {u.id: u for u in await auth_service.list_users()}
        return render(request, "gateway/trace.html", {"trace": detail, "users": users})


async def _subject(auth_service: AuthService, kind: str, raw: str) -> tuple[str, int]:
    raw = raw.strip()
    if kind == "user":
        if raw.isascii() and raw.isdigit() and len(raw) <= 9:  # ("³" is a digit to Python; int() refuses it)
            return "user", (await auth_service.get_user(int(raw))).id
        for user in await auth_service.list_users():
            if user.email.lower() == raw.lower():
                return "user", user.id
        raise ValidationFailed(f"no user with email or id {raw!r}")
    if kind == "key":
        if raw.isascii() and raw.isdigit() and len(raw) <= 9:
            return "key", int(raw)
        raise ValidationFailed("an API key is named by its number (see the log's key column)")
    raise ValidationFailed("choose `user` or `key`")


def _limit(raw: Any) -> int | None:
    text = str(raw or "").strip().replace("_", "").replace(",", "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValidationFailed(f"limits are whole numbers (0 = no limit), got {raw!r}")
    return int(text)


def _int(raw: Any, name: str) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number, got {raw!r}") from None


def _date(raw: Any, name: str) -> datetime | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date like 2026-01-31 or 2026-01-31T14:00, got {raw!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _log_filter(query) -> LogFilter:
    return LogFilter(
        since=_date(query.get("since"), "since"),
        until=_date(query.get("until"), "until"),
        user_id=_int(query.get("user_id"), "user"),
        api_key_id=_int(query.get("api_key_id"), "key"),
        route=(query.get("route") or "").strip() or None,
        method=(query.get("method") or "").strip() or None,
        status=(query.get("status") or "").strip() or None,
        q=(query.get("q") or "").strip() or None,
        channel=(query.get("channel") or "").strip() or None,
    )


page_routes = [UsagePages, AdminUsagePages]
