"""Pages of the ask flow: ask (progress, answer, rows, chart, edit, CSV, feedback), history, admin feedback."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Response, Stream, Template

from nl2sql.answers.ask import AskResult, AskService
from nl2sql.answers.charts import CHART_KINDS
from nl2sql.answers.formats import formatted_spec
from nl2sql.answers.feedback import FeedbackFilter, FeedbackService
from nl2sql.answers.generation import SqlGenerationService, effective_question
from nl2sql.answers.history import STATUSES
from nl2sql.answers.pending import CANCELLED, PendingAsks, error_context
from nl2sql.answers.results import highlight_sql
from nl2sql.auth import AuthService, current_user, requires_admin, requires_user
from nl2sql.errors import AppError, ValidationFailed
from nl2sql.prompting import Turn
from nl2sql.web import is_htmx, redirect, render

log = logging.getLogger("nl2sql.answers")

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise ValidationFailed(f"expected a whole number, got {value!r}") from None


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"dates are YYYY-MM-DD, got {value!r}") from None


async def _answer_context(
    request: Request, ask_service: AskService, feedback_service: FeedbackService, answered: AskResult, page: int = 1
) -> dict[str, Any]:
    user = current_user(request)
    record = answered.record
    turns = await ask_service.threads.listing(record.thread_id, before=record.id) if record.thread_id else []
    return {
        "user": user,
        "a": answered,
        "r": record,
        "sql_html": highlight_sql(record.sql or ""),
        "may_edit": ask_service.may_edit(user),
        "feedback": await feedback_service.for_answer(user, record.id),
        "turns": turns if record.user_id == user.id else [],
        "timings": answered.timings or record.timings | ({"run_ms": record.run_ms} if record.run_ms else {}),
        **await _rows_context(ask_service, answered, page),
    }


async def _rows_context(ask_service: AskService, answered: AskResult, page: int) -> dict[str, Any]:
    """One page of the answer's rows, each column's format, and the chart's spec shown in those formats."""
    size = ask_service.settings.page_size
    rows = answered.result.rows if answered.result else ()
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    formats = await ask_service.column_formats(answered)
    chart_spec = formatted_spec(answered.chart.spec, formats) if answered.chart and answered.chart.spec else None
    return {"rows": rows[(page - 1) * size: page * size], "page": page, "pages": pages, "page_size": size,
            "first_row": (page - 1) * size + 1, "formats": formats, "chart_spec": chart_spec}


async def _overview_context(ask_service: AskService, user: Any, connection: str | None) -> dict[str, Any]:
    """The starter panel for `connection`: its tables and questions; None where it can't be read."""
    if not connection:
        return {"overview": None}
    try:
        return {"overview": await ask_service.overview(user, connection)}
    except AppError as error:  # the panel is a help; the page works without it
        log.info("no overview for %s: %s", connection, error.detail)
        return {"overview": None}


async def _new_answer(request: Request, ask_service: AskService, feedback_service: FeedbackService,
                      answered: AskResult) -> Template | Response:
    """A new answer made from an earlier one: its card for htmx (the thread updated), else its page."""
    if not is_htmx(request):
        return redirect(request, f"/ask?answer={answered.record.id}")
    context = await _answer_context(request, ask_service, feedback_service, answered)
    return Template("answers/_answer.html", context=context | {"chart_kinds": CHART_KINDS, "oob_thread": True})


