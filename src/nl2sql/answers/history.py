"""History of answers: one answer's full record, each user's past questions, admins' view of everyone's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.models import AnswerRow
from nl2sql.answers.models import ResultRow
from nl2sql.answers.verdict import Verdict, verdict_from_json
from nl2sql.auth import User
from nl2sql.catalog import CatalogService
from nl2sql.errors import ForbiddenError, NotFoundError, ValidationFailed

__all__ = ["AnswerRecord", "History", "HistoryEntry", "HistoryPage", "STATUSES", "status_of"]

# What a person sees as an answer's status: SQL and rows, SQL whose run failed, or no SQL at all.
STATUSES = ("ok", "query failed", "no SQL", "clarify", "refused")


def status_of(status: str, run_error: str | None) -> str:
    if status in ("clarify", "refused"):
        return status  # asked back or refused on purpose: not a failure
    if status != "ok":
        return "no SQL"
    return "query failed" if run_error else "ok"


ALTERNATIVE_MARGIN = 0.15  # a runner-up this close to the winner's score is offered as "did you mean"


@dataclass(frozen=True)
class AnswerRecord:
    """Everything recorded for one answer: the trace (attempts, retrieved, timings) and its result summary."""

    id: int
    user_id: int | None
    connection_id: int | None
    connection: str
    question: str
    sql: str | None
    source_sql: str | None
    verified: bool
    golden_query_id: int | None
    status: str
    error: str | None
    attempts: list[dict[str, Any]]
    retrieved: dict[str, Any]
    timings: dict[str, float]
    trace_id: str | None
    created_at: datetime
    thread_id: int | None
    source: str
    row_count: int | None
    truncated: bool
    columns: list[dict[str, str]]
    chart_kind: str | None
    run_error: str | None
    run_ms: float | None
    plan: dict[str, Any] | None = None
    explanation: str | None = None
    generator: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def display_status(self) -> str:
        return status_of(self.status, self.run_error)

    @property
    def guided_by(self) -> list[dict[str, Any]]:
        """Golden queries that were in the prompt (they guided a generated answer)."""
        ids = set(self.retrieved.get("guided_by") or ())
        return [g for g in self.retrieved.get("golden_queries", ()) if g.get("id") in ids]

    @property
    def alternatives(self) -> list[tuple[int, str]]:
        """Runners-up worth offering ("did you mean"): other readings that ran, found rows, differ from the
        winner and scored close to it; (candidate index, English line), best first, at most three."""
        chosen = next((c for c in self.candidates if c.get("chosen")), None)
        verdict = self.verdict
        if verdict is not None and verdict.status == "clarify" and self.source == "ask":
            # asked back: every reading that ran is a way forward, the best first
            ran = [(i, c) for i, c in enumerate(self.candidates)
                   if c.get("generator") == "reader" and c.get("explanation") and not c.get("error") and c.get("sql")]
            ran.sort(key=lambda item: -(item[1].get("score") or 0))
            return [(i, c["explanation"]) for i, c in ran[:3]]
        if chosen is None or self.source != "ask":
            return []
        close = [
            (i, c) for i, c in enumerate(self.candidates)
            if not c.get("chosen") and c.get("explanation") and c.get("rows") and not c.get("error")
            and c.get("sql") != chosen.get("sql") and c.get("explanation") != chosen.get("explanation")
            and (c.get("fingerprint") is None or c.get("fingerprint") != chosen.get("fingerprint"))  # other data
            and (c.get("score") or 0) >= (chosen.get("score") or 0) - ALTERNATIVE_MARGIN
        ]
        close.sort(key=lambda item: -(item[1].get("score") or 0))
        return [(i, c["explanation"]) for i, c in close[:3]]

    @property
    def verdict(self) -> Verdict | None:
        """Answered, clarified or refused, and how much of the question the answer covers (answers/verdict.py)."""
        return verdict_from_json(self.retrieved.get("verdict"))

    @property
    def cached_from(self) -> int | None:
        """The earlier answer whose chosen SQL this one reused (the same question on the same catalog)."""
        return self.retrieved.get("cached_from")

    @property
    def instructions(self) -> list[str]:
        """Instructions that were in the prompt."""
        return [i["name"] for i in self.retrieved.get("instructions", ()) if i.get("in_prompt")]

    @property
    def trust(self) -> tuple[str, str]:
        """(kind, label): verified, guided ("based on verified query: ...") or generated."""
        if self.verified:
            return "verified", "verified query"
        if self.source == "edit":
            return "edited", "edited by hand"
        if self.source == "sql":
            return "written", "SQL written by the caller, checked by the guard (no question read)"
        if self.generator == "golden":
            adapted = next((c.get("note") for c in self.candidates if c.get("chosen")), None) or "a verified query"
            return "adapted", f"based on a verified query, with this question's values ({adapted})"
        if self.source == "reading":
            return "read", "read from the question, reading changed by hand (no model)"
        if self.generator == "reader":
            return "read", "read from the question (no model)"
        if self.generator == "model_plan":
            return "generated", "plan filled by the model"
        guided = self.guided_by
        if guided:
            best = max(guided, key=lambda g: g.get("score") or 0)
            # the model saw it as an example; its SQL is its own, so it makes no claim to be that query
            return "guided", f"generated; the model was shown the verified example “{best['name']}”"
        if self.source == "edit":
            return "edited", "edited by hand"
        return "generated", "generated"


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    user_id: int | None
    connection: str
    question: str
    sql: str | None
    status: str
    error: str | None
    row_count: int | None
    truncated: bool
    columns: list[str]
    thread_id: int | None
    verified: bool
    created_at: datetime


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _record(answer: AnswerRow, result: ResultRow | None) -> AnswerRecord:
    return AnswerRecord(
        id=answer.id, user_id=answer.user_id, connection_id=answer.connection_id, connection=answer.connection_name,
        question=answer.question, sql=answer.sql, source_sql=result.source_sql if result else answer.sql,
        verified=answer.verified, golden_query_id=answer.golden_query_id, status=answer.status, error=answer.error,
        attempts=list(answer.attempts or []), retrieved=dict(answer.retrieved or {}), timings=dict(answer.timings or {}),
        trace_id=answer.trace_id, created_at=answer.created_at, thread_id=result.thread_id if result else None,
        source=result.source if result else "api", row_count=result.row_count if result else None,
        truncated=bool(result.truncated) if result else False, columns=list(result.columns or []) if result else [],
        chart_kind=result.chart_kind if result else None, run_error=result.error if result else None,
        run_ms=result.elapsed_ms if result else None,
        plan=answer.plan, explanation=answer.explanation, generator=answer.generator,
        candidates=list(answer.candidates or []),
    )


class History:
    """Reads answers with their result summaries; a user reaches only their own, admins everyone's."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: CatalogService) -> None:
        self._sessions = sessions
        self._catalog = catalog

    async def get(self, user: User, answer_id: int) -> AnswerRecord:
        """The answer if `user` asked it (or is an admin); 404 otherwise, so ids of others' answers don't leak."""
        async with self._sessions() as db:
            answer = await db.get(AnswerRow, answer_id)
            result = await db.get(ResultRow, answer_id) if answer is not None else None
        if answer is None or (answer.user_id != user.id and not user.is_admin):
            raise NotFoundError(f"no answer {answer_id}")
        # the grant is checked on every read: a revoked one hides the stored and cached results too
        if not await self._catalog.may_read(user, answer.connection_id):
            raise ForbiddenError(f"you no longer have access to connection {answer.connection_name}, so its answers "
                                 "are hidden; ask an admin for a grant")
        return _record(answer, result)

    async def last_connection(self, user: User) -> str | None:
        """The connection of the user's latest question (the ask page preselects it)."""
        async with self._sessions() as db:
            return await db.scalar(
                sa.select(AnswerRow.connection_name).where(AnswerRow.user_id == user.id)
                .order_by(AnswerRow.id.desc()).limit(1)
            )

    async def search(
        self,
        user: User,
        *,
        user_id: int | None = None,
        connection: str | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> HistoryPage:
        """Past answers, newest first: the user's own; an admin's view covers everyone (filter by `user_id`)."""
        if status and status not in STATUSES:
            raise ValidationFailed(f"status must be one of: {', '.join(STATUSES)}")
        if page < 1 or not 1 <= per_page <= 500:
            raise ValidationFailed("page must be 1 or more and per_page between 1 and 500")
        where = []
        if not user.is_admin:
            where.append(AnswerRow.user_id == user.id)
        elif user_id is not None:
            where.append(AnswerRow.user_id == user_id)
        if connection:
            where.append(AnswerRow.connection_name == connection)
        if status == "no SQL":
            where.append(AnswerRow.status.not_in(("ok", "clarify", "refused")))
        elif status in ("clarify", "refused"):
            where.append(AnswerRow.status == status)
        elif status == "query failed":
            where += [AnswerRow.status == "ok", ResultRow.error.is_not(None)]
        elif status == "ok":
            where += [AnswerRow.status == "ok", ResultRow.error.is_(None)]
        joined = sa.select(AnswerRow, ResultRow).outerjoin(ResultRow, ResultRow.answer_id == AnswerRow.id).where(*where)
        async with self._sessions() as db:
            total = await db.scalar(sa.select(sa.func.count()).select_from(joined.subquery()))
            rows = (
                await db.execute(joined.order_by(AnswerRow.id.desc()).offset((page - 1) * per_page).limit(per_page))
            ).all()
        entries = [
            HistoryEntry(
                id=a.id, user_id=a.user_id, connection=a.connection_name, question=a.question, sql=a.sql,
                status=status_of(a.status, r.error if r else None), error=(r.error if r and r.error else a.error),
                row_count=r.row_count if r else None, truncated=bool(r.truncated) if r else False,
                columns=[c["name"] for c in (r.columns if r else [])], thread_id=r.thread_id if r else None,
                verified=a.verified, created_at=a.created_at,
            )
            for a, r in rows
        ]
        return HistoryPage(entries, page, per_page, int(total or 0))

    async def connections_used(self) -> list[str]:
        async with self._sessions() as db:
            return list(await db.scalars(sa.select(AnswerRow.connection_name).distinct().order_by(AnswerRow.connection_name)))
