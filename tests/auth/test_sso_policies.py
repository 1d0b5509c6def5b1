"""The issue's "done when": a salesperson logs in through the identity provider, whose groups and claims land on
the user, and a group's row policy written with a claim (`region = {user.region}`) shows them only their region's
rows; a group change at the provider changes what they see at their next login."""

from __future__ import annotations

import sqlite3

from nl2sql.auth import Role
from tests.auth.test_sso import idp, set_idp_user, sso_client, sso_login  # noqa: F401 - fixtures and steps

ROWS = [(1, "west"), (2, "west"), (3, "east"), (4, "north")]


async def test_a_salesperson_from_the_provider_sees_only_their_regions_rows(sso_client, idp, tmp_path):  # noqa: F811
    app = sso_client.app
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.executemany("INSERT INTO items VALUES (?, ?)", ROWS)
    admin = await app.state.auth.find_user("admin@example.com")
    assert (await app.state.catalog.sync_now(admin, "shop")).error is None
    await app.state.catalog.add_row_policy(admin, "shop", "items", "group:sales", "region = {user.region}")
    set_idp_user(idp, "u-9", email="sal@example.com", groups=["sales"], region="west")
    assert (await sso_login(sso_client, "u-9")).status_code == 303
    sal = await app.state.auth.find_user("sal@example.com")
    assert sal.role == Role.ANALYST and sal.groups == ("sales",) and sal.attributes["region"] == "west"

    ask = app.state.services.ask_service
    answered = await ask.run_statement(sal, "shop", "SELECT id, region FROM items ORDER BY id")
    assert [tuple(r) for r in answered.result.rows] == [(1, "west"), (2, "west")]
    assert answered.policies == ("row policy on items: (items.region = 'west')",)

    # moved to another region at the provider: the next login brings the new claim
    set_idp_user(idp, "u-9", email="sal@example.com", groups=["sales"], region="east")
    assert (await sso_login(sso_client, "u-9")).status_code == 303
    sal = await app.state.auth.find_user("sal@example.com")
    answered = await ask.run_statement(sal, "shop", "SELECT COUNT(*) FROM items i JOIN items j ON i.id = j.id")
    assert answered.result.rows == ((1,),) or [tuple(r) for r in answered.result.rows] == [(1,)]
