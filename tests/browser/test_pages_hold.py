"""Every page, as admin and as analyst, in Chromium: nothing leaves 127.0.0.1, no console error, no horizontal
overflow at 390 px and 1,280 px; every refused form submission shows the server's message where it was sent."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings
from tests.browser.conftest import LiveServer, run_async, shot
from tests.browser.test_ask_flow import _login, _users
from tests.conftest import with_section
from tests.support import ANALYST_PASSWORD

pytestmark = pytest.mark.browser

ADMIN_PAGES = ["/ask", "/history", "/admin/feedback", "/connections", "/connections/demo",
               "/connections/demo/instructions", "/connections/demo/golden-queries", "/connections/demo/semantics",
               "/catalog", "/catalog?connection=demo", "/admin/audit", "/admin/models", "/account", "/usage",
               "/admin/usage", "/admin/usage/log", "/admin/users", "/schema"]
ANALYST_PAGES = ["/ask", "/history", "/connections", "/connections/demo", "/catalog", "/account", "/usage"]


def _watch(page) -> tuple[list[str], list[str]]:
    outside, errors = [], []

    def route(r):
        host = urlparse(r.request.url).hostname
        if host not in ("127.0.0.1", None) and not r.request.url.startswith(("data:", "blob:")):
            outside.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return outside, errors


def _ask(page, question: str) -> str:
    """Ask on the open /ask page; the answer's id."""
    page.fill("#ask-question", question)
    page.click("#ask-button")
    page.wait_for_selector("article.answer")
    return page.get_attribute("article.answer", "data-answer-id")


def _change_reading(page, select: str, choose) -> str:
    """Open "Change the reading", set the select whose name starts with `select` (choose: its option values ->
    the one to pick), answer, and wait for the new answer; the value picked."""
    before = page.get_attribute("article.answer", "data-answer-id")
    page.click("details.change-reading summary")
    control = page.wait_for_selector(f"form.reading-form select[name^={select}]")
    value = choose([o.get_attribute("value") for o in control.query_selector_all("option")])
    control.select_option(value)
    page.click("form.reading-form button[type=submit]")
    page.wait_for_selector(f"article.answer:not([data-answer-id='{before}'])")
    return value


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.fixture
def demo_server(settings):
    settings = with_section(settings, catalog=CatalogSettings(demo=True))
    model = FakeChatModel(["not SQL at all"])
    app = create_app(settings, chat_model=model)
    with LiveServer(app) as server:
        server.model = model
        run_async(_users, settings)
        yield server


@pytest.mark.parametrize("who", ["admin", "analyst"])
def test_every_page_stays_local_quiet_and_within_the_screen(demo_server, page, who):
    outside, errors = _watch(page)
    email, password, pages = (("root@example.com", "root password 1234", ADMIN_PAGES) if who == "admin"
                              else ("ann@example.com", ANALYST_PASSWORD, ANALYST_PAGES))
    _login(page, demo_server.url, email, password)
    _ask(page, "How many orders were placed in each status?")
    wide = {}
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        for path in pages:
            response = page.goto(f"{demo_server.url}{path}")
            assert response.status == 200, path
            page.wait_for_load_state("networkidle")
            if _overflow(page) > 1:
                wide[(width, path)] = _overflow(page)
                shot(page, f"overflow-{who}-{width}-{path.strip('/').replace('/', '_').replace('?', '_')}")
    assert wide == {}
    assert outside == []
    assert errors == []


def test_every_refused_form_shows_the_servers_message(demo_server, page):
    outside, errors = _watch(page)
    url = demo_server.url
    _login(page, url, "root@example.com", "root password 1234")

    def refused(selector_text: str) -> str:
        box = page.wait_for_selector(f".request-error .alert.error:has-text('{selector_text}'), "
                                     f".alert.error:has-text('{selector_text}')")
        assert box.is_visible()
        return box.inner_text()

    # a golden query that writes
    page.goto(f"{url}/connections/demo/golden-queries")
    page.fill("#golden-card input[name=question]", "Remove every order")
    page.fill("#golden-card textarea[name=sql]", "DELETE FROM orders")
    page.click("#golden-card form button[type=submit] >> nth=0")
    assert "DELETE" in refused("DELETE")
    shot(page, "refused-golden")

    # a malformed connection URL, then a name already taken
    page.goto(f"{url}/connections")
    page.fill("#connections-card input[name=name]", "broken")
    page.fill("#connections-card input[name=url]", "postgresql://user@db-host:notaport/x")
    page.click("#connections-card form button[type=submit]")
    refused("port is not a number")
    page.fill("#connections-card input[name=name]", "demo")
    page.fill("#connections-card input[name=url]", "postgresql://postgres@127.0.0.1:5432/postgres")
    page.click("#connections-card form button[type=submit]")
    refused("demo")
    shot(page, "refused-connection")

    # a user whose email exists
    page.goto(f"{url}/admin/users")
    page.fill("#users-card input[name=email]", "ann@example.com")
    page.fill("#users-card input[name=password]", "a long enough password")
    page.click("#users-card form.row button[type=submit]")
    refused("ann@example.com")

    # an API key that expired yesterday
    page.goto(f"{url}/account")
    page.fill("#keys-card input[name=name]", "old key")
    page.fill("#keys-card input[name=expires_on]", "2000-01-01")
    page.click("#keys-card form.row button[type=submit]")
    refused("past")
    shot(page, "refused-api-key")

    # edit-and-run with a write
    page.goto(f"{url}/ask")
    _ask(page, "How many orders were placed in each status?")
    assert page.is_enabled("#ask-button")
    page.click("article.answer details.edit-sql summary")
    page.fill("article.answer textarea[name=sql]", "DELETE FROM orders")
    page.click("article.answer details.edit-sql button[type=submit]")
    refused("DELETE")
    shot(page, "refused-edit")
    assert outside == []
    assert [e for e in errors if "status of 4" not in e] == []


