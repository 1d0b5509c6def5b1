"""An audit entry's before and after as a person reads them: one line per field, `field: before → after`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["FieldChange", "field_changes", "shown"]

_DEPTH = 3  # nested records are read as dotted fields (semantics.label) this deep; deeper ones show whole


@dataclass(frozen=True)
class FieldChange:
    """One field of an audited record: its value before and after, as text; None where the field was absent."""

    field: str
    before: str | None
    after: str | None

    @property
    def kind(self) -> str:
        """changed, added (only after: a record created) or removed (only before: a record deleted)."""
        if self.before is None:
            return "added"
        return "removed" if self.after is None else "changed"


def field_changes(before: dict | None, after: dict | None) -> list[FieldChange]:
    """The fields that differ between `before` and `after` (every field, when only one side exists), in order."""
    old, new = _flatten(before or {}), _flatten(after or {})
    fields = list(old) + [name for name in new if name not in old]
    changes = []
    for name in fields:
        if before is not None and after is not None and old.get(name, _ABSENT) == new.get(name, _ABSENT):
            continue
        changes.append(FieldChange(
            field=name,
            before=shown(old[name]) if name in old else None,
            after=shown(new[name]) if name in new else None,
        ))
    return changes


_ABSENT = object()


def _flatten(record: dict, prefix: str = "", depth: int = 1) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and depth < _DEPTH:
            flat |= _flatten(value, f"{name}.", depth + 1)
        else:
            flat[name] = value
    return flat


def shown(value: Any) -> str:
    """A value in words: text as written (no quotes or escapes), lists joined, yes/no, 'none' for nothing."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value if value.strip() else "(empty)"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        if not value:
            return "(none)"
        if all(not isinstance(item, dict | list | tuple) for item in value):
            return ", ".join(shown(item) for item in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
