"""The numpy BERT runtime gives sentence-transformers' vectors for the bundled model, and is chosen only when it can."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nl2sql.errors import StartupError
from nl2sql.retrieval import SentenceTransformerEmbedder, bert, bundled_model_path

TEXTS = [
    "How many customers placed more than five orders in 2023?",
    "orders.customer_id: the customer who placed the order",
    "x",
    "",
    "Zürich café — naïve façade, 東京, emoji 🙂",
    "SELECT name FROM people WHERE id IN (1, 2, 3)",
    # past the model's 256-token limit: both truncate it the same way
    "a very long column description that repeats " * 60,
    "total_amount_usd",
    "employees by department, highest salary first",
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
    return model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def test_numpy_vectors_match_sentence_transformers(reference: np.ndarray) -> None:
    encoder = bert.BertEncoder(bundled_model_path())
    for batch_size in (1, 3, 64):  # padding inside a batch changes nothing
        vectors = encoder.encode(TEXTS, batch_size)
        assert vectors.shape == reference.shape
        assert np.abs(vectors - reference).max() < 1e-5, batch_size
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_gelu_is_the_exact_one() -> None:
    import math

    x = np.linspace(-8, 8, 2001, dtype=np.float32)
    expected = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    assert np.abs(bert._gelu(x.copy()) - expected).max() < 2e-6


def test_the_bundled_model_runs_on_numpy_and_both_runtimes_agree(reference: np.ndarray) -> None:
    auto = SentenceTransformerEmbedder()
    assert auto.runtime == "auto" and not auto.loaded
    vectors = np.array(auto.encode(TEXTS))
    assert auto.runtime == "numpy" and auto.loaded and auto.dimension == 384
    library = SentenceTransformerEmbedder(runtime="sentence-transformers")
    assert np.abs(np.array(library.encode(TEXTS)) - vectors).max() < 1e-5
    assert library.runtime == "sentence-transformers"
    # one stored name for both: switching the setting re-embeds nothing
    assert library.model_name == auto.model_name


def test_the_numpy_runtime_keeps_torch_out_of_the_process() -> None:
    script = (
        "import sys\n"
        "from nl2sql.retrieval import SentenceTransformerEmbedder\n"
        "e = SentenceTransformerEmbedder()\n"
        "assert len(e.encode(['a question about orders'])[0]) == 384\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def _copy_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(bundled_model_path(), folder)
    return folder


def test_a_folder_numpy_cannot_run_goes_to_sentence_transformers(tmp_path: Path) -> None:
    folder = _copy_model(tmp_path)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert bert.unsupported(folder) == "pooling ['pooling_mode_cls_token'] is not mean"
    auto = SentenceTransformerEmbedder(folder)
    assert len(auto.encode(["orders"])[0]) == 384
    assert auto.runtime == "sentence-transformers"
    with pytest.raises(StartupError, match="NL2SQL_EMBEDDING_RUNTIME=numpy can't run .*pooling"):
        SentenceTransformerEmbedder(folder, runtime="numpy").encode(["orders"])


@pytest.mark.parametrize(("change", "reason"), [
    (lambda f: (f / "model.safetensors").unlink(), "no model.safetensors"),
    (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer.json"),
    (lambda f: _edit(f / "config.json", model_type="roberta"), "model_type 'roberta' is not bert"),
    (lambda f: _edit(f / "config.json", hidden_act="relu"), "activation 'relu' is not gelu"),
    (lambda f: _edit(f / "config.json", position_embedding_type="relative_key"), "not absolute"),
    (lambda f: (f / "modules.json").write_text("[]"), "are not Transformer"),
    (lambda f: (f / "config.json").write_text("{not json"), "unreadable configuration"),
])
def test_unsupported_says_why(tmp_path: Path, change, reason: str) -> None:
    folder = _copy_model(tmp_path)
    assert bert.unsupported(folder) is None
    change(folder)
    assert reason in bert.unsupported(folder)


def _edit(path: Path, **values: object) -> None:
    config = json.loads(path.read_text())
    config.update(values)
    path.write_text(json.dumps(config))


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="embedding runtime must be one of"):
        SentenceTransformerEmbedder(runtime="onnx")


def test_batches_stay_within_the_token_budget(monkeypatch: pytest.MonkeyPatch, reference: np.ndarray) -> None:
    encoder = bert.BertEncoder(bundled_model_path())
    shapes: list[tuple[int, int]] = []
    forward = encoder._forward

    def spy(ids, types, mask):
        shapes.append(ids.shape)
        return forward(ids, types, mask)

    monkeypatch.setattr(encoder, "_forward", spy)
    vectors = encoder.encode(TEXTS * 8, batch_size=64)
    assert np.abs(vectors[:len(TEXTS)] - reference).max() < 1e-5
    # the long text's 256 tokens don't pad the short ones: no batch does more than the budget's work
    assert all(rows * length <= max(bert.TOKENS_PER_BATCH, length) for rows, length in shapes)
    assert sum(rows for rows, _ in shapes) == len(TEXTS) * 8
    assert shapes[0] == (bert.TOKENS_PER_BATCH // 256, 256)  # the eight long copies together, the rest apart
