"""Load ../shared/sqleval into the local PostgreSQL and register each database as a synced nl2sql connection.

Each dbs/<db>.sql goes into its own database `sqleval_<db>` on 127.0.0.1:5432 (user postgres; dropped and
recreated, so running it again is safe); the app database gets a connection `sqleval_<db>` (created or
updated), synced, with dbs/<db>.json descriptions and dbs/columns_join.json join hints imported through
the catalog. The app database is NL2SQL_DATABASE_URL, else an embedded one in .data/bench.

    .venv/bin/python bench/sqleval_load.py [--sqleval ../shared/sqleval] [--db academic ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import psycopg

from nl2sql.app import resolve_secret_key
from nl2sql.catalog import CatalogService
from nl2sql.db import AppDatabase
from nl2sql.errors import NotFoundError
from nl2sql.settings import CatalogSettings, DatabaseSettings, Settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SQLEVAL = REPO.parent / "shared" / "sqleval"
PG = "postgresql://postgres@127.0.0.1:5432"
DATABASES = ("academic", "advising", "atis", "broker", "car_dealership", "geography")


def bench_settings() -> Settings:
    """Settings from the environment; without NL2SQL_DATABASE_URL an embedded app database in .data/bench."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings.from_env()
    if not settings.database.url and "NL2SQL_DATA_DIR" not in os.environ:
        settings = replace(settings, database=DatabaseSettings(data_dir=REPO / ".data" / "bench"))
    return settings


def connection_name(db: str) -> str:
    return f"sqleval_{db}"


def load_dump(sql_path: Path, db: str) -> None:
    """Drop and recreate `sqleval_<db>` and run the dump into it."""
    name = connection_name(db)
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{PG}/{name}", autocommit=True) as conn:
        conn.execute(sql_path.read_text())


async def register(catalog: CatalogService, sqleval: Path, db: str) -> str:
    """Create or update the connection, sync it and import descriptions and join hints; a one-line summary."""
    name = connection_name(db)
    url = f"{PG}/{name}"
    try:
        await catalog.get_connection(name)
        await catalog.update_connection(None, name, url=url)
    except NotFoundError:
        await catalog.create_connection(None, name, url, description=f"sqleval {db} database")
    connection = await catalog.get_connection(name)
    status = await catalog.sync_now(None, name)
    if status.status != "succeeded":
        raise SystemExit(f"sync of {name} failed: {status.error}")
    described = await catalog.import_metadata(None, connection.id, json.loads((sqleval / "dbs" / f"{db}.json").read_text()))
    joins = await catalog.import_metadata(
        None, connection.id, json.loads((sqleval / "dbs" / "columns_join.json").read_text()), db=db
    )
    problems = list(described.errors) + list(joins.errors)
    summary = f"{name}: synced, {described.imported} descriptions, {joins.imported} join entries imported"
    if problems:
        summary += f", {len(problems)} refused (first: {problems[0][1]})"
    return summary


async def open_catalog(settings: Settings) -> tuple[AppDatabase, CatalogService]:
    db = AppDatabase(settings.database.url, settings.database.data_dir, pool_size=4)
    await asyncio.to_thread(db.open, migrate=True)
    catalog = CatalogService(db.sessions, CatalogSettings(demo=False), resolve_secret_key(settings))
    return db, catalog


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqleval", type=Path, default=DEFAULT_SQLEVAL)
    parser.add_argument("--db", action="append", choices=DATABASES, help="only these databases (repeatable)")
    args = parser.parse_args()
    settings = bench_settings()
    db, catalog = await open_catalog(settings)
    try:
        for name in args.db or DATABASES:
            load_dump(args.sqleval / "dbs" / f"{name}.sql", name)
            print(await register(catalog, args.sqleval, name), flush=True)
    finally:
        catalog.close()
        await db.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
