"""Page shell: templates, static assets and the render helper; no domain logic."""

from nl2sql.web.rendering import is_htmx, redirect, render, static_files_router, template_config

__all__ = ["is_htmx", "redirect", "render", "static_files_router", "template_config"]
