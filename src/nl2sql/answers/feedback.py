"""Feedback on answers: thumbs up or down with a comment and corrected SQL; admins review, promote or dismiss it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.history import History
from nl2sql.answers.models import AnswerRow
from nl2sql.answers.models import FeedbackRow
from nl2sql.audit import record as audit
from nl2sql.auth import User
from nl2sql.catalog import CatalogService, GoldenQuery
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, NotFoundError, ValidationFailed

__all__ = ["Feedback", "FeedbackFilter", "FeedbackService", "RATINGS"]

RATINGS = {"up": 1, "down": -1}
MAX_COMMENT = 2000
MAX_SQL = 20000


@dataclass(frozen=True)
class Feedback:
    id: int
    answer_id: int
    user_id: int
    rating: str  # "up" or "down"
    comment: str | None
    corrected_sql: str | None
    state: str  # open, promoted, dismissed
    golden_query_id: int | None
    created_at: datetime
    updated_at: datetime
    # the answer it is about
    question: str
    sql: str | None
    connection: str
    connection_id: int | None


@dataclass(frozen=True)
class FeedbackFilter:
    connection: str | None = None
    user_id: int | None = None
    rating: str | None = None
    state: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


def _feedback(row: FeedbackRow, answer: AnswerRow) -> Feedback:
    return Feedback(
        id=row.id, answer_id=row.answer_id, user_id=row.user_id, rating="up" if row.rating > 0 else "down",
        comment=row.comment, corrected_sql=row.corrected_sql, state=row.state, golden_query_id=row.golden_query_id,
        created_at=row.created_at, updated_at=row.updated_at, question=answer.question, sql=answer.sql,
        connection=answer.connection_name, connection_id=answer.connection_id,
    )


class FeedbackService:
    """Feedback tied to the exact answer record; promotion goes through the catalog's golden-query check."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: CatalogService) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._history = History(sessions, catalog)

    async def give(
        self, user: User, answer_id: int, rating: str, comment: str | None = None, corrected_sql: str | None = None
    ) -> Feedback:
        """Record (or replace) the user's feedback on one of their answers."""
        if rating not in RATINGS:
            raise ValidationFailed("rating must be `up` or `down`")
        comment = (comment or "").strip() or None
        corrected_sql = (corrected_sql or "").strip() or None
        if comment and len(comment) > MAX_COMMENT:
            raise ValidationFailed(f"the comment may have at most {MAX_COMMENT} characters")
        if corrected_sql and len(corrected_sql) > MAX_SQL:
            raise ValidationFailed(f"the corrected SQL may have at most {MAX_SQL} characters")
        await self._history.get(user, answer_id)  # 404 unless the user may see the answer
        now = utcnow()
        async with self._sessions() as db, db.begin():
            row = await db.scalar(
                sa.select(FeedbackRow).where(FeedbackRow.answer_id == answer_id, FeedbackRow.user_id == user.id)
            )
            if row is None:
                row = FeedbackRow(answer_id=answer_id, user_id=user.id, created_at=now, state="open")
                db.add(row)
            row.rating, row.comment, row.corrected_sql, row.updated_at = RATINGS[rating], comment, corrected_sql, now
            if row.state != "promoted":
                row.state = "open"
            await db.flush()
            answer = await db.get(AnswerRow, answer_id)
            return _feedback(row, answer)

    async def counts(self, since: datetime, until: datetime, user_id: int | None = None) -> tuple[int, int]:
        """Thumbs up and thumbs down given in [since, until), optionally by one user (for the usage pages)."""
        where = [FeedbackRow.created_at >= since, FeedbackRow.created_at < until]
        if user_id is not None:
            where.append(FeedbackRow.user_id == user_id)
        async with self._sessions() as db:
            up, down = (
                await db.execute(
                    sa.select(
                        sa.func.count().filter(FeedbackRow.rating > 0), sa.func.count().filter(FeedbackRow.rating < 0)
                    ).where(*where)
                )
            ).one()
        return int(up), int(down)

    async def get(self, feedback_id: int) -> Feedback:
        async with self._sessions() as db:
            found = (
                await db.execute(
                    sa.select(FeedbackRow, AnswerRow).join(AnswerRow, AnswerRow.id == FeedbackRow.answer_id)
                    .where(FeedbackRow.id == feedback_id)
                )
            ).first()
        if found is None:
            raise NotFoundError(f"no feedback {feedback_id}")
        return _feedback(*found)

    async def for_answer(self, user: User, answer_id: int) -> Feedback | None:
        async with self._sessions() as db:
            found = (
                await db.execute(
                    sa.select(FeedbackRow, AnswerRow).join(AnswerRow, AnswerRow.id == FeedbackRow.answer_id)
                    .where(FeedbackRow.answer_id == answer_id, FeedbackRow.user_id == user.id)
                )
            ).first()
        return _feedback(*found) if found else None

    async def search(self, filters: FeedbackFilter, *, page: int = 1, per_page: int = 50) -> tuple[list[Feedback], int]:
        """Feedback for admins, newest first, with the total that matched."""
        where = []
        if filters.connection:
            where.append(AnswerRow.connection_name == filters.connection)
        if filters.user_id is not None:
            where.append(FeedbackRow.user_id == filters.user_id)
        if filters.rating:
            if filters.rating not in RATINGS:
                raise ValidationFailed("rating must be `up` or `down`")
            where.append(FeedbackRow.rating == RATINGS[filters.rating])
        if filters.state:
            where.append(FeedbackRow.state == filters.state)
        if filters.since:
            where.append(FeedbackRow.created_at >= datetime.combine(filters.since, dt.time(), dt.UTC))
        if filters.until:
            where.append(FeedbackRow.created_at < datetime.combine(filters.until + dt.timedelta(days=1), dt.time(), dt.UTC))
        query = sa.select(FeedbackRow, AnswerRow).join(AnswerRow, AnswerRow.id == FeedbackRow.answer_id).where(*where)
        async with self._sessions() as db:
            total = await db.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
            rows = (await db.execute(query.order_by(FeedbackRow.id.desc()).offset((page - 1) * per_page).limit(per_page))).all()
        return [_feedback(f, a) for f, a in rows], int(total or 0)

    async def promote(self, admin: User, feedback_id: int, question: str | None = None) -> GoldenQuery:
        """Make the answer a golden query: the corrected SQL if given, else the answer's; the catalog checks it."""
        item = await self.get(feedback_id)
        if item.state == "promoted":
            raise ConflictError(f"feedback {feedback_id} was already promoted (golden query {item.golden_query_id})")
        if item.connection_id is None:
            raise NotFoundError("the answer's connection no longer exists")
        record = await self._history.get(admin, item.answer_id)
        sql = item.corrected_sql or record.source_sql or record.sql
        if not sql:
            raise ValidationFailed("the answer has no SQL and the feedback gives none: nothing to promote")
        golden = await self._catalog.add_golden_query(admin, item.connection_id, (question or item.question).strip(), sql)
        await self._resolve(admin, feedback_id, "promoted", golden.id)
        return golden

    async def dismiss(self, admin: User, feedback_id: int) -> None:
        await self.get(feedback_id)
        await self._resolve(admin, feedback_id, "dismissed", None)

    async def _resolve(self, admin: User, feedback_id: int, state: str, golden_id: int | None) -> None:
        now = utcnow()
        async with self._sessions() as db, db.begin():
            row = await db.get(FeedbackRow, feedback_id)
            before = {"state": row.state}
            row.state, row.golden_query_id, row.resolved_by, row.resolved_at, row.updated_at = (
                state, golden_id, admin.id, now, now
            )
            audit(db, actor_id=admin.id, actor_email=admin.email, action=f"answers.feedback.{state}",
                  target=f"feedback:{feedback_id}", before=before, after={"state": state, "golden_query_id": golden_id})
