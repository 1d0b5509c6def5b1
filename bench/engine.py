"""The engine's own time per question, model excluded: retrieval + prompt + guard on a 50,000-column catalog.

    .venv/bin/python bench/engine.py [--questions 200] [--embedder hashing|minilm]

`prompt_and_guard_overhead()` (prompting + answers + sqlguard) builds a synthetic catalog of 2,500 tables x 20
columns in memory, hands each question a retrieval of 8 tables with 12 columns each, and times what
SqlGenerationService does around the model: the connection's guard policy narrowed to the statement, the fitted
prompt, the SQL grammar over the prompt's tables, and sqlguard.validate() of a two-table join.
`retrieval_overhead()` (the retrieval part) measures the retriever on a 50,000-column catalog in the app database.
Prints p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from retrieval_overhead import retrieval_overhead  # noqa: E402,F401  (the retrieval part: its own script)

def prompt_and_guard_overhead(
    *, tables: int = 2500, columns_per_table: int = 20, questions: int = 200, chosen: int = 8, seed: int = 7
) -> dict[str, float]:
    """Milliseconds per question for what the engine does around the model: policy, prompt, grammar, guard.

    The catalog has `tables` x `columns_per_table` columns (50,000 by default); each question gets a
    retrieval of `chosen` tables with 12 columns each and its SQL is validated against the whole catalog.
    """
    from nl2sql.answers import ConnectionPolicy, guard_policy
    from nl2sql.catalog import ForeignKey, PromptColumn, PromptSchema, PromptTable
    from nl2sql.inference import sql_grammar
    from nl2sql.prompting import PromptBudget, build_prompt
    from nl2sql.retrieval import Retrieval, ScoredTable, ValueMatch
    from nl2sql.sqlguard import validate

    rng = random.Random(seed)
    words = ["order", "customer", "invoice", "payment", "product", "region", "store", "ticket", "flight", "shipment"]
    all_tables = []
    for t in range(tables):
        name = f"{rng.choice(words)}_{t}"
        cols = [PromptColumn("id", "INTEGER", "Primary key", "", (), False, True, False, None)]
        for c in range(1, columns_per_table):
            values = tuple(f"v{k}" for k in range(5)) if c % 7 == 0 else None
            cols.append(PromptColumn(f"{rng.choice(words)}_attr_{c}", rng.choice(["INTEGER", "TEXT", "DATE", "NUMERIC"]),
                                     f"Attribute {c} of {name}", "", (), True, False, c == 3, values))
        fks = (ForeignKey((cols[1].name,), None, all_tables[-1].name, ("id",)),) if all_tables else ()
        all_tables.append(PromptTable(None, name, f"Rows about {name}", "", (), 1000, tuple(cols), fks))
    schema = PromptSchema(1, "wide", "postgres", "", tuple(all_tables), (), dt.datetime.now(dt.UTC))
    budget = PromptBudget(8192, 256, "chatml")
    # built once per catalog version and cached by the engine, like the catalog's own prompt schema
    started = time.perf_counter()
    rules = ConnectionPolicy(guard_policy(schema, 1000))
    policy_build_ms = (time.perf_counter() - started) * 1000
    phases: dict[str, list[float]] = {"policy": [], "prompt": [], "grammar": [], "guard": [], "total": []}
    for _ in range(questions):
        picked = rng.sample(all_tables, chosen)
        scored = tuple(
            ScoredTable(PromptTable(t.schema, t.name, t.description, "", (), t.row_count, t.columns[:12], t.foreign_keys),
                        round(rng.random(), 3))
            for t in picked
        )
        retrieval = Retrieval(1, "postgres", scored, (), (), (), (ValueMatch(picked[0].name, picked[0].columns[7].name, "v1", 1.0),))
        a, b = picked[0], picked[1]
        sql = (f"SELECT a.{a.columns[1].name}, COUNT(*) AS n FROM {a.name} a JOIN {b.name} b ON b.id = a.{a.columns[2].name} "
               f"WHERE a.{a.columns[4].name} IS NOT NULL GROUP BY a.{a.columns[1].name} ORDER BY n DESC")
        start = time.perf_counter()
        policy = rules.for_sql(sql)
        t1 = time.perf_counter()
        prompt = build_prompt("How many rows per attribute?", retrieval, budget, "postgres", dt.date.today())
        t2 = time.perf_counter()
        sql_grammar(prompt.columns_by_table, "postgres")
        t3 = time.perf_counter()
        validate(sql, policy)
        t4 = time.perf_counter()
        for name, (x, y) in {"policy": (start, t1), "prompt": (t1, t2), "grammar": (t2, t3), "guard": (t3, t4),
                             "total": (start, t4)}.items():
            phases[name].append((y - x) * 1000)
    return {f"{name}_p50_ms": round(statistics.median(v), 2) for name, v in phases.items()} | {
        "total_p95_ms": round(sorted(phases["total"])[int(0.95 * len(phases["total"])) - 1], 2),
        "columns": tables * columns_per_table,
        "policy_build_once_ms": round(policy_build_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--embedder", choices=("hashing", "minilm"), default="hashing",
                        help="retrieval's embedder (minilm embeds the 52,000-item catalog first: minutes)")
    args = parser.parse_args()
    figures = prompt_and_guard_overhead(questions=args.questions)
    print(f"prompt + guard on {figures['columns']:,} columns, {args.questions} questions (model excluded):")
    for name in ("policy", "prompt", "grammar", "guard", "total"):
        print(f"  {name:<8} p50 {figures[f'{name}_p50_ms']:7.2f} ms")
    print(f"  total    p95 {figures['total_p95_ms']:7.2f} ms; guard policy built once per catalog version: "
          f"{figures['policy_build_once_ms']:.1f} ms")
    retrieval = globals().get("retrieval_overhead")
    if retrieval is not None:  # the retrieval part, when present in this file
        report, phases = retrieval(100, args.embedder)
        print(report)
        without_embed = statistics.median(phases["total_without_embed"])
        print(f"retrieval (question embedding excluded) + prompt + guard: p50 {without_embed + figures['total_p50_ms']:.1f} ms "
              f"(sum of the two p50s)")


if __name__ == "__main__":
    main()
