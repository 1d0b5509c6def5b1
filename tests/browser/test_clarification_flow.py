"""Issue 31 in Chromium: on the demo, a question about nothing in the catalog is refused in a sentence, one that
names a column the catalog doesn't have is asked back with one-click options, and a click on an option answers;
no question waits on the model. At a phone's width and a desktop's."""

from __future__ import annotations

import pytest

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings
from tests.browser.conftest import LiveServer, run_async, shot
from tests.browser.test_ask_flow import _login, _users
from tests.conftest import with_section
from tests.support import ANALYST_PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_refusal_and_clarification_with_one_click_options_on_the_ask_page(settings, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    settings = with_section(settings, catalog=CatalogSettings(demo=True))
    model = FakeChatModel(["not SQL at all"])
    app = create_app(settings, chat_model=model)
    with LiveServer(app) as server:
        run_async(_users, settings)
        _login(page, server.url, "ann@example.com", ANALYST_PASSWORD)

        page.fill("#ask-question", "what's the weather tomorrow?")
        page.click("#ask-button")
        refused = page.wait_for_selector("section.clarification.refused")
        assert "doesn't look like a question about the data in demo" in refused.inner_text()
        assert page.query_selector("table.results") is None and page.query_selector("pre.sql") is None
        shot(page, f"clarify-refused-{width}")

        page.fill("#ask-question", "delete all customers")
        page.click("#ask-button")
        page.wait_for_selector("section.clarification.refused >> text=only reads data")

        page.fill("#ask-question", "average pirce of products")
        page.click("#ask-button")
        asked = page.wait_for_selector("section.clarification.clarify")
        assert "pirce" in asked.inner_text()
        option = page.locator("section.clarification button", has_text="products.price").first
        shot(page, f"clarify-options-{width}")
        option.click()
        page.wait_for_selector("article.answer table.results")
        assert "read from the question: all of it" in page.inner_text("article.answer .coverage-label")
        assert page.query_selector("section.clarification") is None
        shot(page, f"clarify-answered-{width}")
    assert model.calls == []  # the small model was never asked on its own
