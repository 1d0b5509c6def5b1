"""Knowledge drafts: a hidden copy of a connection's curated catalog, edited and tried before it goes live.

A draft is a connection row of its own (`draft_of` names the live one) holding a copy of the live catalog:
tables, columns and their curation (descriptions, business names, synonyms, included and sensitive flags,
semantic corrections), foreign keys, join hints, instructions and golden queries. Because it is an ordinary
connection, the engine answers on it unchanged, so an evaluation on the draft measures exactly what publishing
would do. Publishing applies the differences (`changes`, a pure function of two snapshots) to the live rows;
discarding deletes the draft. The functions here work inside a session the service opens and commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from nl2sql.auth import User
from nl2sql.catalog.base import CatalogCore
from nl2sql.catalog.dto import DraftChange, KnowledgeDraft
from nl2sql.catalog.models import (
    ColumnRow,
    ConnectionRow,
    ForeignKeyRow,
    GoldenQueryRow,
    InstructionRow,
    JoinHintRow,
    TableRow,
)
from nl2sql.catalog.rows import search_text, to_connection
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, NotFoundError

SUFFIX = "~draft"  # "~" is outside connection names, so a draft's name never meets a real connection's
TABLE_FIELDS = ("description", "business_name", "synonyms", "included", "semantics")
COLUMN_FIELDS = ("description", "business_name", "synonyms", "included", "sensitive", "semantics")
ROW_KINDS = ("join_hint", "instruction", "golden_query")


def draft_name(live_name: str) -> str:
    return live_name[: 63 - len(SUFFIX)] + SUFFIX


@dataclass(frozen=True)
class Knowledge:
    """What a connection's curated catalog says, as plain values (a snapshot to compare).

    tables: ref -> {field: value}; columns: (ref, column) -> {field: value}; rows: kind -> id -> values, where
    a join hint is (left, right, pairs, note), an instruction (kind, text) and a golden query (question, sql)."""

    tables: dict[str, dict[str, Any]]
    columns: dict[tuple[str, str], dict[str, Any]]
    rows: dict[str, dict[int, tuple]]


def _ref(schema: str, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in sorted(value.items()) if v not in (None, "")}
    return value


async def knowledge(db: AsyncSession, connection_id: int) -> Knowledge:
    tables, columns = {}, {}
    by_id = {}
    for t in await db.scalars(sa.select(TableRow).where(TableRow.connection_id == connection_id)):
        ref = _ref(t.schema, t.name)
        by_id[t.id] = ref
        tables[ref] = {f: _norm(getattr(t, f)) for f in TABLE_FIELDS}
    if by_id:
        for c in await db.scalars(sa.select(ColumnRow).where(ColumnRow.table_id.in_(by_id))):
            columns[(by_id[c.table_id], c.name)] = {f: _norm(getattr(c, f)) for f in COLUMN_FIELDS}
    hints = {h.id: (h.left_table, h.right_table, _norm(h.pairs), h.note) for h in await db.scalars(
        sa.select(JoinHintRow).where(JoinHintRow.connection_id == connection_id))}
    instructions = {i.id: (i.kind, i.text) for i in await db.scalars(
        sa.select(InstructionRow).where(InstructionRow.connection_id == connection_id))}
    golden = {g.id: (g.question, g.sql) for g in await db.scalars(
        sa.select(GoldenQueryRow).where(GoldenQueryRow.connection_id == connection_id))}
    return Knowledge(tables, columns, {"join_hint": hints, "instruction": instructions, "golden_query": golden})


def _row_target(kind: str, values: tuple) -> str:
    if kind == "join_hint":
        return f"{values[0]} - {values[1]}"
    if kind == "instruction":
        return f"({values[0]}) {values[1][:80]}"
    return values[0][:80]


def changes(live: Knowledge, draft: Knowledge, origin: dict[str, dict[str, int]]) -> list[DraftChange]:
    """What publishing `draft` does to `live`: the draft's values win wherever they differ.

    Tables and columns are matched by name (only those on both sides: a table the live connection gained or
    lost in a sync since is left as it is). Join hints, instructions and golden queries are matched through
    `origin` (draft row id -> the live row it was copied from): changed ones are updated, the draft's new ones
    added, copied ones the draft deleted removed; live rows added after the draft was taken stay."""
    out: list[DraftChange] = []
    for ref in sorted(draft.tables.keys() & live.tables.keys()):
        for field in TABLE_FIELDS:
            before, after = live.tables[ref][field], draft.tables[ref][field]
            if before != after:
                out.append(DraftChange("table", "update", ref, field, before, after))
    for key in sorted(draft.columns.keys() & live.columns.keys()):
        for field in COLUMN_FIELDS:
            before, after = live.columns[key][field], draft.columns[key][field]
            if before != after:
                out.append(DraftChange("column", "update", f"{key[0]}.{key[1]}", field, before, after))
    for kind in ROW_KINDS:
        mapping = {int(d): int(l) for d, l in (origin.get(kind) or {}).items()}
        live_rows, draft_rows = live.rows.get(kind, {}), draft.rows.get(kind, {})
        for draft_id, values in sorted(draft_rows.items()):
            live_id = mapping.get(draft_id)
            if live_id is None or live_id not in live_rows:
                out.append(DraftChange(kind, "add", _row_target(kind, values), after=values, draft_id=draft_id))
            elif live_rows[live_id] != values:
                out.append(DraftChange(kind, "update", _row_target(kind, values), before=live_rows[live_id],
                                       after=values, live_id=live_id, draft_id=draft_id))
        for draft_id, live_id in sorted(mapping.items()):
            if draft_id not in draft_rows and live_id in live_rows:
                out.append(DraftChange(kind, "remove", _row_target(kind, live_rows[live_id]),
                                       before=live_rows[live_id], live_id=live_id))
    return out


async def copy(db: AsyncSession, live: ConnectionRow) -> ConnectionRow:
    """A new draft of `live`, its whole curated catalog copied, in the caller's transaction."""
    now = utcnow()
    draft = ConnectionRow(name=draft_name(live.name), backend=live.backend, display_url=live.display_url,
                          url_encrypted=live.url_encrypted, schemas=list(live.schemas or []),
                          description=live.description, created_at=now, updated_at=now, catalog_changed_at=now,
                          synced_at=live.synced_at, draft_of=live.id)
    db.add(draft)
    await db.flush()
    t = TableRow.__table__
    table_columns = [c.name for c in t.columns if c.name not in ("id", "connection_id")]
    await db.execute(t.insert().from_select(
        ["connection_id", *table_columns],
        sa.select(sa.literal(draft.id), *[t.c[n] for n in table_columns]).where(t.c.connection_id == live.id)))
    old, new = t.alias("old"), t.alias("new")
    pairs = (sa.select(old.c.id.label("old_id"), new.c.id.label("new_id"))
             .join(new, sa.and_(new.c.connection_id == draft.id, new.c.schema == old.c.schema,
                                new.c.name == old.c.name))
             .where(old.c.connection_id == live.id).subquery())
    for child in (ColumnRow.__table__, ForeignKeyRow.__table__):
        names = [c.name for c in child.columns if c.name not in ("id", "table_id")]
        await db.execute(child.insert().from_select(
            ["table_id", *names],
            sa.select(pairs.c.new_id, *[child.c[n] for n in names]).join(pairs, pairs.c.old_id == child.c.table_id)))
    origin: dict[str, dict[str, int]] = {kind: {} for kind in ROW_KINDS}
    for kind, model, fields in (
        ("join_hint", JoinHintRow, ("left_table", "right_table", "pairs", "note")),
        ("instruction", InstructionRow, ("text", "kind", "created_at", "updated_at")),
        ("golden_query", GoldenQueryRow, ("question", "sql", "created_at", "updated_at")),
    ):
        sources = list(await db.scalars(sa.select(model).where(model.connection_id == live.id).order_by(model.id)))
        made = [model(connection_id=draft.id, **{f: getattr(s, f) for f in fields}) for s in sources]
        db.add_all(made)
        await db.flush()
        origin[kind] = {str(m.id): s.id for m, s in zip(made, sources)}
    draft.draft_origin = origin
    return draft


