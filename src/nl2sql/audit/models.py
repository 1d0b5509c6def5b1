"""The audit log's table in the app database (private to the audit module)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.db import Base


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
