"""The semantic model of a connection: entities, their measures, dimensions and time, and the join graph.

Derived from the catalog alone (names, types, keys, descriptions, business names, synonyms, sampled values,
join hints) plus the admin's corrections; nothing here knows any particular database.

One file because the model's types and `build_semantic_model`, which derives them from a catalog, change together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, cached_property
from typing import Literal

from nl2sql.catalog import AGGREGATES as CATALOG_AGGREGATES, COLUMN_ROLES, PromptSchema, PromptTable
from nl2sql.semantics.layer import MetricDef, SegmentDef, build_layer
from nl2sql.semantics.lexicon import (
    STOP_WORDS,
    Segmenter,
    common_prefix,
    everyday_word,
    expand_name_parts,
    identifier_words,
    normalize,
    stem,
)
from nl2sql.semantics.plan import Col
from nl2sql.semantics.synonyms import value_synonyms

__all__ = ["Attribute", "Entity", "JoinEdge", "SemanticModel", "build_semantic_model"]

Kind = Literal["number", "integer", "text", "boolean", "date", "timestamp", "time", "other"]
Role = Literal["key", "reference", "measure", "dimension", "time", "label", "flag", "text"]
ROLES: tuple[str, ...] = COLUMN_ROLES
AGGREGATES: tuple[str, ...] = CATALOG_AGGREGATES

_AVERAGED = {stem(w) for w in (
    "price rate rating score percent percentage ratio age gpa average mean speed temperature latitude longitude "
    "density grade rank ranking stars margin elevation altitude").split()}
_FLAG_VALUES = {frozenset(v) for v in (
    ("yes", "no"), ("y", "n"), ("true", "false"), ("t", "f"), ("0", "1"))}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_YEAR = re.compile(r"(^|_)(year|yr|yyyy)s?($|_)|year$", re.I)
_MONTH = re.compile(r"(^|_)(month|mon|mm)(_?(num|number|no))?$", re.I)
_AUDIT = {stem(w) for w in ("created", "updated", "modified", "inserted", "loaded", "etl", "timestamp", "deleted")}


@dataclass(frozen=True)
class Attribute:
    """One column as the reader sees it: what it is (role), how it is summed up, and the words it answers to."""

    table: str
    name: str
    type: str
    kind: Kind
    role: Role
    aggregate: str  # the default aggregate of a measure
    grain: str | None  # time columns: date, timestamp, time, year, month, month_name, weekday
    words: tuple[str, ...]  # stems of the name (abbreviations expanded, shared prefixes dropped)
    phrases: tuple[tuple[str, ...], ...]  # stems of the business name and synonyms
    description: frozenset[str]
    values: tuple[str, ...] | None
    nullable: bool
    primary_key: bool
    sensitive: bool
    table_words: tuple[str, ...] = ()
    described: str = ""

    @property
    def ref(self) -> tuple[str, str]:
        return (self.table, self.name)

    @property
    def described_words(self) -> tuple[str, ...]:
        """Stems of the description's words, in order (no stop words)."""
        return tuple(stem(w) for w in normalize(self.described).split() if w not in STOP_WORDS)

    @property
    def core_words(self) -> tuple[str, ...]:
        """The name's words without the table's own (`lake_depth` in `lake`: depth)."""
        core = tuple(w for w in self.words if w not in self.table_words)
        return core or self.words

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("number", "integer")

    @property
    def stored_as_text(self) -> bool:
        """A number column whose type is text (its sampled values are all numbers): compared and summed cast."""
        return self.is_numeric and _kind(self.type) == "text"

    @property
    def is_temporal(self) -> bool:
        return self.role == "time"


@dataclass(frozen=True)
class Entity:
    """A table as a thing questions talk about: its words, key, display column and main time column."""

    table: str
    name: str
    schema: str | None
    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    description: frozenset[str]
    key: tuple[str, ...]
    label: str | None
    label_parts: tuple[str, ...]
    time: str | None
    attributes: tuple[Attribute, ...]
    bridge: bool
    row_count: int | None
    described: str = ""

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise KeyError(f"{self.table}.{name}")

    @cached_property
    def by_name(self) -> dict[str, Attribute]:
        return {a.name: a for a in self.attributes}

    @property
    def display(self) -> tuple[str, ...]:
        """Columns that name a row for a person: the label (or its parts), else the key."""
        if self.label:
            return (self.label,)
        if self.label_parts:
            return self.label_parts
        return self.key


@dataclass(frozen=True)
class JoinEdge:
    left: str
    right: str
    pairs: tuple[tuple[str, str], ...]
    source: str  # fk or hint

    def reversed(self) -> JoinEdge:
        return JoinEdge(self.right, self.left, tuple((b, a) for a, b in self.pairs), self.source)


