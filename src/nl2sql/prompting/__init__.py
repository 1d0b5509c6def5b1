"""Prompting: a question and its retrieved context rendered into a prompt that fits the model (pure, no I/O)."""

from nl2sql.prompting.builder import build_prompt, prompt_kind, render_table
from nl2sql.prompting.context import (
    ErrorFeedback,
    Prompt,
    PromptBudget,
    PromptTooLarge,
    RetrievedContext,
    Turn,
    estimate_tokens,
)

__all__ = [
    "ErrorFeedback",
    "Prompt",
    "PromptBudget",
    "PromptTooLarge",
    "RetrievedContext",
    "Turn",
    "build_prompt",
    "estimate_tokens",
    "prompt_kind",
    "render_table",
]
