"""The services of one app process, built from settings in dependency order and closed in reverse.

`open_services` is the whole wiring: read it top to bottom to see what depends on what. app.py turns the result
into Litestar dependencies (one provider per field) and starts the background worker with it; `nl2sql eval`
and the tests use the same function (a test passes its own `chat_model` or `embedder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from nl2sql import (
    answers,
    audit,
    auth,
    catalog,
    evaluation,
    gateway,
    inference,
    retrieval,
    semantics,
    sqlguard,
)
from nl2sql.db import AppDatabase
from nl2sql.jobs import Blueprint, Jobs
from nl2sql.settings import Settings

log = logging.getLogger("nl2sql.app")


@dataclass(frozen=True)
class Services:
    """Every long-lived object of a process; the field names are the handlers' dependency names."""

    settings: Settings
    db: AppDatabase
    jobs: Jobs
    auth_service: auth.AuthService
    first_run: auth.FirstRun
    catalog_service: catalog.CatalogService
    audit_log: audit.AuditLog
    gateway: gateway.Gateway
    chat_model: inference.ChatModel  # the configured model, wrapped by the gateway (metered and logged)
    retriever: retrieval.Retriever
    generation_service: answers.SqlGenerationService
    ask_service: answers.AskService
    feedback_service: answers.FeedbackService
    evaluation_service: evaluation.EvaluationService
    pending_asks: answers.PendingAsks
    sso_service: auth.SsoService

    def provided(self) -> dict[str, Any]:
        """What handlers may ask for by name (the settings by section)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("settings", "db")}
        return fields | {"server_settings": self.settings.server}

    def job_context(self) -> dict[str, Any]:
        """What background tasks are handed (rather than reaching for)."""
        return {"auth": self.auth_service, "gateway": self.gateway, "catalog": self.catalog_service,
                "retrieval": self.retriever, "evaluation": self.evaluation_service}


def blueprints(settings: Settings) -> dict[str, Blueprint]:
    """Task blueprints per module namespace: a job named "catalog:sync" runs catalog's `sync` task."""
    return {"gateway": gateway.retention_blueprint(), "catalog": catalog.jobs_blueprint(),
            "retrieval": retrieval.jobs_blueprint(),
            "evaluation": evaluation.jobs_blueprint(settings.engine.regression_cron)}


def golden_check(settings: Settings) -> catalog.GoldenSqlCheck:
    """Golden queries pass sqlguard (one read-only query on included tables, no sensitive column) and then run:
    read-only, with the engine's row cap and NL2SQL_CATALOG_QUERY_TIMEOUT, so a query that fails, never ends or
    takes longer than that is refused, as an answer using it would be. At most one row is fetched."""
    timeout = settings.catalog.query_timeout

    def check(sql: str, target: catalog.SqlTarget, engine: Any) -> str:
        policy = sqlguard.GuardPolicy(
            dialect=target.connection.backend,
            allowed_tables=target.allowed_tables,
            sensitive_columns=target.sensitive_columns,
            row_cap=settings.engine.row_cap,
            extra_functions=settings.engine.extra_function_set,
        )
        sqlguard.run(sqlguard.validate(sql, policy), engine, timeout_s=timeout, max_rows=1)
        return sql.strip().rstrip(";").strip()

    return check


