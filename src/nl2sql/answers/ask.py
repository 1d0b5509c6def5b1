"""The ask use case: a question (or edited SQL) in, checked SQL run through the guard, rows, a chart and a record out."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.charts import (
    ChartChoice, apply_refinement, build_spec, choose_chart, classify_columns, refinement_schema,
)
from nl2sql.answers.formats import ColumnFormat, catalog_currencies, column_formats, metric_formats
from nl2sql.answers.starters import Overview, build_overview
from nl2sql.answers.history import AnswerRecord, History
from nl2sql.answers.models import AnswerRow
from nl2sql.answers.models import ResultRow
from nl2sql.answers.results import CachedResult, ResultCache, csv_chunks, uncapped_sql
from nl2sql.answers.dto import Unanswered
from nl2sql.answers.generation import SqlGenerationService
from nl2sql.answers.verdict import Verdict, verdict_from_json
from nl2sql.answers.policy import ConnectionPolicy, for_user, guard_policy, guarded, note_exercised
from nl2sql.answers.threads import Threads
from nl2sql.auth import User
from nl2sql.catalog import CatalogService, Connection
from nl2sql.db import utcnow
from nl2sql.errors import AppError, ForbiddenError, NotFoundError, ValidationFailed
from nl2sql.gateway import call_context, current_trace_id, note_outcome
from nl2sql.inference import ChatModel, GenerationParams, Message
from nl2sql.semantics import (
    CompileError, Control, EditError, SemanticModel, apply_edits, compile_plan, describe, plan_from_json,
    reading_controls,
)
from nl2sql.settings import AnswersSettings, EngineSettings
from nl2sql.sqlguard import QueryFailed, QueryTimeout, SqlRefused, ValidatedSql, run

__all__ = ["AskResult", "AskService"]

log = logging.getLogger("nl2sql.answers")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AskResult:
    """An answer with its rows (None when its query failed), the chart, and the run's failure if any."""

    record: AnswerRecord
    result: CachedResult | None
    chart: ChartChoice | None
    failure: AppError | None = None
    timings: dict[str, float] = field(default_factory=dict)
    verdict: Verdict | None = None  # answered (with its label), or a clarification or refusal instead of rows
    policies: tuple[str, ...] = ()  # the user's row policies and column masks that applied, in words

    @property
    def status(self) -> str:
        verdict = self.verdict or self.record.verdict
        return verdict.status if verdict is not None else "answered"

    @property
    def label(self) -> str | None:
        """How much of the question the answer covers, in words ("read from the question: all of it")."""
        verdict = self.verdict or self.record.verdict
        return verdict.label if verdict is not None else None


