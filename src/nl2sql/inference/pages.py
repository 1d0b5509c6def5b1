"""The admin model page: the configured model's status (polled) and a try-it box."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from nl2sql.auth import requires_admin
from nl2sql.errors import AppError
from nl2sql.inference.api import TryRequest, describe, try_prompt
from nl2sql.inference.protocol import ChatModel
from nl2sql.web import render


class ModelPages(Controller):
    path = "/admin/models"
    include_in_schema = False
    guards = [requires_admin]

    @get("/")
    async def page(self, request: Request, chat_model: ChatModel) -> Template:
        described = await describe(chat_model)
        return render(request, "inference/models.html", {"model": described, "result": None, "error": None, "form": {}})

    @get("/status", opt={"rate_limited": False})
    async def status(self, request: Request, chat_model: ChatModel) -> Template:
        described = await describe(chat_model)
        return render(request, "inference/_status.html", {"model": described})

    @post("/try")
    async def try_it(
        self, request: Request, chat_model: ChatModel, data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
    ) -> Template:
        form = {k: str(v) for k, v in data.items() if k != "_csrf_token"}
        result, error, status = None, None, 200
        try:
            attempt = TryRequest(
                prompt=form.get("prompt", ""),
                mode="completion" if form.get("mode") == "completion" else "chat",
                max_tokens=int(form.get("max_tokens") or 64),
                temperature=float(form.get("temperature") or 0),
            )
            result = await try_prompt(chat_model, attempt)
        except ValueError:
            error, status = "max tokens and temperature must be numbers", 400
        except AppError as exc:
            error, status = exc.detail, exc.status_code
        described = await describe(chat_model)
        ctx = {"model": described, "result": result, "error": error, "form": form}
        return render(request, "inference/models.html", ctx, fragment="inference/_try.html", status_code=status)


page_routes = [ModelPages]
