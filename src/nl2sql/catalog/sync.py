"""Sync: the background job that introspects a customer database and writes the catalog with a diff."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
import sqlalchemy as sa

from nl2sql.catalog import engines
from nl2sql.catalog.dto import SyncState, SyncStatus
from nl2sql.catalog.introspection import Introspection, SamplingPlan, TableShape, introspect
from nl2sql.catalog.models import ColumnRow, ConnectionRow, ForeignKeyRow, SyncRow, TableRow
from nl2sql.db import utcnow
from nl2sql.errors import AppError
from nl2sql.jobs import Blueprint, JobContext

if TYPE_CHECKING:
    from nl2sql.auth import User
    from nl2sql.catalog.service import CatalogService

log = logging.getLogger("nl2sql.catalog")

# a sync older than this still marked queued/running died with its worker
STALE_AFTER = timedelta(minutes=30)
# new columns with such names start flagged sensitive (an admin can clear the flag)
SENSITIVE_NAME = re.compile(
    r"passw|pwd|secret|token|api_?key|ssn|social_?security|credit_?card|card_?num|cvv|iban|salt|hash", re.IGNORECASE
)
STRUCTURE = ("type", "nullable", "default", "primary_key")


def jobs_blueprint() -> Blueprint:
    """The catalog's tasks, fresh per app (a procrastinate blueprint binds to the first app it joins)."""
    blueprint = Blueprint()

    @blueprint.task(name="sync", pass_context=True)
    async def sync(context: JobContext, sync_id: int) -> None:
        """Job "catalog:sync": run one queued sync."""
        catalog: CatalogService = context.additional_context["catalog"]
        await catalog.run_sync(sync_id)

    return blueprint


def _sync_status(row: SyncRow) -> SyncStatus:
    from nl2sql.catalog.service import _sync

    return _sync(row)


async def start_sync(service: CatalogService, actor: User | None, name: str, *, defer: bool = True) -> SyncStatus:
    async with service._sessions() as db:
        connection = await service._row_by_name(db, name)
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
                return _sync_status(active)
            active.status, active.finished_at = "failed", utcnow()
            active.error = "interrupted: the worker running it stopped"
        row = SyncRow(
            connection_id=connection.id,
            status="queued",
            phase="queued",
            requested_by=actor.id if actor else None,
            created_at=utcnow(),
        )
        db.add(row)
        await db.flush()
        service._audit(db, actor, "catalog.sync.start", f"connection:{name}", after={"sync_id": row.id})
        await db.commit()
        status = _sync_status(row)
    if defer and service.jobs is not None:
        await service.jobs.defer("catalog:sync", sync_id=status.id)
    elif defer:
        return await run_sync(service, status.id)
    return status


async def _update(service: CatalogService, sync_id: int, **values: Any) -> None:
    async with service._sessions() as db:
        await db.execute(sa.update(SyncRow).where(SyncRow.id == sync_id).values(**values))
        await db.commit()


async def _plan(service: CatalogService, connection_id: int) -> SamplingPlan:
    settings = service.settings
    async with service._sessions() as db:
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
    return SamplingPlan(
        distinct_max=settings.distinct_values_max,
        sample_rows=settings.sample_rows,
        row_count_cap=settings.row_count_cap,
        skip_tables=frozenset(skip_tables),
        skip_columns=frozenset(skip_columns),
        skip_column_names=SENSITIVE_NAME,
    )


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


