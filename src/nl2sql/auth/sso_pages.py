"""Pages of single sign-on: the login's round trip to the identity provider, and /admin/identity (what the settings
say, a test login, group mappings)."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Response, Template

from nl2sql.auth.dto import Role
from nl2sql.auth.guards import current_user, optional_user, requires_admin
from nl2sql.auth.pages import _client, _safe_next, login_context, redirect_uri, session_cookie
from nl2sql.auth.sso import SsoService
from nl2sql.errors import AppError, ForbiddenError, UnauthorizedError
from nl2sql.settings import AuthSettings, ServerSettings
from nl2sql.web import redirect, render

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
# the login's state, in the browser that began it: a callback URL carried to another browser (an attacker's own
# code and state, sent to a victim to log them in as the attacker) finds no such cookie and is refused
STATE_COOKIE = "nl2sql_sso_state"
STATE_COOKIE_PATH = "/login/sso"


def _state_cookie(request: Request, state: str, secure_cookies: str) -> Cookie:
    secure = secure_cookies == "always" or (secure_cookies == "auto" and request.url.scheme == "https")
    # Lax: sent on the provider's top-level redirect back to the callback, never on cross-site subrequests
    return Cookie(key=STATE_COOKIE, value=state, max_age=600 if state else 0, path=STATE_COOKIE_PATH,
                  httponly=True, samesite="lax", secure=secure)


def _to_provider(request: Request, url: str, state: str, secure_cookies: str) -> Response:
    response = redirect(request, url)
    response.cookies.append(_state_cookie(request, state, secure_cookies))
    return response


class SsoLoginPages(Controller):
    path = "/login/sso"
    include_in_schema = False

    @get("/")
    async def start(self, request: Request, sso_service: SsoService, server_settings: ServerSettings,
                    next: str | None = None) -> Response | Template:
        try:
            url, state = await sso_service.begin(redirect_uri(request, sso_service.settings),
                                                 next_path=_safe_next(next))
        except AppError as exc:
            return _login_error(request, sso_service, exc, _safe_next(next))
        return _to_provider(request, url, state, server_settings.secure_cookies)

    @get("/callback")
    async def callback(
        self, request: Request, sso_service: SsoService, server_settings: ServerSettings,
        # `state` is Litestar's own name for the app state: the provider's parameter is read by its query name
        oidc_state: Annotated[str | None, Parameter(query="state")] = None,
        code: str | None = None, error: str | None = None, error_description: str | None = None,
    ) -> Response | Template:
        bound = request.cookies.get(STATE_COOKIE)
        if oidc_state and not error and (not bound or not secrets.compare_digest(bound, oidc_state)):
            return _login_error(request, sso_service, UnauthorizedError(
                "this login was begun in another browser (or its cookie expired): start the login again"), "/")
        try:
            outcome = await sso_service.finish(
                state=oidc_state, code=code, error=error, error_description=error_description,
                client_addr=_client(request), user_agent=request.headers.get("user-agent", ""))
        except AppError as exc:
            return _login_error(request, sso_service, exc, "/")
        if outcome.purpose == "test":
            user = optional_user(request)
            if user is None or not user.is_admin:
                return _login_error(request, sso_service, ForbiddenError("a test login's result is for admins only"), "/")
            page = render(request, "auth/identity_test.html", {"user": user, "outcome": outcome})
            page.cookies.append(_state_cookie(request, "", server_settings.secure_cookies))
            return page
        assert outcome.session is not None
        max_age = int((outcome.session.expires_at - datetime.now(UTC)).total_seconds())
        response = Redirect(path=_safe_next(outcome.next_path), status_code=303)
        response.cookies.append(session_cookie(request, outcome.session.token, max_age=max_age,
                                               secure_cookies=server_settings.secure_cookies))
        response.cookies.append(_state_cookie(request, "", server_settings.secure_cookies))
        return response


def _login_error(request: Request, sso_service: SsoService, exc: AppError, target: str) -> Template:
    return render(request, "auth/login.html", login_context(sso_service, next=target, email="", error=exc.detail),
                  status_code=exc.status_code if exc.status_code >= 400 else 401)


def _shown_settings(settings: AuthSettings) -> list[tuple[str, str]]:
    """Every identity setting by its variable, secrets shown only as set or not."""
    rows = []
    for f in dataclasses.fields(settings):
        env = f.metadata["env"]
        if not (env.startswith("NL2SQL_OIDC_") or env in ("NL2SQL_LOCAL_LOGIN", "NL2SQL_BOOTSTRAP_ADMIN_EMAIL")):
            continue
        value = getattr(settings, f.name)
        if f.metadata["secret"]:
            shown = "(set)" if value else "(unset)"
        elif value is None or value == "":
            shown = "(unset)"
        else:
            shown = str(value).lower() if isinstance(value, bool) else str(value)
        rows.append((env, shown))
    return rows


class IdentityAdminPages(Controller):
    path = "/admin/identity"
    include_in_schema = False
    guards = [requires_admin]

    async def _context(self, request: Request, sso_service: SsoService, **extra: Any) -> dict[str, Any]:
        return {
            "user": current_user(request),
            "sso_enabled": sso_service.enabled,
            "settings_rows": _shown_settings(sso_service.settings),
            "callback": redirect_uri(request, sso_service.settings),
            "mappings": await sso_service.mappings(),
            "roles": [r.value for r in Role],
            "message": None,
            "error": None,
        } | extra

    @get("/")
    async def identity(self, request: Request, sso_service: SsoService) -> Template:
        return render(request, "auth/identity.html", await self._context(request, sso_service))

    @post("/test")
    async def test_login(self, request: Request, sso_service: SsoService,
                         server_settings: ServerSettings) -> Response | Template:
        try:
            url, state = await sso_service.begin(redirect_uri(request, sso_service.settings),
                                                 next_path="/admin/identity", purpose="test")
        except AppError as exc:
            ctx = await self._context(request, sso_service, error=exc.detail)
            return render(request, "auth/identity.html", ctx, status_code=exc.status_code)
        return _to_provider(request, url, state, server_settings.secure_cookies)

    @post("/mappings")
    async def add_mapping(self, request: Request, sso_service: SsoService,
                          data: Annotated[dict[str, Any], Form]) -> Template:
        try:
            added = await sso_service.add_mapping(
                current_user(request), str(data.get("group", "")), role=str(data.get("role", "")) or None,
                connections=str(data.get("connections", "")).split(","))
            ctx = await self._context(request, sso_service, message=f"Mapped the group {added.group}.")
            status = 200
        except AppError as exc:
            ctx = await self._context(request, sso_service, error=exc.detail)
            status = exc.status_code
        return render(request, "auth/identity.html", ctx, fragment="auth/_mappings.html", status_code=status)

    @post("/mappings/{mapping_id:int}/delete")
    async def remove_mapping(self, request: Request, sso_service: SsoService, mapping_id: int) -> Template:
        try:
            await sso_service.remove_mapping(current_user(request), mapping_id)
            ctx = await self._context(request, sso_service, message="Removed the mapping.")
            status = 200
        except AppError as exc:
            ctx = await self._context(request, sso_service, error=exc.detail)
            status = exc.status_code
        return render(request, "auth/identity.html", ctx, fragment="auth/_mappings.html", status_code=status)


sso_routes = [SsoLoginPages, IdentityAdminPages]
