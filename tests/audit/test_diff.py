"""An audit entry's change, as a person reads it."""

from nl2sql.audit.diff import FieldChange, field_changes


def test_an_update_lists_only_the_fields_that_changed_before_and_after():
    before = {"name": "shop", "description": "Bob's shop", "schemas": ["public"], "url": "sqlite:///a.db"}
    after = {"name": "shop", "description": "O'Brien's shop", "schemas": ["public", "sales"], "url": "sqlite:///a.db"}
    assert field_changes(before, after) == [
        FieldChange("description", "Bob's shop", "O'Brien's shop"),
        FieldChange("schemas", "public", "public, sales"),
    ]


def test_a_created_record_lists_every_field_as_added_and_a_deleted_one_as_removed():
    created = field_changes(None, {"name": "shop", "sensitive": True, "synonyms": []})
    assert [(c.field, c.after, c.kind) for c in created] == [("name", "shop", "added"), ("sensitive", "yes", "added"),
                                                               ("synonyms", "(none)", "added")]
    deleted = field_changes({"question": "How many?", "sql": None}, None)
    assert [(c.field, c.before, c.kind) for c in deleted] == [("question", "How many?", "removed"),
                                                              ("sql", "none", "removed")]


def test_nested_records_read_as_dotted_fields_without_json_escapes():
    changes = field_changes({"semantics": {"label": "name", "time": None}, "user_ids": [1, 2]},
                            {"semantics": {"label": "title", "time": "created_at"}, "user_ids": [2], "note": "Zoë's"})
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("semantics.label", "name", "title"), ("semantics.time", "none", "created_at"), ("user_ids", "1, 2", "2"),
        ("note", None, "Zoë's"),
    ]
    assert not any("\\u" in (c.before or "") + (c.after or "") for c in changes)


def test_an_entry_without_a_difference_lists_nothing():
    assert field_changes({"a": 1}, {"a": 1}) == []
    assert field_changes(None, None) == []
