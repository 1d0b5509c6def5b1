"""Knowledge drafts: a hidden copy of a connection's curated catalog, edited and tried before it goes live.

A draft is a connection row of its own (`draft_of` names the live one) holding a copy of the live catalog:
tables, columns and their curation (descriptions, business names, synonyms, included and sensitive flags,
semantic corrections, value synonyms), foreign keys, join hints, instructions, golden queries, metrics and segments. Because it is an ordinary
connection, the engine answers on it unchanged, so an evaluation on the draft measures exactly what publishing
would do. The draft also keeps what the live connection said when it was taken (its base), so publishing is a
three-way merge (`reconcile`, a pure function of three snapshots): only what the draft changed since goes live, and
where the live connection changed the same thing differently in the meantime the publish stops on a conflict until
an admin says which side wins. Discarding deletes the draft. The functions here work inside a session the service
opens and commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from nl2sql.auth import User
from nl2sql.catalog.base import CatalogCore
from nl2sql.catalog.dto import DraftChange, DraftConflict, KnowledgeDraft
from nl2sql.catalog.models import (
    ColumnRow,
    ConnectionRow,
    ForeignKeyRow,
    GoldenQueryRow,
    InstructionRow,
    JoinHintRow,
    MetricRow,
    TableRow,
)
from nl2sql.catalog.rows import search_text, to_connection
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, NotFoundError, ValidationFailed

SUFFIX = "~draft"  # "~" is outside connection names, so a draft's name never meets a real connection's
TABLE_FIELDS = ("description", "business_name", "synonyms", "included", "semantics")
COLUMN_FIELDS = ("description", "business_name", "synonyms", "included", "sensitive", "semantics", "value_synonyms")
ROW_KINDS = ("join_hint", "instruction", "golden_query", "metric")
# a metric's (or segment's) fields as a draft compares and publishes them
METRIC_FIELDS = ("kind", "name", "expression", "filters", "time_column", "synonyms", "description", "format")


def draft_name(live_name: str) -> str:
    return live_name[: 63 - len(SUFFIX)] + SUFFIX


@dataclass(frozen=True)
class Knowledge:
    """What a connection's curated catalog says, as plain values (a snapshot to compare).

    tables: ref -> {field: value}; columns: (ref, column) -> {field: value}; rows: kind -> id -> values, where
    a join hint is (left, right, pairs, note), an instruction (kind, text), a golden query (question, sql) and a
    metric or segment its METRIC_FIELDS."""

    tables: dict[str, dict[str, Any]]
    columns: dict[tuple[str, str], dict[str, Any]]
    rows: dict[str, dict[int, tuple]]

    def to_json(self) -> dict[str, Any]:
        return {"tables": self.tables, "columns": [[ref, name, values] for (ref, name), values in self.columns.items()],
                "rows": {kind: {str(i): list(v) for i, v in rows.items()} for kind, rows in self.rows.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Knowledge:
        return cls(tables=data["tables"], columns={(ref, name): values for ref, name, values in data["columns"]},
                   rows={kind: {int(i): tuple(v) for i, v in rows.items()} for kind, rows in data["rows"].items()})


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
    metrics = {m.id: tuple(_norm(getattr(m, f)) for f in METRIC_FIELDS) for m in await db.scalars(
        sa.select(MetricRow).where(MetricRow.connection_id == connection_id))}
    return Knowledge(tables, columns, {"join_hint": hints, "instruction": instructions, "golden_query": golden,
                                       "metric": metrics})


def _row_target(kind: str, values: tuple) -> str:
    if kind == "join_hint":
        return f"{values[0]} - {values[1]}"
    if kind == "instruction":
        return f"({values[0]}) {values[1][:80]}"
    if kind == "metric":
        return f"{values[0]} {values[1]}"
    return values[0][:80]


_UNKNOWN = object()  # the base of a draft taken before drafts kept one: equal to nothing, so every difference conflicts


@dataclass(frozen=True)
class Reconciliation:
    """What publishing a draft does: the changes that go live, and the conflicts that stop it until decided."""

    changes: list[DraftChange]
    conflicts: list[DraftConflict]


def reconcile(base: Knowledge | None, live: Knowledge, draft: Knowledge,
              origin: dict[str, dict[str, int]]) -> Reconciliation:
    """A three-way comparison: what the draft changed since it was taken from `base` goes to `live`, the rest of
    live stays as it is now; where live changed the same thing differently since, a conflict.

    Tables and columns are matched by name, field by field (only those on both sides: a table the live connection
    gained or lost in a sync since is left as it is). Join hints, instructions and golden queries are matched
    through `origin` (draft row id -> the live row it was copied from): the draft's edits update the live row, its
    new rows are added (unless live already holds the same words), copied rows it deleted are removed; live rows
    added or deleted after the draft was taken stay so. A draft's edit of a row live has deleted, or its deletion
    of a row live has edited, is a conflict. Without a base (a draft taken before drafts kept one), every
    difference is a conflict."""
    out: list[DraftChange] = []
    clashes: list[DraftConflict] = []
    known = base is not None

    def field_change(kind: str, target: str, field: str, was: Any, now: Any, wanted: Any) -> None:
        if wanted == was or wanted == now:  # the draft left it alone, or live already says the same
            return
        change = DraftChange(kind, "update", target, field, now, wanted)
        if now == was:
            out.append(change)
        else:
            clashes.append(DraftConflict(kind, target, field, None if was is _UNKNOWN else was, now, wanted,
                                         "changed", "changed", change, base_known=known))

    for ref in sorted(draft.tables.keys() & live.tables.keys()):
        was = base.tables.get(ref, {}) if known else {}
        for field in TABLE_FIELDS:
            field_change("table", ref, field, was.get(field, _UNKNOWN), live.tables[ref][field],
                         draft.tables[ref][field])
    for key in sorted(draft.columns.keys() & live.columns.keys()):
        was = base.columns.get(key, {}) if known else {}
        for field in COLUMN_FIELDS:
            # .get: a field added since (value_synonyms) is missing from snapshots taken before it
            field_change("column", f"{key[0]}.{key[1]}", field, was.get(field, _UNKNOWN), live.columns[key].get(field),
                         draft.columns[key].get(field))
    for kind in ROW_KINDS:
        mapping = {int(d): int(l) for d, l in (origin.get(kind) or {}).items()}
        live_rows, draft_rows = live.rows.get(kind, {}), draft.rows.get(kind, {})
        base_rows = base.rows.get(kind, {}) if known else {}
        for draft_id, values in sorted(draft_rows.items()):
            live_id = mapping.get(draft_id)
            if live_id is None:  # new in the draft
                if values not in live_rows.values():
                    out.append(DraftChange(kind, "add", _row_target(kind, values), after=values, draft_id=draft_id))
                continue
            was, now = base_rows.get(live_id, _UNKNOWN), live_rows.get(live_id)
            if values == was or values == now:
                continue
            if now is None:  # the draft edited a row live has deleted since: the draft winning adds it back
                change = DraftChange(kind, "add", _row_target(kind, values), after=values, draft_id=draft_id)
                clashes.append(DraftConflict(kind, _row_target(kind, values), "", None if was is _UNKNOWN else was,
                                             None, values, "deleted", "changed", change, live_id, known))
                continue
            change = DraftChange(kind, "update", _row_target(kind, values), before=now, after=values,
                                 live_id=live_id, draft_id=draft_id)
            if now == was:
                out.append(change)
            else:
                clashes.append(DraftConflict(kind, _row_target(kind, values), "", None if was is _UNKNOWN else was,
                                             now, values, "changed", "changed", change, live_id, known))
        for draft_id, live_id in sorted(mapping.items()):
            if draft_id in draft_rows or live_id not in live_rows:
                continue  # kept by the draft (above), or gone on both sides
            was, now = base_rows.get(live_id, _UNKNOWN), live_rows[live_id]
            change = DraftChange(kind, "remove", _row_target(kind, now), before=now, live_id=live_id)
            if now == was:
                out.append(change)
            else:  # the draft deleted a row live has edited since
                clashes.append(DraftConflict(kind, _row_target(kind, now), "", None if was is _UNKNOWN else was,
                                             now, None, "changed", "deleted", change, live_id, known))
    return Reconciliation(out, clashes)


async def copy(db: AsyncSession, live: ConnectionRow) -> ConnectionRow:
    """A new draft of `live`, its whole curated catalog copied, in the caller's transaction."""
    now = utcnow()
    base = await knowledge(db, live.id)  # what live says now: a publish applies only what the draft changes from it
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
        ("metric", MetricRow, (*METRIC_FIELDS, "created_at", "updated_at")),
    ):
        sources = list(await db.scalars(sa.select(model).where(model.connection_id == live.id).order_by(model.id)))
        made = [model(connection_id=draft.id, **{f: getattr(s, f) for f in fields}) for s in sources]
        db.add_all(made)
        await db.flush()
        origin[kind] = {str(m.id): s.id for m, s in zip(made, sources)}
    draft.draft_origin = origin
    draft.draft_base = base.to_json()
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
    model = {"join_hint": JoinHintRow, "instruction": InstructionRow, "golden_query": GoldenQueryRow,
             "metric": MetricRow}[change.kind]
    if change.action == "remove":
        await db.execute(sa.delete(model).where(model.id == change.live_id, model.connection_id == live_id))
        return
    source = await db.get(model, change.draft_id)
    if change.kind == "join_hint":
        values = {"left_table": source.left_table, "right_table": source.right_table, "pairs": source.pairs,
                  "note": source.note}
    elif change.kind == "instruction":
        values = {"text": source.text, "kind": source.kind, "updated_at": now}
    elif change.kind == "metric":
        values = {f: getattr(source, f) for f in METRIC_FIELDS} | {"updated_at": now}
        if change.action == "add":  # live has one of that name since: the draft's replaces it (names are unique)
            same = await db.scalar(sa.select(MetricRow).where(MetricRow.connection_id == live_id,
                                                              MetricRow.kind == source.kind, MetricRow.name == source.name))
            if same is not None:
                for key, value in values.items():
                    setattr(same, key, value)
                return
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


