"""One version of a connection's catalog, prepared once for retrieval: items to embed, lookups, joins, values."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from nl2sql.catalog import GoldenQuery, Instruction, InstructionKind, PromptColumn, PromptSchema, PromptTable

from nl2sql.retrieval.embedder import split_identifier
from nl2sql.retrieval.joins import JoinGraph
from nl2sql.retrieval.keywords import KeywordIndex, keyword_terms
from nl2sql.retrieval.values import ValueIndex

KINDS = ("table", "column", "instruction", "golden")
# column names listed in a table's text; beyond this the description carries the meaning
TABLE_TEXT_COLUMNS = 40
# shorter words are inside too many identifiers by chance
NAME_WORD_MIN = 4


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


def squash(name: str) -> str:
    """An identifier lower-cased with separators removed: `xy_Cust_Id` -> `xycustid`."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


class NameIndex:
    """Identifiers (tables, `table.column`s) found by words they contain: `client` finds `xyclient`.

    Full-text search needs word boundaries; run-together or prefixed names (`sbCustomer` stored
    lower-case) have none, so question words are also looked up as substrings, through trigrams.
    """

    def __init__(self, names: dict[tuple[str, str], str]) -> None:
        self._keys = list(names)
        self._names = [squash(n) for n in names.values()]
        self._grams: dict[str, list[int]] = defaultdict(list)
        for i, name in enumerate(self._names):
            for gram in {name[j:j + 3] for j in range(len(name) - 2)}:
                self._grams[gram].append(i)

    def match(self, words: list[str]) -> dict[tuple[str, str], float]:
        """(kind, key) -> share of the identifier the best contained question word covers."""
        found: dict[tuple[str, str], float] = {}
        for word in words:
            if len(word) < NAME_WORD_MIN:
                continue
            postings = sorted((self._grams.get(word[j:j + 3], []) for j in range(len(word) - 2)), key=len)
            if not postings or not postings[0]:
                continue
            candidates = set(postings[0])
            for posting in postings[1:]:
                if len(candidates) <= 8:
                    break
                candidates.intersection_update(posting)
            for i in candidates:
                if word in self._names[i]:
                    score = len(word) / len(self._names[i])
                    key = self._keys[i]
                    if score > found.get(key, 0.0):
                        found[key] = score
        return found


ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,9}\b")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def glossary_terms(instructions: list[Instruction], tables: dict[str, PromptTable]) -> dict[str, set[str]]:
    """Acronyms defined in instructions (`ASP = ... from sales`) -> the tables named on the same line.

    Metric definitions usually live in instructions; a question using the acronym needs those tables.
    """
    by_name: dict[str, str] = {}
    for qualified, table in tables.items():
        by_name[table.name.lower()] = qualified
        by_name[qualified.lower()] = qualified
    terms: dict[str, set[str]] = defaultdict(set)
    for instruction in instructions:
        for line in re.split(r"[\n;]+", instruction.text):
            words = [w.lower() for w in IDENTIFIER.findall(line)]
            # `rentals` and `rentals.rental_date` both name the table
            named = {by_name[w] for w in words + [w.rpartition(".")[0] for w in words if "." in w] if w in by_name}
            if not named:
                continue
            for acronym in set(ACRONYM.findall(line)):
                terms[acronym] |= named
    return dict(terms)


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
        self.names = NameIndex({("table", t.qualified_name): t.name for t in schema.tables})
        # column names are searched only within candidate tables (50,000 of them would cost too much per question)
        self._column_names = {
            t.qualified_name: [(column_key(t.qualified_name, c.name), squash(c.name)) for c in t.columns]
            for t in schema.tables
        }
        self.terms = glossary_terms(instructions, self.tables)
        self._items: list[Item] | None = None
        self.counts = {
            "table": len(self.tables), "column": len(self.columns), "golden": len(self.golden),
            "instruction": sum(1 for i in instructions if i.kind == InstructionKind.TOPICAL),
        }
        self._keywords: KeywordIndex | None = None

    def column_names_containing(self, words: list[str], tables: set[str]) -> dict[tuple[str, str], float]:
        """("column", key) -> share of the column name covered by a question word it contains, in `tables`."""
        words = [w for w in words if len(w) >= NAME_WORD_MIN]
        found: dict[tuple[str, str], float] = {}
        for table in tables:
            for key, name in self._column_names.get(table, ()):
                for word in words:
                    if word in name:
                        score = len(word) / len(name)
                        if score > found.get(("column", key), 0.0):
                            found[("column", key)] = score
        return found

    @property
    def keywords(self) -> KeywordIndex:
        """The tables' and columns' full-text entries (the index's `tsv`), searchable in memory."""
        if self._keywords is None:
            self._keywords = KeywordIndex(
                (i.kind, i.key, keyword_terms(i.text)) for i in self.items if i.kind in ("table", "column"))
        return self._keywords

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
