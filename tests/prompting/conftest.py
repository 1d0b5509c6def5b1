"""Prompting fixtures: a small shop catalog as retrieval would hand it over, built directly."""

from __future__ import annotations

import datetime as dt

import pytest

from nl2sql.catalog import ForeignKey, GoldenQuery, Instruction, InstructionKind, JoinHint, PromptColumn, PromptTable
from nl2sql.retrieval.dto import Retrieval, ScoredGoldenQuery, ScoredInstruction, ScoredTable, ValueMatch

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def column(name: str, type_: str = "INTEGER", *, pk: bool = False, description: str = "", values=None,
           sensitive: bool = False) -> PromptColumn:
    return PromptColumn(name, type_, description, "", (), not pk, pk, sensitive, values)


def table(name: str, columns: tuple[PromptColumn, ...], description: str = "", fks=()) -> PromptTable:
    return PromptTable(None, name, description, "", (), 100, columns, tuple(fks))


CUSTOMERS = table(
    "customers",
    (
        column("id", pk=True),
        column("name", "TEXT", description="Full name"),
        column("state", "TEXT", description="US state code", values=("CA", "NY", "TX")),
        column("email", "TEXT", sensitive=True),
    ),
    "People who bought something",
)
ORDERS = table(
    "orders",
    (
        column("id", pk=True),
        column("customer_id", description="Who ordered"),
        column("status", "TEXT", values=("new", "shipped")),
        column("amount", "NUMERIC(10,2)"),
        column("ordered_at", "DATE"),
    ),
    "Orders placed by customers",
    fks=(ForeignKey(("customer_id",), None, "customers", ("id",)),),
)
PAYMENTS = table(
    "payments",
    (column("id", pk=True), column("order_id"), column("method", "TEXT"), column("paid", "NUMERIC(10,2)")),
    "Payments for orders",
    fks=(ForeignKey(("order_id",), None, "orders", ("id",)),),
)


def instruction(id_: int, text: str, kind: InstructionKind = InstructionKind.TOPICAL) -> Instruction:
    return Instruction(id_, 1, text, kind, NOW, NOW)


def golden(id_: int, question: str, sql: str) -> GoldenQuery:
    return GoldenQuery(id_, 1, question, sql, NOW, NOW)


def shop_retrieval(**changes) -> Retrieval:
    fields = dict(
        connection_id=1,
        dialect="postgres",
        tables=(ScoredTable(ORDERS, 0.9), ScoredTable(CUSTOMERS, 0.7), ScoredTable(PAYMENTS, 0.2)),
        join_hints=(JoinHint(1, "payments", "orders", (("order_id", "id"),), "one payment per order"),),
        instructions=(
            ScoredInstruction(instruction(1, "Revenue counts only orders not cancelled.", InstructionKind.ALWAYS), 1.0),
            ScoredInstruction(instruction(2, "Amounts are in US dollars."), 0.5),
        ),
        golden_queries=(
            ScoredGoldenQuery(golden(7, "How many orders are there?", "SELECT COUNT(*) FROM orders"), 0.6),
        ),
        values=(ValueMatch("customers", "state", "CA", 0.95),),
    )
    fields.update(changes)
    return Retrieval(**fields)


@pytest.fixture
def retrieval() -> Retrieval:
    return shop_retrieval()
