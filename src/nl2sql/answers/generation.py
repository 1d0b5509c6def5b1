"""SqlGenerationService: question -> retrieve -> candidates (reader, golden, model) -> guard -> run -> choose, recorded per request. The model's generators and its measured trust are in model_generators.py and trust_checks.py."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.candidates import Candidate, choose, fingerprint
from nl2sql.answers.dto import Attempt, SqlAnswer, SqlNotGenerated, Unanswered
from nl2sql.answers.models import AnswerRow
from nl2sql.answers.trust import ModelTrust
from nl2sql.auth import User
from nl2sql.catalog import CatalogService, Connection, PromptSchema
from nl2sql.db import utcnow
from nl2sql.errors import BusyError, ConflictError, UnavailableError, ValidationFailed
from nl2sql.gateway import current_trace_id, note_outcome
from nl2sql.inference import (
    ChatModel,
    InferenceTimeout,
)
from nl2sql.prompting import Turn
from nl2sql.semantics import (
    CompileError,
    Reader,
    SemanticModel,
    adapt_golden,
    build_semantic_model,
    compile_plan,
    same_literals,
    sql_fit,
)
from nl2sql.settings import EngineSettings
from nl2sql.sqlguard import (
    QueryFailed,
    QueryTimeout,
    SqlRefused,
    run,
    validate,
)

if TYPE_CHECKING:
    from nl2sql.retrieval import Retrieval


from nl2sql.answers.model_generators import ModelGenerators, model_stage
from nl2sql.answers.pipeline import (
    MAX_QUESTION_CHARS,
    Clock,
    ContextRetriever,
    Outcome,
    held_out,
    retrieved_summary,
)
from nl2sql.answers.policy import ConnectionPolicy, for_user, guard_policy, guarded
from nl2sql.answers.trust_checks import TrustChecks
from nl2sql.answers.deciding import Deciding
from nl2sql.answers.verdict import ANSWERED, Verdict

log = logging.getLogger("nl2sql.answers")

# readers kept in memory: one per connection and per distinct view of it (users under the same policies share one)
READERS_KEPT = 64


# A follow-up that is only a fragment ("only in 2024", "and per month?") continues the question before it.
_FRAGMENT_STARTS = {"only", "and", "but", "now", "instead", "also", "just", "then", "excluding", "except", "without",
                    "with", "for", "in", "by", "per", "from", "what", "how", "same", "sorted", "ordered", "top", "limit"}
_QUESTION_WORDS = {"which", "what", "who", "how", "list", "show", "give", "return", "count", "find", "get", "display"}


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



class SqlGenerationService(Deciding, TrustChecks, ModelGenerators):
    """Generating SQL: a question on a connection turned into checked SQL by candidates chosen by execution
    (the reader's plan, golden queries adapted, the model's plan and SQL), recording every request with its
    attempts."""

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
        self._readers: OrderedDict[tuple[int, str], tuple[dt.datetime, Reader]] = OrderedDict()
        self._readers_lock = threading.Lock()
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
        holdout: str | None = None, use_model: bool = False,
    ) -> SqlAnswer:
        """Checked SQL for `question` on the connection `user` may use; SqlNotGenerated after the last failed attempt.

        `holdout` (a golden query's SQL) answers as if that query did not exist: no golden shortcut, that query
        (and any with the same question) neither shown to the model nor adapted, no answer cache (a regression
        check of the golden queries). `use_model` consults the model even where it would not be by default (the
        page's "Try the model"). A question nothing answers well enough raises Unanswered (clarify or refused)."""
        question = _checked_question(question, connection_name)
        connection = await self._catalog.visible_connection(user, connection_name.strip())
        clock = Clock()
        since = time.perf_counter()
        schema = await self._catalog.schema_for_prompt(connection.id)
        if not schema.tables:
            raise ConflictError(
                f"connection {connection.name} has no included tables yet: sync it (or include tables) first"
            )
        policy = await for_user(self._catalog, self._policy(schema), user, schema)
        # the guard's rules come from the whole catalog; everything read from it on the user's behalf (the reader's
        # model, retrieval, prompts) from the part their policies let them see
        visibility = await self._catalog.visibility(user, connection.id)
        schema = visibility.schema(schema)
        clock.lap("schema_ms", since)
        # a user under row policies or masks gets answers (and their rows) only from users under the same ones
        key = (*_cache_key(schema, question, history), policy.fingerprint, schema.seen_by)
        hit = self._answers.get(key) if self.settings.answer_cache and holdout is None and not use_model else None
        if hit is not None:
            self._answers.move_to_end(key)
            return await self._reuse(user, api_key_id, connection, question, hit, clock)
        since = time.perf_counter()
        retrieval = await self._retriever.retrieve(question, connection.id, visibility=visibility)
        clock.lap("retrieve_ms", since)
        if holdout is not None:
            retrieval = replace(retrieval, golden_queries=held_out(retrieval.golden_queries, question, holdout))

        filing = _Filing(self, user, api_key_id, connection, question, retrieval, clock)
        outcome = None if holdout is not None else await self._golden_shortcut(
            retrieval, policy, connection, clock, question, schema)
        golden_id = None
        if outcome is not None:
            golden_id = max(retrieval.golden_queries, key=lambda g: g.score).golden.id
        else:
            try:
                outcome = await self._by_candidates(question, retrieval, schema, policy, connection, clock, history,
                                                    progress or (lambda _: None), user=user, use_model=use_model)
            except (BusyError, InferenceTimeout, UnavailableError) as error:
                # the model was busy, too slow or gone: the question is still filed (History shows it and why)
                error.extra = (error.extra or {}) | {"answer_id": await filing.failure(error.detail)}
                raise
        answer = await filing.outcome(outcome, golden_id)
        if self.settings.answer_cache and holdout is None and not use_model:
            self._answers[key] = answer
            while len(self._answers) > self.settings.answer_cache:
                self._answers.popitem(last=False)
        return answer

    async def _reuse(self, user: User, api_key_id: int | None, connection: Connection, question: str,
                     hit: SqlAnswer, clock: Clock) -> SqlAnswer:
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
        """The question reader over the connection's semantic model, built once per catalog version and per view
        of it (`seen_by`: a user whose policies hide columns or values reads with a model without them)."""
        key = (schema.connection_id, schema.seen_by)
        with self._readers_lock:  # called from worker threads
            cached = self._readers.get(key)
        if cached is None or cached[0] != schema.version:
            cached = (schema.version, Reader(build_semantic_model(schema)))
        with self._readers_lock:
            self._readers[key] = cached
            self._readers.move_to_end(key)
            while len(self._readers) > READERS_KEPT:
                self._readers.popitem(last=False)
        return cached[1]

    # -- candidates and the choice among them ------------------------------------------------------------

    async def _by_candidates(
        self, question: str, retrieval: Retrieval, schema: PromptSchema, policy: ConnectionPolicy,
        connection: Connection, clock: Clock, history: tuple[Turn, ...], say: Callable[[str], None], *,
        user: User | None = None, use_model: bool = False,
    ) -> Outcome:
        """Every generator's candidates, each guarded and run read-only; the model consulted when the readings
        leave doubt; the best chosen by execution."""
        generators = self.settings.generator_list
        text = effective_question(question, history)
        today = self._today()
        since = time.perf_counter()
        reader = await anyio.to_thread.run_sync(self.reader, schema)
        model: SemanticModel = reader.model
        notes = [i.instruction.text for i in retrieval.instructions]  # their definitions ("AOV = ...") apply
        scope = {t.table.qualified_name for t in retrieval.tables} or None
        candidates: list[Candidate] = []
        if "reader" in generators:
            readings = await anyio.to_thread.run_sync(
                lambda: reader.read(text, today=today, limit=self.settings.reader_plans, scope=scope,
                                    instructions=notes))
            candidates += _read_candidates(readings, model)
        if "golden" in generators:
            candidates += _golden_candidates(text, retrieval, model)
        clock.lap("read_ms", since)
        terms = await anyio.to_thread.run_sync(lambda: reader.terms(text, today=today, instructions=notes, scope=scope))
        engine = await self._catalog.engine(connection.id, "check")
        since = time.perf_counter()
        checkable = sum(1 for c in candidates if c.sql)
        if checkable:
            say(f"Checking {checkable} candidate quer{'ies' if checkable != 1 else 'y'} against the database")
        await self._check(candidates, policy, engine, terms, model.dialect)
        clock.lap("check_ms", since)
        outcome = Outcome([], candidates=candidates)
        if use_model or self._consult_model(candidates):
            say(model_stage(self._model))
            check = partial(self._check, policy=policy, engine=engine, terms=terms, dialect=model.dialect)
            try:
                await self._model_candidates(outcome, question, text, retrieval, schema, model, policy, connection,
                                             clock, history, check)
            except (BusyError, InferenceTimeout, UnavailableError) as error:
                # the model is one generator among several: busy, too slow or gone, the others' answers stand
                if not any(c.ran and c.rows for c in candidates):
                    raise
                log.warning("the model failed (%s); choosing among the other candidates", error.detail)
                candidates.append(Candidate("model_sql", None, error=f"the model failed: {error.detail}"))
        trust = await self.trust_reading()
        for c in candidates:
            if c.generator == "model_sql" and c.note is None:
                c.note = f"model trust {trust.level}: {trust.why}"
        best = choose(candidates, trust=trust.level, expects_empty=bool(_NONE_EXPECTED.search(question)))
        best, verdict = await self._decide(text, reader, notes, today, candidates, best, connection, user, use_model,
                                           trust.level, scope)
        outcome.verdict = verdict
        if verdict is not None and verdict.status != ANSWERED:
            if best is not None:
                best.chosen = False
            outcome.error = verdict.message
            return outcome
        if best is None:
            errors = [c.error for c in candidates if c.error]
            outcome.error = errors[0] if errors else "the question could not be read, and no model candidate ran"
            return outcome
        outcome.validated = best.validated
        outcome.winner = best
        return outcome

    async def _model_candidates(self, outcome: Outcome, question: str, text: str, retrieval: Retrieval,
                                schema: PromptSchema, model: SemanticModel, policy: ConnectionPolicy,
                                connection: Connection, clock: Clock, history: tuple[Turn, ...],
                                check: Callable[..., Any]) -> None:
        """The model's candidates, added to the outcome's: its filled plan form, and its own SQL (repaired)."""
        generators, candidates = self.settings.generator_list, outcome.candidates
        if "model_plan" in generators:
            planned = await self._model_plan(text, retrieval, model, connection, clock)
            if planned is not None:
                await check([planned])
                candidates.append(planned)
        if "model_sql" in generators:
            generated = await self._generate(question, retrieval, schema, policy, connection, clock, history)
            outcome.attempts, outcome.prompt = generated.attempts, generated.prompt
            if generated.validated is not None:
                direct = Candidate("model_sql", generated.validated.sql, None, None, 0.8,
                                   validated=generated.validated)
                await check([direct], validated=True)
                candidates.append(direct)
                await self._record_agreement(direct, candidates, connection.id)
            elif generated.error:
                candidates.append(Candidate("model_sql", None, error=generated.error))

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
                result = run(candidate.validated, engine, timeout_s=timeout, max_rows=rows,
                             value_cap=self.settings.value_cap, max_bytes=self.settings.result_bytes)
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

    async def _golden_shortcut(
        self, retrieval: Retrieval, policy: ConnectionPolicy, connection: Connection, clock: Clock,
        question: str = "", schema: PromptSchema | None = None,
    ) -> Outcome | None:
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
        return Outcome([attempt], validated)

    # -- generation with repair -------------------------------------------------------------------


def _read_candidates(readings: list, model: SemanticModel) -> list[Candidate]:
    """The reader's plans, compiled by the product (a plan that doesn't compile stays, with why)."""
    out = []
    for reading in readings:
        try:
            sql = compile_plan(reading.plan, model)
        except CompileError as error:
            out.append(Candidate("reader", None, reading.plan.to_json(), reading.explanation, reading.score,
                                 error=f"not compiled: {error}"))
            continue
        out.append(Candidate("reader", sql, reading.plan.to_json(), reading.explanation, reading.score,
                             note=f"covers {reading.coverage:.0%} of the question",
                             left_out=tuple(dict.fromkeys((*reading.unread, *reading.dropped))),
                             read_words=reading.read_words))
    return out


def _golden_candidates(text: str, retrieval: Retrieval, model: SemanticModel) -> list[Candidate]:
    """The three closest golden queries, adapted to this question's values where they can be."""
    out = []
    for scored in sorted(retrieval.golden_queries, key=lambda g: -g.score)[:3]:
        if scored.score < 0.5:
            continue
        adapted = adapt_golden(text, scored.golden.question, scored.golden.sql, model)
        if adapted is not None:
            changes = ", ".join(f"{a} -> {b}" for a, b in adapted.replaced)
            out.append(Candidate("golden", adapted.sql, None, None, min(1.0, scored.score + 0.1),
                                 note=f"golden query {scored.golden.id} with {changes}"))
    return out


def _checked_question(question: str, connection_name: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise ValidationFailed("the question is empty; ask something about the data")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValidationFailed(f"the question is longer than {MAX_QUESTION_CHARS} characters; shorten it")
    if not (connection_name or "").strip():
        raise ValidationFailed("name the connection to ask (field `connection`)")
    return question


class _Filing:
    """A question's record in the answers table: what it was, what was retrieved and tried, and what won."""

    def __init__(self, service: SqlGenerationService, user: User, api_key_id: int | None, connection: Connection,
                 question: str, retrieval: Retrieval, clock: Clock) -> None:
        self._service, self._user, self._api_key_id = service, user, api_key_id
        self._connection, self._question, self._retrieval, self._clock = connection, question, retrieval, clock

    def _row(self, **values: object) -> AnswerRow:
        return AnswerRow(user_id=self._user.id, api_key_id=self._api_key_id, connection_id=self._connection.id,
                         connection_name=self._connection.name, question=self._question,
                         trace_id=current_trace_id(), created_at=utcnow(), **values)

    async def _add(self, row: AnswerRow) -> int:
        async with self._service._sessions() as db, db.begin():
            db.add(row)
        return row.id

    async def failure(self, detail: str) -> int:
        """File a question that got no answer at all (the model busy, too slow or gone); its id."""
        return await self._add(self._row(
            sql=None, verified=False, golden_query_id=None, status="failed", error=detail, attempts=[],
            retrieved=retrieved_summary(self._retrieval, None).to_json(), timings=self._clock.total()))

    async def outcome(self, outcome: Outcome, golden_id: int | None) -> SqlAnswer:
        """File the outcome; the answer, or SqlNotGenerated with what was tried."""
        winner = outcome.winner
        candidates = [c.to_json() for c in outcome.candidates or []]
        retrieved = retrieved_summary(self._retrieval, outcome.prompt)
        guided_by = tuple(g.id for g in outcome.prompt.golden_queries) if outcome.prompt else ()
        timings = self._clock.total() | {f"retrieval_{k}": v for k, v in self._retrieval.timings.items()}
        generator = "verified" if golden_id is not None else (winner.generator if winner else None)
        verdict = outcome.verdict
        if golden_id is not None:
            verdict = Verdict(ANSWERED, "a verified query", "all", "verified query: all of it")
        unanswered = verdict is not None and verdict.status != ANSWERED
        status = verdict.status if unanswered else ("ok" if outcome.validated else "failed")
        record_id = await self._add(self._row(
            sql=outcome.validated.sql if outcome.validated else None, verified=golden_id is not None,
            golden_query_id=golden_id, status=status, error=outcome.error,
            attempts=[a.to_json() for a in outcome.attempts],
            retrieved=retrieved.to_json() | {"guided_by": list(guided_by)}
            | ({"verdict": verdict.to_json()} if verdict else {}), timings=timings,
            plan=winner.plan if winner else None, explanation=winner.explanation if winner else None,
            generator=generator, candidates=candidates))
        if unanswered:
            note_outcome(verdict.status)
            raise Unanswered(verdict.message, extra={"answer_id": record_id, "verdict": verdict.to_json(),
                                                     "candidates": candidates})
        if outcome.validated is None:
            note_outcome("no valid sql")  # shown on the usage pages beside the request
            raise SqlNotGenerated(_why_not(outcome, candidates), extra={
                "answer_id": record_id, "attempts": [a.to_json() for a in outcome.attempts],
                "candidates": candidates, "retrieved": retrieved.to_json()})
        if golden_id is not None:
            note_outcome("verified query")
        return SqlAnswer(
            id=record_id, connection=self._connection.name, question=self._question, sql=outcome.validated.sql,
            verified=golden_id is not None, golden_query_id=golden_id, guided_by=guided_by,
            attempts=tuple(outcome.attempts), retrieved=retrieved, timings=timings, validated=outcome.validated,
            plan=winner.plan if winner else None, explanation=winner.explanation if winner else None,
            generator=generator, candidates=tuple(candidates), verdict=verdict.to_json() if verdict else None,
        )


def _why_not(outcome: Outcome, candidates: list[dict]) -> str:
    if outcome.attempts and all(c["generator"] == "model_sql" for c in candidates):
        n = len(outcome.attempts)
        return f"no valid SQL after {n} attempt{'s' * (n != 1)}: {outcome.error}"
    return f"no candidate query answered the question ({len(candidates)} tried): {outcome.error}"


def _cache_key(schema: PromptSchema, question: str, history: tuple[Turn, ...]) -> tuple:
    def norm(text: str) -> str:
        return " ".join(text.lower().split()).rstrip("?.!; ")

    return (schema.connection_id, schema.version, norm(question), tuple((norm(t.question), t.sql) for t in history))
