"""Row policies and column masks per connection, and the users' attributes and groups they are written with.

The catalog stores them and says which apply to whom; the guard (sqlguard) enforces them by rewriting each
statement. A policy's subject is `user:<id>` or `group:<name>`; a user's groups and attributes live on the users
table (migration 0020 added the two columns for the policies; auth reads them into `User`, single sign-on fills
them at each login), and an admin may set them here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.auth import User
from nl2sql.catalog.base import CatalogCore
from nl2sql.catalog.models import ColumnRow, ConnectionRow, TableRow
from nl2sql.db import Base, utcnow
from nl2sql.errors import NotFoundError, ValidationFailed

__all__ = ["AccessPart", "ColumnPolicy", "MASK_CHOICES", "RowPolicy", "subject_matches"]

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
