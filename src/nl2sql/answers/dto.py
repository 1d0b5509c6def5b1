"""What the answers module hands out: the SQL answer, its attempts and the context it was built from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from nl2sql.errors import AppError
from nl2sql.sqlguard import ValidatedSql

__all__ = ["Attempt", "RetrievedItem", "Retrieved", "SqlAnswer", "SqlNotGenerated"]

AttemptKind = Literal["golden", "generate", "repair"]
ErrorKind = Literal["prompt", "extraction", "refused", "database", "timeout"]


@dataclass(frozen=True)
class Attempt:
    """One try at the SQL: the prompt it used (id = text hash), what the model said, and what went wrong."""

    number: int
    kind: AttemptKind
    prompt_id: str | None
    prompt_tokens: int | None
    template: str | None
    grammar: bool
    raw_output: str | None
    sql: str | None
    error: str | None
    error_kind: ErrorKind | None
    completion_tokens: int | None
    timings: dict[str, float] = field(default_factory=dict)
    finish_reason: str | None = None  # the model's: stop, length (cut off), timeout, cancelled

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RetrievedItem:
    """A retrieved table, instruction or golden query with its score; `in_prompt` if it survived fitting."""

    id: int | None
    name: str
    score: float
    in_prompt: bool
    via_join: bool = False


@dataclass(frozen=True)
class Retrieved:
    """What retrieval chose for the question, each with its score."""

    tables: tuple[RetrievedItem, ...] = ()
    instructions: tuple[RetrievedItem, ...] = ()
    golden_queries: tuple[RetrievedItem, ...] = ()
    values: tuple[RetrievedItem, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SqlAnswer:
    """SQL for a question that passed the guard and the database's check; `verified` when a golden query gave it."""

    id: int | None
    connection: str
    question: str
    sql: str
    verified: bool
    golden_query_id: int | None
    guided_by: tuple[int, ...]
    attempts: tuple[Attempt, ...]
    retrieved: Retrieved
    timings: dict[str, float]
    validated: ValidatedSql = field(repr=False, compare=False)
    plan: dict[str, Any] | None = None  # the query plan that won (None when direct SQL or a golden query won)
    explanation: str | None = None  # the plan's one line of English: how the question was read
    generator: str | None = None  # reader, golden, model_plan, model_sql; "verified" for the golden shortcut
    candidates: tuple[dict[str, Any], ...] = ()  # every candidate with its scores, the winner marked
    cached_from: int | None = None  # the earlier answer whose SQL this one reused (same question and catalog)
    verdict: dict[str, Any] | None = None  # answers/verdict.py's: status, label (how much of the question it covers)


class SqlNotGenerated(AppError):
    """Every attempt ended in unreadable, refused or failing SQL; `extra` carries the attempts."""

    status_code = 422
    title = "No valid SQL"


class Unanswered(SqlNotGenerated):
    """The question was not answered on purpose: the product asks back (`clarify`) or refuses (`refused`); `extra`
    carries the verdict (message, what was and wasn't understood, options) and the filed answer's id. The ask and
    SQL endpoints return it as a 200 with `status`; elsewhere it counts as no SQL."""

    title = "Not answered"
