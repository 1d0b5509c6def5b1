"""Execution accuracy of the engine on ../shared/sqleval, judged as its README says: each generator alone, the
full selection, simulated strong models (perfect and confidently wrong), and catalogs padded with unrelated tables.

    .venv/bin/python bench/accuracy.py                       # every run (the bundled model alone on 20 questions)
    .venv/bin/python bench/accuracy.py --runs reader,full    # chosen runs
    .venv/bin/python bench/accuracy.py --noise 2000          # also reader and full with 2,000 unrelated tables
    .venv/bin/python bench/accuracy.py --model-limit 0       # the bundled model alone on every question (slow)
    .venv/bin/python bench/accuracy.py --check               # the judge's own checks
    .venv/bin/python bench/accuracy.py --runs perfect_full,bad_full --dump F.jsonl   # every candidate, judged

The app database is bench/sqleval_load.py's (NL2SQL_DATABASE_URL, else an embedded one in .data/bench);
databases not registered there yet are loaded and registered with its functions; questions (with their
instructions appended) run through SqlGenerationService with the real retriever; the winner's SQL runs with the row cap
lifted and is judged. Prints accuracy overall, on the classic questions, per category, per database and per
winning generator, p50/p95 seconds, and a summary with the checks the engine issue sets.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import itertools
import json
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SQLEVAL = Path(__file__).resolve().parents[2] / "shared" / "sqleval"
QUESTION_FILES = ("questions_gen_postgres.csv", "instruct_basic_postgres.csv", "instruct_advanced_postgres.csv")
GOLD_TIMEOUT_S = 10.0
ORDER_WORDS = re.compile(r"\b(order|sort|sorted|arrange|arranged|rank|ranked)\b", re.I)


# --- the questions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    file: str
    db: str
    category: str
    question: str
    instructions: str
    gold: str

    @property
    def ordered(self) -> bool:
        """Row order counts for the order_by category or where the question asks for an order."""
        return self.category == "order_by" or bool(ORDER_WORDS.search(self.question))


def load_questions(root: Path = SQLEVAL) -> list[Question]:
    out = []
    for name in QUESTION_FILES:
        with (root / name).open(newline="") as handle:
            for row in csv.DictReader(handle):
                out.append(Question(name, row["db_name"], row["query_category"], row["question"],
                                    (row.get("instructions") or "").strip(), row["query"]))
    return out


def sample(questions: list[Question], limit: int | None, db: str | None, seed: int) -> list[Question]:
    """A seeded sample spread over the databases (round robin), so a small --limit still sees each."""
    chosen = [q for q in questions if db is None or q.db == db]
    if limit is None or limit >= len(chosen):
        return chosen
    rng = random.Random(seed)
    by_db: dict[str, list[Question]] = defaultdict(list)
    for q in chosen:
        by_db[q.db].append(q)
    for group in by_db.values():
        rng.shuffle(group)
    out: list[Question] = []
    for row in itertools.zip_longest(*(by_db[k] for k in sorted(by_db))):
        out += [q for q in row if q is not None]
    return out[:limit]


# the judging rule lives in the product (nl2sql.evaluation), so the bench and an admin's evaluation agree
from nl2sql.evaluation.judge import Table, exact_match, gold_alternatives, judge, order_index, subset_match  # noqa: E402
from nl2sql.evaluation.judge import normal as _normal  # noqa: E402


def run_gold(engine: sa.Engine, sql: str) -> Table | None:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET statement_timeout = {int(GOLD_TIMEOUT_S * 1000)}")
            result = conn.execution_options(no_parameters=True).exec_driver_sql(sql)
            rows = tuple(tuple(_normal(v) for v in row) for row in result.fetchall())
            columns = tuple(result.keys())
            return Table(columns, rows, order_index(sql, columns))
    except sa.exc.DBAPIError:
        return None


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    question: Question
    correct: bool
    error: str | None
    seconds: float
    generator: str | None


# Each run: which generators, when the model is asked, and which model (bundled, or a simulated strong one).
RUNS: dict[str, dict[str, Any]] = {
    "reader": {"engine": {"generators": "reader"}, "model": None},
    "golden": {"engine": {"generators": "golden"}, "model": None},
    "model_plan": {"engine": {"generators": "model_plan", "model_when": "always"}, "model": "bundled"},
    "model_sql": {"engine": {"generators": "model_sql", "model_when": "always"}, "model": "bundled"},
    "full": {"engine": {}, "model": "bundled"},
    "perfect_alone": {"engine": {"generators": "model_sql", "model_when": "always"}, "model": "perfect"},
    "perfect_full": {"engine": {}, "model": "perfect"},
    "bad_alone": {"engine": {"generators": "model_sql", "model_when": "always"}, "model": "bad"},
    "bad_full": {"engine": {}, "model": "bad"},
}
DEFAULT_RUNS = "reader,golden,model_plan,model_sql,full,perfect_alone,perfect_full,bad_alone,bad_full"
SLOW_RUNS = {"model_plan", "model_sql"}  # the bundled model alone: ~30 s a question on 2 cores


class SimulatedModel:
    """A fake strong model: `perfect` answers each question with its gold SQL, `bad` with another question's."""

    def __init__(self, kind: str, questions: list[Question]) -> None:
        from nl2sql.inference import FakeChatModel

        self.kind = kind
        self.current: Question | None = None
        by_db: dict[str, list[Question]] = defaultdict(list)
        for q in questions:
            by_db[q.db].append(q)
        self._by_db = by_db
        self.model = FakeChatModel([self._reply], model=f"simulated-{kind}")

    def _reply(self, prompt: str) -> str:
        q = self.current
        if q is None:
            return "SELECT 1"
        if self.kind == "bad":
            # plausible and wrong: the gold SQL of the next question on the same database
            peers = self._by_db[q.db]
            q = peers[(peers.index(q) + 1) % len(peers)]
        return gold_alternatives(q.gold)[0]


