"""Catalog: customer-database connections, their synced schema and its curation, instructions, golden queries."""

from nl2sql.catalog.api import api_routes
from nl2sql.catalog.demo import build_demo_database, install_demo
from nl2sql.catalog.dto import (
    AGGREGATES,
    COLUMN_ROLES,
    Column,
    Connection,
    ConnectionTest,
    DraftChange,
    DraftConflict,
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
from nl2sql.catalog.golden import GoldenSqlCheck, ReadOnlyCheck, SqlTarget, parse_read_only
from nl2sql.catalog.service import CatalogService, ChangeListener, SyncQueue
from nl2sql.catalog.pages import page_routes
from nl2sql.catalog.sync import jobs_blueprint

__all__ = [
    "AGGREGATES",
    "COLUMN_ROLES",
    "CatalogService",
    "ChangeListener",
    "Column",
    "Connection",
    "ConnectionTest",
    "DraftChange",
    "DraftConflict",
    "ForeignKey",
    "GoldenQuery",
    "GoldenSqlCheck",
    "ImportReport",
    "Instruction",
    "InstructionKind",
    "JoinHint",
    "KnowledgeDraft",
    "PromptColumn",
    "PromptSchema",
    "PromptTable",
    "ReadOnlyCheck",
    "SqlTarget",
    "SyncQueue",
    "SyncState",
    "SyncStatus",
    "Table",
    "TablePage",
    "api_routes",
    "build_demo_database",
    "install_demo",
    "jobs_blueprint",
    "page_routes",
    "parse_read_only",
]
