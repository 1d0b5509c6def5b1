"""What the engine gets from the catalog: the included schema for prompting and retrieval, and the SQL target (allowed tables, sensitive columns) a SQL check needs."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from nl2sql.catalog import engines
from nl2sql.catalog.dto import (
    PromptColumn,
    PromptSchema,
    PromptTable,
)
from nl2sql.catalog.golden import SqlTarget
from nl2sql.catalog.models import (
    ColumnRow,
    ConnectionRow,
    JoinHintRow,
    MetricRow,
    TableRow,
)
from nl2sql.errors import NotFoundError

log = logging.getLogger("nl2sql.catalog")
from nl2sql.catalog.rows import (
    to_join_hint,
    to_metric,
)
from nl2sql.catalog.base import CatalogCore


class PromptSchemaPart(CatalogCore):
    """The schema as the engine sees it."""

    async def schema_for_prompt(self, connection_id: int) -> PromptSchema:
        """Included tables and columns with descriptions, names, keys, join hints and values (never sensitive ones)."""
        async with self._sessions() as db:
            row = await db.get(ConnectionRow, connection_id)
            if row is None:
                raise NotFoundError(f"no connection with id {connection_id}")
            cached = self._prompt_cache.get(connection_id)
            if cached is not None and cached.version == row.catalog_changed_at:
                return cached
            table_rows = (
                await db.scalars(
                    sa.select(TableRow)
                    .where(TableRow.connection_id == connection_id, TableRow.included.is_(True))
                    .order_by(TableRow.schema, TableRow.name)
                )
            ).all()
            tables = await self._with_children(db, table_rows)
            hints = [to_join_hint(h) for h in await db.scalars(
                sa.select(JoinHintRow).where(JoinHintRow.connection_id == connection_id).order_by(JoinHintRow.id))]
            metrics = [to_metric(m) for m in await db.scalars(
                sa.select(MetricRow).where(MetricRow.connection_id == connection_id).order_by(MetricRow.id))]
        present = {(t.schema, t.name) for t in tables}
        prompt_tables = []
        for t in tables:
            columns = tuple(
                PromptColumn(
                    name=c.name,
                    type=c.type,
                    description=c.effective_description,
                    business_name=c.business_name,
                    synonyms=c.synonyms,
                    nullable=c.nullable,
                    primary_key=c.primary_key,
                    sensitive=c.sensitive,
                    values=None if c.sensitive else c.distinct_values,
                    semantics=c.semantics,
                    value_synonyms=c.value_synonyms,
                )
                for c in t.columns
                if c.included
            )
            kept = {c.name for c in columns}
            fks = tuple(
                fk for fk in t.foreign_keys
                if (fk.ref_schema, fk.ref_table) in present and all(c in kept for c in fk.columns)
            )
            prompt_tables.append(
                PromptTable(t.schema, t.name, t.effective_description, t.business_name, t.synonyms, t.row_count, columns,
                            fks, t.semantics)
            )
        schema = PromptSchema(
            connection_id=row.id,
            connection_name=row.name,
            dialect=engines.sqlglot_dialect(row.backend),
            description=row.description,
            tables=tuple(prompt_tables),
            join_hints=tuple(hints),
            version=row.catalog_changed_at,
            metrics=tuple(metrics),
        )
        self._prompt_cache[connection_id] = schema
        return schema

    async def sql_target(self, connection_id: int) -> SqlTarget:
        """The connection with its included tables and sensitive columns, as a SQL check needs them."""
        connection = await self.get_connection_by_id(connection_id)
        async with self._sessions() as db:
            tables = await db.execute(
                sa.select(TableRow.schema, TableRow.name).where(
                    TableRow.connection_id == connection_id, TableRow.included.is_(True))
            )
            allowed = frozenset(f"{s}.{n}" if s else n for s, n in tables)
            sensitive = await db.execute(
                sa.select(TableRow.schema, TableRow.name, ColumnRow.name)
                .join(ColumnRow, ColumnRow.table_id == TableRow.id)
                .where(TableRow.connection_id == connection_id, ColumnRow.sensitive.is_(True))
            )
            columns = frozenset(f"{s}.{t}.{c}" if s else f"{t}.{c}" for s, t, c in sensitive)
        return SqlTarget(connection=connection, allowed_tables=allowed, sensitive_columns=columns)
