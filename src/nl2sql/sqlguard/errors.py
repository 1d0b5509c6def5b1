"""Errors the guard and the executor raise, each with a message a person understands."""

from __future__ import annotations

from nl2sql.errors import AppError, ValidationFailed

__all__ = ["QueryFailed", "QueryTimeout", "SqlRefused"]


class SqlRefused(ValidationFailed):
    """The SQL is not a single read-only query over the connection's allowed tables."""

    title = "SQL refused"


class QueryFailed(AppError):
    """The database rejected or failed the statement; `detail` carries its own message."""

    status_code = 422
    title = "Query failed"


class QueryTimeout(AppError):
    """The statement ran past its time limit and was stopped by the database."""

    status_code = 504
    title = "Query timed out"
