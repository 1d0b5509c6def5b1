"""REST routes of the answers module: POST /api/v1/sql."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, post

from nl2sql.answers.dto import SqlAnswer
from nl2sql.answers.service import AnswerService
from nl2sql.auth import current_user, principal_of, requires_user


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


api_routes = [SqlController]
