"""The synced catalog read and curated: tables and columns (descriptions, business names, synonyms, included and sensitive flags, semantic corrections), join hints, metadata import and export."""

from __future__ import annotations

import dataclasses

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from nl2sql.auth import User
from nl2sql.catalog import transfer
from nl2sql.catalog.dto import (
    Column,
    ImportReport,
    JoinHint,
    Table,
    TablePage,
)
from nl2sql.catalog.models import (
    ColumnRow,
    ForeignKeyRow,
    InstructionRow,
    JoinHintRow,
    TableRow,
)
from nl2sql.db import utcnow
from nl2sql.errors import NotFoundError, ValidationFailed

log = logging.getLogger("nl2sql.catalog")
from nl2sql.catalog.rows import (
    column_semantics,
    like_pattern,
    search_text,
    split_table_ref,
    synonyms_list,
    table_semantics,
    to_column,
    to_join_hint,
    to_table,
)
from nl2sql.catalog.base import CatalogCore


class CurationPart(CatalogCore):
    """Reading and curating the synced catalog."""

    # catalog reading ------------------------------------------------------------------------------

    async def _with_children(self, db: AsyncSession, rows: Sequence[TableRow], included_only: bool = False) -> list[Table]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        # plain rows, not ORM objects: tens of thousands of columns load several times faster
        columns: dict[int, list[Any]] = {}
        column_table = ColumnRow.__table__
        query = sa.select(column_table).where(column_table.c.table_id.in_(ids))
        if included_only:
            query = query.where(column_table.c.included.is_(True))
        for column in await db.execute(query):
            columns.setdefault(column.table_id, []).append(column)
        fks: dict[int, list[Any]] = {}
        fk_table = ForeignKeyRow.__table__
        for fk in await db.execute(sa.select(fk_table).where(fk_table.c.table_id.in_(ids)).order_by(fk_table.c.id)):
            fks.setdefault(fk.table_id, []).append(fk)
        return [to_table(r, columns.get(r.id, ()), fks.get(r.id, ())) for r in rows]

    @staticmethod
    def _search(query: sa.Select, search: str | None) -> sa.Select:
        for term in (search or "").split():
            query = query.where(TableRow.search_text.like(like_pattern(term), escape="\\"))
        return query

    async def tables(
        self, connection_id: int, *, search: str | None = None, page: int = 1, per_page: int = 50,
        included_only: bool = False,
    ) -> TablePage:
        """A page of tables (with columns and keys), searched across names, descriptions and synonyms."""
        page, per_page = max(1, page), min(max(1, per_page), 500)
        query = self._search(sa.select(TableRow).where(TableRow.connection_id == connection_id), search)
        if included_only:
            query = query.where(TableRow.included.is_(True))
        async with self._sessions() as db:
            total = await db.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
            order = [TableRow.schema, TableRow.name]
            if search and search.split():
                # tables whose own name matches come before those matched through a column or description
                order.insert(0, sa.not_(TableRow.name.ilike(like_pattern(search.split()[0]), escape="\\")))
            rows = (await db.scalars(query.order_by(*order).limit(per_page).offset((page - 1) * per_page))).all()
            tables = await self._with_children(db, rows, included_only)
            return TablePage(tables=tuple(tables), total=total, page=page, per_page=per_page)

    async def table(self, connection_id: int, ref: str, *, included_only: bool = False) -> Table:
        """One table by `name` or `schema.name`; with `included_only` (what analysts see) an excluded table is not
        found and excluded columns are left out."""
        async with self._sessions() as db:
            row = await self._table_row(db, connection_id, ref)
            if included_only and not row.included:
                raise NotFoundError(f"no table {ref!r} in this connection's catalog")
            return (await self._with_children(db, [row], included_only))[0]

    # metadata editing ----------------------------------------------------------------------------

    async def update_table(
        self,
        actor: User | None,
        connection_id: int,
        ref: str,
        *,
        description: str | None = None,
        business_name: str | None = None,
        synonyms: Iterable[str] | str | None = None,
        included: bool | None = None,
        semantics: dict[str, str] | None = None,
    ) -> Table:
        async with self._change(connection_id) as change:
            db = change.db
            row = await self._table_row(db, connection_id, ref)
            before = {"description": row.description, "business_name": row.business_name,
                      "synonyms": list(row.synonyms), "included": row.included, "semantics": dict(row.semantics or {})}
            if semantics is not None:
                names = {c.name for c in await db.scalars(sa.select(ColumnRow).where(ColumnRow.table_id == row.id))}
                row.semantics = table_semantics(semantics, names, ref)
            if description is not None:
                row.description = description.strip()
            if business_name is not None:
                row.business_name = business_name.strip()
            if synonyms is not None:
                row.synonyms = synonyms_list(synonyms)
            if included is not None:
                row.included = bool(included)
            after = {"description": row.description, "business_name": row.business_name,
                     "synonyms": list(row.synonyms), "included": row.included, "semantics": dict(row.semantics or {})}
            columns = (await db.scalars(sa.select(ColumnRow).where(ColumnRow.table_id == row.id))).all()
            row.search_text = search_text(row, columns)
            if before != after:
                change.audit(actor, "catalog.table.update", f"connection:{connection_id}/table:{ref}", before, after)
            table = (await self._with_children(db, [row]))[0]
        return table

    async def update_column(
        self,
        actor: User | None,
        connection_id: int,
        ref: str,
        column: str,
        *,
        description: str | None = None,
        business_name: str | None = None,
        synonyms: Iterable[str] | str | None = None,
        included: bool | None = None,
        sensitive: bool | None = None,
        semantics: dict[str, str] | None = None,
    ) -> Column:
        async with self._change(connection_id) as change:
            db = change.db
            table = await self._table_row(db, connection_id, ref)
            columns = (await db.scalars(sa.select(ColumnRow).where(ColumnRow.table_id == table.id))).all()
            row = next((c for c in columns if c.name == column), None)
            if row is None:
                raise NotFoundError(f"no column {column!r} in table {ref!r}")
            fields = ("description", "business_name", "synonyms", "included", "sensitive", "semantics")
            before = {f: getattr(row, f) for f in fields}
            before["semantics"] = dict(row.semantics or {})
            if semantics is not None:
                row.semantics = column_semantics(semantics, f"{ref}.{column}")
            if description is not None:
                row.description = description.strip()
            if business_name is not None:
                row.business_name = business_name.strip()
            if synonyms is not None:
                row.synonyms = synonyms_list(synonyms)
            if included is not None:
                row.included = bool(included)
            if sensitive is not None:
                row.sensitive = bool(sensitive)
                if row.sensitive:
                    # values sampled before the flag was set go now, not at the next sync
                    row.distinct_values = None
            if (sensitive is not None and bool(sensitive) != before["sensitive"]) or (
                    included is not None and bool(included) != before["included"]):
                table.data_version = None  # what may be sampled changed: the next sync reads the table again
            after = {f: getattr(row, f) for f in fields}
            after["semantics"] = dict(row.semantics or {})
            table.search_text = search_text(table, columns)
            if before != after:
                change.audit(actor, "catalog.column.update",
                         f"connection:{connection_id}/table:{ref}/column:{column}", before, after)
            result = to_column(row)
        return result

    async def join_hints(self, connection_id: int) -> list[JoinHint]:
        async with self._sessions() as db:
            rows = await db.scalars(
                sa.select(JoinHintRow).where(JoinHintRow.connection_id == connection_id).order_by(JoinHintRow.id))
            return [to_join_hint(r) for r in rows]

    async def add_join_hint(
        self, actor: User | None, connection_id: int, left_table: str, right_table: str,
        pairs: Iterable[Sequence[str]], note: str = "",
    ) -> JoinHint:
        pairs = [[str(a).strip(), str(b).strip()] for a, b in pairs]
        if not left_table.strip() or not right_table.strip() or not pairs or not all(a and b for a, b in pairs):
            raise ValidationFailed("a join hint needs two tables and at least one column pair")
        async with self._change(connection_id) as change:
            db = change.db
            # the tables and columns must be in the synced catalog: a hint naming nothing real only misleads
            tables = []
            for ref in (left_table, right_table):
                try:
                    tables.append(await self._table_row(db, connection_id, ref))
                except NotFoundError as missing:
                    raise ValidationFailed(missing.detail) from None
            for side, table in enumerate(tables):
                known = set(await db.scalars(sa.select(ColumnRow.name).where(ColumnRow.table_id == table.id)))
                for pair in pairs:
                    column = pair[side].rsplit(".", 1)[-1]  # "orders.customer_id" or "customer_id"
                    if column not in known:
                        raise ValidationFailed(f"table {table.name} has no column {column!r}")
            row = JoinHintRow(connection_id=connection_id, left_table=left_table.strip(),
                              right_table=right_table.strip(), pairs=pairs, note=(note or "").strip())
            db.add(row)
            await db.flush()
            change.audit(actor, "catalog.join_hint.create", f"connection:{connection_id}/join_hint:{row.id}",
                     after={"left": row.left_table, "right": row.right_table, "pairs": pairs})
            hint = to_join_hint(row)
        return hint

    async def delete_join_hint(self, actor: User | None, connection_id: int, hint_id: int) -> None:
        async with self._change(connection_id) as change:
            db = change.db
            row = await db.get(JoinHintRow, hint_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no join hint {hint_id}")
            change.audit(actor, "catalog.join_hint.delete", f"connection:{connection_id}/join_hint:{hint_id}",
                     before={"left": row.left_table, "right": row.right_table, "pairs": row.pairs})
            await db.delete(row)

    # bulk metadata --------------------------------------------------------------------------------

    async def import_metadata(
        self, actor: User | None, connection_id: int, payload: Any, *, db: str | None = None
    ) -> ImportReport:
        """Apply a JSON metadata document: our export, sqleval's dbs/<db>.json or columns_join.json (`db` picks)."""
        connection = await self.get_connection_by_id(connection_id)
        parsed = transfer.parse_metadata_json(payload, connection_name=connection.name, db=db)
        report = await self._apply_metadata(actor, connection_id, parsed, "json")
        if not parsed.metrics:
            return report
        # metrics and segments after the columns they name: each is tried on the data like one an admin adds
        added, errors = await self._import_metrics(actor, connection_id, parsed.metrics)  # type: ignore[attr-defined]
        return dataclasses.replace(report, imported=report.imported + added, skipped=report.skipped + len(errors),
                                   errors=report.errors + tuple(errors),
                                   notes=report.notes + ((f"{added} metric(s) or segment(s) saved",) if added else ()))

    async def import_metadata_csv(self, actor: User | None, connection_id: int, text: str) -> ImportReport:
        """Apply a CSV of table,column,description,business_name,synonyms,included,sensitive rows."""
        return await self._apply_metadata(actor, connection_id, transfer.parse_metadata_csv(text), "csv")

    async def _apply_metadata(
        self, actor: User | None, connection_id: int, parsed: transfer.MetadataImport, source: str
    ) -> ImportReport:
        errors: list[tuple[int, str]] = []
        async with self._change(connection_id) as change:
            db = change.db
            tables = (await db.scalars(sa.select(TableRow).where(TableRow.connection_id == connection_id))).all()
            if not tables and parsed.patches:
                raise ValidationFailed("the catalog of this connection is empty: sync it before importing metadata")
            columns: dict[int, dict[str, ColumnRow]] = {}
            for c in await db.scalars(
                sa.select(ColumnRow).join(TableRow, TableRow.id == ColumnRow.table_id)
                .where(TableRow.connection_id == connection_id)
            ):
                columns.setdefault(c.table_id, {})[c.name] = c
            applied = _apply_patches(parsed.patches, tables, columns, errors)
            hints = await _add_join_hints(db, connection_id, parsed.join_hints, errors)
            added_instructions = await _add_glossary(db, connection_id, parsed.instructions)
            summary = {"source": source, "applied": applied, "join_hints": hints,
                       "instructions": added_instructions, "errors": len(errors)}
            change.audit(actor, "catalog.metadata.import", f"connection:{connection_id}", after=summary)
        notes = list(parsed.notes)
        if hints:
            notes.append(f"{hints} join hint(s) added")
        if added_instructions:
            notes.append(f"{added_instructions} instruction(s) added from the glossary")
        return ImportReport(imported=applied + hints + added_instructions, skipped=len(errors),
                            errors=tuple(errors), notes=tuple(notes))

    async def export_metadata(self, connection_id: int) -> dict[str, Any]:
        """Every table's and column's human metadata (with types for reference) and the join hints, as JSON."""
        connection = await self.get_connection_by_id(connection_id)
        async with self._sessions() as db:
            rows = (await db.scalars(sa.select(TableRow).where(TableRow.connection_id == connection_id)
                                     .order_by(TableRow.schema, TableRow.name))).all()
            tables = await self._with_children(db, rows)
        return {
            "connection": connection.name,
            "tables": [
                {
                    "schema": t.schema, "name": t.name, "description": t.description,
                    "business_name": t.business_name, "synonyms": list(t.synonyms), "included": t.included,
                    "semantics": dict(t.semantics),
                    "columns": [
                        {"name": c.name, "type": c.type, "description": c.description,
                         "business_name": c.business_name, "synonyms": list(c.synonyms),
                         "included": c.included, "sensitive": c.sensitive, "semantics": dict(c.semantics),
                         "value_synonyms": {k: list(v) for k, v in c.value_synonyms.items()}}
                        for c in t.columns
                    ],
                }
                for t in tables
            ],
            "join_hints": [
                {"left_table": h.left_table, "right_table": h.right_table, "pairs": [list(p) for p in h.pairs],
                 "note": h.note}
                for h in await self.join_hints(connection_id)
            ],
            "metrics": [m.spec() for m in await self.metrics(connection_id)],  # type: ignore[attr-defined]
        }

    async def export_metadata_csv(self, connection_id: int) -> str:
        document = await self.export_metadata(connection_id)
        rows = []
        for t in document["tables"]:
            ref = f"{t['schema']}.{t['name']}" if t["schema"] else t["name"]
            rows.append({"table": ref, "column": "", "description": t["description"],
                         "business_name": t["business_name"], "synonyms": ", ".join(t["synonyms"]),
                         "included": str(t["included"]).lower(), "sensitive": ""})
            for c in t["columns"]:
                rows.append({"table": ref, "column": c["name"], "description": c["description"],
                             "business_name": c["business_name"], "synonyms": ", ".join(c["synonyms"]),
                             "included": str(c["included"]).lower(), "sensitive": str(c["sensitive"]).lower()})
        return transfer.metadata_csv(rows)


def _apply_patches(patches: list, tables: list[TableRow], columns: dict[int, dict[str, ColumnRow]],
                   errors: list[tuple[int, str]]) -> int:
    """Set the imported fields on the tables and columns they name (loosely: case aside, schema optional);
    a patch naming nothing known, or with bad semantics, is an error of its line. The count applied."""
    by_key = {(t.schema, t.name): t for t in tables}
    by_lower: dict[str, list[TableRow]] = {}
    for t in tables:
        by_lower.setdefault(t.name.lower(), []).append(t)
        by_lower.setdefault(f"{t.schema}.{t.name}".lower(), []).append(t)
    touched: set[int] = set()
    applied = 0
    for patch in patches:
        table = by_key.get(split_table_ref(patch.table)) or by_key.get(("", patch.table))
        if table is None:
            candidates = by_lower.get(patch.table.lower(), [])
            table = candidates[0] if len(candidates) == 1 else None
        if table is None:
            errors.append((patch.line, f"no table {patch.table!r} in the catalog"))
            continue
        target: TableRow | ColumnRow = table
        if patch.column is not None:
            named = columns.get(table.id, {})
            target = named.get(patch.column) or next(
                (c for n, c in named.items() if n.lower() == patch.column.lower()), None)
            if target is None:
                errors.append((patch.line, f"no column {patch.column!r} in table {patch.table!r}"))
                continue
        try:
            if "semantics" in patch.fields:
                patch.fields["semantics"] = column_semantics(patch.fields["semantics"], f"{patch.table}.{patch.column}") \
                    if patch.column is not None else table_semantics(
                        patch.fields["semantics"], set(columns.get(table.id, {})), patch.table)
        except ValidationFailed as error:
            errors.append((patch.line, error.detail))
            continue
        for key, value in patch.fields.items():
            if key == "synonyms":
                value = synonyms_list(value)
            elif isinstance(value, str):
                value = value.strip()
            setattr(target, key, value)
            if key == "sensitive" and value:
                target.distinct_values = None
        touched.add(table.id)
        applied += 1
    for table in tables:
        if table.id in touched:
            table.search_text = search_text(table, columns.get(table.id, {}).values())
    return applied


async def _add_join_hints(db: AsyncSession, connection_id: int, hints: list[dict], errors: list[tuple[int, str]]) -> int:
    """The imported join hints the connection doesn't have yet; the count added."""
    existing = {
        (h.left_table, h.right_table, tuple(map(tuple, h.pairs)))
        for h in await db.scalars(sa.select(JoinHintRow).where(JoinHintRow.connection_id == connection_id))
    }
    added = 0
    for hint in hints:
        pairs = [[str(a), str(b)] for a, b in hint["pairs"]]
        key = (hint["left_table"], hint["right_table"], tuple(map(tuple, pairs)))
        if not pairs or not hint["left_table"] or not hint["right_table"]:
            errors.append((0, f"join hint {hint['left_table']!r}-{hint['right_table']!r} has no column pairs"))
            continue
        if key in existing:
            continue
        existing.add(key)
        db.add(JoinHintRow(connection_id=connection_id, left_table=hint["left_table"],
                           right_table=hint["right_table"], pairs=pairs, note=hint.get("note") or ""))
        added += 1
    return added


async def _add_glossary(db: AsyncSession, connection_id: int, texts: list[str]) -> int:
    """A glossary's definitions as `always` instructions (those not there yet); the count added."""
    known = set(await db.scalars(sa.select(InstructionRow.text).where(InstructionRow.connection_id == connection_id)))
    now = utcnow()
    added = 0
    for text in texts:
        if text not in known:
            db.add(InstructionRow(connection_id=connection_id, text=text[:4000], kind="always",
                                  created_at=now, updated_at=now))
            added += 1
    return added
