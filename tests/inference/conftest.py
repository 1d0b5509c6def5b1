"""Fixtures: the real default model, loaded once per session, and a llama.cpp grammar acceptance check."""

from __future__ import annotations

import ctypes
from collections.abc import AsyncIterator, Callable

import pytest

from nl2sql.inference import LlamaCppChatModel
from nl2sql.settings import InferenceSettings


@pytest.fixture(scope="session")
async def llama_model() -> AsyncIterator[LlamaCppChatModel]:
    """The bundled default model, one slot, small context (loads in well under a second on CPU)."""
    model = LlamaCppChatModel(InferenceSettings(context_size=1024, slots=1, queue_size=4))
    await model.load()
    yield model
    await model.close()


@pytest.fixture(scope="session")
def grammar_accepts(llama_model: LlamaCppChatModel) -> Callable[[str, str], bool]:
    """Whether llama.cpp's own grammar engine accepts `text` as a complete sentence of `gbnf`."""
    from llama_cpp import llama_cpp as capi

    vocabulary = llama_model._load_vocabulary()
    llama = vocabulary.llama
    vocab = llama._model.vocab

    def allowed(sampler, token: int) -> bool:
        data = (capi.llama_token_data * 1)(capi.llama_token_data(token, 0.0, 0.0))
        array = capi.llama_token_data_array(data, 1, -1, False)
        capi.llama_sampler_apply(sampler, ctypes.byref(array))
        return data[0].logit != float("-inf")

    def accepts(gbnf: str, text: str) -> bool:
        sampler = capi.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
        assert sampler, "grammar does not parse"
        try:
            for token in llama.tokenize(text.encode(), add_bos=False, special=False):
                if not allowed(sampler, token):
                    return False
                capi.llama_sampler_accept(sampler, token)
            # Complete only if the grammar now allows the end of generation.
            return allowed(sampler, llama.token_eos())
        finally:
            capi.llama_sampler_free(sampler)

    return accepts
