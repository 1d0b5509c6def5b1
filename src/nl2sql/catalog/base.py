"""The catalog service's shared core: the app database, sealed URLs and pooled engines, change listeners, the
audit trail, and the one way a change to a connection's catalog is made (`_change`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.audit import record
from nl2sql.auth import User
from nl2sql.catalog import engines
from nl2sql.catalog.dto import (
    Connection,
    PromptSchema,
)
from nl2sql.catalog.golden import GoldenSqlCheck, MetricCheck, ReadOnlyCheck, parse_check
from nl2sql.catalog.models import (
    ConnectionRow,
    TableRow,
)
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, NotFoundError, ValidationFailed
from nl2sql.settings import CatalogSettings

log = logging.getLogger("nl2sql.catalog")
from nl2sql.catalog.rows import split_table_ref, to_connection
from nl2sql.catalog.sync import SyncQueue, Syncer

ChangeListener = Callable[[int], Awaitable[None]]


class CatalogChange:
    """A change being made: its session, and its audit entries (an audited change is a change of the catalog)."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.audited = False

    def audit(self, actor: User | None, action: str, target: str, before: Any = None, after: Any = None) -> None:
        record(self.db, actor_id=actor.id if actor else None, actor_email=actor.email if actor else None,
               action=action, target=target, before=before, after=after)
        self.audited = True


class CatalogCore:
    """What every part of the catalog service shares: the app database, the sealed URLs and pooled engines,
    change listeners, the audit trail, and the rows most methods start from."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: CatalogSettings,
        secret_key: str,
        *,
        previous_keys: Sequence[str] = (),
        golden_check: GoldenSqlCheck | None = None,
        metric_check: MetricCheck | None = None,
        jobs: SyncQueue | None = None,
    ) -> None:
        self._sessions = sessions
        self.settings = settings
        self._vault = engines.CredentialVault(secret_key, previous_keys)
        self._engines = engines.EnginePool(pool_size=settings.pool_size, connect_timeout=settings.connect_timeout)
        self._golden_check = golden_check or ReadOnlyCheck(settings.query_timeout)
        self._metric_check = metric_check or parse_check
        self._listeners: list[ChangeListener] = []
        self._prompt_cache: dict[int, PromptSchema] = {}
        self._syncer = Syncer(sessions, lambda: self.settings, url_of=self._url, engine_of=self.engine, changed=self._notify,
                              jobs=jobs)

    def close(self) -> None:
        """Dispose every customer engine."""
        self._engines.close()

    # change notification ------------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener(connection_id)` after any change to that connection's catalog commits."""
        self._listeners.append(listener)

    async def changed_since(self, since: datetime) -> list[Connection]:
        """Connections whose catalog (tables, metadata, instructions, golden queries) changed after `since`."""
        async with self._sessions() as db:
            rows = await db.scalars(sa.select(ConnectionRow).where(ConnectionRow.catalog_changed_at > since))
            return [to_connection(r) for r in rows]

    async def _notify(self, connection_id: int) -> None:
        self._prompt_cache.pop(connection_id, None)
        for listener in list(self._listeners):
            try:
                await listener(connection_id)
            except Exception:  # a listener's failure must not undo or hide the change that committed
                log.exception("catalog change listener failed for connection %s", connection_id)

    @staticmethod
    async def _touch(db: AsyncSession, connection_id: int) -> None:
        await db.execute(
            sa.update(ConnectionRow).where(ConnectionRow.id == connection_id).values(catalog_changed_at=utcnow())
        )

    @staticmethod
    async def _row_by_name(db: AsyncSession, name: str) -> ConnectionRow:
        row = await db.scalar(sa.select(ConnectionRow).where(ConnectionRow.name == name))
        if row is None:
            raise NotFoundError(f"no connection named {name!r}")
        return row

    @staticmethod
    def _refuse_draft(row: ConnectionRow, what: str) -> None:
        if row.draft_of is not None:
            raise ConflictError(f"{row.name} is a knowledge draft: it can't be {what}")

    @staticmethod
    def _audit(db: AsyncSession, actor: User | None, action: str, target: str, before=None, after=None) -> None:
        record(
            db,
            actor_id=actor.id if actor else None,
            actor_email=actor.email if actor else None,
            action=action,
            target=target,
            before=before,
            after=after,
        )

    @contextlib.asynccontextmanager
    async def _change(self, connection_id: int) -> AsyncIterator[CatalogChange]:
        """One change to a connection's catalog: the body adds and edits rows through `change.db` and audits
        them through `change.audit`; on leaving, an audited change moves the connection's catalog version, all
        commits together, and the change listeners hear of it (after the commit). An error rolls it all back."""
        async with self._sessions() as db:
            change = CatalogChange(db)
            yield change
            if change.audited:
                await self._touch(db, connection_id)
            await db.commit()
        await self._notify(connection_id)

    async def _url(self, connection_id: int) -> URL:
        return (await self._url_and_version(connection_id))[0]

    async def _url_and_version(self, connection_id: int) -> tuple[URL, datetime]:
        async with self._sessions() as db:
            row = await db.get(ConnectionRow, connection_id)
            if row is None:
                raise NotFoundError(f"no connection with id {connection_id}")
            return self._vault.open(row.url_encrypted), row.updated_at

    async def engine(self, connection_id: int, purpose: str = "query") -> sa.Engine:
        """The pooled (sync) SQLAlchemy engine of a customer database; SQLite files open read-only.

        `purpose` "check" gives a small pool of its own, for the engine's candidate runs.
        """
        url, version = await self._url_and_version(connection_id)
        engines.check_sqlite_file(url)
        return self._engines.get(connection_id, version, url, purpose)

    @staticmethod
    async def _table_row(db: AsyncSession, connection_id: int, ref: str) -> TableRow:
        schema, name = split_table_ref(ref)
        query = sa.select(TableRow).where(TableRow.connection_id == connection_id, TableRow.name == name)
        rows = (await db.scalars(query.where(TableRow.schema == schema))).all()
        if not rows and not schema:
            rows = (await db.scalars(query)).all()
        if not rows and schema:
            # a dotted table name in the default schema
            rows = (await db.scalars(sa.select(TableRow).where(
                TableRow.connection_id == connection_id, TableRow.schema == "", TableRow.name == ref.strip()))).all()
        if len(rows) > 1:
            raise ValidationFailed(f"table {ref!r} exists in several schemas: write schema.table")
        if not rows:
            raise NotFoundError(f"no table {ref!r} in this connection's catalog (sync it first?)")
        return rows[0]
