"""REST routes of the answers module: POST /api/v1/sql (SQL only), POST /api/v1/ask (SQL, rows, chart), the answers
history, one answer's trace, feedback, CSV; and the model's measured trust."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.response import Stream

from nl2sql.answers.ask import AskResult, AskService
from nl2sql.answers.dto import SqlAnswer, Unanswered
from nl2sql.answers.feedback import FeedbackService
from nl2sql.answers.generation import SqlGenerationService
from nl2sql.answers.history import AnswerRecord, HistoryEntry
from nl2sql.answers.results import json_value
from nl2sql.auth import current_user, principal_of, requires_admin, requires_user


class SqlRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: str
    connection: str
    use_model: bool = False  # also ask the model, where it would not run by default ("Try the model")


class OptionOut(msgspec.Struct):
    """A one-click way forward: `ask` its `question`; `reading`: POST /api/v1/answers/{answer_id}/alternatives/{index};
    `define`: an admin defines `term` (an instruction); `model`: ask again with `use_model` (`note`: what to expect)."""

    kind: str
    label: str
    question: str | None = None
    index: int | None = None
    term: str | None = None
    note: str | None = None


class ClarificationOut(msgspec.Struct):
    """Why the question was not answered: the sentence to show, what was understood, what wasn't, the options."""

    message: str
    understood: str | None
    not_understood: list[str]
    options: list[OptionOut]


def _clarification(verdict: dict[str, Any] | None) -> ClarificationOut | None:
    if not verdict or verdict.get("status") == "answered":
        return None
    return ClarificationOut(verdict["message"], verdict.get("understood"), list(verdict.get("not_understood") or ()),
                            [OptionOut(**o) for o in verdict.get("options") or ()])


class SqlResponse(msgspec.Struct):
    id: int | None
    connection: str
    question: str
    sql: str | None  # null when the question was clarified or refused
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
    status: Literal["answered", "clarify", "refused"] = "answered"
    label: str | None = None  # how much of the question the SQL covers ("read from the question: all of it")
    clarification: ClarificationOut | None = None  # with clarify or refused: why, and the ways forward
    policies: list[str] = []  # the asker's row policies and column masks the SQL reads through

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
            status="answered",
            label=(answer.verdict or {}).get("label"),
            policies=list(answer.validated.policies),
        )

    @classmethod
    def unanswered(cls, error: Unanswered, question: str, connection: str) -> SqlResponse:
        extra = error.extra or {}
        verdict = extra.get("verdict") or {}
        return cls(id=extra.get("answer_id"), connection=connection, question=question, sql=None, verified=False,
                   golden_query_id=None, guided_by=[], attempts=[], retrieved={}, timings={}, plan=None,
                   generator=None, candidate_count=len(extra.get("candidates") or ()),
                   candidates=list(extra.get("candidates") or ()), cached_from=None,
                   status=verdict.get("status", "clarify"), label=verdict.get("label"),
                   clarification=_clarification(verdict))


class SqlController(Controller):
    path = "/api/v1/sql"
    tags = ["answers"]
    guards = [requires_user]

    @post("/", status_code=200, summary="SQL for a question on a connection, validated and checked by the database")
    async def generate(self, request: Request, data: SqlRequest, generation_service: SqlGenerationService) -> SqlResponse:
        principal = principal_of(request)
        key_id = principal.api_key_id if principal is not None else None
        try:
            answer = await generation_service.generate_sql(
                current_user(request), data.question, data.connection, api_key_id=key_id, use_model=data.use_model
            )
        except Unanswered as unanswered:  # asked back or refused: a typed answer, not an error
            return SqlResponse.unanswered(unanswered, data.question, data.connection)
        return SqlResponse.of(answer)


class ModelCheckRequest(msgspec.Struct, forbid_unknown_fields=True):
    connection: str
    limit: int = 20