def _try_the_model(page, question: str) -> None:
    """Ask a question the reader can't read all of; it is asked back at once; click "Try the model"."""
    page.fill("#ask-question", question)
    page.click("#ask-button")
    page.wait_for_selector("section.clarification.clarify")
    page.click("section.clarification button:has-text('Try the model')")


def test_a_slow_question_ends_on_screen_though_its_polls_outnumber_the_rate_limit(settings, page):
    from nl2sql.settings import GatewaySettings

    settings = with_section(settings, catalog=CatalogSettings(demo=True),
                            gateway=GatewaySettings(requests_per_minute=8))
    # the reader can't read all of this question: asked back at once, then "Try the model": the (slow) model
    # answers it, 6 s later
    model = FakeChatModel(["SELECT status, COUNT(*) AS n FROM orders GROUP BY status"], delay=6.0)
    app = create_app(settings, chat_model=model)
    outside, errors = _watch(page)
    with LiveServer(app) as server:
        run_async(_users, settings)
        _login(page, server.url, "ann@example.com", ANALYST_PASSWORD)
        _try_the_model(page, "how many orders per qqq zzz")
        page.wait_for_selector("#progress")
        # no second question while this one runs (the button is held from the moment the progress settles)
        page.wait_for_selector("#ask-button:disabled", timeout=3000)
        page.wait_for_selector("article.answer", timeout=60_000)
        assert "delivered" in page.inner_text("table.results")
        assert page.is_enabled("#ask-button")
        assert model.calls  # it was the slow model that answered
        shot(page, "slow-question-answered")
    assert outside == [] and errors == []


def test_the_reading_is_changed_with_a_click_and_answered_again(demo_server, page):
    outside, errors = _watch(page)
    _login(page, demo_server.url, "ann@example.com", ANALYST_PASSWORD)
    _ask(page, "What is the total amount of payments by method?")
    _change_reading(page, "agg", lambda options: "avg")
    assert "average" in page.inner_text("article.answer .reading")
    assert "reading changed by hand" in page.inner_text("article.answer .trust")
    assert "AVG(" in page.inner_text("pre.sql").upper()
    shot(page, "reading-changed")
    # now another grouping column: the table and chart change, and the model is never asked
    other = _change_reading(page, "group", lambda options: next(v for v in options if v and v != "method"))
    page.wait_for_selector("article.answer .chart svg, article.answer .chart canvas, article.answer table.results")
    assert other in page.inner_text("table.results").lower().replace(" ", "_") or other in page.inner_text("pre.sql")
    assert demo_server.model.calls == []
    shot(page, "reading-regrouped")
    assert outside == [] and errors == []


def test_a_did_you_mean_alternative_is_answered_with_a_click(demo_server, page):
    outside, errors = _watch(page)
    _login(page, demo_server.url, "ann@example.com", ANALYST_PASSWORD)
    first = _ask(page, "average order value")
    link = page.wait_for_selector(".did-you-mean button")
    line = link.inner_text()
    link.click()
    page.wait_for_selector(f"article.answer:not([data-answer-id='{first}'])")
    assert page.inner_text("article.answer .reading").removeprefix("Read as: ").strip() == line.strip()
    assert demo_server.model.calls == []
    shot(page, "did-you-mean-picked")
    assert outside == [] and errors == []


def test_a_slow_question_can_be_cancelled(settings, page):
    settings = with_section(settings, catalog=CatalogSettings(demo=True))
    model = FakeChatModel(["SELECT status, COUNT(*) AS n FROM orders GROUP BY status"], delay=30.0)
    app = create_app(settings, chat_model=model)
    outside, errors = _watch(page)
    with LiveServer(app) as server:
        run_async(_users, settings)
        _login(page, server.url, "ann@example.com", ANALYST_PASSWORD)
        _try_the_model(page, "how many orders per qqq zzz")
        page.wait_for_selector("#progress button:has-text('Cancel')")
        page.click("#progress button:has-text('Cancel')")
        page.wait_for_selector(".answer-error:has-text('Cancelled')")
        assert page.query_selector("#progress") is None and page.is_enabled("#ask-button")
        shot(page, "question-cancelled")
    assert outside == [] and errors == []
