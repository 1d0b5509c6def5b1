"""What a prompt is built from and what it becomes: the retrieved context (read structurally), budget, result."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from nl2sql.catalog import GoldenQuery, Instruction, InstructionKind, JoinHint, PromptTable
from nl2sql.errors import ValidationFailed
from nl2sql.inference import Message, ModelInfo

__all__ = [
    "ErrorFeedback",
    "Prompt",
    "PromptBudget",
    "PromptTooLarge",
    "RetrievedContext",
    "Turn",
    "estimate_tokens",
]

# Retrieval sits beside prompting in the layers, so its DTOs are read by shape, not imported.


class _ScoredTable(Protocol):
    @property
    def table(self) -> PromptTable: ...
    @property
    def score(self) -> float: ...
    @property
    def via_join(self) -> bool: ...


class _ScoredInstruction(Protocol):
    @property
    def instruction(self) -> Instruction: ...
    @property
    def score(self) -> float: ...


class _ScoredGolden(Protocol):
    @property
    def golden(self) -> GoldenQuery: ...
    @property
    def score(self) -> float: ...


class _ValueMatch(Protocol):
    @property
    def table(self) -> str: ...
    @property
    def column(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def score(self) -> float: ...


class RetrievedContext(Protocol):
    """The parts of nl2sql.retrieval's `Retrieval` a prompt uses."""

    @property
    def tables(self) -> Sequence[_ScoredTable]: ...
    @property
    def join_hints(self) -> Sequence[JoinHint]: ...
    @property
    def instructions(self) -> Sequence[_ScoredInstruction]: ...
    @property
    def golden_queries(self) -> Sequence[_ScoredGolden]: ...
    @property
    def values(self) -> Sequence[_ValueMatch]: ...


def estimate_tokens(text: str) -> int:
    """A cautious token estimate (three characters a token) for when no tokenizer is at hand."""
    return math.ceil(len(text) / 3) if text else 0


class PromptTooLarge(ValidationFailed):
    """Even without any schema, examples or instructions the prompt does not fit the model's context."""

    title = "Question too long"


@dataclass(frozen=True)
class PromptBudget:
    """How much prompt the model takes: its context, the tokens kept free for the answer, its prompt family."""

    context_size: int
    max_new_tokens: int
    prompt_format: str = "chatml"
    count_tokens: Callable[[str], int] = field(default=estimate_tokens, compare=False)
    # tokens a chat template adds around each message (role headers, end markers)
    per_message_overhead: int = 8

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.context_size <= self.max_new_tokens:
            raise ValueError(f"a context of {self.context_size} tokens leaves no room beside {self.max_new_tokens} new ones")

    @property
    def prompt_tokens(self) -> int:
        """Tokens the prompt itself may take."""
        return self.context_size - self.max_new_tokens

    @classmethod
    def for_model(
        cls, info: ModelInfo, max_new_tokens: int, count_tokens: Callable[[str], int] = estimate_tokens
    ) -> PromptBudget:
        return cls(info.context_size, min(max_new_tokens, info.context_size // 2), info.prompt_format, count_tokens)


@dataclass(frozen=True)
class Turn:
    """An earlier question of the same conversation and the SQL that answered it."""

    question: str
    sql: str


@dataclass(frozen=True)
class ErrorFeedback:
    """Why the previous attempt failed: its SQL (or raw output) and the error, for the repair prompt."""

    sql: str
    error: str


@dataclass(frozen=True)
class Prompt:
    """A prompt ready for the model, and what went into it."""

    kind: Literal["completion", "chat"]
    template: str
    text: str
    messages: tuple[Message, ...]
    stop: tuple[str, ...]
    tokens: int
    prompt_id: str
    tables: tuple[PromptTable, ...]
    table_scores: tuple[float, ...]
    instructions: tuple[Instruction, ...]
    golden_queries: tuple[GoldenQuery, ...]
    dropped: tuple[str, ...] = ()

    @property
    def columns_by_table(self) -> dict[str, tuple[str, ...]]:
        """Table name -> its column names as shown (what a grammar over this prompt allows)."""
        return {t.qualified_name: tuple(c.name for c in t.columns) for t in self.tables}


def is_always(instruction: Instruction) -> bool:
    return instruction.kind == InstructionKind.ALWAYS
