"""The OpenAI-compatible backend against a small scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nl2sql.errors import BusyError, UnavailableError
from nl2sql.inference import (
    GenerationParams,
    Message,
    OpenAICompatibleChatModel,
    UnsupportedFeature,
    build_chat_model,
    sql_grammar,
)
from nl2sql.settings import InferenceSettings

API_KEY = "sk-test-very-secret-key"


def completion(text: str, *, chat: bool = True) -> dict:
    choice = {"index": 0, "finish_reason": "stop"}
    choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
    return {"id": "x", "object": "chat.completion", "choices": [choice], "usage": {"prompt_tokens": 11, "completion_tokens": 3}}


class ScriptedServer:
    """Answers each request with the next scripted reply: (status, body) or "drop" to close the connection."""

    def __init__(self) -> None:
        self.replies: list = []
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                if reply == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, payload = reply
                if isinstance(payload, list):  # server-sent events
                    data = "".join(f"data: {json.dumps(e) if not isinstance(e, str) else e}\n\n" for e in payload)
                    self._send(status, data.encode(), "text/event-stream")
                elif isinstance(payload, (dict, int)):
                    self._send(status, json.dumps(payload).encode(), "application/json")
                else:
                    self._send(status, payload.encode(), "text/plain")

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.close()


def model_for(server: ScriptedServer, **overrides) -> OpenAICompatibleChatModel:
    settings = InferenceSettings(base_url=server.url, model="sqlcoder", api_key=API_KEY, retries=2, **overrides)
    return OpenAICompatibleChatModel(settings, backoff_seconds=0.01)


async def test_settings_with_a_base_url_build_this_backend(server: ScriptedServer) -> None:
    model = build_chat_model(InferenceSettings(base_url=server.url))
    assert isinstance(model, OpenAICompatibleChatModel)
    await model.close()


async def test_chat_sends_model_key_and_params_and_meters_usage(server: ScriptedServer) -> None:
    server.replies = [(200, completion("SELECT 1"))]
    model = model_for(server)
    generation = await model.chat([Message("user", "one?")], GenerationParams(max_tokens=7, stop=(";",), seed=3))
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert sent["body"]["model"] == "sqlcoder" and sent["body"]["max_tokens"] == 7 and sent["body"]["stop"] == [";"]
    assert generation.text == "SELECT 1"
    assert generation.metering.prompt_tokens == 11 and generation.metering.completion_tokens == 3
    assert generation.metering.backend == "openai" and generation.finish_reason == "stop"
    await model.close()


async def test_completion_uses_the_completions_endpoint(server: ScriptedServer) -> None:
    server.replies = [(200, completion(" name FROM t", chat=False))]
    model = model_for(server)
    generation = await model.complete("SELECT")
    assert server.requests[0]["path"] == "/v1/completions" and server.requests[0]["body"]["prompt"] == "SELECT"
    assert generation.text == " name FROM t"
    await model.close()


async def test_retries_after_5xx_and_dropped_connections(server: ScriptedServer) -> None:
    server.replies = [(503, "overloaded"), "drop", (200, completion("SELECT 2"))]
    model = model_for(server)
    generation = await model.chat([Message("user", "two?")])
    assert generation.text == "SELECT 2" and len(server.requests) == 3
    await model.close()


async def test_gives_up_after_the_retries_with_unavailable(server: ScriptedServer) -> None:
    server.replies = [(500, "boom")]
    model = model_for(server)
    with pytest.raises(UnavailableError, match="3 attempts"):
        await model.chat([Message("user", "x")])
    assert len(server.requests) == 3
    await model.close()


async def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    model = OpenAICompatibleChatModel(
        InferenceSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m", retries=1), backoff_seconds=0.01
    )
    with pytest.raises(UnavailableError, match="unreachable"):
        await model.chat([Message("user", "x")])
    await model.close()


@pytest.mark.parametrize(
    "reply",
    [(200, "<html>hello</html>"), (200, {"choices": []}), (200, {"choices": [{"message": {"content": 5}}]})],
    ids=["html", "no-choices", "not-text"],
)
async def test_nonsense_reply_is_unavailable(server: ScriptedServer, reply) -> None:
    server.replies = [reply]
    model = model_for(server)
    with pytest.raises(UnavailableError, match="not an OpenAI-style reply"):
        await model.chat([Message("user", "x")])
    await model.close()


async def test_rate_limit_is_busy_with_retry_after(server: ScriptedServer) -> None:
    server.replies = [(429, {"error": "slow down"})]
    model = model_for(server)
    with pytest.raises(BusyError):
        await model.chat([Message("user", "x")])
    await model.close()


async def test_streams_server_sent_events_with_usage(server: ScriptedServer) -> None:
    events = [
        {"choices": [{"delta": {"content": "SELECT"}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": " 3"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}},
        "[DONE]",
    ]
    server.replies = [(200, events)]
    model = model_for(server)
    chunks = [c async for c in model.stream_chat([Message("user", "three?")])]
    assert [c.text for c in chunks] == ["SELECT", " 3", ""]
    metering = chunks[-1].metering
    assert metering is not None and metering.completion_tokens == 2 and metering.first_token_seconds is not None
    assert server.requests[0]["body"]["stream"] is True
    await model.close()


async def test_stream_retries_before_the_first_chunk(server: ScriptedServer) -> None:
    server.replies = [(502, "bad gateway"), (200, [{"choices": [{"text": "ok", "finish_reason": "stop"}]}, "[DONE]"])]
    model = model_for(server)
    chunks = [c async for c in model.stream_complete("x")]
    assert chunks[0].text == "ok" and len(server.requests) == 2
    await model.close()


async def test_grammar_is_unsupported_without_guided_decoding(server: ScriptedServer) -> None:
    model = model_for(server)
    assert not model.describe().supports_grammar
    with pytest.raises(UnsupportedFeature):
        await model.chat([Message("user", "x")], GenerationParams(grammar=sql_grammar({"t": ["a"]}, "sqlite")))
    assert server.requests == []
    await model.close()


async def test_vllm_guided_decoding_gets_the_grammar_and_json_schema(server: ScriptedServer) -> None:
    server.replies = [(200, completion("SELECT a FROM t"))]
    model = model_for(server, guided_decoding="vllm")
    grammar = sql_grammar({"t": ["a"]}, "sqlite")
    await model.chat([Message("user", "x")], GenerationParams(grammar=grammar))
    await model.chat([Message("user", "x")], GenerationParams(json_schema={"type": "object"}))
    assert server.requests[0]["body"]["guided_grammar"] == grammar.gbnf
    assert server.requests[1]["body"]["guided_json"] == {"type": "object"}
    await model.close()


async def test_json_schema_goes_as_response_format_elsewhere(server: ScriptedServer) -> None:
    server.replies = [(200, completion("{}"))]
    model = model_for(server)
    await model.chat([Message("user", "x")], GenerationParams(json_schema={"type": "object"}))
    assert server.requests[0]["body"]["response_format"]["json_schema"]["schema"] == {"type": "object"}
    await model.close()


async def test_model_name_and_context_come_from_the_server_list(server: ScriptedServer) -> None:
    server.replies = [(200, {"data": [{"id": "qwen-coder", "max_model_len": 8192}]}), (200, completion("SELECT 1"))]
    model = OpenAICompatibleChatModel(InferenceSettings(base_url=server.url), backoff_seconds=0.01)
    info = await model.info()
    assert info.model == "qwen-coder" and info.context_size == 8192 and not info.exact_token_count
    await model.chat([Message("user", "x")])
    assert server.requests[1]["body"]["model"] == "qwen-coder"
    await model.close()


async def test_api_key_never_appears_in_repr_or_logs(server: ScriptedServer, caplog) -> None:
    server.replies = [(500, "boom")]
    settings = InferenceSettings(base_url=server.url, model="m", api_key=API_KEY, retries=1)
    model = OpenAICompatibleChatModel(settings, backoff_seconds=0.01)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UnavailableError) as caught:
        await model.chat([Message("user", "x")])
    for text in (repr(model), repr(settings), str(caught.value), caplog.text, repr(model.describe())):
        assert API_KEY not in text
    await model.close()