async def run_sync(service: CatalogService, sync_id: int) -> SyncStatus:
    async with service._sessions() as db:
        row = await db.get(SyncRow, sync_id)
        if row is None:
            raise AppError(f"no sync {sync_id}")
        if row.status in ("succeeded", "failed"):
            return _sync_status(row)
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
        anyio.from_thread.run(lambda: _update(service, sync_id, phase=phase, done=done, total=total))

    url = None
    try:
        url, _ = await service._url_and_version(connection_id)
        plan = await _plan(service, connection_id)
        engine = await service.engine(connection_id)
        scan = await anyio.to_thread.run_sync(lambda: introspect(engine, schemas, plan, progress))
        shapes = scan.tables
    except Exception as exc:  # every failure becomes the sync's reported reason; the catalog stays as it was
        message = _explain(exc, url)
        log.warning("sync %s of connection %s failed: %s", sync_id, connection_id, message)
        await _update(service, sync_id, status="failed", phase="failed", error=message, finished_at=utcnow())
        return await service.get_sync(sync_id)
    await _update(service, sync_id, phase="saving", done=0, total=len(shapes))
    try:
        diff = await _write_catalog(service, sync_id, connection_id, shapes, _schema_note(scan, bool(schemas)))
    except Exception as exc:  # the transaction rolled back: the previous catalog is intact
        log.exception("saving the catalog of connection %s failed", connection_id)
        await _update(
            service, sync_id, status="failed", phase="failed", finished_at=utcnow(),
            error=f"saving the catalog failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
        )
        return await service.get_sync(sync_id)
    await service._notify(connection_id)
    log.info("sync %s of connection %s: %s", sync_id, connection_id, diff["summary"])
    return await service.get_sync(sync_id)


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


