"""Inference: every LLM backend behind one ChatModel protocol, grammar-constrained decoding, slots and metering."""

from nl2sql.inference.factory import build_chat_model
from nl2sql.inference.fake import FakeCall, FakeChatModel
from nl2sql.inference.grammar import DIALECTS, json_grammar, sql_grammar, table_aliases
from nl2sql.inference.llamacpp import LlamaCppChatModel
from nl2sql.inference.model_files import model_file
from nl2sql.inference.openai_compatible import OpenAICompatibleChatModel
from nl2sql.inference.api import ModelDescription, api_routes
from nl2sql.inference.pages import page_routes
from nl2sql.inference.protocol import (
    ChatModel,
    Chunk,
    Generation,
    GenerationParams,
    Grammar,
    InferenceTimeout,
    Message,
    Metering,
    ModelInfo,
    ModelStatus,
    UnsupportedFeature,
    collect,
)

__all__ = [
    "DIALECTS",
    "ChatModel",
    "Chunk",
    "FakeCall",
    "FakeChatModel",
    "Generation",
    "GenerationParams",
    "Grammar",
    "InferenceTimeout",
    "LlamaCppChatModel",
    "Message",
    "Metering",
    "ModelDescription",
    "ModelInfo",
    "ModelStatus",
    "OpenAICompatibleChatModel",
    "UnsupportedFeature",
    "build_chat_model",
    "collect",
    "json_grammar",
    "model_file",
    "api_routes",
    "page_routes",
    "sql_grammar",
    "table_aliases",
]
