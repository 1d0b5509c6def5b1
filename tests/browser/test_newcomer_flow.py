"""Issue 26 part 2 in Chromium: a newcomer's path. The setup page creates the first admin, who lands on /ask with
the demo chosen, sees what it holds and questions it answers well, clicks one and gets a first answer whose
numbers read by their meaning. At a phone's width and a desktop's."""

from __future__ import annotations

import re

import pytest

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings
from tests.answers.conftest import build_shop_db
from tests.browser.conftest import LiveServer, run_async, shot
from tests.conftest import with_section

pytestmark = pytest.mark.browser

REVENUE = "What was the revenue per year?"


@pytest.mark.parametrize("width", [390, 1280])
def test_a_newcomer_sets_up_sees_the_demos_starters_and_gets_a_formatted_first_answer(settings, page, width,
                                                                                        tmp_path):
    page.set_viewport_size({"width": width, "height": 900})
    settings = with_section(settings, catalog=CatalogSettings(demo=True))
    model = FakeChatModel(["not SQL at all"])
    app = create_app(settings, chat_model=model)
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    with LiveServer(app) as server:
        page.goto(f"{server.url}/ask")
        page.wait_for_url(f"{server.url}/setup**")
        page.fill("input[name=token]", app.state.first_run.token)
        page.fill("input[name=email]", "root@example.com")
        page.fill("input[name=password]", "root password 1234")
        page.fill("input[name=confirm_password]", "root password 1234")
        shot(page, f"newcomer-setup-{width}")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/ask")

        starters = page.wait_for_selector("#starters")
        assert page.input_value("#ask-connection") == "demo"
        holds = page.inner_text("#starters .starters-holds")
        assert holds.startswith("demo:") and "customers" in holds and re.search(r"\(\d+ tables\)", holds), holds
        offered = [b.inner_text() for b in page.query_selector_all("#starters button.starter")]
        assert REVENUE in offered and 3 <= len(offered) <= 6, offered
        assert starters.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        shot(page, f"newcomer-starters-{width}")

        page.click(f"#starters button.starter:has-text('{REVENUE}')")
        page.wait_for_selector("article.answer table.results")
        assert page.input_value("#ask-question") == REVENUE  # the click filled the box, then asked
        assert page.query_selector("#starters") is None  # the answer took the panel's place
        assert page.query_selector("article.answer .trust-verified") is not None
        revenue = [c.inner_text() for c in page.query_selector_all("table.results tbody td.num")]
        assert revenue and all(re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d\d", c) for c in revenue[1::2] or revenue), revenue
        assert "USD" in page.inner_text("table.results thead")
        summary = page.inner_text("article.answer details.timings summary")
        assert re.fullmatch(r"Timings: \d+(\.\d)? (ms|s)|Timings: \d+ min( \d+ s)?", summary), summary
        page.wait_for_selector("article.answer .chart svg, article.answer .chart canvas")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, f"newcomer-first-answer-{width}")

        # a 13-row result (customers of 13 states) shows every row whole, the last one not cut in half
        page.fill("#ask-question", "How many customers live in each state?")
        page.click("#ask-button")
        page.wait_for_selector("details.turns")
        rows = page.locator("article.answer table.results tbody tr")
        assert rows.count() == 13
        wrap = page.locator("article.answer .table-wrap").bounding_box()
        last = rows.nth(12).bounding_box()
        assert last["y"] + last["height"] <= wrap["y"] + wrap["height"] + 1, (last, wrap)
        assert page.evaluate("document.querySelector('article.answer .table-wrap').scrollHeight") <= page.evaluate(
            "document.querySelector('article.answer .table-wrap').clientHeight") + 1  # no inner scroll
        page.locator("article.answer .table-wrap").scroll_into_view_if_needed()
        shot(page, f"newcomer-13-rows-{width}")

        # back on the ask page the database last asked is chosen; choosing another swaps the panel
        run_async(_add_shop, settings, tmp_path / "shop.db")
        page.goto(f"{server.url}/ask")
        page.wait_for_selector("#starters")
        assert page.input_value("#ask-connection") == "demo"
        page.select_option("#ask-connection", "shop")
        page.wait_for_selector("#starters .starters-holds:has-text('shop:')")
        assert "customers, orders (2 tables)" in page.inner_text("#starters")
        assert "Total amount by status" in page.inner_text("#starters")
        shot(page, f"newcomer-other-database-{width}")
    assert refused == []
    assert model.calls == []  # golden queries answered: the model was never needed


async def _add_shop(settings, path):
    """A second database, `shop`, registered by the admin as the connections page would."""
    from nl2sql.catalog import CatalogService
    from nl2sql.db import AppDatabase

    build_shop_db(path)
    db = AppDatabase(settings.database.url, settings.database.data_dir)
    db.open(migrate=False)
    try:
        catalog = CatalogService(db.sessions, settings.catalog, settings.server.secret_key)
        await catalog.create_connection(None, "shop", f"sqlite:///{path}")
        assert (await catalog.sync_now(None, "shop")).error is None
        catalog.close()
    finally:
        await db.close()