@dataclass(frozen=True)
class ValueEntry:
    table: str
    column: str
    value: str


@dataclass(frozen=True)
class SemanticModel:
    """Everything the reader and the compiler know about one connection at one catalog version."""

    connection_id: int
    version: datetime | None
    dialect: str
    entities: Mapping[str, Entity]
    joins: tuple[JoinEdge, ...]
    values: Mapping[str, tuple[ValueEntry, ...]] = field(default_factory=dict)
    # the admin's semantic layer (semantics/layer.py); definitions the plan can't express are in layer_problems
    metrics: tuple[MetricDef, ...] = ()
    segments: tuple[SegmentDef, ...] = ()
    layer_problems: tuple[str, ...] = ()

    def entity(self, table: str) -> Entity:
        found = self.entities.get(table)
        if found is None:
            for entity in self.entities.values():
                if entity.name == table:
                    return entity
            raise KeyError(table)
        return found

    def attribute(self, table: str, column: str) -> Attribute:
        return self.entity(table).attribute(column)

    @cached_property
    def _adjacency(self) -> dict[str, list[JoinEdge]]:
        graph: dict[str, list[JoinEdge]] = {t: [] for t in self.entities}
        for edge in self.joins:
            graph.setdefault(edge.left, []).append(edge)
            graph.setdefault(edge.right, []).append(edge.reversed())
        for edges in graph.values():
            edges.sort(key=lambda e: ({"fk": 0, "hint": 1}.get(e.source, 2), -self._edge_rank(e), e.right))
        return graph

    def _edge_rank(self, edge: JoinEdge) -> float:
        """How natural a join is: onto the other table's key, from a column named after that table."""
        rank = 0.0
        right = self.entities.get(edge.right)
        left = self.entities.get(edge.left)
        if right is None or left is None:
            return rank
        for a, b in edge.pairs:
            if b in right.key:
                rank += 2
            if a in left.key:
                rank += 0.5
            words = left.by_name[a].words if a in left.by_name else ()
            if right.words and all(w in words for w in right.words):
                rank += 1
            if a == b:
                rank += 0.5
        return rank

    def neighbours(self, table: str) -> list[JoinEdge]:
        return self._adjacency.get(table, [])

    def path(self, start: str, goal: str, avoid: frozenset[str] = frozenset()) -> list[JoinEdge] | None:
        """The shortest chain of joins from `start` to `goal` (bridge tables included), None when unconnected. Of
        equally short chains, the one with the fewest chasms: up to a shared parent and down to another of its
        children (students and courses of one department are no student's courses; the bridge of who takes
        what is)."""
        if start == goal:
            return []
        seen = {start}
        # (table, whether the last join went up to a parent): (chasms so far, the chain)
        frontier: dict[tuple[str, bool], tuple[int, list[JoinEdge]]] = {(start, False): (0, [])}
        while frontier:
            reached: dict[tuple[str, bool], tuple[int, list[JoinEdge]]] = {}
            for (table, went_up), (chasms, trail) in frontier.items():
                for edge in self.neighbours(table):
                    if edge.right in seen or (edge.right in avoid and edge.right != goal):
                        continue
                    up = self._to_parent(edge)
                    state = (edge.right, up)
                    count = chasms + (went_up and not up)
                    if state not in reached or count < reached[state][0]:
                        reached[state] = (count, trail + [edge])
            arrived = [found for (table, _), found in reached.items() if table == goal]
            if arrived:
                return min(arrived, key=lambda found: found[0])[1]
            seen.update(table for table, _ in reached)
            frontier = reached
        return None

    def _to_parent(self, edge: JoinEdge) -> bool:
        """A join onto the other table's whole key: many rows here, one there."""
        right = self.entities.get(edge.right)
        return right is not None and bool(right.key) and set(right.key) <= {b for _, b in edge.pairs}

    def distance(self, start: str, goal: str) -> int | None:
        found = self.path(start, goal)
        return None if found is None else len(found)

    def references(self, table: str, column: str) -> list[JoinEdge]:
        """Joins whose `table` side is this column (it points at another table's key)."""
        return [e for e in self.neighbours(table) if any(a == column for a, _ in e.pairs)]


# -- building -------------------------------------------------------------------------------------------------


def _kind(type_name: str) -> Kind:
    t = type_name.lower()
    if "bool" in t or t in ("bit", "tinyint(1)"):
        return "boolean"
    if "timestamp" in t or "datetime" in t:
        return "timestamp"
    if t.startswith("date"):
        return "date"
    if t.startswith("time") or t == "interval":
        return "time"
    if any(x in t for x in ("int", "serial")):
        return "integer"
    if any(x in t for x in ("numeric", "decimal", "float", "double", "real", "number", "money")):
        return "number"
    if any(x in t for x in ("char", "text", "string", "clob", "enum", "uuid", "json")):
        return "text"
    return "other"


