"""CatalogService: connections, access grants, the synced catalog, its curation, instructions and golden queries."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.audit import record
from nl2sql.auth import User
from nl2sql.catalog import drafts, engines, transfer
from nl2sql.catalog.dto import (
    AGGREGATES,
    COLUMN_ROLES,
    Column,
    Connection,
    ConnectionTest,
    DraftChange,
    ForeignKey,
    GoldenQuery,
    ImportReport,
    Instruction,
    InstructionKind,
    JoinHint,
    KnowledgeDraft,
    PromptColumn,
    PromptSchema,
    PromptTable,
    SyncState,
    SyncStatus,
    Table,
    TablePage,
)
from nl2sql.catalog.golden import GoldenSqlCheck, ReadOnlyCheck, SqlTarget
from nl2sql.catalog.models import (
    ColumnRow,
    ConnectionRow,
    ForeignKeyRow,
    GoldenQueryRow,
    GrantRow,
    InstructionRow,
    JoinHintRow,
    SyncRow,
    TableRow,
)
from nl2sql.db import utcnow
from nl2sql.errors import AppError, ConflictError, ForbiddenError, NotFoundError, UnavailableError, ValidationFailed
from nl2sql.settings import CatalogSettings

log = logging.getLogger("nl2sql.catalog")

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ChangeListener = Callable[[int], Awaitable[None]]


class SyncQueue(Protocol):
    """Where sync jobs go (app.py passes its Jobs)."""

    async def defer(self, task: str, **kwargs: Any) -> int: ...


def _connection(row: ConnectionRow) -> Connection:
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
    )


def _column(row: ColumnRow) -> Column:
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


def _foreign_key(row: ForeignKeyRow) -> ForeignKey:
    return ForeignKey(
        columns=tuple(row.columns),
        ref_schema=row.ref_schema or None,
        ref_table=row.ref_table,
        ref_columns=tuple(row.ref_columns),
        name=row.name,
    )


def _table(row: TableRow, columns: Iterable[ColumnRow] = (), fks: Iterable[ForeignKeyRow] = ()) -> Table:
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
        columns=tuple(_column(c) for c in sorted(columns, key=lambda c: c.position)),
        foreign_keys=tuple(_foreign_key(f) for f in fks),
        semantics=dict(row.semantics or {}),
    )


def _join_hint(row: JoinHintRow) -> JoinHint:
    return JoinHint(
        id=row.id,
        left_table=row.left_table,
        right_table=row.right_table,
        pairs=tuple((a, b) for a, b in row.pairs),
        note=row.note,
    )


def _instruction(row: InstructionRow) -> Instruction:
    return Instruction(row.id, row.connection_id, row.text, InstructionKind(row.kind), row.created_at, row.updated_at)


def _golden(row: GoldenQueryRow) -> GoldenQuery:
    return GoldenQuery(row.id, row.connection_id, row.question, row.sql, row.created_at, row.updated_at)


def _sync(row: SyncRow) -> SyncStatus:
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


def _synonyms(value: Iterable[str] | str | None) -> list[str]:
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


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def split_table_ref(ref: str) -> tuple[str, str]:
    """`schema.table` or `table` into (schema or "", table)."""
    schema, dot, name = ref.strip().rpartition(".")
    return (schema, name) if dot else ("", ref.strip())


class CatalogService:
    """Every catalog use case; other modules read the catalog only through these methods (DTOs out)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: CatalogSettings,
        secret_key: str,
        *,
        golden_check: GoldenSqlCheck | None = None,
        jobs: SyncQueue | None = None,
    ) -> None:
        self._sessions = sessions
        self.settings = settings
        self._vault = engines.CredentialVault(secret_key)
        self._engines = engines.EnginePool(pool_size=settings.pool_size, connect_timeout=settings.connect_timeout)
        self._golden_check = golden_check or ReadOnlyCheck(settings.query_timeout)
        self.jobs = jobs
        self._listeners: list[ChangeListener] = []
        self._prompt_cache: dict[int, PromptSchema] = {}

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
            return [_connection(r) for r in rows]

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

    # connections --------------------------------------------------------------------------------

    async def list_connections(self) -> list[Connection]:
        """The live connections (drafts are reached through `draft`)."""
        async with self._sessions() as db:
            return [_connection(r) for r in await db.scalars(
                sa.select(ConnectionRow).where(ConnectionRow.draft_of.is_(None)).order_by(ConnectionRow.name))]

    async def accessible_connections(self, user: User) -> list[Connection]:
        """All live connections for admins; granted ones for analysts."""
        query = sa.select(ConnectionRow).where(ConnectionRow.draft_of.is_(None)).order_by(ConnectionRow.name)
        if not user.is_admin:
            query = query.join(GrantRow, GrantRow.connection_id == ConnectionRow.id).where(GrantRow.user_id == user.id)
        async with self._sessions() as db:
            return [_connection(r) for r in await db.scalars(query)]

    async def get_connection(self, name: str) -> Connection:
        async with self._sessions() as db:
            return _connection(await self._row_by_name(db, name))

    async def get_connection_by_id(self, connection_id: int) -> Connection:
        async with self._sessions() as db:
            row = await db.get(ConnectionRow, connection_id)
            if row is None:
                raise NotFoundError(f"no connection with id {connection_id}")
            return _connection(row)

    async def has_access(self, user: User, connection: Connection) -> bool:
        return await self.may_read(user, connection.id)

    async def may_read(self, user: User, connection_id: int | None) -> bool:
        """Whether `user` may still read what was answered on connection `connection_id` (its grant still stands;
        admins always). A deleted connection's answers stay readable by admins only."""
        if user.is_admin:
            return True
        if connection_id is None:
            return False
        async with self._sessions() as db:
            return bool(await db.scalar(sa.select(GrantRow.user_id).where(
                GrantRow.connection_id == connection_id, GrantRow.user_id == user.id)))

    async def check_access(self, user: User, connection: Connection) -> None:
        """Raise ForbiddenError unless `user` may use `connection`."""
        if not await self.has_access(user, connection):
            raise ForbiddenError(f"you have no access to connection {connection.name}; ask an admin for a grant")

    async def visible_connection(self, user: User, name: str) -> Connection:
        """The connection if `user` may see it; analysts get 404 for others (names are not disclosed)."""
        connection = await self.get_connection(name)
        if not await self.has_access(user, connection):
            raise NotFoundError(f"no connection named {name!r}")
        return connection

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
    def _check_name(name: str) -> str:
        name = (name or "").strip().lower()
        if not NAME.match(name):
            raise ValidationFailed(
                "the connection name must be 1-63 characters of lowercase letters, digits, - and _, "
                "starting with a letter or digit"
            )
        return name

    @staticmethod
    def _check_schemas(schemas: Iterable[str] | str | None) -> list[str]:
        return _synonyms(schemas)

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

    @staticmethod
    def _public(row: ConnectionRow) -> dict[str, Any]:
        # what an audit entry may hold about a connection: never the sealed or clear URL
        return {"name": row.name, "url": engines.redisplay(row.display_url), "schemas": list(row.schemas or []), "description": row.description}

    async def create_connection(
        self,
        actor: User | None,
        name: str,
        url: str,
        *,
        description: str = "",
        schemas: Iterable[str] | str | None = None,
    ) -> Connection:
        name = self._check_name(name)
        parsed = engines.parse_url(url)
        now = utcnow()
        row = ConnectionRow(
            name=name,
            backend=engines.backend_of(parsed),
            display_url=engines.display_url(parsed),
            url_encrypted=self._vault.seal(parsed),
            schemas=self._check_schemas(schemas),
            description=(description or "").strip(),
            created_at=now,
            updated_at=now,
            catalog_changed_at=now,
        )
        async with self._sessions() as db:
            if await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.name == name)):
                raise ConflictError(f"a connection named {name!r} already exists")
            db.add(row)
            await db.flush()
            self._audit(db, actor, "catalog.connection.create", f"connection:{name}", after=self._public(row))
            await db.commit()
            return _connection(row)

    async def update_connection(
        self,
        actor: User | None,
        name: str,
        *,
        new_name: str | None = None,
        url: str | None = None,
        description: str | None = None,
        schemas: Iterable[str] | str | None = None,
    ) -> Connection:
        """Change a connection; a URL whose password or credential parameters are `***` (as shown) keeps the stored ones."""
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            self._refuse_draft(row, "edited (its URL and name follow the live connection)")
            before = self._public(row)
            if new_name is not None and self._check_name(new_name) != row.name:
                new_name = self._check_name(new_name)
                if await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.name == new_name)):
                    raise ConflictError(f"a connection named {new_name!r} already exists")
                row.name = new_name
            if url is not None and url.strip() and url.strip() != engines.redisplay(row.display_url):
                parsed = engines.parse_url(url)
                parsed = engines.restore_hidden(parsed, self._vault.open(row.url_encrypted))
                row.backend = engines.backend_of(parsed)
                row.display_url = engines.display_url(parsed)
                row.url_encrypted = self._vault.seal(parsed)
            if description is not None:
                row.description = description.strip()
            if schemas is not None:
                row.schemas = self._check_schemas(schemas)
            row.updated_at = utcnow()
            row.catalog_changed_at = row.updated_at
            self._audit(db, actor, "catalog.connection.update", f"connection:{name}", before, self._public(row))
            draft = await db.scalar(sa.select(ConnectionRow).where(ConnectionRow.draft_of == row.id))
            if draft is not None:  # a draft reads the same database as its connection
                draft.backend, draft.display_url, draft.url_encrypted = row.backend, row.display_url, row.url_encrypted
                draft.schemas, draft.name = list(row.schemas or []), drafts.draft_name(row.name)
            await db.commit()
            self._engines.discard(row.id)
            if draft is not None:
                self._engines.discard(draft.id)
            result = _connection(row)
        await self._notify(result.id)
        return result

    async def delete_connection(self, actor: User | None, name: str) -> None:
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            draft_id = await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.draft_of == row.id))
            self._audit(db, actor, "catalog.connection.delete", f"connection:{name}", before=self._public(row))
            await db.delete(row)  # its draft goes with it
            await db.commit()
            self._engines.discard(row.id)
        await self._notify(row.id)
        if draft_id is not None:
            self._engines.discard(draft_id)
            await self._notify(draft_id)

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

    async def dialect(self, connection_id: int) -> str:
        """The sqlglot dialect name of the connection's database."""
        return (await self.get_connection_by_id(connection_id)).dialect

    async def test_connection(self, name: str) -> ConnectionTest:
        """Connect and ask the server's version; a failure comes back as one precise sentence."""
        connection = await self.get_connection(name)
        url, _ = await self._url_and_version(connection.id)
        try:
            engines.check_sqlite_file(url)
            engine = await self.engine(connection.id)
        except (ValidationFailed, UnavailableError) as exc:
            return ConnectionTest(ok=False, message=exc.detail)

        def probe() -> str:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                info = engine.dialect.server_version_info
                return ".".join(str(p) for p in info) if info else ""

        try:
            version = await anyio.to_thread.run_sync(probe)
        except Exception as exc:  # driver errors come in many types; each is explained, none escapes
            message = engines.explain_connect_error(url, exc)
            log.info("connection test of %s failed: %s", name, message)
            return ConnectionTest(ok=False, message=message)
        return ConnectionTest(ok=True, message=f"connected to {connection.backend} {version}".strip(), server_version=version)

    # grants ---------------------------------------------------------------------------------------

    async def grants(self, name: str) -> list[int]:
        """User ids of the analysts granted this connection."""
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            ids = await db.scalars(sa.select(GrantRow.user_id).where(GrantRow.connection_id == row.id))
            return sorted(ids)

    async def set_grants(self, actor: User | None, name: str, user_ids: Iterable[int]) -> list[int]:
        """Replace the set of users granted this connection."""
        wanted = sorted({int(u) for u in user_ids})
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            self._refuse_draft(row, "granted to analysts (only admins try a draft)")
            before = sorted(await db.scalars(sa.select(GrantRow.user_id).where(GrantRow.connection_id == row.id)))
            if wanted:
                known = set(await db.scalars(sa.text("SELECT id FROM users WHERE id = ANY(:ids)").bindparams(ids=wanted)))
                unknown = [u for u in wanted if u not in known]
                if unknown:
                    raise ValidationFailed(f"no user with id {unknown[0]}")
            await db.execute(sa.delete(GrantRow).where(GrantRow.connection_id == row.id))
            now = utcnow()
            for user_id in wanted:
                db.add(GrantRow(connection_id=row.id, user_id=user_id, granted_at=now))
            if before != wanted:
                self._audit(db, actor, "catalog.grants.set", f"connection:{name}", {"user_ids": before}, {"user_ids": wanted})
            await db.commit()
        return wanted

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
        return [_table(r, columns.get(r.id, ()), fks.get(r.id, ())) for r in rows]

    @staticmethod
    def _search(query: sa.Select, search: str | None) -> sa.Select:
        for term in (search or "").split():
            query = query.where(TableRow.search_text.like(_like(term), escape="\\"))
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
                order.insert(0, sa.not_(TableRow.name.ilike(_like(search.split()[0]), escape="\\")))
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
            hints = [_join_hint(h) for h in await db.scalars(
                sa.select(JoinHintRow).where(JoinHintRow.connection_id == connection_id).order_by(JoinHintRow.id))]
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
        )
        self._prompt_cache[connection_id] = schema
        return schema

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
        async with self._sessions() as db:
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
                row.synonyms = _synonyms(synonyms)
            if included is not None:
                row.included = bool(included)
            after = {"description": row.description, "business_name": row.business_name,
                     "synonyms": list(row.synonyms), "included": row.included, "semantics": dict(row.semantics or {})}
            columns = (await db.scalars(sa.select(ColumnRow).where(ColumnRow.table_id == row.id))).all()
            row.search_text = search_text(row, columns)
            if before != after:
                self._audit(db, actor, "catalog.table.update", f"connection:{connection_id}/table:{ref}", before, after)
                await self._touch(db, connection_id)
            await db.commit()
            table = (await self._with_children(db, [row]))[0]
        await self._notify(connection_id)
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
        async with self._sessions() as db:
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
                row.synonyms = _synonyms(synonyms)
            if included is not None:
                row.included = bool(included)
            if sensitive is not None:
                row.sensitive = bool(sensitive)
                if row.sensitive:
                    # values sampled before the flag was set go now, not at the next sync
                    row.distinct_values = None
            after = {f: getattr(row, f) for f in fields}
            after["semantics"] = dict(row.semantics or {})
            table.search_text = search_text(table, columns)
            if before != after:
                self._audit(db, actor, "catalog.column.update",
                            f"connection:{connection_id}/table:{ref}/column:{column}", before, after)
                await self._touch(db, connection_id)
            await db.commit()
            result = _column(row)
        await self._notify(connection_id)
        return result

    async def join_hints(self, connection_id: int) -> list[JoinHint]:
        async with self._sessions() as db:
            rows = await db.scalars(
                sa.select(JoinHintRow).where(JoinHintRow.connection_id == connection_id).order_by(JoinHintRow.id))
            return [_join_hint(r) for r in rows]

    async def add_join_hint(
        self, actor: User | None, connection_id: int, left_table: str, right_table: str,
        pairs: Iterable[Sequence[str]], note: str = "",
    ) -> JoinHint:
        pairs = [[str(a).strip(), str(b).strip()] for a, b in pairs]
        if not left_table.strip() or not right_table.strip() or not pairs or not all(a and b for a, b in pairs):
            raise ValidationFailed("a join hint needs two tables and at least one column pair")
        async with self._sessions() as db:
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
            self._audit(db, actor, "catalog.join_hint.create", f"connection:{connection_id}/join_hint:{row.id}",
                        after={"left": row.left_table, "right": row.right_table, "pairs": pairs})
            await self._touch(db, connection_id)
            await db.commit()
            hint = _join_hint(row)
        await self._notify(connection_id)
        return hint

    async def delete_join_hint(self, actor: User | None, connection_id: int, hint_id: int) -> None:
        async with self._sessions() as db:
            row = await db.get(JoinHintRow, hint_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no join hint {hint_id}")
            self._audit(db, actor, "catalog.join_hint.delete", f"connection:{connection_id}/join_hint:{hint_id}",
                        before={"left": row.left_table, "right": row.right_table, "pairs": row.pairs})
            await db.delete(row)
            await self._touch(db, connection_id)
            await db.commit()
        await self._notify(connection_id)

    # bulk metadata --------------------------------------------------------------------------------

    async def import_metadata(
        self, actor: User | None, connection_id: int, payload: Any, *, db: str | None = None
    ) -> ImportReport:
        """Apply a JSON metadata document: our export, sqleval's dbs/<db>.json or columns_join.json (`db` picks)."""
        connection = await self.get_connection_by_id(connection_id)
        parsed = transfer.parse_metadata_json(payload, connection_name=connection.name, db=db)
        return await self._apply_metadata(actor, connection_id, parsed, "json")

    async def import_metadata_csv(self, actor: User | None, connection_id: int, text: str) -> ImportReport:
        """Apply a CSV of table,column,description,business_name,synonyms,included,sensitive rows."""
        return await self._apply_metadata(actor, connection_id, transfer.parse_metadata_csv(text), "csv")

    async def _apply_metadata(
        self, actor: User | None, connection_id: int, parsed: transfer.MetadataImport, source: str
    ) -> ImportReport:
        errors: list[tuple[int, str]] = []
        applied = 0
        async with self._sessions() as db:
            tables = (await db.scalars(sa.select(TableRow).where(TableRow.connection_id == connection_id))).all()
            if not tables and parsed.patches:
                raise ValidationFailed("the catalog of this connection is empty: sync it before importing metadata")
            by_key = {(t.schema, t.name): t for t in tables}
            by_lower: dict[str, list[TableRow]] = {}
            for t in tables:
                by_lower.setdefault(t.name.lower(), []).append(t)
                by_lower.setdefault(f"{t.schema}.{t.name}".lower(), []).append(t)
            columns: dict[int, dict[str, ColumnRow]] = {}
            for c in await db.scalars(
                sa.select(ColumnRow).join(TableRow, TableRow.id == ColumnRow.table_id)
                .where(TableRow.connection_id == connection_id)
            ):
                columns.setdefault(c.table_id, {})[c.name] = c
            touched: set[int] = set()
            for patch in parsed.patches:
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
                        value = _synonyms(value)
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
            existing = {
                (h.left_table, h.right_table, tuple(map(tuple, h.pairs)))
                for h in await db.scalars(sa.select(JoinHintRow).where(JoinHintRow.connection_id == connection_id))
            }
            hints = 0
            for hint in parsed.join_hints:
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
                hints += 1
            known_texts = set(await db.scalars(
                sa.select(InstructionRow.text).where(InstructionRow.connection_id == connection_id)))
            added_instructions = 0
            now = utcnow()
            for text in parsed.instructions:
                if text not in known_texts:
                    db.add(InstructionRow(connection_id=connection_id, text=text[:4000], kind="always",
                                          created_at=now, updated_at=now))
                    added_instructions += 1
            summary = {"source": source, "applied": applied, "join_hints": hints,
                       "instructions": added_instructions, "errors": len(errors)}
            self._audit(db, actor, "catalog.metadata.import", f"connection:{connection_id}", after=summary)
            await self._touch(db, connection_id)
            await db.commit()
        await self._notify(connection_id)
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
                         "included": c.included, "sensitive": c.sensitive, "semantics": dict(c.semantics)}
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

    # instructions ---------------------------------------------------------------------------------

    async def instructions(self, connection_id: int, kind: InstructionKind | str | None = None) -> list[Instruction]:
        query = sa.select(InstructionRow).where(InstructionRow.connection_id == connection_id)
        if kind:
            query = query.where(InstructionRow.kind == InstructionKind(kind).value)
        async with self._sessions() as db:
            return [_instruction(r) for r in await db.scalars(query.order_by(InstructionRow.id))]

    @staticmethod
    def _instruction_fields(text: str, kind: InstructionKind | str) -> tuple[str, str]:
        text = (text or "").strip()
        if not text:
            raise ValidationFailed("the instruction text is empty")
        if len(text) > 4000:
            raise ValidationFailed("an instruction may have at most 4000 characters")
        try:
            return text, InstructionKind(kind).value
        except ValueError:
            raise ValidationFailed("the instruction kind must be `always` or `topical`") from None

    async def add_instruction(
        self, actor: User | None, connection_id: int, text: str, kind: InstructionKind | str = InstructionKind.ALWAYS
    ) -> Instruction:
        text, kind = self._instruction_fields(text, kind)
        now = utcnow()
        async with self._sessions() as db:
            row = InstructionRow(connection_id=connection_id, text=text, kind=kind, created_at=now, updated_at=now)
            db.add(row)
            await db.flush()
            self._audit(db, actor, "catalog.instruction.create", f"connection:{connection_id}/instruction:{row.id}",
                        after={"text": text, "kind": kind})
            await self._touch(db, connection_id)
            await db.commit()
            result = _instruction(row)
        await self._notify(connection_id)
        return result

    async def update_instruction(
        self, actor: User | None, connection_id: int, instruction_id: int, text: str, kind: InstructionKind | str
    ) -> Instruction:
        text, kind = self._instruction_fields(text, kind)
        async with self._sessions() as db:
            row = await db.get(InstructionRow, instruction_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no instruction {instruction_id}")
            before = {"text": row.text, "kind": row.kind}
            row.text, row.kind, row.updated_at = text, kind, utcnow()
            self._audit(db, actor, "catalog.instruction.update", f"connection:{connection_id}/instruction:{row.id}",
                        before, {"text": text, "kind": kind})
            await self._touch(db, connection_id)
            await db.commit()
            result = _instruction(row)
        await self._notify(connection_id)
        return result

    async def delete_instruction(self, actor: User | None, connection_id: int, instruction_id: int) -> None:
        async with self._sessions() as db:
            row = await db.get(InstructionRow, instruction_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no instruction {instruction_id}")
            self._audit(db, actor, "catalog.instruction.delete", f"connection:{connection_id}/instruction:{row.id}",
                        before={"text": row.text, "kind": row.kind})
            await db.delete(row)
            await self._touch(db, connection_id)
            await db.commit()
        await self._notify(connection_id)

    # golden queries -------------------------------------------------------------------------------

    async def golden_queries(self, connection_id: int, search: str | None = None) -> list[GoldenQuery]:
        query = sa.select(GoldenQueryRow).where(GoldenQueryRow.connection_id == connection_id)
        for term in (search or "").split():
            pattern = _like(term)
            query = query.where(sa.or_(GoldenQueryRow.question.ilike(pattern, escape="\\"),
                                       GoldenQueryRow.sql.ilike(pattern, escape="\\")))
        async with self._sessions() as db:
            return [_golden(r) for r in await db.scalars(query.order_by(GoldenQueryRow.id))]

    async def check_golden_sql(self, connection_id: int, sql: str) -> str:
        """The SQL as it will be stored, or ValidationFailed with the reason (parse, read-only, test run)."""
        target = await self.sql_target(connection_id)
        try:
            engine = await self.engine(connection_id)
        except UnavailableError as exc:
            raise ValidationFailed(f"the SQL can't be test-run: {exc.detail}") from None
        check = self._golden_check
        try:
            return await anyio.to_thread.run_sync(lambda: check(sql, target, engine))
        except ValidationFailed:
            raise
        except AppError as exc:
            # a failed or timed-out test run is a reason to refuse the query, not a server error
            raise ValidationFailed(exc.detail) from None

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

    async def _golden_fields(self, connection_id: int, question: str, sql: str) -> tuple[str, str]:
        question = (question or "").strip()
        if not question:
            raise ValidationFailed("the question is empty")
        if len(question) > 2000:
            raise ValidationFailed("a question may have at most 2000 characters")
        return question, await self.check_golden_sql(connection_id, sql)

    @staticmethod
    async def _refuse_duplicate(db: AsyncSession, connection_id: int, question: str, except_id: int | None = None) -> None:
        """One golden query per question (case, spacing and end punctuation aside) on a connection."""
        def key(text: str) -> str:
            return " ".join(text.lower().split()).rstrip("?.! ")

        rows = await db.execute(sa.select(GoldenQueryRow.id, GoldenQueryRow.question).where(
            GoldenQueryRow.connection_id == connection_id))
        for other_id, other in rows:
            if other_id != except_id and key(other) == key(question):
                raise ConflictError(f"golden query #{other_id} already has this question ({other!r}): edit that one "
                                    "instead")

    async def add_golden_query(self, actor: User | None, connection_id: int, question: str, sql: str) -> GoldenQuery:
        question, sql = await self._golden_fields(connection_id, question, sql)
        now = utcnow()
        async with self._sessions() as db:
            await self._refuse_duplicate(db, connection_id, question)
            row = GoldenQueryRow(connection_id=connection_id, question=question, sql=sql, created_at=now, updated_at=now)
            db.add(row)
            await db.flush()
            self._audit(db, actor, "catalog.golden_query.create", f"connection:{connection_id}/golden_query:{row.id}",
                        after={"question": question, "sql": sql})
            await self._touch(db, connection_id)
            await db.commit()
            result = _golden(row)
        await self._notify(connection_id)
        return result

    async def update_golden_query(
        self, actor: User | None, connection_id: int, query_id: int, question: str, sql: str
    ) -> GoldenQuery:
        question, sql = await self._golden_fields(connection_id, question, sql)
        async with self._sessions() as db:
            row = await db.get(GoldenQueryRow, query_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no golden query {query_id}")
            await self._refuse_duplicate(db, connection_id, question, except_id=query_id)
            before = {"question": row.question, "sql": row.sql}
            row.question, row.sql, row.updated_at = question, sql, utcnow()
            self._audit(db, actor, "catalog.golden_query.update", f"connection:{connection_id}/golden_query:{row.id}",
                        before, {"question": question, "sql": sql})
            await self._touch(db, connection_id)
            await db.commit()
            result = _golden(row)
        await self._notify(connection_id)
        return result

    async def delete_golden_query(self, actor: User | None, connection_id: int, query_id: int) -> None:
        async with self._sessions() as db:
            row = await db.get(GoldenQueryRow, query_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no golden query {query_id}")
            self._audit(db, actor, "catalog.golden_query.delete", f"connection:{connection_id}/golden_query:{row.id}",
                        before={"question": row.question, "sql": row.sql})
            await db.delete(row)
            await self._touch(db, connection_id)
            await db.commit()
        await self._notify(connection_id)

    async def import_golden_rows(
        self, actor: User | None, connection_id: int, rows: Iterable[tuple[int, str, str]]
    ) -> ImportReport:
        """Add (line, question, sql) rows; a bad row is reported with its line and reason, good rows stay."""
        imported, errors = 0, []
        for line, question, sql in rows:
            try:
                await self.add_golden_query(actor, connection_id, question, sql)
                imported += 1
            except (ValidationFailed, ConflictError) as exc:
                errors.append((line, exc.detail))
        return ImportReport(imported=imported, skipped=len(errors), errors=tuple(errors))

    async def import_golden_csv(self, actor: User | None, connection_id: int, text: str) -> ImportReport:
        """Add golden queries from a question,sql CSV; bad rows are reported by line, good rows kept."""
        return await self.import_golden_rows(actor, connection_id, transfer.parse_golden_csv(text))

    async def export_golden_csv(self, connection_id: int) -> str:
        return transfer.golden_csv([(q.question, q.sql) for q in await self.golden_queries(connection_id)])

    # sync -----------------------------------------------------------------------------------------

    async def start_sync(self, actor: User | None, name: str, *, defer: bool = True) -> SyncStatus:
        """Queue a sync job (or return the one already queued or running); without a queue it runs here."""
        from nl2sql.catalog.sync import start_sync

        async with self._sessions() as db:
            self._refuse_draft(await self._row_by_name(db, name), "synced (sync the live connection, then take a "
                                                                   "new draft)")
        return await start_sync(self, actor, name, defer=defer)

    async def sync_status(self, name: str) -> SyncStatus | None:
        """The latest sync of the connection, if any."""
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            latest = await db.scalar(
                sa.select(SyncRow).where(SyncRow.connection_id == row.id).order_by(SyncRow.id.desc()).limit(1))
            return _sync(latest) if latest else None

    async def get_sync(self, sync_id: int) -> SyncStatus:
        async with self._sessions() as db:
            row = await db.get(SyncRow, sync_id)
            if row is None:
                raise NotFoundError(f"no sync {sync_id}")
            return _sync(row)

    async def run_sync(self, sync_id: int) -> SyncStatus:
        """Introspect and write the catalog for a queued sync (the job's body; callable directly)."""
        from nl2sql.catalog.sync import run_sync

        return await run_sync(self, sync_id)

    async def sync_now(self, actor: User | None, name: str) -> SyncStatus:
        """Queue and run a sync in this task (CLI, demo, bench); the result tells success or why not."""
        status = await self.start_sync(actor, name, defer=False)
        if status.finished:
            return status
        return await self.run_sync(status.id)

    # knowledge drafts -----------------------------------------------------------------------------

    async def create_draft(self, actor: User | None, name: str) -> KnowledgeDraft:
        """A draft of connection `name`: a hidden copy of its curated catalog to edit and try before publishing
        (the usual table, column, join hint, instruction and golden query edits, on the draft's name)."""
        async with self._sessions() as db:
            live = await self._row_by_name(db, name)
            self._refuse_draft(live, "drafted again (edit this draft, or publish or discard it first)")
            if await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.draft_of == live.id)):
                raise ConflictError(f"connection {name} already has a draft ({drafts.draft_name(live.name)}): "
                                    "publish or discard it first")
            draft = await drafts.copy(db, live)
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
            return KnowledgeDraft(connection=_connection(draft), live=_connection(live), created_at=draft.created_at,
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
        return drafts.changes(await drafts.knowledge(db, live.id), await drafts.knowledge(db, draft.id),
                              draft.draft_origin or {})

    async def publish_draft(self, actor: User | None, name: str) -> list[DraftChange]:
        """Make the draft's knowledge live (its differences applied to the live rows) and remove the draft."""
        async with self._sessions() as db:
            live, draft = await self._draft_rows(db, name)
            found = await self._draft_changes(db, live, draft)
            await drafts.publish(db, live.id, draft.id, found, search_text)
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
