"""The sample-first grammar check: on a small vocabulary it draws from exactly the masked distribution, and
under greedy decoding it picks the best allowed token (what a full check of the vocabulary gives)."""

from __future__ import annotations

import numpy as np

from nl2sql.inference.lazy_grammar import choose

SCORES = np.array([2.0, 1.5, 1.0, 0.5, 0.0, -1.0], dtype=np.float32)
ALLOWED = {1, 3, 4}


def mask(values: np.ndarray) -> np.ndarray:
    return np.where(np.isin(np.arange(values.size), list(ALLOWED)), values, -np.inf).astype(values.dtype)


def test_greedy_takes_the_best_allowed_token():
    rng = np.random.default_rng(0)
    assert choose(SCORES, lambda t: t in ALLOWED, mask, 0.0, rng) == 1
    checked = []
    assert choose(SCORES, lambda t: checked.append(t) or True, mask, 0.0, rng) == 0 and checked == [0]


def test_sampling_draws_from_the_masked_distribution():
    rng = np.random.default_rng(7)
    temperature = 0.8
    draws = [choose(SCORES, lambda t: t in ALLOWED, mask, temperature, rng) for _ in range(40_000)]
    counts = np.bincount(draws, minlength=SCORES.size) / len(draws)
    masked = np.exp(mask(SCORES).astype(np.float64) / temperature)
    expected = masked / masked.sum()
    assert set(np.nonzero(counts)[0]) == ALLOWED
    assert np.abs(counts - expected).max() < 0.01, (counts, expected)


def test_nothing_allowed_is_none():
    assert choose(SCORES, lambda t: False, lambda v: np.full_like(v, -np.inf), 0.0, np.random.default_rng(0)) is None
