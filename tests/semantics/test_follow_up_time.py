"""A follow-up's time filter applies to the measure's time (issue 31): "only for 2025" after "which customer placed
the most orders?" filters the orders' date, not the customer's sign-up date (the demo shop's schema, read as a
sync reads it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from nl2sql.answers.generation import effective_question
from nl2sql.catalog import ForeignKey, PromptColumn, PromptSchema, PromptTable
from nl2sql.catalog.demo import build_demo_database
from nl2sql.catalog.introspection import SamplingPlan, introspect
from nl2sql.prompting import Turn
from nl2sql.semantics import Reader, build_semantic_model, compile_plan

TODAY = dt.date(2025, 12, 20)


def _schema(path: Path) -> PromptSchema:
    engine = sa.create_engine(f"sqlite:///{path}")
    scan = introspect(engine, [], SamplingPlan(distinct_max=50, sample_rows=2000, row_count_cap=100_000), lambda *a: None)
    engine.dispose()
    tables = tuple(
        PromptTable(None, t.name, t.comment or "", "", (), t.row_count,
                    tuple(PromptColumn(c.name, c.type, c.comment or "", "", (), c.nullable, c.primary_key, False,
                                       tuple(c.distinct_values) if c.distinct_values is not None else None)
                          for c in t.columns),
                    tuple(ForeignKey(tuple(f.columns), None, f.ref_table, tuple(f.ref_columns)) for f in t.foreign_keys))
        for t in scan.tables)
    return PromptSchema(1, "demo", "sqlite", "", tables, (), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_a_follow_ups_year_filters_the_events_counted_not_the_subjects_own_date(tmp_path):
    reader = Reader(build_semantic_model(_schema(build_demo_database(tmp_path / "shop.db"))))
    text = effective_question("only for 2025", (Turn("Which customer placed the most orders?", ""),))
    [best, *_] = reader.read(text, today=TODAY)
    assert "order date" in best.explanation and "signup" not in best.explanation, best.explanation
    sql = compile_plan(best.plan, reader.model)
    assert "2025-01-01" in sql

    # the subject's own date still filters when the question names nothing else
    [own, *_] = reader.read("How many customers signed up in 2025?", today=TODAY)
    assert "signup" in own.explanation, own.explanation
