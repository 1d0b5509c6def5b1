"""A sqleval database padded with unrelated tables, registered as its own connection: how a large real catalog
looks to the engine (plausible names and columns, some sharing words with the real tables).

    .venv/bin/python bench/noise_tables.py --db academic --tables 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from sqleval_load import DEFAULT_SQLEVAL, PG, bench_settings, connection_name, open_catalog  # noqa: E402

NOUNS = (
    "account adjustment allocation approval asset audit badge batch benefit bid budget campaign carrier category "
    "certificate claim clinic commission complaint component contract coupon course credit currency customer "
    "delivery deposit device discount dispatch document donation driver employee enrollment equipment estimate "
    "event expense facility feedback fleet forecast grant incident inspection installment insurance inventory "
    "invoice job ledger lease license location maintenance manifest meeting member membership message milestone "
    "module notice offer order package partner patient payment payroll permit pipeline plan policy portfolio "
    "position prescription price project promotion purchase quota quote rebate receipt refund region registration "
    "reimbursement rental repair report request reservation resource return review reward risk route salary "
    "schedule segment service session shift shipment site skill subscription supplier survey task tax team "
    "template ticket timesheet trailer training transfer trip truck unit upgrade vehicle vendor visit voucher "
    "warehouse warranty workflow zone"
).split()
QUALIFIERS = "daily monthly regional internal legacy archived pending external staging backup draft temp".split()
COLUMNS = (
    ("id", "integer"), ("name", "text"), ("code", "text"), ("status", "text"), ("amount", "numeric(10,2)"),
    ("quantity", "integer"), ("created_at", "timestamp"), ("updated_at", "timestamp"), ("notes", "text"),
    ("priority", "integer"), ("score", "numeric(6,2)"), ("category", "text"), ("owner", "text"),
    ("start_date", "date"), ("end_date", "date"), ("total", "numeric(12,2)"), ("rate", "numeric(6,3)"),
    ("region", "text"), ("title", "text"), ("description", "text"), ("count", "integer"), ("level", "integer"),
)


def _real_words(db: str) -> list[str]:
    meta = json.loads((DEFAULT_SQLEVAL / "dbs" / f"{db}.json").read_text())["table_metadata"]
    words = set()
    for table, columns in meta.items():
        words.update(w for w in re.split(r"[_\W]+", table.lower()) if len(w) > 2)
        for c in columns:
            words.update(w for w in re.split(r"[_\W]+", c["column_name"].lower()) if len(w) > 2)
    return sorted(words)


def noise_schema(db: str, count: int, seed: int = 11) -> list[str]:
    """CREATE TABLE statements for `count` unrelated tables; about one in ten borrows a word of the real schema."""
    rng = random.Random(seed)
    shared = _real_words(db)
    real = {t.lower() for t in json.loads((DEFAULT_SQLEVAL / "dbs" / f"{db}.json").read_text())["table_metadata"]}
    names: set[str] = set(real)
    statements = []
    while len(statements) < count:
        words = [rng.choice(NOUNS)]
        if rng.random() < 0.5:
            words.insert(0, rng.choice(QUALIFIERS))
        if rng.random() < 0.6:
            words.append(rng.choice(NOUNS))
        if rng.random() < 0.1 and shared:
            words.insert(rng.randrange(len(words) + 1), rng.choice(shared))
        name = "_".join(words)
        if name in names:
            name = f"{name}_{len(statements)}"
        if name in names:
            continue
        names.add(name)
        columns = rng.sample(COLUMNS[1:], rng.randint(3, 8))
        if rng.random() < 0.15 and shared:
            columns.append((f"{rng.choice(shared)}_{rng.choice(['id', 'name', 'count', 'total'])}", "text"))
        body = ", ".join(["id integer PRIMARY KEY"] + [f'"{c}" {t}' for c, t in dict(columns).items()])
        statements.append(f'CREATE TABLE "{name}" ({body})')
    return statements


async def ensure_noise_connection(catalog, db: str, count: int) -> str:
    """The padded copy of `db` as connection `sqleval_<db>_noise<count>` (made, loaded and synced once)."""
    from nl2sql.errors import NotFoundError

    name = f"{connection_name(db)}_noise{count}"
    try:
        await catalog.get_connection(name)
        return name
    except NotFoundError:
        pass
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{PG}/{name}", autocommit=True) as conn:
        conn.execute((DEFAULT_SQLEVAL / "dbs" / f"{db}.sql").read_text())
        for statement in noise_schema(db, count):
            conn.execute(statement)
    connection = await catalog.create_connection(None, name, f"{PG}/{name}", description=f"sqleval {db} + {count} tables")
    status = await catalog.sync_now(None, name)
    if status.status != "succeeded":
        raise SystemExit(f"sync of {name} failed: {status.error}")
    await catalog.import_metadata(None, connection.id, json.loads((DEFAULT_SQLEVAL / "dbs" / f"{db}.json").read_text()))
    await catalog.import_metadata(None, connection.id,
                                  json.loads((DEFAULT_SQLEVAL / "dbs" / "columns_join.json").read_text()), db=db)
    print(f"{name}: {status.diff['summary']['tables']} tables synced", flush=True)
    return name


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--tables", type=int, default=2000)
    args = parser.parse_args()
    db, catalog = await open_catalog(bench_settings())
    try:
        print(await ensure_noise_connection(catalog, args.db, args.tables))
    finally:
        catalog.close()
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
