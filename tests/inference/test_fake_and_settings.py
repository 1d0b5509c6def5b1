"""The fake model's scripted replies, and the inference settings."""

from __future__ import annotations

import pytest

from nl2sql.errors import SettingsError
from nl2sql.inference import (
    ChatModel,
    FakeChatModel,
    GenerationParams,
    LlamaCppChatModel,
    Message,
    build_chat_model,
)
from nl2sql.settings import InferenceSettings, Settings


async def test_fake_replies_in_order_and_repeats_the_last() -> None:
    fake = FakeChatModel(["SELECT 1", "SELECT 2"])
    assert isinstance(fake, ChatModel)
    texts = [(await fake.chat([Message("user", "q")])).text for _ in range(3)]
    assert texts == ["SELECT 1", "SELECT 2", "SELECT 2"]
    assert [c.kind for c in fake.calls] == ["chat"] * 3


async def test_fake_raises_scripted_errors_and_computes_replies() -> None:
    fake = FakeChatModel([RuntimeError("down"), lambda prompt: prompt.upper()])
    with pytest.raises(RuntimeError):
        await fake.complete("x")
    assert (await fake.complete("select")).text == "SELECT"


async def test_fake_meters_and_streams_like_a_real_model() -> None:
    fake = FakeChatModel(["SELECT name FROM customers"])
    chunks = [c async for c in fake.stream_complete("which names", GenerationParams(max_tokens=2))]
    assert "".join(c.text for c in chunks) == "SELECT name"
    metering = chunks[-1].metering
    assert metering.finish_reason == "length" and metering.completion_tokens == 2 and metering.prompt_tokens == 2
    assert metering.backend == "fake"


def test_settings_read_from_environment() -> None:
    settings = Settings.from_env({"NL2SQL_LLM_SLOTS": "2", "NL2SQL_LLM_CHAT_FORMAT": "GEMMA", "NL2SQL_LLM_GPU_LAYERS": "0"})
    assert settings.inference.slots == 2 and settings.inference.chat_format == "gemma"
    assert settings.inference.gpu_layers == 0


@pytest.mark.parametrize(
    "env",
    [
        {"NL2SQL_LLM_SLOTS": "0"},
        {"NL2SQL_LLM_TIMEOUT": "-1"},
        {"NL2SQL_LLM_BACKEND": "openai"},
        {"NL2SQL_LLM_BASE_URL": "localhost:8000"},
        {"NL2SQL_LLM_MODEL_PATH": "/models/model.bin"},
        {"NL2SQL_LLM_CHAT_FORMAT": "alpaca"},
    ],
)
def test_bad_settings_stop_with_a_reason(env: dict) -> None:
    with pytest.raises(SettingsError, match="NL2SQL_LLM_"):
        Settings.from_env(env)


def test_without_settings_the_bundled_llama_model_is_built() -> None:
    assert isinstance(build_chat_model(InferenceSettings()), LlamaCppChatModel)


def test_generation_params_reject_contradictions() -> None:
    with pytest.raises(ValueError):
        GenerationParams(max_tokens=0)
    assert GenerationParams(stop=";").stop == (";",)
