"""EmbeddingIndex: catalog items' vectors and full-text entries in the app database, kept current per version."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.db import utcnow
from nl2sql.retrieval.dto import Embedder
from nl2sql.retrieval.embedder import stem
from nl2sql.retrieval.keywords import keyword_terms
from nl2sql.retrieval.view import KINDS, CatalogView, Item

log = logging.getLogger("nl2sql.retrieval")

# texts per embed call while indexing, so other requests get the worker thread between batches
EMBED_CHUNK = 256
ANALYZE_AFTER = 1000
LOCK_SPACE = 5005  # pg_advisory_xact_lock(space, connection_id): one indexer per connection at a time
STOPWORDS = frozenset(
    "a an and are as at be been by can could did do does for from had has have how i in into is it its me my "
    "of on or our per please show that the their them then there these they this those to us was we were "
    "what when where which who whom whose why will with would you your list give get find tell display return "
    "each every all any many much number numbers count total average avg sum more most less least than top "
    "bottom value values data table tables record records".split()
)
WORD = re.compile(r"[a-z0-9]+")


def content_words(question: str) -> list[str]:
    """The question's words that may name something (stopwords and numbers left out), in order, unique."""
    words: list[str] = []
    for word in WORD.findall(question.lower().replace("_", " ")):
        if word in STOPWORDS or len(word) < 2 or word.isdigit() or word in words:
            continue
        words.append(word)
    return words


def keyword_query(question: str) -> str | None:
    """An OR tsquery ('simple' config) of the question's content words, plural-stemmed as the entries are."""
    terms = list(dict.fromkeys(stem(w) for w in content_words(question)))
    return " | ".join(terms) if terms else None


def _vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{v:.6f}" for v in vector) + "]"


@dataclass
class Hits:
    """Candidates for one question: (kind, key) -> cosine similarity, and -> keyword rank."""

    vector: dict[tuple[str, str], float] = field(default_factory=dict)
    keyword: dict[tuple[str, str], float] = field(default_factory=dict)


