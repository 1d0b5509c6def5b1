"""Audit log of admin changes: who, when, what, before and after."""

from __future__ import annotations

from collections.abc import Sequence

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.db import Base, utcnow

__all__ = ["AuditEntry", "AuditLog", "record"]


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    actor_email: Mapped[str | None] = mapped_column(sa.String(320))
    action: Mapped[str] = mapped_column(sa.String(100), index=True)
    target: Mapped[str] = mapped_column(sa.String(500))
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    actor_email: str | None
    action: str
    target: str
    before: dict | None
    after: dict | None


def record(
    db: AsyncSession,
    *,
    actor_id: int | None,
    actor_email: str | None,
    action: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an entry to the caller's transaction, so the change and its record commit together."""
    db.add(
        AuditRow(
            at=utcnow(),
            actor_id=actor_id,
            actor_email=actor_email,
            action=action,
            target=target[:500],
            before=before,
            after=after,
        )
    )


class AuditLog:
    """Read the audit log (newest first), filtered."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def search(
        self,
        *,
        action: str | None = None,
        actor_id: int | None = None,
        target: str | None = None,
        also_targets: Sequence[str] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[AuditEntry], int]:
        """Newest first; `target` matches anywhere in the target, as does any of `also_targets` (its other names)."""
        query = sa.select(AuditRow)
        if action:
            query = query.where(AuditRow.action.startswith(action))
        if actor_id is not None:
            query = query.where(AuditRow.actor_id == actor_id)
        if target:
            query = query.where(sa.or_(*(AuditRow.target.ilike(f"%{_like(t)}%", escape="\\")
                                         for t in (target, *also_targets))))
        async with self._sessions() as db:
            total = await db.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
            rows = await db.scalars(query.order_by(AuditRow.id.desc()).limit(limit).offset(offset))
            return [
                AuditEntry(r.id, r.at, r.actor_id, r.actor_email, r.action, r.target, r.before, r.after) for r in rows
            ], total


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
