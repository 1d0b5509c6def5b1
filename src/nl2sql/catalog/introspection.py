"""Read a customer database's structure in bulk (SQLAlchemy 2's get_multi_* APIs), counts and sample values."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine.reflection import ObjectKind, ObjectScope

log = logging.getLogger("nl2sql.catalog")

Progress = Callable[[str, int, int], None]
# the longest value kept for grounding; longer text is free text, not a category
MAX_VALUE_LENGTH = 100
TEXT_TYPES = (sa.String, sa.Enum)


@dataclass
class ColumnShape:
    name: str
    type: str
    nullable: bool
    default: str | None
    primary_key: bool
    comment: str
    is_text: bool
    distinct_values: list[str] | None = None


@dataclass
class ForeignKeyShape:
    name: str
    columns: list[str]
    ref_schema: str
    ref_table: str
    ref_columns: list[str]


@dataclass
class TableShape:
    schema: str
    name: str
    kind: str
    comment: str
    columns: list[ColumnShape] = field(default_factory=list)
    foreign_keys: list[ForeignKeyShape] = field(default_factory=list)
    row_count: int | None = None
    data_version: int | None = None  # PostgreSQL: writes to the table so far (None elsewhere)

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.name)


@dataclass(frozen=True)
class SamplingPlan:
    """What may be sampled: per table key, the columns never to read (sensitive or excluded)."""

    distinct_max: int
    sample_rows: int
    row_count_cap: int
    skip_tables: frozenset[tuple[str, str]] = frozenset()
    skip_columns: frozenset[tuple[str, str, str]] = frozenset()
    skip_column_names: re.Pattern | None = None
    # what the last sync read of each table: (data version, row count, {column: distinct values}); a table whose
    # data version and columns are unchanged keeps them without a read
    known: dict[tuple[str, str], tuple[int, int | None, dict[str, list[str] | None]]] = field(default_factory=dict)

    def skips(self, table: TableShape, column: ColumnShape) -> bool:
        if (table.schema, table.name, column.name) in self.skip_columns:
            return True
        return bool(self.skip_column_names and self.skip_column_names.search(column.name))


def _type_name(engine: sa.Engine, column_type: sa.types.TypeEngine) -> str:
    try:
        return column_type.compile(dialect=engine.dialect)
    except Exception:  # some reflected types (NullType, custom) can't compile; their repr still informs
        return str(column_type.__class__.__name__).upper()


# schemas of the database itself, never the user's data
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"})


@dataclass
class Introspection:
    """What a sync read: the tables, the schemas it looked in, and every schema the database has (for a hint)."""

    tables: list[TableShape]
    schemas_read: list[str]
    schemas_available: list[str]


def readable_schemas(conn: sa.Connection, inspector: sa.Inspector) -> tuple[list[str | None], list[str]]:
    """(schemas to read when none are configured, every non-system schema): on PostgreSQL each one the user may use.

    Other databases read the schema (MySQL: the database) that the connection URL names.
    """
    default = inspector.default_schema_name
    try:
        names = [n for n in inspector.get_schema_names() if n not in SYSTEM_SCHEMAS and not n.startswith("pg_")]
    except NotImplementedError:
        names = []
    if conn.dialect.name != "postgresql":
        return [None], names
    wanted: list[str | None] = [None]
    for name in names:
        if name == default:
            continue
        if conn.scalar(sa.text("SELECT has_schema_privilege(:s, 'USAGE')"), {"s": name}):
            wanted.append(name)
    return wanted, names


def introspect(engine: sa.Engine, schemas: Iterable[str], plan: SamplingPlan, progress: Progress) -> Introspection:
    """Tables and views of `schemas` with columns, keys, comments, counts, values.

    No schemas configured: the default one, and on PostgreSQL every other schema the user can read (tables outside
    the default schema keep their schema in their name).
    """
    progress("connecting", 0, 0)
    tables: list[TableShape] = []
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        default_schema = inspector.default_schema_name
        configured = [s for s in schemas if s]
        discovered, available = readable_schemas(conn, inspector)
        wanted = configured or discovered
        read = [s or default_schema or "default" for s in wanted]
        progress("reading tables", 0, 0)
        for schema in wanted:
            stored_schema = schema or ""
            kinds = {name: "table" for name in inspector.get_table_names(schema=schema)}
            try:
                kinds |= {name: "view" for name in inspector.get_view_names(schema=schema)}
            except NotImplementedError:
                pass
            if not kinds:
                continue
            progress("reading columns and keys", 0, len(kinds))
            columns = inspector.get_multi_columns(schema=schema, kind=ObjectKind.ANY, scope=ObjectScope.ANY)
            pks = inspector.get_multi_pk_constraint(schema=schema, kind=ObjectKind.ANY, scope=ObjectScope.ANY)
            fks = inspector.get_multi_foreign_keys(schema=schema, kind=ObjectKind.ANY, scope=ObjectScope.ANY)
            try:
                comments = inspector.get_multi_table_comment(schema=schema, kind=ObjectKind.ANY, scope=ObjectScope.ANY)
            except NotImplementedError:
                comments = {}
            for name in sorted(kinds):
                key = (schema, name)
                pk_columns = set((pks.get(key) or {}).get("constrained_columns") or [])
                table = TableShape(
                    schema=stored_schema,
                    name=name,
                    kind=kinds[name],
                    comment=((comments.get(key) or {}).get("text") or "").strip(),
                )
                for col in columns.get(key, []):
                    default = col.get("default")
                    table.columns.append(
                        ColumnShape(
                            name=col["name"],
                            type=_type_name(engine, col["type"]),
                            nullable=bool(col.get("nullable", True)),
                            default=None if default is None else str(default),
                            primary_key=col["name"] in pk_columns,
                            comment=(col.get("comment") or "").strip(),
                            is_text=isinstance(col["type"], TEXT_TYPES),
                        )
                    )
                for fk in fks.get(key, []):
                    ref_schema = fk.get("referred_schema") or ""
                    if ref_schema and ref_schema == (schema or default_schema) and not schema:
                        ref_schema = ""
                    table.foreign_keys.append(
                        ForeignKeyShape(
                            name=fk.get("name") or "",
                            columns=list(fk["constrained_columns"]),
                            ref_schema=ref_schema,
                            ref_table=fk["referred_table"],
                            ref_columns=list(fk["referred_columns"]),
                        )
                    )
                tables.append(table)
        conn.rollback()
    unchanged = _unchanged(engine, tables, plan, default_schema)
    to_read = [t for t in tables if t.key not in unchanged]
    progress("counting rows", 0, len(to_read))
    _count_rows(engine, to_read, plan.row_count_cap, default_schema)
    if plan.distinct_max > 0:
        _sample_values(engine, to_read, plan, progress)
    return Introspection(tables, read, available)


def _unchanged(engine: sa.Engine, tables: list[TableShape], plan: SamplingPlan,
               default_schema: str | None) -> set[tuple[str, str]]:
    """On PostgreSQL, each table's data version (its write counters) is read; a table with the version, and the
    columns, of the last sync takes its row count and values from then. The keys of those tables."""
    if engine.dialect.name != "postgresql":
        return set()
    versions: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT schemaname, relname, n_tup_ins + n_tup_upd + n_tup_del "
                                    "FROM pg_stat_user_tables"))
        for schema, name, version in rows:
            versions[(schema, name)] = int(version)
            if schema == default_schema:  # the default schema's tables are stored without it
                versions[("", name)] = int(version)
        conn.rollback()
    unchanged = set()
    for table in tables:
        table.data_version = versions.get(table.key) if table.kind == "table" else None
        known = plan.known.get(table.key)
        if known is None or table.data_version is None or known[0] != table.data_version:
            continue
        values = known[2]
        if set(values) != {c.name for c in table.columns}:
            continue  # a column came or went: read it all again
        table.row_count = known[1]
        for column in table.columns:
            column.distinct_values = values[column.name]
        unchanged.add(table.key)
    return unchanged


def _table(shape: TableShape, *names: str) -> sa.TableClause:
    return sa.table(shape.name, *(sa.column(n) for n in names), schema=shape.schema or None)


def _count_rows(engine: sa.Engine, tables: list[TableShape], cap: int, default_schema: str | None) -> None:
    backend = engine.dialect.name
    estimates: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        by_schema = {t.schema for t in tables}
        for schema in by_schema:
            real = schema or default_schema
            if backend == "postgresql":
                rows = conn.execute(
                    sa.text(
                        "SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'm', 'f')"
                    ),
                    {"schema": real},
                )
            elif backend in ("mysql", "mariadb"):
                rows = conn.execute(
                    sa.text(
                        "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_TYPE = 'BASE TABLE'"
                    ),
                    {"schema": real},
                )
            else:
                rows = []
            for name, estimate in rows:
                # PostgreSQL says -1 for a table never vacuumed or analyzed: unknown, not empty
                if estimate is not None and estimate >= 0:
                    estimates[(schema, name)] = int(estimate)
        conn.rollback()
        to_count = []
        for table in tables:
            if table.kind != "table":
                continue
            if table.key in estimates:
                # MySQL's and PostgreSQL's estimates can say 0 for a small table just filled
                table.row_count = estimates[table.key]
                if table.row_count > 0:
                    continue
            to_count.append(table)
        # counted (up to the cap) several tables a statement
        for start in range(0, len(to_count), COUNT_BATCH):
            _in_batch(conn, to_count[start:start + COUNT_BATCH], lambda batch: _count_batch(conn, batch, cap),
                      "row count")


def _in_batch(conn: sa.Connection, batch: list[TableShape], work: Callable[[list[TableShape]], None],
              what: str) -> None:
    """`work` on the whole batch; when that fails, on each table alone (a table it may not read fails alone)."""
    try:
        work(batch)
    except sa.exc.DBAPIError:
        conn.rollback()
        for table in batch:
            try:
                work([table])
            except sa.exc.DBAPIError as exc:
                log.warning("%s of %s failed: %s", what, table.name, str(exc.orig).splitlines()[0])
                conn.rollback()


COUNT_BATCH = 50


def _count_batch(conn: sa.Connection, batch: list[TableShape], cap: int) -> None:
    parts = []
    for index, table in enumerate(batch):
        capped = sa.select(sa.literal(1).label("one")).select_from(_table(table)).limit(cap).subquery()
        parts.append(sa.select(sa.literal_column(str(index)).label("i"), sa.func.count().label("n"))
                     .select_from(capped))
    for index, count in conn.execute(sa.union_all(*parts) if len(parts) > 1 else parts[0]).all():
        batch[int(index)].row_count = int(count)


SAMPLE_BATCH = 25  # tables whose values one statement samples (a round trip per table made syncs slow)


def _sample_values(engine: sa.Engine, tables: list[TableShape], plan: SamplingPlan, progress: Progress) -> None:
    """Each text column's distinct values (when there are few enough), from a sample of its rows; several
    tables a statement, and a table alone again when its batch fails (a table it may not read fails alone)."""
    candidates = [
        t
        for t in tables
        if t.kind == "table"
        and t.key not in plan.skip_tables
        and t.row_count != 0
        and any(c.is_text and not plan.skips(t, c) for c in t.columns)
    ]
    total = len(candidates)
    progress("sampling values", 0, total)
    with engine.connect() as conn:
        # a table no bigger than the sample is read whole in one scan (its columns' values counted here);
        # a bigger one column by column, each column's first non-null values
        small = [t for t in candidates if t.row_count is not None and t.row_count <= plan.sample_rows]
        for done, table in enumerate(small, 1):
            try:
                _scan_small(conn, table, plan)
            except sa.exc.DBAPIError as exc:
                log.warning("sampling values of %s failed: %s", table.name, str(exc.orig).splitlines()[0])
            conn.rollback()
            if done % 100 == 0:
                progress("sampling values", done, total)
        candidates = [t for t in candidates if t not in small]
        for start in range(0, len(candidates), SAMPLE_BATCH):
            _in_batch(conn, candidates[start:start + SAMPLE_BATCH], lambda batch: _sample_batch(conn, batch, plan),
                      "sampling values")
            conn.rollback()
            progress("sampling values", len(small) + min(start + SAMPLE_BATCH, len(candidates)), total)
    progress("sampling values", total, total)


def _scan_small(conn: sa.Connection, table: TableShape, plan: SamplingPlan) -> None:
    columns = [c for c in table.columns if c.is_text and not plan.skips(table, c)]
    source = _table(table, *(c.name for c in columns))
    seen: list[set[str]] = [set() for _ in columns]
    for row in conn.execute(sa.select(*(sa.cast(source.c[c.name], sa.String) for c in columns))
                            .select_from(source).limit(plan.sample_rows)):
        for values, value in zip(seen, row):
            if value is not None and len(values) <= plan.distinct_max:
                values.add(value)
    for column, values in zip(columns, seen):
        if 0 < len(values) <= plan.distinct_max and all(len(v) <= MAX_VALUE_LENGTH for v in values):
            column.distinct_values = sorted(values)


def _sample_batch(conn: sa.Connection, batch: list[TableShape], plan: SamplingPlan) -> None:
    parts, columns = [], []
    for table in batch:
        for column in (c for c in table.columns if c.is_text and not plan.skips(table, c)):
            source = _table(table, column.name)
            col = source.c[column.name]
            sample = sa.select(col.label("v")).select_from(source).where(col.is_not(None)).limit(plan.sample_rows)
            sample = sample.subquery()
            distinct = sa.select(sample.c.v).distinct().limit(plan.distinct_max + 1).subquery()
            parts.append(sa.select(sa.literal_column(str(len(columns))).label("i"),
                                   sa.cast(distinct.c.v, sa.String).label("v")))
            columns.append(column)
    found: dict[int, list[str]] = {}
    for index, value in conn.execute(sa.union_all(*parts)).all():
        found.setdefault(index, []).append(value)
    for index, column in enumerate(columns):
        values = found.get(index, [])
        if 0 < len(values) <= plan.distinct_max and all(len(v) <= MAX_VALUE_LENGTH for v in values):
            column.distinct_values = sorted(values)
