"""Admin pages on a phone: the users table (/admin/users) keeps every column, State and Actions too, within the
screen; the audit log (/admin/audit) reads as field: before → after, its action names whole."""

from __future__ import annotations

import pytest

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings
from tests.browser.conftest import LiveServer, run_async, shot
from tests.browser.test_ask_flow import _login
from tests.conftest import with_section
from tests.support import ANALYST_PASSWORD

pytestmark = pytest.mark.browser

ADMIN = ("root@example.com", "root password 1234")


async def _people(settings) -> None:
    from nl2sql.auth import AuthService
    from nl2sql.db import AppDatabase

    db = AppDatabase(settings.database.url, settings.database.data_dir)
    db.open(migrate=False)
    try:
        auth = AuthService(db.sessions, settings.auth)
        await auth.create_user(ADMIN[0], ADMIN[1], role="admin", display_name="Root Admin")
        await auth.create_user("annabelle.longname-analyst@example.com", ANALYST_PASSWORD, role="analyst",
                               display_name="Annabelle Analyst")
    finally:
        await db.close()


@pytest.fixture
def server(settings):
    app = create_app(with_section(settings, catalog=CatalogSettings(demo=False)), chat_model=FakeChatModel(["x"]))
    with LiveServer(app) as live:
        run_async(_people, settings)
        yield live


def _inside(page, selector: str, width: int) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1


def test_users_table_shows_state_and_actions_within_a_phone_screen(server, page):
    _login(page, server.url, *ADMIN)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/admin/users")
    row = "table.users tbody tr:has-text('annabelle')"
    page.wait_for_selector(row)
    shot(page, "users-table-390")
    # no part of the table lies beyond the screen's edge, waiting for a sideways scroll nobody is told about
    assert page.evaluate("(() => { const t = document.querySelector('table.users');"
                         " return t.scrollWidth - t.clientWidth; })()") <= 1
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 1
    for cell in ("td[data-label=State]", "td[data-label=Actions] button:has-text('Disable')",
                 "td[data-label=Actions] button:has-text('Reset password')", "td[data-label='Last login']"):
        locator = page.locator(f"{row} {cell}")
        assert locator.is_visible(), cell
        assert _inside(page, f"{row} {cell}", 390), cell
    # each cell says which column it is
    label = page.evaluate("getComputedStyle(document.querySelector(\"table.users td[data-label=State]\"), '::before')"
                          ".content")
    assert label == '"State"'
    # on a wide screen it is an ordinary table with its header
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.locator("table.users thead th:has-text('Actions')").is_visible()
    shot(page, "users-table-1280")


def test_audit_log_reads_as_changes_with_whole_action_names(server, page):
    _login(page, server.url, *ADMIN)
    page.goto(f"{server.url}/admin/users")
    page.fill("input[aria-label='New password for annabelle.longname-analyst@example.com']", "a new password 9876")
    page.click("tr:has-text('annabelle') button:has-text('Reset password')")
    page.wait_for_selector(".alert.ok")
    page.click("tr:has-text('annabelle') button:has-text('Disable')")
    page.wait_for_selector("tr:has-text('annabelle') td:has-text('disabled')")
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{server.url}/admin/audit")
        page.wait_for_selector("td.audit-action code")
        shot(page, f"audit-log-{width}")
        text = page.inner_text("#audit")
        assert "\\u0027" not in text and '{"' not in text
        assert "is_active: yes → no" in text.replace("\n", " ")
        # every action name on one line: a code element split over lines has more than one box
        lines = page.evaluate("[...document.querySelectorAll('td.audit-action code')].map(c => c.getClientRects().length)")
        assert lines and set(lines) == {1}, (width, lines)
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 1


def test_a_connection_failing_its_test_is_refused_or_kept_marked_on_the_connections_page(server, page, tmp_path):
    _login(page, server.url, *ADMIN)
    missing = tmp_path / "not-yet.db"
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{server.url}/connections")
        page.fill("input[name=name]", f"later{width}")
        page.fill("input[name=url]", f"sqlite:///{missing}")
        page.click("form[action='/connections'] button[type=submit]")
        refused = page.wait_for_selector(".alert.error:has-text('nothing was saved')")
        assert "does not exist" in refused.inner_text()
        # the URL is kept (it has no password), so ticking the box and sending again is enough
        assert page.input_value("input[name=url]") == f"sqlite:///{missing}"
        page.check("input[name=save_failing]")
        page.click("form[action='/connections'] button[type=submit]")
        page.wait_for_url(f"{server.url}/connections/later{width}**")
        assert page.is_visible("#failing-banner")
        page.goto(f"{server.url}/connections")
        row = f"tr:has(a[href='/connections/later{width}'])"
        assert page.is_visible(f"{row} .badge.err:has-text('failing')")
        assert page.is_visible(f"{row} button:has-text('Test again')")
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 1
        shot(page, f"connections-failing-{width}")
