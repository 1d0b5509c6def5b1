"""Catalog sync: a connection's database introspected and its catalog rewritten, keeping what people wrote.

`Syncer` runs syncs (queued as the job `catalog:sync`, or here); the catalog service builds it with what it needs
(the app database, the connections' URLs and engines, where change notices go), so imports go one way: the service
uses this file, never the reverse. `plan_catalog` is the heart of a sync as a pure function: the catalog as
stored and the database as introspected in, the typed diff and the writes that bring one to the other out.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.audit import record
from nl2sql.catalog import engines
from nl2sql.catalog.dto import SyncState, SyncStatus
from nl2sql.catalog.introspection import Introspection, SamplingPlan, TableShape, introspect
from nl2sql.catalog.models import ColumnRow, ConnectionRow, ForeignKeyRow, SyncRow, TableRow
from nl2sql.catalog.rows import search_text, to_sync
from nl2sql.db import utcnow
from nl2sql.errors import AppError, NotFoundError
from nl2sql.jobs import Blueprint, JobContext
from nl2sql.settings import CatalogSettings

if TYPE_CHECKING:
    from nl2sql.auth import User

log = logging.getLogger("nl2sql.catalog")

# a sync older than this still marked queued/running died with its worker
STALE_AFTER = timedelta(minutes=30)
# new columns with such names start flagged sensitive (an admin can clear the flag)
SENSITIVE_NAME = re.compile(
    r"passw|pwd|secret|token|api_?key|ssn|social_?security|credit_?card|card_?num|cvv|iban|salt|hash", re.IGNORECASE
)
STRUCTURE = ("type", "nullable", "default", "primary_key")
TableKey = tuple[str, str]  # (schema or "", name)


class SyncQueue(Protocol):
    """Where sync jobs go (app.py passes its Jobs)."""

    async def defer(self, task: str, **kwargs: Any) -> int: ...


def jobs_blueprint() -> Blueprint:
    """The catalog's tasks, fresh per app (a procrastinate blueprint binds to the first app it joins)."""
    blueprint = Blueprint()

    @blueprint.task(name="sync", pass_context=True)
    async def sync(context: JobContext, sync_id: int) -> None:
        """Job "catalog:sync": run one queued sync."""
        await context.additional_context["catalog"].run_sync(sync_id)

    return blueprint


# the pure part: what changed, and what to write -----------------------------------------------------------

@dataclass(frozen=True)
class TableChange:
    """How one table that was there before changed: columns added, removed or changed, and its own fields."""

    table: str
    added_columns: tuple[str, ...] = ()
    removed_columns: tuple[str, ...] = ()
    changed_columns: tuple[tuple[str, dict[str, list[Any]]], ...] = ()  # (column, {field: [before, after]})
    changes: dict[str, list[Any]] = field(default_factory=dict)  # kind, comment: [before, after]

    def __bool__(self) -> bool:
        return bool(self.added_columns or self.removed_columns or self.changed_columns or self.changes)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "added_columns": list(self.added_columns),
                "removed_columns": list(self.removed_columns),
                "changed_columns": [{"column": c, "changes": ch} for c, ch in self.changed_columns],
                "changes": self.changes}


@dataclass(frozen=True)
class SyncDiff:
    """What a sync changed in a connection's catalog (stored with the sync; the connection page shows it)."""

    first_sync: bool
    added_tables: tuple[str, ...]
    removed_tables: tuple[str, ...]
    changed_tables: tuple[TableChange, ...]
    tables: int
    columns: int
    note: dict[str, Any] = field(default_factory=dict)  # which schemas were read, and a warning when none had tables

    def to_json(self) -> dict[str, Any]:
        return {"first_sync": self.first_sync, "added_tables": list(self.added_tables),
                "removed_tables": list(self.removed_tables),
                "changed_tables": [c.to_json() for c in self.changed_tables]} | self.note | {
            "summary": {"tables": self.tables, "columns": self.columns, "added": len(self.added_tables),
                        "removed": len(self.removed_tables), "changed": len(self.changed_tables)}}


