"""Issue 2's done-when, in a real browser: admin logs in, creates an analyst and an API key."""

import httpx
import pytest

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from tests.browser.conftest import LiveServer, run_async, shot

pytestmark = pytest.mark.browser


def test_admin_creates_an_analyst_and_a_key_and_the_analyst_is_kept_out_of_admin(settings, page):
    app = create_app(settings, chat_model=FakeChatModel(["SELECT 1"]))
    with LiveServer(app) as server:
        # the first admin comes from the service, as `nl2sql users create` makes it (covered in test_cli)
        run_async(_create_admin, settings)
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{server.url}/login")
        page.fill("input[name=email]", "root@example.com")
        page.fill("input[name=password]", "root password 1234")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/**")
        shot(page, "foundation-after-login")

        page.goto(f"{server.url}/admin/users")
        page.fill("#users-card input[name=email]", "ann@example.com")
        page.fill("#users-card input[name=display_name]", "Ann")
        page.fill("#users-card input[name=password]", "analyst password 1")
        page.select_option("#users-card select[name=role]", "analyst")
        page.click("#users-card button:has-text('Create user')")
        page.wait_for_selector("text=Created ann@example.com")
        shot(page, "foundation-users")

        page.goto(f"{server.url}/account")
        page.fill("#keys-card input[name=name]", "browser key")
        page.click("#keys-card button:has-text('Create key')")
        key = page.wait_for_selector("#new-key").inner_text().strip()
        shot(page, "foundation-api-key")
        me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200 and me.json()["email"] == "root@example.com"

        page.click("button:has-text('Revoke')")  # hx-confirm dialog
        page.wait_for_selector("text=revoked")
        assert httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401

        page.click("button:has-text('Log out')")
        page.wait_for_url(f"{server.url}/login**")
        page.fill("input[name=email]", "ann@example.com")
        page.fill("input[name=password]", "analyst password 1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/**")
        response = page.goto(f"{server.url}/admin/users")
        assert response.status == 403
        shot(page, "foundation-analyst-403")


async def _create_admin(settings):
    from nl2sql.auth import AuthService
    from nl2sql.db import AppDatabase

    db = AppDatabase(settings.database.url, settings.database.data_dir, pool_size=1)
    db.open(migrate=False)
    try:
        await AuthService(db.sessions, settings.auth).create_user("root@example.com", "root password 1234", role="admin")
    finally:
        await db.close()
