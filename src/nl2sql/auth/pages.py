"""Pages of the auth module: login, logout, account (password, API keys), user admin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template

from nl2sql.auth.dto import Role
from nl2sql.auth.guards import SESSION_COOKIE, current_user, optional_user, principal_of, requires_admin, requires_user
from nl2sql.auth.service import AuthService
from nl2sql.auth.sso import SsoService
from nl2sql.errors import AppError, RateLimitedError
from nl2sql.settings import AuthSettings, ServerSettings
from nl2sql.web import redirect, render

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


def _safe_next(target: str | None) -> str:
    # only local paths: an open redirect would turn the login page into a phishing tool
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _client(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def redirect_uri(request: Request, settings: AuthSettings) -> str:
    """Single sign-on's callback as registered at the provider: the setting, or this server as the browser reached it."""
    return settings.oidc_redirect_uri or str(request.base_url).rstrip("/") + "/login/sso/callback"


def login_context(sso_service: SsoService, **extra: Any) -> dict[str, Any]:
    """What the login page shows besides the form: the single sign-on button, and whether passwords are on."""
    return {"sso_enabled": sso_service.enabled, "sso_label": sso_service.settings.oidc_button_label,
            "local_login": sso_service.settings.local_login} | extra


def session_cookie(request: Request, value: str, *, max_age: int, secure_cookies: str) -> Cookie:
    """The session cookie; `secure_cookies` (NL2SQL_SECURE_COOKIES) is always, never or auto (when on https)."""
    secure = secure_cookies == "always" or (secure_cookies == "auto" and request.url.scheme == "https")
    return Cookie(
        key=SESSION_COOKIE, value=value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
    )


class LoginPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/login")
    async def login_form(self, request: Request, sso_service: SsoService, next: str | None = None) -> Template | Redirect:
        if optional_user(request) is not None:
            return Redirect(path=_safe_next(next))
        return render(request, "auth/login.html", login_context(sso_service, next=_safe_next(next), email="", error=None))

    @post("/login")
    async def login(
        self, request: Request, auth_service: AuthService, sso_service: SsoService, server_settings: ServerSettings,
        data: Annotated[dict[str, Any], Form],
    ) -> Template | Response:
        email = str(data.get("email", ""))
        target = _safe_next(data.get("next"))
        try:
            _, session = await auth_service.login(
                email,
                str(data.get("password", "")),
                client_addr=_client(request),
                user_agent=request.headers.get("user-agent", ""),
            )
        except AppError as exc:
            headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitedError) else None
            return render(
                request,
                "auth/login.html",
                login_context(sso_service, next=target, email=email[:320], error=exc.detail),
                status_code=exc.status_code,
                headers=headers,
            )
        max_age = int((session.expires_at - datetime.now(UTC)).total_seconds())
        response = redirect(request, target)
        response.cookies.append(session_cookie(request, session.token, max_age=max_age,
                                               secure_cookies=server_settings.secure_cookies))
        return response

    @get("/logout", guards=[requires_user])
    async def logout_form(self, request: Request) -> Template:
        return render(request, "auth/logout.html", {})

    @post("/logout")
    async def logout(self, request: Request, auth_service: AuthService, sso_service: SsoService,
                     server_settings: ServerSettings) -> Response:
        principal = principal_of(request)
        id_token = None
        if principal is not None and principal.session_id is not None:
            id_token = await auth_service.logout(principal.session_id)
        # a single sign-on user leaves the provider too, when it offers end-session (and comes back to /login)
        provider_logout = None
        if principal is not None and principal.user.sso:
            provider_logout = await sso_service.logout_url(str(request.base_url).rstrip("/") + "/login", id_token)
        response = redirect(request, provider_logout or "/login")
        response.cookies.append(session_cookie(request, "", max_age=0, secure_cookies=server_settings.secure_cookies))
        return response


