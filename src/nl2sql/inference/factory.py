"""Choosing and building the configured backend from settings."""

from __future__ import annotations

from nl2sql.inference.llamacpp import LlamaCppChatModel
from nl2sql.inference.openai_compatible import OpenAICompatibleChatModel
from nl2sql.inference.protocol import ChatModel
from nl2sql.settings import InferenceSettings


def build_chat_model(settings: InferenceSettings) -> ChatModel:
    """The backend the settings name: an OpenAI-compatible server when a base URL is set, else llama.cpp."""
    backend = settings.backend
    if backend == "auto":
        backend = "openai" if settings.base_url else "llamacpp"
    if backend == "openai":
        return OpenAICompatibleChatModel(settings)
    return LlamaCppChatModel(settings)
