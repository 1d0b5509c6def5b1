"""The question reader on ../shared/spider_train (6,879 questions over 137 SQLite databases), cross-validated by
database: what the reader answers, how often it is right by both rules, per fold, per shape, and how fast.

    .venv/bin/python bench/spider.py                      # every question; the held-back folds' figure counts
    .venv/bin/python bench/spider.py --folds dev          # only the development folds (the ones to look at)
    .venv/bin/python bench/spider.py --limit 600          # a seeded sample spread over the databases
    .venv/bin/python bench/spider.py --folds dev --dump /tmp/spider.jsonl   # every answer with its verdict
    .venv/bin/python bench/spider.py --out-of-scope       # bench/data/out_of_scope.txt asked of 28 databases

Each database is read the way a sync reads a connection (tables, columns, keys, row counts, sampled values; no
descriptions: Spider ships none), its semantic model is built, and each question goes through the reader, the
guard, a check run of every reading and the same choice among them that the product makes (`answers.choose`),
with no model. The winner runs in full and is judged against the gold query (../shared/spider_train/README.md):
`exact` (same rows; order only when the gold query orders) and `subset` (the sql-eval rule: extra predicted
columns allowed). Questions the product clarifies or refuses count as not answered.

Folds: databases are grouped into families by the first word of their name (`college_1/2/3`, `cre_*`,
`store_1`/`store_product` stay together) and the families dealt into five folds by size. Folds 0-2 are the
development folds: their failures may be read and rules tuned on them. Folds 3 and 4 are held back: the figure
that counts is theirs, and `--dump` never writes their questions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import warnings

import sqlalchemy as sa
import sqlglot
from sqlglot import exp

SPIDER = Path(__file__).resolve().parents[2] / "shared" / "spider_train"
FOLDS = 5
HELD_OUT = (3, 4)
TODAY = dt.date(2026, 1, 15)
GOLD_TIMEOUT_S = 10.0
SHAPES = ("projection", "filter", "aggregate", "group", "having", "order/limit", "join", "negation/set", "nesting")


@dataclass(frozen=True)
class Question:
    id: str
    db: str
    question: str
    gold: str


def load_questions(root: Path = SPIDER) -> list[Question]:
    with (root / "questions.jsonl").open() as handle:
        return [Question(r["id"], r["db_id"], r["question"], r["gold_sql"]) for r in map(json.loads, handle)]


def family(db: str) -> str:
    """Databases whose names start with the same word share a family (near-identical schemas)."""
    return re.split(r"[_\d]", db, maxsplit=1)[0] or db


def folds(questions: list[Question]) -> dict[str, int]:
    """Each database's fold: families dealt largest first to the fold with the fewest questions so far."""
    sizes: Counter[str] = Counter(family(q.db) for q in questions)
    load = [0] * FOLDS
    of_family: dict[str, int] = {}
    for name, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        target = min(range(FOLDS), key=lambda f: (load[f], f))
        of_family[name] = target
        load[target] += size
    return {q.db: of_family[family(q.db)] for q in questions}


