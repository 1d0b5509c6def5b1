"""Row policies and column masks per connection, and the users' attributes and groups they are written with.

The catalog stores them and says which apply to whom; the guard (sqlguard) enforces them by rewriting each
statement. A policy's subject is `user:<id>` or `group:<name>`; a user's groups and attributes live on the users
table (migration 0020 added the two columns for the policies; auth reads them into `User`, single sign-on fills
them at each login), and an admin may set them here."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.auth import User
from nl2sql.catalog.base import CatalogCore
from nl2sql.catalog.dto import Column, JoinHint, Metric, PromptColumn, PromptSchema, PromptTable, Table
from nl2sql.catalog.models import ColumnRow, ConnectionRow, TableRow
from nl2sql.db import Base, utcnow
from nl2sql.errors import NotFoundError, ValidationFailed

__all__ = ["MASK_CHOICES", "AccessPart", "ColumnPolicy", "RowPolicy", "Visibility", "subject_matches", "visibility_of"]

TS = sa.DateTime(timezone=True)
# hidden: refused like a sensitive column; the others show every value masked
MASK_CHOICES = ("hidden", "redacted", "last4", "hash")
_SUBJECT = re.compile(r"^(user:\d+|group:[^\s:][^\n]{0,250})$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class RowPolicyRow(Base):
    __tablename__ = "access_row_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(sa.String(511))
    subject: Mapped[str] = mapped_column(sa.String(300))
    condition: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    exercised_at: Mapped[datetime | None] = mapped_column(TS)


class ColumnMaskRow(Base):
    __tablename__ = "access_column_masks"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(sa.String(511))
    column_name: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(300))
    mode: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(TS)


# auth's table, through the two columns migration 0020 added for the policies
_USERS = sa.table("users", sa.column("id", sa.Integer), sa.column("attributes", JSONB), sa.column("groups", JSONB))


@dataclass(frozen=True)
class RowPolicy:
    id: int
    connection_id: int
    table: str
    subject: str
    condition: str
    description: str
    exercised_at: datetime | None


@dataclass(frozen=True)
class ColumnPolicy:
    id: int
    connection_id: int
    table: str
    column: str
    subject: str
    mode: str


def subject_matches(subject: str, user: User) -> bool:
    """Whether a policy's subject (`user:<id>`, `group:<name>`) names this user or one of the user's groups."""
    kind, _, value = subject.partition(":")
    if kind == "user":
        return value == str(user.id)
    return kind == "group" and value in user.groups


AnyTable = TypeVar("AnyTable", Table, PromptTable)


@dataclass(frozen=True)
class Visibility:
    """What of a connection's catalog metadata one user may see, as their policies allow.

    A hidden column is not listed at all; a masked column is listed without its sampled values (or value synonyms,
    which name values too); a table under a row policy shows no sampled values and no row count, since those are
    the whole table's. The default sees everything (an admin, or a user no policy names). Every reader of the
    catalog on a user's behalf (prompts, the reader's model, retrieval, MCP, the API and pages) goes through this."""

    hidden: frozenset[str] = frozenset()  # "table.column", the table qualified as the catalog names it
    masked: frozenset[str] = frozenset()
    policed: frozenset[str] = frozenset()  # tables a row policy filters for the user
    fingerprint: str = field(default="", compare=False)  # "" when it restricts nothing: caches key on it

    @property
    def restricts(self) -> bool:
        return bool(self.hidden or self.masked or self.policed)

    def lists(self, table: str, column: str) -> bool:
        return f"{table}.{column}" not in self.hidden

    def shows_values(self, table: str, column: str) -> bool:
        key = f"{table}.{column}"
        return table not in self.policed and key not in self.masked and key not in self.hidden

    def shows_hint(self, hint: JoinHint) -> bool:
        """Whether a join hint names only columns the user may see."""
        return all(self.lists(hint.left_table, a) and self.lists(hint.right_table, b) for a, b in hint.pairs)

    def shows_metric(self, metric: Metric) -> bool:
        """Whether a metric or segment names no hidden column (by the column's name, wherever it is written)."""
        if not self.hidden:
            return True
        words = {w.casefold() for w in re.findall(r"\w+", " ".join((metric.expression, metric.time_column,
                                                                     *metric.filters)))}
        return not words & {c.rpartition(".")[2].casefold() for c in self.hidden}

    def table(self, table: AnyTable) -> AnyTable:
        """The table as this user may see it (a `Table` of the catalog API or a `PromptTable` of the prompts)."""
        if not self.restricts:
            return table
        name = table.qualified_name
        columns = tuple(self._column(name, c) for c in table.columns if self.lists(name, c.name))
        kept = {c.name for c in columns}
        foreign_keys = tuple(fk for fk in table.foreign_keys if all(c in kept for c in fk.columns) and all(
            self.lists(f"{fk.ref_schema}.{fk.ref_table}" if fk.ref_schema else fk.ref_table, c)
            for c in fk.ref_columns))
        return replace(table, columns=columns, foreign_keys=foreign_keys,
                       row_count=None if name in self.policed else table.row_count)

    def _column(self, table: str, column: Column | PromptColumn) -> Column | PromptColumn:
        if self.shows_values(table, column.name):
            return column
        values = {"distinct_values": None} if isinstance(column, Column) else {"values": None}
        return replace(column, value_synonyms={}, **values)

    def schema(self, schema: PromptSchema) -> PromptSchema:
        """The connection's prompt schema as this user may see it: tables as `table()` shows them; join hints and
        metrics that name a hidden column left out."""
        if not self.restricts:
            return schema
        hints = tuple(h for h in schema.join_hints if self.shows_hint(h))
        metrics = tuple(m for m in schema.metrics if self.shows_metric(m))
        return replace(schema, tables=tuple(self.table(t) for t in schema.tables), join_hints=hints,
                       metrics=metrics, seen_by=self.fingerprint)


def visibility_of(user: User, rows: list[RowPolicy], masks: list[ColumnPolicy]) -> Visibility:
    """What `user` may see of a connection's catalog under these policies (its own and its groups'); an admin, who
    manages the policies, sees everything."""
    if user.is_admin:
        return Visibility()
    masks = [m for m in masks if subject_matches(m.subject, user)]
    hidden = frozenset(f"{m.table}.{m.column}" for m in masks if m.mode == "hidden")
    masked = frozenset(f"{m.table}.{m.column}" for m in masks if m.mode != "hidden")
    policed = frozenset(r.table for r in rows if subject_matches(r.subject, user))
    if not (hidden or masked or policed):
        return Visibility()
    fingerprint = hashlib.sha256(repr((sorted(hidden), sorted(masked), sorted(policed))).encode()).hexdigest()[:16]
    return Visibility(hidden, masked, policed, fingerprint)


def _row_policy(row: RowPolicyRow) -> RowPolicy:
    return RowPolicy(row.id, row.connection_id, row.table_name, row.subject, row.condition, row.description,
                     row.exercised_at)


def _column_policy(row: ColumnMaskRow) -> ColumnPolicy:
    return ColumnPolicy(row.id, row.connection_id, row.table_name, row.column_name, row.subject, row.mode)


def _subject(subject: str) -> str:
    subject = (subject or "").strip()
    if not _SUBJECT.match(subject):
        raise ValidationFailed("a policy applies to `user:<id>` or `group:<name>`")
    return subject


class AccessPart(CatalogCore):
    """Row policies, column masks, and the users' attributes and groups."""

    async def access_policies(self, connection_id: int) -> tuple[list[RowPolicy], list[ColumnPolicy]]:
        """Every row policy and column mask of a connection."""
        async with self._sessions() as db:
            rows = await db.scalars(sa.select(RowPolicyRow).where(RowPolicyRow.connection_id == connection_id)
                                    .order_by(RowPolicyRow.table_name, RowPolicyRow.subject))
            masks = await db.scalars(sa.select(ColumnMaskRow).where(ColumnMaskRow.connection_id == connection_id)
                                     .order_by(ColumnMaskRow.table_name, ColumnMaskRow.column_name))
            return [_row_policy(r) for r in rows], [_column_policy(m) for m in masks]

    async def visibility(self, user: User, connection_id: int) -> Visibility:
        """What `user` may see of the connection's catalog metadata (see `Visibility`)."""
        if user.is_admin:
            return Visibility()
        rows, masks = await self.access_policies(connection_id)
        return visibility_of(user, rows, masks)

    async def schema_for_user(self, connection_id: int, user: User) -> PromptSchema:
        """The connection's prompt schema as `user` may see it: the one way a user's view of the catalog is read."""
        schema = await self.schema_for_prompt(connection_id)  # type: ignore[attr-defined]
        return (await self.visibility(user, connection_id)).schema(schema)

    async def _table(self, db: AsyncSession, connection: ConnectionRow, table: str) -> TableRow:
        schema, _, name = table.strip().rpartition(".")
        query = sa.select(TableRow).where(TableRow.connection_id == connection.id, TableRow.name == name)
        if schema:
            query = query.where(TableRow.schema == schema)
        found = list(await db.scalars(query))
        if len(found) != 1:
            raise ValidationFailed(f"connection {connection.name!r} has no table {table!r} in its catalog"
                                   if not found else f"{table!r} names several tables: write schema.table")
        return found[0]

    @staticmethod
    def _table_name(row: TableRow) -> str:
        return f"{row.schema}.{row.name}" if row.schema else row.name

    async def add_row_policy(self, actor: User, connection_name: str, table: str, subject: str, condition: str,
                             description: str = "") -> RowPolicy:
        """A filter on `table`'s rows for `subject`; its condition is checked by the caller (answers) with the guard."""
        if not (condition or "").strip():
            raise ValidationFailed("write the condition rows must meet, e.g. region = {user.region}")
        async with self._sessions() as db:
            connection = await self._row_by_name(db, connection_name)
            table_row = await self._table(db, connection, table)
            now = utcnow()
            row = RowPolicyRow(connection_id=connection.id, table_name=self._table_name(table_row),
                               subject=_subject(subject), condition=condition.strip(),
                               description=(description or "").strip(), created_at=now, updated_at=now)
            db.add(row)
            try:
                await db.flush()
            except sa.exc.IntegrityError:
                raise ValidationFailed(f"{row.subject} already has a row policy on {row.table_name}; edit it") from None
            policy = _row_policy(row)
            self._audit(db, actor, "access.row_policy.create", f"connection:{connection.name}", None, _view(policy))
            await db.commit()
            return policy

    async def update_row_policy(self, actor: User, policy_id: int, condition: str, description: str) -> RowPolicy:
        if not (condition or "").strip():
            raise ValidationFailed("write the condition rows must meet, e.g. region = {user.region}")
        async with self._sessions() as db:
            row = await self._policy_row(db, policy_id)
            before = _view(_row_policy(row))
            row.condition, row.description, row.updated_at = condition.strip(), (description or "").strip(), utcnow()
            row.exercised_at = None  # a changed filter has not been tried by anyone yet
            policy = _row_policy(row)
            self._audit(db, actor, "access.row_policy.update", await self._target(db, row.connection_id), before,
                        _view(policy))
            await db.commit()
            return policy

    async def delete_row_policy(self, actor: User, policy_id: int) -> None:
        async with self._sessions() as db:
            row = await self._policy_row(db, policy_id)
            self._audit(db, actor, "access.row_policy.delete", await self._target(db, row.connection_id),
                        _view(_row_policy(row)), None)
            await db.delete(row)
            await db.commit()

    async def row_policy(self, policy_id: int) -> RowPolicy:
        async with self._sessions() as db:
            return _row_policy(await self._policy_row(db, policy_id))

    @staticmethod
    async def _policy_row(db: AsyncSession, policy_id: int) -> RowPolicyRow:
        row = await db.get(RowPolicyRow, policy_id)
        if row is None:
            raise NotFoundError(f"no row policy {policy_id}")
        return row

    @staticmethod
    async def _target(db: AsyncSession, connection_id: int) -> str:
        return f"connection:{await db.scalar(sa.select(ConnectionRow.name).where(ConnectionRow.id == connection_id))}"

    async def add_column_mask(self, actor: User, connection_name: str, table: str, column: str, subject: str,
                              mode: str) -> ColumnPolicy:
        """Hide or mask one column of `table` for `subject` (mode: one of MASK_CHOICES)."""
        if mode not in MASK_CHOICES:
            raise ValidationFailed(f"a column mask is one of {', '.join(MASK_CHOICES)}")
        async with self._sessions() as db:
            connection = await self._row_by_name(db, connection_name)
            table_row = await self._table(db, connection, table)
            name = await db.scalar(sa.select(ColumnRow.name).where(ColumnRow.table_id == table_row.id,
                                                                   ColumnRow.name == (column or "").strip()))
            if name is None:
                raise ValidationFailed(f"table {self._table_name(table_row)!r} has no column {column!r}")
            row = ColumnMaskRow(connection_id=connection.id, table_name=self._table_name(table_row), column_name=name,
                                subject=_subject(subject), mode=mode, created_at=utcnow())
            db.add(row)
            try:
                await db.flush()
            except sa.exc.IntegrityError:
                raise ValidationFailed(f"{row.subject} already has a mask on {row.table_name}.{name}; remove it "
                                       "first") from None
            mask = _column_policy(row)
            self._audit(db, actor, "access.column_mask.create", f"connection:{connection.name}", None, _view(mask))
            await db.commit()
            return mask

    async def delete_column_mask(self, actor: User, mask_id: int) -> None:
        async with self._sessions() as db:
            row = await db.get(ColumnMaskRow, mask_id)
            if row is None:
                raise NotFoundError(f"no column mask {mask_id}")
            self._audit(db, actor, "access.column_mask.delete", await self._target(db, row.connection_id),
                        _view(_column_policy(row)), None)
            await db.delete(row)
            await db.commit()

    async def set_user_access(self, actor: User, user_id: int, attributes: dict[str, Any],
                              groups: list[str]) -> tuple[dict[str, Any], list[str]]:
        """A user's attributes (the values `{user.<name>}` stands for) and groups (what `group:<name>` matches)."""
        for name, value in attributes.items():
            if not _ATTRIBUTE.match(str(name)):
                raise ValidationFailed(f"attribute name {name!r}: letters, digits and _ only, not starting with a digit")
            if not (isinstance(value, (str, int, float, bool)) or
                    (isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value))):
                raise ValidationFailed(f"attribute {name!r}: a text, a number, true/false or a list of those")
        groups = sorted({g.strip() for g in groups if g and g.strip()})
        async with self._sessions() as db:
            before = (await db.execute(sa.select(_USERS.c.attributes, _USERS.c.groups)
                                       .where(_USERS.c.id == user_id))).first()
            if before is None:
                raise NotFoundError(f"no user {user_id}")
            await db.execute(sa.update(_USERS).where(_USERS.c.id == user_id)
                             .values(attributes=dict(attributes), groups=groups))
            self._audit(db, actor, "access.user_attributes", f"user:{user_id}",
                        {"attributes": before[0], "groups": before[1]}, {"attributes": attributes, "groups": groups})
            await db.commit()
        return dict(attributes), groups

    async def user_access(self, user_id: int) -> tuple[dict[str, Any], list[str]]:
        """A user's attributes and groups as stored (an admin's or the last single sign-on's)."""
        async with self._sessions() as db:
            found = (await db.execute(sa.select(_USERS.c.attributes, _USERS.c.groups)
                                      .where(_USERS.c.id == user_id))).first()
        if found is None:
            raise NotFoundError(f"no user {user_id}")
        return dict(found[0] or {}), list(found[1] or [])

    async def note_policies_exercised(self, policy_ids: list[int]) -> None:
        """Record that a statement of a (non-admin) user ran under these row policies (the readiness check asks)."""
        if not policy_ids:
            return
        async with self._sessions() as db:
            await db.execute(sa.update(RowPolicyRow).where(RowPolicyRow.id.in_(policy_ids),
                                                           RowPolicyRow.exercised_at.is_(None))
                             .values(exercised_at=utcnow()))
            await db.commit()


def _view(item: RowPolicy | ColumnPolicy) -> dict:
    view = {k: v for k, v in item.__dict__.items() if k not in ("exercised_at",)}
    return view
