"""Issue 11 in Chromium: an admin starts an evaluation from the page and watches its progress bar move (the run is
a background job; a reload picks the progress up again), then tries a knowledge draft and publishes it."""

from __future__ import annotations

import time

import pytest

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings, EngineSettings
from tests.browser.conftest import LiveServer, run_async, shot
from tests.conftest import with_section

pytestmark = pytest.mark.browser

ADMIN, PASSWORD = "root@example.com", "root password 1234"
CSV = """question,query,query_category
How many orders are there?,SELECT COUNT(*) FROM orders,count
Count the orders,SELECT COUNT(*) FROM orders,count
How many customers are there?,SELECT COUNT(*) FROM customers,count
Number of orders placed,SELECT COUNT(*) FROM orders,count
How many products are there?,SELECT COUNT(*) FROM products,count
Total number of orders,SELECT COUNT(*) FROM orders,count
"""


def test_an_admin_watches_an_evaluation_run_and_publishes_a_draft(settings, page, tmp_path):
    # only the (slow, fake) model writes SQL, so each question takes a moment and the bar visibly moves
    settings = with_section(settings, catalog=CatalogSettings(demo=True),
                            engine=EngineSettings(generators="model_sql", model_when="always", repair_attempts=0))
    app = create_app(settings, chat_model=FakeChatModel(["SELECT COUNT(*) FROM orders"], delay=1.2))
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    with LiveServer(app) as server:
        run_async(_admin, settings)
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", ADMIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/**")

        page.goto(f"{server.url}/admin/evaluations")
        questions = tmp_path / "house-questions.csv"
        questions.write_text(CSV)
        page.set_input_files("#eval-start input[type=file]", str(questions))
        page.click("#eval-start button[type=submit]")
        page.wait_for_url(f"{server.url}/admin/evaluations/*")
        run_url = page.url

        seen: list[int] = []
        deadline = time.monotonic() + 60
        reloaded = False
        while time.monotonic() < deadline:
            value = int(page.get_attribute("#eval-bar", "value") or 0)
            if not seen or value != seen[-1]:
                seen.append(value)
            if value >= 6:
                break
            if value >= 2 and not reloaded:  # the progress survives a reload
                shot(page, "evaluation-running")
                page.reload()
                assert int(page.get_attribute("#eval-bar", "value")) >= value
                assert "running" in page.inner_text("#eval-status")
                reloaded = True
            time.sleep(0.25)
        assert seen[-1] == 6, seen
        assert len([v for v in seen if 0 < v < 6]) >= 2, f"the bar did not move on its own: {seen}"
        assert reloaded and page.url == run_url
        page.wait_for_selector("#eval-status:text('done')")
        # the demo's golden query answers the customers question; the model's one answer fits four more
        assert "5 correct (83.3%)" in page.inner_text("#eval-counts")
        assert "How many products are there?" in page.inner_text("#eval-failures")
        shot(page, "evaluation-done")

        # a draft: a golden query added to it, tried on the stored question set, then published
        page.goto(f"{server.url}/connections/demo/draft")
        page.click("#draft-create")
        page.wait_for_selector("#draft-changes")
        assert "What publishing changes (0)" in page.inner_text("#draft-changes")
        page.click("#draft-edit a:text('Golden queries')")
        page.wait_for_url(f"{server.url}/connections/demo~draft/golden-queries")
        adding = page.locator("form:has(button:text('Check and add'))")
        adding.locator("input[name=question]").fill("How many products do we sell?")
        adding.locator("textarea[name=sql]").fill("SELECT COUNT(*) FROM products")
        adding.locator("button:text('Check and add')").click()
        page.wait_for_selector("text=SELECT COUNT(*) FROM products")
        page.goto(f"{server.url}/connections/demo/draft")
        assert "What publishing changes (1)" in page.inner_text("#draft-changes")
        page.click("#draft-try")
        page.wait_for_selector("#trial-score")
        page.wait_for_selector("#trial-running", state="detached", timeout=90_000)
        score = page.inner_text("#trial-score")
        # the draft's 8 golden queries (the demo's 7 and the new one), then the stored set's 5 other questions
        assert "of 13 questions" in score and "fixed" in score, score
        shot(page, "draft-tried")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#draft-publish")
        page.wait_for_selector("#draft-published")
        assert "1 change" in page.inner_text("#draft-published")
        page.goto(f"{server.url}/connections/demo/golden-queries")
        assert "SELECT COUNT(*) FROM products" in page.inner_text("body")
    assert not refused, refused


async def _admin(settings):
    from nl2sql.auth import AuthService
    from nl2sql.db import AppDatabase

    db = AppDatabase(settings.database.url, settings.database.data_dir)
    db.open(migrate=False)
    try:
        await AuthService(db.sessions, settings.auth).create_user(ADMIN, PASSWORD, role="admin")
    finally:
        await db.close()