@contextlib.asynccontextmanager
async def open_services(settings: Settings, db: AppDatabase, secret_key: str, *, migrate: bool | None = None,
                        chat_model: inference.ChatModel | None = None, embedder: retrieval.Embedder | None = None,
                        run_jobs: bool = True) -> AsyncIterator[Services]:
    """Open the app database and build every service on it; on leaving, close them in reverse order.

    `chat_model` and `embedder` replace the configured ones (tests); `run_jobs` False queues jobs without
    working them off (a command such as `nl2sql eval` leaves them to the servers)."""
    async with contextlib.AsyncExitStack() as stack:
        await anyio.to_thread.run_sync(
            lambda: db.open(migrate=settings.database.migrate_on_start if migrate is None else migrate))
        stack.push_async_callback(db.close)
        jobs = Jobs(db.url, blueprints(settings))
        auth_service = auth.AuthService(db.sessions, settings.auth)
        catalog_service = catalog.CatalogService(db.sessions, settings.catalog, secret_key,
                                                 previous_keys=settings.server.previous_key_list,
                                                 golden_check=golden_check(settings), jobs=jobs,
                                                 metric_check=semantics.metric_check(
                                                     timeout_s=settings.catalog.query_timeout,
                                                     row_cap=settings.engine.row_cap,
                                                     extra_functions=settings.engine.extra_function_set))
        stack.callback(catalog_service.close)
        # catalog edits and syncs queue a re-embedding job; the retriever also catches up before answering
        catalog_service.subscribe(retrieval.Reindexer(jobs, delay_seconds=settings.retrieval.reindex_delay))
        feedback_service = answers.FeedbackService(db.sessions, catalog_service)
        # the answers module counts its own feedback for the usage pages (the gateway can't read its tables)
        recording = gateway.Gateway(db.sessions, settings.gateway, gateway.SqlRecordStore(db.engine),
                                    feedback_counter=feedback_service.counts)
        recording.start()
        stack.push_async_callback(recording.close)  # flushes buffered records before the database goes
        configured = chat_model or inference.build_chat_model(settings.inference)
        model = recording.wrap(configured)
        stack.push_async_callback(model.close)
        if settings.inference.load_at_start:
            await model.start()
        retriever = retrieval.Retriever(catalog_service, retrieval.EmbeddingIndex(
            db.sessions, embedder or _embedder(settings), ef_search=settings.retrieval.ef_search), settings.retrieval)
        generation_service = _answer_service(settings, db, catalog_service, retriever, model, configured.describe())
        ask_service = answers.AskService(db.sessions, catalog_service, generation_service, model, settings.engine,
                                         settings.answers)
        evaluation_service = evaluation.EvaluationService(db.sessions, catalog_service, generation_service, auth_service,
                                                          defer=_evaluation_queue(jobs))
        first_run = await _first_run(settings, auth_service, secret_key)
        await jobs.open()  # before the demo install, whose catalog change queues a reindex job
        stack.push_async_callback(jobs.close)
        pending_asks = answers.PendingAsks(db.sessions)
        stack.push_async_callback(pending_asks.close)
        services = Services(settings, db, jobs, auth_service, first_run, catalog_service,
                            audit.AuditLog(db.sessions, connection_names=catalog_service.connection_names),
                            recording, model, retriever, generation_service, ask_service, feedback_service,
                            evaluation_service, pending_asks,
                            # single sign-on's group mappings grant connections through the catalog, its owner
                            auth.SsoService(db.sessions, settings.auth, auth_service,
                                            grants=catalog_service.sync_user_grants))
        await _start(stack, services, run_jobs)
        yield services


def _embedder(settings: Settings) -> retrieval.Embedder:
    return retrieval.SentenceTransformerEmbedder(settings.retrieval.embedding_model,
                                                 batch_size=settings.retrieval.embedding_batch_size,
                                                 threads=settings.retrieval.embedding_threads,
                                                 runtime=settings.retrieval.embedding_runtime)


def _answer_service(settings: Settings, db: AppDatabase, catalog_service: catalog.CatalogService,
                    retriever: retrieval.Retriever, model: inference.ChatModel,
                    status: inference.ModelStatus) -> answers.SqlGenerationService:
    """The engine; its trust in the model is set, or measured (stored per model name)."""
    return answers.SqlGenerationService(
        db.sessions, catalog_service, retriever, model, settings.engine,
        trust=answers.resolve_trust(settings.engine.model_trust, status.backend, status.model_file),
        measured_trust=settings.engine.model_trust == "auto",
    )


def _evaluation_queue(jobs: Jobs):
    async def defer(run_id: int) -> None:
        # one job at a time per run; a run queued twice is queued once
        await jobs.defer("evaluation:run", lock=f"evaluation-{run_id}", queueing_lock=f"evaluation-{run_id}",
                         run_id=run_id)

    return defer


async def _first_run(settings: Settings, auth_service: auth.AuthService, secret_key: str) -> auth.FirstRun:
    """The bootstrap admin when the settings name one; while no user exists, pages lead to /setup, where the
    start banner's token creates the first admin."""
    admin = await auth_service.bootstrap_admin(settings.auth.bootstrap_admin_email,
                                               settings.auth.bootstrap_admin_password)
    if admin is not None:
        log.info("created bootstrap admin %s", admin.email)
    first_run = auth.FirstRun(auth_service, Path(settings.database.data_dir), secret_key)
    await first_run.prepare()
    return first_run


async def _start(stack: contextlib.AsyncExitStack, services: Services, run_jobs: bool) -> None:
    """What runs once the services stand: the demo, the embedding warm-up, the worker and unfinished runs."""
    settings = services.settings
    if settings.catalog.demo:
        await catalog.install_demo(services.catalog_service, Path(settings.database.data_dir))
    if settings.retrieval.embedding_load_at_start:
        # the first question should pay neither the model load (~10 s) nor the catalog's embedding
        connections = [c.id for c in await services.catalog_service.list_connections()]
        stack.push_async_callback(_cancelled, asyncio.create_task(services.retriever.warm_up(connections)))
    if run_jobs:
        services.jobs.start_worker(services.job_context())
        # runs a stopped process left unfinished go on where they stopped
        with contextlib.suppress(Exception):
            await services.evaluation_service.resume_unfinished()


async def _cancelled(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
