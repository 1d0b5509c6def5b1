"""The readiness checklist on a fixture connection: descriptions, columns the reader can't place or tell apart,
golden queries that no longer run, instructions naming unknown columns, golden coverage; each with its page."""

from __future__ import annotations

import sqlite3

from nl2sql.evaluation.readiness import readiness
from nl2sql.inference import FakeChatModel


async def test_the_checklist_finds_what_keeps_the_engine_from_answering(shop, tmp_path):
    answers = shop.service(FakeChatModel(["SELECT 1"]))
    first = await readiness(shop.admin, "shop", shop.catalog, answers)
    by_key = {i.key: i for i in first.items}
    assert set(by_key) == {"table_descriptions", "column_descriptions", "semantics", "golden_run", "instructions",
                           "business_words", "golden_coverage"}
    assert not by_key["table_descriptions"].ok and "customers" in by_key["table_descriptions"].details
    assert by_key["table_descriptions"].link == "/catalog?connection=shop"
    assert by_key["golden_run"].summary == "no golden queries yet"
    assert not by_key["golden_coverage"].ok

    cid = shop.connection.id
    await shop.catalog.update_table(shop.admin, cid, "customers", description="People who buy")
    await shop.catalog.update_table(shop.admin, cid, "orders", description="What they bought")
    await shop.catalog.add_instruction(shop.admin, cid, "Revenue is SUM(orders.amount) over shipped orders")
    await shop.catalog.add_instruction(shop.admin, cid, "Use orders.total_price for revenue; status 'in_transit'")
    await shop.catalog.add_golden_query(shop.admin, cid, "How many orders?", "SELECT COUNT(*) FROM orders")
    await shop.catalog.add_golden_query(shop.admin, cid, "How many customers?", "SELECT COUNT(*) FROM customers")
    # the database changes under a golden query after it was saved
    with sqlite3.connect(tmp_path / "answers_shop.db") as db:  # the fixture's file
        db.execute("ALTER TABLE customers RENAME TO clients")
    after = {i.key: i for i in (await readiness(shop.admin, "shop", shop.catalog, answers)).items}
    assert after["table_descriptions"].ok
    broken = after["golden_run"]
    assert not broken.ok and broken.summary == "1 of 2 run" and "How many customers?" in broken.details[0]
    assert broken.link == "/connections/shop/golden-queries"
    instructions = after["instructions"]
    assert not instructions.ok and len(instructions.details) == 1
    assert "orders.total_price" in instructions.details[0] and "in_transit" not in instructions.details[0]
    assert after["golden_coverage"].ok and after["golden_coverage"].details == ()


async def test_a_business_word_golden_questions_use_but_no_metric_defines_is_listed(shop):
    answers = shop.service(FakeChatModel(["SELECT 1"]))
    cid = shop.connection.id
    await shop.catalog.add_instruction(shop.admin, cid, "Revenue means the sum of orders.amount over shipped orders")
    for question in ("What is the revenue?", "What was the revenue per state?"):
        await shop.catalog.add_golden_query(shop.admin, cid, question,
                                            "SELECT SUM(amount) FROM orders WHERE status = 'shipped'")
    item = next(i for i in (await readiness(shop.admin, "shop", shop.catalog, answers)).items
                if i.key == "business_words")
    assert not item.ok and item.link == "/connections/shop/semantics#layer"
    assert item.details == ("the word 'revenue' appears in 2 golden question(s) but no metric defines it",)
    await shop.catalog.add_metric(shop.admin, cid, {"name": "revenue", "expression": "sum(orders.amount)",
                                                    "filters": ["orders.status = 'shipped'"]})
    item = next(i for i in (await readiness(shop.admin, "shop", shop.catalog, answers)).items
                if i.key == "business_words")
    assert item.ok and item.summary == "1 metrics and 0 segments", item


async def test_columns_the_reader_cannot_tell_apart_are_listed(app_db_url, tmp_path):
    from tests.answers.conftest import ScriptedRetriever  # noqa: F401 - the fixture module's helpers
    from cryptography.fernet import Fernet
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from nl2sql.auth import AuthService
    from nl2sql.catalog import CatalogService
    from nl2sql.db import async_url
    from nl2sql.settings import AuthSettings, CatalogSettings
    from tests.answers.conftest import Shop

    path = tmp_path / "fleet.db"
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE trucks (id INTEGER PRIMARY KEY, plate TEXT, weight_empty REAL, "
                         "weight_loaded REAL, load_weight REAL, weight REAL);"
                         "INSERT INTO trucks VALUES (1, 'AB-1', 3.5, 9.0, 5.5, 4.0);")
    engine = create_async_engine(async_url(app_db_url), pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    catalog = CatalogService(sessions, CatalogSettings(demo=False), Fernet.generate_key().decode())
    auth = AuthService(sessions, AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1))
    admin = await auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
    connection = await catalog.create_connection(admin, "fleet", f"sqlite:///{path}")
    assert (await catalog.sync_now(admin, "fleet")).error is None
    fleet = Shop(catalog, auth, sessions, connection, admin, admin, ScriptedRetriever(catalog))
    answers = fleet.service(FakeChatModel(["SELECT 1"]))
    item = next(i for i in (await readiness(admin, "fleet", catalog, answers)).items if i.key == "semantics")
    assert item.link == "/connections/fleet/semantics"
    assert any("load_weight" in d and "weight_loaded" in d for d in item.details), item.details
    catalog.close()
    await engine.dispose()