def _shared_prefix(word_lists: list[list[str]]) -> int:
    """How many leading words every list shares (and that none consists of alone)."""
    if len(word_lists) < 2:
        return 0
    n = 0
    while all(len(w) > n + 1 for w in word_lists) and len({w[n] for w in word_lists}) == 1:
        n += 1
    return n


def _words(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in normalize(text).split() if w not in STOP_WORDS)


def _description_words(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in normalize(text).split() if w not in STOP_WORDS and len(w) > 1)


def build_semantic_model(schema: PromptSchema, corrections: Mapping[str, Mapping[str, str]] | None = None) -> SemanticModel:
    """The semantic model of a connection's included catalog; `corrections` are the admin's overrides.

    `corrections` maps `table` or `table.column` to fields: for columns `role` and `aggregate`; for tables
    `label` (display column) and `time` (main time column).
    """
    corrections = _stored_corrections(schema) | dict(corrections or {})
    vocabulary = _vocabulary(schema)
    segmenter = Segmenter(vocabulary)
    table_names, drop_tables = _table_words(schema, segmenter)
    referencing: set[tuple[str, str]] = set()
    referenced: set[tuple[str, str]] = set()
    joins = _declared_joins(schema)
    _mark_join_columns(joins, referencing, referenced)

    entities: dict[str, Entity] = {}
    full_words = _full_words(schema, table_names)
    all_table_stems = {tuple(stem(w) for w in (words[drop_tables:] or words)) for words in table_names}

    def read_tables() -> None:
        """Reads every table as an entity (into `entities`) with the join columns known so far."""
        for table, name_words in zip(schema.tables, table_names):
            entities[table.qualified_name] = _entity(table, name_words[drop_tables:] or name_words, referencing,
                                                     referenced, corrections, segmenter, all_table_stems, full_words)

    read_tables()
    inferred = _inferred_joins(entities, joins)
    if inferred:
        # the columns of joins found by name identify rows too: read the tables again with them
        joins += inferred
        _mark_join_columns(inferred, referencing, referenced)
        read_tables()
    values = _value_index(schema, entities)
    metrics, segments, problems = build_layer(schema.metrics, schema.dialect, _resolver(entities))
    return SemanticModel(
        connection_id=schema.connection_id,
        version=schema.version,
        dialect=schema.dialect,
        entities=entities,
        joins=tuple(joins),
        values={k: tuple(v) for k, v in values.items()},
        metrics=metrics,
        segments=segments,
        layer_problems=problems,
    )


def _stored_corrections(schema: PromptSchema) -> dict[str, dict[str, str]]:
    """The admin's corrections stored in the catalog, by `table` and `table.column`."""
    stored: dict[str, dict[str, str]] = {}
    for t in schema.tables:
        if t.semantics:
            stored[t.qualified_name] = dict(t.semantics)
        for c in t.columns:
            if c.semantics:
                stored[f"{t.qualified_name}.{c.name}"] = dict(c.semantics)
    return stored


def _table_words(schema: PromptSchema, segmenter: Segmenter) -> tuple[list[list[str]], int]:
    """The words of each table's name, and how many leading words all of them share (a prefix to drop)."""
    table_names = _split_names([t.name for t in schema.tables], segmenter) if len(schema.tables) > 2 else [
        _words_of(t.name, segmenter) for t in schema.tables]
    if len(schema.tables) > 2:
        table_names = _family_prefixes([t.name for t in schema.tables], table_names, segmenter)
    drop_tables = _shared_prefix(table_names) if len(schema.tables) > 2 else 0
    return table_names, drop_tables


