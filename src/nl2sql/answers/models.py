"""Answers tables in the app database (private to the answers module)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.db import Base

TS = sa.DateTime(timezone=True)


class AnswerRow(Base):
    """One question asked: who, where, the SQL it got (or why not), its attempts, retrieved context, timings."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.Integer)
    api_key_id: Mapped[int | None] = mapped_column(sa.Integer)
    connection_id: Mapped[int | None] = mapped_column(sa.Integer)
    connection_name: Mapped[str] = mapped_column(sa.String(63))
    question: Mapped[str] = mapped_column(sa.Text)
    sql: Mapped[str | None] = mapped_column(sa.Text)
    verified: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    golden_query_id: Mapped[int | None] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20))
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[list] = mapped_column(JSONB, default=list)
    retrieved: Mapped[dict] = mapped_column(JSONB, default=dict)
    timings: Mapped[dict] = mapped_column(JSONB, default=dict)
    trace_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(TS)
    plan: Mapped[dict | None] = mapped_column(JSONB)  # the winning query plan (None when SQL won directly)
    explanation: Mapped[str | None] = mapped_column(sa.Text)  # the plan's English line
    generator: Mapped[str | None] = mapped_column(sa.String(20))  # reader, golden, model_plan, model_sql, verified
    candidates: Mapped[list] = mapped_column(JSONB, default=list)

    __table_args__ = (
        sa.Index("ix_answers_user_created", "user_id", "created_at"),
        sa.Index("ix_answers_connection_created", "connection_id", "created_at"),
    )


class ModelTrustCheckRow(Base):
    """One piece of evidence for the model's trust: a verified query checked, or an answer compared."""

    __tablename__ = "model_trust_checks"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    model: Mapped[str] = mapped_column(sa.String(300))
    source: Mapped[str] = mapped_column(sa.String(10))  # golden or answer
    passed: Mapped[bool] = mapped_column(sa.Boolean)
    connection_id: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (sa.Index("ix_model_trust_checks_model_id", "model", "id"),)


class ThreadRow(Base):
    """A conversation: follow-ups in it are asked with its earlier questions and SQL."""

    __tablename__ = "answer_threads"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.Integer)
    connection_id: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class ResultRow(Base):
    """What an answer's query returned (a summary, not the rows), its thread, and the uncapped SQL it came from."""

    __tablename__ = "answer_results"

    answer_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    thread_id: Mapped[int | None] = mapped_column(sa.BigInteger, sa.ForeignKey("answer_threads.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(sa.String(20))  # ask, edit, rerun
    source_sql: Mapped[str | None] = mapped_column(sa.Text)
    row_count: Mapped[int | None] = mapped_column(sa.Integer)
    truncated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    columns: Mapped[list] = mapped_column(JSONB, default=list)
    chart_kind: Mapped[str | None] = mapped_column(sa.String(20))
    error: Mapped[str | None] = mapped_column(sa.Text)
    elapsed_ms: Mapped[float | None] = mapped_column(sa.Float)


class FeedbackRow(Base):
    """A user's thumbs up or down on one answer, with an optional comment and corrected SQL; admins resolve it."""

    __tablename__ = "answer_feedback"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    answer_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("answers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.Integer)
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    corrected_sql: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(20), default="open")  # open, promoted, dismissed
    golden_query_id: Mapped[int | None] = mapped_column(sa.Integer)
    resolved_by: Mapped[int | None] = mapped_column(sa.Integer)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (
        sa.CheckConstraint("rating IN (-1, 1)", name="ck_answer_feedback_rating"),
        sa.UniqueConstraint("answer_id", "user_id", name="uq_answer_feedback_answer_user"),
    )


class AskProgressRow(Base):
    """A question in flight on the ask page (any server may answer its polls); kept an hour after it started."""

    __tablename__ = "ask_progress"

    token: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.Integer)
    question: Mapped[str] = mapped_column(sa.Text)
    stages: Mapped[list] = mapped_column(JSONB)
    started_at: Mapped[datetime] = mapped_column(TS, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    answer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[dict | None] = mapped_column(JSONB)
