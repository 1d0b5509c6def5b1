"""Every response carries the security headers; pages hold no inline script for the CSP to refuse."""

import re

import pytest

from nl2sql.web import CONTENT_SECURITY_POLICY

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/me", "/static/app.css", "/no/such/page", "/schema"])
async def test_every_kind_of_response_carries_the_security_headers(client, path):
    response = await client.get(path)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name)


def test_the_policy_allows_no_inline_or_evaluated_script_and_no_framing():
    script = next(d for d in CONTENT_SECURITY_POLICY.split("; ") if d.startswith("script-src"))
    assert script == "script-src 'self'"
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


async def test_pages_and_the_api_docs_have_no_inline_script(client, admin):
    for path in ("/ask", "/history", "/catalog", "/admin/users", "/account", "/schema", "/schema/swagger"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert not INLINE_SCRIPT.search(response.text), path
        assert not INLINE_HANDLER.search(response.text), path
    docs = await client.get("/schema")
    assert 'src="/static/swagger-init.js"' in docs.text and "/schema/openapi.json" in docs.text
    # nothing from a CDN (the favicon included), a way back to the app
    assert 'href="/static/favicon.svg"' in docs.text and 'href="/"' in docs.text
    assert "https://" not in docs.text and "http://" not in docs.text


async def test_the_openapi_document_declares_the_bearer_scheme_for_api_keys(client):
    schema = (await client.get("/schema/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert {"apiKey": []} in schema["security"]


async def test_a_refused_form_fragment_is_served_as_html(client, admin):
    from tests.support import ADMIN_PASSWORD, form_post, login

    await login(client, admin.email, ADMIN_PASSWORD)
    refused = await form_post(client, "/connections", {"name": "x", "url": "postgresql://u@h:notaport/db"},
                              page="/connections", htmx=True)
    assert refused.status_code == 400 and "port is not a number" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