def _declared_joins(schema: PromptSchema) -> list[JoinEdge]:
    """The joins the catalog declares: its foreign keys, then its join hints (one edge per pair, no repeats)."""
    joins: list[JoinEdge] = []
    by_plain = {t.name: t.qualified_name for t in schema.tables}
    qualified = {t.qualified_name for t in schema.tables}

    def resolve(name: str) -> str | None:
        if name in qualified:
            return name
        return by_plain.get(name.split(".")[-1])

    columns = {t.qualified_name: {c.name.lower(): c.name for c in t.columns} for t in schema.tables}

    def column(table: str, name: str) -> str:
        """The column as the table spells it: a key may be declared in another case (`Cust_ID` for cust_ID),
        which databases that fold case accept."""
        return columns.get(table, {}).get(name.lower(), name)

    for table in schema.tables:
        for fk in table.foreign_keys:
            target = resolve(f"{fk.ref_schema}.{fk.ref_table}" if fk.ref_schema else fk.ref_table)
            if target is None:
                continue
            pairs = tuple((column(table.qualified_name, a), column(target, b)) for a, b in zip(fk.columns, fk.ref_columns))
            joins.append(JoinEdge(table.qualified_name, target, pairs, "fk"))
    for hint in schema.join_hints:
        left, right = resolve(hint.left_table), resolve(hint.right_table)
        if left is None or right is None or left == right:
            continue
        # each pair of a hint is one way to join the two tables (sqleval's hints list alternatives, such as a
        # flight's departure and arrival airline), not the parts of one composite key
        for a, b in hint.pairs:
            pairs = ((a.split(".")[-1], b.split(".")[-1]),)
            if any(e.left == left and e.right == right and e.pairs == pairs for e in joins):
                continue
            if any(e.left == right and e.right == left and tuple((y, x) for x, y in e.pairs) == pairs for e in joins):
                continue
            joins.append(JoinEdge(left, right, pairs, "hint"))
    return joins


def _mark_join_columns(joins: Iterable[JoinEdge], referencing: set[tuple[str, str]],
                       referenced: set[tuple[str, str]]) -> None:
    """Adds each join's columns to `referencing` (its left side) and `referenced` (its right side)."""
    for edge in joins:
        for a, b in edge.pairs:
            referencing.add((edge.left, a))
            referenced.add((edge.right, b))


def _value_index(schema: PromptSchema, entities: Mapping[str, Entity]) -> dict[str, list[ValueEntry]]:
    """Normalized value -> the columns holding it: the sampled values, then the words people use for them."""
    values: dict[str, list[ValueEntry]] = {}
    for entity in entities.values():
        for attribute in entity.attributes:
            for value in attribute.values or ():
                key = normalize(value)
                if key:
                    values.setdefault(key, []).append(ValueEntry(entity.table, attribute.name, value))
    # the words people use for values (California for CA): the admin's, then general knowledge that fits
    for table in schema.tables:
        for column in table.columns:
            for value, words in value_synonyms(column.values, column.value_synonyms).items():
                for word in words:
                    key = normalize(word)
                    entry = ValueEntry(table.qualified_name, column.name, value)
                    if key and entry not in values.get(key, ()):
                        values.setdefault(key, []).append(entry)
    return values


def _resolver(entities: Mapping[str, Entity]):
    """`table.column` as an admin writes it (plain or schema-qualified table, any case) -> the model's column;
    a column without a table must be the only one of that name. KeyError names what is unknown."""
    def resolve(table: str | None, column: str) -> Col:
        candidates = list(entities.values())
        if table:
            wanted = table.lower()
            candidates = [e for e in candidates if e.table.lower() == wanted or e.name.lower() == wanted]
        found = [Col(e.table, a.name) for e in candidates for a in e.attributes if a.name.lower() == column.lower()]
        if len(found) != 1:
            raise KeyError(f"{table}.{column}" if table else column)
        return found[0]

    return resolve


