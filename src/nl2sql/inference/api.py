"""REST routes of the model: GET /api/v1/models (its status and capabilities), POST /api/v1/models/try;
the description and try-it values the model page shares."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
from litestar import Controller, Request, get, post

from nl2sql.auth import current_user, requires_admin, requires_user
from nl2sql.errors import ValidationFailed
from nl2sql.inference.protocol import ChatModel, Generation, GenerationParams, Message, ModelInfo, ModelStatus


@dataclass(frozen=True)
class ModelDescription:
    """The configured model: its status, and what it can do once loaded."""

    status: ModelStatus
    info: ModelInfo | None


class TryRequest(msgspec.Struct, forbid_unknown_fields=True):
    prompt: str
    mode: Literal["chat", "completion"] = "chat"
    max_tokens: int = 64
    temperature: float = 0.0


@dataclass(frozen=True)
class TryResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    queue_seconds: float
    first_token_seconds: float | None
    total_seconds: float
    tokens_per_second: float


async def describe(model: ChatModel) -> ModelDescription:
    status = model.describe()
    # info() may load the model; only ask once it is loaded (or for a remote server, which is cheap)
    info = await model.info() if status.loaded or status.base_url else None
    return ModelDescription(status=status, info=info)


async def try_prompt(model: ChatModel, data: TryRequest) -> TryResult:
    prompt = data.prompt.strip()
    if not prompt:
        raise ValidationFailed("type a prompt to send to the model")
    if not 1 <= data.max_tokens <= 1024:
        raise ValidationFailed("max tokens must be between 1 and 1024")
    if not 0 <= data.temperature <= 2:
        raise ValidationFailed("temperature must be between 0 and 2")
    params = GenerationParams(max_tokens=data.max_tokens, temperature=data.temperature)
    if data.mode == "chat":
        generation: Generation = await model.chat([Message("user", prompt)], params)
    else:
        generation = await model.complete(prompt, params)
    m = generation.metering
    return TryResult(
        text=generation.text,
        finish_reason=generation.finish_reason,
        prompt_tokens=m.prompt_tokens,
        completion_tokens=m.completion_tokens,
        queue_seconds=m.queue_seconds,
        first_token_seconds=m.first_token_seconds,
        total_seconds=m.total_seconds,
        tokens_per_second=m.tokens_per_second,
    )


class ModelsApi(Controller):
    path = "/api/v1/models"
    tags = ["models"]
    guards = [requires_user]

    @get("/", summary="The configured model backend: file or server, slots, queue and capabilities (analysts see the "
                      "file's name, not its path on the server, and no server address)")
    async def models(self, request: Request, chat_model: ChatModel) -> list[ModelDescription]:
        described = await describe(chat_model)
        if not current_user(request).is_admin:
            status = described.status
            shown = dataclasses.replace(status, model_file=Path(status.model_file).name if status.model_file else None,
                                        base_url=None)
            described = ModelDescription(status=shown, info=described.info)
        return [described]

    @post("/try", summary="Send one prompt to the model (admin)", guards=[requires_admin], status_code=200)
    async def try_model(self, chat_model: ChatModel, data: TryRequest) -> TryResult:
        return await try_prompt(chat_model, data)


api_routes = [ModelsApi]
