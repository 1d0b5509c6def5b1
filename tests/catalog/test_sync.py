import sqlite3

import pytest
import sqlalchemy as sa

from nl2sql.catalog import SyncState


async def _synced(catalog, name, url):
    connection = await catalog.create_connection(None, name, url)
    status = await catalog.sync_now(None, name)
    assert status.status == SyncState.SUCCEEDED, status.error
    return connection, status


@pytest.mark.parametrize("database", ["pg_shop", "mariadb_shop", "sqlite_shop"])
async def test_sync_reads_tables_columns_keys_and_values(catalog, database, request):
    connection, status = await _synced(catalog, "shop", request.getfixturevalue(database))
    assert status.diff["first_sync"] is True
    customers = await catalog.table(connection.id, "customers")
    orders = await catalog.table(connection.id, "orders")
    by_name = {c.name: c for c in customers.columns}
    assert [c.name for c in customers.columns] == ["id", "name", "state", "email", "password_hash"]
    assert by_name["id"].primary_key and not by_name["name"].nullable
    assert by_name["state"].distinct_values == ("CA", "NY", "TX")
    # 30 distinct names is under the threshold of 50; e-mails too
    assert by_name["name"].distinct_values is not None and len(by_name["name"].distinct_values) == 30
    assert by_name["password_hash"].sensitive and by_name["password_hash"].distinct_values is None
    assert customers.row_count == 30
    (fk,) = orders.foreign_keys
    assert (fk.columns, fk.ref_table, fk.ref_columns) == (("customer_id",), "customers", ("id",))
    assert {c.name: c for c in orders.columns}["status"].distinct_values == ("new", "shipped")
    if database != "sqlite_shop":
        assert customers.comment == "People who bought something"
        assert by_name["state"].comment == "US state code"


async def test_views_are_synced_as_views(catalog, pg_shop):
    connection, _ = await _synced(catalog, "shop", pg_shop)
    view = await catalog.table(connection.id, "big_orders")
    assert view.kind == "view"
    assert [c.name for c in view.columns] == ["id", "customer_id", "status", "amount"]


async def test_distinct_values_respect_the_threshold(catalog, sqlite_shop):
    from dataclasses import replace

    catalog.settings = replace(catalog.settings, distinct_values_max=5)
    connection, _ = await _synced(catalog, "shop", sqlite_shop)
    columns = {c.name: c for c in (await catalog.table(connection.id, "customers")).columns}
    assert columns["state"].distinct_values == ("CA", "NY", "TX")
    assert columns["name"].distinct_values is None


async def test_resync_reports_diff_and_keeps_human_metadata(catalog, sqlite_shop):
    connection, _ = await _synced(catalog, "shop", sqlite_shop)
    await catalog.update_table(None, connection.id, "customers", description="Buyers", synonyms="clients, buyers")
    await catalog.update_column(None, connection.id, "customers", "state", description="Two-letter state", sensitive=True)
    await catalog.update_column(None, connection.id, "orders", "amount", description="Order total in USD")
    path = sqlite_shop.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE payments (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id));"
            "ALTER TABLE customers ADD COLUMN phone TEXT;"
            "ALTER TABLE orders DROP COLUMN amount;"
        )
    status = await catalog.sync_now(None, "shop")
    assert status.status == SyncState.SUCCEEDED, status.error
    diff = status.diff
    assert diff["first_sync"] is False
    assert diff["added_tables"] == ["payments"]
    assert diff["removed_tables"] == []
    changed = {c["table"]: c for c in diff["changed_tables"]}
    assert changed["customers"]["added_columns"] == ["phone"]
    assert changed["orders"]["removed_columns"] == ["amount"]
    customers = await catalog.table(connection.id, "customers")
    assert customers.description == "Buyers" and customers.synonyms == ("clients", "buyers")
    state = {c.name: c for c in customers.columns}["state"]
    assert state.description == "Two-letter state" and state.sensitive and state.distinct_values is None


