"""Retrieval's time per question on a 50,000-column catalog (2,000 tables x 25 columns), model excluded.

Builds (once; kept between runs) a PostgreSQL database `retrieval_bench_wide` on 127.0.0.1:5432 with
2,000 tables of 25 columns, foreign keys between neighbours and a few rows of low-cardinality text,
registers and syncs it in the bench app database (as bench/sqleval_load.py: NL2SQL_DATABASE_URL or
.data/bench), imports generated descriptions, embeds the catalog (the first run with MiniLM takes a few
minutes on a small CPU), then times `Retriever.retrieve()` on generated questions. Prints p50/p95 per phase.

    .venv/bin/python bench/retrieval_overhead.py [--questions 100] [--embedder minilm|hashing] [--rebuild]

`retrieval_overhead()` is what bench/engine.py calls for the retrieval part of the engine's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from sqleval_load import PG, bench_settings, open_catalog  # noqa: E402

from nl2sql.errors import NotFoundError  # noqa: E402
from nl2sql.retrieval import EmbeddingIndex, HashingEmbedder, Retriever, SentenceTransformerEmbedder  # noqa: E402

DATABASE = "retrieval_bench_wide"
CONNECTION = "bench_wide"
NOUNS = (
    "account address agent airport asset balance batch booking branch budget campaign carrier category claim "
    "client contract country coupon course credit currency customer delivery department device discount driver "
    "employee event expense facility fare flight fund grant hotel incident invoice item journal lead ledger "
    "license loan location machine member merchant message order package partner patient payment plan policy "
    "portfolio price product project promotion purchase quote rating region rental report request reservation "
    "return review route salary sale schedule segment sensor service session shipment shop site skill station "
    "stock store student subscription supplier survey task tax teacher team ticket trade transaction trip "
    "vehicle vendor visit voucher warehouse"
).split()
ATTRIBUTES = (
    "amount code count created date description duration email end fee kind level limit name note number owner "
    "percent phone priority quantity rank rate reason score size source start state status tier title total "
    "type unit updated value version weight"
).split()
STATUSES = ("active", "inactive", "pending", "closed", "suspended", "archived")


def _layout(tables: int, columns: int, seed: int = 11) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    layout, used = [], set()
    for t in range(tables):
        while True:
            name = f"{rng.choice(NOUNS)}_{rng.choice(NOUNS)}"
            if name not in used:
                break
            name = f"{name}_{t}"
            if name not in used:
                break
        used.add(name)
        cols, seen = [], {"id"}
        while len(cols) < columns - 2:
            col = f"{rng.choice(NOUNS)}_{rng.choice(ATTRIBUTES)}"
            if col not in seen:
                seen.add(col)
                cols.append(col)
        layout.append((name, cols))
    return layout


def build_database(layout: list[tuple[str, list[str]]]) -> None:
    """Drop and create the wide customer database (tables, neighbour foreign keys, a few rows)."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    statements = []
    for i, (name, cols) in enumerate(layout):
        parent = layout[i - 1][0] if i else None
        body = ["id integer PRIMARY KEY"]
        body.append(f"{parent}_id integer REFERENCES {parent}(id)" if parent else "parent_id integer")
        body += [f"{c} {'text' if c.endswith(('status', 'state', 'kind', 'type', 'tier')) else 'numeric'}" for c in cols]
        statements.append(f"CREATE TABLE {name} ({', '.join(body)});")
        texts = [c for c in cols if c.endswith(("status", "state", "kind", "type", "tier"))]
        if texts and i % 10 == 0:
            values = ", ".join(
                "(" + ", ".join([str(r), "NULL"] + [f"'{STATUSES[(r + k) % len(STATUSES)]}'" for k in range(len(texts))]) + ")"
                for r in range(1, 7)
            )
            statements.append(f"INSERT INTO {name} (id, {'parent_id' if not parent else parent + '_id'}, "
                              f"{', '.join(texts)}) VALUES {values};")
    with psycopg.connect(f"{PG}/{DATABASE}", autocommit=True) as conn:
        # one multi-statement string is one transaction: in chunks, to stay within the server's lock table
        for start in range(0, len(statements), 100):
            conn.execute("\n".join(statements[start:start + 100]))


def _metadata(layout: list[tuple[str, list[str]]]) -> dict:
    meta = {}
    for name, cols in layout:
        a, b = name.split("_")[:2]
        meta[name] = [{"column_name": c, "data_type": "", "column_description":
                       f"The {c.split('_')[1]} of the {c.split('_')[0]} for this {a} {b}"} for c in cols]
    return {"table_metadata": meta}


