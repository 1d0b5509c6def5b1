"""One version of a connection's catalog, prepared once for retrieval: items to embed, lookups, joins, values."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from nl2sql.catalog import GoldenQuery, Instruction, InstructionKind, PromptColumn, PromptSchema, PromptTable

from nl2sql.retrieval.embedder import split_identifier
from nl2sql.retrieval.joins import JoinGraph
from nl2sql.retrieval.values import ValueIndex

KINDS = ("table", "column", "instruction", "golden")
# column names listed in a table's text; beyond this the description carries the meaning
TABLE_TEXT_COLUMNS = 40


@dataclass(frozen=True)
class Item:
    """One thing that gets a vector: kind, key unique within the connection, the text embedded and its hash."""

    kind: str
    key: str
    item_id: int | None
    text: str

    @property
    def content_hash(self) -> str:
        return hashlib.md5(self.text.encode(), usedforsecurity=False).hexdigest()


def _words(name: str) -> str:
    return split_identifier(name).strip()


def _labels(business_name: str, synonyms: tuple[str, ...]) -> str:
    labels = [x for x in (business_name, *synonyms) if x]
    return f" ({'; '.join(labels)})" if labels else ""


def table_text(table: PromptTable) -> str:
    """What a table's vector and keyword entry say: its name as words, labels, description, column names."""
    text = _words(table.name) + _labels(table.business_name, table.synonyms)
    if table.description:
        text += f": {table.description}"
    names = [_words(c.name) for c in table.columns[:TABLE_TEXT_COLUMNS]]
    if names:
        text += ". Columns: " + ", ".join(names)
    return text


def column_text(table: PromptTable, column: PromptColumn) -> str:
    text = f"{_words(table.name)} {_words(column.name)}" + _labels(column.business_name, column.synonyms)
    if column.description:
        text += f": {column.description}"
    return text


def column_key(table: str, column: str) -> str:
    return f"{table}.{column}"


class CatalogView:
    """Everything retrieval derives from one PromptSchema version (built once, then read by every question)."""

    def __init__(
        self, schema: PromptSchema, instructions: list[Instruction], golden: list[GoldenQuery]
    ) -> None:
        self.schema = schema
        self.version: datetime = schema.version
        self.tables: dict[str, PromptTable] = {t.qualified_name: t for t in schema.tables}
        # a column key's table part may itself contain dots (schema.table), so keep the split explicit
        self.columns: dict[str, tuple[str, PromptColumn]] = {
            column_key(t.qualified_name, c.name): (t.qualified_name, c) for t in schema.tables for c in t.columns
        }
        self.instructions = {str(i.id): i for i in instructions}
        self.always = [i for i in instructions if i.kind == InstructionKind.ALWAYS]
        self.golden = {str(g.id): g for g in golden}
        self.graph = JoinGraph(schema.tables, schema.join_hints)
        self.values = ValueIndex(schema.tables)
        self._items: list[Item] | None = None

    @property
    def items(self) -> list[Item]:
        if self._items is None:
            items = []
            for table in self.schema.tables:
                items.append(Item("table", table.qualified_name, None, table_text(table)))
                items += [
                    Item("column", column_key(table.qualified_name, c.name), None, column_text(table, c))
                    for c in table.columns
                ]
            items += [
                Item("instruction", str(i.id), i.id, i.text) for i in self.instructions.values()
                if i.kind == InstructionKind.TOPICAL
            ]
            items += [Item("golden", str(g.id), g.id, g.question) for g in self.golden.values()]
            self._items = items
        return self._items
