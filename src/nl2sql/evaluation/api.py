"""REST routes of evaluation runs (admin): start one from a question CSV, follow it, cancel it, compare two."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post

from nl2sql.auth import current_user, requires_admin
from nl2sql.answers import SqlGenerationService
from nl2sql.catalog import CatalogService
from nl2sql.evaluation.drafts import DraftController
from nl2sql.evaluation.readiness import readiness
from nl2sql.evaluation.runs import parse_questions
from nl2sql.evaluation.service import EvaluationService
from nl2sql.web import IMPORT_MAX_BYTES


class EvaluationRequest(msgspec.Struct, forbid_unknown_fields=True):
    connection: str
    questions_csv: str  # the CSV text: question, query (gold SQL), optional query_category, instructions, db_name
    name: str | None = None
    limit: int | None = None
    db_name: str | None = None  # only the CSV's rows of this db_name


class RegressionRequest(msgspec.Struct, forbid_unknown_fields=True):
    connection: str


class EvaluationController(Controller):
    path = "/api/v1/evaluations"
    tags = ["evaluation"]
    guards = [requires_admin]

    @post("/", status_code=202, request_max_body_size=IMPORT_MAX_BYTES,
          summary="Start an evaluation run (a background job); follow it with GET /api/v1/evaluations/{id}")
    async def start(self, request: Request, data: EvaluationRequest,
                    evaluation_service: EvaluationService) -> dict[str, Any]:
        questions = parse_questions(data.questions_csv, db_name=data.db_name)
        started = await evaluation_service.start(current_user(request), data.connection, questions,
                                                 name=data.name or "evaluation", limit=data.limit)
        return started.to_json(items=False)

    @post("/regression", status_code=202,
          summary="Start a golden regression: every golden question re-asked without its query, results compared")
    async def regression(self, request: Request, data: RegressionRequest,
                         evaluation_service: EvaluationService) -> dict[str, Any]:
        started = await evaluation_service.start_regression(current_user(request), data.connection)
        return started.to_json(items=False)

    @get("/regression", summary="The golden regression score over time, per connection (finished runs)")
    async def regression_trend(self, evaluation_service: EvaluationService,
                               connection: str | None = None) -> dict[str, list[dict[str, Any]]]:
        trend = await evaluation_service.trend(connection)
        return {name: [r.to_json(items=False) for r in runs] for name, runs in trend.items()}

    @get("/", summary="Evaluation runs, newest first")
    async def listing(self, evaluation_service: EvaluationService) -> list[dict[str, Any]]:
        return [r.to_json(items=False) for r in await evaluation_service.runs()]

    @get("/compare", summary="Which questions two runs answered differently (fixed and broken by the second)")
    async def compare(self, before: int, after: int, evaluation_service: EvaluationService) -> dict[str, Any]:
        return (await evaluation_service.compare(before, after)).to_json()

    @get("/{run_id:int}", summary="A run: progress, accuracy overall, per category and generator, every item")
    async def detail(self, run_id: int, evaluation_service: EvaluationService) -> dict[str, Any]:
        return (await evaluation_service.get(run_id)).to_json()

    @post("/{run_id:int}/cancel", status_code=200, summary="Stop a queued or running evaluation")
    async def cancel(self, run_id: int, evaluation_service: EvaluationService) -> dict[str, Any]:
        return (await evaluation_service.cancel(run_id)).to_json(items=False)


class ReadinessController(Controller):
    path = "/api/v1/readiness"
    tags = ["evaluation"]
    guards = [requires_admin]

    @get("/{name:str}", summary="A connection's readiness checklist, each item with the page that fixes it")
    async def show(self, request: Request, name: str, catalog_service: CatalogService,
                   generation_service: SqlGenerationService) -> dict[str, Any]:
        return (await readiness(current_user(request), name, catalog_service, generation_service)).to_json()


api_routes = [EvaluationController, ReadinessController, DraftController]