def _questions(layout: list[tuple[str, list[str]]], count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    forms = ("What is the total {c} per {t}?", "Show the {t} with the highest {c}",
             "How many {t} records have a {c} above average?", "List each {t} and its {c} for last month")
    out = []
    for _ in range(count):
        name, cols = rng.choice(layout)
        out.append(rng.choice(forms).format(t=name.replace("_", " "), c=rng.choice(cols).replace("_", " ")))
    return out


async def _prepare(catalog, layout, rebuild: bool) -> int:
    try:
        connection = await catalog.get_connection(CONNECTION)
        if not rebuild:
            schema = await catalog.schema_for_prompt(connection.id)
            if sum(len(t.columns) for t in schema.tables) >= sum(len(c) + 2 for _, c in layout):
                return connection.id
        await catalog.delete_connection(None, CONNECTION)
    except NotFoundError:
        pass
    started = time.perf_counter()
    build_database(layout)
    connection = await catalog.create_connection(None, CONNECTION, f"{PG}/{DATABASE}")
    status = await catalog.sync_now(None, CONNECTION)
    if status.status != "succeeded":
        raise SystemExit(f"sync failed: {status.error}")
    await catalog.import_metadata(None, connection.id, _metadata(layout))
    print(f"built, synced and described the wide catalog in {time.perf_counter() - started:.0f} s", flush=True)
    return connection.id


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(questions: int = 100, embedder_kind: str = "minilm", tables: int = 2000, columns: int = 25,
                  rebuild: bool = False) -> str:
    return (await measure_phases(questions, embedder_kind, tables, columns, rebuild))[0]


async def measure_phases(questions: int = 100, embedder_kind: str = "minilm", tables: int = 2000, columns: int = 25,
                         rebuild: bool = False) -> tuple[str, dict[str, list[float]]]:
    """The printable report and the milliseconds per phase and question."""
    settings = bench_settings()
    db, catalog = await open_catalog(settings)
    layout = _layout(tables, columns)
    try:
        connection_id = await _prepare(catalog, layout, rebuild)
        embedder = SentenceTransformerEmbedder() if embedder_kind == "minilm" else HashingEmbedder()
        retriever = Retriever(catalog, EmbeddingIndex(db.sessions, embedder, ef_search=settings.retrieval.ef_search),
                              settings.retrieval)
        started = time.perf_counter()
        await retriever.view(connection_id)  # once per catalog version: texts, joins, value and name lookups
        view_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        embedded = await retriever.refresh(connection_id)
        index_s = time.perf_counter() - started
        schema = await catalog.schema_for_prompt(connection_id)
        await retriever.retrieve("warm up the model and caches", connection_id)
        phases: dict[str, list[float]] = {}
        sizes = []
        for question in _questions(layout, questions):
            result = await retriever.retrieve(question, connection_id)
            for phase, ms in result.timings.items():
                phases.setdefault(phase, []).append(ms)
            phases.setdefault("total_without_embed", []).append(result.timings["total"] - result.timings["embed"])
            sizes.append(len(result.tables))
    finally:
        catalog.close()
        await db.close()
    columns_total = sum(len(t.columns) for t in schema.tables)
    lines = [f"retrieval on {len(schema.tables):,} tables / {columns_total:,} columns, {questions} questions, "
             f"embedder {embedder.model_name} (index refresh: {embedded} items embedded in {index_s:.1f} s):"]
    for phase in ("catalog", "index", "embed", "search", "values", "score", "total", "total_without_embed"):
        if phase in phases:
            lines.append(f"  {phase:<20} p50 {statistics.median(phases[phase]):7.2f} ms   p95 {_p(phases[phase], 0.95):7.2f} ms")
    lines.append(f"  tables per question: {statistics.mean(sizes):.1f} on average; catalog view built once per "
                 f"version in {view_ms:.0f} ms")
    return "\n".join(lines), phases


def retrieval_overhead(questions: int = 100, embedder: str = "minilm") -> tuple[str, dict[str, list[float]]]:
    """The retrieval part of bench/engine.py: a printable report of p50/p95 per phase, and the samples."""
    return asyncio.run(measure_phases(questions, embedder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--embedder", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the wide database and its catalog")
    args = parser.parse_args()
    print(asyncio.run(measure(args.questions, args.embedder, rebuild=args.rebuild)))


if __name__ == "__main__":
    main()
