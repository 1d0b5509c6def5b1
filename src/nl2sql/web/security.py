"""Security headers on every response, and Swagger UI started from a static file (the CSP allows no inline script)."""

from __future__ import annotations

import html
import json
from typing import Any

from litestar import Request
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# Request bodies: a question, a SQL statement or a form needs little; metadata and golden-query imports more.
REQUEST_MAX_BYTES = 1024 * 1024
IMPORT_MAX_BYTES = 32 * 1024 * 1024

# Scripts only from this origin, never inline or eval'd (charts use Vega's interpreter); styles may be inline
# (htmx, Swagger UI and Vega set style attributes); nothing may frame the app.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def policy_with_form_targets(origins: tuple[str, ...]) -> str:
    """The policy, with forms also allowed to end at these origins: browsers check `form-action` on a form's
    redirects too, and logging out or testing single sign-on posts a form that the app redirects to the identity
    provider."""
    if not origins:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", "form-action 'self' " + " ".join(origins))


class SecurityHeaders:
    """ASGI wrapper: adds the headers above to every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp, *, form_targets: tuple[str, ...] = ()) -> None:
        self.app = app
        policy = (b"content-security-policy", policy_with_form_targets(form_targets).encode())
        self.headers = tuple(policy if name == b"content-security-policy" else (name, value)
                             for name, value in SECURITY_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()),
                                      *(h for h in self.headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StaticSwaggerPlugin(SwaggerRenderPlugin):
    """Swagger UI whose start-up lives in /static/swagger-init.js: it reads the schema's address and the CSRF
    cookie's name from data attributes instead of an inline script."""

    def __init__(self, *, init_js_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_js_url = init_js_url

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        csrf = request.app.csrf_config
        config = {
            "spec_url": request.app.openapi_config.path.rstrip("/") + "/openapi.json",
            "csrf_cookie": csrf.cookie_name if csrf and not csrf.cookie_httponly else None,
            "csrf_header": csrf.header_name if csrf else None,
        }
        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        page = (
            "<!DOCTYPE html><html><head>"
            f"<title>{title}</title><meta charset=\"utf-8\"/>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"
            f"<link href=\"{self.css_url}\" rel=\"stylesheet\">"
            "<link href=\"/static/swagger-page.css\" rel=\"stylesheet\">"
            f"<script src=\"{self.js_url}\"></script>"
            f"<script src=\"{self.standalone_preset_js_url}\"></script>"
            f"<script src=\"{self.init_js_url}\" defer></script>"
            "</head><body>"
            "<nav class=\"back\"><a href=\"/\">← back to nl2sql</a> · send an API key with <em>Authorize</em></nav>"
            f"<div id=\"swagger-container\" data-swagger=\"{html.escape(json.dumps(config))}\"></div>"
            "</body></html>"
        )
        return page.encode()
