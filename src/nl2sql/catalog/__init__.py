"""Catalog: customer-database connections, their synced schema and its curation, instructions, golden queries."""

from nl2sql.catalog.dto import (
    Column,
    Connection,
    ConnectionTest,
    ForeignKey,
    GoldenQuery,
    ImportReport,
    Instruction,
    InstructionKind,
    JoinHint,
    PromptColumn,
    PromptSchema,
    PromptTable,
    SyncState,
    SyncStatus,
    Table,
    TablePage,
)
from nl2sql.catalog.golden import GoldenSqlCheck, ReadOnlyCheck, parse_read_only
from nl2sql.catalog.service import CatalogService, ChangeListener, SyncQueue
from nl2sql.catalog.sync import blueprint

__all__ = [
    "CatalogService",
    "ChangeListener",
    "Column",
    "Connection",
    "ConnectionTest",
    "ForeignKey",
    "GoldenQuery",
    "GoldenSqlCheck",
    "ImportReport",
    "Instruction",
    "InstructionKind",
    "JoinHint",
    "PromptColumn",
    "PromptSchema",
    "PromptTable",
    "ReadOnlyCheck",
    "SyncQueue",
    "SyncState",
    "SyncStatus",
    "Table",
    "TablePage",
    "blueprint",
    "parse_read_only",
]
