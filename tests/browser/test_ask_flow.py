"""Issue 6's done-when in Chromium: ask the demo, see table and chart, switch it, CSV, feedback, promote, verified.

The question is read into a plan by the product itself: the (fake) model is never needed.
"""

from __future__ import annotations

import httpx
import pytest

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings
from tests.browser.conftest import LiveServer, run_async, shot
from tests.conftest import with_section
from tests.support import ANALYST_PASSWORD

pytestmark = pytest.mark.browser

QUESTION = "How many orders were placed in each status?"


def test_analyst_asks_follows_up_gives_feedback_and_admin_promotes_it_to_a_verified_query(settings, page):
    settings = with_section(settings, catalog=CatalogSettings(demo=True))
    model = FakeChatModel(["not SQL at all"])
    app = create_app(settings, chat_model=model)
    # the Content-Security-Policy allows no inline or eval'd script: anything it refuses shows in the console
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    with LiveServer(app) as server:
        run_async(_users, settings)
        _login(page, server.url, "ann@example.com", ANALYST_PASSWORD)
        page.wait_for_url(f"{server.url}/ask")
        shot(page, "ask-empty")

        page.fill("#ask-question", QUESTION)
        page.click("#ask-button")
        answer = page.wait_for_selector("article.answer")
        page.wait_for_selector("article.answer .chart svg, article.answer .chart canvas")
        assert "delivered" in page.inner_text("table.results")
        assert page.query_selector(".trust-verified") is None
        assert page.inner_text("article.answer .reading").startswith("Read as: number of orders by status")
        assert page.locator("pre.sql .kw").first.inner_text() == "SELECT"
        shot(page, "ask-answer")
        page.click("article.answer button.copy-sql")
        page.wait_for_selector("article.answer button.copy-sql:text('Copied')")
        assert page.evaluate("navigator.clipboard.readText()").startswith("SELECT")

        page.select_option(".chart-switch select[name=kind]", "pie")
        page.wait_for_selector(".chart-box .chart svg path, .chart-box .chart canvas")
        shot(page, "ask-chart-pie")

        answer_id = answer.get_attribute("data-answer-id")
        with page.expect_download() as download_info:
            page.click(f"#csv-{answer_id}")
        download = download_info.value
        lines = open(download.path(), encoding="utf-8").read().splitlines()
        assert lines[0] == "status,number_of_orders" and len(lines) == 6

        page.click(f"#feedback-{answer_id} summary")
        page.fill(f"#feedback-{answer_id} input[name=comment]", "exactly what I needed")
        page.click(f"#feedback-{answer_id} button[value=up]")
        page.wait_for_selector("text=your feedback was saved")

        page.fill("#ask-question", "only for 2024")
        page.click("#ask-button")
        page.wait_for_selector("details.turns")
        page.wait_for_selector("article.answer .chart svg")
        assert "2024" in page.inner_text("pre.sql")  # the follow-up carried the thread's question
        assert "GROUP BY" in page.inner_text("pre.sql")
        assert model.calls == []
        shot(page, "ask-follow-up")

        page.goto(f"{server.url}/history")
        assert QUESTION in page.inner_text("table.history")
        shot(page, "history")
        assert refused == []

        page.click("button:has-text('Log out')")
        _login(page, server.url, "root@example.com", "root password 1234")
        page.goto(f"{server.url}/admin/feedback")
        page.click(f"text={QUESTION}")
        page.wait_for_selector("table.candidates tr.chosen")
        shot(page, "feedback-trace")
        page.click("#promote")
        page.wait_for_selector("text=Promoted to golden query")
        shot(page, "feedback-promoted")

        page.goto(f"{server.url}/ask")
        page.fill("#ask-question", QUESTION)
        page.click("#ask-button")
        page.wait_for_selector("article.answer .trust-verified")
        assert page.inner_text(".trust").strip().endswith("verified query")
        shot(page, "ask-verified")

        # the API docs start from a static file too, and render
        page.goto(f"{server.url}/schema")
        page.wait_for_selector(".swagger-ui .opblock-summary-path")
        assert "/api/v1/ask" in page.inner_text(".swagger-ui")
        shot(page, "api-docs")
        assert refused == []

        response = httpx.get(f"{server.url}/healthz")
        assert response.status_code == 200


def _login(page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/ask**")


async def _users(settings):
    from nl2sql.auth import AuthService
    from nl2sql.catalog import CatalogService
    from nl2sql.db import AppDatabase

    db = AppDatabase(settings.database.url, settings.database.data_dir)
    db.open(migrate=False)
    try:
        auth = AuthService(db.sessions, settings.auth)
        admin = await auth.create_user("root@example.com", "root password 1234", role="admin")
        ann = await auth.create_user("ann@example.com", ANALYST_PASSWORD, role="analyst", display_name="Ann")
        catalog = CatalogService(db.sessions, settings.catalog, settings.server.secret_key)
        await catalog.set_grants(admin, "demo", [ann.id])
        catalog.close()
    finally:
        await db.close()
