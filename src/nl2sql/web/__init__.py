"""Page shell: templates, static assets and the render helper; no domain logic."""

from nl2sql.web.rendering import human_duration, is_htmx, redirect, render, static_files_router, template_config
from nl2sql.web.security import (
    CONTENT_SECURITY_POLICY,
    IMPORT_MAX_BYTES,
    REQUEST_MAX_BYTES,
    SecurityHeaders,
    StaticSwaggerPlugin,
)

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "IMPORT_MAX_BYTES",
    "REQUEST_MAX_BYTES",
    "SecurityHeaders",
    "StaticSwaggerPlugin",
    "human_duration",
    "is_htmx",
    "redirect",
    "render",
    "static_files_router",
    "template_config",
]