async def publish(db: AsyncSession, live_id: int, draft_id: int, found: list[DraftChange],
                  search_text: Callable[[TableRow, list[ColumnRow]], str]) -> None:
    """Apply `found` (from `changes`) to the live connection's rows, in the caller's transaction; `search_text`
    gives a changed table its new search words."""
    now = utcnow()
    tables = {_ref(t.schema, t.name): t for t in await db.scalars(
        sa.select(TableRow).where(TableRow.connection_id == live_id))}
    columns: dict[tuple[str, str], ColumnRow] = {}
    by_id = {t.id: ref for ref, t in tables.items()}
    if by_id:
        for c in await db.scalars(sa.select(ColumnRow).where(ColumnRow.table_id.in_(by_id))):
            columns[(by_id[c.table_id], c.name)] = c
    for change in found:
        if change.kind == "table":
            setattr(tables[change.target], change.field, change.after)
        elif change.kind == "column":
            ref, name = change.target.rsplit(".", 1)
            column = columns[(ref, name)]
            setattr(column, change.field, change.after)
            if change.field == "sensitive" and change.after:
                column.distinct_values = None  # sampled values of a column now sensitive go at once
        else:
            await _publish_row(db, live_id, draft_id, change, now)
    touched = {c.target if c.kind == "table" else c.target.rsplit(".", 1)[0]
               for c in found if c.kind in ("table", "column")}
    for ref in touched & tables.keys():
        table = tables[ref]
        table.search_text = search_text(table, [c for (r, _), c in columns.items() if r == ref])