def shapes(gold: str) -> set[str]:
    """The shapes a gold query has (a query may have several; one with none of the others is a projection)."""
    try:
        tree = sqlglot.parse_one(gold, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return {"unparsed"}
    out = set()
    if isinstance(tree, (exp.Union, exp.Except, exp.Intersect)) or tree.find(exp.Not) and tree.find(exp.In, exp.Exists):
        out.add("negation/set")
    selects = list(tree.find_all(exp.Select))
    if len(selects) > 1 and not isinstance(tree, exp.SetOperation):
        out.add("nesting")
    if tree.find(exp.Join):
        out.add("join")
    if tree.find(exp.Having):
        out.add("having")
    if tree.find(exp.Group):
        out.add("group")
    if tree.find(exp.Order) or tree.find(exp.Limit):
        out.add("order/limit")
    if tree.find(exp.AggFunc) and "group" not in out:
        out.add("aggregate")
    if tree.find(exp.Where):
        out.add("filter")
    return out or {"projection"}


# --- a database as a connection sees it ------------------------------------------------------------------------


def connection_schema(db: str, path: Path):
    """The PromptSchema a sync of this SQLite file gives (no descriptions, sampled values, keys, row counts)."""
    from nl2sql.catalog import ForeignKey, PromptColumn, PromptSchema, PromptTable
    from nl2sql.catalog.introspection import SamplingPlan, introspect
    from nl2sql.settings import CatalogSettings

    settings = CatalogSettings()
    engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        scan = introspect(engine, [], SamplingPlan(distinct_max=settings.distinct_values_max,
                                                   sample_rows=settings.sample_rows,
                                                   row_count_cap=settings.row_count_cap), lambda *a: None)
    finally:
        engine.dispose()
    tables = []
    present = {t.name for t in scan.tables}
    for shape in scan.tables:
        columns = tuple(PromptColumn(name=c.name, type=c.type, description=c.comment or "", business_name="",
                                     synonyms=(), nullable=c.nullable, primary_key=c.primary_key, sensitive=False,
                                     values=tuple(c.distinct_values) if c.distinct_values is not None else None)
                        for c in shape.columns)
        names = {c.name for c in columns}
        fks = tuple(ForeignKey(tuple(fk.columns), None, fk.ref_table, tuple(fk.ref_columns))
                    for fk in shape.foreign_keys if fk.ref_table in present and all(c in names for c in fk.columns))
        tables.append(PromptTable(None, shape.name, shape.comment or "", "", (), shape.row_count, columns, fks))
    return PromptSchema(1, db, "sqlite", "", tuple(tables), (), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


# --- judging -----------------------------------------------------------------------------------------------------


def _rows(path: Path, sql: str, limit: int = 100_000) -> tuple[list[str], list[tuple]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode("utf-8", errors="replace")
    deadline = time.monotonic() + GOLD_TIMEOUT_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        return columns, cursor.fetchmany(limit)
    finally:
        conn.close()


def _value(value: Any) -> Any:
    """A value as the judge compares it: numbers to 6 significant digits (relative 1e-5), text as it is."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(f"{value:.6g}")
    if isinstance(value, bytes):
        return value.hex()
    return value


def _key(row: tuple) -> tuple:
    return tuple((0, "") if v is None else (1, v) if isinstance(v, float) else (2, str(v)) for v in row)


def same_rows(predicted: list[tuple], gold: list[tuple], ordered: bool) -> bool:
    if len(predicted) != len(gold):
        return False
    if ordered:
        return predicted == gold
    return sorted(predicted, key=_key) == sorted(gold, key=_key)


def verdict(path: Path, gold: str, predicted: str) -> tuple[bool, bool]:
    """(exact, subset) of the predicted SQL against the gold query, by spider_train's README: the same multiset of
    rows (column names ignored; order only when the gold query has ORDER BY); subset: extra predicted columns
    allowed, every gold column matched one to one by a predicted column so that the rows correspond."""
    try:
        _, g_rows = _rows(path, gold)
        _, p_rows = _rows(path, predicted)
    except (sqlite3.Error, ValueError):
        return False, False
    ordered = bool(re.search(r"\border\s+by\b", gold, re.I))
    g_rows = [tuple(_value(v) for v in r) for r in g_rows]
    p_rows = [tuple(_value(v) for v in r) for r in p_rows]
    if len(g_rows) != len(p_rows):
        return False, False
    if not g_rows:
        return True, True
    g_width, p_width = len(g_rows[0]), len(p_rows[0])
    if p_width < g_width:
        return False, False

    def column(rows: list[tuple], i: int) -> list:
        values = [r[i] for r in rows]
        return values if ordered else sorted(values, key=lambda v: _key((v,)))

    g_cols = [column(g_rows, i) for i in range(g_width)]
    p_cols = [column(p_rows, j) for j in range(p_width)]
    fits = [[j for j in range(p_width) if p_cols[j] == g_cols[i]] for i in range(g_width)]
    tried = 0

    def assign(i: int, chosen: tuple[int, ...]) -> tuple[int, ...] | None:
        nonlocal tried
        if i == g_width:
            tried += 1
            projected = [tuple(r[j] for j in chosen) for r in p_rows]
            return chosen if same_rows(projected, g_rows, ordered) else None
        for j in fits[i]:
            if j not in chosen and tried < 200:
                found = assign(i + 1, chosen + (j,))
                if found is not None:
                    return found
        return None

    subset = assign(0, ()) is not None
    return subset and p_width == g_width, subset


# --- answering the way the product does, without a model ----------------------------------------------------------


@dataclass
class Outcome:
    status: str  # answered | clarify | refused | failed
    sql: str | None = None
    seconds: float = 0.0
    explanation: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Answerer:
    """One database's reader and guard, answering as SqlGenerationService does with the reader alone."""

    threshold: float | None = None  # the confidence an answer needs: None, the product's default setting

    def __init__(self, db: str, path: Path) -> None:
        from nl2sql.answers.policy import ConnectionPolicy, guard_policy
        from nl2sql.semantics import Reader, build_semantic_model
        from nl2sql.settings import EngineSettings

        self.settings = EngineSettings()
        if self.threshold is None:
            chosen = self.settings.answer_confidence
            self.threshold = chosen if chosen >= 0 else None
        self.path = path
        schema = connection_schema(db, path)
        self.reader = Reader(build_semantic_model(schema))
        self.policy = ConnectionPolicy(guard_policy(schema, self.settings.row_cap))
        self.engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")

    def close(self) -> None:
        self.engine.dispose()

    def answer(self, question: str) -> Outcome:
        from nl2sql.answers.candidates import Candidate, choose, fingerprint
        from nl2sql.semantics import CompileError, compile_plan, sql_fit
        from nl2sql.sqlguard import QueryFailed, QueryTimeout, SqlRefused, run, validate

        started = time.perf_counter()
        model = self.reader.model
        readings = self.reader.read(question, today=TODAY, limit=self.settings.reader_plans)
        terms = self.reader.terms(question, today=TODAY)
        candidates = []
        from nl2sql.answers.verdict import Question as Asked, decide, reading_features
        from nl2sql.semantics.coverage import nearest_columns, question_coverage

        for reading in readings:
            try:
                sql = compile_plan(reading.plan, model)
            except CompileError as error:
                candidates.append(Candidate("reader", None, error=str(error)))
                continue
            candidate = Candidate("reader", sql, reading.plan.to_json(), reading.explanation, reading.score,
                                  left_out=tuple(dict.fromkeys((*reading.unread, *reading.dropped))),
                                  read_words=reading.read_words)
            try:
                candidate.validated = validate(sql, self.policy.for_sql(sql))
                result = run(candidate.validated, self.engine, timeout_s=self.settings.check_timeout,
                             max_rows=self.settings.check_rows)
                candidate.rows = result.row_count
                candidate.fingerprint = fingerprint(result.rows)
                candidate.fit = sql_fit(candidate.validated.sql, terms, model.dialect)
            except (SqlRefused, QueryFailed, QueryTimeout) as error:
                candidate.error = error.detail
            candidates.append(candidate)
        best = choose(candidates, expects_empty=False)
        coverage = question_coverage(self.reader, question, today=TODAY)
        asked = Asked(question, "spider", coverage.content, coverage.unread, coverage.write_verb,
                      {w: [(t, c) for t, c, _ in nearest_columns(model, w)] for w in coverage.unread})
        verdict = decide(asked, candidates, best, threshold=self.threshold)
        seconds = time.perf_counter() - started
        # whether the reading accounts for every word (it answers at threshold 0): the risk-coverage table's rows
        full = verdict.status == "answered" or decide(asked, candidates, best, threshold=0.0).status == "answered"
        values = reading_features(asked, candidates, best) if best is not None else None
        status = verdict.status
        if best is None:
            return Outcome(status, seconds=seconds, note=next((c.error for c in candidates if c.error), "no reading"),
                           extra={"would": None, "left": list(verdict.not_understood), "features": None})
        # `would`: the SQL the reader would give if it answered everything (for the risk-coverage table)
        return Outcome(status, best.validated.sql if status == "answered" else None, seconds, best.explanation,
                       extra={"would": best.validated.sql, "left": list(verdict.not_understood), "features": values,
                              "full": full})


# --- the run -----------------------------------------------------------------------------------------------------


def sample(questions: list[Question], limit: int | None, seed: int) -> list[Question]:
    if limit is None or limit >= len(questions):
        return questions
    rng = random.Random(seed)
    by_db: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_db[q.db].append(q)
    for items in by_db.values():
        rng.shuffle(items)
    out: list[Question] = []
    pools = [by_db[name] for name in sorted(by_db)]
    while len(out) < limit and any(pools):
        for pool in pools:
            if pool and len(out) < limit:
                out.append(pool.pop())
    return out


def run_questions(questions: list[Question], fold_of: dict[str, int], dump: Path | None) -> list[dict[str, Any]]:
    results = []
    by_db: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_db[q.db].append(q)
    handle = dump.open("w") if dump else None
    try:
        for index, db in enumerate(sorted(by_db)):
            path = SPIDER / "databases" / db / f"{db}.sqlite"
            built = time.perf_counter()
            answerer = Answerer(db, path)
            build_s = time.perf_counter() - built
            for q in by_db[db]:
                outcome = answerer.answer(q.question)
                would = outcome.extra.get("would")
                exact, subset = verdict(path, q.gold, would) if would else (False, False)
                answered = outcome.status == "answered"
                row = {"id": q.id, "db": db, "fold": fold_of[db], "status": outcome.status,
                       "exact": exact and answered, "subset": subset and answered, "would_exact": exact,
                       "would_subset": subset, "seconds": outcome.seconds, "shapes": sorted(shapes(q.gold)),
                       "left": outcome.extra.get("left"), "features": outcome.extra.get("features"),
                       "confidence": _confidence(outcome.extra.get("features")),
                       "full": bool(outcome.extra.get("full"))}
                results.append(row)
                if handle and fold_of[db] not in HELD_OUT:
                    handle.write(json.dumps(row | {"question": q.question, "gold": q.gold, "sql": would,
                                                   "explanation": outcome.explanation, "note": outcome.note}) + "\n")
            answerer.close()
            print(f"  [{index + 1}/{len(by_db)}] {db}: {len(by_db[db])} questions (model built in {build_s:.2f} s)",
                  file=sys.stderr)
    finally:
        if handle:
            handle.close()
    return results


def _confidence(values: dict[str, float] | None) -> float:
    from nl2sql.answers.confidence import probability

    return probability(values) if values else 0.0


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} = {100 * part / whole:.1f}%" if whole else "-"


def report(results: list[dict[str, Any]]) -> None:
    def line(label: str, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        answered = [r for r in rows if r["status"] == "answered"]
        print(f"{label:<26} n={len(rows):<5} if it answered all: subset "
              f"{_pct(sum(r['would_subset'] for r in rows), len(rows)):<19} exact "
              f"{_pct(sum(r['would_exact'] for r in rows), len(rows)):<19}| answered {len(answered):<5} "
              f"right of those {_pct(sum(r['subset'] for r in answered), len(answered)):<19} "
              f"clarified {sum(r['status'] == 'clarify' for r in rows):<5} "
              f"refused {sum(r['status'] == 'refused' for r in rows)}")

    held = [r for r in results if r["fold"] in HELD_OUT]
    dev = [r for r in results if r["fold"] not in HELD_OUT]
    from nl2sql.answers.confidence_weights import THRESHOLD, TRAINED_ON

    print(f"\n== with the trained confidence threshold ({THRESHOLD:.3f}; {TRAINED_ON}) ==")
    for label, rows in (("held-back folds (counts)", held), ("development folds", dev)):
        gated = [r for r in rows if r["full"] and r["confidence"] >= THRESHOLD]
        print(f"{label:<26} n={len(rows):<5} answered {len(gated):<5} right of those "
              f"{_pct(sum(r['would_subset'] for r in gated), len(gated))}")
    print("\n-- risk and coverage: answered (and right of those) at each confidence threshold")
    cuts = (0.0, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 0.8, THRESHOLD)
    print(f"{'threshold':<26} " + " ".join(f"{c:<17.3f}" for c in cuts))
    for label, rows in (("held-back folds (counts)", held), ("development folds", dev)):
        cells = []
        for cut in cuts:
            gated = [r for r in rows if r["full"] and r["confidence"] >= cut]
            right = sum(r["would_subset"] for r in gated)
            cells.append(f"{len(gated)} ({100 * right / len(gated) if gated else 0:.1f}%)")
        print(f"{label:<26} " + " ".join(f"{c:<17}" for c in cells))
    print("\n== spider_train, the reader alone (no model) ==")
    line("held-back folds (counts)", held)
    line("development folds", dev)
    line("all", results)
    print("\n-- per fold")
    for fold in range(FOLDS):
        line(f"fold {fold}{' (held back)' if fold in HELD_OUT else ''}", (r for r in results if r["fold"] == fold))
    shown, which = (held, "held-back folds") if held else (results, "the folds run")
    print(f"\n-- per shape, {which}")
    for shape in SHAPES:
        line(shape, (r for r in shown if shape in r["shapes"]))
    seconds = sorted(r["seconds"] for r in results)
    if seconds:
        p95 = seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]
        print(f"\nseconds per question: p50 {statistics.median(seconds):.3f}, p95 {p95:.3f}, max {seconds[-1]:.3f}")
    statuses = Counter(r["status"] for r in results)
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))


