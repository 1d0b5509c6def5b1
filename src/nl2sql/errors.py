"""One tree of errors; each knows the HTTP status and the message a person sees."""

from __future__ import annotations

__all__ = [
    "AppError",
    "BusyError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "RateLimitedError",
    "SettingsError",
    "StartupError",
    "UnauthorizedError",
    "UnavailableError",
    "ValidationFailed",
]


class AppError(Exception):
    """Base of every error the product reports to a person or a client."""

    status_code = 500
    title = "Internal error"

    def __init__(self, detail: str, *, extra: dict | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


class ValidationFailed(AppError):
    status_code = 400
    title = "Invalid request"


class UnauthorizedError(AppError):
    status_code = 401
    title = "Not authenticated"


class ForbiddenError(AppError):
    status_code = 403
    title = "Forbidden"


class NotFoundError(AppError):
    status_code = 404
    title = "Not found"


class ConflictError(AppError):
    status_code = 409
    title = "Conflict"


class RateLimitedError(AppError):
    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, extra: dict | None = None) -> None:
        super().__init__(detail, extra=extra, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class BusyError(AppError):
    status_code = 503
    title = "Busy"

    def __init__(self, detail: str, *, retry_after: int = 5, extra: dict | None = None) -> None:
        super().__init__(detail, extra=extra, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class UnavailableError(AppError):
    """A dependency (a customer database, a model server) can't be reached or answered nonsense."""

    status_code = 502
    title = "Upstream unavailable"


class SettingsError(AppError):
    """A setting is invalid; the start stops with this one-line reason."""

    title = "Invalid setting"


class StartupError(AppError):
    """Something the process needs at start is missing (e.g. the vector extension)."""

    title = "Cannot start"
