"""Retriever: for a question and a connection, the scored tables, columns, instructions, examples and values."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Protocol

from nl2sql.catalog import GoldenQuery, Instruction, PromptSchema, PromptTable, Visibility
from nl2sql.errors import ValidationFailed
from nl2sql.settings import RetrievalSettings

from nl2sql.retrieval.dto import Retrieval, ScoredGoldenQuery, ScoredInstruction, ScoredTable, ValueMatch
from nl2sql.retrieval.embedder import stem
from nl2sql.retrieval.index import EmbeddingIndex, Hits, content_words, keyword_query
from nl2sql.retrieval.view import ACRONYM, CatalogView, column_key

log = logging.getLogger("nl2sql.retrieval")

# views kept in memory (one per connection, latest version)
VIEW_CACHE = 32
# how much a table's best columns count towards the table (a question often names columns, not tables)
COLUMN_SHARE = 0.85
SECOND_COLUMN_SHARE = 0.15
# a question naming one of a table's values points at that table
VALUE_BONUS = 0.3
EXACT_VALUE = 0.9
NAME_BONUS = 0.3
FORCED_VALUE_TABLES = 2
EVERYTHING = Visibility()  # a caller acting for no particular user sees the whole included catalog


class CatalogSource(Protocol):
    """The catalog reads retrieval needs (CatalogService provides them)."""

    async def schema_for_prompt(self, connection_id: int) -> PromptSchema: ...

    async def instructions(self, connection_id: int) -> list[Instruction]: ...

    async def golden_queries(self, connection_id: int) -> list[GoldenQuery]: ...


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


class Retriever:
    """Chooses the context for one question from a connection's catalog (hybrid vector + keyword scores)."""

    def __init__(self, catalog: CatalogSource, index: EmbeddingIndex, settings: RetrievalSettings) -> None:
        self._catalog = catalog
        self.index = index
        self.settings = settings
        self._views: OrderedDict[int, CatalogView] = OrderedDict()
        self._questions: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    async def warm_up(self, connection_ids: list[int]) -> None:
        """Load the embedding model, then bring the connections' vectors current (run in the background at start)."""
        started = time.perf_counter()
        try:
            await self.index.embedder.embed(["warm up"])
        except Exception:  # a question will report it; the server runs on
            log.exception("the embedding model could not be loaded")
            return
        log.info("embedding model ready in %.1f s", time.perf_counter() - started)
        for connection_id in connection_ids:
            try:
                await self.refresh(connection_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken catalog must not stop the others; the question will say what is wrong
                log.exception("warm-up reindex failed for connection %s", connection_id)

    async def question_vector(self, question: str) -> list[float]:
        """The question's embedding; recent questions come from memory (asking again, paging, follow-ups)."""
        key = (self.index.model, question)
        vector = self._questions.get(key)
        if vector is not None:
            self._questions.move_to_end(key)
            return vector
        vector = (await self.index.embedder.embed([question]))[0]
        if self.settings.question_cache > 0:
            self._questions[key] = vector
            while len(self._questions) > self.settings.question_cache:
                self._questions.popitem(last=False)
        return vector

    async def view(self, connection_id: int) -> CatalogView:
        """The prepared catalog of the connection's current version (cached per version)."""
        schema = await self._catalog.schema_for_prompt(connection_id)
        cached = self._views.get(connection_id)
        if cached is not None and cached.version == schema.version:
            self._views.move_to_end(connection_id)
            return cached
        view = CatalogView(
            schema,
            await self._catalog.instructions(connection_id),
            await self._catalog.golden_queries(connection_id),
        )
        self._views[connection_id] = view
        while len(self._views) > VIEW_CACHE:
            self._views.popitem(last=False)
        return view

    async def refresh(self, connection_id: int) -> int:
        """Bring the connection's vectors up to its catalog version; how many items were embedded."""
        view = await self.view(connection_id)
        embedded = await self.index.ensure_current(view)
        view.keywords  # built here, in the background job, rather than by the next question
        return embedded

    async def retrieve(
        self,
        question: str,
        connection_id: int,
        *,
        max_tables: int | None = None,
        max_columns: int | None = None,
        max_instructions: int | None = None,
        max_golden: int | None = None,
        visibility: Visibility | None = None,
    ) -> Retrieval:
        """Tables (closed over joins, columns pruned), instructions, golden queries and value matches, each scored;
        with the user's `visibility`, what their policies hide (columns, sampled values) neither counts nor shows."""
        seen = visibility or EVERYTHING
        question = (question or "").strip()
        if not question:
            raise ValidationFailed("the question is empty")
        s = self.settings
        max_tables = s.max_tables if max_tables is None else max(1, max_tables)
        max_columns = s.max_columns if max_columns is None else max(1, max_columns)
        max_instructions = s.max_instructions if max_instructions is None else max(0, max_instructions)
        max_golden = s.max_golden if max_golden is None else max(0, max_golden)
        timings: dict[str, float] = {}
        started = time.perf_counter()

        mark = time.perf_counter()
        view = await self.view(connection_id)
        timings["catalog"] = _ms(mark)
        mark = time.perf_counter()
        embedded = await self.index.ensure_current(view)
        timings["index"] = _ms(mark)
        mark = time.perf_counter()
        vector = await self.question_vector(question)
        timings["embed"] = _ms(mark)
        mark = time.perf_counter()
        hits = await self._search(view, question, vector, max(s.candidates, max_tables * 2), max_instructions,
                                  max_golden)
        timings["search"] = _ms(mark)
        mark = time.perf_counter()
        values = [v for v in view.values.match(question, threshold=s.value_min_similarity, limit=s.max_values)
                  if seen.shows_values(v.table, v.column)]
        timings["values"] = _ms(mark)
        mark = time.perf_counter()
        names = _named(view, question, hits)
        tables = self._tables(view, question, hits, names, values, max_tables, max_columns, seen)
        chosen = {t.table.qualified_name for t in tables}
        hints = tuple(
            h for h in view.schema.join_hints
            if seen.shows_hint(h) and _known(h.left_table, chosen) and _known(h.right_table, chosen)
        )
        instructions = [ScoredInstruction(i, 1.0) for i in view.always] + [
            ScoredInstruction(view.instructions[key], score)
            for key, score in _nearest(hits, "instruction", s.instruction_min_score, view.instructions)
        ][:max_instructions]
        examples = tuple(ScoredGoldenQuery(view.golden[key], score)
                         for key, score in _nearest(hits, "golden", s.golden_min_score, view.golden))[:max_golden]
        timings["score"] = _ms(mark)
        timings["total"] = _ms(started)
        if embedded:
            timings["embedded_items"] = float(embedded)
        return Retrieval(
            connection_id=connection_id,
            dialect=view.schema.dialect,
            tables=tuple(tables),
            join_hints=hints,
            instructions=tuple(instructions),
            golden_queries=examples,
            values=tuple(v for v in values if v.table in chosen),
            timings=timings,
        )

    async def _search(self, view: CatalogView, question: str, vector, candidates: int, max_instructions: int,
                      max_golden: int) -> Hits:
        """Nearest neighbours in the database; the keyword side ranks as the database would, from memory."""
        limits = {"table": candidates, "column": candidates * 4, "instruction": max_instructions, "golden": max_golden}
        # never ask the HNSW index for more of a kind than the connection has: the iterative scan would walk the
        # other connections' entries looking for them (14 ms for a connection without instructions or examples)
        limits = {kind: min(limit, view.counts[kind]) for kind, limit in limits.items()}
        hits = await self.index.search(view.schema.connection_id, vector, None, limits)
        terms = keyword_query(question)
        if terms:
            hits.keyword = view.keywords.match(terms.split(" | "), {"table": candidates, "column": candidates * 4})
        return hits

    def _tables(
        self, view: CatalogView, question: str, hits: Hits, names: dict[tuple[str, str], float],
        values: list[ValueMatch], max_tables: int, max_columns: int, seen: Visibility,
    ) -> list[ScoredTable]:
        s = self.settings
        kw_tables = _normalized(hits.keyword, "table")
        kw_columns = _normalized(hits.keyword, "column")
        for (kind, key), score in names.items():
            target = kw_tables if kind == "table" else kw_columns
            target[key] = max(target.get(key, 0.0), score)

        def hybrid(kind: str, key: str, keyword: dict[str, float]) -> float:
            return s.vector_weight * _cosine(hits.vector.get((kind, key), 0.0)) + s.keyword_weight * keyword.get(key, 0.0)

        column_scores: dict[str, float] = {}
        for kind, key in set(hits.vector) | set(hits.keyword) | set(names):
            if kind == "column" and key in view.columns and seen.lists(*_table_column(view, key)):
                column_scores[key] = hybrid("column", key, kw_columns)
        by_table: dict[str, list[float]] = {}
        for key, score in column_scores.items():
            by_table.setdefault(view.columns[key][0], []).append(score)
        value_tables: dict[str, float] = {}
        for match in values:
            value_tables[match.table] = max(value_tables.get(match.table, 0.0), match.score)

        table_scores: dict[str, float] = {}
        for name in set(by_table) | {k for kind, k in hits.vector if kind == "table"} | set(kw_tables) | set(value_tables):
            if name not in view.tables:
                continue
            own = hybrid("table", name, kw_tables)
            cols = sorted(by_table.get(name, ()), reverse=True)
            via_columns = COLUMN_SHARE * cols[0] + SECOND_COLUMN_SHARE * (cols[1] if len(cols) > 1 else 0.0) if cols else 0.0
            # either the table or its columns may carry the match; both together count a little more
            score = max(own, via_columns) + 0.25 * min(own, via_columns)
            score += VALUE_BONUS * value_tables.get(name, 0.0)
            # the question naming the table itself (`customers`, `sbCustomer`) is the strongest keyword evidence
            score += NAME_BONUS * names.get(("table", name), 0.0)
            table_scores[name] = score
        ranked = sorted(table_scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked:
            ranked = [(t.qualified_name, 0.0) for t in view.schema.tables[:max_tables]]
        best = ranked[0][1]
        chosen = [name for name, score in ranked[:max_tables] if score >= s.table_min_ratio * best] or [ranked[0][0]]
        # a table holding a value the question names (exactly) is needed to filter on it
        exact = sorted((t for t, v in value_tables.items() if v >= EXACT_VALUE and t not in chosen),
                       key=lambda t: -table_scores.get(t, 0.0))
        chosen += exact[:FORCED_VALUE_TABLES]
        # a glossary term the question uses (`ASP`, defined in an instruction) brings the tables it is computed from
        for term in sorted(set(ACRONYM.findall(question)) & set(view.terms)):
            chosen += sorted(t for t in view.terms[term] if t not in chosen)
        bridges = view.graph.connect(chosen)
        joins = view.graph.join_columns(set(chosen) | set(bridges))
        matched = {(m.table, m.column) for m in values}
        result = []
        for name, via_join in [(n, False) for n in chosen] + [(n, True) for n in bridges]:
            table = seen.table(view.tables[name])
            result.append(ScoredTable(
                table=self._prune(table, column_scores, joins.get(name, set()), matched, max_columns),
                score=round(table_scores.get(name, 0.0), 4),
                via_join=via_join,
                column_scores=tuple(
                    (c.name, round(column_scores[column_key(name, c.name)], 4))
                    for c in table.columns if column_key(name, c.name) in column_scores
                ),
            ))
        return result

    @staticmethod
    def _prune(
        table: PromptTable, scores: dict[str, float], joins: set[str], matched: set[tuple[str, str]], max_columns: int
    ) -> PromptTable:
        """Keep keys, join columns, value-matched columns and the best-scoring others (all when few)."""
        name = table.qualified_name
        if len(table.columns) <= max_columns:
            return table
        fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
        must = {c.name for c in table.columns if c.primary_key or c.name in joins or (name, c.name) in matched}
        ranked = sorted(
            (c for c in table.columns if c.name not in must),
            key=lambda c: (-scores.get(column_key(name, c.name), 0.0), c.name not in fk_columns),
        )
        keep = must | {c.name for c in ranked[:max_columns]}
        return replace(table, columns=tuple(c for c in table.columns if c.name in keep))


def _table_column(view: CatalogView, key: str) -> tuple[str, str]:
    table, column = view.columns[key]
    return table, column.name


def _cosine(score: float) -> float:
    """A cosine similarity clamped into [0, 1] (opposite meaning is as good as unrelated)."""
    return min(1.0, max(0.0, score))


def _normalized(keyword: dict[tuple[str, str], float], kind: str) -> dict[str, float]:
    """Keyword ranks of one kind scaled so the best match scores 1."""
    ranks = {key: score for (k, key), score in keyword.items() if k == kind}
    top = max(ranks.values(), default=0.0)
    return {key: score / top for key, score in ranks.items()} if top > 0 else {}


def _known(ref: str, chosen: set[str]) -> bool:
    return ref in chosen or ref.rpartition(".")[2] in {c.rpartition(".")[2] for c in chosen}


def _nearest(hits: Hits, kind: str, min_score: float, known: dict) -> list[tuple[object, float]]:
    """The vector hits of one kind (instructions, golden queries) at or above `min_score`, nearest first."""
    scored = sorted(((key, _cosine(score)) for (k, key), score in hits.vector.items() if k == kind),
                    key=lambda kv: -kv[1])
    return [(key, round(score, 4)) for key, score in scored if score >= min_score and key in known]


def _named(view: CatalogView, question: str, hits: Hits) -> dict[tuple[str, str], float]:
    """Tables and columns the question names (its words and their stems), columns also within the tables the
    searches found."""
    words = content_words(question)
    words = list(dict.fromkeys(words + [stem(w) for w in words]))
    names = view.names.match(words)
    tables = {k for kind, k in (*hits.vector, *hits.keyword) if kind == "table"} | {
        k for kind, k in names if kind == "table"}
    return names | view.column_names_containing(words, tables)