SIDES = ("draft", "live")


class PublishConflict(ConflictError):
    """A publish stopped: the live connection changed, since the draft was taken, things the draft changed too."""

    def __init__(self, conflicts: list[DraftConflict]) -> None:
        listed = "; ".join(c.detail for c in conflicts)
        super().__init__(
            f"nothing was published: {len(conflicts)} conflict{'s' if len(conflicts) != 1 else ''} with the live "
            f"connection ({listed}). Say which side wins (resolve \"draft\" or \"live\", for all or per conflict "
            "key) and publish again, or edit the draft.",
            extra={"conflicts": [c.to_json() for c in conflicts]})
        self.conflicts = conflicts


def _choices(resolve: str | Mapping[str, str] | None) -> str | dict[str, str]:
    """A publish's choices checked: one side for every conflict, or conflict key -> side."""
    if resolve is None:
        return {}
    if isinstance(resolve, str):
        if resolve not in SIDES:
            raise ValidationFailed(f"resolve must be \"draft\" or \"live\", not {resolve!r}")
        return resolve
    wrong = sorted(k for k, v in resolve.items() if v not in SIDES)
    if wrong:
        raise ValidationFailed(f"resolve: each conflict takes \"draft\" or \"live\" ({', '.join(wrong)} do not)")
    return dict(resolve)


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
        """The draft of connection `name` (or the draft named `name`), with what publishing it would change and
        where the live connection changed the same things since (conflicts)."""
        async with self._sessions() as db:
            live, draft = await self._draft_rows(db, name)
            found = await self._reconcile(db, live, draft)
            return KnowledgeDraft(connection=to_connection(draft), live=to_connection(live), created_at=draft.created_at,
                                  changes=tuple(found.changes),
                                  live_synced_since=bool(live.synced_at and live.synced_at > draft.created_at),
                                  conflicts=tuple(found.conflicts), base_known=draft.draft_base is not None)

    async def draft_of(self, name: str) -> KnowledgeDraft | None:
        """The draft of connection `name`, if it has one."""
        try:
            return await self.draft(name)
        except NotFoundError:
            async with self._sessions() as db:
                await self._row_by_name(db, name)  # an unknown connection is still a 404
            return None

    @staticmethod
    async def _reconcile(db: AsyncSession, live: ConnectionRow, draft: ConnectionRow) -> Reconciliation:
        base = Knowledge.from_json(draft.draft_base) if draft.draft_base is not None else None
        return reconcile(base, await knowledge(db, live.id), await knowledge(db, draft.id), draft.draft_origin or {})

    async def publish_draft(self, actor: User | None, name: str,
                            resolve: str | Mapping[str, str] | None = None) -> list[DraftChange]:
        """Make what the draft changed live (the rest of the live connection stays as it is now) and remove the draft.

        Where the live connection changed the same thing since the draft was taken, nothing is published and a
        `PublishConflict` lists each conflict, unless `resolve` decides it: "draft" (the draft's value wins) or
        "live" (the live value stays), for every conflict or per conflict key."""
        choices = _choices(resolve)
        async with self._sessions() as db:
            live, draft = await self._draft_rows(db, name)
            found = await self._reconcile(db, live, draft)
            applied, decided, open_ = list(found.changes), {}, []
            for conflict in found.conflicts:
                choice = choices if isinstance(choices, str) else choices.get(conflict.key)
                if choice is None:
                    open_.append(conflict)
                    continue
                decided[conflict.key] = choice
                if choice == "draft":
                    applied.append(conflict.change)
            if open_:
                raise PublishConflict(open_)
            await publish(db, live.id, draft.id, applied, search_text)
            after: dict[str, Any] = {"changes": [c.to_json() for c in applied]}
            if decided:
                after["conflicts"] = [c.to_json() | {"kept": decided[c.key]} for c in found.conflicts]
            self._audit(db, actor, "catalog.draft.publish", f"connection:{live.name}", after=after)
            if applied:
                await self._touch(db, live.id)
            await db.delete(draft)
            await db.commit()
            live_id, draft_id = live.id, draft.id
            self._engines.discard(draft_id)
        await self._notify(live_id)
        await self._notify(draft_id)
        return applied

    async def discard_draft(self, actor: User | None, name: str) -> None:
        async with self._sessions() as db:
            live, draft = await self._draft_rows(db, name)
            self._audit(db, actor, "catalog.draft.discard", f"connection:{live.name}", before={"draft": draft.name})
            await db.delete(draft)
            await db.commit()
            draft_id = draft.id
            self._engines.discard(draft_id)
        await self._notify(draft_id)
