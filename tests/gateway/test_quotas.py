"""Rate limits and token quotas trip at the limit with a clear 429 and reset with the next window."""

from __future__ import annotations

import pytest

from nl2sql.errors import RateLimitedError
from nl2sql.gateway import ManualClock, RequestContext, request_context
from nl2sql.inference import FakeChatModel
from nl2sql.settings import GatewaySettings
from tests.conftest import with_section
from tests.gateway.conftest import flushed, rows
from tests.support import ANALYST_PASSWORD, bearer, login


@pytest.fixture
def settings(settings):
    return with_section(settings, gateway=GatewaySettings(requests_per_minute=3, tokens_per_day=20))


@pytest.fixture
def clock(client) -> ManualClock:
    clock = ManualClock()
    client.app.state.gateway.quotas.clock = clock
    return clock


async def test_requests_over_the_per_minute_limit_get_429_until_the_next_minute(client, analyst_key, clock):
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code == 200
    refused = await client.get("/api/v1/me", headers=bearer(analyst_key))
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == "rate limit reached: your account may make 3 requests per minute; try again in 60 s"
    assert refused.headers["retry-after"] == "60"
    clock.advance(seconds=59)
    assert (await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code == 429
    clock.advance(seconds=1)
    assert (await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code == 200


async def test_unauthenticated_requests_are_not_counted(client, clock):
    for _ in range(5):
        assert (await client.get("/healthz")).status_code == 200


async def test_page_actions_of_logged_in_users_are_limited_with_a_visible_error(client, analyst, clock):
    await login(client, "analyst@example.com", ANALYST_PASSWORD)
    statuses = [(await client.get("/account")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    page = await client.get("/account")
    assert "requests per minute" in page.text


async def test_admin_override_for_an_api_key_applies_before_the_user_default(client, admin, analyst, analyst_key, clock):
    keys = await client.app.state.auth.list_api_keys(analyst)
    await client.app.state.gateway.quotas.set_override(
        admin, "key", keys[0].id, requests_per_minute=1, tokens_per_day=None
    )
    assert (await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code == 200
    refused = await client.get("/api/v1/me", headers=bearer(analyst_key))
    assert refused.status_code == 429
    assert "this API key may make 1 requests per minute" in refused.json()["detail"]


async def test_admin_override_for_a_user_raises_the_limit(client, admin, analyst, analyst_key, clock):
    await client.app.state.gateway.quotas.set_override(admin, "user", analyst.id, requests_per_minute=10, tokens_per_day=None)
    statuses = [(await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert (await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code == 429


async def test_token_quota_trips_at_the_limit_and_resets_the_next_day(client, analyst, clock, app_sql):
    gateway = client.app.state.gateway
    model = gateway.wrap(FakeChatModel(["five words in this reply"]))
    with request_context(RequestContext(trace_id="q" * 32, user_id=analyst.id)):
        await model.complete("one two three four five")  # 10 tokens
        await model.complete("one two three four five")  # 20 tokens: at the limit
        with pytest.raises(RateLimitedError) as refused:
            await model.complete("one")
        assert "token quota used up" in refused.value.detail
        assert "20 model tokens per day (20 used)" in refused.value.detail
        status = await gateway.quotas.status("user", analyst.id)
        assert (status.tokens_today, status.tokens_left) == (20, 0)
        clock.advance(days=1)
        await model.complete("again")
    await flushed(client)
    statuses = [r.status for r in rows(app_sql, "SELECT status FROM gateway_model_calls ORDER BY at")]
    assert sorted(statuses) == ["ok", "ok", "ok", "quota"]


async def test_quota_override_rejects_negative_limits(client, admin, analyst):
    from nl2sql.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        await client.app.state.gateway.quotas.set_override(
            admin, "user", analyst.id, requests_per_minute=-1, tokens_per_day=None
        )


async def test_the_retention_job_running_mid_minute_keeps_the_current_counters(client, analyst_key, clock):
    # the hourly purge runs by the real clock whenever the worker picks it up: the current window must survive it
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code == 200
    await client.app.state.gateway.purge_expired()
    assert (await client.get("/api/v1/me", headers=bearer(analyst_key))).status_code == 429


async def test_a_limit_or_key_number_written_in_other_digits_is_a_validation_error():
    """ "³" is a digit to Python's isdigit() and no number to int(): a visible error, not a 500."""
    from nl2sql.errors import ValidationFailed
    from nl2sql.gateway.pages import _limit, _subject

    with pytest.raises(ValidationFailed):
        _limit("³")
    with pytest.raises(ValidationFailed):
        await _subject(None, "key", "³")  # type: ignore[arg-type]
    assert _limit("1,000") == 1000
