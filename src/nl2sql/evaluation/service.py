"""Evaluation runs: a question set (question, gold SQL, category, instructions) run through the real engine on a
connection, each answer and gold alternative executed read-only and judged; runs are stored and compared."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers import ConnectionPolicy, SqlGenerationService, SqlNotGenerated, guard_policy, policy_for_user
from nl2sql.auth import AuthService, User
from nl2sql.catalog import CatalogService
from nl2sql.db import utcnow
from nl2sql.errors import AppError, ConflictError, NotFoundError, ValidationFailed
from nl2sql.evaluation.judge import Table, asks_for_order, gold_alternatives, match, normal, order_index
from nl2sql.evaluation.models import EvalItemRow, EvalRunRow
from nl2sql.evaluation.runs import Comparison, EvalQuestion, EvalRun, Flip, Trial, run_of
from nl2sql.sqlguard import QueryFailed, QueryTimeout, SqlRefused, run, validate

__all__ = ["EvaluationService"]

log = logging.getLogger("nl2sql.evaluation")

MAX_QUESTIONS = 2000
GOLD_ROWS = 100_000  # gold and predicted results are compared whole, up to this many rows
TIMEOUT_S = 30.0

_QUESTION = ("question",)
_GOLD = ("query", "gold_sql", "sql", "gold")
_CATEGORY = ("query_category", "category")


class EvaluationService:
    """Creates, runs, lists and compares evaluation runs. `start` queues a run as a background job when a job
    queue is given; `execute` runs one to the end in this process (the CLI, the job, the tests)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: CatalogService, answers: SqlGenerationService,
                 auth: AuthService, *, defer: Callable[..., Any] | None = None) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._answers = answers
        self._auth = auth
        self._defer = defer  # async (run_id) -> None: queue the run (the app's job queue)

    async def create(self, actor: User, connection_name: str, questions: list[EvalQuestion], *, name: str,
                     limit: int | None = None, kind: str = "questions", trial_of: int | None = None) -> EvalRun:
        connection = await self._catalog.visible_connection(actor, (connection_name or "").strip())
        if limit is not None:
            if limit < 1:
                raise ValidationFailed("limit must be at least 1")
            questions = questions[:limit]
        if not questions:
            raise ValidationFailed("no questions to run")
        engine = await self._engine_facts()
        async with self._sessions() as db, db.begin():
            row = EvalRunRow(name=(name or "evaluation")[:200], kind=kind, connection_id=connection.id,
                             connection_name=connection.name, created_by=actor.id, status="queued",
                             total=len(questions), done=0, correct=0, engine=engine, created_at=utcnow(),
                             trial_of=trial_of)
            db.add(row)
            await db.flush()
            for position, q in enumerate(questions, start=1):
                db.add(EvalItemRow(run_id=row.id, position=position, question=q.question, gold_sql=q.gold_sql,
                                   category=q.category, instructions=q.instructions, state="pending",
                                   holdout=q.holdout))
        return await self.get(row.id)

    async def start(self, actor: User, connection_name: str, questions: list[EvalQuestion], *, name: str,
                    limit: int | None = None) -> EvalRun:
        run_ = await self.create(actor, connection_name, questions, name=name, limit=limit)
        if self._defer is not None:
            await self._defer(run_.id)
        return run_

    async def start_regression(self, actor: User, connection_name: str) -> EvalRun:
        """Re-ask every golden query's question of the connection as if that query did not exist (no golden
        shortcut, not shown to the model, not adapted) and compare the results with its verified SQL."""
        connection = await self._catalog.visible_connection(actor, (connection_name or "").strip())
        questions = await self.golden_questions(actor, connection.name)
        if not questions:
            raise ConflictError(f"connection {connection.name} has no golden queries to check")
        run_ = await self.create(actor, connection.name, questions, name=f"golden regression {connection.name}",
                                 kind="golden")
        if self._defer is not None:
            await self._defer(run_.id)
        return run_

    async def _engine_facts(self) -> dict[str, Any]:
        """What the run is measuring besides the knowledge: the model, its trust, the generators and the prompt
        (a run made with other settings, e.g. `nl2sql eval` with a candidate model, compares with the live one)."""
        settings = self._answers.settings
        status = await self._answers.trust_reading()
        try:
            model = self._answers.model_name()
        except Exception:  # a model that can't describe itself is still evaluated
            model = None
        return {"generators": settings.generators, "model_when": settings.model_when, "trust": status.level,
                "model": model, "prompt_template": settings.prompt_template}

    # trials: a knowledge draft measured against the live connection before it is published ----------------

    async def golden_questions(self, actor: User, connection_name: str) -> list[EvalQuestion]:
        """The connection's golden queries as a question set, each asked as if it did not exist (a regression)."""
        connection = await self._catalog.visible_connection(actor, (connection_name or "").strip())
        return [EvalQuestion(g.question, g.sql, "golden query", holdout=True)
                for g in await self._catalog.golden_queries(connection.id)]

    async def trial_questions(self, actor: User, connection_name: str) -> list[EvalQuestion]:
        """What a trial runs: the connection's golden queries (its draft's, when `connection_name` names a draft),
        each asked as if it did not exist, then the questions of the latest run of each stored evaluation set of
        the live connection (a question already asked is not asked twice)."""
        connection = await self._catalog.visible_connection(actor, (connection_name or "").strip())
        live_id = connection.draft_of or connection.id
        questions = await self.golden_questions(actor, connection.name)
        seen = {" ".join(q.question.lower().split()) for q in questions}
        async with self._sessions() as db:
            runs = list(await db.scalars(sa.select(EvalRunRow).where(
                EvalRunRow.connection_id == live_id, EvalRunRow.kind == "questions")
                .order_by(EvalRunRow.id.desc())))
            latest: dict[str, int] = {}
            for row in runs:
                latest.setdefault(row.name, row.id)
            items = list(await db.scalars(sa.select(EvalItemRow).where(EvalItemRow.run_id.in_(latest.values()))
                                          .order_by(EvalItemRow.run_id.desc(), EvalItemRow.position)))
        for item in items:
            key = " ".join(item.question.lower().split())
            if key not in seen:
                seen.add(key)
                questions.append(EvalQuestion(item.question, item.gold_sql, item.category, item.instructions,
                                              bool(item.holdout)))
        return questions

    async def start_trial(self, actor: User, connection_name: str) -> Trial:
        """Run the trial question set on the live connection and on its draft, side by side (two background
        runs); `trial` shows the scores and the questions the draft fixes or breaks."""
        draft = await self._catalog.draft(connection_name)
        await self._catalog.visible_connection(actor, draft.live.name)
        questions = await self.trial_questions(actor, draft.connection.name)
        if not questions:
            raise ConflictError(f"nothing to try the draft on: connection {draft.live.name} has no golden queries "
                                "and no stored evaluation set (add golden queries to the draft, or run an "
                                "evaluation first)")
        live = await self.create(actor, draft.live.name, questions, name=f"trial {draft.live.name}: live",
                                 kind="trial")
        after = await self.create(actor, draft.connection.name, questions, name=f"trial {draft.live.name}: draft",
                                  kind="trial", trial_of=live.id)
        if self._defer is not None:
            await self._defer(live.id)
            await self._defer(after.id)
        return await self._trial(after.id, draft.changed_at)

    async def trial(self, connection_name: str) -> Trial | None:
        """The latest trial of the connection's current draft (None before the first)."""
        draft = await self._catalog.draft(connection_name)
        async with self._sessions() as db:
            run_id = await db.scalar(sa.select(EvalRunRow.id).where(
                EvalRunRow.connection_id == draft.connection.id, EvalRunRow.trial_of.is_not(None))
                .order_by(EvalRunRow.id.desc()).limit(1))
        return None if run_id is None else await self._trial(run_id, draft.changed_at)

    async def _trial(self, draft_run_id: int, changed_at: dt.datetime) -> Trial:
        after = await self.get(draft_run_id)
        comparison = await self.compare(after.trial_of, after.id)
        return Trial(comparison.before, after, comparison, stale=changed_at > after.created_at)

    async def regress_all(self) -> list[int]:
        """The nightly check: a golden regression of every connection that has golden queries, run as the first
        active admin."""
        admins = [u for u in await self._auth.list_users() if u.is_admin and u.is_active]
        if not admins:
            return []
        started = []
        for connection in await self._catalog.list_connections():
            if await self._catalog.golden_queries(connection.id):
                started.append((await self.start_regression(admins[0], connection.name)).id)
        return started

    async def trend(self, connection_name: str | None = None, *, limit: int = 60) -> dict[str, list[EvalRun]]:
        """Finished golden regressions per connection, oldest first (the score over time)."""
        query = sa.select(EvalRunRow).where(EvalRunRow.kind == "golden", EvalRunRow.status == "done")
        if connection_name:
            query = query.where(EvalRunRow.connection_name == connection_name)
        async with self._sessions() as db:
            rows = list(await db.scalars(query.order_by(EvalRunRow.id.desc()).limit(limit * 20)))
        out: dict[str, list[EvalRun]] = defaultdict(list)
        for row in reversed(rows):
            out[row.connection_name].append(run_of(row))
        return {k: v[-limit:] for k, v in sorted(out.items())}

    async def resume_unfinished(self) -> list[int]:
        """Queue again the runs a stopped process left queued or running (each continues where it stopped)."""
        async with self._sessions() as db:
            ids = list(await db.scalars(sa.select(EvalRunRow.id).where(EvalRunRow.status.in_(("queued", "running")))))
        if self._defer is not None:
            for run_id in ids:
                await self._defer(run_id)
        return ids

    async def get(self, run_id: int) -> EvalRun:
        async with self._sessions() as db:
            row = await db.get(EvalRunRow, run_id)
            if row is None:
                raise NotFoundError(f"evaluation run {run_id} not found")
            items = list(await db.scalars(sa.select(EvalItemRow).where(EvalItemRow.run_id == run_id)
                                          .order_by(EvalItemRow.position)))
        return run_of(row, items)

    async def runs(self, *, limit: int = 100) -> list[EvalRun]:
        async with self._sessions() as db:
            rows = await db.scalars(sa.select(EvalRunRow).order_by(EvalRunRow.id.desc()).limit(limit))
            return [run_of(r) for r in rows]

    async def cancel(self, run_id: int) -> EvalRun:
        async with self._sessions() as db, db.begin():
            row = await db.get(EvalRunRow, run_id)
            if row is None:
                raise NotFoundError(f"evaluation run {run_id} not found")
            if row.status in ("done", "failed", "cancelled"):
                raise ConflictError(f"evaluation run {run_id} has already ended ({row.status})")
            row.status, row.finished_at = "cancelled", utcnow()
        return await self.get(run_id)

    async def compare(self, before_id: int, after_id: int) -> Comparison:
        before, after = await self.get(before_id), await self.get(after_id)
        earlier = {i.question: i.correct for i in before.items if i.state == "judged"}
        fixed, broken, unchanged = [], [], 0
        for item in after.items:
            if item.state != "judged" or item.question not in earlier:
                continue
            was = earlier[item.question]
            if bool(was) == bool(item.correct):
                unchanged += 1
            elif item.correct:
                fixed.append(Flip(item.question, was, item.correct))
            else:
                broken.append(Flip(item.question, was, item.correct))
        return Comparison(before, after, fixed, broken, unchanged)

    async def execute(self, run_id: int, *, progress: Callable[[EvalRun], None] | None = None) -> EvalRun:
        """Answer and judge every pending question of the run, one at a time, saving each verdict as it comes
        (a reload shows the progress; a restarted job goes on where it stopped). Stops when the run is cancelled."""
        async with self._sessions() as db, db.begin():
            row = await db.get(EvalRunRow, run_id)
            if row is None:
                raise NotFoundError(f"evaluation run {run_id} not found")
            if row.status in ("done", "cancelled"):
                return await self.get(run_id)
            row.status, row.started_at = "running", row.started_at or utcnow()
            connection_name, creator, kind = row.connection_name, row.created_by, row.kind
        try:
            actor = await self._auth.get_user(creator)
            connection = await self._catalog.visible_connection(actor, connection_name)
            async with self._sessions() as db:
                pending = [(i.id, i.question, i.gold_sql, i.category, i.instructions, i.holdout or kind == "golden")
                           for i in await db.scalars(
                    sa.select(EvalItemRow).where(EvalItemRow.run_id == run_id, EvalItemRow.state == "pending")
                    .order_by(EvalItemRow.position))]
            for item_id, question, gold_sql, category, instructions, holdout in pending:
                async with self._sessions() as db:
                    if (await db.get(EvalRunRow, run_id)).status == "cancelled":
                        return await self.get(run_id)
                verdict = await self._judge(actor, connection.id, connection.name, question, gold_sql, category,
                                            instructions, golden=holdout)
                async with self._sessions() as db, db.begin():
                    item = await db.get(EvalItemRow, item_id)
                    for key, value in verdict.items():
                        setattr(item, key, value)
                    item.state = "judged"
                    row = await db.get(EvalRunRow, run_id)
                    row.done += 1
                    row.correct += 1 if verdict["correct"] else 0
                if progress is not None:
                    progress(await self.get(run_id))
        except Exception as error:
            async with self._sessions() as db, db.begin():
                row = await db.get(EvalRunRow, run_id)
                row.status, row.finished_at = "failed", utcnow()
                row.error = error.detail if isinstance(error, AppError) else f"{type(error).__name__}: {error}"
            log.exception("evaluation run %s failed", run_id)
            return await self.get(run_id)
        async with self._sessions() as db, db.begin():
            row = await db.get(EvalRunRow, run_id)
            if row.status == "running":
                row.status, row.finished_at = "done", utcnow()
        return await self.get(run_id)

    async def _judge(self, actor: User, connection_id: int, connection_name: str, question: str, gold_sql: str,
                     category: str | None, instructions: str | None, *, golden: bool = False) -> dict[str, Any]:
        started = time.perf_counter()
        out: dict[str, Any] = {"predicted_sql": None, "explanation": None, "generator": None, "answer_id": None,
                               "correct": False, "match": None, "reason": None}
        schema = await self._catalog.schema_for_prompt(connection_id)
        # the gold and the predicted rows both as the run's user may see them (their row policies and masks)
        policy = (await policy_for_user(self._catalog, ConnectionPolicy(guard_policy(
            schema, GOLD_ROWS, self._answers.settings.extra_function_set)), actor, schema)).policy
        engine = await self._catalog.engine(connection_id)
        golds, gold_errors = [], []
        # a golden query is one verified statement, taken as written
        for alternative in [gold_sql] if golden else gold_alternatives(gold_sql):
            try:
                golds.append(await anyio.to_thread.run_sync(self._table, alternative, policy, engine, schema.dialect))
            except (SqlRefused, QueryFailed, QueryTimeout) as error:
                gold_errors.append(error.detail)
        text = f"{question} ({instructions})" if instructions else question
        try:
            answer = await self._answers.generate_sql(actor, text, connection_name,
                                                      holdout=gold_sql if golden else None)
        except SqlNotGenerated as error:
            out["reason"] = f"no SQL: {error.detail}"
            out["answer_id"] = (error.extra or {}).get("answer_id")
        except AppError as error:
            out["reason"] = f"{error.title}: {error.detail}"
        else:
            out |= {"predicted_sql": answer.sql, "explanation": answer.explanation, "generator": answer.generator,
                    "answer_id": answer.id}
            if not golds:
                out["reason"] = "the gold SQL failed: " + "; ".join(dict.fromkeys(gold_errors))
            else:
                try:
                    predicted = await anyio.to_thread.run_sync(self._table, answer.sql, policy, engine,
                                                               schema.dialect)
                except (SqlRefused, QueryFailed, QueryTimeout) as error:
                    out["reason"] = f"the predicted SQL failed: {error.detail}"
                else:
                    found = match(predicted, golds, asks_for_order(question, category))
                    out["correct"], out["match"] = found is not None, found
                    if found is None:
                        out["reason"] = _why(predicted, golds)
        out["seconds"] = round(time.perf_counter() - started, 3)
        return out

    @staticmethod
    def _table(sql: str, policy, engine, dialect: str) -> Table:
        validated = validate(sql, policy)
        result = run(validated, engine, timeout_s=TIMEOUT_S, max_rows=GOLD_ROWS)
        columns = tuple(c.name for c in result.columns)
        rows = tuple(tuple(normal(v) for v in r) for r in result.rows)
        return Table(columns, rows, order_index(sql, columns, dialect))


def _why(predicted: Table, golds: list[Table]) -> str:
    gold = golds[0]
    if not predicted.rows and gold.rows:
        return f"no rows; the gold has {len(gold.rows)}"
    if len(predicted.deduplicated().rows) != len(gold.deduplicated().rows):
        return f"{len(predicted.deduplicated().rows)} distinct rows; the gold has {len(gold.deduplicated().rows)}"
    if len(predicted.columns) < len(gold.columns):
        return f"{len(predicted.columns)} columns; the gold has {len(gold.columns)}"
    return "different values (or order, where the question asks for one)"
