"""Helpers tests share: logging in through the page, posting forms with CSRF, bearer headers."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

ADMIN_PASSWORD = "correct horse battery staple"
ANALYST_PASSWORD = "analyst password 123"

CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: AsyncTestClient, path: str = "/login") -> str:
    """The CSRF token a page hands out (and the cookie that goes with it lands in the client)."""
    page = await client.get(path)
    match = CSRF_INPUT.search(page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: AsyncTestClient, email: str, password: str):
    token = await csrf_token(client, "/login")
    return await client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": token, "next": "/"}, follow_redirects=False
    )


async def form_post(client: AsyncTestClient, path: str, data: dict, *, page: str = "/account", htmx: bool = False):
    """POST a form the way the pages do: with the CSRF token from `page`."""
    token = await csrf_token(client, page)
    headers = {"HX-Request": "true"} if htmx else {}
    return await client.post(path, data={**data, "_csrf_token": token}, headers=headers, follow_redirects=False)



def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
