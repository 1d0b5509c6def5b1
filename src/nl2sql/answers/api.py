"""REST routes of the answers module: POST /api/v1/sql, and the model's measured trust."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post

from nl2sql.answers.dto import SqlAnswer
from nl2sql.answers.service import AnswerService
from nl2sql.auth import current_user, principal_of, requires_admin, requires_user


class SqlRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: str
    connection: str


class SqlResponse(msgspec.Struct):
    id: int | None
    connection: str
    question: str
    sql: str
    verified: bool
    golden_query_id: int | None
    guided_by: list[int]
    attempts: list[dict[str, Any]]
    retrieved: dict[str, Any]
    timings: dict[str, float]
    plan: dict[str, Any] | None  # {"json": the query plan, "line": its English} or null when SQL won directly
    generator: str | None  # reader, golden, model_plan, model_sql; "verified" for the golden shortcut
    candidate_count: int
    candidates: list[dict[str, Any]]
    cached_from: int | None  # the earlier answer whose chosen SQL this one reused (same question and catalog)

    @classmethod
    def of(cls, answer: SqlAnswer) -> SqlResponse:
        return cls(
            id=answer.id,
            connection=answer.connection,
            question=answer.question,
            sql=answer.sql,
            verified=answer.verified,
            golden_query_id=answer.golden_query_id,
            guided_by=list(answer.guided_by),
            attempts=[a.to_json() for a in answer.attempts],
            retrieved=answer.retrieved.to_json(),
            timings=answer.timings,
            plan={"json": answer.plan, "line": answer.explanation} if answer.plan else None,
            generator=answer.generator,
            candidate_count=len(answer.candidates),
            candidates=list(answer.candidates),
            cached_from=answer.cached_from,
        )


class SqlController(Controller):
    path = "/api/v1/sql"
    tags = ["answers"]
    guards = [requires_user]

    @post("/", status_code=200, summary="SQL for a question on a connection, validated and checked by the database")
    async def generate(self, request: Request, data: SqlRequest, answer_service: AnswerService) -> SqlResponse:
        principal = principal_of(request)
        key_id = principal.api_key_id if principal is not None else None
        answer = await answer_service.generate_sql(
            current_user(request), data.question, data.connection, api_key_id=key_id
        )
        return SqlResponse.of(answer)


class ModelCheckRequest(msgspec.Struct, forbid_unknown_fields=True):
    connection: str
    limit: int = 20


class ModelTrustController(Controller):
    path = "/api/v1/model"
    tags = ["answers"]
    guards = [requires_admin]

    @get("/trust", summary="How much the model's own SQL counts in the choice, and the evidence for it")
    async def trust(self, answer_service: AnswerService) -> dict[str, Any]:
        return (await answer_service.trust_reading()).to_json()

    @post("/check", status_code=200,
          summary="Ask the model a connection's golden questions (each kept out of its prompt) and compare results")
    async def check(self, request: Request, data: ModelCheckRequest, answer_service: AnswerService) -> dict[str, Any]:
        checked = await answer_service.check_model(current_user(request), data.connection, limit=data.limit)
        return checked.to_json()


api_routes = [SqlController, ModelTrustController]