class ModelTrustController(Controller):
    path = "/api/v1/model"
    tags = ["answers"]
    guards = [requires_admin]

    @get("/trust", summary="How much the model's own SQL counts in the choice, and the evidence for it")
    async def trust(self, generation_service: SqlGenerationService) -> dict[str, Any]:
        return (await generation_service.trust_reading()).to_json()

    @post("/check", status_code=200,
          summary="Ask the model a connection's golden questions (each kept out of its prompt) and compare results")
    async def check(self, request: Request, data: ModelCheckRequest, generation_service: SqlGenerationService) -> dict[str, Any]:
        checked = await generation_service.check_model(current_user(request), data.connection, limit=data.limit)
        return checked.to_json()


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: str
    connection: str
    thread_id: int | None = None
    max_rows: int | None = None
    use_model: bool = False  # also ask the model, where it would not run by default ("Try the model")


class Trust(msgspec.Struct):
    kind: str  # verified, guided, edited or generated
    label: str
    golden_query_id: int | None
    guided_by: list[dict[str, Any]]
    instructions: list[str]


class ChartOut(msgspec.Struct):
    kind: str
    x: str | None
    y: list[str]
    color: str | None
    reason: str
    alternatives: list[str]
    spec: dict[str, Any]
    note: str | None


class PlanOut(msgspec.Struct):
    """How the question was read: the query plan (JSON) and its one line of English."""

    json: dict[str, Any]
    line: str | None


def plan_of(record: AnswerRecord) -> PlanOut | None:
    return PlanOut(record.plan, record.explanation) if record.plan else None


class AskResponse(msgspec.Struct):
    answer_id: int
    thread_id: int | None
    connection: str
    question: str
    sql: str | None
    trust: Trust
    plan: PlanOut | None
    generator: str | None
    candidate_count: int
    cached_from: int | None  # the earlier answer whose chosen SQL this one reused
    alternatives: list[dict[str, Any]]  # "did you mean": {index, line}; POST .../alternatives/{index} answers it
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    row_count: int
    truncated: bool  # the row cap may have hidden more rows
    row_cap: int
    bytes_cut: bool  # the result reached its size cap (NL2SQL_ENGINE_RESULT_BYTES): the rest was not fetched
    values_cut: int  # values longer than NL2SQL_ENGINE_VALUE_CAP characters, cut there and marked "[cut: ...]"
    cut_note: str | None  # the sentence the page shows when either cap cut the result
    chart: ChartOut | None
    timings: dict[str, float]
    status: Literal["answered", "clarify", "refused"] = "answered"  # clarify/refused: no SQL, see `clarification`
    label: str | None = None  # how much of the question the answer covers ("partly: 'by country' not read")
    clarification: ClarificationOut | None = None
    # the asker's row policies and column masks that applied to the SQL (it reads the policed tables through them)
    policies: list[str] = []

    @classmethod
    def of(cls, answered: AskResult) -> AskResponse:
        record, result, chart = answered.record, answered.result, answered.chart
        verdict = answered.verdict or record.verdict
        return cls(
            answer_id=record.id,
            thread_id=record.thread_id,
            connection=record.connection,
            question=record.question,
            sql=record.sql,
            trust=_trust(record),
            plan=plan_of(record),
            generator=record.generator,
            candidate_count=len(record.candidates),
            cached_from=record.cached_from,
            alternatives=[{"index": i, "line": line} for i, line in record.alternatives],
            columns=[{"name": c.name, "type": c.type} for c in result.columns] if result else [],
            rows=[[json_value(v) for v in row] for row in result.rows] if result else [],
            row_count=len(result.rows) if result else 0,
            truncated=bool(result and result.truncated),
            row_cap=result.row_cap if result else 0,
            bytes_cut=bool(result and result.bytes_cut),
            values_cut=result.values_cut if result else 0,
            cut_note=result.cut_note if result else None,
            chart=ChartOut(chart.kind, chart.x, list(chart.y), chart.color, chart.reason, list(chart.alternatives),
                           chart.spec, chart.note) if chart else None,
            timings=answered.timings or record.timings,
            status=answered.status,
            label=answered.label,
            clarification=_clarification(verdict.to_json() if verdict else None),
            policies=list(answered.policies),
        )


def _trust(record: AnswerRecord) -> Trust:
    kind, label = record.trust
    return Trust(kind, label, record.golden_query_id, record.guided_by, record.instructions)


