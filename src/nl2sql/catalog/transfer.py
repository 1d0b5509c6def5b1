"""Bulk metadata and golden-query formats: our JSON and CSV, sqleval's dbs/<db>.json and columns_join.json."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from nl2sql.errors import ValidationFailed

METADATA_CSV_FIELDS = ("table", "column", "description", "business_name", "synonyms", "included", "sensitive")
GOLDEN_CSV_FIELDS = ("question", "sql")
EDITABLE = ("description", "business_name", "synonyms", "included", "sensitive")


@dataclass
class MetadataPatch:
    """Human metadata for one table (column None) or one column; None fields stay as they are."""

    table: str
    column: str | None
    fields: dict[str, Any]
    line: int = 0


@dataclass
class MetadataImport:
    patches: list[MetadataPatch] = field(default_factory=list)
    join_hints: list[dict[str, Any]] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # metrics and segments, as `Metric.spec()` writes them


def _bool(value: Any, *, line: int, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "no", "n", "off"):
        return False
    raise ValidationFailed(f"row {line}: {name} must be true or false, got {value!r}")


def _fields(item: dict[str, Any], *, line: int, column: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("description", "business_name"):
        if item.get(key) is not None:
            fields[key] = str(item[key])
    if item.get("synonyms") is not None:
        synonyms = item["synonyms"]
        fields["synonyms"] = synonyms if isinstance(synonyms, list) else str(synonyms).split(",")
    for key in ("included", "sensitive") if column else ("included",):
        value = _bool(item.get(key), line=line, name=key)
        if value is not None:
            fields[key] = value
    if isinstance(item.get("semantics"), dict):
        fields["semantics"] = dict(item["semantics"])
    if column and isinstance(item.get("value_synonyms"), dict):
        fields["value_synonyms"] = {str(k): [str(w) for w in (v if isinstance(v, list) else [v])]
                                    for k, v in item["value_synonyms"].items()}
    return fields


def parse_metadata_json(payload: Any, *, connection_name: str, db: str | None = None) -> MetadataImport:
    """Read our export, sqleval's {"table_metadata": ...} (+ glossary) or columns_join.json."""
    result = MetadataImport()
    if isinstance(payload, list) or (isinstance(payload, dict) and _looks_like_columns_join(payload)):
        result.join_hints = _columns_join(payload, connection_name=connection_name, db=db)
        return result
    if not isinstance(payload, dict):
        raise ValidationFailed("the metadata must be a JSON object")
    if "table_metadata" in payload:
        tables = payload["table_metadata"]
        if not isinstance(tables, dict):
            raise ValidationFailed("table_metadata must map table names to lists of columns")
        for table, columns in tables.items():
            for item in columns or []:
                name = item.get("column_name")
                description = (item.get("column_description") or "").strip()
                if name and description:
                    result.patches.append(MetadataPatch(table, name, {"description": description}))
        glossary = payload.get("glossary")
        if isinstance(glossary, str) and glossary.strip():
            result.instructions.append(glossary.strip())
        return result
    if "tables" in payload:
        for number, table in enumerate(payload.get("tables") or [], 1):
            if not isinstance(table, dict) or not table.get("name"):
                result.notes.append(f"table entry {number} has no name: skipped")
                continue
            ref = f"{table['schema']}.{table['name']}" if table.get("schema") else table["name"]
            fields = _fields(table, line=number, column=False)
            if fields:
                result.patches.append(MetadataPatch(ref, None, fields, number))
            for column in table.get("columns") or []:
                if isinstance(column, dict) and column.get("name"):
                    fields = _fields(column, line=number, column=True)
                    if fields:
                        result.patches.append(MetadataPatch(ref, column["name"], fields, number))
        result.metrics = [m for m in payload.get("metrics") or [] if isinstance(m, dict)]
        for hint in payload.get("join_hints") or []:
            result.join_hints.append(
                {"left_table": hint.get("left_table", ""), "right_table": hint.get("right_table", ""),
                 "pairs": hint.get("pairs") or [], "note": hint.get("note", "")}
            )
        return result
    raise ValidationFailed(
        "unknown metadata format: expected our export ({\"tables\": [...]}), sqleval's {\"table_metadata\": ...} "
        "or a columns_join.json"
    )


def _looks_like_columns_join(payload: dict) -> bool:
    return bool(payload) and all(
        isinstance(v, list) and all(isinstance(i, dict) and "tables" in i for i in v) for v in payload.values()
    )


def _columns_join(payload: Any, *, connection_name: str, db: str | None) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        key = db or connection_name
        if key not in payload:
            raise ValidationFailed(
                f"columns_join has no entry {key!r}: pass ?db= with one of {', '.join(sorted(payload))}"
            )
        payload = payload[key]
    hints = []
    for item in payload:
        tables = item.get("tables") or []
        if len(tables) != 2:
            raise ValidationFailed(f"a join hint needs two tables, got {tables!r}")
        pairs = [list(p) for p in item.get("columns") or [] if len(p) == 2]
        hints.append({"left_table": tables[0], "right_table": tables[1], "pairs": pairs, "note": item.get("note", "")})
    return hints


def parse_metadata_csv(text: str) -> MetadataImport:
    result = MetadataImport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "table" not in reader.fieldnames:
        raise ValidationFailed(f"the CSV needs a header with at least `table`; columns: {', '.join(METADATA_CSV_FIELDS)}")
    for line, row in enumerate(reader, 2):
        table = (row.get("table") or "").strip()
        if not table:
            result.notes.append(f"row {line}: no table: skipped")
            continue
        column = (row.get("column") or "").strip() or None
        try:
            fields = _fields({k: v for k, v in row.items() if v not in (None, "")}, line=line, column=column is not None)
        except ValidationFailed as exc:
            result.notes.append(exc.detail)
            continue
        if fields:
            result.patches.append(MetadataPatch(table, column, fields, line))
    return result


def metadata_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=METADATA_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def parse_golden_csv(text: str) -> list[tuple[int, str, str]]:
    """(line, question, sql) rows of a question,sql CSV."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not {"question", "sql"} <= {f.strip().lower() for f in reader.fieldnames}:
        raise ValidationFailed("the CSV needs a header row with the columns question,sql")
    rows = []
    for line, row in enumerate(reader, 2):
        normalized = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        rows.append((line, normalized.get("question", ""), normalized.get("sql", "")))
    return rows


def golden_csv(rows: list[tuple[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GOLDEN_CSV_FIELDS)
    writer.writerows(rows)
    return out.getvalue()
