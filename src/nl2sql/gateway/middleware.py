"""ASGI side of the gateway: a trace id and one record per request, and per-minute rate limits."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from nl2sql.auth import Principal
from nl2sql.gateway.context import RequestContext, current_request, request_context, trace_id_from_headers
from nl2sql.gateway.recorder import RequestRecord

log = logging.getLogger("nl2sql.gateway")

# Static assets are not recorded (documented in docs/gateway.md): they are cacheable files, not actions.
UNRECORDED_PREFIX = "/static/"
UNMATCHED = "(unmatched)"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class RequestRecording:
    """Outermost wrapper: trace id in and out (X-Trace-Id), timing, exactly one record per request.

    It wraps Litestar's whole handler (not a route middleware) so that unmatched paths, 405s and
    errors raised before a route is found are recorded too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(UNRECORDED_PREFIX):
            await self.app(scope, receive, send)
            return
        gateway = scope["litestar_app"].state.get("gateway")
        if gateway is None:  # not started (no lifespan yet): nothing to record into
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = datetime.now(UTC)
        trace_id = trace_id_from_headers(_header(scope, b"traceparent"), _header(scope, b"x-request-id"))
        trace_header = (b"x-trace-id", trace_id.encode("latin-1"))
        status = 500

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), trace_header]
            await send(message)

        context = RequestContext(trace_id=trace_id)
        with request_context(context):
            try:
                await self.app(scope, receive, send_with_trace)
            finally:
                principal = scope.get("auth")
                if context.user_id is None and isinstance(principal, Principal):
                    context.user_id = principal.user.id
                    context.api_key_id = principal.api_key_id
                client = scope.get("client")
                route = scope.get("path_template") if scope.get("route_handler") is not None else None
                seconds = time.perf_counter() - started
                gateway.record_request(
                    RequestRecord(
                        trace_id=trace_id,
                        at=at,
                        user_id=context.user_id,
                        api_key_id=context.api_key_id,
                        client_addr=(client[0] if client else None),
                        method=scope.get("method", "GET"),
                        route=(context.route or route or UNMATCHED)[:300],
                        status=status,
                        duration_ms=seconds * 1000.0,
                        outcome=context.outcome,
                    ),
                    seconds,
                )


class RateLimitMiddleware:
    """Route middleware after AuthMiddleware: names the user on the request context and counts the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            principal = scope.get("auth")
            gateway = scope["litestar_app"].state.get("gateway")
            if isinstance(principal, Principal) and gateway is not None:
                context = current_request()
                if context is not None:
                    context.user_id = principal.user.id
                    context.api_key_id = principal.api_key_id
                handler = scope.get("route_handler")
                # a page's own polling of work it already started (opt rate_limited=False) is not the user's request
                static = scope.get("path", "").startswith(UNRECORDED_PREFIX)  # a page's own styles and scripts
                if not static and (handler is None or handler.opt.get("rate_limited", True)):
                    await gateway.hit_request(principal.user.id, principal.api_key_id)
        await self.app(scope, receive, send)