async def _publish_row(db: AsyncSession, live_id: int, draft_id: int, change: DraftChange, now) -> None:
    model = {"join_hint": JoinHintRow, "instruction": InstructionRow, "golden_query": GoldenQueryRow}[change.kind]
    if change.action == "remove":
        await db.execute(sa.delete(model).where(model.id == change.live_id, model.connection_id == live_id))
        return
    source = await db.get(model, change.draft_id)
    if change.kind == "join_hint":
        values = {"left_table": source.left_table, "right_table": source.right_table, "pairs": source.pairs,
                  "note": source.note}
    elif change.kind == "instruction":
        values = {"text": source.text, "kind": source.kind, "updated_at": now}
    else:
        values = {"question": source.question, "sql": source.sql, "updated_at": now}
    if change.action == "update":
        row = await db.get(model, change.live_id)
        for key, value in values.items():
            setattr(row, key, value)
    else:
        if change.kind != "join_hint":
            values["created_at"] = now
        db.add(model(connection_id=live_id, **values))


class DraftsPart(CatalogCore):
    """Knowledge drafts: created, listed with what publishing them changes, published or discarded."""

    # knowledge drafts -----------------------------------------------------------------------------

    async def create_draft(self, actor: User | None, name: str) -> KnowledgeDraft:
        """A draft of connection `name`: a hidden copy of its curated catalog to edit and try before publishing
        (the usual table, column, join hint, instruction and golden query edits, on the draft's name)."""
        async with self._sessions() as db:
            live = await self._row_by_name(db, name)
            self._refuse_draft(live, "drafted again (edit this draft, or publish or discard it first)")
            if await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.draft_of == live.id)):
                raise ConflictError(f"connection {name} already has a draft ({draft_name(live.name)}): "
                                    "publish or discard it first")
            draft = await copy(db, live)
            self._audit(db, actor, "catalog.draft.create", f"connection:{live.name}", after={"draft": draft.name})
            await db.commit()
            draft_id = draft.id
        await self._notify(draft_id)
        return await self.draft(name)

    async def _draft_rows(self, db: AsyncSession, name: str) -> tuple[ConnectionRow, ConnectionRow]:
        """(live, draft) for either one's name."""
        row = await self._row_by_name(db, name)
        if row.draft_of is not None:
            return await db.get(ConnectionRow, row.draft_of), row
        draft = await db.scalar(sa.select(ConnectionRow).where(ConnectionRow.draft_of == row.id))
        if draft is None:
            raise NotFoundError(f"connection {name} has no draft")
        return row, draft

    async def draft(self, name: str) -> KnowledgeDraft:
        """The draft of connection `name` (or the draft named `name`), with what publishing it would change."""
        async with self._sessions() as db:
            live, draft = await self._draft_rows(db, name)
            found = await self._draft_changes(db, live, draft)
            return KnowledgeDraft(connection=to_connection(draft), live=to_connection(live), created_at=draft.created_at,
                                  changes=tuple(found),
                                  live_synced_since=bool(live.synced_at and live.synced_at > draft.created_at))

    async def draft_of(self, name: str) -> KnowledgeDraft | None:
        """The draft of connection `name`, if it has one."""
        try:
            return await self.draft(name)
        except NotFoundError:
            async with self._sessions() as db:
                await self._row_by_name(db, name)  # an unknown connection is still a 404
            return None

    @staticmethod
    async def _draft_changes(db: AsyncSession, live: ConnectionRow, draft: ConnectionRow) -> list[DraftChange]:
        return changes(await knowledge(db, live.id), await knowledge(db, draft.id),
                              draft.draft_origin or {})

    async def publish_draft(self, actor: User | None, name: str) -> list[DraftChange]:
        """Make the draft's knowledge live (its differences applied to the live rows) and remove the draft."""
        async with self._sessions() as db:
            live, draft = await self._draft_rows(db, name)
            found = await self._draft_changes(db, live, draft)
            await publish(db, live.id, draft.id, found, search_text)
            self._audit(db, actor, "catalog.draft.publish", f"connection:{live.name}",
                        after={"changes": [c.to_json() for c in found]})
            if found:
                await self._touch(db, live.id)
            await db.delete(draft)
            await db.commit()
            live_id, draft_id = live.id, draft.id
            self._engines.discard(draft_id)
        await self._notify(live_id)
        await self._notify(draft_id)
        return found

    async def discard_draft(self, actor: User | None, name: str) -> None:
        async with self._sessions() as db:
            live, draft = await self._draft_rows(db, name)
            self._audit(db, actor, "catalog.draft.discard", f"connection:{live.name}", before={"draft": draft.name})
            await db.delete(draft)
            await db.commit()
            draft_id = draft.id
            self._engines.discard(draft_id)
        await self._notify(draft_id)
