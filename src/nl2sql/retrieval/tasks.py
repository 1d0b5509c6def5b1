"""Background re-embedding: catalog changes defer `retrieval:reindex`, which brings vectors to the new version."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from procrastinate.exceptions import AlreadyEnqueued

from nl2sql.errors import NotFoundError
from nl2sql.jobs import Blueprint, JobContext

log = logging.getLogger("nl2sql.retrieval")

blueprint = Blueprint()


class ReindexQueue(Protocol):
    """Where reindex jobs go (app.py passes its Jobs)."""

    async def defer(self, task: str, *, queueing_lock: str | None = None, **kwargs: Any) -> int: ...


@blueprint.task(name="reindex", pass_context=True)
async def reindex_task(context: JobContext, connection_id: int) -> None:
    """Embed what changed in the connection's catalog (the retriever would otherwise do it on the next question)."""
    retriever = context.additional_context["retrieval"]
    try:
        count = await retriever.refresh(connection_id)
    except NotFoundError:
        await retriever.index.forget(connection_id)
        return
    log.info("reindexed connection %s: %d items embedded", connection_id, count)


class Reindexer:
    """A catalog change listener that queues a reindex job per connection (coalesced while one waits)."""

    def __init__(self, jobs: ReindexQueue) -> None:
        self._jobs = jobs

    async def __call__(self, connection_id: int) -> None:
        try:
            await self._jobs.defer(
                "retrieval:reindex", queueing_lock=f"retrieval-reindex-{connection_id}", connection_id=connection_id
            )
        except AlreadyEnqueued:  # one job already waits for this connection and will see this change too
            pass
