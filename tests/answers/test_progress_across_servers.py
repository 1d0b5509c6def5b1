"""The ask page's progress polls behind a load balancer: a question taken by one server is polled on another, which
answers from the app database (its stages, then the answer, or the error); a server that stops mid-question
records it as stopped, so the page's polls end with a message instead of waiting forever."""

from __future__ import annotations

import asyncio
import re

import pytest

from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings, EngineSettings
from tests.answers.test_pages import ORDERS_BY_STATUS
from tests.conftest import with_section
from tests.support import ADMIN_PASSWORD, form_post, login

HX = {"HX-Request": "true"}


def _app(settings, model):
    from nl2sql.app import create_app

    engine = EngineSettings(generators="model_sql", model_when="always", answer_cache=0)
    return create_app(with_section(settings, catalog=CatalogSettings(demo=False), engine=engine), chat_model=model)


@pytest.fixture
async def other(settings):
    """A second server on the same app database and secret key (its own model, memory and job worker)."""
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=_app(settings, FakeChatModel([ORDERS_BY_STATUS])),
                               base_url="http://testserver.local") as test_client:
        yield test_client


async def _poll_until_done(client, token: str) -> str:
    for _ in range(200):
        text = (await client.get(f"/ask/progress/{token}", headers=HX)).text
        if "progress-card" not in text:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError("the answer never came")


async def test_a_question_asked_on_one_server_is_polled_to_its_answer_on_another(
        client, other, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    other.cookies = client.cookies
    script.append(ORDERS_BY_STATUS)
    started = await form_post(client, "/ask", {"question": "Orders per status?", "connection": "shop"}, page="/ask",
                              htmx=True)
    token = re.search(r'hx-get="/ask/progress/([^"]+)"', started.text).group(1)
    answer = await _poll_until_done(other, token)
    assert 'data-answer-id="' in answer and '<span class="kw">SELECT</span>' in answer, answer
    assert "Orders per status?" in answer
    # the same fragment as the server that answered would give
    assert re.search(r'data-answer-id="(\d+)"', answer).group(1) == re.search(
        r'data-answer-id="(\d+)"', await _poll_until_done(client, token)).group(1)


async def test_an_error_reaches_the_other_server_too(client, other, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    other.cookies = client.cookies
    script.extend(["DROP TABLE orders"] * 3)
    started = await form_post(client, "/ask", {"question": "How many orders are there?", "connection": "shop"}, page="/ask",
                              htmx=True)
    token = re.search(r'hx-get="/ask/progress/([^"]+)"', started.text).group(1)
    shown = await _poll_until_done(other, token)
    assert "No valid SQL" in shown and "What was tried (2 attempts)" in shown and "Traceback" not in shown


async def test_another_users_token_is_not_found_on_any_server(client, other, shop_connection, admin, analyst, script):
    from tests.support import ANALYST_PASSWORD

    await login(client, admin.email, ADMIN_PASSWORD)
    started = await form_post(client, "/ask", {"question": "Orders per status?", "connection": "shop"}, page="/ask",
                              htmx=True)
    token = re.search(r'hx-get="/ask/progress/([^"]+)"', started.text).group(1)
    await login(other, analyst.email, ANALYST_PASSWORD)
    assert (await other.get(f"/ask/progress/{token}", headers=HX)).status_code == 404
    assert (await other.get("/ask/progress/never-issued", headers=HX)).status_code == 404


async def test_a_server_that_stops_mid_question_records_it_as_stopped(settings, other, shop_connection, admin):
    from litestar.testing import AsyncTestClient

    slow = FakeChatModel([ORDERS_BY_STATUS], delay=30)
    async with AsyncTestClient(app=_app(settings, slow), base_url="http://testserver.local") as leaving:
        await login(leaving, admin.email, ADMIN_PASSWORD)
        other.cookies = leaving.cookies
        started = await form_post(leaving, "/ask", {"question": "Orders per status?", "connection": "shop"},
                                  page="/ask", htmx=True)
        token = re.search(r'hx-get="/ask/progress/([^"]+)"', started.text).group(1)
        await asyncio.sleep(0.3)
        assert "progress-card" in (await other.get(f"/ask/progress/{token}", headers=HX)).text  # still working
    # that server shut down (its lifespan closed) with the model still thinking
    shown = await _poll_until_done(other, token)
    assert "Stopped" in shown and "ask it again" in shown


async def test_a_question_cancelled_on_another_server_stops_on_the_one_answering_it(settings, other, shop_connection,
                                                                                    admin):
    from litestar.testing import AsyncTestClient

    slow = FakeChatModel([ORDERS_BY_STATUS], delay=30)
    async with AsyncTestClient(app=_app(settings, slow), base_url="http://testserver.local") as answering:
        await login(answering, admin.email, ADMIN_PASSWORD)
        other.cookies = answering.cookies
        started = await form_post(answering, "/ask", {"question": "Orders per status?", "connection": "shop"},
                                  page="/ask", htmx=True)
        token = re.search(r'hx-get="/ask/progress/([^"]+)"', started.text).group(1)
        await asyncio.sleep(0.3)
        cancelled = await form_post(other, f"/ask/progress/{token}/cancel", {}, page="/ask", htmx=True)
        assert "Cancelled:" in cancelled.text
        shown = await _poll_until_done(answering, token)  # the page's next poll reaches the answering server
        assert "Cancelled" in shown
        pending = answering.app.state.pending_asks._items[token]
        await asyncio.sleep(0.05)
        assert pending.task.cancelled()  # the model's work stopped there, not 30 s later
