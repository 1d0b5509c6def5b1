"""Who is calling a tool: set by the endpoint for the request in flight, read by the tools."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from nl2sql.auth import User


@dataclass(frozen=True)
class Caller:
    """The API key's user, the key, and the address the pages are reached at (for answers' links)."""

    user: User
    api_key_id: int | None
    base_url: str


_caller: ContextVar[Caller | None] = ContextVar("nl2sql_mcp_caller", default=None)


@contextmanager
def calling(caller: Caller) -> Iterator[Caller]:
    """Make `caller` the one the tools act for, inside (the SDK's tasks for this request inherit it)."""
    token = _caller.set(caller)
    try:
        yield caller
    finally:
        _caller.reset(token)


def current_caller() -> Caller:
    caller = _caller.get()
    if caller is None:  # the endpoint always sets one; a tool run any other way has nobody to act for
        raise LookupError("no MCP caller for this request")
    return caller