async def evaluate(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    # the retrieval engineer's loader: sqleval databases into PostgreSQL, registered and described in the catalog
    from sqleval_load import DEFAULT_SQLEVAL, PG, bench_settings, connection_name, load_dump, open_catalog, register

    from nl2sql.answers import SqlGenerationService, SqlNotGenerated, resolve_trust
    from nl2sql.auth import Role, User
    from nl2sql.errors import AppError, NotFoundError
    from nl2sql.inference import LlamaCppChatModel
    from nl2sql.retrieval import EmbeddingIndex, Retriever, SentenceTransformerEmbedder
    from nl2sql.settings import EngineSettings, InferenceSettings
    from nl2sql.sqlguard import run

    everything = load_questions()
    questions = sample([q for q in everything if q.file in args.files], args.limit, args.db, args.seed)
    dbs = sorted({q.db for q in questions})
    settings = bench_settings()
    db, catalog = await open_catalog(settings)
    for name in dbs:
        try:
            await catalog.get_connection(connection_name(name))
        except NotFoundError:
            # an already loaded database is only registered: reloading drops it under anyone else using it
            if not _database_exists(PG, connection_name(name)):
                load_dump(DEFAULT_SQLEVAL / "dbs" / f"{name}.sql", name)
            print(await register(catalog, DEFAULT_SQLEVAL, name), flush=True)
    noise_names: dict[str, str] = {}
    if args.noise:
        from noise_tables import ensure_noise_connection

        for name in dbs:
            noise_names[name] = await ensure_noise_connection(catalog, name, args.noise)
    # answers records keep the user id only; an admin sees every connection
    admin = User(0, "bench@example.com", "bench", Role.ADMIN, True, dt.datetime.now(dt.UTC))
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    bundled = None
    if any(RUNS[r]["model"] == "bundled" for r in runs):
        chosen = {"model_path": Path(args.model)} if args.model.endswith(".gguf") else {"bundled_model": args.model}
        bundled = LlamaCppChatModel(InferenceSettings(context_size=args.context, slots=1, **chosen))
        await bundled.start()
    retriever = Retriever(catalog, EmbeddingIndex(db.sessions, SentenceTransformerEmbedder()), settings.retrieval)
    pg = {name: sa.create_engine(f"{PG}/{connection_name(name)}".replace("postgresql://", "postgresql+psycopg://"))
          for name in dbs}
    golds = {id(q): [t for t in (run_gold(pg[q.db], g) for g in gold_alternatives(q.gold)) if t is not None]
             for q in questions}
    print(f"{len(questions)} questions on {', '.join(dbs)}"
          + (f"; bundled model {bundled.describe().model}" if bundled else "")
          + (f"; +{args.noise} unrelated tables per catalog in the noise runs" if args.noise else ""), flush=True)
    results: dict[str, list[Outcome]] = {}
    dump = open(args.dump, "w") if args.dump else None  # noqa: SIM115 - closed after the runs
    for run_name in runs:
        spec = RUNS[run_name]
        simulated = SimulatedModel(spec["model"], everything) if spec["model"] in ("perfect", "bad") else None
        model = simulated.model if simulated else (bundled or SimulatedModel("perfect", everything).model)
        trust = "high" if simulated else resolve_trust("auto", "llamacpp", None)
        engine = EngineSettings(**({"max_new_tokens": args.max_new_tokens, "row_cap": 100000,
                                    "repair_attempts": args.repairs, "golden_threshold": 1.01} | spec["engine"]))
        service = SqlGenerationService(db.sessions, catalog, retriever, model, engine, trust=trust,
                                measured_trust=bool(simulated))
        if simulated:
            # each run measures its model afresh (the evidence is stored per model name in the app database)
            from nl2sql.answers.models import ModelTrustCheckRow

            async with db.sessions() as session, session.begin():
                await session.execute(sa.delete(ModelTrustCheckRow).where(
                    ModelTrustCheckRow.model == (await model.info()).model))
        if simulated and args.calibrate and "reader" in engine.generator_list:
            # as an admin's verified queries would: the model is asked a few questions per database whose SQL is
            # known (kept out of its prompt), and its trust is what it earns there
            for name in dbs:
                for q in [q for q in everything if q.db == name][:args.calibrate]:
                    simulated.current = q
                    await service.check_model(admin, connection_name(name), pairs=[(q.question, gold_alternatives(q.gold)[0])])
            print(f"[{run_name}] model trust after checks: {service.model_trust.reading().why}", flush=True)
        pool = questions
        if run_name in SLOW_RUNS and args.model_limit:
            pool = sample(questions, args.model_limit, None, args.seed)
        variants = [("", None)] + ([(" +noise", noise_names)] if args.noise and run_name in ("reader", "full") else [])
        for suffix, names in variants:
            outcomes: list[Outcome] = []
            for q in pool:
                text = f"{q.question} ({q.instructions})" if q.instructions else q.question
                conn_name = (names or {}).get(q.db, connection_name(q.db))
                if simulated:
                    simulated.current = q
                started = time.perf_counter()
                error, correct, generator = None, False, None
                try:
                    answer = await service.generate_sql(admin, text, conn_name)
                    generator = answer.generator
                    target = await catalog.engine((await catalog.get_connection(conn_name)).id)
                    result = await asyncio.to_thread(run, answer.validated, target, timeout_s=GOLD_TIMEOUT_S,
                                                     max_rows=100000)
                    predicted = Table(tuple(c.name for c in result.columns),
                                      tuple(tuple(_normal(v) for v in r) for r in result.rows))
                    correct = bool(golds[id(q)]) and judge(predicted, golds[id(q)], q.ordered)
                except SqlNotGenerated as exc:
                    status = ((exc.extra or {}).get("verdict") or {}).get("status")
                    error = f"not answered: {status}" if status in ("clarify", "refused") else "no valid SQL"
                except AppError as exc:
                    error = f"{type(exc).__name__}: {exc.detail[:80]}"
                outcomes.append(Outcome(q, correct, error, time.perf_counter() - started, generator))
                if dump is not None:
                    judged = []
                    for c in (answer.candidates if error is None else ()):
                        table = run_gold(pg[q.db], c["sql"]) if c.get("sql") and c.get("rows") is not None else None
                        judged.append(c | {"correct": table is not None and bool(golds[id(q)])
                                           and judge(table, golds[id(q)], q.ordered)})
                    dump.write(json.dumps({"run": run_name + suffix, "file": q.file, "db": q.db, "question": q.question,
                                           "correct": correct, "generator": generator, "candidates": judged},
                                          default=str) + "\n")
                    dump.flush()
                if args.verbose:
                    mark = "ok " if correct else ("ERR" if error else "no ")
                    print(f"  [{run_name}{suffix}] {mark} {q.db:<14} {q.category:<15} {outcomes[-1].seconds:6.2f}s "
                          f"{generator or '-':<10} {error or ''}", flush=True)
            results[run_name + suffix] = outcomes
            report(run_name + suffix, outcomes)
    summary(results)
    if dump is not None:
        dump.close()
    if bundled is not None:
        await bundled.close()
    catalog.close()
    await db.close()


def _database_exists(server: str, name: str) -> bool:
    engine = sa.create_engine(f"{server}/postgres".replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        found = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    engine.dispose()
    return bool(found)


def _share(items: list[Outcome]) -> str:
    right = sum(o.correct for o in items)
    return f"{right}/{len(items)} = {right / len(items):.1%}" if items else "-"


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def report(title: str, outcomes: list[Outcome]) -> None:
    classic = [o for o in outcomes if o.question.file == QUESTION_FILES[0]]
    seconds = [o.seconds for o in outcomes]
    print(f"\n== {title}: {_share(outcomes)} correct (classic questions {_share(classic)}); "
          f"no SQL {sum(o.error is not None for o in outcomes)}; "
          f"p50 {_percentile(seconds, 0.5):.2f} s, p95 {_percentile(seconds, 0.95):.2f} s per question", flush=True)
    answered = [o for o in outcomes if o.error is None]
    print(f"  risk-coverage: answered {len(answered)}, right of those {_share(answered)}; asked back "
          f"{sum(o.error == 'not answered: clarify' for o in outcomes)}, refused "
          f"{sum(o.error == 'not answered: refused' for o in outcomes)}, no SQL "
          f"{sum(o.error == 'no valid SQL' for o in outcomes)}, errors "
          f"{sum(bool(o.error) and not o.error.startswith(('not answered', 'no valid')) for o in outcomes)}",
          flush=True)
    for label, key in (("category", lambda o: o.question.category), ("database", lambda o: o.question.db),
                       ("winning generator", lambda o: o.generator or "none")):
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            groups[key(o)].append(o)
        print(f"  per {label}: " + "; ".join(f"{k} {_share(v)}" for k, v in sorted(groups.items())), flush=True)


def summary(results: dict[str, list[Outcome]]) -> None:
    """The runs side by side, and the checks the engine issue sets."""
    print("\n== summary (classic questions | all questions | p50 s | p95 s)")
    for name, outcomes in results.items():
        classic = [o for o in outcomes if o.question.file == QUESTION_FILES[0]]
        seconds = [o.seconds for o in outcomes]
        print(f"  {name:<20} {_share(classic):>18} | {_share(outcomes):>18} | {_percentile(seconds, 0.5):6.2f} | "
              f"{_percentile(seconds, 0.95):6.2f}")

    def rate(name: str) -> float | None:
        items = results.get(name)
        return sum(o.correct for o in items) / len(items) if items else None

    checks = [
        ("perfect model: full selection within 2 points of the model alone", "perfect_full", "perfect_alone",
         lambda a, b: a >= b - 0.02),
        ("bad model: full selection at least the reader alone", "bad_full", "reader", lambda a, b: a >= b),
        ("2,000 unrelated tables: at most 3 points lower", "full +noise", "full", lambda a, b: a >= b - 0.03),
        ("2,000 unrelated tables (reader): at most 3 points lower", "reader +noise", "reader", lambda a, b: a >= b - 0.03),
    ]
    for label, a, b, ok in checks:
        ra, rb = rate(a), rate(b)
        if ra is not None and rb is not None:
            print(f"  {'PASS' if ok(ra, rb) else 'FAIL'} {label}: {ra:.1%} vs {rb:.1%}")
    for plain in ("full", "reader"):
        if plain in results and f"{plain} +noise" in results:
            base = _percentile([o.seconds for o in results[plain]], 0.5)
            noisy = _percentile([o.seconds for o in results[f"{plain} +noise"]], 0.5)
            ratio = noisy / base if base else 0.0
            print(f"  {'PASS' if ratio <= 2 else 'FAIL'} 2,000 unrelated tables ({plain}): p50 {noisy:.2f} s vs "
                  f"{base:.2f} s = {ratio:.2f}x (at most 2x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="questions to run (a seeded sample across databases)")
    parser.add_argument("--db", default=None, help="only this database")
    parser.add_argument("--files", default=",".join(QUESTION_FILES), type=lambda v: v.split(","),
                        help="question files (default: all three)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"comma-separated, of: {', '.join(RUNS)}")
    parser.add_argument("--model-limit", type=int, default=20,
                        help="questions for the bundled model's runs alone (0 = all; ~30 s each on 2 cores)")
    parser.add_argument("--noise", type=int, default=0, help="also run reader and full with this many unrelated tables")
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--repairs", type=int, default=2, help="repair attempts (NL2SQL_ENGINE_REPAIR_ATTEMPTS)")
    parser.add_argument("--context", type=int, default=4096, help="model context size")
    parser.add_argument("--model", default="smollm2-135m",
                        help="bundled model (smollm2-135m, the default; gemma3-270m) or a .gguf path")
    parser.add_argument("--calibrate", type=int, default=5,
                        help="simulated models: questions per database the model is checked on before the full runs "
                             "(its measured trust; 0 to measure only from answers)")
    parser.add_argument("--dump", default=None, help="write every question's candidates, each judged, as JSON lines")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per question")
    args = parser.parse_args(argv)
    unknown = [r for r in args.runs.split(",") if r.strip() and r.strip() not in RUNS]
    if unknown:
        parser.error(f"unknown runs: {', '.join(unknown)}")
    asyncio.run(evaluate(args))


def _self_check() -> Iterator[str]:
    """The judge on small cases (run with --check): what the README's rules say must hold."""
    t = lambda cols, *rows: Table(tuple(cols), tuple(rows))  # noqa: E731
    assert exact_match(t("b", (2,), (1,)), t("a", (1,), (2,)), ordered=False)
    assert not exact_match(t("b", (2,), (1,)), t("a", (1,), (2,)), ordered=True)
    assert exact_match(t(("n", "x"), (1, "a"), (1, "a")), t(("n", "x"), (1, "a")), ordered=False)
    assert subset_match(t(("id", "name", "n"), (1, "a", 3.0)), t(("total",), (3.000001,)), ordered=False)
    assert not subset_match(t(("id",), (1,), (2,)), t(("id",), (1,)), ordered=False)
    assert gold_alternatives("SELECT {a, b} FROM t GROUP BY {};SELECT c FROM t") == [
        "SELECT a FROM t GROUP BY a", "SELECT b FROM t GROUP BY b", "SELECT a, b FROM t GROUP BY a, b", "SELECT c FROM t"]
    # ordered: ties in the ORDER BY item may come in any order, the item's own sequence may not
    g = Table(("n", "x"), ((3, "a"), (1, "b"), (1, "c")), order_index=0)
    assert judge(t(("n", "x"), (3, "a"), (1, "c"), (1, "b")), [g], ordered=True)
    assert not judge(t(("n", "x"), (1, "b"), (3, "a"), (1, "c")), [g], ordered=True)
    assert order_index("SELECT a, COUNT(*) AS n FROM t GROUP BY a ORDER BY n DESC", ("a", "n")) == 1
    assert order_index("SELECT a, b FROM t ORDER BY t.b", ("a", "b")) == 1
    yield "judge self-check passed"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        print(*_self_check())
    else:
        main()
