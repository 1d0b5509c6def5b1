"""The page that shows what nl2sql understood of a connection, and the admin's corrections through it and the API."""

from __future__ import annotations

from tests.answers.conftest import build_shop_db
from tests.support import ADMIN_PASSWORD, bearer, form_post, login


async def _shop(client, tmp_path):
    admin = await client.app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
    build_shop_db(tmp_path / "semantics_shop.db")
    await client.app.state.catalog.create_connection(admin, "shop", f"sqlite:///{tmp_path / 'semantics_shop.db'}")
    assert (await client.app.state.catalog.sync_now(admin, "shop")).error is None
    await login(client, admin.email, ADMIN_PASSWORD)
    return admin


async def test_the_page_shows_entities_roles_and_joins(client, tmp_path):
    await _shop(client, tmp_path)
    page = await client.get("/connections/shop/semantics")
    assert page.status_code == 200
    assert "What nl2sql understood of shop" in page.text
    assert "orders.customer_id → customers.id" in page.text and "(foreign key)" in page.text
    assert "measure" in page.text and "dimension" in page.text


async def test_an_admin_corrects_a_role_and_the_reader_follows(client, tmp_path):
    admin = await _shop(client, tmp_path)
    response = await form_post(client, "/connections/shop/semantics/columns",
                               {"table": "orders", "column": "amount", "role": "measure", "aggregate": "avg"},
                               page="/connections/shop/semantics")
    assert response.status_code == 200 and "Saved orders.amount." in response.text
    catalog = client.app.state.catalog
    connection = await catalog.get_connection("shop")
    column = {c.name: c for c in (await catalog.table(connection.id, "orders")).columns}["amount"]
    assert column.semantics == {"role": "measure", "aggregate": "avg"}
    exported = await catalog.export_metadata(connection.id)
    orders = next(t for t in exported["tables"] if t["name"] == "orders")
    assert next(c for c in orders["columns"] if c["name"] == "amount")["semantics"] == {"role": "measure", "aggregate": "avg"}

    bad = await form_post(client, "/connections/shop/semantics/columns",
                          {"table": "orders", "column": "amount", "role": "wizard"}, page="/connections/shop/semantics")
    assert bad.status_code == 400 and "role must be one of" in bad.text

    table = await form_post(client, "/connections/shop/semantics/tables", {"table": "customers", "label": "email"},
                            page="/connections/shop/semantics")
    assert table.status_code == 200
    assert (await catalog.table(connection.id, "customers")).semantics == {"label": "email"}
    wrong = await form_post(client, "/connections/shop/semantics/tables", {"table": "customers", "label": "nope"},
                            page="/connections/shop/semantics")
    assert wrong.status_code == 400 and "names no column" in wrong.text


async def test_corrections_through_the_api_and_metadata_import(client, tmp_path):
    admin = await _shop(client, tmp_path)
    key = (await client.app.state.auth.create_api_key(admin, name="t")).key
    response = await client.patch("/api/v1/connections/shop/tables/orders/columns/status",
                                  json={"semantics": {"role": "dimension"}}, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json()["semantics"] == {"role": "dimension"}
    catalog = client.app.state.catalog
    connection = await catalog.get_connection("shop")
    report = await catalog.import_metadata(admin, connection.id, {"tables": [
        {"name": "orders", "semantics": {"time": "nope"}},
        {"name": "orders", "columns": [{"name": "amount", "semantics": {"aggregate": "max"}}]}]})
    assert report.imported == 1 and report.errors and "names no column" in report.errors[0][1]
    schema = await catalog.schema_for_prompt(connection.id)
    from nl2sql.semantics import build_semantic_model

    model = build_semantic_model(schema)
    assert model.attribute("orders", "amount").aggregate == "max"
    assert model.attribute("orders", "status").role == "dimension"


async def _people(client, tmp_path):
    import sqlite3

    admin = await client.app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
    path = tmp_path / "people.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, city TEXT, is_active INTEGER);"
            "CREATE TABLE stock (id INTEGER PRIMARY KEY, product_code TEXT, qty INTEGER, unitprice REAL);"
            "INSERT INTO people VALUES (1, 'Ada', 'Lovelace', 'London', 1);"
            "INSERT INTO stock VALUES (1, 'P-1', 5, 2.5);")
    catalog = client.app.state.catalog
    connection = await catalog.create_connection(admin, "people", f"sqlite:///{path}")
    assert (await catalog.sync_now(admin, "people")).error is None
    await catalog.update_column(admin, connection.id, "people", "city", business_name="Home town",
                                synonyms=["municipality", "place of residence"])
    await login(client, admin.email, ADMIN_PASSWORD)
    return admin


def _cell(page: str, column: str) -> str:
    """The 'Answers to' cell of a column's row on the semantics page."""
    row = page[page.index(f"<td>{column}"):]
    row = row[:row.index("</tr>")]
    return row.split("<td")[5].split(">", 1)[1].split("</td>")[0]


async def test_answers_to_shows_the_words_people_wrote_not_stems(client, tmp_path):
    await _people(client, tmp_path)
    page = (await client.get("/connections/people/semantics")).text
    assert _cell(page, "city") == "city · Home town · municipality · place of residence"
    assert _cell(page, "is_active") == "is active"
    assert _cell(page, "qty") == "quantity"  # the abbreviation spelt out, as the reader reads it
    assert _cell(page, "unitprice") == "unit price"
    for stemmed in ("citi", "activ", "quantiti", "municip", "resid"):
        assert f">{stemmed}<" not in page and f" {stemmed} " not in page and f"{stemmed} ·" not in page
    assert "Answers to: people" in page and "Answers to: stock" in page


async def test_readiness_and_semantics_agree_on_each_tables_display_column(client, tmp_path):
    await _people(client, tmp_path)
    page = (await client.get("/connections/people/semantics")).text
    people = page[page.index('id="entity-people"'):page.index('id="entity-stock"')]
    stock = page[page.index('id="entity-stock"'):]
    assert "shown as: first_name last_name" in people and "no display column" not in people
    assert "shown as: its key (id): no display column found" in stock
    ready = (await client.get("/connections/people/readiness")).text
    assert "stock: no display column" in ready
    assert "people: no display column" not in ready
