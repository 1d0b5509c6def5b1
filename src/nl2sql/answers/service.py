"""AnswerService: question -> retrieve -> prompt -> generate -> validate -> check -> repair, recorded per request."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Protocol

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.candidates import Candidate, choose, fingerprint
from nl2sql.answers.trust import ModelTrust, TrustReading
from nl2sql.answers.dto import Attempt, Retrieved, RetrievedItem, SqlAnswer, SqlNotGenerated
from nl2sql.answers.models import AnswerRow, ModelTrustCheckRow
from nl2sql.auth import User
from nl2sql.catalog import CatalogService, Connection, PromptSchema
from nl2sql.db import utcnow
from nl2sql.errors import BusyError, ConflictError, UnavailableError, ValidationFailed
from nl2sql.gateway import call_context, current_trace_id, note_outcome
from nl2sql.inference import (
    DIALECTS, ChatModel, GenerationParams, Grammar, InferenceTimeout, Message, ModelInfo, sql_grammar,
)
from nl2sql.semantics import (
    CompileError,
    Reader,
    SemanticModel,
    adapt_golden,
    build_semantic_model,
    compile_plan,
    describe,
    form_columns,
    plan_form_schema,
    plan_from_form,
    same_literals,
    sql_fit,
)
from nl2sql.prompting import ErrorFeedback, Prompt, PromptBudget, PromptTooLarge, Turn, build_prompt
from nl2sql.settings import EngineSettings
from nl2sql.sqlguard import (
    GuardPolicy,
    QueryFailed,
    QueryTimeout,
    SqlRefused,
    ValidatedSql,
    extract_sql,
    probe,
    run,
    validate,
)

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


async def guarded(sql: str, policy: ConnectionPolicy) -> ValidatedSql:
    """The guard's check of `sql`, off the event loop: parsing a long statement takes CPU seconds, and the server
    keeps serving meanwhile (the guard also refuses statements past its size limits)."""
    return await anyio.to_thread.run_sync(lambda: validate(sql, policy.for_sql(sql)))


def guard_policy(schema: PromptSchema, row_cap: int, extra_functions: frozenset[str] = frozenset()) -> GuardPolicy:
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
        extra_functions=extra_functions,
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
    candidates: list[Candidate] | None = None
    winner: Candidate | None = None


# A follow-up that is only a fragment ("only in 2024", "and per month?") continues the question before it.
_FRAGMENT_STARTS = {"only", "and", "but", "now", "instead", "also", "just", "then", "excluding", "except", "without",
                    "with", "for", "in", "by", "per", "from", "what", "how", "same", "sorted", "ordered", "top", "limit"}
_QUESTION_WORDS = {"which", "what", "who", "how", "list", "show", "give", "return", "count", "find", "get", "display"}


@dataclass(frozen=True)
class ModelCheck:
    """The model asked a connection's verified questions: how many results it reproduced, and the trust now."""

    connection: str
    checked: int
    passed: int
    results: list[dict[str, object]]
    trust: TrustReading

    def to_json(self) -> dict[str, object]:
        return {"connection": self.connection, "checked": self.checked, "passed": self.passed,
                "results": self.results, "trust": self.trust.to_json()}


def _without(golden: tuple, question: str, sql: str) -> tuple:
    """The retrieved golden queries less the one under test (same SQL) and any with the same question."""
    asked = " ".join(question.lower().split())
    return tuple(g for g in golden
                 if " ".join(g.golden.question.lower().split()) != asked and g.golden.sql.strip() != sql.strip())


def effective_question(question: str, history: tuple[Turn, ...]) -> str:
    """The question the reader reads: a fragmentary follow-up joined to the conversation's earlier questions."""
    words = question.lower().split()
    if not history or not words:
        return question
    fragment = words[0] in _FRAGMENT_STARTS and (
        words[:2] in (["what", "about"], ["how", "about"]) or words[0] not in ("what", "how")) or len(words) <= 3
    if not fragment or (words[0] in _QUESTION_WORDS and len(words) > 6):
        return question
    previous = effective_question(history[-1].question, history[:-1])
    rest = question
    if words[:2] in (["what", "about"], ["how", "about"]):
        rest = " ".join(question.split()[2:])
    return f"{previous.rstrip('?. ')} {rest}"