def _inferred_joins(entities: dict[str, Entity], joins: list[JoinEdge]) -> list[JoinEdge]:
    """Joins nobody declared but the names make plain: `genre_book.gid` onto `genre`'s key `gid`,
    `sales.customer_id` onto `customers.id`. Only between tables that no declared join connects already."""
    connected = {frozenset((e.left, e.right)) for e in joins}
    joined = {(e.left, a) for e in joins for a, _ in e.pairs} | {(e.right, b) for e in joins for _, b in e.pairs}
    out: list[JoinEdge] = []
    numeric = ("integer", "number")
    order = {table: i for i, table in enumerate(entities)}
    # the tables a column could point at, found by name rather than by trying every table (large catalogs)
    by_key: dict[str, list[Entity]] = {}
    by_words: dict[tuple[str, ...], list[Entity]] = {}
    by_word: dict[str, list[Entity]] = {}
    by_key_words: dict[tuple[str, ...], list[Entity]] = {}
    for b in entities.values():
        if len(b.key) != 1:
            continue
        by_key.setdefault(b.key[0], []).append(b)
        if b.words:
            by_words.setdefault(tuple(b.words), []).append(b)
            if len(b.words) > 1:
                by_words.setdefault(tuple(b.words[-1:]), []).append(b)
            else:
                by_word.setdefault(b.words[0], []).append(b)
        by_key_words.setdefault(tuple(b.by_name[b.key[0]].words), []).append(b)
    for a in entities.values():
        for column in a.attributes:
            if column.name in a.key and not a.bridge and len(a.key) == 1:
                continue
            already = (a.table, column.name) in joined
            found: dict[str, Entity] = {}
            if column.name.lower() != "id":
                found.update((b.table, b) for b in by_key.get(column.name, ()))
            found.update((b.table, b) for b in by_key_words.get(tuple(column.words), ()))
            if len(column.words) >= 2:
                if column.words[-1] in _KEY_WORDS:
                    found.update((b.table, b) for b in by_words.get(tuple(column.words[:-1]), ()))
                    # `trip.start_station_id`: a qualifier, then the table's name and its key word
                    found.update((b.table, b) for b in by_words.get(tuple(column.words[-2:-1]), ())
                                 if len(column.words) >= 3)
                found.update((b.table, b) for b in by_word.get(column.words[-1], ()))
            for b in sorted(found.values(), key=lambda e: order[e.table]):
                if b.table == a.table or frozenset((a.table, b.table)) in connected:
                    continue
                target = b.by_name[b.key[0]]
                if already and column.name != target.name:
                    continue  # `shift_worker.shift_id` joins work_shift already, not a table `shift`
                same_kind = (column.kind in numeric) == (target.kind in numeric)
                if not same_kind:
                    continue
                by_name = column.name == target.name and column.name.lower() != "id"
                named = (len(column.words) >= 2 and column.words[-1] in _KEY_WORDS
                         and (tuple(column.words[:-1]) in ({b.words, b.words[-1:]} if b.words else set())
                              or len(column.words) >= 3 and tuple(column.words[-2:-1]) == tuple(b.words))
                         and column.words != target.words or (column.words == target.words and column.name != target.name))
                # `ticket.ticket_carrier`, `trip.to_station`: named after a one-word table, holding its key's kind
                by_table = (len(b.words) == 1 and len(column.words) >= 2 and column.words[-1] == b.words[0]
                            and column.role not in ("key", "measure", "time") and target.kind == column.kind)
                if by_name or named or by_table:
                    out.append(JoinEdge(a.table, b.table, ((column.name, target.name),), "name"))
                    connected.add(frozenset((a.table, b.table)))
    return out


def _vocabulary(schema: PromptSchema) -> set[str]:
    """Words the schema spells out somewhere (names with separators, descriptions): cheap for the segmenter."""
    words: set[str] = set()
    for table in schema.tables:
        for name in [table.name] + [c.name for c in table.columns]:
            parts = identifier_words(name)
            if len(parts) > 1:
                words.update(parts)
        for text in [table.description, table.business_name] + [c.description for c in table.columns] + [
                c.business_name for c in table.columns]:
            words.update(w for w in normalize(text or "").split() if w.isalpha())
    return words


def _full_words(schema: PromptSchema, table_names: list[list[str]]) -> dict[str, int]:
    """Everyday words of four letters or more that the schema's names spell out, counted: what its made-up
    short forms ("stu", "crs") stand for."""
    counts: dict[str, int] = {}
    names = [words for words in table_names] + [identifier_words(c.name) for t in schema.tables for c in t.columns]
    for words in names:
        for word in words:
            if len(word) >= 4 and word.isalpha() and everyday_word(word):
                counts[word] = counts.get(word, 0) + 1
    return counts


def _words_of(name: str, segmenter: Segmenter) -> list[str]:
    out: list[str] = []
    for chunk in identifier_words(name):
        if len(chunk) >= 7:
            out += segmenter.split(chunk)
        elif len(chunk) >= 5 and chunk[0].isalpha() and chunk[1:].lower() in _SHORT_HEADS:
            out += [chunk[0], chunk[1:]]  # "bname", "dname", "ptype": a one-letter owner and a general word
        else:
            out.append(chunk)
    return out


# general words a short name may carry after a one-letter owner ("bname" for a bank's name)
_SHORT_HEADS = frozenset({"name", "date", "type", "code", "city"})


def _split_names(names: list[str], segmenter: Segmenter) -> list[list[str]]:
    """Words of each name; names written as one lower-case run lose the characters they all start with first."""
    single = all(len([w for w in identifier_words(n) if not w.isdigit()]) == 1 and n.isalnum() and n == n.lower()
                 for n in names)
    prefix = common_prefix(names) if single and len(names) >= 3 else ""
    out = []
    for name in names:
        rest = name[len(prefix):] if prefix else name
        words = _words_of(rest, segmenter)
        if prefix and len(rest) < 7:
            words = segmenter.split(rest) if len(rest) >= 5 else [rest.lower()]
        out.append(words)
    return out


@cache
def _english_segmenter() -> Segmenter:
    return Segmenter()


