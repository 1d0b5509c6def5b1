"""Pages of evaluation runs (admin): the list and a start form, a run's progress and results, a comparison."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from nl2sql.answers import SqlGenerationService
from nl2sql.auth import current_user, requires_admin
from nl2sql.catalog import CatalogService
from nl2sql.errors import AppError, ValidationFailed
from nl2sql.evaluation.drafts import DraftPages
from nl2sql.evaluation.readiness import readiness
from nl2sql.evaluation.runs import parse_questions
from nl2sql.evaluation.service import EvaluationService
from nl2sql.web import IMPORT_MAX_BYTES, redirect, render

Upload = Body(media_type=RequestEncodingType.MULTI_PART)
Form = Body(media_type=RequestEncodingType.URL_ENCODED)


async def _questions_text(data: dict[str, Any]) -> str:
    upload = data.get("file")
    if isinstance(upload, UploadFile):
        raw = await upload.read()
        if raw:
            try:
                return raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationFailed("the file must be UTF-8 text") from None
    text = str(data.get("questions_csv") or "")
    if not text.strip():
        raise ValidationFailed("choose a question file (CSV) or paste its text")
    return text


def _int(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number, got {value!r}") from None


def _sparkline(runs: list[Any], width: int = 240, height: int = 48) -> dict[str, Any]:
    """SVG points of the regression score (0-100%) over the runs, oldest left."""
    shares = [r.accuracy for r in runs]
    if not shares:
        return {"points": "", "width": width, "height": height, "dots": []}
    step = width / max(1, len(shares) - 1)
    dots = [(round(i * step if len(shares) > 1 else width / 2, 1), round(height - 4 - s * (height - 8), 1), s)
            for i, s in enumerate(shares)]
    return {"points": " ".join(f"{x},{y}" for x, y, _ in dots), "width": width, "height": height, "dots": dots}


class EvaluationPages(Controller):
    path = "/admin/evaluations"
    include_in_schema = False
    guards = [requires_admin]

    async def _listing(self, request: Request, evaluation_service: EvaluationService,
                       catalog_service: CatalogService, **extra: Any) -> dict[str, Any]:
        trend = await evaluation_service.trend()
        return {"user": current_user(request), "runs": await evaluation_service.runs(),
                "connections": [c.name for c in await catalog_service.list_connections()],
                "trend": trend, "sparklines": {k: _sparkline(v) for k, v in trend.items()},
                "error": None, "form": {}, "regression_error": None} | extra

    @get("/")
    async def listing(self, request: Request, evaluation_service: EvaluationService,
                      catalog_service: CatalogService) -> Template:
        return render(request, "evaluation/runs.html",
                      await self._listing(request, evaluation_service, catalog_service))

    @post("/", request_max_body_size=IMPORT_MAX_BYTES)
    async def start(self, request: Request, evaluation_service: EvaluationService, catalog_service: CatalogService,
                    data: Annotated[dict[str, Any], Upload]) -> Any:
        form = {k: str(v) for k, v in data.items() if k not in ("_csrf_token", "file", "questions_csv")}
        try:
            questions = parse_questions(await _questions_text(data), db_name=form.get("db_name") or None)
            upload = data.get("file")
            default = upload.filename if isinstance(upload, UploadFile) and upload.filename else "evaluation"
            started = await evaluation_service.start(current_user(request), form.get("connection", ""), questions,
                                                     name=form.get("name") or default,
                                                     limit=_int(form.get("limit"), "limit"))
        except AppError as error:
            context = await self._listing(request, evaluation_service, catalog_service, error=error.detail, form=form)
            return render(request, "evaluation/runs.html", context, status_code=error.status_code)
        return redirect(request, f"/admin/evaluations/{started.id}")

    @post("/regression")
    async def regression(self, request: Request, evaluation_service: EvaluationService,
                         catalog_service: CatalogService, data: Annotated[dict[str, Any], Form]) -> Any:
        try:
            started = await evaluation_service.start_regression(current_user(request), str(data.get("connection", "")))
        except AppError as error:
            context = await self._listing(request, evaluation_service, catalog_service,
                                          regression_error=error.detail)
            return render(request, "evaluation/runs.html", context, status_code=error.status_code)
        return redirect(request, f"/admin/evaluations/{started.id}")

    @get("/compare")
    async def compare(self, request: Request, evaluation_service: EvaluationService, before: int,
                      after: int) -> Template:
        comparison = await evaluation_service.compare(before, after)
        return render(request, "evaluation/compare.html", {"user": current_user(request), "c": comparison})

    @get("/{run_id:int}")
    async def detail(self, request: Request, evaluation_service: EvaluationService, run_id: int) -> Template:
        found = await evaluation_service.get(run_id)
        return render(request, "evaluation/run.html", {"user": current_user(request), "run": found})

    @get("/{run_id:int}/progress", opt={"rate_limited": False})
    async def progress(self, request: Request, evaluation_service: EvaluationService, run_id: int) -> Template:
        found = await evaluation_service.get(run_id)
        return render(request, "evaluation/_run.html", {"user": current_user(request), "run": found})

    @post("/{run_id:int}/cancel")
    async def cancel(self, request: Request, evaluation_service: EvaluationService, run_id: int,
                     data: Annotated[dict[str, Any], Form]) -> Redirect | Template:
        await evaluation_service.cancel(run_id)
        return redirect(request, f"/admin/evaluations/{run_id}")


class ReadinessPages(Controller):
    path = "/connections/{name:str}/readiness"
    include_in_schema = False
    guards = [requires_admin]

    @get("/")
    async def show(self, request: Request, name: str, catalog_service: CatalogService,
                   generation_service: SqlGenerationService) -> Template:
        checked = await readiness(current_user(request), name, catalog_service, generation_service)
        return render(request, "evaluation/readiness.html", {"user": current_user(request), "r": checked})


page_routes = [EvaluationPages, ReadinessPages, DraftPages]