_NONE_EXPECTED = re.compile(r"\b(any|ever|whether|is there|are there|does|do)\b", re.I)


def resolve_trust(setting: str, backend: str, model_file: str | None) -> str:
    """`low` or `high`: the setting, or for `auto` high for a server or a big model file."""
    if setting != "auto":
        return setting
    if backend == "openai":
        return "high"
    if backend not in ("llamacpp", "llama.cpp"):
        return "low"  # a fake or unknown backend proves nothing
    if model_file:
        try:
            import os

            return "high" if os.path.getsize(model_file) >= 2_000_000_000 else "low"
        except OSError:
            return "low"
    return "low"


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
        trust: str = "low",
        measured_trust: bool = False,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._retriever = retriever
        self._model = chat_model
        self.settings = settings
        self._today = today
        self._policies: dict[int, tuple[dt.datetime, ConnectionPolicy]] = {}
        self._readers: dict[int, tuple[dt.datetime, Reader]] = {}
        # chosen SQL by (connection, catalog version, normalised question, earlier turns): safe to miss
        self._answers: OrderedDict[tuple, SqlAnswer] = OrderedDict()
        self.trust = trust  # the configured level: whether the model is consulted
        # the measured level: how much its SQL counts in the choice (the configured one until measured)
        self.model_trust = ModelTrust(
            trust, measured=measured_trust, min_checks=settings.trust_min_checks,
            golden_pass=settings.trust_golden_pass, agreement=settings.trust_agreement)
        self._trust_of: str | None = None  # the model whose stored evidence the meter holds

    async def generate_sql(
        self, user: User, question: str, connection_name: str, *, history: tuple[Turn, ...] = (),
        api_key_id: int | None = None, progress: Callable[[str], None] | None = None,
        holdout: str | None = None,
    ) -> SqlAnswer:
        """Checked SQL for `question` on the connection `user` may use; SqlNotGenerated after the last failed attempt.

        `holdout` (a golden query's SQL) answers as if that query did not exist: no golden shortcut, that query
        (and any with the same question) neither shown to the model nor adapted, no answer cache (a regression
        check of the golden queries)."""
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
        key = _cache_key(schema, question, history)
        hit = self._answers.get(key) if self.settings.answer_cache and holdout is None else None
        if hit is not None:
            self._answers.move_to_end(key)
            return await self._reuse(user, api_key_id, connection, question, hit, clock)
        since = time.perf_counter()
        retrieval = await self._retriever.retrieve(question, connection.id)
        clock.lap("retrieve_ms", since)
        if holdout is not None:
            retrieval = replace(retrieval, golden_queries=_without(retrieval.golden_queries, question, holdout))

        outcome = None if holdout is not None else await self._golden_shortcut(
            retrieval, policy, connection, clock, question, schema)
        golden_id = None
        if outcome is not None:
            golden_id = max(retrieval.golden_queries, key=lambda g: g.score).golden.id
        else:
            try:
                outcome = await self._by_candidates(question, retrieval, schema, policy, connection, clock, history,
                                                    progress or (lambda _: None))
            except (BusyError, InferenceTimeout, UnavailableError) as error:
                # the model was busy, too slow or gone: the question is still filed (History shows it and why)
                failed = AnswerRow(
                    user_id=user.id, api_key_id=api_key_id, connection_id=connection.id,
                    connection_name=connection.name, question=question, sql=None, verified=False,
                    golden_query_id=None, status="failed", error=error.detail, attempts=[],
                    retrieved=_retrieved(retrieval, None).to_json(), timings=clock.total(),
                    trace_id=current_trace_id(), created_at=utcnow(),
                )
                async with self._sessions() as db, db.begin():
                    db.add(failed)
                error.extra = (error.extra or {}) | {"answer_id": failed.id}
                raise
        winner = outcome.winner
        candidates = [c.to_json() for c in outcome.candidates or []]

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
            plan=winner.plan if winner else None,
            explanation=winner.explanation if winner else None,
            generator="verified" if golden_id is not None else (winner.generator if winner else None),
            candidates=candidates,
        )
        async with self._sessions() as db, db.begin():
            db.add(record)
        if outcome.validated is None:
            note_outcome("no valid sql")  # shown on the usage pages beside the request
            only_model = all(c["generator"] == "model_sql" for c in candidates)
            if outcome.attempts and only_model:
                n = len(outcome.attempts)
                message = f"no valid SQL after {n} attempt{'s' * (n != 1)}: {outcome.error}"
            else:
                message = f"no candidate query answered the question ({len(candidates)} tried): {outcome.error}"
            raise SqlNotGenerated(
                message,
                extra={
                    "answer_id": record.id,
                    "attempts": [a.to_json() for a in outcome.attempts],
                    "candidates": candidates,
                    "retrieved": retrieved.to_json(),
                },
            )
        if golden_id is not None:
            note_outcome("verified query")
        answer = SqlAnswer(
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
            plan=winner.plan if winner else None,
            explanation=winner.explanation if winner else None,
            generator="verified" if golden_id is not None else (winner.generator if winner else None),
            candidates=tuple(candidates),
        )
        if self.settings.answer_cache and holdout is None:
            self._answers[key] = answer
            while len(self._answers) > self.settings.answer_cache:
                self._answers.popitem(last=False)
        return answer

    async def _reuse(self, user: User, api_key_id: int | None, connection: Connection, question: str,
                     hit: SqlAnswer, clock: _Clock) -> SqlAnswer:
        """The same question on the same catalog: its chosen SQL again, recorded as a new answer that says so."""
        timings = clock.total()
        record = AnswerRow(
            user_id=user.id, api_key_id=api_key_id, connection_id=connection.id, connection_name=connection.name,
            question=question, sql=hit.sql, verified=hit.verified, golden_query_id=hit.golden_query_id, status="ok",
            error=None, attempts=[],
            retrieved=hit.retrieved.to_json() | {"guided_by": list(hit.guided_by), "cached_from": hit.id},
            timings=timings, trace_id=current_trace_id(), created_at=utcnow(), plan=hit.plan,
            explanation=hit.explanation, generator=hit.generator, candidates=list(hit.candidates),
        )
        async with self._sessions() as db, db.begin():
            db.add(record)
        note_outcome("cached")
        return replace(hit, id=record.id, question=question, attempts=(), timings=timings, cached_from=hit.id)

    def _policy(self, schema: PromptSchema) -> ConnectionPolicy:
        cached = self._policies.get(schema.connection_id)
        if cached is None or cached[0] != schema.version:
            cached = (schema.version, ConnectionPolicy(guard_policy(schema, self.settings.row_cap, self.settings.extra_function_set)))
            self._policies[schema.connection_id] = cached
        return cached[1]

    def reader(self, schema: PromptSchema) -> Reader:
        """The question reader over the connection's semantic model, built once per catalog version."""
        cached = self._readers.get(schema.connection_id)
        if cached is None or cached[0] != schema.version:
            cached = (schema.version, Reader(build_semantic_model(schema)))
            self._readers[schema.connection_id] = cached
        return cached[1]

    # -- candidates and the choice among them ------------------------------------------------------------

    async def _by_candidates(
        self, question: str, retrieval: Retrieval, schema: PromptSchema, policy: ConnectionPolicy,
        connection: Connection, clock: _Clock, history: tuple[Turn, ...], say: Callable[[str], None],
    ) -> _Outcome:
        generators = self.settings.generator_list
        text = effective_question(question, history)
        today = self._today()
        since = time.perf_counter()
        reader = await anyio.to_thread.run_sync(self.reader, schema)
        model: SemanticModel = reader.model
        candidates: list[Candidate] = []
        notes = [i.instruction.text for i in retrieval.instructions]  # their definitions ("AOV = ...") apply
        if "reader" in generators:
            scope = {t.table.qualified_name for t in retrieval.tables}
            readings = await anyio.to_thread.run_sync(
                lambda: reader.read(text, today=today, limit=self.settings.reader_plans, scope=scope or None,
                                    instructions=notes))
            for reading in readings:
                try:
                    sql = compile_plan(reading.plan, model)
                except CompileError as error:
                    candidates.append(Candidate("reader", None, reading.plan.to_json(), reading.explanation,
                                                reading.score, error=f"not compiled: {error}"))
                    continue
                candidates.append(Candidate("reader", sql, reading.plan.to_json(), reading.explanation, reading.score,
                                            note=f"covers {reading.coverage:.0%} of the question"))
        if "golden" in generators:
            for scored in sorted(retrieval.golden_queries, key=lambda g: -g.score)[:3]:
                if scored.score < 0.5:
                    continue
                adapted = adapt_golden(text, scored.golden.question, scored.golden.sql, model)
                if adapted is not None:
                    changes = ", ".join(f"{a} -> {b}" for a, b in adapted.replaced)
                    candidates.append(Candidate("golden", adapted.sql, None, None, min(1.0, scored.score + 0.1),
                                                note=f"golden query {scored.golden.id} with {changes}"))
        clock.lap("read_ms", since)
        scope = {t.table.qualified_name for t in retrieval.tables}
        terms = await anyio.to_thread.run_sync(
            lambda: reader.terms(text, today=today, instructions=notes, scope=scope or None))
        engine = await self._catalog.engine(connection.id, "check")
        since = time.perf_counter()
        checkable = sum(1 for c in candidates if c.sql)
        if checkable:
            say(f"Checking {checkable} candidate quer{'ies' if checkable != 1 else 'y'} against the database")
        await self._check(candidates, policy, engine, terms, model.dialect)
        clock.lap("check_ms", since)
        outcome = _Outcome([], candidates=candidates)
        if self._consult_model(candidates):
            say(_model_stage(self._model))
            if "model_plan" in generators:
                planned = await self._model_plan(text, retrieval, model, connection, clock)
                if planned is not None:
                    await self._check([planned], policy, engine, terms, model.dialect)
                    candidates.append(planned)
            if "model_sql" in generators:
                generated = await self._generate(question, retrieval, schema, policy, connection, clock, history)
                outcome.attempts, outcome.prompt = generated.attempts, generated.prompt
                if generated.validated is not None:
                    direct = Candidate("model_sql", generated.validated.sql, None, None, 0.8,
                                       validated=generated.validated)
                    await self._check([direct], policy, engine, terms, model.dialect, validated=True)
                    candidates.append(direct)
                    await self._record_agreement(direct, candidates, connection.id)
                elif generated.error:
                    candidates.append(Candidate("model_sql", None, error=generated.error))
        trust = await self.trust_reading()
        for c in candidates:
            if c.generator == "model_sql" and c.note is None:
                c.note = f"model trust {trust.level}: {trust.why}"
        best = choose(candidates, trust=trust.level, expects_empty=bool(_NONE_EXPECTED.search(question)))
        if best is None:
            errors = [c.error for c in candidates if c.error]
            outcome.error = errors[0] if errors else "the question could not be read, and no model candidate ran"
            return outcome
        outcome.validated = best.validated
        outcome.winner = best
        return outcome

    async def check_model(
        self, user: User, connection_name: str, *, limit: int = 20,
        pairs: list[tuple[str, str]] | None = None,
    ) -> ModelCheck:
        """Ask the model each verified query's question (that query kept out of its prompt) and compare the result
        of its SQL with the verified SQL's: evidence for how much its SQL counts (see `ModelTrust`).

        `pairs` (question, SQL) replaces the connection's golden queries. A verified query that no longer runs is
        skipped, not counted against the model."""
        connection = await self._catalog.visible_connection(user, connection_name.strip())
        schema = await self._catalog.schema_for_prompt(connection.id)
        if not schema.tables:
            raise ConflictError(f"connection {connection.name} has no included tables yet: sync it first")
        if pairs is None:
            pairs = [(g.question, g.sql) for g in await self._catalog.golden_queries(connection.id)]
        if not pairs:
            raise ConflictError(f"connection {connection.name} has no golden queries to check the model with")
        if not 1 <= limit <= 200:
            raise ValidationFailed("limit must be between 1 and 200")
        policy = self._policy(schema)
        reader = await anyio.to_thread.run_sync(self.reader, schema)
        engine = await self._catalog.engine(connection.id, "check")
        results: list[dict[str, object]] = []
        for question, sql in pairs[:limit]:
            retrieval = await self._retriever.retrieve(question, connection.id)
            # the query under test is not shown to the model (nor any with the same question)
            retrieval = replace(retrieval, golden_queries=_without(retrieval.golden_queries, question, sql))
            verified = Candidate("golden", sql, confidence=1.0)
            terms = await anyio.to_thread.run_sync(lambda: reader.terms(question, today=self._today()))
            await self._check([verified], policy, engine, terms, reader.model.dialect)
            if not verified.ran:
                results.append({"question": question, "passed": None, "error": f"the verified SQL failed: "
                                                                                 f"{verified.error}"})
                continue
            generated = await self._generate(question, retrieval, schema, policy, connection, _Clock(), ())
            passed, error = False, generated.error
            if generated.validated is not None:
                direct = Candidate("model_sql", generated.validated.sql, validated=generated.validated)
                await self._check([direct], policy, engine, terms, reader.model.dialect, validated=True)
                passed = direct.ran and direct.fingerprint == verified.fingerprint
                error = direct.error or (None if passed else "a different result")
            await self._save_trust("golden", passed, connection.id)
            results.append({"question": question, "passed": passed, "error": error,
                            "sql": generated.validated.sql if generated.validated else None})
        checked = [r for r in results if r["passed"] is not None]
        return ModelCheck(connection.name, len(checked), sum(1 for r in checked if r["passed"]), results,
                          await self.trust_reading())

    def model_name(self) -> str | None:
        """The configured model's name as its status gives it (nothing loaded, no server call)."""
        return self._model.describe().model

    async def trust_reading(self) -> TrustReading:
        """The model's trust now, with the stored evidence for the configured model loaded."""
        await self._load_trust()
        return self.model_trust.reading()

    async def _load_trust(self) -> str | None:
        """The evidence stored for this model (it survives restarts and is shared by processes on one app
        database); reloaded when another model is configured. Returns the model's name (None while the model
        can't say: the meter then stands as it is, and an answer never fails for it)."""
        if not self.model_trust.measured:
            return None  # a set level needs no evidence
        # the status names the model without loading it; a server's is known after its first answer
        name = self._model.describe().model
        if not name or name.startswith("("):
            try:
                name = (await self._model.info()).model
            except Exception as error:  # an unreachable model server must not cost an answer the reader gave
                log.info("model trust: the model's name is unknown (%s)", error)
                return self._trust_of
        name = name[:300]
        if self._trust_of == name:
            return name
        self.model_trust.reset()
        async with self._sessions() as db:
            for source in ("golden", "answer"):
                rows = list(await db.scalars(
                    sa.select(ModelTrustCheckRow.passed)
                    .where(ModelTrustCheckRow.model == name, ModelTrustCheckRow.source == source)
                    .order_by(ModelTrustCheckRow.id.desc()).limit(self.model_trust.window)))
                for passed in reversed(rows):
                    (self.model_trust.record_golden if source == "golden" else self.model_trust.record_answer)(passed)
        self._trust_of = name
        return name

    async def _save_trust(self, source: str, passed: bool, connection_id: int) -> None:
        name = await self._load_trust()
        (self.model_trust.record_golden if source == "golden" else self.model_trust.record_answer)(passed)
        if name is None:
            return
        async with self._sessions() as db, db.begin():
            db.add(ModelTrustCheckRow(model=name, source=source, passed=passed, connection_id=connection_id,
                                      created_at=utcnow()))

    async def _record_agreement(self, direct: Candidate, candidates: list[Candidate], connection_id: int) -> None:
        """Evidence for the model's trust: did its SQL give the result of a catalog-built candidate?"""
        built = [c for c in candidates if c.generator in ("reader", "golden") and c.ran and c.rows]
        if direct.ran and built and self.model_trust.measured:
            await self._save_trust("answer", any(c.fingerprint == direct.fingerprint for c in built), connection_id)

    def _consult_model(self, candidates: list[Candidate]) -> bool:
        when = self.settings.model_when
        if when == "auto":
            when = "always" if self.trust == "high" else "fallback"
        if when == "never":
            return False
        if when == "always":
            return True
        if when == "fallback":
            return not any(c.ran and c.rows and c.generator in ("reader", "golden") for c in candidates)
        return not any(
            c.ran and c.rows and c.generator in ("reader", "golden") and c.confidence >= self.settings.confident
            for c in candidates)

    async def _check(self, candidates: list[Candidate], policy: ConnectionPolicy, engine, terms, dialect: str, *,
                     validated: bool = False) -> None:
        """Guard every candidate and run it read-only (small row cap, short timeout, two at a time)."""
        limiter = anyio.CapacityLimiter(2)
        timeout, rows = self.settings.check_timeout, self.settings.check_rows

        def check(candidate: Candidate) -> None:
            started = time.perf_counter()
            try:
                if not validated or candidate.validated is None:
                    candidate.validated = validate(candidate.sql, policy.for_sql(candidate.sql))
                result = run(candidate.validated, engine, timeout_s=timeout, max_rows=rows)
                candidate.rows = result.row_count
                candidate.fingerprint = fingerprint(result.rows)
                candidate.fit = sql_fit(candidate.validated.sql, terms, dialect)
            except (SqlRefused, QueryFailed, QueryTimeout) as error:
                candidate.error = error.detail
            finally:
                candidate.ms = (time.perf_counter() - started) * 1000

        async with anyio.create_task_group() as group:
            for candidate in candidates:
                if candidate.sql and candidate.error is None:
                    group.start_soon(partial(anyio.to_thread.run_sync, check, candidate, limiter=limiter))

    async def _model_plan(self, question: str, retrieval: Retrieval, model: SemanticModel, connection: Connection,
                          clock: _Clock) -> Candidate | None:
        """The model fills the plan form (a JSON schema over the retrieved tables' columns); None when it can't."""
        info = await self._model.info()
        if not (info.supports_json_schema or info.supports_grammar):
            return None
        tables = [t.table.qualified_name for t in retrieval.tables]
        columns = form_columns(model, tables)
        if not columns:
            return None
        listing = "\n".join(
            f"- {c}" + (f": {d}" if (d := self._describe_column(model, c)) else "") for c in columns)
        messages = [
            Message("system", "You turn a question about a database into a JSON form. Use only the listed columns. "
                              "aggregate: count, sum, avg, min, max or none; measure: the column it applies to, or "
                              "rows for a count of rows; group_by: the columns to group by; filters: conditions; "
                              "order: highest first, lowest first or none; limit: 0 for all rows."),
            Message("user", f"Columns:\n{listing}\n\nQuestion: {question}\nJSON:"),
        ]
        params = GenerationParams(max_tokens=160, json_schema=plan_form_schema(columns))
        since = time.perf_counter()
        try:
            with call_context(purpose="plan", connection=connection.name):
                generation = await self._model.chat(messages, params)
        except Exception as error:  # a model failure costs this candidate only, never the answer
            log.info("model plan skipped: %s", error)
            return None
        finally:
            clock.lap("model_plan_ms", since)
        import json

        try:
            form = json.loads(generation.text)
            plan = plan_from_form(form, model)
        except (ValueError, TypeError, AttributeError):
            return Candidate("model_plan", None, error="the model's form was not valid JSON")
        if plan is None:
            return Candidate("model_plan", None, error="the model's form named no usable column")
        try:
            sql = compile_plan(plan, model)
        except CompileError as error:
            return Candidate("model_plan", None, plan.to_json(), error=f"not compiled: {error}")
        return Candidate("model_plan", sql, plan.to_json(), describe(plan, model), 0.6)

    @staticmethod
    def _describe_column(model: SemanticModel, ref: str) -> str:
        table, column = ref.rsplit(".", 1)
        try:
            return model.attribute(table, column).described[:80]
        except KeyError:
            return ""

    # -- the golden shortcut ----------------------------------------------------------------------

    async def _golden_shortcut(
        self, retrieval: Retrieval, policy: ConnectionPolicy, connection: Connection, clock: _Clock,
        question: str = "", schema: PromptSchema | None = None,
    ) -> _Outcome | None:
        if not retrieval.golden_queries:
            return None
        best = max(retrieval.golden_queries, key=lambda g: g.score)
        if best.score < self.settings.golden_threshold:
            return None
        if question and schema is not None and not same_literals(question, best.golden.question, self.reader(schema).model):
            # "... in March 2024" is not the verified "... in 2024": adapting it is the golden generator's job
            return None
        since = time.perf_counter()
        try:
            # verified once, but the connection's policy (included tables, sensitive columns) may have changed since
            validated = await guarded(best.golden.sql, policy)
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
            if len(outcome.attempts) >= 2 and outcome.attempts[-1].error == outcome.attempts[-2].error:
                break  # the same error twice: another repair would repeat it too
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
                feedback = ErrorFeedback(raw.strip()[:2000] or "(empty answer)", _to_model(error.detail, cut_off))
                continue
            try:
                validated = await guarded(sql, policy)
            except SqlRefused as error:
                timings["validate_ms"] = clock.lap("validate_ms", since)
                detail = _cut_off(error.detail, cut_off, params.max_tokens)
                outcome.attempts.append(_attempt(sql=sql, error=detail, error_kind="refused", **common))
                outcome.error = detail
                feedback = ErrorFeedback(sql, _to_model(error.detail, cut_off))
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