async def _write_catalog(
    service: CatalogService, sync_id: int, connection_id: int, shapes: list[TableShape], note: dict[str, Any] | None = None
) -> dict:
    """Replace structure, keep human metadata of what still exists, and return the diff; one transaction."""
    from nl2sql.catalog.service import search_text

    now = utcnow()
    async with service._sessions() as db:
        first_sync = (await db.scalar(sa.select(ConnectionRow.synced_at).where(ConnectionRow.id == connection_id))) is None
        old_tables = {
            (t.schema, t.name): t
            for t in await db.scalars(sa.select(TableRow).where(TableRow.connection_id == connection_id))
        }
        old_columns: dict[int, dict[str, ColumnRow]] = {}
        if old_tables:
            for c in await db.scalars(
                sa.select(ColumnRow).join(TableRow, TableRow.id == ColumnRow.table_id).where(
                    TableRow.connection_id == connection_id)
            ):
                old_columns.setdefault(c.table_id, {})[c.name] = c
        # from here the loaded rows are plain values: changes go out as bulk statements, not ORM flushes
        db.expunge_all()
        new_by_key = {s.key: s for s in shapes}
        removed = [old_tables[k] for k in old_tables if k not in new_by_key]
        added = [s for s in shapes if s.key not in old_tables]
        kept = [s for s in shapes if s.key in old_tables]
        diff: dict[str, Any] = {
            "first_sync": first_sync,
            "added_tables": [_qualified(*s.key) for s in added],
            "removed_tables": [_qualified(t.schema, t.name) for t in removed],
            "changed_tables": [],
        } | (note or {})

        if removed:
            await db.execute(sa.delete(TableRow).where(TableRow.id.in_([t.id for t in removed])))

        # new tables: one multi-row insert returning their ids
        table_ids: dict[tuple[str, str], int] = {k: t.id for k, t in old_tables.items() if k in new_by_key}
        if added:
            inserted = await db.execute(
                sa.insert(TableRow.__table__).returning(
                    TableRow.__table__.c.id, TableRow.__table__.c.schema, TableRow.__table__.c.name,
                    sort_by_parameter_order=True,
                ),
                [
                    {
                        "connection_id": connection_id, "schema": s.schema, "name": s.name, "kind": s.kind,
                        "comment": s.comment, "description": "", "business_name": "", "synonyms": [],
                        "included": True, "row_count": s.row_count, "search_text": "",
                    }
                    for s in added
                ],
            )
            for table_id, schema, name in inserted:
                table_ids[(schema, name)] = table_id

        column_inserts: list[dict] = []
        column_updates: list[dict] = []
        column_deletes: list[int] = []
        table_updates: list[dict] = []
        final_columns: dict[tuple[str, str], list[ColumnRow]] = {}

        for shape in shapes:
            table_id = table_ids[shape.key]
            old_table = old_tables.get(shape.key)
            previous = old_columns.get(old_table.id, {}) if old_table else {}
            change: dict[str, Any] = {"table": _qualified(*shape.key), "added_columns": [], "removed_columns": [],
                                      "changed_columns": [], "changes": {}}
            if old_table is not None:
                for field in ("kind", "comment"):
                    if getattr(old_table, field) != getattr(shape, field):
                        change["changes"][field] = [getattr(old_table, field), getattr(shape, field)]
            seen = set()
            columns_now: list[ColumnRow] = []
            for position, col in enumerate(shape.columns):
                seen.add(col.name)
                old = previous.get(col.name)
                structure = {"type": col.type, "nullable": col.nullable, "default": col.default,
                             "primary_key": col.primary_key}
                if old is None:
                    sensitive = bool(SENSITIVE_NAME.search(col.name))
                    values = {
                        "table_id": table_id, "position": position, "name": col.name, **structure,
                        "comment": col.comment, "description": "", "business_name": "", "synonyms": [],
                        "included": True, "sensitive": sensitive,
                        "distinct_values": None if sensitive else col.distinct_values,
                    }
                    column_inserts.append(values)
                    columns_now.append(ColumnRow(**values))
                    if old_table is not None:
                        change["added_columns"].append(col.name)
                    continue
                changed = {k: [getattr(old, k), v] for k, v in structure.items() if getattr(old, k) != v}
                if old.comment != col.comment:
                    changed["comment"] = [old.comment, col.comment]
                if changed:
                    change["changed_columns"].append({"column": col.name, "changes": changed})
                values_now = None if old.sensitive or not old.included else col.distinct_values
                if changed or old.position != position or old.distinct_values != values_now:
                    column_updates.append({"id": old.id, "position": position, **structure, "comment": col.comment,
                                           "distinct_values": values_now})
                for k, v in structure.items():
                    setattr(old, k, v)
                old.comment = col.comment
                columns_now.append(old)
            for name, old in previous.items():
                if name not in seen:
                    column_deletes.append(old.id)
                    change["removed_columns"].append(name)
            final_columns[shape.key] = columns_now
            if old_table is not None and (change["added_columns"] or change["removed_columns"]
                                          or change["changed_columns"] or change["changes"]):
                diff["changed_tables"].append(change)

            probe = old_table or TableRow(schema=shape.schema, name=shape.name, business_name="", synonyms=[],
                                          description="")
            probe.comment = shape.comment
            text = search_text(probe, columns_now)
            if old_table is None:
                table_updates.append({"id": table_id, "search_text": text})
            else:
                table_updates.append({"id": table_id, "kind": shape.kind, "comment": shape.comment,
                                      "row_count": shape.row_count, "search_text": text})

        if column_deletes:
            await db.execute(sa.delete(ColumnRow).where(ColumnRow.id.in_(column_deletes)))
        if column_inserts:
            await db.execute(sa.insert(ColumnRow.__table__), column_inserts)
        await _bulk_update(db, ColumnRow.__table__, column_updates)
        await _bulk_update(db, TableRow.__table__, table_updates)

        # foreign keys carry no human metadata: replace them all
        await db.execute(
            sa.delete(ForeignKeyRow).where(
                ForeignKeyRow.table_id.in_(sa.select(TableRow.id).where(TableRow.connection_id == connection_id))
            )
        )
        fk_rows = [
            {"table_id": table_ids[s.key], "name": fk.name, "columns": fk.columns, "ref_schema": fk.ref_schema,
             "ref_table": fk.ref_table, "ref_columns": fk.ref_columns}
            for s in shapes
            for fk in s.foreign_keys
        ]
        if fk_rows:
            await db.execute(sa.insert(ForeignKeyRow.__table__), fk_rows)

        column_count = sum(len(s.columns) for s in shapes)
        diff["summary"] = {
            "tables": len(shapes),
            "columns": column_count,
            "added": len(added),
            "removed": len(removed),
            "changed": len(diff["changed_tables"]),
        }
        await db.execute(
            sa.update(ConnectionRow).where(ConnectionRow.id == connection_id).values(synced_at=now, catalog_changed_at=now)
        )
        await db.execute(
            sa.update(SyncRow).where(SyncRow.id == sync_id).values(
                status=SyncState.SUCCEEDED.value, phase="done", done=len(shapes), total=len(shapes),
                finished_at=utcnow(), diff=diff, error=None,
            )
        )
        await db.commit()
    return diff


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
