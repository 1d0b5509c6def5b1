"""A metric or segment is tried before it is stored: it compiles for the dialect, passes the guard and returns a
number (a segment counts its rows) — on real SQLite, PostgreSQL and MariaDB — or is refused with the reason."""

from __future__ import annotations

import dataclasses

import pytest

from nl2sql.catalog import Metric
from nl2sql.errors import ValidationFailed
from nl2sql.semantics import metric_check, try_metric
from tests.semantics.schemas import library


def schema_with(dialect: str, definition: Metric, *, sensitive: tuple[str, str] | None = None):
    schema = library(dialect)
    if sensitive:
        tables = []
        for t in schema.tables:
            columns = tuple(dataclasses.replace(c, sensitive=True) if (t.name, c.name) == sensitive else c
                            for c in t.columns)
            tables.append(dataclasses.replace(t, columns=columns))
        schema = dataclasses.replace(schema, tables=tuple(tables))
    return dataclasses.replace(schema, metrics=(definition,))


def tried(dialect, engine, definition: Metric, **kwargs):
    return try_metric(definition, schema_with(dialect, definition, **kwargs), engine, timeout_s=10)


def test_a_metric_returns_its_number(library_db):
    dialect, engine = library_db
    fees = Metric(0, 1, "metric", "late fees", "sum(loans.fee)", (), "loans.loaned_on", ("fines",))
    trial = tried(dialect, engine, fees)
    assert float(trial.value) == pytest.approx(6.5)
    assert "SUM(" in trial.sql.upper() and trial.readback.startswith("late fees (sum of fee)")


def test_a_ratio_metric_divides_safely(library_db):
    dialect, engine = library_db
    ratio = Metric(0, 1, "metric", "fee per loan", "sum(loans.fee) / count(loans.id)",
                   ("loans.returned_on IS NOT NULL",))
    assert float(tried(dialect, engine, ratio).value) == pytest.approx(6.5 / 6)


def test_a_segment_counts_its_rows(library_db):
    dialect, engine = library_db
    active = Metric(0, 1, "segment", "active members", "members.is_active = 1")
    assert tried(dialect, engine, active).value == 4


@pytest.mark.parametrize("definition, reason", [
    (Metric(0, 1, "metric", "no fees", "sum(loans.fee)", ("loans.fee > 1000",)), "returns no number"),
    (Metric(0, 1, "metric", "last author", "max(authors.name)"), "not a number"),
    (Metric(0, 1, "metric", "weight", "sum(books.weight)"), "no column books.weight"),
    (Metric(0, 1, "segment", "odd", "books.genre LIKE 'f%'"), "not supported in a condition"),
])
def test_a_definition_that_fails_is_refused_with_the_reason(library_db, definition, reason):
    dialect, engine = library_db
    with pytest.raises(ValidationFailed) as refused:
        tried(dialect, engine, definition)
    assert reason in refused.value.detail, refused.value.detail


def test_the_guard_refuses_a_metric_over_a_sensitive_column(library_sqlite):
    names = Metric(0, 1, "metric", "surnames", "max(members.last_name)")
    with pytest.raises(ValidationFailed) as refused:
        tried("sqlite", library_sqlite, names, sensitive=("members", "last_name"))
    assert "guard" in refused.value.detail or "no column" in refused.value.detail, refused.value.detail


def test_the_catalog_check_reports_the_value(library_sqlite):
    fees = Metric(0, 1, "metric", "late fees", "sum(loans.fee)")
    check = metric_check(timeout_s=10)
    found = check(fees, schema_with("sqlite", fees), library_sqlite)
    assert float(found.value) == pytest.approx(6.5) and found.summary().endswith("= 6.5")
