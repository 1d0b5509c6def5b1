"""Evaluation tables in the app database (private to the evaluation module)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.db import Base

TS = sa.DateTime(timezone=True)


class EvalRunRow(Base):
    """One evaluation: a question set run through the engine on a connection, with its progress and score."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(10), default="questions")  # questions, or golden (a regression)
    connection_id: Mapped[int] = mapped_column(sa.Integer)
    connection_name: Mapped[str] = mapped_column(sa.String(63))
    created_by: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(12))  # queued, running, done, failed, cancelled
    total: Mapped[int] = mapped_column(sa.Integer)
    done: Mapped[int] = mapped_column(sa.Integer, default=0)
    correct: Mapped[int] = mapped_column(sa.Integer, default=0)
    engine: Mapped[dict] = mapped_column(JSONB, default=dict)  # the model and generators it ran with
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    trial_of: Mapped[int | None] = mapped_column(sa.Integer)  # a draft's run: the live run it is compared with


class EvalItemRow(Base):
    """One question of a run: its gold SQL, what the engine answered, and the verdict."""

    __tablename__ = "eval_items"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("eval_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)
    question: Mapped[str] = mapped_column(sa.Text)
    gold_sql: Mapped[str] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.String(100))
    instructions: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(10), default="pending")  # pending, judged
    predicted_sql: Mapped[str | None] = mapped_column(sa.Text)
    explanation: Mapped[str | None] = mapped_column(sa.Text)
    generator: Mapped[str | None] = mapped_column(sa.String(20))
    answer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    correct: Mapped[bool | None] = mapped_column(sa.Boolean)
    match: Mapped[str | None] = mapped_column(sa.String(10))  # exact, subset
    reason: Mapped[str | None] = mapped_column(sa.Text)
    seconds: Mapped[float | None] = mapped_column(sa.Float)
    holdout: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # a golden query's check: asked as if it were not there

    __table_args__ = (sa.Index("ix_eval_items_run_position", "run_id", "position"),)