async def test_resync_reports_removed_tables_and_type_changes(catalog, sqlite_shop):
    await _synced(catalog, "shop", sqlite_shop)
    path = sqlite_shop.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "DROP TABLE orders; CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT, status TEXT);"
            "CREATE TABLE t2 (x INT); DROP TABLE t2;"
        )
        conn.execute("ALTER TABLE customers RENAME TO clients")
    status = await catalog.sync_now(None, "shop")
    assert status.diff["removed_tables"] == ["customers"]
    assert status.diff["added_tables"] == ["clients"]
    (orders,) = status.diff["changed_tables"]
    changed = {c["column"]: c["changes"] for c in orders["changed_columns"]}
    assert changed["customer_id"]["type"] == ["INTEGER", "BIGINT"]
    assert changed["customer_id"]["nullable"] == [False, True]


async def test_failed_sync_reports_why_and_keeps_the_previous_catalog(catalog, sqlite_shop, tmp_path):
    connection, _ = await _synced(catalog, "shop", sqlite_shop)
    await catalog.update_table(None, connection.id, "orders", description="Kept")
    await catalog.update_connection(None, "shop", url=f"sqlite:///{tmp_path}/moved-away.db")
    status = await catalog.sync_now(None, "shop")
    assert status.status == SyncState.FAILED
    assert "does not exist" in status.error
    assert (await catalog.table(connection.id, "orders")).description == "Kept"
    assert (await catalog.tables(connection.id)).total == 2


async def test_failed_sync_on_unreachable_server_says_so(catalog):
    await catalog.create_connection(None, "down", "mysql://root:pw@127.0.0.1:1/none")
    status = await catalog.sync_now(None, "down")
    assert status.status == SyncState.FAILED
    assert status.error.startswith("cannot reach 127.0.0.1:1")


async def test_prompt_schema_leaves_out_excluded_items_and_sensitive_values(catalog, pg_shop):
    connection, _ = await _synced(catalog, "shop", pg_shop)
    await catalog.update_table(None, connection.id, "big_orders", included=False)
    await catalog.update_column(None, connection.id, "customers", "email", included=False)
    await catalog.update_column(None, connection.id, "customers", "state", sensitive=True, business_name="Region")
    await catalog.add_join_hint(None, connection.id, "orders", "customers", [("orders.customer_id", "customers.id")])
    schema = await catalog.schema_for_prompt(connection.id)
    assert [t.name for t in schema.tables] == ["customers", "orders"]
    customers = schema.tables[0]
    columns = {c.name: c for c in customers.columns}
    assert "email" not in columns
    assert columns["state"].sensitive and columns["state"].values is None and columns["state"].business_name == "Region"
    assert customers.description == "People who bought something"
    assert schema.tables[1].foreign_keys[0].ref_table == "customers"
    assert schema.join_hints[0].pairs == (("orders.customer_id", "customers.id"),)
    assert "customers.state" in schema.sensitive_columns
    assert schema.dialect == "postgres"


async def test_change_listeners_hear_about_edits(catalog, sqlite_shop):
    heard = []

    async def listener(connection_id):
        heard.append(connection_id)

    catalog.subscribe(listener)
    connection, _ = await _synced(catalog, "shop", sqlite_shop)
    before = (await catalog.get_connection("shop")).catalog_changed_at
    await catalog.update_table(None, connection.id, "orders", description="x")
    assert heard == [connection.id, connection.id]
    assert [c.name for c in await catalog.changed_since(before)] == ["shop"]


async def test_search_finds_tables_by_column_names_and_descriptions(catalog, sqlite_shop):
    connection, _ = await _synced(catalog, "shop", sqlite_shop)
    await catalog.update_column(None, connection.id, "orders", "amount", description="Gross revenue per order")
    assert [t.name for t in (await catalog.tables(connection.id, search="revenue")).tables] == ["orders"]
    assert [t.name for t in (await catalog.tables(connection.id, search="EMAIL")).tables] == ["customers"]
    assert [t.name for t in (await catalog.tables(connection.id, search="100%_")).tables] == []


@pytest.fixture
def pg_sales_schema():
    """A PostgreSQL database whose tables all live in a `sales` schema (and a second, `hr`); public is empty."""
    import uuid

    from tests.catalog.conftest import PG_HOST, _pg_admin

    name = f"catalog_schemas_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(f"postgresql+psycopg://postgres@{PG_HOST}/{name}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA sales"))
        conn.execute(sa.text("CREATE SCHEMA hr"))
        conn.execute(sa.text("CREATE TABLE sales.customers (id integer PRIMARY KEY, region text)"))
        conn.execute(sa.text(
            "CREATE TABLE sales.invoices (id integer PRIMARY KEY, customer_id integer REFERENCES sales.customers(id), "
            "total numeric(10,2))"))
        conn.execute(sa.text("CREATE TABLE hr.staff (id integer PRIMARY KEY, name text)"))
        conn.execute(sa.text("INSERT INTO sales.customers VALUES (1, 'north'), (2, 'south')"))
    engine.dispose()
    yield f"postgresql://postgres@{PG_HOST}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


