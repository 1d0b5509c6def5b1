"""AnswerService: question -> retrieve -> prompt -> generate -> validate -> check -> repair, recorded per request."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.dto import Attempt, Retrieved, RetrievedItem, SqlAnswer, SqlNotGenerated
from nl2sql.answers.models import AnswerRow
from nl2sql.auth import User
from nl2sql.catalog import CatalogService, Connection, PromptSchema
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, ValidationFailed
from nl2sql.gateway import call_context, current_trace_id, note_outcome
from nl2sql.inference import DIALECTS, ChatModel, GenerationParams, Grammar, ModelInfo, sql_grammar
from nl2sql.prompting import ErrorFeedback, Prompt, PromptBudget, PromptTooLarge, Turn, build_prompt
from nl2sql.settings import EngineSettings
from nl2sql.sqlguard import GuardPolicy, QueryFailed, QueryTimeout, SqlRefused, ValidatedSql, extract_sql, probe, validate

if TYPE_CHECKING:
    from nl2sql.retrieval import Retrieval

__all__ = ["AnswerService", "ConnectionPolicy", "ContextRetriever", "guard_policy"]

log = logging.getLogger("nl2sql.answers")

MAX_QUESTION_CHARS = 2000
# Exact re-counts of a fitted prompt that may shrink the budget before giving up.
_FIT_ROUNDS = 4
# Sampling temperature added per repair attempt (0.3, 0.6, ...; at most 1.0).
_REPAIR_TEMPERATURE = 0.3


class ContextRetriever(Protocol):
    """What the engine needs from retrieval: the scored context of a question on a connection."""

    async def retrieve(self, question: str, connection_id: int) -> Retrieval: ...


class _Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: dict[str, float] = {}

    def lap(self, name: str, since: float) -> float:
        elapsed = round((time.perf_counter() - since) * 1000, 3)
        self.marks[name] = round(self.marks.get(name, 0.0) + elapsed, 3)
        return elapsed

    def total(self) -> dict[str, float]:
        return self.marks | {"total_ms": round((time.perf_counter() - self.started) * 1000, 3)}


def guard_policy(schema: PromptSchema, row_cap: int) -> GuardPolicy:
    """The guard's rules for a connection: every included table (not only retrieved ones), its sensitive columns."""
    schemas = {t.schema for t in schema.tables}
    allowed = {t.qualified_name for t in schema.tables}
    default_schema = next(iter(schemas)) if len(schemas) == 1 else None
    return GuardPolicy(
        dialect=schema.dialect,
        allowed_tables=frozenset(allowed),
        sensitive_columns=schema.sensitive_columns,
        row_cap=row_cap,
        default_schema=default_schema,
    )


# Every word and quoted name in a statement: a table it reads is among them, however it is written.
_NAME_TOKENS = re.compile(r'"((?:[^"]|"")+)"|`((?:[^`]|``)+)`|\[([^\]]+)\]|([^\W\d][\w$]*)', re.UNICODE)


class ConnectionPolicy:
    """A connection's guard policy and its tables by name, so each check names only the tables the SQL mentions.

    The guard normalizes every allowed name on each call; on a catalog of thousands of tables that is most
    of its time. A policy narrowed to the tables whose names occur in the SQL refuses exactly what the full
    one refuses (a table not written in the SQL can't be read by it) and can only refuse more, never less.
    """

    def __init__(self, policy: GuardPolicy) -> None:
        self.policy = policy
        self._by_name: dict[str, list[str]] = {}
        for entry in policy.allowed_tables:
            self._by_name.setdefault(entry.rsplit(".", 1)[-1].casefold(), []).append(entry)
        self._sensitive_by_table: dict[str, list[str]] = {}
        for entry in policy.sensitive_columns:
            table = entry.rsplit(".", 2)[-2].casefold()
            self._sensitive_by_table.setdefault(table, []).append(entry)

    def for_sql(self, sql: str) -> GuardPolicy:
        words = {next(g for g in m.groups() if g is not None).casefold() for m in _NAME_TOKENS.finditer(sql)}
        allowed = frozenset(entry for word in words for entry in self._by_name.get(word, ()))
        # a sensitive column can only be exposed through a table the SQL reads, so only those tables' count
        sensitive = frozenset(entry for word in words for entry in self._sensitive_by_table.get(word, ()))
        return replace(self.policy, allowed_tables=allowed, sensitive_columns=sensitive)


@dataclass
class _Outcome:
    attempts: list[Attempt]
    validated: ValidatedSql | None = None
    prompt: Prompt | None = None
    error: str | None = None


