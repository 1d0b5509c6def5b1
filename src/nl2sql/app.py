"""The composition root: builds settings, database, services and routes into one Litestar app."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.fernet import Fernet
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.response import Redirect, Template

from nl2sql import audit, auth, gateway, inference
from nl2sql import answers, catalog, evaluation, mcp, retrieval, semantics
from nl2sql.db import AppDatabase, migration_state
from nl2sql.errors import AppError, StartupError
from nl2sql.services import Services, open_services
from nl2sql.settings import Settings
from nl2sql.web import REQUEST_MAX_BYTES, SecurityHeaders, StaticSwaggerPlugin, is_htmx, static_files_router, template_config

log = logging.getLogger("nl2sql.app")

PROBLEM = "application/problem+json"
SWAGGER = "/static/vendor/swagger-ui-5.35.0"


def resolve_secret_key(settings: Settings) -> str:
    """The configured secret, or (embedded database only) one generated once into the data dir."""
    key = settings.server.secret_key
    if key:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise StartupError(
                "NL2SQL_SECRET_KEY must be a Fernet key (urlsafe base64 of 32 bytes): `nl2sql secret-key` prints one"
            ) from None
        return key
    if settings.database.url:
        raise StartupError(
            "NL2SQL_SECRET_KEY is required with NL2SQL_DATABASE_URL (it encrypts stored credentials and must be the "
            "same in every container): `nl2sql secret-key` prints a new one"
        )
    path = Path(settings.database.data_dir) / "secret.key"
    try:
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
        return path.read_text().strip()
    except OSError as exc:
        raise StartupError(
            f"the data dir {settings.database.data_dir} can't hold the secret key ({exc.strerror}): make it a "
            "writable folder with free space (NL2SQL_DATA_DIR; in a container, a mounted volume)"
        ) from None


def _problem(status: int, title: str, detail: str, extra: dict | None = None, headers: dict | None = None) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail} | (extra or {})
    return Response(content=body, status_code=status, media_type=PROBLEM, headers=headers)


def _page_error(request: Request, status: int, title: str, detail: str, headers: dict | None = None) -> Response:
    context = {"status": status, "title": title, "detail": detail}
    if is_htmx(request):
        # show it in the page's message area, whatever the element that asked
        hx = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"} | (headers or {})
        return Template(template_name="web/_error.html", context=context, status_code=status, headers=hx)
    return Template(template_name="web/error.html", context=context, status_code=status, headers=headers)


async def _templates_are_html(response: Response) -> Response:
    """A page or fragment is HTML whatever its handler's return annotation (Litestar would call it JSON)."""
    if isinstance(response, Template) and response.media_type is None:
        response.media_type = MediaType.HTML
    return response


def handle_app_error(request: Request, exc: AppError) -> Response:
    if isinstance(exc, auth.LoginRequired) and not auth.is_api_path(request.url.path):
        if is_htmx(request):
            return Response(content=b"", status_code=200, headers={"HX-Redirect": "/login"})
        return auth.login_redirect(request)
    if exc.status_code >= 500:
        log.warning("request failed: %s", exc.detail)
    if auth.is_api_path(request.url.path):
        return _problem(exc.status_code, exc.title, exc.detail, exc.extra, exc.headers)
    return _page_error(request, exc.status_code, exc.title, exc.detail, exc.headers)


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail or "request failed"
    extra = {"errors": exc.extra} if isinstance(exc.extra, list | dict) and exc.extra else None
    if exc.status_code == 403 and "CSRF" in detail:
        detail = "the form's security token is missing or stale: reload the page and try again"
    if auth.is_api_path(request.url.path) or request.url.path in ("/healthz", "/readyz"):
        return _problem(exc.status_code, _title(exc.status_code), detail, extra, exc.headers)
    return _page_error(request, exc.status_code, _title(exc.status_code), detail, exc.headers)


