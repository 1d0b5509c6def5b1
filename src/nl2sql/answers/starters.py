"""What the ask page offers a newcomer: what a connection holds and a few questions it answers well."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nl2sql.catalog import GoldenQuery, PromptSchema
from nl2sql.semantics import CompileError, Reader, compile_plan

__all__ = ["MAX_STARTERS", "Overview", "build_overview"]

MAX_STARTERS = 6
MAX_GOLDEN = 4  # leave room for questions read from the model, so the panel shows what else works
SHOWN_TABLES = 8
# a measure's default aggregate as the question's word: "Total amount by method" reads as the sum
_AGGREGATE_WORDS = {"sum": "Total", "avg": "Average", "average": "Average", "max": "Highest", "min": "Lowest",
                    "count": "Number of"}
# the last overview of each connection, by catalog version and golden questions: reading the starters costs
# a few reader passes, and the ask page shows them on every visit
_built: dict[int, tuple[tuple, Overview]] = {}


@dataclass(frozen=True)
class Overview:
    """A connection at a glance: its tables (the first few by name), how many, and questions to start with."""

    connection: str
    description: str
    tables: tuple[str, ...]
    table_count: int
    questions: tuple[str, ...]

    @property
    def summary(self) -> str:
        """"customers, orders, products, ... (8 tables)"."""
        names = ", ".join(self.tables)
        more = ", ..." if self.table_count > len(self.tables) else ""
        return f"{names}{more} ({self.table_count} table{'s' if self.table_count != 1 else ''})"


def build_overview(schema: PromptSchema, golden: Sequence[GoldenQuery], reader: Reader) -> Overview:
    """The connection's tables (what an analyst may see: the included ones) and its starter questions: golden
    queries first (verified answers), then counts and measures by a dimension that the reader answers in full."""
    key = (schema.connection_name, schema.version, tuple(q.question for q in golden[:MAX_GOLDEN]), id(reader))
    cached = _built.get(schema.connection_id)
    if cached is not None and cached[0] == key:
        return cached[1]
    overview = _build(schema, golden, reader)
    _built[schema.connection_id] = (key, overview)
    return overview


def _build(schema: PromptSchema, golden: Sequence[GoldenQuery], reader: Reader) -> Overview:
    names = sorted((t.business_name or t.name for t in schema.tables), key=str.lower)
    questions: list[str] = []
    seen: set[str] = set()

    def offer(question: str) -> None:
        key = re.sub(r"\W+", " ", question.lower()).strip()
        if key and key not in seen and len(questions) < MAX_STARTERS:
            seen.add(key)
            questions.append(question)

    for query in golden[:MAX_GOLDEN]:
        offer(query.question)
    for question in _read_questions(reader):
        if len(questions) >= MAX_STARTERS:
            break
        if _answered(reader, question):
            offer(question)
    return Overview(schema.connection_name, schema.description, tuple(names[:SHOWN_TABLES]), len(names),
                    tuple(questions))


def _read_questions(reader: Reader) -> list[str]:
    """Questions built from the semantic model, general to any catalog: counts of the largest entities, then a
    measure by a dimension of the same entity."""
    entities = sorted((e for e in reader.model.entities.values() if not e.bridge),
                      key=lambda e: (-(e.row_count or 0), e.table))
    counts = [f"How many {_plural(_words(e.name))} are there?" for e in entities[:3]]
    measures = []
    for entity in entities:
        measure = next((a for a in entity.attributes if a.role == "measure" and not a.sensitive), None)
        dimension = next((a for a in entity.attributes if a.role == "dimension" and not a.sensitive
                          and a.values and len(a.values) <= 12), None)
        if measure is not None and dimension is not None:
            word = _AGGREGATE_WORDS.get(measure.aggregate, "Total")
            measures.append(f"{word} {_words(measure.name)} by {_words(dimension.name)}")
    # alternate so a few slots show both kinds; a measure first, as golden queries are often counts
    mixed = []
    for index in range(max(len(counts), len(measures))):
        mixed += measures[index:index + 1] + counts[index:index + 1]
    return mixed


def _answered(reader: Reader, question: str) -> bool:
    """Whether the reader's best reading accounts for every word and compiles: the ask page would answer it."""
    try:
        readings = reader.read(question, limit=1)
    except Exception:  # a starter is an offer, never a reason for the page to fail
        return False
    if not readings:
        return False
    best = readings[0]
    if best.unread or best.dropped:
        return False
    try:
        compile_plan(best.plan, reader.model)
    except CompileError:
        return False
    return True


def _words(name: str) -> str:
    return re.sub(r"[_\s]+", " ", name).strip().lower()


def _plural(words: str) -> str:
    if words.endswith("s"):
        return words
    if words.endswith("y") and len(words) > 1 and words[-2] not in "aeiou":
        return words[:-1] + "ies"
    return words + "s"
