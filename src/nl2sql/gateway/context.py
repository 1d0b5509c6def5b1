"""Who is calling and why: the request's trace context and the model-call context, carried by contextvars."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

REDACTED = "[redacted]"


def new_trace_id() -> str:
    return uuid.uuid4().hex


def trace_id_from_headers(traceparent: str | None, request_id: str | None) -> str:
    """The caller's trace id when it is well-formed (W3C traceparent, then X-Request-ID), else a new one."""
    if traceparent:
        match = _TRACEPARENT.match(traceparent.strip().lower())
        if match and match.group(1) != "0" * 32:
            return match.group(1)
    if request_id and _REQUEST_ID.match(request_id.strip()):
        return request_id.strip()
    return new_trace_id()


@dataclass
class RequestContext:
    """The request in flight; the middleware creates it, auth-aware code fills in the user."""

    trace_id: str
    user_id: int | None = None
    api_key_id: int | None = None
    outcome: str | None = None
    # what the request did, where its path alone doesn't say (an MCP call: "/mcp tools/call ask")
    route: str | None = None


class Redactor:
    """Replaces sensitive literal values, and values written next to sensitive column names, by [redacted]."""

    def __init__(self, values: Iterable[str] = (), columns: Iterable[str] = ()) -> None:
        # longest first, so a value containing a shorter one is redacted whole
        literals = sorted({str(v) for v in values if v is not None and len(str(v)) >= 2}, key=len, reverse=True)
        self._values = re.compile("|".join(re.escape(v) for v in literals)) if literals else None
        names = sorted({c for c in columns if c}, key=len, reverse=True)
        self._columns = (
            re.compile(
                r"(\b(?:" + "|".join(re.escape(n) for n in names) + r")\b[\"'`\]]?\s*(?:=|<>|!=|:|\bLIKE\b|\bIN\b)\s*\(?\s*)"
                r"('(?:[^']|'')*'|\"[^\"]*\"|[^\s,)]+)",
                re.IGNORECASE,
            )
            if names
            else None
        )

    def __call__(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        if self._columns is not None:
            text = self._columns.sub(lambda m: m.group(1) + REDACTED, text)
        return text


Redact = Callable[[str], str]


@dataclass(frozen=True)
class CallContext:
    """What a model call is for: set by the caller (answers) around its model calls."""

    purpose: str = "other"
    connection: str | None = None
    redact: Redact | None = field(default=None, compare=False)


_request: ContextVar[RequestContext | None] = ContextVar("nl2sql_request", default=None)
_call: ContextVar[CallContext] = ContextVar("nl2sql_call", default=CallContext())


def current_request() -> RequestContext | None:
    """The request in flight on this task, if any."""
    return _request.get()


def current_trace_id() -> str | None:
    request = _request.get()
    return request.trace_id if request is not None else None


def current_call() -> CallContext:
    return _call.get()


@contextmanager
def request_context(context: RequestContext) -> Iterator[RequestContext]:
    """Make `context` the request in flight for the code inside (background work and tests use it)."""
    token = _request.set(context)
    try:
        yield context
    finally:
        _request.reset(token)


@contextmanager
def call_context(
    *,
    purpose: str | None = None,
    connection: str | int | None = None,
    redact: Redact | None = None,
    sensitive_values: Iterable[str] = (),
    sensitive_columns: Iterable[str] = (),
) -> Iterator[CallContext]:
    """Label the model calls made inside: purpose (generate, repair, chart, ...), connection, and what to redact.

    Pass `redact` (a function of the text), or the sensitive literal values and column names the catalog
    marks; both apply when given. Nested contexts inherit what they don't set.
    """
    outer = _call.get()
    redactors = [r for r in (outer.redact, redact) if r is not None]
    if sensitive_values or sensitive_columns:
        redactors.append(Redactor(sensitive_values, sensitive_columns))
    combined: Redact | None
    if not redactors:
        combined = None
    elif len(redactors) == 1:
        combined = redactors[0]
    else:

        def combined(text: str, _chain=tuple(redactors)) -> str:
            for step in _chain:
                text = step(text)
            return text

    inner = replace(
        outer,
        purpose=purpose if purpose is not None else outer.purpose,
        connection=str(connection) if connection is not None else outer.connection,
        redact=combined,
    )
    token = _call.set(inner)
    try:
        yield inner
    finally:
        _call.reset(token)


def note_route(route: str) -> None:
    """Name what the request in flight did, for the usage pages, where its path alone doesn't say."""
    request = _request.get()
    if request is not None:
        request.route = route[:300]


def note_outcome(outcome: str) -> None:
    """Mark the request in flight with an outcome (e.g. "refused") shown on the usage pages."""
    request = _request.get()
    if request is not None:
        request.outcome = outcome[:40]