def _family_prefixes(names: list[str], words: list[list[str]], segmenter: Segmenter) -> list[list[str]]:
    """Run-together names of one family among others ("xyclient", "xyinvoice", "xypayment" in a catalog
    with other tables too): the few letters the segmenter sets apart at the start of three or more of them are
    a prefix, not a word ("customer", not "sb customer")."""
    family: dict[str, list[int]] = {}
    english = _english_segmenter()  # the schema's own words would keep "xyclient" whole when others spell it out
    for i, name in enumerate(names):
        if not (name.isalnum() and name == name.lower() and not name.isdigit()) or len(name) < 6:
            continue
        parts = english.split(name)
        if len(parts) >= 2 and 2 <= len(parts[0]) <= 4 and parts[0].isalpha():
            family.setdefault(parts[0], []).append(i)
    out = list(words)
    for prefix, members in family.items():
        if len(members) < 3:
            continue
        for i in members:
            rest = names[i][len(prefix):]
            if len(rest) < 3:
                continue
            out[i] = _words_of(rest, segmenter) if len(rest) >= 7 else (segmenter.split(rest) if len(rest) >= 5 else [rest])
    return out


def _entity(
    table: PromptTable, name_words: list[str], referencing: set, referenced: set, corrections: Mapping,
    segmenter: Segmenter, all_tables: set[tuple[str, ...]], full_words: dict[str, int] | None = None,
) -> Entity:
    qualified = table.qualified_name
    table_stems = tuple(stem(w) for w in name_words)
    attributes = _column_attributes(table, table_stems, referencing, referenced, corrections, segmenter, full_words)
    fix = corrections.get(qualified, {})
    key = tuple(a.name for a in attributes if a.primary_key)
    if not key:
        key = _guess_key(table.name, table_stems, attributes, {t for t in all_tables if t != table_stems})
    joined = {c for (t, c) in referencing | referenced if t == qualified}
    _mark_key_roles(attributes, key, joined, qualified, corrections)
    label, parts = _label(attributes, table_stems, fix.get("label"))
    if not key and label and (qualified, label) in referenced:
        key = (label,)  # a natural key: other tables join on the name itself
    _mark_labels(attributes, label, parts, qualified, corrections)
    time = fix.get("time") or _main_time(attributes)
    joining = [a for a in attributes if a.role == "reference" or a.ref in referencing or a.ref in referenced]
    others = [a for a in attributes if a not in joining and a.role != "key"]
    # a table that only links others (`writes`: author, publication), not a thing questions are about; a table
    # others point at (`classroom`, keyed by building and room, that sections reference) is a thing itself
    pointing = [a for a in attributes if a.ref in referencing]
    bridge = len(joining) >= 2 and len(pointing) >= 2 and len(others) <= 1 and label is None and not parts
    phrases = tuple(p for p in (_words(table.business_name),) + tuple(_words(s) for s in table.synonyms) if p)
    return Entity(
        table=qualified,
        name=table.name,
        schema=table.schema,
        words=table_stems,
        phrases=phrases,
        description=_description_words(table.description),
        key=key,
        label=label,
        label_parts=parts,
        time=time,
        attributes=tuple(attributes),
        bridge=bridge,
        row_count=table.row_count,
        described=table.description,
    )


def _column_attributes(table: PromptTable, table_stems: tuple[str, ...], referencing: set, referenced: set,
                       corrections: Mapping, segmenter: Segmenter,
                       full_words: dict[str, int] | None) -> list[Attribute]:
    """The table's columns as attributes, named by their words (less a prefix all of them share)."""
    qualified = table.qualified_name
    column_words = _split_names([c.name for c in table.columns], segmenter) if len(table.columns) >= 3 else [
        _words_of(c.name, segmenter) for c in table.columns]
    drop = _shared_prefix(column_words) if len(table.columns) >= 3 else 0
    if full_words:
        column_words = [expand_name_parts(words, full_words) for words in column_words]
    attributes = []
    for column, words in zip(table.columns, column_words):
        kept = words[drop:] or words
        attributes.append(_attribute(qualified, column, kept, table_stems, referencing, referenced,
                                     corrections.get(f"{qualified}.{column.name}", {})))
    return attributes


def _mark_key_roles(attributes: list[Attribute], key: tuple[str, ...], joined: set[str], qualified: str,
                    corrections: Mapping) -> None:
    """Sets (in place) the roles the key and the joins give: key, reference, or dimension for a wordy key part."""
    for i, a in enumerate(attributes):
        if len(key) > 1 and a.name in key and a.kind == "text" and a.values and a.name not in joined \
                and not (a.words and stem(a.words[-1]) in ("id", "key", "code", "no", "num", "number")) \
                and "role" not in corrections.get(f"{qualified}.{a.name}", {}):
            # one part of a composite key that holds words ("month" of a shop's happy hours): a category
            attributes[i] = a = replace(a, role="dimension")
            continue
        # a column that joins tables identifies rows; it is no quantity to add up
        if a.name in key and a.role != "key" and "role" not in corrections.get(f"{qualified}.{a.name}", {}):
            attributes[i] = replace(a, role="key")
        elif a.name in joined and a.role in ("measure", "dimension", "text") and "role" not in corrections.get(
                f"{qualified}.{a.name}", {}):
            attributes[i] = replace(a, role="reference")


