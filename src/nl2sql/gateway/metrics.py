"""Process metrics in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from nl2sql.gateway.recorder import RecorderStats

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MODEL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.series: dict[tuple, list] = {}

    def observe(self, labels: tuple, value: float) -> None:
        entry = self.series.get(labels)
        if entry is None:
            entry = self.series[labels] = [[0] * len(self.buckets), 0.0, 0]
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                entry[0][i] += 1
                break
        entry[1] += value
        entry[2] += 1


class Metrics:
    """Counters and histograms the middleware and LoggedChatModel update; rendered on GET /metrics."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.request_seconds = Histogram(LATENCY_BUCKETS)
        self.model_calls: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.model_tokens: dict[tuple[str, str, str], int] = defaultdict(int)
        self.model_seconds = Histogram(MODEL_BUCKETS)
        self.rate_limited: dict[tuple[str], int] = defaultdict(int)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        self.request_seconds.observe((route,), seconds)

    def observe_model_call(
        self, backend: str, model: str, purpose: str, status: str, prompt: int, completion: int, seconds: float
    ) -> None:
        self.model_calls[(backend, model, purpose, status)] += 1
        self.model_tokens[(model, purpose, "prompt")] += prompt
        self.model_tokens[(model, purpose, "completion")] += completion
        self.model_seconds.observe((model,), seconds)

    def observe_rate_limited(self, limit: str) -> None:
        self.rate_limited[(limit,)] += 1

    def render(self, recorder: RecorderStats | None = None, model: object | None = None) -> str:
        """The exposition text; `model` is the inference ModelStatus (queue depth, busy slots) when known."""
        out: list[str] = []
        _counter(out, "nl2sql_http_requests_total", "HTTP requests by route and status.",
                 ("method", "route", "status"), self.requests.items())
        _histogram(out, "nl2sql_http_request_duration_seconds", "HTTP request latency by route.", ("route",),
                   self.request_seconds)
        _counter(out, "nl2sql_http_rate_limited_total", "Requests and model calls refused by a rate limit or quota.",
                 ("limit",), self.rate_limited.items())
        _counter(out, "nl2sql_model_calls_total", "Model calls by backend, model, purpose and status.",
                 ("backend", "model", "purpose", "status"), self.model_calls.items())
        errors = defaultdict(int)
        for (backend, model_name, _, status), count in self.model_calls.items():
            if status != "ok":
                errors[(backend, model_name)] += count
        _counter(out, "nl2sql_model_errors_total", "Model calls that failed (error, timeout or quota).",
                 ("backend", "model"), errors.items())
        _counter(out, "nl2sql_model_tokens_total", "Model tokens by model, purpose and kind (prompt, completion).",
                 ("model", "purpose", "kind"), self.model_tokens.items())
        _histogram(out, "nl2sql_model_call_duration_seconds", "Model call duration (queue included).", ("model",),
                   self.model_seconds)
        if model is not None:
            labels = (("backend", getattr(model, "backend", "")), ("model", getattr(model, "model", "")))
            for name, help_text, value in (
                ("nl2sql_model_queue_depth", "Model requests waiting for a free slot.", model.queue_depth),
                ("nl2sql_model_busy_slots", "Model slots generating now.", model.busy),
                ("nl2sql_model_slots", "Model slots configured.", model.slots),
            ):
                _gauge(out, name, help_text, labels, value)
        if recorder is not None:
            _gauge(out, "nl2sql_gateway_buffered_records", "Records waiting to be written to the app database.", (),
                   recorder.buffered)
            _gauge(out, "nl2sql_gateway_buffer_capacity", "Records the buffer holds before dropping.", (),
                   recorder.capacity)
            _single_counter(out, "nl2sql_gateway_records_written_total", "Records written to the app database.",
                            recorder.written)
            _single_counter(out, "nl2sql_gateway_records_dropped_total",
                            "Records dropped because the buffer was full.", recorder.dropped)
            _single_counter(out, "nl2sql_gateway_write_failures_total", "Failed batch writes (retried).",
                            recorder.write_failures)
        return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + text + "}" if text else ""


def _number(value: float) -> str:
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(value)


def _counter(out, name, help_text, names, items) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} counter")
    for values, count in sorted(items):
        out.append(f"{name}{_labels(zip(names, values))} {count}")


def _single_counter(out, name, help_text, value) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} counter")
    out.append(f"{name} {value}")


def _gauge(out, name, help_text, labels, value) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} gauge")
    out.append(f"{name}{_labels(labels)} {_number(value)}")


def _histogram(out, name, help_text, names, histogram: Histogram) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} histogram")
    for values, (buckets, total, count) in sorted(histogram.series.items()):
        pairs = list(zip(names, values))
        cumulative = 0
        for bound, n in zip(histogram.buckets, buckets):
            cumulative += n
            out.append(f"{name}_bucket{_labels(pairs + [('le', _number(float(bound)))])} {cumulative}")
        out.append(f"{name}_bucket{_labels(pairs + [('le', '+Inf')])} {count}")
        out.append(f"{name}_sum{_labels(pairs)} {_number(float(total))}")
        out.append(f"{name}_count{_labels(pairs)} {count}")