OUT_OF_SCOPE = Path(__file__).resolve().parent / "data" / "out_of_scope.txt"


def out_of_scope(every: int = 5) -> None:
    """Ask each out-of-scope question of every `every`-th database; print how many were refused."""
    questions = [line.strip() for line in OUT_OF_SCOPE.read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
    dbs = sorted({q.db for q in load_questions()})[::every]
    outcomes: Counter[str] = Counter()
    seconds: list[float] = []
    slips: Counter[str] = Counter()
    for db in dbs:
        answerer = Answerer(db, SPIDER / "databases" / db / f"{db}.sqlite")
        for text in questions:
            outcome = answerer.answer(text)
            outcomes[outcome.status] += 1
            seconds.append(outcome.seconds)
            if outcome.status != "refused":
                slips[f"{outcome.status}: {text}"] += 1
        answerer.close()
    total = sum(outcomes.values())
    print(f"\n== out of scope: {len(questions)} questions x {len(dbs)} databases ==")
    print(f"refused {_pct(outcomes['refused'], total)}, asked back {outcomes['clarify']}, "
          f"answered {outcomes['answered']}, failed {outcomes['failed']}")
    seconds.sort()
    print(f"seconds: p50 {statistics.median(seconds):.3f}, p95 {seconds[int(0.95 * (len(seconds) - 1))]:.3f}, "
          f"max {seconds[-1]:.3f}")
    for text, count in slips.most_common(12):
        print(f"  {count:>3}x {text}")


def main() -> None:
    warnings.filterwarnings("ignore", category=sa.exc.SAWarning)  # Spider's odd declared types (BIGINT(20))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", default="all", help="all, dev, held, or a comma list of fold numbers")
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of this many questions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=None, help="only this database")
    parser.add_argument("--dump", type=Path, default=None, help="write each development-fold answer as JSON lines")
    parser.add_argument("--out-of-scope", action="store_true", help="only the out-of-scope questions")
    args = parser.parse_args()
    if args.out_of_scope:
        warnings.filterwarnings("ignore", category=sa.exc.SAWarning)
        out_of_scope()
        return
    if not (SPIDER / "questions.jsonl").exists():
        sys.exit(f"no corpus at {SPIDER}")
    questions = load_questions()
    fold_of = folds(questions)
    wanted = {"all": set(range(FOLDS)), "dev": set(range(FOLDS)) - set(HELD_OUT), "held": set(HELD_OUT)}.get(
        args.folds) or {int(f) for f in args.folds.split(",")}
    chosen = [q for q in questions if fold_of[q.db] in wanted and (args.db is None or q.db == args.db)]
    chosen = sample(chosen, args.limit, args.seed)
    started = time.perf_counter()
    results = run_questions(chosen, fold_of, args.dump)
    report(results)
    print(f"({len(results)} questions in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
