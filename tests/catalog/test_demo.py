import hashlib
import sqlite3

from litestar.testing import AsyncTestClient

from nl2sql.catalog import build_demo_database
from nl2sql.settings import CatalogSettings
from tests.conftest import with_section
from tests.support import bearer


def _digest(path):
    with sqlite3.connect(path) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def test_demo_database_is_deterministic_and_realistic(tmp_path):
    first = build_demo_database(tmp_path / "a" / "shop.db")
    second = build_demo_database(tmp_path / "b" / "shop.db")
    assert _digest(first) == _digest(second)
    with sqlite3.connect(first) as conn:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("categories", "products", "customers", "orders", "order_items", "payments")}
        low, high = conn.execute("SELECT MIN(order_date), MAX(order_date) FROM orders").fetchone()
    assert sum(counts.values()) > 5000 and all(counts.values())
    assert low >= "2023-01-01" and high <= "2025-12-31"


async def test_fresh_start_registers_the_demo_connection_once(settings, admin_key, client):
    from nl2sql.app import create_app

    demo_settings = with_section(settings, catalog=CatalogSettings(demo=True))
    app = create_app(demo_settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as demo_client:
        catalog = demo_client.app.state.catalog
        connection = await catalog.get_connection("demo")
        tables = await catalog.tables(connection.id)
        assert sorted(t.name for t in tables.tables) == [
            "categories", "customers", "order_items", "orders", "payments", "products"]
        orders = await catalog.table(connection.id, "orders")
        assert orders.description == "Orders placed by customers."
        assert {c.name: c for c in orders.columns}["status"].distinct_values == (
            "cancelled", "delivered", "processing", "returned", "shipped")
        assert len(await catalog.instructions(connection.id)) == 4
        assert len(await catalog.golden_queries(connection.id)) == 7
        listed = await demo_client.get("/api/v1/connections", headers=bearer(admin_key))
        assert [c["name"] for c in listed.json()] == ["demo"]
    # a second start on the same data dir leaves it alone, even after an admin deleted it
    await catalog.delete_connection(None, "demo")
    async with AsyncTestClient(app=create_app(demo_settings), base_url="http://testserver.local") as again:
        assert await again.app.state.catalog.list_connections() == []