@dataclass
class CatalogPlan:
    """The writes that bring the stored catalog to the introspected one (table ids of new tables are filled in
    when they are inserted: rows keyed by table carry their TableKey)."""

    diff: SyncDiff
    removed_table_ids: list[int]
    added: list[TableShape]
    column_inserts: list[tuple[TableKey, dict[str, Any]]]
    column_updates: list[dict[str, Any]]
    column_deletes: list[int]
    table_updates: list[tuple[TableKey, dict[str, Any]]]

    @property
    def changes_catalog(self) -> bool:
        """Whether the catalog changes at all (a re-sync of an unchanged database writes nothing but the date)."""
        return bool(self.removed_table_ids or self.added or self.column_inserts or self.column_updates
                    or self.column_deletes or self.table_updates)


def _qualified(schema: str, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def plan_catalog(old_tables: dict[TableKey, Any], old_columns: dict[int, dict[str, Any]],
                 shapes: list[TableShape], *, first_sync: bool, note: dict[str, Any] | None = None) -> CatalogPlan:
    """Replace structure, keep human metadata of what still exists: the diff and the writes, without a database.

    `old_tables` and `old_columns` (by table id, then name) are the stored rows as plain objects with the
    tables' fields (they are updated in place to the new structure, for the search text)."""
    new_keys = {s.key for s in shapes}
    removed = [old_tables[k] for k in old_tables if k not in new_keys]
    added = [s for s in shapes if s.key not in old_tables]
    plan = CatalogPlan(diff=None, removed_table_ids=[t.id for t in removed], added=added,  # type: ignore[arg-type]
                       column_inserts=[], column_updates=[], column_deletes=[], table_updates=[])
    changed_tables: list[TableChange] = []
    for shape in shapes:
        old_table = old_tables.get(shape.key)
        change = _plan_table(plan, shape, old_table, old_columns.get(old_table.id, {}) if old_table else {})
        if old_table is not None and change:
            changed_tables.append(change)
    plan.diff = SyncDiff(first_sync=first_sync, added_tables=tuple(_qualified(*s.key) for s in added),
                         removed_tables=tuple(_qualified(t.schema, t.name) for t in removed),
                         changed_tables=tuple(changed_tables), tables=len(shapes),
                         columns=sum(len(s.columns) for s in shapes), note=dict(note or {}))
    return plan


def _plan_table(plan: CatalogPlan, shape: TableShape, old_table: Any | None, previous: dict[str, Any]) -> TableChange:
    """One table's writes added to `plan` (its columns inserted, updated or deleted, its own row updated);
    what changed in it."""
    table_changes: dict[str, list[Any]] = {}
    if old_table is not None:
        for name in ("kind", "comment"):
            if getattr(old_table, name) != getattr(shape, name):
                table_changes[name] = [getattr(old_table, name), getattr(shape, name)]
    added_columns, changed_columns = [], []
    columns_now: list[Any] = []
    for position, col in enumerate(shape.columns):
        old = previous.get(col.name)
        structure = {"type": col.type, "nullable": col.nullable, "default": col.default,
                     "primary_key": col.primary_key}
        if old is None:
            sensitive = bool(SENSITIVE_NAME.search(col.name))
            values = {
                "position": position, "name": col.name, **structure,
                "comment": col.comment, "description": "", "business_name": "", "synonyms": [],
                "included": True, "sensitive": sensitive,
                "distinct_values": None if sensitive else col.distinct_values,
            }
            plan.column_inserts.append((shape.key, values))
            columns_now.append(SimpleNamespace(**values))
            if old_table is not None:
                added_columns.append(col.name)
            continue
        changed = {k: [getattr(old, k), v] for k, v in structure.items() if getattr(old, k) != v}
        if old.comment != col.comment:
            changed["comment"] = [old.comment, col.comment]
        if changed:
            changed_columns.append((col.name, changed))
        values_now = None if old.sensitive or not old.included else col.distinct_values
        if changed or old.position != position or old.distinct_values != values_now:
            plan.column_updates.append({"id": old.id, "position": position, **structure, "comment": col.comment,
                                        "distinct_values": values_now})
        for k, v in structure.items():
            setattr(old, k, v)
        old.comment = col.comment
        columns_now.append(old)
    seen = {c.name for c in shape.columns}
    removed_columns = [name for name in previous if name not in seen]
    plan.column_deletes += [previous[name].id for name in removed_columns]
    probe = old_table or SimpleNamespace(schema=shape.schema, name=shape.name, business_name="", synonyms=[],
                                         description="")
    probe.comment = shape.comment
    text = search_text(probe, columns_now)
    if old_table is None:
        plan.table_updates.append((shape.key, {"search_text": text}))
    else:
        values = {"kind": shape.kind, "comment": shape.comment, "row_count": shape.row_count, "search_text": text,
                  "data_version": shape.data_version}
        if any(getattr(old_table, k) != v for k, v in values.items()):  # compared before written
            plan.table_updates.append((shape.key, values))
    return TableChange(_qualified(*shape.key), tuple(added_columns), tuple(removed_columns), tuple(changed_columns),
                       table_changes)


def _schema_note(scan: Introspection, configured: bool) -> dict[str, Any]:
    """Which schemas were read, and when nothing was found there, which exist and how to choose them."""
    note: dict[str, Any] = {"schemas": scan.schemas_read}
    if not scan.tables:
        others = [s for s in scan.schemas_available if s not in scan.schemas_read]
        where = ", ".join(scan.schemas_read) or "the default schema"
        if others:
            note["warning"] = (
                f"no tables or views found in schema {where}; this database also has schema "
                f"{', '.join(others)}: list the ones to read in the connection's schemas and sync again"
            )
        else:
            note["warning"] = (
                f"no tables or views found in schema {where}"
                + (" (the configured schemas)" if configured else "")
                + ": check that the connection's user may read them"
            )
    return note


def _qualified(schema: str, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _explain(exc: BaseException, url: sa.engine.URL | None) -> str:
    if isinstance(exc, AppError):
        return exc.detail
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | ImportError) and url is not None:
        return engines.explain_connect_error(url, exc)
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())[:300]
    if url is not None:
        text = engines.hide_secrets(text, url)
    return f"introspection failed: {type(orig).__name__}: {text}"



