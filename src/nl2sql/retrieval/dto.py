"""What retrieval hands to prompting and answers: the pruned, scored context for one question."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from nl2sql.catalog import GoldenQuery, Instruction, JoinHint, PromptTable


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of one fixed dimension."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Encode in batches off the event loop."""
        ...


@dataclass(frozen=True)
class ScoredTable:
    """A table for the prompt with only its relevant columns; `via_join` when added to connect others."""

    table: PromptTable
    score: float
    via_join: bool = False
    # hybrid scores of the table's columns that matched the question (name, score); unmatched ones are absent
    column_scores: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ScoredInstruction:
    instruction: Instruction
    score: float


@dataclass(frozen=True)
class ScoredGoldenQuery:
    golden: GoldenQuery
    score: float


@dataclass(frozen=True)
class ValueMatch:
    """A literal of the question found among a column's sampled distinct values."""

    table: str
    column: str
    value: str
    score: float


@dataclass(frozen=True)
class Retrieval:
    """Everything chosen for one question, best first, each with its score."""

    connection_id: int
    dialect: str
    tables: tuple[ScoredTable, ...]
    join_hints: tuple[JoinHint, ...]
    instructions: tuple[ScoredInstruction, ...]
    golden_queries: tuple[ScoredGoldenQuery, ...]
    values: tuple[ValueMatch, ...]
    timings: dict[str, float] = field(default_factory=dict)
