"""Background jobs on the app database (procrastinate): modules bring task blueprints, the app runs a worker."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import procrastinate
from sqlalchemy.engine import URL

from nl2sql.db import libpq_uri

__all__ = ["Blueprint", "JobContext", "Jobs"]

Blueprint = procrastinate.Blueprint
JobContext = procrastinate.JobContext

log = logging.getLogger("nl2sql.jobs")


class Jobs:
    """Defer jobs and run an in-process worker; several containers share the same queue table.

    Tasks receive the services they need through `context.additional_context` (set by app.py),
    so task code never reaches for globals.
    """

    def __init__(self, url: URL, blueprints: dict[str, procrastinate.Blueprint], *, concurrency: int = 2) -> None:
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq_uri(url)))
        for namespace, blueprint in blueprints.items():
            self.app.add_tasks_from(blueprint, namespace=namespace)
        self._concurrency = concurrency
        self._worker: asyncio.Task | None = None
        self._opened = False

    async def open(self) -> None:
        await self.app.open_async()
        self._opened = True

    def start_worker(self, context: dict[str, Any]) -> None:
        """Run a worker in this process until close()."""
        self._worker = asyncio.create_task(
            self.app.run_worker_async(
                concurrency=self._concurrency,
                wait=True,
                install_signal_handlers=False,
                additional_context=context,
                listen_notify=True,
                delete_jobs="successful",
            ),
            name="nl2sql-jobs-worker",
        )

    async def defer(
        self, task: str, *, lock: str | None = None, queueing_lock: str | None = None,
        schedule_in: dict[str, int] | None = None, **kwargs: Any,
    ) -> int:
        """Queue `task` (namespaced name, e.g. "catalog:sync"), optionally to run later, and return the job id."""
        configured = self.app.configure_task(name=task, lock=lock, queueing_lock=queueing_lock, schedule_in=schedule_in)
        return await configured.defer_async(**kwargs)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await asyncio.wait_for(self._worker, timeout=10)
            except (asyncio.CancelledError, asyncio.TimeoutError):
                pass
            except Exception:  # a worker that died already has logged why
                log.exception("jobs worker ended with an error")
            self._worker = None
        if self._opened:
            await self.app.close_async()
            self._opened = False