def _mark_labels(attributes: list[Attribute], label: str | None, parts: tuple[str, ...], qualified: str,
                 corrections: Mapping) -> None:
    """Sets (in place) the label role of the display column (or its parts), unless the admin chose a role."""
    for i, a in enumerate(attributes):
        if a.name in (label, *parts) and a.role in ("text", "dimension") and "role" not in corrections.get(
                f"{qualified}.{a.name}", {}):
            attributes[i] = replace(a, role="label")


_NAMING_NUMBERS = frozenset(stem(w) for w in "code zip zipcode postcode postal phone fax ssn isbn telephone".split())


def _identifier_like(stems_: tuple[str, ...]) -> bool:
    """A number column whose name says it names something (a code, a zip, a phone), not an amount."""
    return bool(stems_) and stems_[-1] in _NAMING_NUMBERS


def _dated(values, stems_: tuple[str, ...]) -> str | None:
    """A text column that holds dates (SQLite keeps them as text; so do many loaded files): its sampled values
    are ISO dates ('2024-03-15', '2024-03-15 10:30:00'), or, with none sampled, its name says date. The grain."""
    sample = [v for v in values or () if isinstance(v, str) and v.strip()]
    if sample:
        dated = [v for v in sample if _ISO_DATE.match(v.strip())]
        if len(dated) < 0.8 * len(sample):
            return None
        return "timestamp" if any(len(v.strip()) > 10 for v in dated) else "date"
    return "date" if "date" in stems_ else None


# the last word of a number column that holds the year something happened ("Founded", "year_established")
_YEAR_EVENTS = frozenset({"found", "establish", "built", "incorpor"})


def _guessed_role(table, column, words, referencing, kind: Kind, stems_: tuple[str, ...], lower: str,
                  values) -> tuple[Role, str | None]:
    """The column's role from its type, name and values (before the admin's correction), and its time grain."""
    grain: str | None = None
    if kind in ("date", "timestamp", "time"):
        role: Role = "time"
        grain = kind
    elif column.primary_key:
        role = "key"
    elif (table, column.name) in referencing:
        role = "reference"
    elif kind == "boolean" or (values and 1 <= len(values) <= 2 and frozenset(v.lower() for v in values) in _FLAG_VALUES):
        role = "flag"
    elif kind in ("integer", "text") and len(words) >= 2 and words[0].lower() in ("is", "has", "can", "was", "allow",
                                                                                   "allows", "should", "did"):
        role = "flag"  # is_active, has_discount: yes or no
    elif kind == "text" and _dated(values, stems_):
        role, grain = "time", _dated(values, stems_)
    elif kind in ("integer", "number") and stems_ and stems_[-1] in _YEAR_EVENTS:
        role, grain = "time", "year"  # founded, established: the year it happened
    elif kind in ("integer", "number") and _YEAR.search(lower):
        role, grain = "time", "year"
    elif kind in ("integer", "number") and _MONTH.search(lower):
        role, grain = "time", "month"
    elif stems_ and stems_[-1] in ("id", "key", "uuid", "guid") or lower == "id":
        role = "key"
    elif kind in ("integer", "number") and _identifier_like(stems_):
        role = "dimension"  # zip_code, area_code: numbers that name, not amounts
    elif kind in ("integer", "number"):
        role = "measure"
    elif kind == "text" and values:
        role = "dimension"
    elif kind == "text":
        role = "text"
    else:
        role = "dimension"
    return role, grain


# the last word of a text column that numbers things (card_number, apt_no, user_id): digits, but no amount
_NUMBERED_TEXT = frozenset(stem(w) for w in ("id", "key", "uuid", "guid", "number", "no", "num", "nbr", "name",
                                              "title", "label"))
# a plain number as text: no sign but a minus, no leading zero ('007' is a code), no exponent
_NUMBER_TEXT = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")


