"""The retention job clears bodies past their period, then deletes records past theirs, and nothing else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from nl2sql.gateway import ModelCallRecord, RequestRecord, SqlRecordStore
from nl2sql.settings import GatewaySettings
from tests.conftest import with_section
from tests.gateway.conftest import rows

# in the future: the app's own periodic purge (running on the real clock in the worker) must find
# nothing due among these records, so only the purge this test calls decides
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1000)


@pytest.fixture
def settings(settings):
    return with_section(settings, gateway=GatewaySettings(body_retention_days=7, record_retention_days=30))


def _call(age: timedelta, name: str) -> ModelCallRecord:
    return ModelCallRecord(
        id=uuid.uuid4(), trace_id=name, at=NOW - age, user_id=1, api_key_id=None, connection="demo",
        purpose="generate", backend="fake", model="m", prompt_tokens=1, completion_tokens=1, queue_ms=0.0,
        ttft_ms=1.0, duration_ms=2.0, tokens_per_s=1.0, finish_reason="stop", status="ok",
        prompt=f"prompt {name}", completion=f"completion {name}",
    )


def _request(age: timedelta, name: str) -> RequestRecord:
    return RequestRecord(
        trace_id=name, at=NOW - age, user_id=1, api_key_id=None, client_addr="127.0.0.1", method="GET",
        route="/healthz", status=200, duration_ms=1.0,
    )


async def test_retention_deletes_what_is_due_and_nothing_else(client, app_sql):
    gateway = client.app.state.gateway
    ages = {
        "fresh": timedelta(days=1),
        "body-due": timedelta(days=7, seconds=1),
        "almost-due": timedelta(days=29, hours=23),
        "record-due": timedelta(days=30, seconds=1),
        "ancient": timedelta(days=400),
    }
    await SqlRecordStore(client.app.state.db.engine).write(
        [_request(age, name) for name, age in ages.items()], [_call(age, name) for name, age in ages.items()]
    )
    result = await gateway.purge_expired(NOW)
    assert (result.requests_deleted, result.model_calls_deleted) == (2, 2)
    assert result.bodies_cleared == 4  # bodies go first, including those of records deleted next
    calls = {r.trace_id: (r.prompt, r.completion) for r in rows(app_sql, "SELECT * FROM gateway_model_calls")}
    assert calls == {
        "fresh": ("prompt fresh", "completion fresh"),
        "body-due": (None, None),
        "almost-due": (None, None),
    }
    requests = sorted(r.trace_id for r in rows(app_sql, "SELECT trace_id FROM gateway_requests WHERE route = '/healthz'"))
    assert requests == ["almost-due", "body-due", "fresh"]


async def test_retention_runs_as_a_periodic_job(client):
    tasks = client.app.state.jobs.app.periodic_registry.periodic_tasks
    assert [task.task.name for task in tasks.values() if task.task.name.startswith("gateway:")] == ["gateway:purge"]
