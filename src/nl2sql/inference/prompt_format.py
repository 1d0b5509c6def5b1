"""Turning chat messages into the prompt text a local model was trained on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nl2sql.inference.protocol import Message


@dataclass(frozen=True, slots=True)
class FormattedPrompt:
    """Prompt text, the stop strings that end the model's turn, and whether the text already holds BOS."""

    text: str
    stop: tuple[str, ...]
    has_bos: bool


class PromptFormat:
    """A chat format; `family` names it for prompt builders (chatml, gemma, llama-3, completion, template)."""

    family = "completion"

    def format(self, messages: Sequence[Message]) -> FormattedPrompt:
        """Plain text: system first, then turns separated by blank lines (for base models)."""
        text = "\n\n".join(m.content for m in messages)
        return FormattedPrompt(text + "\n", (), False)


class ChatML(PromptFormat):
    family = "chatml"

    def format(self, messages: Sequence[Message]) -> FormattedPrompt:
        turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
        return FormattedPrompt(turns + "<|im_start|>assistant\n", ("<|im_end|>",), False)


class Gemma(PromptFormat):
    family = "gemma"

    def format(self, messages: Sequence[Message]) -> FormattedPrompt:
        # Gemma has no system role: the system text opens the first user turn.
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        parts = []
        for m in messages:
            if m.role == "system":
                continue
            content = m.content
            if system and m.role == "user":
                content, system = f"{system}\n\n{content}", ""
            role = "model" if m.role == "assistant" else "user"
            parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
        if system:
            parts.insert(0, f"<start_of_turn>user\n{system}<end_of_turn>\n")
        return FormattedPrompt("".join(parts) + "<start_of_turn>model\n", ("<end_of_turn>",), False)


class Llama3(PromptFormat):
    family = "llama-3"

    def format(self, messages: Sequence[Message]) -> FormattedPrompt:
        turns = "".join(f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{m.content}<|eot_id|>" for m in messages)
        return FormattedPrompt(turns + "<|start_header_id|>assistant<|end_header_id|>\n\n", ("<|eot_id|>",), False)


class GgufTemplate(PromptFormat):
    """The Jinja chat template stored in the GGUF file itself."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token)
        self.family = _family_of(template)
        self._eos = eos_token

    def format(self, messages: Sequence[Message]) -> FormattedPrompt:
        result = self._formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
        stop = (result.stop,) if isinstance(result.stop, str) else tuple(result.stop or ())
        return FormattedPrompt(result.prompt, tuple(s for s in stop if s), True)


FORMATS: Mapping[str, type[PromptFormat]] = {
    "chatml": ChatML,
    "gemma": Gemma,
    "llama-3": Llama3,
    "completion": PromptFormat,
}


def prompt_format(name: str, metadata: Mapping[str, str], bos_token: str, eos_token: str) -> PromptFormat:
    """The format for setting `name`; `auto` uses the GGUF's template, or plain text when it has none."""
    if name != "auto":
        return FORMATS[name]()
    template = metadata.get("tokenizer.chat_template")
    if not template:
        return PromptFormat()
    return GgufTemplate(template, bos_token, eos_token)


def _family_of(template: str) -> str:
    if "<|im_start|>" in template:
        return "chatml"
    if "<start_of_turn>" in template:
        return "gemma"
    if "<|start_header_id|>" in template:
        return "llama-3"
    return "template"