class AskService:
    """Asks questions through the engine, runs the SQL through the guard, charts and records the result."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: CatalogService,
        engine: SqlGenerationService,
        chat_model: ChatModel,
        engine_settings: EngineSettings,
        settings: AnswersSettings,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._engine = engine
        self._model = chat_model
        self._engine_settings = engine_settings
        self.settings = settings
        self.history = History(sessions, catalog)
        self.threads = Threads(sessions, catalog)
        self._cache = ResultCache(settings.cached_results, settings.cached_result_bytes)
        self._policies: dict[tuple[int, int], tuple[Any, ConnectionPolicy]] = {}

    @property
    def row_cap(self) -> int:
        return self._engine_settings.row_cap

    def may_edit(self, user: User) -> bool:
        """Whether `user` may edit an answer's SQL and run it (admins always; analysts when the setting allows)."""
        return user.is_admin or self.settings.analysts_edit_sql

    async def connections(self, user: User) -> list[Connection]:
        return await self._catalog.accessible_connections(user)

    async def preselected(self, user: User, names: list[str]) -> str | None:
        """The connection the ask page starts on: the user's last asked, else the demo, else the first."""
        last = await self.history.last_connection(user)
        if last in names:
            return last
        return "demo" if "demo" in names else (names[0] if names else None)

    async def overview(self, user: User, connection_name: str) -> Overview:
        """What the connection holds and questions it answers well (golden queries, then the reader's)."""
        connection = await self._catalog.visible_connection(user, connection_name)
        schema = await self._catalog.schema_for_user(connection.id, user)
        golden = await self._catalog.golden_queries(connection.id)
        reader = await asyncio.to_thread(self._engine.reader, schema)
        return await asyncio.to_thread(build_overview, schema, golden, reader)

    async def column_formats(self, answered: AskResult) -> tuple[ColumnFormat, ...]:
        """How the answer's columns are shown: money in the catalog's currency, shares as percent, decimals."""
        result = answered.result
        if result is None:
            return ()
        currencies: dict[str, str] = {}
        declared: dict[str, str] = {}
        if answered.record.connection_id is not None:
            try:
                schema = await self._catalog.schema_for_prompt(answered.record.connection_id)
                currencies = catalog_currencies(schema.tables)
                declared = metric_formats(schema)
            except NotFoundError:
                pass
        return column_formats(classify_columns(result.columns, result.rows), result.rows, currencies, declared)

    # -- asking ---------------------------------------------------------------------------------------

    async def ask(
        self,
        user: User,
        question: str,
        connection_name: str,
        *,
        thread_id: int | None = None,
        max_rows: int | None = None,
        api_key_id: int | None = None,
        progress: Progress | None = None,
        use_model: bool = False,
    ) -> AskResult:
        """Answer `question` (a follow-up when `thread_id` names the user's thread); the SQL's run failure is in
        `failure`; a question the product asks back about or refuses comes back with that `verdict` and no rows.
        `use_model` asks the model too (an explicit "Try the model")."""
        say = progress or (lambda _: None)
        rows = self._max_rows(max_rows)
        if not (question or "").strip():
            raise ValidationFailed("the question is empty; ask something about the data")
        if not (connection_name or "").strip():
            raise ValidationFailed("choose a connection to ask (field `connection`)")
        connection = await self._catalog.visible_connection(user, connection_name.strip())
        thread = await self.threads.for_question(user, thread_id, connection.id)
        history = await self.threads.turns(thread.id, self.settings.history_turns) if thread else ()
        say("Reading the question and finding the relevant tables" + (" (follow-up)" if history else ""))
        try:
            answer = await self._engine.generate_sql(
                user, question, connection.name, history=history, api_key_id=api_key_id, progress=say,
                use_model=use_model,
            )
        except Unanswered as unanswered:  # a clarification or a refusal: filed in the thread, returned, not raised
            extra = unanswered.extra or {}
            async with self._sessions() as db, db.begin():
                await self._save_result(db, user, extra["answer_id"], thread.id if thread else None, connection.id,
                                        question, "ask", None, error=unanswered.detail)
            record = await self.history.get(user, extra["answer_id"])
            return AskResult(record, None, None, None, record.timings, verdict_from_json(extra.get("verdict")))
        except AppError as failed:  # no SQL, or the model busy or too slow: filed in the thread all the same
            extra = failed.extra or {}
            if any(a.get("error_kind") == "refused" for a in extra.get("attempts", ())):
                note_outcome("refused")
            answer_id = extra.get("answer_id")
            if answer_id is not None:
                async with self._sessions() as db, db.begin():
                    failed.extra["thread_id"] = await self._save_result(
                        db, user, answer_id, thread.id if thread else None, connection.id, question, "ask", None
                    )
            raise
        reuse = None
        if answer.cached_from is not None and self.settings.result_max_age_s > 0:
            # the same question a moment ago: its rows too, while they are young enough
            earlier = self._cache.get(answer.cached_from)
            if earlier is not None and earlier[0].row_cap == rows and (
                    time.monotonic() - earlier[0].at < self.settings.result_max_age_s):
                reuse = earlier
        say("Reusing the result of the same question" if reuse else "Running the query")
        return await self._execute(
            user, answer.id, answer.validated, connection, thread.id if thread else None, "ask",
            uncapped_sql(answer.validated), rows, say, question=answer.question, reuse=reuse,
        )

    async def run_sql(self, user: User, answer_id: int, sql: str | None = None) -> AskResult:
        """Run an answer's SQL again, or `sql` in its place (editing needs may_edit); checked by the guard either way."""
        base = await self.history.get(user, answer_id)
        edited = sql is not None and " ".join(sql.split()) != " ".join((base.sql or "").split())
        if edited and not self.may_edit(user):
            raise ForbiddenError("editing SQL is for admins here (NL2SQL_ANSWERS_ANALYSTS_EDIT_SQL is off)")
        text = (sql if edited else base.source_sql or base.sql) or ""
        if not text.strip():
            raise ValidationFailed("there is no SQL to run: write a query")
        connection = await self._connection_of(user, base)
        policy = await self._policy(user, connection.id, self.row_cap)
        try:
            validated = await guarded(text, policy)
        except SqlRefused:
            note_outcome("refused")
            raise
        source = "edit" if edited else "rerun"
        # hand-written SQL answers no question of its own: its heading and history entry say so
        question = base.question
        if edited and not question.startswith(EDITED_PREFIX):
            question = f"{EDITED_PREFIX}{question[:400]})"
        return await self._file_and_run(
            user, base, connection, validated, source, question=question,
            verified=base.verified and not edited, golden_query_id=None if edited else base.golden_query_id,
            attempts=[{"number": 1, "kind": source, "sql": validated.sql, "error": None, "error_kind": None,
                       "prompt_id": None, "raw_output": None, "grammar": False, "timings": {}}],
            retrieved={} if edited else base.retrieved,
        )

    async def run_statement(self, user: User, connection_name: str, sql: str) -> AskResult:
        """Run SQL written by the caller (an agent's `run_sql`) on a connection: checked by the guard with the
        connection's rules, run read-only under the row cap and filed as an answer of its own. Writing SQL is
        allowed where editing an answer's SQL is (may_edit)."""
        if not self.may_edit(user):
            raise ForbiddenError("writing SQL is for admins here (NL2SQL_ANSWERS_ANALYSTS_EDIT_SQL is off)")
        if not (sql or "").strip():
            raise ValidationFailed("the SQL is empty: write one read-only statement")
        connection = await self._catalog.visible_connection(user, (connection_name or "").strip())
        try:
            validated = await guarded(sql, await self._policy(user, connection.id, self.row_cap))
        except SqlRefused:
            note_outcome("refused")
            raise
        question = f"{WRITTEN_PREFIX}{' '.join(sql.split())[:400]}"
        row = AnswerRow(
            user_id=user.id, connection_id=connection.id, connection_name=connection.name, question=question,
            sql=validated.sql, verified=False, golden_query_id=None, status="ok", error=None,
            attempts=[{"number": 1, "kind": "sql", "sql": validated.sql, "error": None, "error_kind": None,
                       "prompt_id": None, "raw_output": None, "grammar": False, "timings": {}}],
            retrieved={}, timings={}, trace_id=current_trace_id(), created_at=utcnow(),
        )
        async with self._sessions() as db, db.begin():
            db.add(row)
        return await self._execute(user, row.id, validated, connection, None, "sql", uncapped_sql(validated),
                                   self.row_cap, lambda _: None, question=question)

    async def reading(self, user: User, answer_id: int) -> tuple[AnswerRecord, list[Control]]:
        """The answer's reading as controls a user may change (none when no plan answered it)."""
        record = await self.history.get(user, answer_id)
        if not record.plan or record.connection_id is None:
            return record, []
        model = await self._semantic_model(user, record.connection_id)
        try:
            return record, reading_controls(plan_from_json(record.plan), model)
        except (KeyError, ValueError, TypeError):  # a plan from an older catalog: nothing to offer
            return record, []

    async def change_reading(self, user: User, answer_id: int, form: dict[str, str]) -> AskResult:
        """Answer the question again with its reading changed by hand (another aggregate, column, grouping,
        filter value, order or limit): compiled and guarded like the reader's plan; no model call."""
        base = await self.history.get(user, answer_id)
        if not base.plan:
            raise ValidationFailed("this answer has no reading to change (its SQL came from a model or by hand)")
        connection = await self._connection_of(user, base)
        model = await self._semantic_model(user, connection.id)
        try:
            plan = apply_edits(plan_from_json(base.plan), form, model)
            sql = compile_plan(plan, model)
        except (EditError, CompileError) as error:
            raise ValidationFailed(f"that change can't be made: {error}") from None
        explanation = describe(plan, model)
        policy = await self._policy(user, connection.id, self.row_cap)
        validated = await guarded(sql, policy)
        return await self._file_and_run(
            user, base, connection, validated, "reading", plan=plan.to_json(), explanation=explanation,
            generator="reader", retrieved={"reading_changed_from": base.id, "original_plan": base.plan,
                                           "original_explanation": base.explanation},
        )

    async def _semantic_model(self, user: User, connection_id: int) -> SemanticModel:
        """The connection's semantic model as `user` may see it (the reading's pickers offer nothing else)."""
        schema = await self._catalog.schema_for_user(connection_id, user)
        reader = await asyncio.to_thread(self._engine.reader, schema)
        return reader.model

    async def choose_alternative(self, user: User, answer_id: int, index: int) -> AskResult:
        """Answer the question again with one of its runner-up readings (a "did you mean" click): no model call,
        the candidate's SQL through the guard, recorded as a new answer with that reading."""
        base = await self.history.get(user, answer_id)
        if not 0 <= index < len(base.candidates) or index not in dict(base.alternatives):
            raise NotFoundError(f"answer {answer_id} has no alternative reading {index}")
        picked = base.candidates[index]
        connection = await self._connection_of(user, base)
        policy = await self._policy(user, connection.id, self.row_cap)
        validated = await guarded(picked["sql"], policy)
        return await self._file_and_run(
            user, base, connection, validated, "alternative", retrieved=base.retrieved, plan=picked.get("plan"),
            explanation=picked.get("explanation"), generator=picked.get("generator"),
            candidates=[c | {"chosen": i == index} for i, c in enumerate(base.candidates)],
        )

    async def _connection_of(self, user: User, base: AnswerRecord) -> Connection:
        """The connection an earlier answer was asked on, if the user may still read it."""
        if base.connection_id is None:
            raise NotFoundError(f"the connection of answer {base.id} no longer exists")
        connection = await self._catalog.get_connection_by_id(base.connection_id)
        return await self._catalog.visible_connection(user, connection.name)

    async def _file_and_run(
        self, user: User, base: AnswerRecord, connection: Connection, validated: ValidatedSql, source: str, *,
        question: str | None = None, **fields: Any,
    ) -> AskResult:
        """Record checked SQL that answers `base`'s question another way (a re-run, an edit, a changed reading,
        an alternative) as a new answer in the user's thread, then run it."""
        question = question or base.question
        row = AnswerRow(**({
            "user_id": user.id, "connection_id": connection.id, "connection_name": connection.name,
            "question": question, "sql": validated.sql, "verified": False, "golden_query_id": None, "status": "ok",
            "error": None, "attempts": [], "retrieved": {}, "timings": {}, "trace_id": current_trace_id(),
            "created_at": utcnow(),
        } | fields))
        async with self._sessions() as db, db.begin():
            db.add(row)
        thread_id = base.thread_id if base.user_id == user.id else None
        return await self._execute(
            user, row.id, validated, connection, thread_id, source, uncapped_sql(validated), self.row_cap,
            lambda _: None, question=question,
        )

    async def _execute(
        self, user: User, answer_id: int, validated: ValidatedSql, connection: Connection, thread_id: int | None,
        source: str, source_sql: str, max_rows: int, say: Progress, *, question: str,
        reuse: tuple[CachedResult, ChartChoice] | None = None,
    ) -> AskResult:
        failure: AppError | None = None
        result: CachedResult | None = None
        chart: ChartChoice | None = None
        chart_ms = 0.0
        if reuse is not None:
            result, chart = reuse
        else:
            try:
                result = await self._run(validated, connection.id, max_rows)
            except (QueryFailed, QueryTimeout) as error:
                failure = error
        if result is not None and reuse is None:
            await note_exercised(self._catalog, user, connection.id, validated)
        if result is not None and chart is None:
            say("Drawing the chart")
            since = time.perf_counter()
            chart = await self._chart(question, result, connection)
            chart_ms = round((time.perf_counter() - since) * 1000, 3)
        async with self._sessions() as db, db.begin():
            thread_id = await self._save_result(
                db, user, answer_id, thread_id, connection.id, question, source, source_sql,
                result=result, chart=chart, error=failure.detail if failure else None,
            )
        if result is not None:
            self._cache.put(answer_id, (result, chart), _weight(result, chart))
        record = await self.history.get(user, answer_id)
        if failure is not None:
            failure.extra.update({"answer_id": answer_id, "thread_id": thread_id, "sql": validated.sql})
        timings = dict(record.timings)
        if result is not None:
            timings |= {"run_ms": 0.0 if reuse else result.elapsed_ms, "chart_ms": chart_ms}
        return AskResult(record, result, chart, failure, timings, policies=validated.policies)

    async def _run(
        self, validated: ValidatedSql, connection_id: int, max_rows: int, max_bytes: int | None = None,
    ) -> CachedResult:
        engine = await self._catalog.engine(connection_id)
        timeout = self._engine_settings.statement_timeout
        value_cap = self._engine_settings.value_cap
        max_bytes = max_bytes or self._engine_settings.result_bytes
        queried = await anyio.to_thread.run_sync(lambda: run(
            validated, engine, timeout_s=timeout, max_rows=max_rows, value_cap=value_cap, max_bytes=max_bytes))
        return CachedResult(
            queried.columns, queried.rows, queried.truncated, max_rows, round(queried.elapsed_s * 1000, 3),
            values_cut=queried.values_cut, bytes_cut=queried.bytes_cut, value_cap=value_cap, byte_cap=max_bytes,
            size_bytes=queried.size_bytes,
        )

    async def _save_result(
        self, db: AsyncSession, user: User, answer_id: int, thread_id: int | None, connection_id: int, question: str,
        source: str, source_sql: str | None, *, result: CachedResult | None = None, chart: ChartChoice | None = None,
        error: str | None = None,
    ) -> int:
        if thread_id is None:
            thread_id = await self.threads.start(db, user, connection_id, question)
        else:
            await self.threads.touch(db, thread_id)
        db.add(ResultRow(
            answer_id=answer_id, thread_id=thread_id, source=source, source_sql=source_sql,
            # the history's "+" after the row count: more rows than were kept, by the row cap or the byte cap
            row_count=len(result.rows) if result else None, truncated=bool(result and (result.truncated or result.bytes_cut)),
            columns=[{"name": c.name, "type": c.type} for c in result.columns] if result else [],
            chart_kind=chart.kind if chart else None, error=error,
            elapsed_ms=result.elapsed_ms if result else None,
        ))
        return thread_id

    def _max_rows(self, max_rows: int | None) -> int:
        if max_rows is None:
            return self.row_cap
        if not 1 <= max_rows <= self.row_cap:
            raise ValidationFailed(f"max_rows must be between 1 and {self.row_cap} (NL2SQL_ENGINE_ROW_CAP)")
        return max_rows

    async def _policy(self, user: User, connection_id: int, row_cap: int) -> ConnectionPolicy:
        """The guard's rules for `user` on the connection: every path that runs SQL takes them from here, so the
        user's row policies and column masks apply to each statement however it was written."""
        schema = await self._catalog.schema_for_prompt(connection_id)
        key = (connection_id, row_cap)
        cached = self._policies.get(key)
        if cached is None or cached[0] != schema.version:
            cached = (schema.version, ConnectionPolicy(guard_policy(schema, row_cap, self._engine_settings.extra_function_set)))
            self._policies[key] = cached
        return await for_user(self._catalog, cached[1], user, schema)

    # -- charts -------------------------------------------------------------------------------------

    async def _chart(self, question: str, result: CachedResult, connection: Connection) -> ChartChoice:
        choice = choose_chart(question, result.columns, result.rows)
        if not self.settings.chart_model or not result.rows or choice.kind == "number":
            return choice
        return await self._refine(question, choice, result, connection)

    async def _refine(self, question: str, choice: ChartChoice, result: CachedResult, connection: Connection) -> ChartChoice:
        """The model's chart suggestion under a JSON schema of this result's columns; the rule's choice on any trouble."""
        columns = ", ".join(f"{c.name} ({c.type})" for c in result.columns)
        sample = json.dumps([list(map(_plain, row)) for row in result.rows[:5]], default=str)
        messages = [
            Message("system", "You choose a chart for a SQL result. Answer with JSON only: "
                              '{"kind": one of line, bar, scatter, pie, stacked_bar, number, table; '
                              '"x": a column or null; "y": list of columns; "color": a column or null}.'),
            Message("user", f"Question: {question}\nColumns: {columns}\nFirst rows: {sample}\n"
                            f"Rows: {len(result.rows)}\nSuggested: {choice.kind} (x={choice.x}, y={list(choice.y)})"),
        ]
        params = GenerationParams(max_tokens=96, json_schema=refinement_schema(result.columns))
        try:
            with call_context(purpose="chart", connection=connection.name):
                generation = await self._model.chat(messages, params)
        except Exception as error:  # the rule's chart is always there; a failing extra step must not fail the answer
            log.info("chart refinement skipped: %s", error)
            return choice
        return apply_refinement(choice, generation.text, result.columns, result.rows)

    # -- reading answers back -------------------------------------------------------------------------

    async def answer(self, user: User, answer_id: int) -> AskResult:
        """A past answer with its rows: from memory when recent, else its SQL re-run through the guard."""
        record = await self.history.get(user, answer_id)
        if record.status != "ok" or not record.sql:
            return AskResult(record, None, None, None)
        result, chart = self._cache.get(answer_id) or (None, None)
        if result is not None and await self._restricted(user, record):
            # rows kept from before a row policy or mask named this user must not outlive it: read them again
            result, chart = None, None
        policies: tuple[str, ...] = ()
        if result is None:
            connection = await self._visible(user, record)
            policy = await self._policy(user, connection.id, self.row_cap)
            try:
                validated = await guarded(record.sql, policy)
                result = await self._run(validated, connection.id, self.row_cap)
            except (SqlRefused, QueryFailed, QueryTimeout) as error:
                return AskResult(record, None, None, error)
            policies = validated.policies
        if chart is None:
            chart = choose_chart(record.question, result.columns, result.rows)
            self._cache.put(answer_id, (result, chart), _weight(result, chart))
        return AskResult(record, result, chart, None, policies=policies)

    async def chart_spec(
        self, user: User, answer_id: int, kind: str, x: str | None, y: list[str] | None, color: str | None
    ) -> tuple[AskResult, dict[str, Any]]:
        """The spec for the chart the user picked on an answer's rows; ValidationFailed says why it can't be drawn."""
        answered = await self.answer(user, answer_id)
        if answered.result is None:
            raise ValidationFailed("this answer has no rows to chart")
        try:
            spec = build_spec(kind, x or None, y or None, color or None, answered.result.columns, answered.result.rows)
        except ValueError as error:
            raise ValidationFailed(str(error)) from None
        return answered, spec

    async def csv(self, user: User, answer_id: int) -> tuple[str, Iterator[bytes]]:
        """(file name, CSV chunks) of the answer's query re-run through the guard with the CSV row and byte caps;
        a last line says what the byte cap left out."""
        record = await self.history.get(user, answer_id)
        if record.status != "ok" or not record.sql:
            raise ValidationFailed("this answer has no SQL, so there is nothing to download")
        connection = await self._visible(user, record)
        cap = self.settings.csv_max_rows
        sql = record.source_sql or record.sql
        policy = await self._policy(user, connection.id, cap)
        validated = await guarded(sql, policy)
        result = await self._run(validated, connection.id, cap, self.settings.csv_max_bytes)
        note = None
        schema = await self._catalog.schema_for_prompt(connection.id)
        formats = column_formats(classify_columns(result.columns, result.rows), result.rows,
                                 catalog_currencies(schema.tables), metric_formats(schema))
        if result.bytes_cut:
            note = (f"cut: the download reached its size cap (NL2SQL_ANSWERS_CSV_MAX_BYTES) after "
                    f"{len(result.rows):,} rows; the rest were left out")
        return f"answer-{answer_id}.csv", csv_chunks(result.columns, result.rows, note=note,
                                                       headers=[f.header for f in formats])

    async def _restricted(self, user: User, record: AnswerRecord) -> bool:
        """Whether row policies or masks name `user` on the answer's connection (none once the connection is gone:
        its policies went with it)."""
        try:
            connection = await self._visible(user, record)
        except AppError:
            return False
        return bool((await self._policy(user, connection.id, self.row_cap)).fingerprint)

    async def _visible(self, user: User, record: AnswerRecord) -> Connection:
        if record.connection_id is None:
            raise NotFoundError(f"the connection of answer {record.id} no longer exists")
        connection = await self._catalog.get_connection_by_id(record.connection_id)
        return await self._catalog.visible_connection(user, connection.name)


def _weight(result: CachedResult, chart: ChartChoice | None) -> int:
    """About what a result and its chart take in memory: the chart's data points share the result's values."""
    points = (chart.spec or {}).get("data", {}).get("values", ()) if chart is not None else ()
    return result.size_bytes + 256 * len(points)


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, type(None))) else str(value)


EDITED_PREFIX = "Edited SQL (from: "
WRITTEN_PREFIX = "SQL: "
