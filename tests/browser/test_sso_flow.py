"""Single sign-on in a real browser: the login button, the identity provider's page, back logged in, and logout
through the provider's end-session (the page's CSP must let the posted logout form go on to the provider)."""

from dataclasses import replace

import httpx
import pytest
from oidc_provider_mock import run_server_in_thread

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from tests.browser.conftest import LiveServer, run_async, shot
from tests.browser.test_foundation_flow import _create_admin

pytestmark = pytest.mark.browser


def test_a_user_logs_in_with_the_button_and_logs_out_at_the_provider(settings, page):
    with run_server_in_thread(require_nonce=True) as idp_server:
        idp = f"http://localhost:{idp_server.server_port}"
        sso = replace(settings, auth=replace(settings.auth, oidc_issuer=idp, oidc_client_id="nl2sql-browser",
                                             oidc_client_secret="s3cret", oidc_group_roles="nl2sql-admins=admin",
                                             oidc_button_label="Log in with Acme"))
        httpx.put(f"{idp}/users/b-1", json={"email": "bea@example.com", "name": "Bea Browser",
                                           "groups": ["nl2sql-admins"]}).raise_for_status()
        with LiveServer(create_app(sso, chat_model=FakeChatModel(["SELECT 1"]))) as server:
            run_async(_create_admin, settings)  # past the first-run setup
            page.goto(f"{server.url}/login?next=/account")
            page.click("text=Log in with Acme")
            page.wait_for_url(f"{idp}/oauth2/authorize**")
            shot(page, "sso-provider-form")
            page.fill("input[name=sub]", "b-1")
            page.click("button:has-text('Authorize')")
            page.wait_for_url(f"{server.url}/account")
            assert "Bea Browser" in page.content()
            response = page.goto(f"{server.url}/admin/identity")  # the admin group made her an admin
            assert response.status == 200
            shot(page, "sso-identity-page")
            page.click("button:has-text('Log out')")
            page.wait_for_url(f"{idp}/oauth2/end_session**")
            page.click("button:has-text('End session')")
            page.wait_for_url(f"{server.url}/login**")
            assert page.goto(f"{server.url}/account").url.startswith(f"{server.url}/login")
