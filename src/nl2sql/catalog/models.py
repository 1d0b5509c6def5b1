"""Catalog tables in the app database (private to the catalog module)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from nl2sql.db import Base

TS = sa.DateTime(timezone=True)


class ConnectionRow(Base):
    __tablename__ = "catalog_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    backend: Mapped[str] = mapped_column(sa.String(40))
    display_url: Mapped[str] = mapped_column(sa.Text)
    url_encrypted: Mapped[str] = mapped_column(sa.Text)
    schemas: Mapped[list] = mapped_column(JSONB, default=list)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    catalog_changed_at: Mapped[datetime] = mapped_column(TS)
    synced_at: Mapped[datetime | None] = mapped_column(TS)
    # a draft: a hidden copy of the connection `draft_of`'s curated catalog, edited and tried before it is published;
    # draft_origin maps the copied instructions, golden queries and join hints to the live rows they came from;
    # draft_base is what the live connection said when the draft was taken (a publish applies only what the draft
    # changed since, and stops where the live side changed the same thing)
    draft_of: Mapped[int | None] = mapped_column(
        sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), unique=True)
    draft_origin: Mapped[dict | None] = mapped_column(JSONB)
    draft_base: Mapped[dict | None] = mapped_column(JSONB)
    # the last connection test: why it failed (NULL: passed or never tested) and when; a failing connection is not
    # offered to analysts or on the ask page until a test passes
    test_failure: Mapped[str | None] = mapped_column(sa.Text)
    tested_at: Mapped[datetime | None] = mapped_column(TS)


class GrantRow(Base):
    __tablename__ = "catalog_grants"

    connection_id: Mapped[int] = mapped_column(
        sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(TS)


class TableRow(Base):
    __tablename__ = "catalog_tables"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"))
    schema: Mapped[str] = mapped_column(sa.String(255), default="")
    name: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(10), default="table")
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    business_name: Mapped[str] = mapped_column(sa.String(255), default="")
    synonyms: Mapped[list] = mapped_column(JSONB, default=list)
    included: Mapped[bool] = mapped_column(default=True)
    row_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    # PostgreSQL's count of writes to the table at the last sync: unchanged, its counts and values are not read again
    data_version: Mapped[int | None] = mapped_column(sa.BigInteger)
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    semantics: Mapped[dict] = mapped_column(JSONB, default=dict)  # the admin's corrections: label, time


class ColumnRow(Base):
    __tablename__ = "catalog_columns"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_tables.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str] = mapped_column(sa.String(255))
    nullable: Mapped[bool] = mapped_column(default=True)
    default: Mapped[str | None] = mapped_column(sa.Text)
    primary_key: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    business_name: Mapped[str] = mapped_column(sa.String(255), default="")
    synonyms: Mapped[list] = mapped_column(JSONB, default=list)
    included: Mapped[bool] = mapped_column(default=True)
    sensitive: Mapped[bool] = mapped_column(default=False)
    distinct_values: Mapped[list | None] = mapped_column(JSONB)
    semantics: Mapped[dict] = mapped_column(JSONB, default=dict)  # the admin's corrections: role, aggregate
    value_synonyms: Mapped[dict] = mapped_column(JSONB, default=dict)  # {value: [words people use for it]}


class ForeignKeyRow(Base):
    __tablename__ = "catalog_foreign_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_tables.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    columns: Mapped[list] = mapped_column(JSONB)
    ref_schema: Mapped[str] = mapped_column(sa.String(255), default="")
    ref_table: Mapped[str] = mapped_column(sa.String(255))
    ref_columns: Mapped[list] = mapped_column(JSONB)


class JoinHintRow(Base):
    __tablename__ = "catalog_join_hints"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), index=True)
    left_table: Mapped[str] = mapped_column(sa.String(511))
    right_table: Mapped[str] = mapped_column(sa.String(511))
    pairs: Mapped[list] = mapped_column(JSONB)
    note: Mapped[str] = mapped_column(sa.Text, default="")


class InstructionRow(Base):
    __tablename__ = "catalog_instructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class GoldenQueryRow(Base):
    __tablename__ = "catalog_golden_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(sa.Text)
    sql: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class MetricRow(Base):
    """A metric (named formula) or a segment (named condition) of the connection's semantic layer."""

    __tablename__ = "catalog_metrics"
    __table_args__ = (sa.UniqueConstraint("connection_id", "kind", "name", name="uq_catalog_metrics_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    name: Mapped[str] = mapped_column(sa.String(255))
    expression: Mapped[str] = mapped_column(sa.Text)
    filters: Mapped[list] = mapped_column(JSONB, default=list)
    time_column: Mapped[str] = mapped_column(sa.String(511), default="")
    synonyms: Mapped[list] = mapped_column(JSONB, default=list)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    format: Mapped[str] = mapped_column(sa.String(10), default="plain")
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class SyncRow(Base):
    __tablename__ = "catalog_syncs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_connections.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    phase: Mapped[str] = mapped_column(sa.String(40), default="")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    requested_by: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(TS)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    error: Mapped[str | None] = mapped_column(sa.Text)
    diff: Mapped[dict | None] = mapped_column(JSONB)
