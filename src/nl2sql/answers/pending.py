"""Questions in flight on the ask page: answered in the background, polled by the page for their stages and then
their answer or error. The work runs in the process that took the question; its stages and its outcome are written
to the app database as they happen, so a poll that lands on another process behind a load balancer (or on this one
after a restart) is answered from there."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.answers.ask import AskResult
from nl2sql.answers.models import AskProgressRow
from nl2sql.auth import User
from nl2sql.db import utcnow
from nl2sql.errors import AppError, BusyError, NotFoundError, UnavailableError, ValidationFailed

__all__ = ["PendingAsk", "PendingAsks", "StoredAsk", "error_context"]

log = logging.getLogger("nl2sql.answers")

KEEP = timedelta(hours=1)  # how long a question's progress stays readable after it started
CANCELLED = "you cancelled the question; ask again when you like"
STOPPED = "the server stopped while answering this question: ask it again"


def error_context(error: BaseException) -> dict[str, Any]:
    """What the page shows of a failed question (JSON, so that it can be stored for another process's poll)."""
    if isinstance(error, AppError):
        extra = error.extra or {}
        return {"title": error.title, "detail": error.detail, "status": error.status_code,
                "attempts": _plain(extra.get("attempts") or []), "answer_id": extra.get("answer_id"),
                "thread_id": extra.get("thread_id"), "busy": isinstance(error, BusyError),
                "retry_after": getattr(error, "retry_after", None)}
    log.exception("asking failed", exc_info=error)
    return {"title": "Internal error", "detail": "something went wrong on our side; the error was logged",
            "status": 500, "attempts": [], "answer_id": None, "thread_id": None, "busy": False, "retry_after": None}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def _poll_ms(elapsed: float) -> int:
    """How long the page waits before asking again: often at first, then less as the wait grows."""
    return 500 if elapsed < 10 else 1000 if elapsed < 60 else 2000


@dataclass
class PendingAsk:
    """A question this process is answering."""

    token: str
    user_id: int
    question: str
    started: float
    stages: list[str] = field(default_factory=list)
    task: asyncio.Task | None = None
    ended_s: float | None = None  # seconds from the question to its result or error

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    @property
    def poll_ms(self) -> int:
        return _poll_ms(self.elapsed_s)

    @property
    def error(self) -> dict[str, Any] | None:
        """Once done: the error's context, or None when it was answered."""
        if self.task.cancelled():
            return error_context(ValidationFailed(CANCELLED)) | {"title": "Cancelled"}
        error = self.task.exception()
        return None if error is None else error_context(error)

    @property
    def result(self) -> AskResult | None:
        return self.task.result() if self.done and not self.task.cancelled() and self.task.exception() is None else None

    @property
    def answer_id(self) -> int | None:
        result = self.result
        return result.record.id if result is not None else None


@dataclass
class StoredAsk:
    """A question another process took (or this one before a restart), as the app database has it."""

    token: str
    user_id: int
    question: str
    stages: list[str]
    elapsed_s: float
    done: bool
    answer_id: int | None
    error: dict[str, Any] | None
    ended_s: float | None
    result = None  # the answer is read back by its id

    @property
    def poll_ms(self) -> int:
        return _poll_ms(self.elapsed_s)


class PendingAsks:
    """Questions in flight, by token: the ones this process works on in memory, every one in the app database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._items: dict[str, PendingAsk] = {}
        self._writes: set[asyncio.Task] = set()
        self._closing = False

    async def start(self, user: User, question: str, work: Callable[[Callable[[str], None]], Awaitable[AskResult]]
                    ) -> PendingAsk:
        self._forget_finished()
        pending = PendingAsk(secrets.token_urlsafe(12), user.id, question, time.monotonic(), ["Question received"])
        async with self._sessions() as db:
            await db.execute(sa.delete(AskProgressRow).where(AskProgressRow.started_at < utcnow() - KEEP))
            db.add(AskProgressRow(token=pending.token, user_id=user.id, question=question, stages=pending.stages,
                                  started_at=utcnow()))
            await db.commit()

        def progress(stage: str) -> None:
            pending.stages.append(stage)
            self._write(pending.token, stages=list(pending.stages))

        pending.task = asyncio.create_task(work(progress))
        pending.task.add_done_callback(lambda _: self._finished(pending))
        self._items[pending.token] = pending
        return pending

    async def get(self, user: User, token: str) -> PendingAsk | StoredAsk:
        pending = self._items.get(token)
        if pending is not None and pending.user_id == user.id and pending.done:
            return pending
        async with self._sessions() as db:
            row = await db.get(AskProgressRow, token)
        if pending is not None and pending.user_id == user.id:
            if row is not None and row.finished_at is not None:  # cancelled on another server: stop the work here
                pending.task.cancel()
            else:
                return pending
        if row is None or row.user_id != user.id or row.started_at < utcnow() - KEEP:
            raise NotFoundError("this question is no longer in progress: find it in History")
        ended = (row.finished_at - row.started_at).total_seconds() if row.finished_at else None
        return StoredAsk(row.token, row.user_id, row.question, list(row.stages),
                         (utcnow() - row.started_at).total_seconds(), row.finished_at is not None, row.answer_id,
                         row.error, ended)

    async def cancel(self, user: User, token: str) -> PendingAsk | StoredAsk:
        pending = await self.get(user, token)
        if isinstance(pending, PendingAsk):
            if not pending.done and pending.task is not None:
                pending.task.cancel()
        elif not pending.done:  # another process works on it: its outcome won't be shown any more
            await self._finish(token, error=error_context(ValidationFailed(CANCELLED)) | {"title": "Cancelled"})
        return pending

    def _finished(self, pending: PendingAsk) -> None:
        pending.ended_s = pending.elapsed_s
        error = pending.error
        if self._closing and pending.task.cancelled():
            error = error_context(UnavailableError(STOPPED)) | {"title": "Stopped"}
        self._write(pending.token, finish=True, answer_id=pending.answer_id, error=error)

    def _write(self, token: str, **values: Any) -> None:
        task = asyncio.create_task(self._store(token, **values))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _store(self, token: str, *, finish: bool = False, **values: Any) -> None:
        try:
            if finish:
                await self._finish(token, **values)
            else:
                async with self._sessions() as db:
                    updated = await db.execute(sa.update(AskProgressRow).where(
                        AskProgressRow.token == token, AskProgressRow.finished_at.is_(None)).values(**values))
                    await db.commit()
                pending = self._items.get(token)
                if updated.rowcount == 0 and pending is not None and not pending.done:
                    pending.task.cancel()  # it ended elsewhere (cancelled on another server): stop the work here
        except Exception:  # the page of this process still has it; another process's poll may wait longer
            log.warning("could not store the progress of question %s", token, exc_info=True)

    async def _finish(self, token: str, **values: Any) -> None:
        async with self._sessions() as db:
            await db.execute(sa.update(AskProgressRow).where(
                AskProgressRow.token == token, AskProgressRow.finished_at.is_(None)).values(finished_at=utcnow(),
                                                                                            **values))
            await db.commit()

    def _forget_finished(self) -> None:
        now = time.monotonic()
        for token, pending in list(self._items.items()):
            if pending.done and now - pending.started > KEEP.total_seconds():
                del self._items[token]

    async def close(self) -> None:
        """On shutdown: questions still being answered are stopped and recorded as such, so their polls end."""
        self._closing = True
        running = [p for p in self._items.values() if p.task is not None and not p.task.done()]
        for pending in running:
            pending.task.cancel()
        if running:
            await asyncio.gather(*(p.task for p in running), return_exceptions=True)
            await asyncio.sleep(0)  # their done callbacks queue the writes
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=5)
        self._items.clear()
