"""Render full pages or, for htmx requests, just their fragment."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from litestar import MediaType, Request
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Response, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from nl2sql.resources import resource_path


def _configure(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.filters["dt"] = _when
    env.filters["duration"] = human_duration


def human_duration(ms: float | int | None) -> str:
    """Milliseconds as people read a duration: "45 ms", "1.2 s", "5 min 33 s", "2 h 05 min"."""
    if ms is None:
        return ""
    ms = float(ms)
    if ms < 0:
        return "-" + human_duration(-ms)
    if ms < 1:
        return f"{ms:.1f} ms" if ms else "0 ms"
    if ms < 999.5:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    whole = round(seconds)
    minutes, seconds = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _when(value) -> str:
    """A timestamp as pages show it, with its zone (the app stores UTC)."""
    if not value:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%d %H:%M} UTC"


def template_config() -> TemplateConfig:
    return TemplateConfig(
        directory=resource_path("templates"), engine=JinjaTemplateEngine, engine_callback=_configure
    )


def static_files_router():
    return create_static_files_router(path="/static", directories=[resource_path("static")], include_in_schema=False)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    page: str,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    """The full page, or only `fragment` when htmx asked (and a fragment exists)."""
    name = fragment if fragment and is_htmx(request) else page
    return Template(template_name=name, context=dict(context or {}), status_code=status_code, headers=headers,
                    media_type=MediaType.HTML)


def redirect(request: Request, path: str) -> Redirect | Response:
    """Redirect that htmx follows as a full navigation (HX-Redirect) and browsers as a 303."""
    if is_htmx(request):
        # htmx's XHR would follow a 3xx silently; HX-Redirect makes it a real navigation
        return Response(content=b"", status_code=200, headers={"HX-Redirect": path})
    return Redirect(path=path, status_code=303)