def _unstorable(exc: sa.exc.DataError) -> str:
    """What was wrong with a value the app database refused (the request's fault, not the server's)."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "nul" in text and "0x00" in text:
        return "the request holds a NUL character (\\0), which can't be stored: remove it and try again"
    if "out of range" in text:
        return "a number in the request is out of range (ids and counts are 64-bit integers)"
    if "too long" in text:
        return "a value in the request is too long"
    return "a value in the request can't be stored: " + " ".join(text.split())[:160]


APP_DB_DOWN = ("the app database is not reachable right now (it may be restarting): nothing was changed; "
               "try again in a moment")


APP_DB_FULL = ("the app database is out of disk space: nothing was saved; free space in its data dir "
               "(NL2SQL_DATA_DIR, or the external server's disk), then try again")


def _sqlstate(exc: Exception) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")


def _app_database_down(exc: Exception) -> bool:
    """The app database went away under a request (customer databases' failures arrive as AppErrors)."""
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


def handle_unexpected(request: Request, exc: Exception) -> Response:
    if _app_database_down(exc) and _sqlstate(exc) == "53100":  # disk_full
        log.error("app database out of disk space on %s %s", request.method, request.url.path)
        if auth.is_api_path(request.url.path):
            return _problem(507, "Insufficient storage", APP_DB_FULL)
        return _page_error(request, 507, "Insufficient storage", APP_DB_FULL)
    if _app_database_down(exc):
        log.warning("app database unreachable on %s %s: %s", request.method, request.url.path,
                    " ".join(str(getattr(exc, "orig", exc)).split())[:300])
        headers = {"Retry-After": "5"}
        if auth.is_api_path(request.url.path):
            return _problem(503, "Service unavailable", APP_DB_DOWN, headers=headers)
        return _page_error(request, 503, "Service unavailable", APP_DB_DOWN, headers)
    if isinstance(exc, sa.exc.DataError):
        detail = _unstorable(exc)
        log.warning("request refused on %s %s: %s", request.method, request.url.path, detail)
        if auth.is_api_path(request.url.path):
            return _problem(400, "Invalid request", detail)
        return _page_error(request, 400, "Invalid request", detail)
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    detail = "something went wrong on our side; the error was logged"
    if auth.is_api_path(request.url.path):
        return _problem(500, "Internal error", detail)
    return _page_error(request, 500, "Internal error", detail)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@get("/healthz", include_in_schema=True, tags=["ops"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["ops"], summary="App database reachable and migrations current")
async def readyz(state: State) -> Response:
    db: AppDatabase = state.db
    if not await db.ping():
        return _problem(503, "Not ready", "the app database is not reachable")
    import anyio

    migrations = await anyio.to_thread.run_sync(migration_state, db.url)
    if not migrations.is_current:
        return _problem(
            503,
            "Not ready",
            f"migrations pending: at {sorted(migrations.current)}, code expects {sorted(migrations.heads)}; "
            "run `nl2sql db upgrade`",
        )
    return Response(content={"status": "ready"}, media_type=MediaType.JSON)


@get("/", include_in_schema=False)
async def home(request: Request) -> Redirect:
    return Redirect(path="/ask" if request.scope.get("user") else "/login")


# handlers' dependency names (Services.provided)
PROVIDED = ("auth_service", "first_run", "catalog_service", "audit_log", "gateway", "chat_model", "retriever",
            "generation_service", "ask_service", "feedback_service", "evaluation_service", "pending_asks", "jobs",
            "server_settings", "sso_service")
# app.state names -> Services fields
_STATE_NAMES = {"auth": "auth_service", "first_run": "first_run", "catalog": "catalog_service", "audit": "audit_log",
                "gateway": "gateway", "chat_model": "chat_model", "retriever": "retriever",
                "generation": "generation_service", "ask": "ask_service", "feedback": "feedback_service",
                "evaluation": "evaluation_service", "pending_asks": "pending_asks", "jobs": "jobs",
                "sso": "sso_service"}

NAV: list[dict[str, Any]] = [
    {"path": "/ask", "label": "Ask", "admin": False},
    {"path": "/history", "label": "History", "admin": False},
    {"path": "/admin/feedback", "label": "Feedback", "admin": True},
    {"path": "/connections", "label": "Connections", "admin": False},
    {"path": "/catalog", "label": "Catalog", "admin": False},
    {"path": "/admin/audit", "label": "Audit", "admin": True},
    {"path": "/admin/identity", "label": "Identity", "admin": True},
    {"path": "/admin/models", "label": "Model", "admin": True},
    {"path": "/admin/evaluations", "label": "Evaluations", "admin": True},
    {"path": "/account", "label": "Account", "admin": False},
    {"path": "/usage", "label": "Usage", "admin": False},
    {"path": "/admin/usage", "label": "All usage", "admin": True},
]


def create_app(
    settings: Settings | None = None,
    *,
    database: AppDatabase | None = None,
    migrate: bool | None = None,
    chat_model: inference.ChatModel | None = None,
    run_jobs: bool = True,
    embedder: retrieval.Embedder | None = None,
) -> Litestar:
    """Build the app; its services (services.open_services) open when the app starts and close when it stops.

    `chat_model` and `embedder` replace the configured ones (tests pass fakes); either way the gateway wraps
    the model so every call is metered and logged.
    """
    settings = settings or Settings.from_env()
    secret_key = resolve_secret_key(settings)
    db = database or AppDatabase(
        settings.database.url, settings.database.data_dir, pool_size=settings.database.pool_size
    )
    state: dict[str, Any] = {"settings": settings, "db": db, "nav": NAV}
    endpoint = mcp.McpEndpoint(settings.mcp)

    @asynccontextmanager
    async def lifespan(app: Litestar):
        async with open_services(settings, db, secret_key, migrate=migrate, chat_model=chat_model,
                                 embedder=embedder, run_jobs=run_jobs) as services:
            app.state.services = services
            # middleware (no dependency injection there) and tests find the services by these names
            for name, value in _STATE_NAMES.items():
                app.state[name] = getattr(services, value)
            async with endpoint.running(services.ask_service, services.catalog_service, services.retriever,
                                        services.gateway, row_cap=settings.engine.row_cap):
                yield

    def provider(name: str) -> Provide:
        def provide(state: State) -> Any:
            services: Services = state.services
            return services.settings.server if name == "server_settings" else getattr(services, name)

        return Provide(provide, sync_to_thread=False)

    app = Litestar(
        route_handlers=[*route_handlers(), endpoint.route()],
        dependencies={name: provider(name) for name in PROVIDED},
        middleware=[auth.AuthMiddleware, auth.SetupRedirect, gateway.RateLimitMiddleware],
        csrf_config=_csrf(settings, secret_key),
        template_config=template_config(),
        exception_handlers={
            AppError: handle_app_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        openapi_config=_openapi(),
        lifespan=[lifespan],
        after_request=_templates_are_html,
        request_max_body_size=REQUEST_MAX_BYTES,  # imports allow more on their own routes
        state=State(state),
        debug=False,
        # logging is configured once by `nl2sql serve` (JSON lines); Litestar must not add its own handler
        logging_config=None,
    )
    # around Litestar's whole handler, so unmatched paths and early errors are recorded too
    app.asgi_handler = SecurityHeaders(gateway.RequestRecording(app.asgi_handler),
                                       form_targets=_identity_provider_origin(settings))
    return app


def _identity_provider_origin(settings: Settings) -> tuple[str, ...]:
    """Single sign-on's provider, where logging out and the test login send a posted form on to."""
    if not settings.auth.sso_enabled:
        return ()
    parts = urlsplit(settings.auth.oidc_issuer or "")
    return (f"{parts.scheme}://{parts.netloc}",)


def route_handlers() -> list[Any]:
    """Every module's routes (API and pages), and the ops endpoints."""
    return [
        healthz,
        readyz,
        home,
        static_files_router(),
        *auth.api_routes,
        *auth.page_routes,
        *gateway.api_routes,
        *gateway.page_routes,
        *inference.api_routes,
        *inference.page_routes,
        *catalog.api_routes,
        *catalog.page_routes,
        *semantics.api_routes,
        *semantics.page_routes,
        *answers.api_routes,
        *answers.page_routes,
        *evaluation.api_routes,
        *evaluation.page_routes,
        audit.routes([auth.requires_admin]),
    ]


def _csrf(settings: Settings, secret_key: str) -> CSRFConfig:
    return CSRFConfig(
        secret=secret_key,
        cookie_name="nl2sql_csrf",
        cookie_secure=settings.server.secure_cookies == "always",
        cookie_httponly=True,
        cookie_samesite="lax",
        header_name="x-csrftoken",
        # the API authenticates with bearer keys, never cookies, so it can't be forged cross-site
        exclude=["^/api/", "^/mcp$", "^/healthz$", "^/readyz$", "^/metrics$", "^/schema"],
    )


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="nl2sql",
        version="0.1.0",
        path="/schema",
        # API keys: "Authorization: Bearer <key>" (Swagger's Authorize button); pages use the session cookie
        components=Components(security_schemes={"apiKey": SecurityScheme(
            type="http", scheme="bearer", bearer_format="nl2sql API key",
            description="An API key from Account → API keys, sent as `Authorization: Bearer <key>`.")}),
        security=[{"apiKey": []}],
        # interactive docs from our own static files: nothing is fetched from a CDN
        render_plugins=[
            StaticSwaggerPlugin(
                init_js_url="/static/swagger-init.js",
                js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                css_url=f"{SWAGGER}/swagger-ui.css",
                standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
                path=["/", "/swagger"],
            ),
            JsonRenderPlugin(),
            YamlRenderPlugin(),
        ],
    )