class AnswerService:
    """Turns a question on a connection into checked SQL, recording every request with its attempts."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: CatalogService,
        retriever: ContextRetriever,
        chat_model: ChatModel,
        settings: EngineSettings,
        *,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._retriever = retriever
        self._model = chat_model
        self.settings = settings
        self._today = today
        self._policies: dict[int, tuple[dt.datetime, ConnectionPolicy]] = {}

    async def generate_sql(
        self, user: User, question: str, connection_name: str, *, history: tuple[Turn, ...] = (),
        api_key_id: int | None = None,
    ) -> SqlAnswer:
        """Checked SQL for `question` on the connection `user` may use; SqlNotGenerated after the last failed attempt."""
        question = " ".join((question or "").split())
        if not question:
            raise ValidationFailed("the question is empty; ask something about the data")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationFailed(f"the question is longer than {MAX_QUESTION_CHARS} characters; shorten it")
        if not (connection_name or "").strip():
            raise ValidationFailed("name the connection to ask (field `connection`)")
        connection = await self._catalog.visible_connection(user, connection_name.strip())
        clock = _Clock()
        since = time.perf_counter()
        schema = await self._catalog.schema_for_prompt(connection.id)
        if not schema.tables:
            raise ConflictError(
                f"connection {connection.name} has no included tables yet: sync it (or include tables) first"
            )
        policy = self._policy(schema)
        clock.lap("schema_ms", since)
        since = time.perf_counter()
        retrieval = await self._retriever.retrieve(question, connection.id)
        clock.lap("retrieve_ms", since)

        outcome = await self._golden_shortcut(retrieval, policy, connection, clock)
        golden_id = None
        if outcome is not None:
            golden_id = max(retrieval.golden_queries, key=lambda g: g.score).golden.id
        else:
            outcome = await self._generate(question, retrieval, schema, policy, connection, clock, history)

        retrieved = _retrieved(retrieval, outcome.prompt)
        guided_by = tuple(g.id for g in outcome.prompt.golden_queries) if outcome.prompt else ()
        timings = clock.total() | {f"retrieval_{k}": v for k, v in retrieval.timings.items()}
        record = AnswerRow(
            user_id=user.id,
            api_key_id=api_key_id,
            connection_id=connection.id,
            connection_name=connection.name,
            question=question,
            sql=outcome.validated.sql if outcome.validated else None,
            verified=golden_id is not None,
            golden_query_id=golden_id,
            status="ok" if outcome.validated else "failed",
            error=outcome.error,
            attempts=[a.to_json() for a in outcome.attempts],
            retrieved=retrieved.to_json() | {"guided_by": list(guided_by)},
            timings=timings,
            trace_id=current_trace_id(),
            created_at=utcnow(),
        )
        async with self._sessions() as db, db.begin():
            db.add(record)
        if outcome.validated is None:
            note_outcome("no valid sql")  # shown on the usage pages beside the request
            raise SqlNotGenerated(
                f"no valid SQL after {len(outcome.attempts)} attempt{'s' * (len(outcome.attempts) != 1)}: "
                f"{outcome.error}",
                extra={
                    "answer_id": record.id,
                    "attempts": [a.to_json() for a in outcome.attempts],
                    "retrieved": retrieved.to_json(),
                },
            )
        if golden_id is not None:
            note_outcome("verified query")
        return SqlAnswer(
            id=record.id,
            connection=connection.name,
            question=question,
            sql=outcome.validated.sql,
            verified=golden_id is not None,
            golden_query_id=golden_id,
            guided_by=guided_by,
            attempts=tuple(outcome.attempts),
            retrieved=retrieved,
            timings=timings,
            validated=outcome.validated,
        )

    def _policy(self, schema: PromptSchema) -> ConnectionPolicy:
        cached = self._policies.get(schema.connection_id)
        if cached is None or cached[0] != schema.version:
            cached = (schema.version, ConnectionPolicy(guard_policy(schema, self.settings.row_cap)))
            self._policies[schema.connection_id] = cached
        return cached[1]

    # -- the golden shortcut ----------------------------------------------------------------------

    async def _golden_shortcut(
        self, retrieval: Retrieval, policy: ConnectionPolicy, connection: Connection, clock: _Clock
    ) -> _Outcome | None:
        if not retrieval.golden_queries:
            return None
        best = max(retrieval.golden_queries, key=lambda g: g.score)
        if best.score < self.settings.golden_threshold:
            return None
        since = time.perf_counter()
        try:
            # verified once, but the connection's policy (included tables, sensitive columns) may have changed since
            validated = validate(best.golden.sql, policy.for_sql(best.golden.sql))
        except SqlRefused as refused:
            log.warning("golden query %s no longer passes the guard: %s", best.golden.id, refused.detail)
            return None
        elapsed = clock.lap("validate_ms", since)
        attempt = Attempt(
            number=1, kind="golden", prompt_id=None, prompt_tokens=None, template=None, grammar=False,
            raw_output=None, sql=validated.sql, error=None, error_kind=None, completion_tokens=None,
            timings={"validate_ms": elapsed, "score": round(best.score, 4)},
        )
        return _Outcome([attempt], validated)

    # -- generation with repair -------------------------------------------------------------------

    async def _generate(
        self,
        question: str,
        retrieval: Retrieval,
        schema: PromptSchema,
        policy: ConnectionPolicy,
        connection: Connection,
        clock: _Clock,
        history: tuple[Turn, ...],
    ) -> _Outcome:
        info = await self._model.info()
        engine = await self._catalog.engine(connection.id)
        outcome = _Outcome([])
        feedback: ErrorFeedback | None = None
        sensitive_columns = {c.split(".")[-1] for c in schema.sensitive_columns}
        for number in range(1, self.settings.repair_attempts + 2):
            kind = "generate" if feedback is None else "repair"
            timings: dict[str, float] = {}
            since = time.perf_counter()
            try:
                prompt = await self._fitted_prompt(question, retrieval, schema.dialect, info, history, feedback)
            except PromptTooLarge as error:
                outcome.attempts.append(_failed(number, kind, None, False, None, None, error.detail, "prompt", timings))
                outcome.error = error.detail
                return outcome
            timings["prompt_ms"] = clock.lap("prompt_ms", since)
            outcome.prompt = prompt
            grammar = self._grammar(prompt, retrieval, schema.dialect, info)
            params = GenerationParams(
                max_tokens=min(self.settings.max_new_tokens, info.context_size - prompt.tokens),
                # greedy first; a repair samples a little, or a small model repeats its failure word for word
                temperature=0.0 if number == 1 else min(1.0, _REPAIR_TEMPERATURE * (number - 1)),
                seed=None if number == 1 else number,
                stop=prompt.stop,
                grammar=grammar,
            )
            since = time.perf_counter()
            with call_context(purpose=kind, connection=connection.name, sensitive_columns=sensitive_columns):
                if prompt.kind == "chat":
                    generation = await self._model.chat(prompt.messages, params)
                else:
                    generation = await self._model.complete(prompt.text, params)
            timings["generate_ms"] = clock.lap("generate_ms", since)
            raw = generation.text
            cut_off = generation.finish_reason == "length"
            common = dict(number=number, kind=kind, prompt=prompt, grammar=grammar is not None, raw_output=raw,
                          completion_tokens=generation.metering.completion_tokens, timings=timings,
                          finish_reason=generation.finish_reason)
            since = time.perf_counter()
            try:
                sql = extract_sql(raw)
            except SqlRefused as error:
                timings["validate_ms"] = clock.lap("validate_ms", since)
                detail = _cut_off(error.detail, cut_off, params.max_tokens)
                outcome.attempts.append(_attempt(sql=None, error=detail, error_kind="extraction", **common))
                outcome.error = detail
                feedback = ErrorFeedback(raw.strip()[:2000] or "(empty answer)", detail)
                continue
            try:
                validated = validate(sql, policy.for_sql(sql))
            except SqlRefused as error:
                timings["validate_ms"] = clock.lap("validate_ms", since)
                detail = _cut_off(error.detail, cut_off, params.max_tokens)
                outcome.attempts.append(_attempt(sql=sql, error=detail, error_kind="refused", **common))
                outcome.error = detail
                feedback = ErrorFeedback(sql, detail)
                continue
            timings["validate_ms"] = clock.lap("validate_ms", since)
            since = time.perf_counter()
            try:
                await anyio.to_thread.run_sync(probe, validated, engine, self.settings.statement_timeout)
            except (QueryFailed, QueryTimeout) as error:
                timings["probe_ms"] = clock.lap("probe_ms", since)
                kind_of = "timeout" if isinstance(error, QueryTimeout) else "database"
                outcome.attempts.append(_attempt(sql=validated.sql, error=error.detail, error_kind=kind_of, **common))
                outcome.error = error.detail
                feedback = ErrorFeedback(validated.sql, error.detail)
                continue
            timings["probe_ms"] = clock.lap("probe_ms", since)
            outcome.attempts.append(_attempt(sql=validated.sql, error=None, error_kind=None, **common))
            outcome.validated = validated
            outcome.error = None
            return outcome
        return outcome

    async def _fitted_prompt(
        self,
        question: str,
        retrieval: Retrieval,
        dialect: str,
        info: ModelInfo,
        history: tuple[Turn, ...],
        feedback: ErrorFeedback | None,
    ) -> Prompt:
        """The prompt, fitted with a quick estimate, then re-counted by the model's tokenizer and shrunk until it fits."""
        budget = PromptBudget.for_model(info, self.settings.max_new_tokens)
        limit = budget.prompt_tokens
        for _ in range(_FIT_ROUNDS):
            prompt = build_prompt(
                question, retrieval, budget, dialect, self._today(),
                history=history, error_feedback=feedback, template=self.settings.prompt_template,  # type: ignore[arg-type]
            )
            exact = await self._model.count_tokens(prompt.text)
            if prompt.kind == "chat":
                exact += budget.per_message_overhead * (len(prompt.messages) + 1)
            if exact <= limit:
                return replace(prompt, tokens=exact)
            over = exact - limit
            smaller = budget.context_size - over - max(8, over // 4)
            if smaller <= budget.max_new_tokens:
                break
            budget = replace(budget, context_size=smaller)
        raise PromptTooLarge(f"the prompt does not fit the model's context of {info.context_size} tokens; shorten the question")

    def _grammar(self, prompt: Prompt, retrieval: Retrieval, dialect: str, info: ModelInfo) -> Grammar | None:
        if not (self.settings.grammar and info.supports_grammar and prompt.tables):
            return None
        if dialect not in DIALECTS:
            return None
        try:
            return sql_grammar(prompt.columns_by_table, dialect, _joins(prompt, retrieval))
        except ValueError as error:
            log.warning("no SQL grammar for this prompt: %s", error)
            return None


def _joins(prompt: Prompt, retrieval: Retrieval) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """The prompt's tables' foreign keys and join hints, as the SQL grammar's join graph."""
    names = {t.qualified_name for t in prompt.tables}
    by_name: dict[str, str] = {}
    for table in prompt.tables:
        by_name.setdefault(table.name, table.qualified_name)

    def resolve(name: str) -> str:
        return name if name in names else by_name.get(name.split(".")[-1], name)

    joins = []
    for table in prompt.tables:
        for fk in table.foreign_keys:
            target = resolve(f"{fk.ref_schema}.{fk.ref_table}" if fk.ref_schema else fk.ref_table)
            joins.append((table.qualified_name, target, tuple(zip(fk.columns, fk.ref_columns))))
    for hint in retrieval.join_hints:
        joins.append((resolve(hint.left_table), resolve(hint.right_table), tuple(hint.pairs)))
    return joins


def _cut_off(detail: str, cut_off: bool, max_tokens: int) -> str:
    if not cut_off:
        return detail
    return f"{detail} (the answer was cut off after {max_tokens} tokens: write a shorter query)"


def _attempt(
    *, number: int, kind: str, prompt: Prompt, grammar: bool, raw_output: str, sql: str | None, error: str | None,
    error_kind: str | None, completion_tokens: int, timings: dict[str, float], finish_reason: str,
) -> Attempt:
    return Attempt(
        number=number, kind=kind, prompt_id=prompt.prompt_id, prompt_tokens=prompt.tokens,  # type: ignore[arg-type]
        template=prompt.template, grammar=grammar, raw_output=raw_output, sql=sql, error=error,
        error_kind=error_kind, completion_tokens=completion_tokens, timings=timings,  # type: ignore[arg-type]
        finish_reason=finish_reason,
    )


def _failed(number, kind, prompt_id, grammar, raw, sql, error, error_kind, timings) -> Attempt:
    return Attempt(
        number=number, kind=kind, prompt_id=prompt_id, prompt_tokens=None, template=None, grammar=grammar,
        raw_output=raw, sql=sql, error=error, error_kind=error_kind, completion_tokens=None, timings=timings,
    )


def _retrieved(retrieval: Retrieval, prompt: Prompt | None) -> Retrieved:
    in_tables = {t.qualified_name for t in prompt.tables} if prompt else set()
    in_instructions = {i.id for i in prompt.instructions} if prompt else set()
    in_golden = {g.id for g in prompt.golden_queries} if prompt else set()
    return Retrieved(
        tables=tuple(
            RetrievedItem(None, t.table.qualified_name, round(t.score, 4), t.table.qualified_name in in_tables, t.via_join)
            for t in retrieval.tables
        ),
        instructions=tuple(
            RetrievedItem(i.instruction.id, i.instruction.text[:200], round(i.score, 4), i.instruction.id in in_instructions)
            for i in retrieval.instructions
        ),
        golden_queries=tuple(
            RetrievedItem(g.golden.id, g.golden.question, round(g.score, 4), g.golden.id in in_golden)
            for g in retrieval.golden_queries
        ),
        values=tuple(
            RetrievedItem(None, f"{v.table}.{v.column} = {v.value!r}", round(v.score, 4), prompt is not None)
            for v in retrieval.values
        ),
    )

