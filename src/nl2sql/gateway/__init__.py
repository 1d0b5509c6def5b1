"""Gateway: records every request and model call, enforces rate limits and token quotas, usage pages, metrics."""

from nl2sql.gateway.api import api_routes
from nl2sql.gateway.chat import LoggedChatModel
from nl2sql.gateway.context import (
    CallContext,
    Redactor,
    call_context,
    current_trace_id,
    note_outcome,
    note_route,
    request_context,
    RequestContext,
)
from nl2sql.gateway.logs import JsonFormatter, TraceIdFilter, configure_logging
from nl2sql.gateway.middleware import RateLimitMiddleware, RequestRecording
from nl2sql.gateway.quotas import Clock, ManualClock, QuotaOverride, QuotaStatus, SystemClock
from nl2sql.gateway.recorder import (
    MemoryRecordStore,
    ModelCallRecord,
    Recorder,
    RecordStore,
    RequestRecord,
    SqlRecordStore,
)
from nl2sql.gateway.pages import page_routes
from nl2sql.gateway.retention import retention_blueprint
from nl2sql.gateway.service import Gateway, PurgeResult
from nl2sql.gateway.usage import LogFilter, LogPage, TraceDetail, UsageGroup, UsageSummary

__all__ = [
    "CallContext",
    "Clock",
    "Gateway",
    "JsonFormatter",
    "LogFilter",
    "LogPage",
    "LoggedChatModel",
    "ManualClock",
    "MemoryRecordStore",
    "ModelCallRecord",
    "PurgeResult",
    "QuotaOverride",
    "QuotaStatus",
    "RateLimitMiddleware",
    "RecordStore",
    "Recorder",
    "Redactor",
    "RequestContext",
    "RequestRecord",
    "RequestRecording",
    "SqlRecordStore",
    "SystemClock",
    "TraceDetail",
    "TraceIdFilter",
    "UsageGroup",
    "UsageSummary",
    "api_routes",
    "call_context",
    "configure_logging",
    "current_trace_id",
    "note_outcome",
    "note_route",
    "page_routes",
    "request_context",
    "retention_blueprint",
]
