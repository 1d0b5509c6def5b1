"""Logs on stdout: JSON lines for machines, one readable line for a person at a terminal; each with the trace id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from nl2sql.gateway.context import current_trace_id

# attributes every LogRecord has; anything else was passed as `extra=` and goes into the line
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "trace_id"}

# Libraries that talk a lot at info level (job polling, model loading, HTTP clients): warnings only unless debugging.
CHATTY_LOGGERS = (
    "procrastinate", "sentence_transformers", "transformers", "torch", "httpx", "httpcore", "urllib3",
    "huggingface_hub", "filelock", "alembic", "asyncio", "multipart", "python_multipart", "psycopg",
)


class ProductLinesFilter(logging.Filter):
    """The product's own lines at their level; a library's lines below warning (the embedded PostgreSQL's initdb
    and pg_ctl commands, uvicorn's start and stop) count as debug: shown, labelled so, only at level debug."""

    def __init__(self, level: str) -> None:
        super().__init__()
        self._debug = level.lower() == "debug"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or record.name == "nl2sql" or record.name.startswith("nl2sql."):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self._debug


class TraceIdFilter(logging.Filter):
    """Adds `trace_id` (None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            record.trace_id = current_trace_id()
        return True


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            entry["trace_id"] = trace_id
        entry |= _extras(record)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """One line a person reads: local time, level, module, message (extras as key=value after it)."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        module = record.name.removeprefix("nl2sql.")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{when} {record.levelname:<7} {module:<10} {record.getMessage()}" + (f"  {extras}" if extras else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_format_for(setting: str, stream: TextIO) -> str:
    """`json` or `plain`: the setting, or for `auto` plain lines on a terminal and JSON anywhere else."""
    if setting != "auto":
        return setting
    try:
        return "plain" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def configure_logging(level: str = "info", stream: TextIO | None = None, *, log_format: str = "auto") -> logging.Handler:
    """Send every logger's records to stdout (or `stream`) at `level`, as JSON or plain lines; replaces root handlers.
    Below warning, only the product's own loggers (nl2sql.*) speak unless `level` is debug."""
    stream = stream or sys.stdout
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PlainFormatter() if log_format_for(log_format, stream) == "plain" else JsonFormatter())
    handler.addFilter(ProductLinesFilter(level))
    handler.addFilter(TraceIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print plain text; let its records reach ours
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    quiet = logging.NOTSET if level.lower() == "debug" else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    return handler