class AnswerOut(msgspec.Struct):
    """One answer's full record: question, SQL, trust, result summary, and the trace (attempts, retrieved, timings)."""

    id: int
    user_id: int | None
    connection: str
    question: str
    sql: str | None
    status: str
    error: str | None
    trust: Trust
    thread_id: int | None
    source: str
    row_count: int | None
    truncated: bool
    columns: list[dict[str, str]]
    attempts: list[dict[str, Any]]
    retrieved: dict[str, Any]
    timings: dict[str, float]
    trace_id: str | None
    created_at: str
    plan: PlanOut | None = None
    generator: str | None = None
    candidates: list[dict[str, Any]] = []

    @classmethod
    def of(cls, r: AnswerRecord) -> AnswerOut:
        return cls(
            id=r.id, user_id=r.user_id, connection=r.connection, question=r.question, sql=r.sql,
            status=r.display_status, error=r.run_error or r.error, trust=_trust(r), thread_id=r.thread_id,
            source=r.source, row_count=r.row_count, truncated=r.truncated, columns=r.columns, attempts=r.attempts,
            retrieved=r.retrieved, timings=r.timings, trace_id=r.trace_id, created_at=r.created_at.isoformat(),
            plan=plan_of(r), generator=r.generator, candidates=r.candidates,
        )


class HistoryOut(msgspec.Struct):
    items: list[HistoryEntry]
    page: int
    per_page: int
    total: int


class FeedbackRequest(msgspec.Struct, forbid_unknown_fields=True):
    rating: Literal["up", "down"]
    comment: str | None = None
    corrected_sql: str | None = None


class FeedbackOut(msgspec.Struct):
    id: int
    answer_id: int
    rating: str
    comment: str | None
    corrected_sql: str | None
    state: str


class AskController(Controller):
    path = "/api/v1"
    tags = ["answers"]
    guards = [requires_user]

    @post("/ask", status_code=200, summary="Answer a question: SQL, trust label, rows, chart spec, timings")
    async def ask(self, request: Request, data: AskRequest, ask_service: AskService) -> AskResponse:
        principal = principal_of(request)
        answered = await ask_service.ask(
            current_user(request), data.question, data.connection, thread_id=data.thread_id, max_rows=data.max_rows,
            api_key_id=principal.api_key_id if principal is not None else None, use_model=data.use_model,
        )
        if answered.failure is not None:
            raise answered.failure
        return AskResponse.of(answered)

    @post("/answers/{answer_id:int}/alternatives/{index:int}", status_code=200,
          summary="Answer the question again with one of its close runner-up readings (\"did you mean\")")
    async def alternative(self, request: Request, answer_id: int, index: int, ask_service: AskService) -> AskResponse:
        answered = await ask_service.choose_alternative(current_user(request), answer_id, index)
        if answered.failure is not None:
            raise answered.failure
        return AskResponse.of(answered)

    @get("/answers", summary="Past answers, newest first: your own; admins see everyone's (filters)")
    async def history(
        self, request: Request, ask_service: AskService, user_id: int | None = None, connection: str | None = None,
        status: str | None = None, page: int = 1, per_page: int = 50,
    ) -> HistoryOut:
        found = await ask_service.history.search(
            current_user(request), user_id=user_id, connection=connection, status=status, page=page, per_page=per_page
        )
        return HistoryOut(found.entries, found.page, found.per_page, found.total)

    @get("/answers/{answer_id:int}", summary="One answer with its full trace")
    async def answer(self, request: Request, answer_id: int, ask_service: AskService) -> AnswerOut:
        return AnswerOut.of(await ask_service.history.get(current_user(request), answer_id))

    @get("/answers/{answer_id:int}/csv", summary="The answer's result as CSV (re-run with the CSV row and byte caps)")
    async def csv(self, request: Request, answer_id: int, ask_service: AskService) -> Stream:
        name, chunks = await ask_service.csv(current_user(request), answer_id)
        return Stream(chunks, media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @post("/answers/{answer_id:int}/feedback", status_code=200, summary="Thumbs up or down, comment, corrected SQL")
    async def feedback(
        self, request: Request, answer_id: int, data: FeedbackRequest, feedback_service: FeedbackService
    ) -> FeedbackOut:
        given = await feedback_service.give(current_user(request), answer_id, data.rating, data.comment, data.corrected_sql)
        return FeedbackOut(given.id, given.answer_id, given.rating, given.comment, given.corrected_sql, given.state)


api_routes = [SqlController, AskController, ModelTrustController]