def _numbers_as_text(column, stems_: tuple[str, ...]) -> Kind | None:
    """A text column whose sampled values are all plain numbers ('344', '12.5': loaded files and older schemas
    keep amounts so): a number column, compared and summed as numbers. Not a key, a reference or a column whose
    name says it names something (a code, a zip, a phone)."""
    sample = [v.strip() for v in column.values or () if isinstance(v, str) and v.strip()]
    if len(sample) < 3 or column.primary_key or _identifier_like(stems_) \
            or stems_ and stems_[-1] in _NUMBERED_TEXT \
            or not all(_NUMBER_TEXT.fullmatch(v) for v in sample):
        return None
    return "number" if any("." in v for v in sample) else "integer"


def _attribute(table, column, words, table_stems, referencing, referenced, fix) -> Attribute:
    kind = _kind(column.type)
    stems_ = tuple(stem(w) for w in words)
    lower = column.name.lower()
    values = column.values
    if kind == "text" and (table, column.name) not in referencing and (table, column.name) not in referenced:
        kind = _numbers_as_text(column, stems_) or kind
    role, grain = _guessed_role(table, column, words, referencing, kind, stems_, lower, values)
    if fix.get("role") in ROLES:
        role = fix["role"]  # type: ignore[assignment]
        if role == "time" and grain is None:
            grain = "year" if kind in ("integer", "number") else "date"
    aggregate = "avg" if set(stems_) & _AVERAGED else "sum"
    if fix.get("aggregate") in AGGREGATES:
        aggregate = fix["aggregate"]
    phrases = tuple(p for p in (_words(column.business_name),) + tuple(_words(s) for s in column.synonyms) if p)
    return Attribute(
        table=table,
        name=column.name,
        type=column.type,
        kind=kind,
        role=role,
        aggregate=aggregate,
        grain=grain,
        words=stems_,
        phrases=phrases,
        description=_description_words(column.description),
        values=values,
        nullable=column.nullable,
        primary_key=column.primary_key,
        sensitive=column.sensitive,
        table_words=table_stems,
        described=column.description,
    )


_LABEL_WORDS = [stem(w) for w in ("name", "title", "label", "full name", "display name", "caption", "headline")]


def _label(attributes: Iterable[Attribute], table_stems: tuple[str, ...], chosen: str | None) -> tuple[str | None, tuple[str, ...]]:
    texts = [a for a in attributes if a.kind == "text" and not a.sensitive]
    if chosen and any(a.name == chosen for a in attributes):
        return chosen, ()
    for a in texts:
        if a.core_words in ((stem("name"),), (stem("title"),)) or a.words in ((stem("name"),), (stem("title"),)):
            return a.name, ()
    for a in texts:
        if a.words and a.words[-1] in (stem("name"), stem("title")) and a.words[0] not in (stem("first"), stem("last"), stem("middle"), stem("user")):
            return a.name, ()
    first = next((a.name for a in texts if a.words[-2:] == (stem("first"), stem("name")) or a.words == (stem("firstname"),)), None)
    last = next((a.name for a in texts if a.words[-2:] == (stem("last"), stem("name")) or a.words == (stem("lastname"),)), None)
    if first and last:
        return None, (first, last)
    for a in texts:
        if a.words and a.words[-1] in (stem("name"), stem("title")):
            return a.name, ()
    return None, ()


_KEY_WORDS = {stem(w) for w in ("id", "key", "code", "uuid", "guid")}


def _guess_key(name: str, table_stems: tuple[str, ...], attributes: list[Attribute],
               other_tables: set[tuple[str, ...]]) -> tuple[str, ...]:
    """Without a declared primary key: `id`, `<table>_id`, `<table>_code`, `<last word of table>_id` (unless
    another table has that name: then it points there), or a short `<first letter>id` such as `gid` in `genre`."""
    lower = name.lower()
    for a in attributes:
        if a.name.lower() == "id":
            return (a.name,)
    for a in attributes:
        words = a.words
        if len(words) >= 2 and words[-1] in _KEY_WORDS and tuple(words[:-1]) == table_stems:
            return (a.name,)
    for a in attributes:
        words = a.words
        if (len(words) >= 2 and words[-1] in _KEY_WORDS and tuple(words[:-1]) == table_stems[-1:]
                and tuple(words[:-1]) not in other_tables):
            return (a.name,)
    short = [a for a in attributes if 2 < len(a.name) <= 4 and a.name.lower().endswith("id") and len(a.words) == 1
             and a.name.lower()[0] == lower[0]]
    if len(short) == 1 and len(table_stems) == 1:
        return (short[0].name,)
    return ()


def _main_time(attributes: Iterable[Attribute]) -> str | None:
    times = [a for a in attributes if a.role == "time" and a.grain in ("date", "timestamp")]
    business = [a for a in times if not set(a.words) & _AUDIT]
    pool = business or times
    if not pool:
        years = [a for a in attributes if a.role == "time" and a.grain == "year"]
        return years[0].name if years else None
    return pool[0].name
