"""Background re-embedding: catalog changes defer `retrieval:reindex`, which brings vectors to the new version."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from procrastinate.exceptions import AlreadyEnqueued

from nl2sql.errors import NotFoundError
from nl2sql.jobs import Blueprint, JobContext

log = logging.getLogger("nl2sql.retrieval")


class ReindexQueue(Protocol):
    """Where reindex jobs are queued (nl2sql.jobs.Jobs)."""

    async def defer(self, task: str, **kwargs: Any) -> int: ...


async def reindex(retriever: Any, connection_id: int) -> None:
    """Embed what changed in the connection's catalog (the retriever would otherwise do it on the next question)."""
    try:
        count = await retriever.refresh(connection_id)
    except NotFoundError:
        await retriever.index.forget(connection_id)
        return
    log.info("reindexed connection %s: %d items embedded", connection_id, count)


def jobs_blueprint() -> Blueprint:
    """Retrieval's tasks, fresh per app (a procrastinate blueprint binds to the first app it joins)."""
    blueprint = Blueprint()

    @blueprint.task(name="reindex", pass_context=True)
    async def reindex_task(context: JobContext, connection_id: int) -> None:
        """Job "retrieval:reindex": bring one connection's vectors to its catalog version."""
        await reindex(context.additional_context["retrieval"], connection_id)

    return blueprint


class Reindexer:
    """A catalog change listener that queues one delayed reindex job per connection.

    The delay gathers a burst of edits (a sync, then an import) into one job: changes arriving
    while the job waits are covered by it (procrastinate's queueing lock keeps a second one out).
    """

    def __init__(self, jobs: ReindexQueue, *, delay_seconds: int = 30) -> None:
        self._jobs = jobs
        self._delay = delay_seconds

    async def __call__(self, connection_id: int) -> None:
        try:
            await self._jobs.defer(
                "retrieval:reindex",
                queueing_lock=f"retrieval-reindex-{connection_id}",
                schedule_in={"seconds": self._delay},
                connection_id=connection_id,
            )
        except AlreadyEnqueued:  # one job already waits for this connection and will see this change too
            pass
