"""First run: while no user exists, every page leads to /setup, where the holder of the setup token creates the admin."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Response, Template
from litestar.types import ASGIApp, Receive, Scope, Send

from nl2sql.auth.pages import session_cookie
from nl2sql.auth.service import AuthService
from nl2sql.errors import AppError, NotFoundError, ValidationFailed
from nl2sql.settings import ServerSettings
from nl2sql.web import redirect, render

log = logging.getLogger("nl2sql.auth")

TOKEN_FILE = "setup-token"
# paths that work before the first admin exists: the setup page itself, assets, health, the API (401 without a key)
_OPEN_PREFIXES = ("/setup", "/static/", "/healthz", "/readyz", "/metrics", "/schema", "/api/", "/mcp", "/favicon")


def setup_token(secret_key: str) -> str:
    """The first-run token of every server with this secret key (HMAC, so the key can't be read back from it)."""
    digest = hmac.new(secret_key.encode(), b"nl2sql first-run setup token", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


class FirstRun:
    """Whether the instance still needs its first admin, and the one-time token that proves a right to create it.

    The token is derived from the secret key, so every container sharing an app database (and its key) prints
    the same one and accepts it, whichever one a load balancer sends the setup form to; it is printed in the start
    banner and written to the data dir (mode 0600), so only whoever can read the server's console, files or
    secret key can claim a fresh instance. Once a user exists the file is deleted and /setup answers 404.
    """

    def __init__(self, auth: AuthService, data_dir: Path, secret_key: str) -> None:
        self._auth = auth
        self._path = Path(data_dir) / TOKEN_FILE
        self._secret_key = secret_key
        self._token: str | None = None
        self._done = False

    @property
    def token(self) -> str | None:
        """The setup token while the instance has no user; None after."""
        return None if self._done else self._token

    @property
    def token_path(self) -> Path:
        return self._path

    async def prepare(self) -> str | None:
        """At start: the token (the same after a restart, and on every server with this key) when no user exists,
        written to the data dir for whoever can't see the banner; None once a user exists."""
        if await self._auth.count_users():
            self._finish()
            return None
        self._token = setup_token(self._secret_key)
        try:
            if not self._path.is_file() or self._path.read_text().strip() != self._token:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                partial = self._path.with_name(f".{TOKEN_FILE}.{os.getpid()}")
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(self._token + "\n")
                partial.replace(self._path)
        except OSError as exc:  # the banner still shows it
            log.warning("could not write the setup token to %s: %s", self._path, exc)
        self._done = False
        return self._token

    async def pending(self) -> bool:
        """True while no user exists (asked of the database, since the CLI may create one meanwhile)."""
        if self._done:
            return False
        if await self._auth.count_users():
            self._finish()
            return False
        return self._token is not None

    def check(self, token: str) -> None:
        expected = self.token
        if expected is None or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise ValidationFailed(
                "the setup token is wrong: copy it from the start banner or the file "
                f"{self._path.name} in the data dir"
            )

    def _finish(self) -> None:
        self._done = True
        self._token = None
        try:
            self._path.unlink(missing_ok=True)
        except OSError as exc:  # a read-only data dir must not stop the app; the token is void anyway
            log.warning("could not remove %s: %s", self._path, exc)

    async def completed(self) -> None:
        self._finish()


class SetupRedirect:
    """While the first admin is missing, every page (not the API, MCP, assets or health) answers with a redirect to /setup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("path", "").startswith(_OPEN_PREFIXES):
            first_run: FirstRun | None = scope["litestar_app"].state.get("first_run")
            if first_run is not None and await first_run.pending():
                htmx = any(k == b"hx-request" for k, _ in scope.get("headers", []))
                headers = [(b"hx-redirect", b"/setup")] if htmx else [(b"location", b"/setup")]
                await send({"type": "http.response.start", "status": 200 if htmx else 303,
                            "headers": headers + [(b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


Form = Body(media_type=RequestEncodingType.URL_ENCODED)


class SetupPages(Controller):
    path = "/setup"
    include_in_schema = False

    @get("/")
    async def setup_form(self, request: Request, first_run: FirstRun, auth_service: AuthService) -> Template:
        if not await first_run.pending():
            raise NotFoundError("this instance is set up already: log in at /login")
        return render(request, "auth/setup.html", {"email": "", "error": None,
                                                   "min_length": auth_service.settings.password_min_length})

    @post("/")
    async def setup(
        self, request: Request, auth_service: AuthService, first_run: FirstRun, server_settings: ServerSettings,
        data: Annotated[dict[str, Any], Form],
    ) -> Template | Response:
        if not await first_run.pending():
            raise NotFoundError("this instance is set up already: log in at /login")
        email = str(data.get("email", "")).strip()
        password = str(data.get("password", ""))
        try:
            first_run.check(str(data.get("token", "")))
            if password != str(data.get("confirm_password", "")):
                raise ValidationFailed("the two passwords differ")
            user = await auth_service.create_first_admin(email, password)
        except AppError as exc:
            context = {"email": email, "error": exc.detail, "min_length": auth_service.settings.password_min_length}
            return render(request, "auth/setup.html", context, status_code=exc.status_code)
        await first_run.completed()
        log.info("first admin %s created on the setup page", user.email)
        session = await auth_service.open_session(
            user, client_addr=(request.client.host if request.client else "unknown"),
            user_agent=request.headers.get("user-agent", ""),
        )
        response = redirect(request, "/ask")
        max_age = auth_service.settings.session_max_hours * 3600
        response.cookies.append(session_cookie(request, session.token, max_age=max_age,
                                               secure_cookies=server_settings.secure_cookies))
        return response


