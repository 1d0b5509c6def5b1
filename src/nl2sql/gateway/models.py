"""Tables of the gateway module: request and model-call records, rate counters, quota overrides."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.db import Base

TS = sa.DateTime(timezone=True)


class RequestRow(Base):
    __tablename__ = "gateway_requests"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    trace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    at: Mapped[datetime] = mapped_column(TS, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    api_key_id: Mapped[int | None] = mapped_column(sa.Integer)
    client_addr: Mapped[str | None] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(10))
    route: Mapped[str] = mapped_column(sa.String(300))
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    duration_ms: Mapped[float] = mapped_column(sa.Float)
    outcome: Mapped[str | None] = mapped_column(sa.String(40))


class ModelCallRow(Base):
    __tablename__ = "gateway_model_calls"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    trace_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    at: Mapped[datetime] = mapped_column(TS, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    api_key_id: Mapped[int | None] = mapped_column(sa.Integer)
    connection: Mapped[str | None] = mapped_column(sa.String(200))
    purpose: Mapped[str] = mapped_column(sa.String(40))
    backend: Mapped[str] = mapped_column(sa.String(40))
    model: Mapped[str] = mapped_column(sa.String(200))
    prompt_tokens: Mapped[int] = mapped_column(sa.Integer)
    completion_tokens: Mapped[int] = mapped_column(sa.Integer)
    queue_ms: Mapped[float | None] = mapped_column(sa.Float)
    ttft_ms: Mapped[float | None] = mapped_column(sa.Float)
    duration_ms: Mapped[float] = mapped_column(sa.Float)
    tokens_per_s: Mapped[float] = mapped_column(sa.Float)
    finish_reason: Mapped[str | None] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    error: Mapped[str | None] = mapped_column(sa.Text)
    prompt: Mapped[str | None] = mapped_column(sa.Text)
    completion: Mapped[str | None] = mapped_column(sa.Text)


class CounterRow(Base):
    __tablename__ = "gateway_counters"

    subject: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(TS, primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger)


class QuotaRow(Base):
    __tablename__ = "gateway_quotas"

    subject: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    requests_per_minute: Mapped[int | None] = mapped_column(sa.Integer)
    tokens_per_day: Mapped[int | None] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(TS)
    updated_by: Mapped[int | None] = mapped_column(sa.Integer)
