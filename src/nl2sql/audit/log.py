"""The audit log of admin changes: entries recorded in the changing transaction, and read back filtered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.audit.models import AuditRow
from nl2sql.db import utcnow

TargetNames = Callable[[], Awaitable[dict[int, str]]]  # connection id -> name (the catalog's)


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
    """Read the audit log (newest first), filtered; `connection_names` lets a filter by connection name find the
    entries that name it by id ("connection:3/golden_query:7") and shows them with the name."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, connection_names: TargetNames | None = None) -> None:
        self._sessions = sessions
        self._names = connection_names
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


    async def named(self, *, action: str | None = None, target: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[list[AuditEntry], int]:
        """`search` for people: a target filter by connection name also finds entries naming it by id, and each
        entry's connection is shown by name."""
        names = await self._names() if self._names is not None else {}
        wanted = (target or "").strip().lower().removeprefix("connection:").split("/")[0]
        also = [f"connection:{i}/" for i, n in names.items() if n == wanted]
        entries, total = await self.search(action=action or None, target=target or None, also_targets=also,
                                           limit=limit, offset=offset)
        return [replace(e, target=_named(e.target, names)) for e in entries], total


def _named(target: str, names: dict[int, str]) -> str:
    head, sep, rest = target.partition("/")
    kind, _, ident = head.partition(":")
    if kind == "connection" and ident.isascii() and ident.isdigit() and int(ident) in names:
        return f"connection:{names[int(ident)]}{sep}{rest}"
    return target


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
