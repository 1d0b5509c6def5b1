"""Knowledge drafts, page and REST: a connection's draft created, its changes listed, tried against the live
knowledge (a trial: one question set run on both), published or discarded (admin)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from nl2sql.auth import current_user, requires_admin
from nl2sql.catalog import CatalogService
from nl2sql.errors import AppError, NotFoundError
from nl2sql.evaluation.service import EvaluationService
from nl2sql.web import redirect, render

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


def shown(value: Any) -> str:
    """A draft change's value as one line: lists joined, semantic corrections as key=value, rows by their parts."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return " · ".join(shown(v) for v in value) or "—"
    return str(value)


async def _draft_json(name: str, catalog: CatalogService, evaluation: EvaluationService) -> dict[str, Any]:
    draft = await catalog.draft(name)
    trial = await evaluation.trial(name)
    return draft.to_json() | {"trial": trial.to_json() if trial else None}


Side = Literal["draft", "live"]


class PublishChoice(msgspec.Struct, forbid_unknown_fields=True):
    """Which side wins where the draft and the live connection conflict: one for all, or per conflict key."""

    resolve: Side | dict[str, Side] | None = None


def _form_choices(data: dict[str, Any]) -> str | dict[str, str] | None:
    """The page's publish form: a button's `resolve` (one side for all), else each conflict's `resolve.KEY`."""
    if data.get("resolve"):
        return str(data["resolve"])
    chosen = {key.removeprefix("resolve."): str(value) for key, value in data.items()
              if key.startswith("resolve.") and value}
    return chosen or None


class DraftController(Controller):
    path = "/api/v1/connections/{name:str}/draft"
    tags = ["evaluation"]
    guards = [requires_admin]

    @post("/", status_code=201, summary="Start a knowledge draft: a hidden copy of the connection's curated catalog, "
                                        "edited through the usual endpoints under the draft's name")
    async def create(self, request: Request, name: str, catalog_service: CatalogService,
                     evaluation_service: EvaluationService) -> dict[str, Any]:
        await catalog_service.create_draft(current_user(request), name)
        return await _draft_json(name, catalog_service, evaluation_service)

    @get("/", summary="The draft: what publishing it changes, and its latest trial")
    async def show(self, name: str, catalog_service: CatalogService,
                   evaluation_service: EvaluationService) -> dict[str, Any]:
        return await _draft_json(name, catalog_service, evaluation_service)

    @post("/trial", status_code=202, summary="Try the draft: its golden queries and the stored evaluation sets run on "
                                             "the live knowledge and on the draft (two background runs)")
    async def trial(self, request: Request, name: str, evaluation_service: EvaluationService) -> dict[str, Any]:
        return (await evaluation_service.start_trial(current_user(request), name)).to_json()

    @post("/publish", status_code=200,
          summary="Publish the draft: what it changed since it was taken goes live and the draft is removed",
          description="Only what the draft changed is applied; the rest of the live connection stays as it is now. "
                      "Where the live connection changed the same thing since the draft was taken, nothing is "
                      "published: 409 with `conflicts` (each with its `key`, `base`, `live` and `draft` values). "
                      "Publish again with `resolve`: \"draft\" or \"live\" for every conflict, or an object of "
                      "conflict key -> \"draft\" | \"live\".")
    async def publish(self, request: Request, name: str, catalog_service: CatalogService,
                      data: PublishChoice | None = None) -> dict[str, Any]:
        found = await catalog_service.publish_draft(current_user(request), name, data.resolve if data else None)
        return {"published": len(found), "changes": [c.to_json() for c in found]}

    @delete("/", status_code=204, summary="Discard the draft (the live connection stays as it is)")
    async def discard(self, request: Request, name: str, catalog_service: CatalogService) -> None:
        await catalog_service.discard_draft(current_user(request), name)


class DraftPages(Controller):
    path = "/connections/{name:str}/draft"
    include_in_schema = False
    guards = [requires_admin]

    async def _page(self, request: Request, name: str, catalog: CatalogService, evaluation: EvaluationService,
                    *, status_code: int = 200, **extra: Any) -> Template:
        live = await catalog.get_connection(name)
        if live.draft_of is not None:  # the draft's own name leads to its live connection's page
            live = await catalog.get_connection_by_id(live.draft_of)
        draft = await catalog.draft_of(live.name)
        trial = await evaluation.trial(live.name) if draft else None
        context = {"user": current_user(request), "live": live.name, "draft": draft, "trial": trial, "shown": shown,
                   "error": None, "published": None, "discarded": False} | extra
        return render(request, "evaluation/draft.html", context, status_code=status_code)

    @get("/")
    async def show(self, request: Request, name: str, catalog_service: CatalogService,
                   evaluation_service: EvaluationService, published: int | None = None,
                   discarded: bool = False) -> Template:
        return await self._page(request, name, catalog_service, evaluation_service, published=published,
                                discarded=discarded)

    @post("/")
    async def create(self, request: Request, name: str, catalog_service: CatalogService,
                     evaluation_service: EvaluationService, data: Annotated[dict[str, Any], Form]) -> Any:
        try:
            await catalog_service.create_draft(current_user(request), name)
        except AppError as error:
            if isinstance(error, NotFoundError):
                raise
            return await self._page(request, name, catalog_service, evaluation_service, error=error.detail,
                                    status_code=error.status_code)
        return redirect(request, f"/connections/{name}/draft")

    @get("/trial", opt={"rate_limited": False})
    async def trial_fragment(self, request: Request, name: str, catalog_service: CatalogService,
                             evaluation_service: EvaluationService) -> Template:
        live = (await catalog_service.draft(name)).live.name
        return render(request, "evaluation/_trial.html",
                      {"user": current_user(request), "live": live, "trial": await evaluation_service.trial(name)})

    @post("/trial")
    async def trial(self, request: Request, name: str, catalog_service: CatalogService,
                    evaluation_service: EvaluationService, data: Annotated[dict[str, Any], Form]) -> Any:
        try:
            await evaluation_service.start_trial(current_user(request), name)
        except AppError as error:
            return await self._page(request, name, catalog_service, evaluation_service, error=error.detail,
                                    status_code=error.status_code)
        return redirect(request, f"/connections/{name}/draft")

    @post("/publish")
    async def publish(self, request: Request, name: str, catalog_service: CatalogService,
                      evaluation_service: EvaluationService, data: Annotated[dict[str, Any], Form]) -> Any:
        try:
            found = await catalog_service.publish_draft(current_user(request), name, _form_choices(data))
        except AppError as error:
            return await self._page(request, name, catalog_service, evaluation_service, error=error.detail,
                                    status_code=error.status_code)
        return redirect(request, f"/connections/{name}/draft?published={len(found)}")

    @post("/discard")
    async def discard(self, request: Request, name: str, catalog_service: CatalogService,
                      evaluation_service: EvaluationService, data: Annotated[dict[str, Any], Form]) -> Any:
        try:
            await catalog_service.discard_draft(current_user(request), name)
        except AppError as error:
            return await self._page(request, name, catalog_service, evaluation_service, error=error.detail,
                                    status_code=error.status_code)
        return redirect(request, f"/connections/{name}/draft?discarded=true")
