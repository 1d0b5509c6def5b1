from pathlib import Path

from tests.catalog.conftest import wait_for_sync
from tests.support import ADMIN_PASSWORD, ANALYST_PASSWORD, form_post, login


async def _admin_with_synced_shop(client, admin, sqlite_shop):
    catalog = client.app.state.catalog
    await catalog.create_connection(admin, "shop", sqlite_shop, description="The shop")
    status = await catalog.sync_now(admin, "shop")
    assert status.finished and status.error is None
    await login(client, admin.email, ADMIN_PASSWORD)
    return catalog


async def test_admin_adds_a_connection_through_the_page(client, admin, sqlite_shop):
    await login(client, admin.email, ADMIN_PASSWORD)
    r = await form_post(client, "/connections", {"name": "lite", "url": sqlite_shop, "description": "d"},
                        page="/connections", htmx=True)
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/connections/lite?test=1"
    page = await client.get("/connections/lite")
    assert page.status_code == 200 and "Test connection" in page.text and "Never synced" in page.text


async def test_bad_connection_form_shows_the_reason_without_echoing_the_url(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    r = await form_post(client, "/connections", {"name": "Bad Name", "url": "postgresql://u:topsecret@h/db"},
                        page="/connections", htmx=True)
    assert r.status_code == 400
    assert "lowercase" in r.text and "topsecret" not in r.text


async def test_connection_name_rule_is_stated_in_the_forms_and_in_the_refusal(client, admin, sqlite_shop):
    await login(client, admin.email, ADMIN_PASSWORD)
    rule = "1-63 characters: lowercase letters, digits, - and _, starting with a letter or digit"
    listing = await client.get("/connections")
    # the help text under the field and the input's title, which the browser shows with "match the requested format"
    assert f'title="Connection name: {rule}' in listing.text
    assert 'aria-describedby="new-connection-name-rule"' in listing.text
    assert listing.text.count(rule) >= 2
    refused = await form_post(client, "/connections", {"name": "sales data", "url": sqlite_shop},
                              page="/connections", htmx=True)
    assert refused.status_code == 400
    assert "&#39;sales data&#39; is not a valid connection name" in refused.text and rule in refused.text
    await client.app.state.catalog.create_connection(admin, "shop", sqlite_shop)
    settings = await client.get("/connections/shop")
    assert f'title="Connection name: {rule}' in settings.text
    renamed = await form_post(client, "/connections/shop", {"name": "-shop", "url": "", "schemas": "",
                                                              "description": ""}, page="/connections/shop", htmx=True)
    assert renamed.status_code == 400 and "is not a valid connection name" in renamed.text and rule in renamed.text


async def test_a_connection_failing_its_test_is_refused_with_the_reason_by_default(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    r = await form_post(client, "/connections", {"name": "down", "url": "postgresql://u:topsecret@127.0.0.1:1/db"},
                        page="/connections", htmx=True)
    assert r.status_code == 400
    assert "the connection test failed, so nothing was saved: cannot reach 127.0.0.1:1" in r.text
    assert "Save even if the test fails" in r.text and "topsecret" not in r.text
    assert 'value="down"' in r.text  # the form keeps what was typed, but not a URL with a password
    assert "127.0.0.1:1/db" not in r.text
    assert await client.app.state.catalog.list_connections() == []


async def test_a_failing_connection_saved_on_request_is_marked_and_tested_again_from_the_list(client, admin, tmp_path,
                                                                                              sqlite_shop):
    await login(client, admin.email, ADMIN_PASSWORD)
    missing = tmp_path / "later.db"
    r = await form_post(client, "/connections", {"name": "later", "url": f"sqlite:///{missing}", "save_failing": "1"},
                        page="/connections", htmx=True)
    assert r.status_code == 200 and r.headers["hx-redirect"] == "/connections/later?test=1"
    detail = await client.get("/connections/later")
    assert 'id="failing-banner"' in detail.text and "does not exist" in detail.text
    listing = await client.get("/connections")
    assert '<span class="badge err">failing</span>' in listing.text and "does not exist" in listing.text
    assert 'hx-post="/connections/later/retest"' in listing.text and "Test again" in listing.text
    # not on the ask page's picker
    assert "later" not in [c.name for c in await client.app.state.catalog.accessible_connections(admin)]
    still = await form_post(client, "/connections/later/retest", {}, page="/connections", htmx=True)
    assert still.status_code == 200 and "later still fails its test" in still.text
    missing.write_bytes(Path(sqlite_shop.removeprefix("sqlite:///")).read_bytes())
    passed = await form_post(client, "/connections/later/retest", {}, page="/connections", htmx=True)
    assert "later passed its test" in passed.text and "badge err\">failing" not in passed.text
    assert "later" in [c.name for c in await client.app.state.catalog.accessible_connections(admin)]
    assert 'id="failing-banner"' not in (await client.get("/connections/later")).text
    # the connection page's own test says what its outcome does
    missing.unlink()
    failed = await form_post(client, "/connections/later/test", {}, page="/connections/later", htmx=True)
    assert "marked failing: not offered to analysts" in failed.text
    missing.write_bytes(Path(sqlite_shop.removeprefix("sqlite:///")).read_bytes())
    again = await form_post(client, "/connections/later/test", {}, page="/connections/later", htmx=True)
    assert "offered to analysts and on the ask page again" in again.text


async def test_connection_test_button_shows_a_precise_message(client, admin):
    await client.app.state.catalog.create_connection(admin, "down", "postgresql://u:pw@127.0.0.1:1/db")
    await login(client, admin.email, ADMIN_PASSWORD)
    r = await form_post(client, "/connections/down/test", {}, page="/connections/down", htmx=True)
    assert r.status_code == 200 and "cannot reach 127.0.0.1:1" in r.text


async def test_sync_from_the_page_polls_until_done_and_shows_the_diff(client, admin, sqlite_shop):
    await client.app.state.catalog.create_connection(admin, "shop", sqlite_shop)
    await login(client, admin.email, ADMIN_PASSWORD)
    r = await form_post(client, "/connections/shop/sync", {}, page="/connections/shop", htmx=True)
    assert r.status_code == 200 and "Sync" in r.text
    await wait_for_sync(client.app.state.catalog, "shop")
    polled = await client.get("/connections/shop/sync", headers={"HX-Request": "true"})
    assert "synced" in polled.text and "2 tables" in polled.text
    assert 'hx-trigger="every 1s"' not in polled.text


async def test_catalog_browser_searches_and_pages(client, admin, sqlite_shop):
    await _admin_with_synced_shop(client, admin, sqlite_shop)
    page = await client.get("/catalog?connection=shop")
    assert page.status_code == 200 and "customers" in page.text and "orders" in page.text
    found = await client.get("/catalog?connection=shop&q=status", headers={"HX-Request": "true"})
    assert "1 table matching" in found.text and 'id="table-' in found.text and "customers</strong>" not in found.text


async def test_inline_column_edit_swaps_the_row(client, admin, sqlite_shop):
    catalog = await _admin_with_synced_shop(client, admin, sqlite_shop)
    r = await form_post(client, "/catalog/shop/tables/customers/columns/state",
                        {"description": "State code", "business_name": "", "synonyms": "region", "included": "1",
                         "sensitive": "1"}, page="/catalog", htmx=True)
    assert r.status_code == 200 and r.text.lstrip().startswith("<tr") and "never sampled" in r.text
    connection = await catalog.get_connection("shop")
    state = {c.name: c for c in (await catalog.table(connection.id, "customers")).columns}["state"]
    assert state.description == "State code" and state.sensitive and state.synonyms == ("region",)


async def test_analyst_sees_only_granted_connections_in_pages(client, admin, analyst, sqlite_shop, tmp_path):
    catalog = client.app.state.catalog
    await catalog.create_connection(admin, "granted", sqlite_shop)
    await catalog.create_connection(admin, "private-db", f"sqlite:///{tmp_path}/private.db")
    await login(client, admin.email, ADMIN_PASSWORD)
    r = await form_post(client, "/connections/granted/grants", {"user_id": str(analyst.id)}, page="/connections/granted",
                        htmx=True)
    assert r.status_code == 200 and "Access saved" in r.text
    await client.post("/logout")
    client.cookies.clear()
    await login(client, analyst.email, ANALYST_PASSWORD)
    listing = await client.get("/connections")
    assert "granted" in listing.text and "private-db" not in listing.text and "Add a connection" not in listing.text
    assert (await client.get("/connections/granted")).status_code == 200
    assert (await client.get("/connections/private-db")).status_code == 404
    assert (await client.get("/catalog?connection=private-db")).status_code == 404
    assert (await client.get("/connections/private-db/golden-queries")).status_code == 404
    r = await form_post(client, "/connections/granted/sync", {}, page="/connections/granted", htmx=True)
    assert r.status_code == 403
    assert (await client.get("/admin/audit")).status_code == 403


async def test_golden_query_page_refuses_bad_sql_with_the_reason(client, admin, sqlite_shop):
    await _admin_with_synced_shop(client, admin, sqlite_shop)
    r = await form_post(client, "/connections/shop/golden-queries", {"question": "wipe", "sql": "DELETE FROM orders"},
                        page="/connections/shop/golden-queries", htmx=True)
    assert r.status_code == 400 and "Refused" in r.text and "DELETE FROM orders" in r.text
    r = await form_post(client, "/connections/shop/golden-queries",
                        {"question": "How many orders?", "sql": "SELECT count(*) FROM orders"},
                        page="/connections/shop/golden-queries", htmx=True)
    assert r.status_code == 200 and "How many orders?" in r.text


async def test_instructions_page_adds_and_lists(client, admin, sqlite_shop):
    await _admin_with_synced_shop(client, admin, sqlite_shop)
    r = await form_post(client, "/connections/shop/instructions", {"text": "Amounts are USD", "kind": "always"},
                        page="/connections/shop/instructions", htmx=True)
    assert r.status_code == 200 and "Amounts are USD" in r.text


async def test_audit_page_lists_and_filters_admin_changes(client, admin, sqlite_shop):
    await _admin_with_synced_shop(client, admin, sqlite_shop)
    page = await client.get("/admin/audit")
    assert "catalog.connection.create" in page.text and "catalog.sync.start" in page.text
    filtered = await client.get("/admin/audit?action=catalog.sync", headers={"HX-Request": "true"})
    assert "catalog.sync.start" in filtered.text and "catalog.connection.create" not in filtered.text


async def test_audit_page_shows_each_change_as_field_before_and_after_without_escapes(client, admin, sqlite_shop):
    catalog = await _admin_with_synced_shop(client, admin, sqlite_shop)
    await catalog.update_connection(admin, "shop", description="O'Brien's shop")
    page = await client.get("/admin/audit?action=catalog.connection.update", headers={"HX-Request": "true"})
    assert "\\u0027" not in page.text and "&#34;" not in page.text and "<pre>" not in page.text
    row = page.text[page.text.index('<td data-label="Action" class="audit-action"><code>catalog.connection.update'):]
    row = row[:row.index("</tr>")]
    # only what changed, as field: before → after (the apostrophe as written, escaped once for HTML)
    assert '<span class="field">description</span>:' in row
    assert "<del>The shop</del> → <ins>O&#39;Brien&#39;s shop</ins>" in row
    assert '<span class="field">name</span>' not in row
    created = await client.get("/admin/audit?action=catalog.connection.create", headers={"HX-Request": "true"})
    assert '<span class="field">name</span>:' in created.text and "<ins>shop</ins>" in created.text


async def test_the_audit_filter_by_connection_name_finds_its_golden_query_and_instruction_edits(client, admin,
                                                                                                sqlite_shop):
    await _admin_with_synced_shop(client, admin, sqlite_shop)
    await form_post(client, "/connections/shop/instructions", {"text": "Amounts are USD", "kind": "always"},
                    page="/connections/shop/instructions", htmx=True)
    filtered = await client.get("/admin/audit?target=connection:shop", headers={"HX-Request": "true"})
    assert "catalog.instruction.create" in filtered.text and "catalog.connection.create" in filtered.text
    assert "connection:shop/instruction:" in filtered.text  # shown by name, not by id
    other = await client.get("/admin/audit?target=connection:nothing", headers={"HX-Request": "true"})
    assert "catalog.instruction.create" not in other.text


async def test_golden_queries_are_edited_on_the_page_and_a_duplicate_is_refused(client, admin, sqlite_shop):
    await _admin_with_synced_shop(client, admin, sqlite_shop)
    page = "/connections/shop/golden-queries"
    await form_post(client, page, {"question": "How many orders?", "sql": "SELECT count(*) FROM orders"}, page=page,
                    htmx=True)
    [query] = await client.app.state.catalog.golden_queries((await client.app.state.catalog.get_connection("shop")).id)
    saved = await form_post(client, page, {"action": "update", "id": str(query.id), "question": "How many orders in all?",
                                           "sql": "SELECT count(*) AS n FROM orders"}, page=page, htmx=True)
    assert saved.status_code == 200 and "Golden query saved" in saved.text and "How many orders in all?" in saved.text
    bad = await form_post(client, page, {"action": "update", "id": str(query.id), "question": "x",
                                         "sql": "DROP TABLE orders"}, page=page, htmx=True)
    assert bad.status_code == 400 and "DROP" in bad.text
    twice = await form_post(client, page, {"question": "how many orders in all", "sql": "SELECT 1 FROM orders"},
                            page=page, htmx=True)
    assert twice.status_code == 409 and "already has this question" in twice.text


async def test_a_new_connection_saved_although_failing_opens_with_its_test_and_a_closed_port_says_so(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    created = await form_post(client, "/connections", {"name": "down", "url": "postgresql://u:pw@127.0.0.1:1/db",
                                                       "save_failing": "1"}, page="/connections")
    assert created.status_code == 303 and created.headers["location"] == "/connections/down?test=1"
    page = await client.get(created.headers["location"])
    assert page.status_code == 200 and "Saved. Connection test:" in page.text and "cannot reach 127.0.0.1:1" in page.text
    assert 'class="alert error"' in page.text
