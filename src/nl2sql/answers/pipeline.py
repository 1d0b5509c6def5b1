"""The pieces a SQL generation passes along: its clock, its outcome, the attempt records and what was retrieved, and the limits it works within."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from nl2sql.answers.candidates import Candidate
from nl2sql.answers.dto import Attempt, Retrieved, RetrievedItem
from nl2sql.answers.verdict import Verdict
from nl2sql.catalog import Visibility
from nl2sql.prompting import Prompt
from nl2sql.sqlguard import (
    ValidatedSql,
)

if TYPE_CHECKING:
    from nl2sql.retrieval import Retrieval

log = logging.getLogger("nl2sql.answers")




MAX_QUESTION_CHARS = 2000
# Exact re-counts of a fitted prompt that may shrink the budget before giving up.
FIT_ROUNDS = 4
# Sampling temperature added per repair attempt (0.3, 0.6, ...; at most 1.0).
REPAIR_TEMPERATURE = 0.3


class ContextRetriever(Protocol):
    """What the engine needs from retrieval: the scored context of a question on a connection."""

    async def retrieve(self, question: str, connection_id: int, *,
                       visibility: Visibility | None = None) -> Retrieval: ...


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: dict[str, float] = {}

    def lap(self, name: str, since: float) -> float:
        elapsed = round((time.perf_counter() - since) * 1000, 3)
        self.marks[name] = round(self.marks.get(name, 0.0) + elapsed, 3)
        return elapsed

    def total(self) -> dict[str, float]:
        return self.marks | {"total_ms": round((time.perf_counter() - self.started) * 1000, 3)}




@dataclass
class Outcome:
    attempts: list[Attempt]
    validated: ValidatedSql | None = None
    prompt: Prompt | None = None
    error: str | None = None
    candidates: list[Candidate] | None = None
    winner: Candidate | None = None
    verdict: Verdict | None = None  # answered, clarify or refused, and the label (answers/verdict.py)




def cut_off_detail(detail: str, cut_off: bool, max_tokens: int) -> str:
    """What the user reads: why the model's SQL was refused, and the setting that gives it more room."""
    if not cut_off:
        return detail
    return (f"{detail} (the model's SQL was cut off at the {max_tokens}-token limit; "
            "NL2SQL_ENGINE_MAX_NEW_TOKENS raises it, or ask a narrower question)")


def detail_for_model(detail: str, cut_off: bool) -> str:
    """What the repair prompt tells the model."""
    return f"{detail} (your answer was cut off: write a shorter query)" if cut_off else detail


def make_attempt(
    *, number: int, kind: str, prompt: Prompt, grammar: bool, raw_output: str, sql: str | None, error: str | None,
    error_kind: str | None, completion_tokens: int, timings: dict[str, float], finish_reason: str,
) -> Attempt:
    return Attempt(
        number=number, kind=kind, prompt_id=prompt.prompt_id, prompt_tokens=prompt.tokens,  # type: ignore[arg-type]
        template=prompt.template, grammar=grammar, raw_output=raw_output, sql=sql, error=error,
        error_kind=error_kind, completion_tokens=completion_tokens, timings=timings,  # type: ignore[arg-type]
        finish_reason=finish_reason,
    )


def failed_attempt(number, kind, prompt_id, grammar, raw, sql, error, error_kind, timings) -> Attempt:
    return Attempt(
        number=number, kind=kind, prompt_id=prompt_id, prompt_tokens=None, template=None, grammar=grammar,
        raw_output=raw, sql=sql, error=error, error_kind=error_kind, completion_tokens=None, timings=timings,
    )




def retrieved_summary(retrieval: Retrieval, prompt: Prompt | None) -> Retrieved:
    in_tables = {t.qualified_name for t in prompt.tables} if prompt else set()
    in_instructions = {i.id for i in prompt.instructions} if prompt else set()
    in_golden = {g.id for g in prompt.golden_queries} if prompt else set()
    return Retrieved(
        tables=tuple(
            RetrievedItem(None, t.table.qualified_name, round(t.score, 4), t.table.qualified_name in in_tables, t.via_join)
            for t in retrieval.tables
        ),
        instructions=tuple(
            RetrievedItem(i.instruction.id, i.instruction.text[:200], round(i.score, 4), i.instruction.id in in_instructions)
            for i in retrieval.instructions
        ),
        golden_queries=tuple(
            RetrievedItem(g.golden.id, g.golden.question, round(g.score, 4), g.golden.id in in_golden)
            for g in retrieval.golden_queries
        ),
        values=tuple(
            RetrievedItem(None, f"{v.table}.{v.column} = {v.value!r}", round(v.score, 4), prompt is not None)
            for v in retrieval.values
        ),
    )


def held_out(golden: tuple, question: str, sql: str) -> tuple:
    """The retrieved golden queries less the one under test (same SQL) and any with the same question."""
    asked = " ".join(question.lower().split())
    return tuple(g for g in golden
                 if " ".join(g.golden.question.lower().split()) != asked and g.golden.sql.strip() != sql.strip())