async def test_sync_without_configured_schemas_reads_every_readable_schema(catalog, pg_sales_schema):
    connection, status = await _synced(catalog, "sales", pg_sales_schema)
    assert set(status.diff["schemas"]) == {"public", "sales", "hr"}
    assert "warning" not in status.diff
    assert set(status.diff["added_tables"]) == {"sales.customers", "sales.invoices", "hr.staff"}
    invoices = await catalog.table(connection.id, "invoices")
    assert invoices.schema == "sales"
    (fk,) = invoices.foreign_keys
    assert (fk.ref_schema, fk.ref_table) == ("sales", "customers")
    region = {c.name: c for c in (await catalog.table(connection.id, "customers")).columns}["region"]
    assert region.distinct_values == ("north", "south")


async def test_sync_that_finds_nothing_names_the_schemas_that_exist(catalog, pg_sales_schema):
    await catalog.create_connection(None, "only_public", pg_sales_schema, schemas=["public"])
    status = await catalog.sync_now(None, "only_public")
    assert status.status == SyncState.SUCCEEDED
    assert status.diff["schemas"] == ["public"]
    warning = status.diff["warning"]
    assert "no tables or views found in schema public" in warning
    assert "hr" in warning and "sales" in warning and "schemas" in warning


async def test_join_hints_must_name_tables_and_columns_of_the_catalog(catalog, sqlite_shop):
    from nl2sql.errors import ValidationFailed

    connection, _ = await _synced(catalog, "lite", sqlite_shop)
    with pytest.raises(ValidationFailed, match="no table 'secrets'"):
        await catalog.add_join_hint(None, connection.id, "orders", "secrets", [("customer_id", "id")])
    with pytest.raises(ValidationFailed, match="no column 'owner_id'"):
        await catalog.add_join_hint(None, connection.id, "orders", "customers", [("owner_id", "id")])
    hint = await catalog.add_join_hint(None, connection.id, "orders", "customers", [("orders.customer_id", "customers.id")])
    assert [h.id for h in await catalog.join_hints(connection.id)] == [hint.id]


async def test_a_resync_reads_again_only_the_postgresql_tables_whose_rows_changed(catalog, pg_shop, monkeypatch):
    import time

    from nl2sql.catalog import introspection

    connection, first = await _synced(catalog, "shop", pg_shop)
    sampled: list[str] = []
    real = introspection._scan_small
    monkeypatch.setattr(introspection, "_scan_small", lambda conn, table, plan: (sampled.append(table.name),
                                                                                  real(conn, table, plan)))
    # nothing written since: no table is read again, and the values stay
    again = await catalog.sync_now(None, "shop")
    assert again.status == SyncState.SUCCEEDED and sampled == [] and again.diff["changed_catalog"] is False
    states = {c.name: c for c in (await catalog.table(connection.id, "customers")).columns}["state"]
    assert states.distinct_values == ("CA", "NY", "TX")

    # a new status in orders: that table (only) is read again, and its new value is there
    engine = sa.create_engine(pg_shop.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO orders VALUES (31, 1, 'returned', 5)"))
    with engine.connect() as conn:  # PostgreSQL publishes a backend's write counts within a second
        conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        conn.commit()
    engine.dispose()
    deadline = time.monotonic() + 5
    while True:
        sampled.clear()
        third = await catalog.sync_now(None, "shop")
        if sampled or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sampled == ["orders"], sampled
    statuses = {c.name: c for c in (await catalog.table(connection.id, "orders")).columns}["status"]
    assert statuses.distinct_values == ("new", "returned", "shipped") and third.diff["changed_catalog"] is True

    # flagging a column sensitive or excluded makes the next sync read its table again
    await catalog.update_column(None, connection.id, "customers", "state", sensitive=True)
    await catalog.update_column(None, connection.id, "customers", "state", sensitive=False)
    sampled.clear()
    await catalog.sync_now(None, "shop")
    assert sampled == ["customers"]