def _cache_key(schema: PromptSchema, question: str, history: tuple[Turn, ...]) -> tuple:
    def norm(text: str) -> str:
        return " ".join(text.lower().split()).rstrip("?.!; ")

    return (schema.connection_id, schema.version, norm(question), tuple((norm(t.question), t.sql) for t in history))


def _model_stage(model: ChatModel) -> str:
    """The progress line while the model works: it says so when the question waits for a free slot."""
    try:
        status = model.describe()
    except Exception:  # a model that can't describe itself still answers
        return "Asking the model"
    if status.slots and status.busy >= status.slots:
        ahead = status.queue_depth
        return f"Waiting for the model ({ahead} question{'s' * (ahead != 1)} ahead), then asking it"
    return "Asking the model"


def _cut_off(detail: str, cut_off: bool, max_tokens: int) -> str:
    """What the user reads: why the model's SQL was refused, and the setting that gives it more room."""
    if not cut_off:
        return detail
    return (f"{detail} (the model's SQL was cut off at the {max_tokens}-token limit; "
            "NL2SQL_ENGINE_MAX_NEW_TOKENS raises it, or ask a narrower question)")


def _to_model(detail: str, cut_off: bool) -> str:
    """What the repair prompt tells the model."""
    return f"{detail} (your answer was cut off: write a shorter query)" if cut_off else detail


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

