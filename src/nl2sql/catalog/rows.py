"""Catalog rows as DTOs, and the small rules every catalog file shares (synonym lists, search text, semantic corrections, table references)."""

from __future__ import annotations

import logging
from collections.abc import Iterable


from nl2sql.catalog import engines
from nl2sql.catalog.dto import (
    AGGREGATES,
    COLUMN_ROLES,
    Column,
    Connection,
    ForeignKey,
    GoldenQuery,
    Instruction,
    InstructionKind,
    JoinHint,
    Metric,
    SyncState,
    SyncStatus,
    Table,
)
from nl2sql.catalog.models import (
    ColumnRow,
    ConnectionRow,
    ForeignKeyRow,
    GoldenQueryRow,
    InstructionRow,
    JoinHintRow,
    MetricRow,
    SyncRow,
    TableRow,
)
from nl2sql.errors import ValidationFailed

log = logging.getLogger("nl2sql.catalog")


def to_connection(row: ConnectionRow) -> Connection:
    return Connection(
        id=row.id,
        name=row.name,
        backend=row.backend,
        dialect=engines.sqlglot_dialect(row.backend),
        display_url=engines.redisplay(row.display_url),
        schemas=tuple(row.schemas or ()),
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        catalog_changed_at=row.catalog_changed_at,
        synced_at=row.synced_at,
        draft_of=row.draft_of,
        test_failure=row.test_failure,
        tested_at=row.tested_at,
    )


def to_column(row: ColumnRow) -> Column:
    return Column(
        id=row.id,
        name=row.name,
        type=row.type,
        nullable=row.nullable,
        default=row.default,
        primary_key=row.primary_key,
        comment=row.comment,
        description=row.description,
        business_name=row.business_name,
        synonyms=tuple(row.synonyms or ()),
        included=row.included,
        sensitive=row.sensitive,
        distinct_values=None if row.sensitive or row.distinct_values is None else tuple(row.distinct_values),
        semantics=dict(row.semantics or {}),
        value_synonyms={str(k): tuple(v) for k, v in (row.value_synonyms or {}).items()},
    )


def column_semantics(value: dict[str, str], where: str) -> dict[str, str]:
    """A column's corrections, checked: `role` and `aggregate` (empty values drop a correction)."""
    if not isinstance(value, dict):
        raise ValidationFailed(f"{where}: semantics must be an object with role and aggregate")
    unknown = set(value) - {"role", "aggregate"}
    if unknown:
        raise ValidationFailed(f"{where}: unknown semantics {', '.join(sorted(unknown))} (role, aggregate)")
    out = {k: str(v).strip() for k, v in value.items() if v not in (None, "")}
    if "role" in out and out["role"] not in COLUMN_ROLES:
        raise ValidationFailed(f"{where}: role must be one of {', '.join(COLUMN_ROLES)}, got {out['role']!r}")
    if "aggregate" in out and out["aggregate"] not in AGGREGATES:
        raise ValidationFailed(f"{where}: aggregate must be one of {', '.join(AGGREGATES)}, got {out['aggregate']!r}")
    return out


def table_semantics(value: dict[str, str], columns: set[str], where: str) -> dict[str, str]:
    """A table's corrections, checked: `label` (display column) and `time` (main time column) name its columns."""
    if not isinstance(value, dict):
        raise ValidationFailed(f"{where}: semantics must be an object with label and time")
    unknown = set(value) - {"label", "time"}
    if unknown:
        raise ValidationFailed(f"{where}: unknown semantics {', '.join(sorted(unknown))} (label, time)")
    out = {k: str(v).strip() for k, v in value.items() if v not in (None, "")}
    for key, column in out.items():
        if column not in columns:
            raise ValidationFailed(f"{where}: {key} names no column of the table: {column!r}")
    return out


def to_foreign_key(row: ForeignKeyRow) -> ForeignKey:
    return ForeignKey(
        columns=tuple(row.columns),
        ref_schema=row.ref_schema or None,
        ref_table=row.ref_table,
        ref_columns=tuple(row.ref_columns),
        name=row.name,
    )


def to_table(row: TableRow, columns: Iterable[ColumnRow] = (), fks: Iterable[ForeignKeyRow] = ()) -> Table:
    return Table(
        id=row.id,
        connection_id=row.connection_id,
        schema=row.schema or None,
        name=row.name,
        kind=row.kind,
        comment=row.comment,
        description=row.description,
        business_name=row.business_name,
        synonyms=tuple(row.synonyms or ()),
        included=row.included,
        row_count=row.row_count,
        columns=tuple(to_column(c) for c in sorted(columns, key=lambda c: c.position)),
        foreign_keys=tuple(to_foreign_key(f) for f in fks),
        semantics=dict(row.semantics or {}),
    )


def to_join_hint(row: JoinHintRow) -> JoinHint:
    return JoinHint(
        id=row.id,
        left_table=row.left_table,
        right_table=row.right_table,
        pairs=tuple((a, b) for a, b in row.pairs),
        note=row.note,
    )


def to_instruction(row: InstructionRow) -> Instruction:
    return Instruction(row.id, row.connection_id, row.text, InstructionKind(row.kind), row.created_at, row.updated_at)


def to_metric(row: MetricRow) -> Metric:
    return Metric(row.id, row.connection_id, row.kind, row.name, row.expression, tuple(row.filters or ()),
                  row.time_column or "", tuple(row.synonyms or ()), row.description or "", row.format or "plain")


def to_golden(row: GoldenQueryRow) -> GoldenQuery:
    return GoldenQuery(row.id, row.connection_id, row.question, row.sql, row.created_at, row.updated_at)


def to_sync(row: SyncRow) -> SyncStatus:
    return SyncStatus(
        id=row.id,
        connection_id=row.connection_id,
        status=SyncState(row.status),
        phase=row.phase,
        done=row.done,
        total=row.total,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        diff=row.diff,
    )


def search_text(table: TableRow, columns: Iterable[ColumnRow]) -> str:
    """What the browser's search looks in: names, business names, synonyms, descriptions, comments."""
    parts = [table.schema, table.name, table.business_name, *table.synonyms, table.description, table.comment]
    for column in columns:
        parts += [column.name, column.business_name, *column.synonyms, column.description, column.comment]
    return " ".join(p for p in parts if p).lower()


def synonyms_list(value: Iterable[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    seen: list[str] = []
    for item in value:
        item = str(item).strip()
        if item and item not in seen:
            seen.append(item)
    return seen


def like_pattern(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def split_table_ref(ref: str) -> tuple[str, str]:
    """`schema.table` or `table` into (schema or "", table)."""
    schema, dot, name = ref.strip().rpartition(".")
    return (schema, name) if dot else ("", ref.strip())
