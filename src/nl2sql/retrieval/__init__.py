"""Retrieval: embeddings of the catalog in pgvector, and the scored, pruned context chosen for one question."""

from nl2sql.retrieval.dto import (
    Embedder,
    Retrieval,
    ScoredGoldenQuery,
    ScoredInstruction,
    ScoredTable,
    ValueMatch,
)
from nl2sql.retrieval.embedder import HashingEmbedder, SentenceTransformerEmbedder, bundled_model_path
from nl2sql.retrieval.index import EmbeddingIndex
from nl2sql.retrieval.retriever import CatalogSource, Retriever
from nl2sql.retrieval.tasks import Reindexer, jobs_blueprint, reindex

__all__ = [
    "CatalogSource",
    "Embedder",
    "EmbeddingIndex",
    "HashingEmbedder",
    "Reindexer",
    "Retrieval",
    "Retriever",
    "ScoredGoldenQuery",
    "ScoredInstruction",
    "ScoredTable",
    "SentenceTransformerEmbedder",
    "ValueMatch",
    "bundled_model_path",
    "jobs_blueprint",
    "reindex",
]