class AskPages(Controller):
    path = "/"
    include_in_schema = False
    guards = [requires_user]

    @get("/ask")
    async def ask_page(
        self, request: Request, ask_service: AskService, feedback_service: FeedbackService,
        connection: str | None = None, thread: int | None = None, answer: int | None = None,
    ) -> Template:
        user = current_user(request)
        connections = await ask_service.connections(user)
        context: dict[str, Any] = {"user": user, "connections": connections, "thread_id": None, "question": "",
                                   "answer_html": None, "chart_kinds": CHART_KINDS}
        if answer is not None:
            answered = await ask_service.answer(user, answer)
            context |= await _answer_context(request, ask_service, feedback_service, answered)
            context["thread_id"] = answered.record.thread_id if answered.record.user_id == user.id else None
            connection = answered.record.connection
        elif thread is not None:
            found = await ask_service.threads.get(user, thread)
            context["thread_id"] = found.id
            context["turns"] = await ask_service.threads.listing(found.id)
            names = {c.id: c.name for c in connections}
            connection = names.get(found.connection_id, connection)
        names = [c.name for c in connections]
        if connection not in names:
            connection = await ask_service.preselected(user, names)
        context["selected"] = connection
        if answer is None and thread is None:
            context |= await _overview_context(ask_service, user, connection)
        return render(request, "answers/ask.html", context)

    @get("/ask/overview")
    async def overview(self, request: Request, ask_service: AskService, connection: str | None = None) -> Template:
        """The starter panel for the connection the select now names (htmx swaps it in on change)."""
        user = current_user(request)
        context = {"user": user, **await _overview_context(ask_service, user, connection)}
        return Template("answers/_overview.html", context=context)

    @post("/ask")
    async def ask(
        self, request: Request, ask_service: AskService, feedback_service: FeedbackService,
        pending_asks: PendingAsks, data: Annotated[dict[str, Any], Form],
    ) -> Template:
        user = current_user(request)
        question = str(data.get("question", ""))
        connection = str(data.get("connection", ""))
        thread_id = _int(data.get("thread_id"))
        use_model = str(data.get("use_model", "")).lower() in ("1", "true", "on", "yes")

        async def work(progress):
            return await ask_service.ask(user, question, connection, thread_id=thread_id, progress=progress,
                                         use_model=use_model)

        if is_htmx(request):
            pending = await pending_asks.start(user, question, work)
            return Template("answers/_progress.html", context={"p": pending})
        # without JavaScript: wait for the answer and show the whole page
        connections = await ask_service.connections(user)
        context: dict[str, Any] = {"user": user, "connections": connections, "selected": connection,
                                   "thread_id": thread_id, "question": question, "chart_kinds": CHART_KINDS}
        try:
            answered = await work(lambda _: None)
        except Exception as error:  # shown in the page, as the htmx path does
            return Template("answers/ask.html", context=context | {"error": error_context(error)},
                            status_code=getattr(error, "status_code", 500))
        context |= await _answer_context(request, ask_service, feedback_service, answered)
        context["thread_id"] = answered.record.thread_id
        return Template("answers/ask.html", context=context)

    @get("/ask/progress/{token:str}", opt={"rate_limited": False})
    async def progress(
        self, request: Request, token: str, ask_service: AskService, feedback_service: FeedbackService,
        pending_asks: PendingAsks,
    ) -> Template:
        user = current_user(request)
        pending = await pending_asks.get(user, token)
        if not pending.done:
            return Template("answers/_progress.html", context={"p": pending})
        if pending.error is not None:
            ended = pending.ended_s if pending.ended_s is not None else pending.elapsed_s
            return Template("answers/_ask_error.html", context={"error": pending.error | {"elapsed_s": ended},
                                                                "question": pending.question})
        # answered here: the result in memory; answered by another server: read back by its id
        answered = pending.result or await ask_service.answer(user, pending.answer_id)
        context = await _answer_context(request, ask_service, feedback_service, answered)
        return Template("answers/_answer.html", context=context | {"chart_kinds": CHART_KINDS, "oob_thread": True})

    @post("/ask/progress/{token:str}/cancel", opt={"rate_limited": False})
    async def cancel(self, request: Request, token: str, pending_asks: PendingAsks) -> Template:
        pending = await pending_asks.cancel(current_user(request), token)
        return Template("answers/_ask_error.html", context={
            "error": error_context(ValidationFailed(CANCELLED)) | {"title": "Cancelled"}, "question": pending.question})

    @get("/answers/{answer_id:int}/rows")
    async def rows(self, request: Request, answer_id: int, ask_service: AskService, page: int = 1) -> Template:
        answered = await ask_service.answer(current_user(request), answer_id)
        return Template("answers/_rows.html", context={"a": answered, "r": answered.record,
                                                        **await _rows_context(ask_service, answered, page)})

    @get("/answers/{answer_id:int}/chart")
    async def chart(
        self, request: Request, answer_id: int, ask_service: AskService, kind: str = "bar", x: str | None = None,
        y: str | None = None, color: str | None = None,
    ) -> Template:
        try:
            answered, spec = await ask_service.chart_spec(
                current_user(request), answer_id, kind, x, [y] if y else None, color
            )
        except ValidationFailed as error:
            answered = await ask_service.answer(current_user(request), answer_id)
            return Template("answers/_chart.html", context={"r": answered.record, "a": answered, "spec": None,
                                                             "chart_error": error.detail, "kind": kind,
                                                             "x": x, "y": y, "color": color})
        spec = formatted_spec(spec, await ask_service.column_formats(answered))
        return Template("answers/_chart.html", context={"r": answered.record, "a": answered, "spec": spec,
                                                         "chart_error": None, "kind": kind, "x": x, "y": y,
                                                         "color": color})

    @post("/answers/{answer_id:int}/run")
    async def run(
        self, request: Request, answer_id: int, ask_service: AskService, feedback_service: FeedbackService,
        data: Annotated[dict[str, Any], Form],
    ) -> Template | Response:
        sql = data.get("sql")
        answered = await ask_service.run_sql(current_user(request), answer_id, str(sql) if sql is not None else None)
        return await _new_answer(request, ask_service, feedback_service, answered)

    @get("/answers/{answer_id:int}/reading")
    async def reading(self, request: Request, answer_id: int, ask_service: AskService) -> Template:
        record, controls = await ask_service.reading(current_user(request), answer_id)
        return Template("answers/_reading.html", context={"r": record, "controls": controls})

    @post("/answers/{answer_id:int}/reading")
    async def change_reading(
        self, request: Request, answer_id: int, ask_service: AskService, feedback_service: FeedbackService,
        data: Annotated[dict[str, Any], Form],
    ) -> Template | Response:
        form = {k: str(v) for k, v in data.items() if k != "_csrf_token"}
        answered = await ask_service.change_reading(current_user(request), answer_id, form)
        return await _new_answer(request, ask_service, feedback_service, answered)

    @post("/answers/{answer_id:int}/alternatives/{index:int}")
    async def alternative(
        self, request: Request, answer_id: int, index: int, ask_service: AskService, feedback_service: FeedbackService,
    ) -> Template | Response:
        answered = await ask_service.choose_alternative(current_user(request), answer_id, index)
        return await _new_answer(request, ask_service, feedback_service, answered)

    @get("/answers/{answer_id:int}/csv")
    async def csv(self, request: Request, answer_id: int, ask_service: AskService) -> Stream:
        name, chunks = await ask_service.csv(current_user(request), answer_id)
        return Stream(chunks, media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @post("/answers/{answer_id:int}/feedback")
    async def feedback(
        self, request: Request, answer_id: int, feedback_service: FeedbackService,
        data: Annotated[dict[str, Any], Form],
    ) -> Template | Response:
        given = await feedback_service.give(
            current_user(request), answer_id, str(data.get("rating", "")), data.get("comment"), data.get("corrected_sql")
        )
        if not is_htmx(request):
            return redirect(request, f"/ask?answer={answer_id}")
        return Template("answers/_feedback.html", context={"feedback": given, "r": {"id": answer_id}, "saved": True})

    @get("/history")
    async def history(
        self, request: Request, ask_service: AskService, auth_service: AuthService, user_id: str | None = None,
        connection: str | None = None, status: str | None = None, page: int = 1,
    ) -> Template:
        user = current_user(request)
        found = await ask_service.history.search(
            user, user_id=_int(user_id), connection=connection or None, status=status or None, page=max(1, page)
        )
        users = {u.id: u for u in await auth_service.list_users()} if user.is_admin else {user.id: user}
        connections = [c.name for c in await ask_service.connections(user)]
        filters = {"user_id": user_id or "", "connection": connection or "", "status": status or ""}
        return render(request, "answers/history.html",
                      {"user": user, "found": found, "users": users, "connections": connections,
                       "statuses": STATUSES, "filters": filters}, fragment="answers/_history_list.html")


class FeedbackPages(Controller):
    path = "/admin/feedback"
    include_in_schema = False
    guards = [requires_admin]

    @get("/")
    async def listing(
        self, request: Request, feedback_service: FeedbackService, auth_service: AuthService, ask_service: AskService,
        connection: str | None = None, user_id: str | None = None, rating: str | None = None,
        feedback_state: Annotated[str | None, Parameter(query="state")] = None, since: str | None = None,
        until: str | None = None, page: int = 1,
    ) -> Template:
        state = feedback_state
        filters = FeedbackFilter(connection=connection or None, user_id=_int(user_id), rating=rating or None,
                                 state=state or None, since=_date(since), until=_date(until))
        items, total = await feedback_service.search(filters, page=max(1, page))
        context = {
            "user": current_user(request), "items": items, "total": total, "page": max(1, page),
            "users": {u.id: u for u in await auth_service.list_users()},
            "connections": [c.name for c in await ask_service.connections(current_user(request))],
            "filters": {"connection": connection or "", "user_id": user_id or "", "rating": rating or "",
                        "state": state or "", "since": since or "", "until": until or ""},
        }
        return render(request, "answers/feedback.html", context, fragment="answers/_feedback_list.html")

    @get("/{feedback_id:int}")
    async def trace(
        self, request: Request, feedback_id: int, feedback_service: FeedbackService, ask_service: AskService,
        auth_service: AuthService,
    ) -> Template:
        item = await feedback_service.get(feedback_id)
        record = await ask_service.history.get(current_user(request), item.answer_id)
        users = {u.id: u for u in await auth_service.list_users()}
        # a follow-up ("only for 2024") is promoted under the whole question it stood for
        standalone = item.question
        if record.thread_id is not None:
            earlier = await ask_service.threads.listing(record.thread_id, before=record.id)
            standalone = effective_question(item.question, tuple(Turn(t.question, t.sql or "") for t in earlier))
        return render(request, "answers/trace.html", {
            "user": current_user(request), "item": item, "r": record, "users": users,
            "sql_html": highlight_sql(record.sql or ""), "promote_question": standalone,
        })

    @post("/{feedback_id:int}/promote")
    async def promote(
        self, request: Request, feedback_id: int, feedback_service: FeedbackService,
        data: Annotated[dict[str, Any], Form],
    ) -> Template | Redirect | Response:
        try:
            golden = await feedback_service.promote(current_user(request), feedback_id, data.get("question") or None)
        except ValidationFailed as refused:
            item = await feedback_service.get(feedback_id)
            return Template("answers/_resolution.html", context={"item": item, "error": refused.detail},
                            status_code=200 if is_htmx(request) else 400)
        item = await feedback_service.get(feedback_id)
        if not is_htmx(request):
            return redirect(request, f"/admin/feedback/{feedback_id}")
        return Template("answers/_resolution.html", context={"item": item, "golden": golden, "error": None})

    @post("/{feedback_id:int}/dismiss")
    async def dismiss(self, request: Request, feedback_id: int, feedback_service: FeedbackService) -> Template | Response:
        await feedback_service.dismiss(current_user(request), feedback_id)
        item = await feedback_service.get(feedback_id)
        if not is_htmx(request):
            return redirect(request, f"/admin/feedback/{feedback_id}")
        return Template("answers/_resolution.html", context={"item": item, "error": None})


class ModelTrustPages(Controller):
    """The model's measured trust, shown on the model page, and a check of it on a connection's golden queries."""

    path = "/admin/models/trust"
    include_in_schema = False
    guards = [requires_admin]

    async def _context(self, request: Request, generation_service: SqlGenerationService, ask_service: AskService,
                       **extra: Any) -> dict[str, Any]:
        user = current_user(request)
        return {"user": user, "trust": await generation_service.trust_reading(),
                "connections": [c.name for c in await ask_service.connections(user)], "check": None,
                "error": None, "form": {}} | extra

    @get("/")
    async def show(self, request: Request, generation_service: SqlGenerationService, ask_service: AskService) -> Template:
        return render(request, "answers/trust.html", await self._context(request, generation_service, ask_service),
                      fragment="answers/_trust.html")

    @post("/check")
    async def check(
        self, request: Request, generation_service: SqlGenerationService, ask_service: AskService,
        data: Annotated[dict[str, Any], Form],
    ) -> Template:
        form = {k: str(v) for k, v in data.items() if k != "_csrf_token"}
        check, error, status = None, None, 200
        try:
            limit = _int(form.get("limit")) or 20
            check = await generation_service.check_model(current_user(request), form.get("connection", ""), limit=limit)
        except AppError as exc:
            error, status = exc.detail, exc.status_code
        context = await self._context(request, generation_service, ask_service, check=check, error=error, form=form)
        return render(request, "answers/trust.html", context, fragment="answers/_trust.html", status_code=status)


page_routes = [AskPages, FeedbackPages, ModelTrustPages]
