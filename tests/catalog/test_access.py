"""What of the catalog's metadata a user sees under their policies (`visibility_of`, `Visibility`): a hidden column is
not listed, a masked one lists no sampled values, a table under a row policy shows no values and no row count, and
an admin or a user no policy names sees everything."""

from __future__ import annotations

from datetime import UTC, datetime

from nl2sql.auth import Role, User
from nl2sql.catalog import (
    Column,
    ColumnPolicy,
    ForeignKey,
    JoinHint,
    Metric,
    PromptColumn,
    PromptSchema,
    PromptTable,
    RowPolicy,
    Table,
    visibility_of,
)

NOW = datetime(2026, 12, 7, tzinfo=UTC)
ANALYST = User(7, "ana@example.com", "Ana", Role.ANALYST, True, NOW, groups=("sales",))
OTHER = User(8, "oli@example.com", "Oli", Role.ANALYST, True, NOW)
ADMIN = User(1, "ada@example.com", "Ada", Role.ADMIN, True, NOW, groups=("sales",))

ROWS = [RowPolicy(1, 1, "orders", "group:sales", "region = {user.region}", "", None)]
MASKS = [ColumnPolicy(1, 1, "customers", "ssn", "user:7", "hidden"),
         ColumnPolicy(2, 1, "customers", "state", "group:sales", "last4")]


def column(name: str, values: tuple[str, ...] | None = None) -> PromptColumn:
    return PromptColumn(name, "TEXT", "", "", (), True, name == "id", False, values,
                        value_synonyms={values[0]: ("word",)} if values else {})


def schema() -> PromptSchema:
    customers = PromptTable(None, "customers", "", "", (), 30, (
        column("id"), column("ssn", ("123-45-6789",)), column("state", ("CA", "NY")), column("city", ("Austin",))),
        (ForeignKey(("ssn",), None, "people", ("ssn",)),))
    orders = PromptTable(None, "orders", "", "", (), 100, (
        column("id"), column("customer_id"), column("region", ("EU", "US"))),
        (ForeignKey(("customer_id",), None, "customers", ("id",)),))
    metrics = (Metric(1, 1, "metric", "ssn count", "count(distinct customers.ssn)"),
               Metric(2, 1, "metric", "orders", "count(orders.id)"))
    hints = (JoinHint(1, "customers", "orders", (("ssn", "customer_id"),)),
             JoinHint(2, "customers", "orders", (("id", "customer_id"),)))
    return PromptSchema(1, "shop", "sqlite", "", (customers, orders), hints, NOW, metrics)


def test_a_hidden_column_is_not_listed_and_nothing_names_it():
    seen = visibility_of(ANALYST, ROWS, MASKS).schema(schema())
    customers = {c.name: c for c in seen.tables[0].columns}
    assert "ssn" not in customers
    assert seen.tables[0].foreign_keys == ()  # the key on ssn named it
    assert [h.id for h in seen.join_hints] == [2] and [m.name for m in seen.metrics] == ["orders"]


def test_a_masked_column_is_listed_without_its_values_or_value_synonyms():
    seen = visibility_of(ANALYST, ROWS, MASKS).schema(schema())
    customers = {c.name: c for c in seen.tables[0].columns}
    assert customers["state"].values is None and customers["state"].value_synonyms == {}
    assert customers["city"].values == ("Austin",) and seen.tables[0].row_count == 30


def test_a_table_under_a_row_policy_shows_no_values_and_no_row_count():
    seen = visibility_of(ANALYST, ROWS, MASKS).schema(schema())
    orders = seen.tables[1]
    assert orders.row_count is None and all(c.values is None for c in orders.columns)
    assert [c.name for c in orders.columns] == ["id", "customer_id", "region"]
    assert orders.foreign_keys == schema().tables[1].foreign_keys


def test_an_admin_and_a_user_no_policy_names_see_everything():
    for user in (ADMIN, OTHER):
        visibility = visibility_of(user, ROWS, MASKS)
        assert not visibility.restricts and visibility.fingerprint == ""
        assert visibility.schema(schema()) is not None and visibility.schema(schema()) == schema()


def test_users_under_other_policies_get_other_views_and_caches_can_tell_them_apart():
    mine = visibility_of(ANALYST, ROWS, MASKS)
    group_only = visibility_of(User(9, "g@example.com", "G", Role.ANALYST, True, NOW, groups=("sales",)), ROWS, MASKS)
    assert mine.fingerprint and group_only.fingerprint and mine.fingerprint != group_only.fingerprint
    assert mine.schema(schema()).seen_by == mine.fingerprint and schema().seen_by == ""
    assert "ssn" in {c.name for c in group_only.schema(schema()).tables[0].columns}


def test_the_catalog_apis_tables_are_filtered_the_same_way():
    table = Table(3, 1, None, "customers", "table", "", "", "", (), True, 30, (
        Column(1, "ssn", "TEXT", True, None, False, "", "", "", (), True, False, ("123-45-6789",)),
        Column(2, "state", "TEXT", True, None, False, "", "", "", (), True, False, ("CA", "NY")),
    ))
    seen = visibility_of(ANALYST, ROWS, MASKS).table(table)
    assert [c.name for c in seen.columns] == ["state"] and seen.columns[0].distinct_values is None
    assert visibility_of(ADMIN, ROWS, MASKS).table(table) is table
