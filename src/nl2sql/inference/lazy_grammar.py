"""Grammar-constrained decoding that checks the model's own choice first.

llama.cpp's grammar sampler, put in the sampler chain, tests every token of the vocabulary against the grammar
at every step (262k tokens for Gemma): most of the generation time. Here the token the model would pick anyway
is chosen first and tested alone; only when the grammar refuses it is the whole vocabulary tested and the pick
made again among the allowed tokens (what llama.cpp's own `common_sampler` does). The result is the same token
a full check would give for greedy decoding; with a temperature the pick is sampled from the top tokens.

Used as a llama-cpp-python logits processor: it leaves one finite logit, so the chain after it takes that token.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["LazyGrammar", "choose"]

_TOP_K = 40


def _pick(scores: np.ndarray, temperature: float, rng: np.random.Generator) -> int | None:
    if not np.isfinite(scores).any():
        return None
    if temperature <= 0:
        return int(np.argmax(scores))
    top = np.argpartition(scores, -_TOP_K)[-_TOP_K:] if scores.size > _TOP_K else np.arange(scores.size)
    top = top[np.isfinite(scores[top])]
    logits = scores[top].astype(np.float64) / temperature
    weights = np.exp(logits - logits.max())
    return int(rng.choice(top, p=weights / weights.sum()))


def choose(scores: np.ndarray, allowed: Callable[[int], bool], mask: Callable[[np.ndarray], np.ndarray],
           temperature: float, rng: np.random.Generator) -> int | None:
    """The next token: the model's own pick if the grammar allows it, else a pick among the allowed tokens.

    Under greedy decoding that is the best allowed token, as a full check gives. Sampling first from the
    whole distribution and, on a refusal, from the masked one draws from exactly the masked distribution
    when every token is a candidate (a vocabulary within the top-k); with a larger vocabulary both draws are
    from the top 40.
    """
    pick = _pick(scores, temperature, rng)
    if pick is not None and allowed(pick):
        return pick
    return _pick(mask(scores), temperature, rng)


class LazyGrammar:
    """One generation's grammar state; call `close()` when the generation ends."""

    def __init__(self, vocab: Any, gbnf: str, *, prompt_tokens: int, temperature: float, seed: int | None) -> None:
        from llama_cpp import llama_cpp as capi

        self._capi = capi
        self._sampler = capi.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
        if not self._sampler:
            raise ValueError("the grammar is not valid GBNF")
        self._seen = prompt_tokens  # tokens of input_ids already given to the grammar (the prompt: none of them)
        self._temperature = temperature
        self._rng = np.random.default_rng(seed)
        self._one = (capi.llama_token_data * 1)()
        self._one_array = capi.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        self._full: Any = None
        self.steps = 0
        self.full_checks = 0

    def __call__(self, input_ids: Any, scores: np.ndarray) -> np.ndarray:
        capi = self._capi
        for token in input_ids[self._seen:]:  # the tokens chosen since the last step advance the grammar
            capi.llama_sampler_accept(self._sampler, int(token))
        self._seen = len(input_ids)
        self.steps += 1

        def mask(values: np.ndarray) -> np.ndarray:
            self.full_checks += 1
            return self._apply_all(values)

        pick = choose(scores, lambda t: self._allowed(t, float(scores[t])), mask, self._temperature, self._rng)
        out = np.full_like(scores, -np.inf)
        if pick is not None:
            out[pick] = scores[pick]
        return out  # all -inf when nothing is allowed: the chain ends the generation

    def _allowed(self, token: int, logit: float) -> bool:
        self._one[0].id = token
        self._one[0].logit = logit
        self._one[0].p = 0.0
        self._one_array.size = 1
        self._one_array.selected = -1
        self._capi.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return bool(np.isfinite(self._one[0].logit))

    def _apply_all(self, scores: np.ndarray) -> np.ndarray:
        capi = self._capi
        n = scores.size
        if self._full is None or len(self._full[0]) != n:
            data = (capi.llama_token_data * n)()
            view = np.ctypeslib.as_array(data)  # a structured array over the same memory: id, logit, p
            self._full = (data, view)
        data, view = self._full
        view["id"] = np.arange(n, dtype=np.intc)
        view["logit"] = scores
        view["p"] = 0.0
        array = capi.llama_token_data_array(data=data, size=n, selected=-1, sorted=False)
        capi.llama_sampler_apply(self._sampler, ctypes.byref(array))
        # the sampler may reorder or shrink the array: read it back by token id
        allowed = np.full(n, -np.inf, dtype=scores.dtype)
        kept = view[: array.size]
        allowed[kept["id"]] = kept["logit"]
        return allowed

    def close(self) -> None:
        if self._sampler:
            self._capi.llama_sampler_free(self._sampler)
            self._sampler = None
