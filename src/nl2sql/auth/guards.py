"""Who is asking: the request's principal (session cookie for pages, bearer key for the API) and guards."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from nl2sql.auth.dto import Principal, User
from nl2sql.errors import AppError, ForbiddenError, UnauthorizedError

SESSION_COOKIE = "nl2sql_session"


class LoginRequired(UnauthorizedError):
    """No valid session or key; pages answer with a redirect to /login, the API with 401."""


def is_api_path(path: str) -> bool:
    """Paths that authenticate with API keys only, never a browser's cookie: the REST API and the MCP endpoint."""
    return path.startswith("/api/") or path == "/mcp" or path.startswith("/mcp/")


class AuthMiddleware:
    """Resolve the principal once per request into scope["user"] / scope["auth"]; guards decide."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["user"] = None
            scope["auth"] = None
            service = scope["litestar_app"].state.auth
            path = scope.get("path", "")
            if is_api_path(path):
                header = _header(scope, b"authorization")
                if header is None:
                    scope["auth"] = UnauthorizedError(
                        "missing API key: send `Authorization: Bearer <key>` (create one on /account)"
                    )
                elif not header.lower().startswith("bearer ") or not header[7:].strip():
                    scope["auth"] = UnauthorizedError("the Authorization header must be `Bearer <key>`")
                else:
                    try:
                        principal = await service.resolve_api_key(header[7:].strip())
                        scope["user"], scope["auth"] = principal.user, principal
                    except AppError as exc:
                        scope["auth"] = exc
            else:
                token = _cookie(scope, SESSION_COOKIE)
                if token:
                    principal = await service.resolve_session(token)
                    if principal is not None:
                        scope["user"], scope["auth"] = principal.user, principal
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def principal_of(connection: ASGIConnection) -> Principal | None:
    auth = connection.scope.get("auth")
    return auth if isinstance(auth, Principal) else None


def current_user(connection: ASGIConnection) -> User:
    """The authenticated user; raises like the guards when there is none."""
    user = connection.scope.get("user")
    if user is None:
        auth = connection.scope.get("auth")
        if isinstance(auth, UnauthorizedError):
            raise auth
        raise LoginRequired("log in first")
    return user


def requires_user(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: any active user (pages: via session; API: via key)."""
    current_user(connection)


def requires_admin(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: admins only; analysts get 403."""
    if not current_user(connection).is_admin:
        raise ForbiddenError("this needs the admin role")


def optional_user(connection: ASGIConnection) -> Any:
    return connection.scope.get("user")
