"""The MCP endpoint at /mcp: streamable HTTP in the SDK's stateless mode (any container answers any request, no
sticky sessions). Each request is authenticated by an API key, named and rate-limited like an API request, and
recorded by the gateway; then the SDK's session manager serves it with the tools of tools.py."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar.handlers import ASGIRouteHandler, asgi
from litestar.types import Message, Receive, Scope, Send
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings

from nl2sql.answers import AskService
from nl2sql.auth import Principal
from nl2sql.catalog import CatalogService
from nl2sql.errors import AppError, RateLimitedError
from nl2sql.gateway import Gateway, note_outcome, note_route
from nl2sql.mcp.caller import Caller, calling
from nl2sql.mcp.tools import INSTRUCTIONS, PROMPT_NAMES, SCHEMA_URI, TOOL_NAMES, Nl2sqlServer, Toolbox
from nl2sql.retrieval import Retriever
from nl2sql.settings import McpSettings

log = logging.getLogger("nl2sql.mcp")

PATH = "/mcp"
# JSON-RPC error codes of the endpoint's own refusals (the implementation-defined server-error range)
UNAUTHORIZED, FORBIDDEN, RATE_LIMITED, UNAVAILABLE, TOO_LARGE = -32001, -32003, -32029, -32004, -32013
METHOD_NOT_ALLOWED = -32005
# handshake and keep-alive: not counted against the rate limit (a client opens with one of them)
UNCOUNTED = ("initialize", "server/discover", "ping")
METHODS = frozenset({
    "initialize", "server/discover", "ping", "tools/list", "tools/call", "resources/list", "resources/templates/list",
    "resources/read", "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get",
    "completion/complete", "logging/setLevel",
})


class McpEndpoint:
    """The /mcp route and its SDK server, started and stopped with the app (`running`)."""

    def __init__(self, settings: McpSettings) -> None:
        self.settings = settings
        self._manager: StreamableHTTPSessionManager | None = None
        self._gateway: Gateway | None = None

    @asynccontextmanager
    async def running(self, ask_service: AskService, catalog: CatalogService, retriever: Retriever, gateway: Gateway,
                      *, row_cap: int) -> AsyncIterator[None]:
        """Build the MCP server on the app's services and run its session manager while the app runs."""
        if not self.settings.enabled:
            yield
            return
        toolbox = Toolbox(ask_service, catalog, retriever, max_rows=min(self.settings.max_rows, row_cap))
        server = Nl2sqlServer(toolbox, name="nl2sql", title="nl2sql", instructions=INSTRUCTIONS, version="0.1.0")
        # keys, not cookies, authenticate here, so a rebinding page can't borrow a browser's credentials: the Host
        # check is left off, and any name a load balancer uses works. Plain JSON answers: no progress is streamed,
        # and JSON costs less than an event stream (bench/mcp_tools.py) and passes any proxy unbuffered
        server.streamable_http_app(stateless_http=True, json_response=True,
                                   transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        self._gateway = gateway
        async with server.session_manager.run():
            self._manager = server.session_manager
            try:
                yield
            finally:
                self._manager = None

    def route(self) -> ASGIRouteHandler:
        """The Litestar route (rate-limited here, per JSON-RPC request, rather than per HTTP request)."""
        endpoint = self

        @asgi(PATH, opt={"rate_limited": False}, copy_scope=False)
        async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            await endpoint.handle(scope, receive, send)

        return mcp_endpoint

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what the SDK should never see (no key, MCP off, no access, over the limit), then hand over."""
        if scope.get("method") != "POST":
            # stateless: no server stream to open (GET would hold a connection forever) and no session to end
            method = scope.get("method", "GET")
            note_route(f"{PATH} {method if method in ('GET', 'DELETE', 'HEAD', 'OPTIONS', 'PUT', 'PATCH') else '?'}")
            await _refuse(send, 405, METHOD_NOT_ALLOWED, "this MCP endpoint is stateless: send each message as a POST",
                          headers={"allow": "POST"})
            return
        body = await _read_body(receive, DEFAULT_MAX_REQUEST_BODY_SIZE)
        if body is None:
            note_route(f"{PATH} POST")
            await _refuse(send, 413, TOO_LARGE, f"the request is over {DEFAULT_MAX_REQUEST_BODY_SIZE} bytes")
            return
        receive = _replay(body, receive)
        methods = _methods(body)
        note_route(f"{PATH} {methods[0] if len(methods) == 1 else 'batch' if methods else 'POST'}")
        principal = await self._admit(scope, send, methods)
        if principal is None:
            return
        with calling(Caller(principal.user, principal.api_key_id, _base_url(scope))):
            await self._manager.handle_request(scope, receive, send)

    async def _admit(self, scope: Scope, send: Send, methods: list[str]) -> Principal | None:
        """The API key's principal, or None after answering why not (401, 403, 404 or 429)."""
        if self._manager is None:
            await _refuse(send, 404, UNAVAILABLE, "MCP is turned off on this server (NL2SQL_MCP_ENABLED)")
            return None
        principal = scope.get("auth")
        if not isinstance(principal, Principal) or principal.api_key_id is None:
            detail = principal.detail if isinstance(principal, AppError) else "send an API key as a bearer token"
            await _refuse(send, 401, UNAUTHORIZED, detail, headers={
                "www-authenticate": 'Bearer realm="nl2sql", error="invalid_token"'})
            return None
        if not principal.user.mcp_access:
            note_outcome("forbidden")
            await _refuse(send, 403, FORBIDDEN, "MCP is turned off for your account: an admin can allow it on "
                                                "/admin/users")
            return None
        try:
            if self._gateway is not None and any(m.split(" ")[0] not in UNCOUNTED for m in methods):
                await self._gateway.hit_request(principal.user.id, principal.api_key_id)
        except RateLimitedError as limited:
            note_outcome("rate_limited")
            await _refuse(send, 429, RATE_LIMITED, limited.detail, headers={"retry-after": str(limited.retry_after)},
                          data={"retry_after": limited.retry_after})
            return None
        return principal


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None past `limit` bytes."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the body read already, then whatever comes next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _methods(body: bytes) -> list[str]:
    """The JSON-RPC requests in the body, each as `method` or `tools/call <tool>`; notifications and answers are
    not requests. Only names the server knows are kept (`?` for others): routes are metric labels, and a caller
    must not be able to mint new ones. Unparseable bodies are the SDK's to refuse."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return []
    messages = parsed if isinstance(parsed, list) else [parsed]
    named = []
    for message in messages:
        if not isinstance(message, dict) or "id" not in message or not isinstance(message.get("method"), str):
            continue
        method = message["method"] if message["method"] in METHODS else "?"
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        if method in ("tools/call", "prompts/get"):
            name = params.get("name")
            method += f" {name}" if name in TOOL_NAMES + PROMPT_NAMES else " ?"
        elif method == "resources/read":
            method += " schema" if SCHEMA_URI.fullmatch(str(params.get("uri", ""))) else " ?"
        named.append(method)
    return named


def _base_url(scope: Scope) -> str:
    host = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), None)
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else server[0]
    return f"{scope.get('scheme', 'http')}://{host}"


async def _refuse(send: Send, status: int, code: int, message: str, *, headers: dict[str, str] | None = None,
                  data: dict[str, Any] | None = None) -> None:
    """A JSON-RPC error at an HTTP status: MCP clients show its message (the SDK's does for any 4xx)."""
    error: dict[str, Any] = {"code": code, "message": message} | ({"data": data} if data else {})
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
