"""Conversation threads: a follow-up is asked with the earlier questions and SQL of its thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.models import AnswerRow
from nl2sql.answers.models import ResultRow, ThreadRow
from nl2sql.auth import User
from nl2sql.catalog import CatalogService
from nl2sql.db import utcnow
from nl2sql.errors import ForbiddenError, NotFoundError, ValidationFailed
from nl2sql.prompting import Turn

__all__ = ["Thread", "ThreadTurn", "Threads"]


@dataclass(frozen=True)
class Thread:
    """A conversation of one user on one connection."""

    id: int
    user_id: int
    connection_id: int
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ThreadTurn:
    """One earlier question of a thread, as the page lists it."""

    answer_id: int
    question: str
    sql: str | None
    status: str
    row_count: int | None
    created_at: datetime


def _thread(row: ThreadRow) -> Thread:
    return Thread(row.id, row.user_id, row.connection_id, row.title, row.created_at, row.updated_at)


class Threads:
    """Threads in the app database; a user sees only their own."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: CatalogService) -> None:
        self._sessions = sessions
        self._catalog = catalog

    async def get(self, user: User, thread_id: int) -> Thread:
        """The user's thread (admins may open anyone's); 404 otherwise."""
        async with self._sessions() as db:
            row = await db.get(ThreadRow, thread_id)
        if row is None or (row.user_id != user.id and not user.is_admin):
            raise NotFoundError(f"no thread {thread_id}")
        if not await self._catalog.may_read(user, row.connection_id):
            raise ForbiddenError("you no longer have access to this thread's connection; ask an admin for a grant")
        return _thread(row)

    async def for_question(self, user: User, thread_id: int | None, connection_id: int) -> Thread | None:
        """The thread a question continues, checked: the user's own, on the same connection; None starts a new one."""
        if thread_id is None:
            return None
        thread = await self.get(user, thread_id)
        if thread.user_id != user.id:
            raise NotFoundError(f"no thread {thread_id}")
        if thread.connection_id != connection_id:
            raise ValidationFailed("that thread is on another connection: start a new thread to ask this connection")
        return thread

    async def start(self, db: AsyncSession, user: User, connection_id: int, title: str) -> int:
        """A new thread inside the caller's transaction; its id."""
        now = utcnow()
        row = ThreadRow(user_id=user.id, connection_id=connection_id, title=title[:200], created_at=now, updated_at=now)
        db.add(row)
        await db.flush()
        return row.id

    @staticmethod
    async def touch(db: AsyncSession, thread_id: int) -> None:
        await db.execute(sa.update(ThreadRow).where(ThreadRow.id == thread_id).values(updated_at=utcnow()))

    async def turns(self, thread_id: int, limit: int) -> tuple[Turn, ...]:
        """The last `limit` answered questions of the thread with their SQL, oldest first, for the prompt."""
        if limit <= 0:
            return ()
        async with self._sessions() as db:
            rows = (
                await db.execute(
                    sa.select(AnswerRow.question, AnswerRow.sql)
                    .join(ResultRow, ResultRow.answer_id == AnswerRow.id)
                    .where(ResultRow.thread_id == thread_id, AnswerRow.sql.is_not(None))
                    .order_by(AnswerRow.id.desc())
                    .limit(limit)
                )
            ).all()
        return tuple(Turn(question=q, sql=s) for q, s in reversed(rows))

    async def listing(self, thread_id: int, *, before: int | None = None) -> list[ThreadTurn]:
        """Every question of the thread (before answer `before`, when given), oldest first."""
        query = (
            sa.select(AnswerRow.id, AnswerRow.question, AnswerRow.sql, AnswerRow.status, ResultRow.row_count,
                      ResultRow.error, AnswerRow.created_at)
            .join(ResultRow, ResultRow.answer_id == AnswerRow.id)
            .where(ResultRow.thread_id == thread_id)
            .order_by(AnswerRow.id)
        )
        if before is not None:
            query = query.where(AnswerRow.id < before)
        async with self._sessions() as db:
            rows = (await db.execute(query)).all()
        return [
            ThreadTurn(i, q, s, _shown_status(status, error), n, at)
            for i, q, s, status, n, error, at in rows
        ]


def _shown_status(status: str, error: str | None) -> str:
    if status in ("clarify", "refused"):
        return status  # asked back or refused on purpose
    if status != "ok":
        return "no SQL"
    return "query failed" if error else "ok"