class AccountPages(Controller):
    path = "/account"
    include_in_schema = False
    guards = [requires_user]

    async def _context(self, request: Request, auth_service: AuthService, **extra: Any) -> dict[str, Any]:
        user = current_user(request)
        keys = await auth_service.list_api_keys(user)
        return {"user": user, "keys": keys, "new_key": None, "key_error": None, "pw_message": None,
                "pw_error": None} | extra

    @get("/")
    async def account(self, request: Request, auth_service: AuthService) -> Template:
        return render(request, "auth/account.html", await self._context(request, auth_service))

    @post("/password")
    async def change_password(
        self, request: Request, auth_service: AuthService, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        user = current_user(request)
        message, error, status = "Password changed.", None, 200
        if data.get("new_password") != data.get("confirm_password"):
            message, error, status = None, "the two new passwords differ", 400
        else:
            try:
                principal = principal_of(request)
                ended = await auth_service.change_password(
                    user, str(data.get("current_password", "")), str(data.get("new_password", "")),
                    keep_session=principal.session_id if principal is not None else None)
                if ended:
                    message += f" Your {ended} other session{'s' if ended > 1 else ''} elsewhere {'were' if ended > 1 else 'was'} logged out."
            except AppError as exc:
                message, error, status = None, exc.detail, exc.status_code
        ctx = await self._context(request, auth_service, pw_message=message, pw_error=error)
        return render(request, "auth/account.html", ctx, fragment="auth/_password.html", status_code=status)

    @post("/api-keys")
    async def create_key(
        self, request: Request, auth_service: AuthService, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        user = current_user(request)
        new_key, error, status = None, None, 200
        try:
            expires = _parse_date(data.get("expires_on"))
            new_key = await auth_service.create_api_key(user, name=str(data.get("name", "")), expires_at=expires)
        except AppError as exc:
            error, status = exc.detail, exc.status_code
        ctx = await self._context(request, auth_service, new_key=new_key, key_error=error)
        return render(request, "auth/account.html", ctx, fragment="auth/_api_keys.html", status_code=status)

    @post("/api-keys/{key_id:int}/revoke")
    async def revoke_key(self, request: Request, auth_service: AuthService, key_id: int) -> Template:
        await auth_service.revoke_api_key(current_user(request), key_id)
        ctx = await self._context(request, auth_service)
        return render(request, "auth/account.html", ctx, fragment="auth/_api_keys.html")


def _parse_date(raw: Any) -> datetime | None:
    from nl2sql.errors import ValidationFailed

    if not raw:
        return None
    try:
        day = datetime.strptime(str(raw), "%Y-%m-%d")
    except ValueError:
        raise ValidationFailed("the expiry must be a date like 2027-01-31") from None
    return day.replace(tzinfo=UTC)


class UserAdminPages(Controller):
    path = "/admin/users"
    include_in_schema = False
    guards = [requires_admin]

    async def _context(self, request: Request, auth_service: AuthService, **extra: Any) -> dict[str, Any]:
        return {
            "user": current_user(request),
            "users": await auth_service.list_users(),
            "roles": [r.value for r in Role],
            "message": None,
            "error": None,
            "form": {},
        } | extra

    @get("/")
    async def users(self, request: Request, auth_service: AuthService) -> Template:
        return render(request, "auth/users.html", await self._context(request, auth_service))

    @post("/")
    async def create_user(
        self, request: Request, auth_service: AuthService, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        try:
            created = await auth_service.create_user(
                str(data.get("email", "")),
                str(data.get("password", "")),
                role=str(data.get("role", "analyst")),
                display_name=str(data.get("display_name", "")) or None,
                actor=current_user(request),
            )
            ctx = await self._context(request, auth_service, message=f"Created {created.email}.")
            status = 200
        except AppError as exc:
            form = {k: v for k, v in data.items() if k != "password"}
            ctx = await self._context(request, auth_service, error=exc.detail, form=form)
            status = exc.status_code
        return render(request, "auth/users.html", ctx, fragment="auth/_users.html", status_code=status)

    @post("/{user_id:int}")
    async def update_user(
        self, request: Request, auth_service: AuthService, user_id: int, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        action = data.get("action")
        changes: dict[str, Any] = {}
        if action == "disable":
            changes["is_active"] = False
        elif action == "enable":
            changes["is_active"] = True
        elif action == "role":
            changes["role"] = str(data.get("role", ""))
        elif action == "password":
            changes["password"] = str(data.get("password", ""))
        elif action in ("mcp_on", "mcp_off"):
            changes["mcp_access"] = action == "mcp_on"
        try:
            if not changes:
                from nl2sql.errors import ValidationFailed

                raise ValidationFailed("unknown action")
            changed = await auth_service.update_user(current_user(request), user_id, **changes)
            done = {"disable": "Disabled", "enable": "Enabled", "role": "Changed the role of",
                    "password": "Reset the password of", "mcp_on": "Allowed MCP for",
                    "mcp_off": "Turned MCP off for"}[action]
            ctx = await self._context(request, auth_service, message=f"{done} {changed.email}.")
            status = 200
        except AppError as exc:
            ctx = await self._context(request, auth_service, error=exc.detail)
            status = exc.status_code
        return render(request, "auth/users.html", ctx, fragment="auth/_users.html", status_code=status)


def login_redirect(request: Request) -> Redirect:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(path=f"/login?next={quote(wanted, safe='/')}")


page_routes = [LoginPages, AccountPages, UserAdminPages]
