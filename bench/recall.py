"""Retrieval recall on sqleval: share of questions whose gold tables are all in the retrieved (pruned) schema.

Run bench/sqleval_load.py first (same app database). A question counts as recalled when, for some gold
alternative (`;`-separated, parsed with sqlglot's postgres dialect), every table it reads is retrieved.
Prints recall overall and per database, the average tables and columns in the pruned schema, and the misses.

    .venv/bin/python bench/recall.py [--embedder minilm|hashing] [--max-tables N] [--misses]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import statistics
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import sqlglot
from sqlglot import exp

from nl2sql.retrieval import EmbeddingIndex, HashingEmbedder, Retriever, SentenceTransformerEmbedder

sys.path.insert(0, str(Path(__file__).parent))
from sqleval_load import DEFAULT_SQLEVAL, bench_settings, connection_name, open_catalog  # noqa: E402

QUESTION_FILES = ("questions_gen_postgres.csv", "instruct_basic_postgres.csv", "instruct_advanced_postgres.csv")
BRACES = re.compile(r"\{([^{}]*)\}")


def gold_alternatives(query: str) -> list[str]:
    """The `;`-separated gold queries with `{a, b}` column choices written out (`{}` as the first column)."""
    def expand(match: re.Match) -> str:
        inside = match.group(1).strip()
        return inside if inside else "1"

    return [q.strip() for q in BRACES.sub(expand, query).split(";") if q.strip()]


def tables_of(sql: str) -> set[str] | None:
    """Lower-cased names of the tables a query reads (CTE names left out); None if it doesn't parse."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return None
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    return {t.name.lower() for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes}


def questions(sqleval: Path) -> list[dict[str, str]]:
    rows = []
    for name in QUESTION_FILES:
        with (sqleval / name).open(newline="") as handle:
            for row in csv.DictReader(handle):
                rows.append({"file": name, "db": row["db_name"], "question": row["question"], "query": row["query"],
                             "instructions": (row.get("instructions") or "").strip()})
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqleval", type=Path, default=DEFAULT_SQLEVAL)
    parser.add_argument("--embedder", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--max-tables", type=int, default=None)
    parser.add_argument("--max-columns", type=int, default=None)
    parser.add_argument("--min-ratio", type=float, default=None)
    parser.add_argument("--keyword-weight", type=float, default=None)
    parser.add_argument("--with-instructions", action="store_true",
                        help="append each question's own instructions (sqleval's `instructions` field) to it")
    parser.add_argument("--misses", action="store_true", help="print each missed question with what was missing")
    args = parser.parse_args()
    settings = bench_settings()
    overrides = {k: v for k, v in (("max_tables", args.max_tables), ("max_columns", args.max_columns),
                                   ("table_min_ratio", args.min_ratio), ("keyword_weight", args.keyword_weight))
                 if v is not None}
    retrieval_settings = replace(settings.retrieval, **overrides)
    db, catalog = await open_catalog(settings)
    embedder = SentenceTransformerEmbedder(batch_size=retrieval_settings.embedding_batch_size) \
        if args.embedder == "minilm" else HashingEmbedder()
    retriever = Retriever(catalog, EmbeddingIndex(db.sessions, embedder, ef_search=retrieval_settings.ef_search),
                          retrieval_settings)
    hits: dict[str, list[bool]] = defaultdict(list)
    sizes_tables: list[int] = []
    sizes_columns: list[int] = []
    totals: dict[str, tuple[int, int]] = {}
    unparsed = 0
    try:
        ids = {}
        for name in sorted({q["db"] for q in questions(args.sqleval)}):
            connection = await catalog.get_connection(connection_name(name))
            ids[name] = connection.id
            await retriever.refresh(connection.id)
            schema = await catalog.schema_for_prompt(connection.id)
            totals[name] = (len(schema.tables), sum(len(t.columns) for t in schema.tables))
        for row in questions(args.sqleval):
            question = row["question"]
            if args.with_instructions and row["instructions"]:
                question += "\n" + row["instructions"]
            result = await retriever.retrieve(question, ids[row["db"]])
            got = {t.table.name.lower() for t in result.tables}
            sizes_tables.append(len(result.tables))
            sizes_columns.append(sum(len(t.table.columns) for t in result.tables))
            alternatives = [tables_of(q) for q in gold_alternatives(row["query"])]
            parsed = [a for a in alternatives if a is not None]
            if not parsed:
                unparsed += 1
                continue
            ok = any(a <= got for a in parsed)
            hits[row["db"]].append(ok)
            if not ok and args.misses:
                missing = min((a - got for a in parsed), key=len)
                print(f"MISS [{row['db']}] {row['question'][:100]!r}: missing {sorted(missing)}, got {sorted(got)}")
    finally:
        catalog.close()
        await db.close()
    everything = [h for rows in hits.values() for h in rows]
    print(f"embedder {embedder.model_name}, max_tables {retrieval_settings.max_tables}, "
          f"max_columns {retrieval_settings.max_columns}, min_ratio {retrieval_settings.table_min_ratio}")
    print(f"recall {sum(everything) / len(everything):.3f} over {len(everything)} questions"
          + (f" ({unparsed} with no parseable gold query left out)" if unparsed else ""))
    for name in sorted(hits):
        rows = hits[name]
        tables, columns = totals[name]
        print(f"  {name:15} {sum(rows) / len(rows):.3f}  ({sum(rows)}/{len(rows)}; catalog {tables} tables, {columns} columns)")
    print(f"pruned schema: {statistics.mean(sizes_tables):.1f} tables, {statistics.mean(sizes_columns):.1f} columns "
          f"on average (median {statistics.median(sizes_tables)} tables)")


if __name__ == "__main__":
    asyncio.run(main())