# the syncer: queueing, introspecting, writing -------------------------------------------------------------

class Syncer:
    """Queues and runs syncs of the catalog's connections."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Callable[[], CatalogSettings], *,
                 url_of: Callable[[int], Awaitable[URL]], engine_of: Callable[[int], Awaitable[sa.Engine]],
                 changed: Callable[[int], Awaitable[None]], jobs: SyncQueue | None = None) -> None:
        self._sessions = sessions
        self._settings = settings  # the catalog's settings as they are now
        self._url_of = url_of  # a connection's clear URL (to explain a connection failure without its secrets)
        self._engine_of = engine_of
        self._changed = changed  # after a sync wrote the catalog: the service's change notice
        self.jobs = jobs

    async def start(self, actor: User | None, name: str, *, defer: bool = True) -> SyncStatus:
        """Queue a sync (or return the one already queued or running); without a queue it runs here."""
        async with self._sessions() as db:
            connection = await db.scalar(sa.select(ConnectionRow).where(ConnectionRow.name == name))
            if connection is None:
                raise NotFoundError(f"no connection named {name!r}")
            # the row lock makes two clicks at once queue one sync, not two
            await db.execute(sa.select(ConnectionRow.id).where(ConnectionRow.id == connection.id).with_for_update())
            active = await db.scalar(
                sa.select(SyncRow)
                .where(SyncRow.connection_id == connection.id, SyncRow.status.in_(("queued", "running")))
                .order_by(SyncRow.id.desc())
                .limit(1)
            )
            if active is not None:
                if active.created_at > utcnow() - STALE_AFTER:
                    return to_sync(active)
                active.status, active.finished_at = "failed", utcnow()
                active.error = "interrupted: the worker running it stopped"
            row = SyncRow(connection_id=connection.id, status="queued", phase="queued",
                          requested_by=actor.id if actor else None, created_at=utcnow())
            db.add(row)
            await db.flush()
            record(db, actor_id=actor.id if actor else None, actor_email=actor.email if actor else None,
                   action="catalog.sync.start", target=f"connection:{name}", after={"sync_id": row.id})
            await db.commit()
            status = to_sync(row)
        if defer and self.jobs is not None:
            await self.jobs.defer("catalog:sync", sync_id=status.id)
        elif defer:
            return await self.run(status.id)
        return status

    async def get(self, sync_id: int) -> SyncStatus:
        async with self._sessions() as db:
            row = await db.get(SyncRow, sync_id)
            if row is None:
                raise NotFoundError(f"no sync {sync_id}")
            return to_sync(row)

    async def latest(self, connection_id: int) -> SyncStatus | None:
        async with self._sessions() as db:
            row = await db.scalar(sa.select(SyncRow).where(SyncRow.connection_id == connection_id)
                                  .order_by(SyncRow.id.desc()).limit(1))
            return to_sync(row) if row else None

    async def _update(self, sync_id: int, **values: Any) -> None:
        async with self._sessions() as db:
            await db.execute(sa.update(SyncRow).where(SyncRow.id == sync_id).values(**values))
            await db.commit()

    async def run(self, sync_id: int) -> SyncStatus:
        """Introspect and write the catalog for a queued sync (the job's body); a failure is the sync's reason."""
        async with self._sessions() as db:
            row = await db.get(SyncRow, sync_id)
            if row is None:
                raise AppError(f"no sync {sync_id}")
            if row.status in ("succeeded", "failed"):
                return to_sync(row)
            connection = await db.get(ConnectionRow, row.connection_id)
            row.status, row.phase, row.started_at = "running", "connecting", utcnow()
            await db.commit()
            connection_id, schemas = connection.id, list(connection.schemas or [])

        last = {"at": 0.0, "phase": ""}

        def progress(phase: str, done: int, total: int) -> None:
            # runs in the introspection thread; written at most twice a second unless the phase changes
            now = time.monotonic()
            if phase == last["phase"] and now - last["at"] < 0.5 and done != total:
                return
            last["at"], last["phase"] = now, phase
            anyio.from_thread.run(lambda: self._update(sync_id, phase=phase, done=done, total=total))

        url = None
        try:
            url = await self._url_of(connection_id)
            plan = await self._sampling(connection_id)
            engine = await self._engine_of(connection_id)
            began = time.perf_counter()
            scan = await anyio.to_thread.run_sync(lambda: introspect(engine, schemas, plan, progress))
            introspect_s = time.perf_counter() - began
            shapes = scan.tables
        except Exception as exc:  # every failure becomes the sync's reported reason; the catalog stays as it was
            message = _explain(exc, url)
            log.warning("sync %s of connection %s failed: %s", sync_id, connection_id, message)
            await self._update(sync_id, status="failed", phase="failed", error=message, finished_at=utcnow())
            return await self.get(sync_id)
        await self._update(sync_id, phase="saving", done=0, total=len(shapes))
        try:
            note = _schema_note(scan, bool(schemas)) | {"seconds": {"introspect": round(introspect_s, 2)}}
            diff = await self._write(sync_id, connection_id, shapes, note)
        except Exception as exc:  # the transaction rolled back: the previous catalog is intact
            log.exception("saving the catalog of connection %s failed", connection_id)
            await self._update(
                sync_id, status="failed", phase="failed", finished_at=utcnow(),
                error=f"saving the catalog failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
            )
            return await self.get(sync_id)
        if diff.note.get("changed_catalog"):
            await self._changed(connection_id)
        log.info("sync %s of connection %s: %s", sync_id, connection_id, diff.to_json()["summary"])
        return await self.get(sync_id)

    async def _sampling(self, connection_id: int) -> SamplingPlan:
        settings = self._settings()
        async with self._sessions() as db:
            skip_tables = {
                (schema, name)
                for schema, name in await db.execute(
                    sa.select(TableRow.schema, TableRow.name).where(
                        TableRow.connection_id == connection_id, TableRow.included.is_(False)
                    )
                )
            }
            skip_columns = {
                tuple(r)
                for r in await db.execute(
                    sa.select(TableRow.schema, TableRow.name, ColumnRow.name)
                    .join(ColumnRow, ColumnRow.table_id == TableRow.id)
                    .where(
                        TableRow.connection_id == connection_id,
                        sa.or_(ColumnRow.sensitive.is_(True), ColumnRow.included.is_(False)),
                    )
                )
            }
            known: dict[TableKey, tuple[int, int | None, dict[str, list[str] | None]]] = {}
            tables, columns = TableRow.__table__, ColumnRow.__table__
            for schema, name, version, rows, column, values in await db.execute(
                sa.select(tables.c.schema, tables.c.name, tables.c.data_version, tables.c.row_count, columns.c.name,
                          columns.c.distinct_values).join(columns, columns.c.table_id == tables.c.id)
                .where(tables.c.connection_id == connection_id, tables.c.data_version.is_not(None))
            ):
                known.setdefault((schema, name), (version, rows, {}))[2][column] = values
        return SamplingPlan(
            distinct_max=settings.distinct_values_max,
            sample_rows=settings.sample_rows,
            row_count_cap=settings.row_count_cap,
            skip_tables=frozenset(skip_tables),
            skip_columns=frozenset(skip_columns),
            skip_column_names=SENSITIVE_NAME,
            known=known,
        )

    async def _write(self, sync_id: int, connection_id: int, shapes: list[TableShape],
                     note: dict[str, Any] | None = None) -> SyncDiff:
        """Bring the stored catalog to `shapes` (plan_catalog's writes) and mark the sync done; one transaction."""
        now, began = utcnow(), time.perf_counter()
        async with self._sessions() as db:
            first_sync = (await db.scalar(
                sa.select(ConnectionRow.synced_at).where(ConnectionRow.id == connection_id))) is None
            # plain values, not ORM objects (a tenth of the memory for 50,000 columns); changes go out as bulk
            # statements
            tables, columns = TableRow.__table__, ColumnRow.__table__
            old_tables = {(t.schema, t.name): t for t in map(_plain, await db.execute(
                sa.select(tables).where(tables.c.connection_id == connection_id)))}
            old_columns: dict[int, dict[str, Any]] = {}
            if old_tables:
                for c in map(_plain, await db.execute(sa.select(columns).join(tables, tables.c.id == columns.c.table_id)
                                                      .where(tables.c.connection_id == connection_id))):
                    old_columns.setdefault(c.table_id, {})[c.name] = c
            plan = plan_catalog(old_tables, old_columns, shapes, first_sync=first_sync, note=note)

            if plan.removed_table_ids:
                await db.execute(sa.delete(TableRow).where(TableRow.id.in_(plan.removed_table_ids)))
            new_keys = {s.key for s in shapes}
            table_ids: dict[TableKey, int] = {k: t.id for k, t in old_tables.items() if k in new_keys}
            table_ids |= await _insert_tables(db, connection_id, plan.added)
            if plan.column_deletes:
                await db.execute(sa.delete(ColumnRow).where(ColumnRow.id.in_(plan.column_deletes)))
            if plan.column_inserts:
                await db.execute(sa.insert(ColumnRow.__table__),
                                 [{"table_id": table_ids[key], **values} for key, values in plan.column_inserts])
            await _bulk_update(db, ColumnRow.__table__, plan.column_updates)
            await _bulk_update(db, TableRow.__table__,
                               [{"id": table_ids[key], **values} for key, values in plan.table_updates])

            keys_changed = await _replace_foreign_keys(db, connection_id, shapes, table_ids)
            changed = plan.changes_catalog or keys_changed
            # an unchanged database leaves the catalog's version alone: caches, prompts and vectors stay good
            await db.execute(sa.update(ConnectionRow).where(ConnectionRow.id == connection_id)
                             .values(synced_at=now, **({"catalog_changed_at": now} if changed else {})))
            diff = plan.diff.to_json()
            diff.setdefault("seconds", {})["write"] = round(time.perf_counter() - began, 2)
            diff["changed_catalog"] = changed
            await db.execute(
                sa.update(SyncRow).where(SyncRow.id == sync_id).values(
                    status=SyncState.SUCCEEDED.value, phase="done", done=len(shapes), total=len(shapes),
                    finished_at=utcnow(), diff=diff, error=None,
                )
            )
            await db.commit()
        return replace(plan.diff, note=plan.diff.note | {"changed_catalog": changed})


def _plain(row: Any) -> SimpleNamespace:
    return SimpleNamespace(**row._mapping)


async def _insert_tables(db: AsyncSession, connection_id: int, added: list[TableShape]) -> dict[TableKey, int]:
    """New tables in one multi-row insert; their ids."""
    if not added:
        return {}
    table = TableRow.__table__
    inserted = await db.execute(
        sa.insert(table).returning(table.c.id, table.c.schema, table.c.name, sort_by_parameter_order=True),
        [{"connection_id": connection_id, "schema": s.schema, "name": s.name, "kind": s.kind,
          "comment": s.comment, "description": "", "business_name": "", "synonyms": [],
          "included": True, "row_count": s.row_count, "search_text": "", "data_version": s.data_version}
         for s in added],
    )
    return {(schema, name): table_id for table_id, schema, name in inserted}


async def _replace_foreign_keys(db: AsyncSession, connection_id: int, shapes: list[TableShape],
                                table_ids: dict[TableKey, int]) -> bool:
    """Foreign keys carry no human metadata: those of a table whose keys changed are replaced. Whether any did."""
    fk = ForeignKeyRow.__table__
    stored: dict[int, list[tuple]] = {}
    for row in await db.execute(sa.select(fk.c.table_id, fk.c.name, fk.c.columns, fk.c.ref_schema, fk.c.ref_table,
                                          fk.c.ref_columns).join(TableRow.__table__, TableRow.id == fk.c.table_id)
                                .where(TableRow.connection_id == connection_id).order_by(fk.c.id)):
        stored.setdefault(row.table_id, []).append((row.name, list(row.columns), row.ref_schema, row.ref_table,
                                                    list(row.ref_columns)))
    changed_ids, rows = [], []
    for shape in shapes:
        table_id = table_ids[shape.key]
        wanted = [(k.name, list(k.columns), k.ref_schema, k.ref_table, list(k.ref_columns)) for k in shape.foreign_keys]
        if stored.get(table_id, []) != wanted:
            changed_ids.append(table_id)
            rows += [{"table_id": table_id, "name": n, "columns": c, "ref_schema": rs, "ref_table": rt,
                      "ref_columns": rc} for n, c, rs, rt, rc in wanted]
    if changed_ids:
        await db.execute(sa.delete(ForeignKeyRow).where(ForeignKeyRow.table_id.in_(changed_ids)))
    if rows:
        await db.execute(sa.insert(fk), rows)
    return bool(changed_ids)


async def _bulk_update(db, table: sa.Table, rows: list[dict]) -> None:
    """executemany UPDATE ... WHERE id = :id, grouped by the set of columns each row changes."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    for keys, group in groups.items():
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("_id"))
            .values({k: sa.bindparam(f"_{k}") for k in keys})
        )
        await db.execute(statement, [{f"_{k}": v for k, v in row.items()} for row in group])
