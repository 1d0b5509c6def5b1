"""What evaluations are made of: the question file parsed, a run and its items, groups, comparisons and trials."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


from nl2sql.db import utcnow
from nl2sql.errors import ValidationFailed
from nl2sql.evaluation.models import EvalItemRow, EvalRunRow


log = logging.getLogger("nl2sql.evaluation")

MAX_QUESTIONS = 2000
GOLD_ROWS = 100_000  # gold and predicted results are compared whole, up to this many rows
TIMEOUT_S = 30.0

_QUESTION = ("question",)
_GOLD = ("query", "gold_sql", "sql", "gold")
_CATEGORY = ("query_category", "category")


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    gold_sql: str
    category: str | None = None
    instructions: str | None = None
    holdout: bool = False  # a golden query's check: asked as if that query did not exist


def _column(fields: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {f.strip().lower(): f for f in fields}
    return next((lowered[n] for n in names if n in lowered), None)


def parse_questions(text: str, *, db_name: str | None = None) -> list[EvalQuestion]:
    """The CSV of ../shared/sqleval's question files: `question` and `query` (gold SQL; `;` between alternatives,
    `{a, b}` for interchangeable columns), optional `query_category` (or `category`), `instructions`, and
    `db_name` (rows of another database are skipped when `db_name` is given)."""
    if not text.strip():
        raise ValidationFailed("the question file is empty")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        fields = reader.fieldnames or []  # reads the header line: a stray carriage return fails here already
    except csv.Error as error:
        raise ValidationFailed(f"the CSV could not be read: {error}") from None
    question_col, gold_col = _column(fields, _QUESTION), _column(fields, _GOLD)
    if question_col is None or gold_col is None:
        raise ValidationFailed("the CSV needs a `question` column and a gold SQL column (`query` or `gold_sql`); "
                               f"its header is {', '.join(fields) or 'empty'}")
    category_col, instructions_col = _column(fields, _CATEGORY), _column(fields, ("instructions",))
    db_col = _column(fields, ("db_name",))
    out: list[EvalQuestion] = []
    try:
        for line, row in enumerate(reader, start=2):
            if db_name and db_col and (row.get(db_col) or "").strip() != db_name:
                continue
            question, gold = (row.get(question_col) or "").strip(), (row.get(gold_col) or "").strip()
            if not question or not gold:
                raise ValidationFailed(f"line {line}: the question and its gold SQL are both needed")
            out.append(EvalQuestion(question, gold, (row.get(category_col) or "").strip() or None if category_col
                                    else None,
                                    (row.get(instructions_col) or "").strip() or None if instructions_col else None))
            if len(out) > MAX_QUESTIONS:
                raise ValidationFailed(f"at most {MAX_QUESTIONS} questions a run")
    except csv.Error as error:
        raise ValidationFailed(f"the CSV could not be read: {error}") from None
    if not out:
        raise ValidationFailed("the file has no questions" + (f" for db_name {db_name}" if db_name else ""))
    return out


@dataclass(frozen=True)
class EvalItem:
    position: int
    question: str
    gold_sql: str
    category: str | None
    instructions: str | None
    state: str
    predicted_sql: str | None
    explanation: str | None
    generator: str | None
    answer_id: int | None
    correct: bool | None
    match: str | None
    reason: str | None
    seconds: float | None
    holdout: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Group:
    name: str
    total: int
    correct: int

    @property
    def share(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "total": self.total, "correct": self.correct, "share": round(self.share, 4)}


@dataclass(frozen=True)
class EvalRun:
    id: int
    name: str
    kind: str
    connection: str
    status: str
    total: int
    done: int
    correct: int
    engine: dict[str, Any]
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    items: tuple[EvalItem, ...] = field(default=(), repr=False)
    trial_of: int | None = None  # a draft's run in a trial: the live run it is compared with

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    @property
    def accuracy(self) -> float:
        return self.correct / self.done if self.done else 0.0

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None before the first question or once finished)."""
        if self.status != "running" or not self.done:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)

    def groups(self, key: Callable[[EvalItem], str | None]) -> list[Group]:
        found: dict[str, list[EvalItem]] = defaultdict(list)
        for item in self.items:
            if item.state == "judged":
                found[key(item) or "(none)"].append(item)
        return [Group(k, len(v), sum(1 for i in v if i.correct)) for k, v in sorted(found.items())]

    @property
    def per_category(self) -> list[Group]:
        return self.groups(lambda i: i.category)

    @property
    def per_generator(self) -> list[Group]:
        return self.groups(lambda i: i.generator)

    @property
    def exact(self) -> int:
        return sum(1 for i in self.items if i.match == "exact")

    @property
    def subset(self) -> int:
        return sum(1 for i in self.items if i.match == "subset")

    @property
    def failures(self) -> list[EvalItem]:
        return [i for i in self.items if i.state == "judged" and not i.correct]

    def to_json(self, *, items: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "kind": self.kind, "connection": self.connection, "status": self.status,
            "total": self.total, "done": self.done, "correct": self.correct, "accuracy": round(self.accuracy, 4),
            "exact": self.exact, "subset": self.subset, "engine": self.engine, "error": self.error,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "elapsed_s": round(self.elapsed_s, 1), "eta_s": round(self.eta_s, 1) if self.eta_s is not None else None,
            "trial_of": self.trial_of,
        }
        if items:
            out |= {"per_category": [g.to_json() for g in self.per_category],
                    "per_generator": [g.to_json() for g in self.per_generator],
                    "items": [i.to_json() for i in self.items]}
        return out


@dataclass(frozen=True)
class Flip:
    question: str
    before: bool | None
    after: bool | None


@dataclass(frozen=True)
class Comparison:
    before: EvalRun
    after: EvalRun
    fixed: list[Flip]
    broken: list[Flip]
    unchanged: int

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before.to_json(items=False), "after": self.after.to_json(items=False),
                "fixed": [f.question for f in self.fixed], "broken": [f.question for f in self.broken],
                "unchanged": self.unchanged}


def item_of(row: EvalItemRow) -> EvalItem:
    return EvalItem(row.position, row.question, row.gold_sql, row.category, row.instructions, row.state,
                    row.predicted_sql, row.explanation, row.generator, row.answer_id, row.correct, row.match,
                    row.reason, row.seconds, bool(row.holdout))


def run_of(row: EvalRunRow, items: list[EvalItemRow] | None = None) -> EvalRun:
    return EvalRun(row.id, row.name, row.kind, row.connection_name, row.status, row.total, row.done, row.correct,
                   dict(row.engine or {}), row.error, row.created_at, row.started_at, row.finished_at,
                   tuple(item_of(i) for i in items or ()), row.trial_of)


@dataclass(frozen=True)
class Trial:
    """A draft tried against the live knowledge: one question set run on both, and what flipped."""

    live: EvalRun
    draft: EvalRun
    comparison: Comparison
    stale: bool  # the draft changed after the trial started

    @property
    def finished(self) -> bool:
        return self.live.finished and self.draft.finished

    def to_json(self) -> dict[str, Any]:
        return {"live": self.live.to_json(items=False), "draft": self.draft.to_json(items=False),
                "finished": self.finished, "stale": self.stale,
                "fixed": [f.question for f in self.comparison.fixed],
                "broken": [f.question for f in self.comparison.broken], "unchanged": self.comparison.unchanged}