class EmbeddingIndex:
    """Writes and searches `retrieval_embeddings`; a connection's rows follow its catalog version and the model."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: Embedder, *, ef_search: int = 100) -> None:
        self._sessions = sessions
        self.embedder = embedder
        self._ef_search = ef_search
        self._current: dict[int, tuple[datetime, str]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._dimensions: set[int] = set()
        self._iterative: bool | None = None

    @property
    def model(self) -> str:
        return self.embedder.model_name

    def is_current(self, view: CatalogView) -> bool:
        return self._current.get(view.schema.connection_id) == (view.version, self.model)

    async def ensure_current(self, view: CatalogView) -> int:
        """Embed what is new or changed in this catalog version (or under another model); the count embedded."""
        connection_id = view.schema.connection_id
        if self.is_current(view):
            return 0
        lock = self._locks.setdefault(connection_id, asyncio.Lock())
        async with lock:
            if self.is_current(view):
                return 0
            async with self._sessions() as db:
                state = (await db.execute(sa.text(
                    "SELECT model, version FROM retrieval_index_state WHERE connection_id = :c"),
                    {"c": connection_id})).first()
                if state is not None and state.model == self.model and state.version >= view.version:
                    self._current[connection_id] = (view.version, self.model)
                    return 0
                existing = {
                    (r.kind, r.item_key): (r.content_hash, r.model)
                    for r in await db.execute(sa.text(
                        "SELECT kind, item_key, content_hash, model FROM retrieval_embeddings WHERE connection_id = :c"),
                        {"c": connection_id})
                }
            items = view.items
            stale = [i for i in items if existing.get((i.kind, i.key)) != (i.content_hash, self.model)]
            del existing
            # a chunk embedded is a chunk written: memory stays one chunk's vectors whatever the catalog's size
            # (50,000 columns held as lists of floats were 600 MB), and a restart keeps what was written
            for start in range(0, len(stale), EMBED_CHUNK):
                chunk = stale[start:start + EMBED_CHUNK]
                await self._write_vectors(view, chunk, await self.embedder.embed([i.text for i in chunk]))
            await self._finish(view, items, len(stale))
            self._current[connection_id] = (view.version, self.model)
            if stale:
                log.info("embedded %d of %d catalog items of connection %s", len(stale), len(items), connection_id)
            return len(stale)

    async def _ensure_dimension(self, db: AsyncSession, dimension: int) -> None:
        # the migration indexes the bundled model's 384 dimensions; another model's size gets its own indexes
        if dimension in self._dimensions:
            return
        for kind in KINDS:
            await db.execute(sa.text(
                f"CREATE INDEX IF NOT EXISTS retrieval_hnsw_{kind}_{int(dimension)} ON retrieval_embeddings "
                f"USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops) "
                f"WHERE dim = {int(dimension)} AND kind = '{kind}'"))
        self._dimensions.add(dimension)

    async def _write_vectors(self, view: CatalogView, stale: list[Item], vectors: list[list[float]]) -> None:
        connection_id, version, now = view.schema.connection_id, view.version, utcnow()
        if not vectors:
            return
        async with self._sessions() as db, db.begin():
            await db.execute(sa.text("SELECT pg_advisory_xact_lock(:s, :c)"), {"s": LOCK_SPACE, "c": connection_id})
            await self._ensure_dimension(db, len(vectors[0]))
            rows = [
                {"c": connection_id, "kind": item.kind, "key": item.key, "item_id": item.item_id,
                 "hash": item.content_hash, "v": version, "model": self.model, "dim": len(vector),
                 "body": item.text, "terms": keyword_terms(item.text), "e": _vector_literal(vector), "now": now}
                for item, vector in zip(stale, vectors, strict=True)
            ]
            # a newer version written meanwhile (by another server) is kept
            await db.execute(sa.text(
                "INSERT INTO retrieval_embeddings (connection_id, kind, item_key, item_id, content_hash, version, model, "
                "dim, body, tsv, embedding, embedded_at) VALUES (:c, :kind, :key, :item_id, :hash, :v, :model, :dim, "
                ":body, to_tsvector('simple', :terms), CAST(:e AS vector), :now) "
                "ON CONFLICT (connection_id, kind, item_key) DO UPDATE SET "
                "item_id = EXCLUDED.item_id, content_hash = EXCLUDED.content_hash, version = EXCLUDED.version, "
                "model = EXCLUDED.model, dim = EXCLUDED.dim, body = EXCLUDED.body, tsv = EXCLUDED.tsv, "
                "embedding = EXCLUDED.embedding, "
                "embedded_at = EXCLUDED.embedded_at WHERE retrieval_embeddings.version <= EXCLUDED.version"), rows)

    async def _finish(self, view: CatalogView, items: list[Item], embedded: int) -> None:
        """Items gone from the version lose their vectors, and the version is marked indexed, in one transaction."""
        connection_id, version, now = view.schema.connection_id, view.version, utcnow()
        async with self._sessions() as db, db.begin():
            await db.execute(sa.text("SELECT pg_advisory_xact_lock(:s, :c)"), {"s": LOCK_SPACE, "c": connection_id})
            # items gone from this version (excluded, dropped, deleted) lose their vectors
            await db.execute(sa.text(
                "DELETE FROM retrieval_embeddings WHERE connection_id = :c AND version <= :v "
                "AND NOT (kind || ':' || item_key = ANY(:keys))"),
                {"c": connection_id, "v": version, "keys": [f"{i.kind}:{i.key}" for i in items]})
            if embedded >= ANALYZE_AFTER:
                # fresh statistics, or the planner keeps scanning every row instead of using the HNSW indexes
                await db.execute(sa.text("ANALYZE retrieval_embeddings"))
            await db.execute(sa.text(
                "INSERT INTO retrieval_index_state (connection_id, model, version, items, indexed_at) "
                "VALUES (:c, :m, :v, :n, :now) ON CONFLICT (connection_id) DO UPDATE SET model = EXCLUDED.model, "
                "version = EXCLUDED.version, items = EXCLUDED.items, indexed_at = EXCLUDED.indexed_at "
                "WHERE retrieval_index_state.version <= EXCLUDED.version OR retrieval_index_state.model <> EXCLUDED.model"),
                {"c": connection_id, "m": self.model, "v": version, "n": len(items), "now": now})

    async def forget(self, connection_id: int) -> None:
        """Drop a connection's vectors (its catalog is gone)."""
        self._current.pop(connection_id, None)
        async with self._sessions() as db, db.begin():
            await db.execute(sa.text("DELETE FROM retrieval_embeddings WHERE connection_id = :c"), {"c": connection_id})
            await db.execute(sa.text("DELETE FROM retrieval_index_state WHERE connection_id = :c"), {"c": connection_id})

    async def _supports_iterative_scan(self, db: AsyncSession) -> bool:
        if self._iterative is None:
            version = await db.scalar(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")) or "0"
            major, minor = (int(p) for p in (version.split(".") + ["0"])[:2])
            self._iterative = (major, minor) >= (0, 8)
        return self._iterative

    async def search(
        self, connection_id: int, vector: list[float], keywords: str | None, limits: dict[str, int]
    ) -> Hits:
        """Nearest items per kind through the HNSW indexes, plus (given a tsquery) full-text matches of tables and columns.

        The statements run at once on separate connections, so the database works on them in parallel: the
        columns' neighbours (the largest search), the other kinds' neighbours, and the keyword side.
        The retriever ranks keywords in memory (CatalogView.keywords) and passes None.
        """
        dimension = len(vector)
        distance = f"embedding::vector({dimension}) <=> CAST(:q AS vector({dimension}))"
        nearest: dict[bool, list[str]] = {True: [], False: []}
        widest: dict[bool, int] = {True: 0, False: 0}
        for kind, limit in limits.items():
            if limit <= 0:
                continue
            widest[kind == "column"] = max(widest[kind == "column"], int(limit))
            # dim and kind are literals so the planner can use the matching partial HNSW index
            nearest[kind == "column"].append(
                f"(SELECT kind, item_key, 1 - ({distance}) AS score FROM retrieval_embeddings "
                f"WHERE dim = {dimension} AND kind = '{kind}' AND connection_id = :c AND model = :m "
                f"ORDER BY {distance} LIMIT {int(limit)})")
        matching = []
        if keywords:
            for kind in ("table", "column"):
                if limits.get(kind, 0) > 0:
                    matching.append(
                        "(SELECT kind, item_key, ts_rank(tsv, query, 1) AS score "
                        "FROM retrieval_embeddings, to_tsquery('simple', :tsq) AS query "
                        f"WHERE connection_id = :c AND kind = '{kind}' AND tsv @@ query "
                        f"ORDER BY 3 DESC LIMIT {int(limits[kind])})")
        hits = Hits()
        params = {"q": _vector_literal(vector), "c": connection_id, "m": self.model}
        searches = [self._nearest(" UNION ALL ".join(parts), params, widest[group], hits.vector)
                    for group, parts in nearest.items() if parts]
        if matching:
            searches.append(self._matching(" UNION ALL ".join(matching), {"c": connection_id, "tsq": keywords},
                                           hits.keyword))
        await asyncio.gather(*searches)
        return hits

    async def _nearest(self, sql: str, params: dict, limit: int, into: dict[tuple[str, str], float]) -> None:
        # a search breadth below LIMIT makes the iterative scan resume the graph walk again and again: on 50,000
        # columns, LIMIT 240 took 11.5 ms at ef_search 100 and 7.1 ms at 300, finding as many true neighbours
        ef_search = max(self._ef_search, limit * 5 // 4)
        async with self._sessions() as db, db.begin():
            settings = f"set_config('hnsw.ef_search', '{int(ef_search)}', true)"
            if await self._supports_iterative_scan(db):
                # keep scanning the graph until LIMIT rows of this connection and kind are found
                settings += ", set_config('hnsw.iterative_scan', 'relaxed_order', true)"
            await db.execute(sa.text(f"SELECT {settings}"))
            for kind, key, score in await db.execute(sa.text(sql), params):
                into[(kind, key)] = float(score)

    async def _matching(self, sql: str, params: dict, into: dict[tuple[str, str], float]) -> None:
        async with self._sessions() as db:
            for kind, key, score in await db.execute(sa.text(sql), params):
                into[(kind, key)] = float(score)
