"""A BERT sentence encoder run with numpy: the same vectors as sentence-transformers for a mean-pooled BERT model.

Why: the bundled all-MiniLM-L6-v2 has 22 M parameters (87 MB), but running it through sentence-transformers puts
torch and transformers in the server process, about 350 MB resident before a single text is encoded. This runs the
same network (embeddings, self-attention, feed-forward, layer norm, mean pooling, L2 norm) as plain matrix products
on the weights in the folder's `model.safetensors`, tokenised by the folder's `tokenizer.json` (the `tokenizers`
library, as sentence-transformers itself does). tests/retrieval/test_bert_numpy.py checks its vectors against
sentence-transformers'. Any other kind of model folder runs through sentence-transformers (see embedder.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
# padded tokens per batch: bounds the activations' memory (about 50 MB at 2,048) and the padding's wasted work
TOKENS_PER_BATCH = 2048


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def unsupported(path: Path) -> str | None:
    """Why the folder can't run here (None: it can): a mean-pooled, absolute-position BERT with safetensors weights."""
    try:
        if not (path / "model.safetensors").is_file():
            return "no model.safetensors"
        if not (path / "tokenizer.json").is_file():
            return "no tokenizer.json"
        config = _json(path / "config.json")
        if config.get("model_type") != "bert":
            return f"model_type {config.get('model_type')!r} is not bert"
        if config.get("hidden_act", "gelu") != "gelu":
            return f"activation {config.get('hidden_act')!r} is not gelu"
        if config.get("position_embedding_type", "absolute") != "absolute":
            return f"position embeddings {config.get('position_embedding_type')!r} are not absolute"
        modules = _json(path / "modules.json") if (path / "modules.json").is_file() else []
        kinds = [m.get("type") for m in modules]
        if kinds not in ([TRANSFORMER, POOLING], [TRANSFORMER, POOLING, NORMALIZE]):
            return f"modules {kinds} are not Transformer, Pooling[, Normalize]"
        if modules[0].get("path"):
            return "the transformer is not at the folder's top"
        pooling = _json(path / modules[1]["path"] / "config.json")
        modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v)
        if modes != ["pooling_mode_mean_tokens"]:
            return f"pooling {modes} is not mean"
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        return f"unreadable configuration: {exc}"
    return None


def _gelu(x: np.ndarray) -> np.ndarray:
    """x * Phi(x), exactly as BERT's "gelu" (not the tanh shortcut), in place where it can: x * erf(x / sqrt 2) equals
    |x| * erf(|x| / sqrt 2), and erf of a non-negative number is Abramowitz and Stegun 7.1.26 (absolute error under
    1.5e-7, below float32's step at 1); numpy has no erf of its own."""
    a = np.abs(x)
    a *= np.float32(1.0 / math.sqrt(2.0))
    t = a * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|x| / sqrt 2)
    np.subtract(1.0, poly, out=poly)
    poly *= np.abs(x)
    poly += x
    poly *= np.float32(0.5)
    return poly


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


class BertEncoder:
    """Loads the folder's weights once (float32, about 4 bytes per parameter) and encodes batches of texts."""

    def __init__(self, path: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = _json(path / "config.json")
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        weights = {k.removeprefix("bert."): v for k, v in load_file(str(path / "model.safetensors")).items()}
        self.dimension = int(config["hidden_size"])
        sbert = path / "sentence_bert_config.json"
        max_length = int(_json(sbert).get("max_seq_length") or 0) if sbert.is_file() else 0
        self.max_length = min(max_length or 512, int(config.get("max_position_embeddings", 512)))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)

        def take(name: str) -> np.ndarray:
            return np.ascontiguousarray(weights.pop(name), dtype=np.float32)

        self.word = take("embeddings.word_embeddings.weight")
        self.position = take("embeddings.position_embeddings.weight")
        self.token_type = take("embeddings.token_type_embeddings.weight")
        self.embedding_norm = (take("embeddings.LayerNorm.weight"), take("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate([take(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]).T
            self.layers.append((
                np.ascontiguousarray(qkv),
                np.concatenate([take(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]),
                np.ascontiguousarray(take(p + "attention.output.dense.weight").T), take(p + "attention.output.dense.bias"),
                take(p + "attention.output.LayerNorm.weight"), take(p + "attention.output.LayerNorm.bias"),
                np.ascontiguousarray(take(p + "intermediate.dense.weight").T), take(p + "intermediate.dense.bias"),
                np.ascontiguousarray(take(p + "output.dense.weight").T), take(p + "output.dense.bias"),
                take(p + "output.LayerNorm.weight"), take(p + "output.LayerNorm.bias"),
            ))
        weights.clear()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors, one row per text.

        Texts are batched longest first, at most `batch_size` texts and TOKENS_PER_BATCH padded tokens a batch:
        a batch is padded to its longest text, so ten 120-token table descriptions among 54 four-word column
        names made one batch cost 7,680 tokens of work (5 s, 300 MB of activations) instead of about 1,700.
        """
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        start = 0
        while start < len(order):
            length = len(encodings[order[start]].ids)
            count = max(1, min(batch_size, TOKENS_PER_BATCH // max(length, 1)))
            chosen = order[start:start + count]
            start += count
            ids = np.zeros((len(chosen), length), dtype=np.int64)
            types = np.zeros((len(chosen), length), dtype=np.int64)
            mask = np.zeros((len(chosen), length), dtype=np.float32)
            for row, i in enumerate(chosen):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                types[row, :n] = encodings[i].type_ids
                mask[row, :n] = 1.0
            out[chosen] = self._forward(ids, types, mask)
        return out

    def _forward(self, ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        hidden, heads = self.dimension, self.heads
        size = hidden // heads
        x = self.word[ids] + self.position[:length][None] + self.token_type[types]
        x = _layer_norm(x, *self.embedding_norm, self.eps)
        # padded keys get the lowest float32, as transformers' extended attention mask does
        key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(size))
        for qkv, qkv_b, out_w, out_b, norm1_w, norm1_b, up_w, up_b, down_w, down_b, norm2_w, norm2_b in self.layers:
            projected = (x @ qkv + qkv_b).reshape(batch, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
            query, key, value = projected[0], projected[1], projected[2]
            scores = (query @ key.transpose(0, 1, 3, 2)) * scale + key_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = _layer_norm(context @ out_w + out_b + x, norm1_w, norm1_b, self.eps)
            x = _layer_norm(_gelu(x @ up_w + up_b) @ down_w + down_b + x, norm2_w, norm2_b, self.eps)
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)
