"""Candidates for a question's SQL and the choice among them: each one guarded and run read-only, then weighed by
its generator's confidence, how much of the question it accounts for, and whether other generators agree."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nl2sql.sqlguard import ValidatedSql

__all__ = ["GENERATORS", "Candidate", "choose", "fingerprint"]

GENERATORS = ("reader", "golden", "model_plan", "model_sql")

# How much each generator's word counts before the evidence: the reader's plan and an adapted verified query
# are built from the catalog; a small local model's SQL is mostly noise, a strong model's is usually right.
_PRIOR = {
    "low": {"reader": 1.0, "golden": 1.0, "model_plan": 0.5, "model_sql": 0.4},
    "high": {"reader": 1.0, "golden": 1.0, "model_plan": 0.95, "model_sql": 1.3},
}


@dataclass
class Candidate:
    """One generator's proposal: its SQL (and plan), what the guard and the check run said, and its weights."""

    generator: str
    sql: str | None
    plan: dict[str, Any] | None = None
    explanation: str | None = None
    confidence: float = 0.0
    validated: ValidatedSql | None = field(default=None, repr=False)
    error: str | None = None
    rows: int | None = None
    fingerprint: str | None = None
    fit: float = 0.0
    agreement: int = 0
    score: float = 0.0
    chosen: bool = False
    ms: float = 0.0
    note: str | None = None
    left_out: tuple[str, ...] = ()  # a reading's words it did not use (the reader's unread and dropped words)
    read_words: frozenset[str] = frozenset()  # a reading's words it used, lower case

    @property
    def ran(self) -> bool:
        return self.error is None and self.rows is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "generator": self.generator, "sql": self.sql, "plan": self.plan, "explanation": self.explanation,
            "confidence": round(self.confidence, 4), "error": self.error, "rows": self.rows,
            "fit": round(self.fit, 4), "agreement": self.agreement, "score": round(self.score, 4),
            "chosen": self.chosen, "ms": round(self.ms, 1), "note": self.note, "fingerprint": self.fingerprint,
            "left_out": list(self.left_out),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal | float):
        number = float(value)
        if math.isnan(number):
            return "nan"
        return round(number, 6)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def fingerprint(rows: Sequence[Sequence[Any]]) -> str:
    """The same data, whatever the column order, names or row order: a digest of each column's sorted values."""
    if not rows:
        return "empty"
    width = len(rows[0])
    columns = sorted(repr(sorted((repr(_plain(r[i])) for r in rows))) for i in range(width))
    return hashlib.sha256("|".join(columns).encode()).hexdigest()[:16]


def choose(candidates: list[Candidate], *, trust: str = "low", expects_empty: bool = False) -> Candidate | None:
    """Score every candidate that ran and mark the winner; None when none ran.

    score = prior x (0.55 confidence + 0.45 fit) + 0.15 per other generator with the same result; an empty
    result counts half unless the question expects none.
    """
    prior = _PRIOR.get(trust, _PRIOR["low"])
    ran = [c for c in candidates if c.ran]
    for c in ran:
        c.agreement = len({o.generator for o in ran if o is not c and o.fingerprint == c.fingerprint} - {c.generator})
        base = prior.get(c.generator, 0.5) * (0.55 * c.confidence + 0.45 * c.fit)
        c.score = base + 0.15 * c.agreement
        if c.rows == 0 and not expects_empty:
            c.score *= 0.5
    for c in candidates:
        if not c.ran:
            c.score = 0.0
    if not ran:
        return None
    # ties go to the generator listed first (the reader), then to the earlier candidate
    order = {g: i for i, g in enumerate(GENERATORS)}
    best = max(ran, key=lambda c: (round(c.score, 6), -order.get(c.generator, 9)))
    if trust == "high":
        best = _trusted(ran, best, order)
    best.chosen = True
    return best


def _trusted(ran: list[Candidate], best: Candidate, order: dict[str, int]) -> Candidate:
    """With a strong model its SQL answers unless the evidence is against it: it agrees with nobody, and it
    accounts for the question clearly worse than a confident, fitting reading does (or it found no rows).

    Measured on the development split with a simulated perfect and a simulated confidently wrong model
    (bench/accuracy.py). No weighing of these features keeps both nearly all of the perfect model's answers and
    all of the reader's against the wrong one; these weights put a strong model first (the perfect model keeps
    98% of its answers; the confidently wrong one costs the reader about 9 points)."""
    model = [c for c in ran if c.generator == "model_sql"]
    others = [c for c in ran if c.generator in ("reader", "golden")]
    if not model:
        return best
    m = max(model, key=lambda c: c.fit)
    if not others or m.agreement:
        return m
    r = max(others, key=lambda c: (round(c.score, 6), -order.get(c.generator, 9)))
    if m.rows == 0 and r.rows:
        return r
    return m if m.fit - 0.5 * r.confidence - 0.4 * r.fit >= -0.25 else r
