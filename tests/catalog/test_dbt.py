"""Import from dbt, with a real dbt run: dbt Labs' jaffle_shop (../shared/dbt) plus semantic models and metrics of
our own (dbt_layer/) built with dbt-core and dbt-postgres on a scratch database of the local PostgreSQL, that
database synced as a connection, the artifacts imported into a knowledge draft, the draft published, and
questions asked that only the imported definitions make answerable. Also: artifacts that match nothing are
refused with a clear report, and nothing is applied.

dbt is found as NL2SQL_TEST_DBT, on PATH, or beside this Python (`pip install dbt-core dbt-postgres`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from nl2sql.errors import ValidationFailed
from nl2sql.semantics import build_semantic_model, compile_plan, read_question

PROJECT = Path(__file__).resolve().parents[3] / "shared" / "dbt" / "jaffle_shop"
LAYER = Path(__file__).parent / "dbt_layer"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _dbt() -> str | None:
    beside = Path(sys.executable).parent / "dbt"
    return os.environ.get("NL2SQL_TEST_DBT") or shutil.which("dbt") or (str(beside) if beside.exists() else None)


@pytest.fixture(scope="module")
def jaffle(tmp_path_factory):
    """The built project: (database name, its target/ folder)."""
    dbt = _dbt()
    if dbt is None or not PROJECT.exists():
        pytest.skip("dbt (dbt-core, dbt-postgres) or ../shared/dbt/jaffle_shop is not installed here")
    root = tmp_path_factory.mktemp("dbt")
    project = root / "jaffle_shop"
    shutil.copytree(PROJECT, project)
    for item in LAYER.iterdir():
        shutil.copy(item, project / "models" / item.name)
    name = f"jaffle_{uuid.uuid4().hex[:8]}"
    (root / "profiles.yml").write_text(
        "jaffle_shop:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: 127.0.0.1\n"
        f"      port: 5432\n      user: postgres\n      password: ''\n      dbname: {name}\n      schema: public\n"
        "      threads: 2\n")
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    env = os.environ | {"DBT_PROFILES_DIR": str(root), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for command in (["seed"], ["run"], ["docs", "generate"]):
        done = subprocess.run([dbt, *command], cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:]
    yield name, project / "target"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _artifacts(target: Path) -> tuple[dict, dict, dict]:
    return tuple(json.loads((target / f).read_text()) for f in ("manifest.json", "catalog.json",  # type: ignore
                                                                 "semantic_manifest.json"))


def _answer(model, question: str) -> str:
    readings = read_question(question, model)
    assert readings, question
    return compile_plan(readings[0].plan, model)


async def test_a_dbt_projects_definitions_answer_questions_after_the_draft_is_published(catalog, jaffle):
    database, target = jaffle
    await catalog.create_connection(None, "jaffle", f"{PG}/{database}")
    assert (await catalog.sync_now(None, "jaffle")).error is None
    live = await catalog.get_connection("jaffle")
    manifest, built, semantic = _artifacts(target)

    report = await catalog.import_dbt(None, "jaffle", manifest, built, semantic)
    assert report.draft == "jaffle~draft"
    assert report.tables_described >= 3 and report.columns_described >= 15
    assert report.join_hints >= 1 and report.known_values >= 1
    # jaffle_shop documents a column its customers model no longer builds: listed, not applied
    assert report.unmapped == ("no column 'total_order_amount' in table 'customers'",), report.unmapped
    assert report.metrics == 4 and report.refused == (), report
    assert any("median_order_amount" in u and "median" in u for u in report.unsupported)
    assert any("cumulative_bookings" in u for u in report.unsupported)
    # the draft holds it all; the live connection nothing yet
    assert await catalog.metrics(live.id) == []
    draft = (await catalog.draft("jaffle"))
    kinds = {(c.kind, c.action) for c in draft.changes}
    assert ("metric", "add") in kinds and ("join_hint", "add") in kinds and ("table", "update") in kinds

    await catalog.publish_draft(None, "jaffle")
    names = sorted(m.name for m in await catalog.metrics(live.id))
    assert names == ["average booking", "booked orders", "bookings", "lifetime value"]
    orders = await catalog.table(live.id, "orders")
    assert orders.description.startswith("This table has basic information about orders")

    model = build_semantic_model(await catalog.schema_for_prompt(live.id))
    engine = sa.create_engine(f"{PG}/{database}")
    try:
        with engine.connect() as conn:
            sql = _answer(model, "What were the bookings in 2018?")
            assert "SUM(orders.amount)" in sql and "orders.status IN ('returned', 'return_pending')" in sql, sql
            expected = conn.execute(sa.text(
                "SELECT SUM(amount) FROM orders WHERE status NOT IN ('returned', 'return_pending') "
                "AND order_date >= '2018-01-01' AND order_date < '2019-01-01'")).scalar()
            assert conn.execute(sa.text(sql)).scalar() == expected
            sql = _answer(model, "What is the average booking?")
            expected = conn.execute(sa.text(
                "SELECT SUM(amount) * 1.0 / COUNT(order_id) FROM orders "
                "WHERE status NOT IN ('returned', 'return_pending')")).scalar()
            assert float(conn.execute(sa.text(sql)).scalar()) == pytest.approx(float(expected))
            sql = _answer(model, "monthly bookings")
            assert "DATE_TRUNC('month', orders.order_date)" in sql and "SUM(orders.amount)" in sql, sql
            sql = _answer(model, "total lifetime value of customers")
            assert "SUM(customers.customer_lifetime_value)" in sql, sql
    finally:
        engine.dispose()


async def test_artifacts_that_match_no_table_are_refused_and_nothing_is_applied(catalog, jaffle, sqlite_shop):
    _, target = jaffle
    await catalog.create_connection(None, "shop", sqlite_shop)
    assert (await catalog.sync_now(None, "shop")).error is None
    manifest, built, semantic = _artifacts(target)
    manifest = {**manifest, "nodes": {k: v for k, v in manifest["nodes"].items()
                                      if v.get("name") not in ("customers", "orders")}}
    with pytest.raises(ValidationFailed) as refused:
        await catalog.import_dbt(None, "shop", manifest, built, semantic)
    assert "matches a table of shop, so nothing was applied" in refused.value.detail
    assert "stg_orders" in refused.value.detail
    assert await catalog.draft_of("shop") is None
    assert await catalog.metrics((await catalog.get_connection("shop")).id) == []
    with pytest.raises(ValidationFailed):
        await catalog.import_dbt(None, "shop", {"not": "a manifest"})
