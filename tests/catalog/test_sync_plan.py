"""The heart of a sync as a pure function: the stored catalog and the introspected database in, the typed diff
and the writes out, with no database at all."""

from __future__ import annotations

from nl2sql.catalog.introspection import ColumnShape, TableShape
from nl2sql.catalog.models import ColumnRow, TableRow
from nl2sql.catalog.sync import plan_catalog


def _column(id_, table_id, position, name, type_="TEXT", **extra):
    values = dict(id=id_, table_id=table_id, position=position, name=name, type=type_, nullable=True, default=None,
                  primary_key=False, comment="", description="", business_name="", synonyms=[], included=True,
                  sensitive=False, distinct_values=None)
    return ColumnRow(**(values | extra))


def _shape(name, *columns, comment=""):
    return TableShape("", name, "table", comment, [ColumnShape(c, t, True, None, False, "", t == "TEXT")
                                                   for c, t in columns])


def test_a_plan_keeps_what_people_wrote_and_reports_every_structural_change():
    orders = TableRow(id=1, connection_id=7, schema="", name="orders", kind="table", comment="", description="Orders",
                      business_name="", synonyms=["sales"], included=True, row_count=10)
    legacy = TableRow(id=2, connection_id=7, schema="", name="legacy", kind="table", comment="", description="",
                      business_name="", synonyms=[], included=True, row_count=1)
    columns = {1: {"id": _column(11, 1, 0, "id", "INTEGER"),
                   "amount": _column(12, 1, 1, "amount", "INTEGER", description="Order total"),
                   "note": _column(13, 1, 2, "note")},
               2: {"x": _column(21, 2, 0, "x")}}
    shapes = [_shape("orders", ("id", "INTEGER"), ("amount", "NUMERIC"), ("api_token", "TEXT"), comment="all orders"),
              _shape("customers", ("id", "INTEGER"), ("name", "TEXT"))]

    plan = plan_catalog({("", "orders"): orders, ("", "legacy"): legacy}, columns, shapes, first_sync=False)

    diff = plan.diff
    assert (diff.added_tables, diff.removed_tables, diff.tables, diff.columns) == (("customers",), ("legacy",), 2, 5)
    (change,) = diff.changed_tables
    assert change.table == "orders" and change.added_columns == ("api_token",) and change.removed_columns == ("note",)
    assert change.changed_columns == (("amount", {"type": ["INTEGER", "NUMERIC"]}),)
    assert change.changes == {"comment": ["", "all orders"]}
    assert diff.to_json()["summary"] == {"tables": 2, "columns": 5, "added": 1, "removed": 1, "changed": 1}

    assert plan.removed_table_ids == [2] and [s.name for s in plan.added] == ["customers"]
    assert plan.column_deletes == [13]
    inserted = {(key[1], values["name"]): values for key, values in plan.column_inserts}
    assert set(inserted) == {("orders", "api_token"), ("customers", "id"), ("customers", "name")}
    assert inserted[("orders", "api_token")]["sensitive"] is True  # a secret-looking name starts sensitive
    (update,) = [u for u in plan.column_updates if u["id"] == 12]
    assert update["type"] == "NUMERIC" and "description" not in update  # the description people wrote stays
    texts = {key[1]: values["search_text"] for key, values in plan.table_updates}
    assert "sales" in texts["orders"] and "order total" in texts["orders"] and "api_token" in texts["orders"]


def test_an_unchanged_database_plans_no_column_writes():
    orders = TableRow(id=1, connection_id=7, schema="", name="orders", kind="table", comment="", description="",
                      business_name="", synonyms=[], included=True, row_count=10)
    columns = {1: {"id": _column(11, 1, 0, "id", "INTEGER")}}
    plan = plan_catalog({("", "orders"): orders}, columns, [_shape("orders", ("id", "INTEGER"))], first_sync=False)
    assert plan.diff.changed_tables == () and plan.column_updates == [] and plan.column_inserts == []
    assert plan.column_deletes == [] and plan.removed_table_ids == []
