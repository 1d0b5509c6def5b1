"""A connection's readiness: what in its catalog keeps the engine from answering well, each item with the page
that fixes it. Computed from the catalog, the semantic model the reader uses, and the golden queries run
read-only."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import anyio
import sqlglot
from sqlglot import exp

from nl2sql.answers import SqlGenerationService, guard_policy
from nl2sql.auth import User
from nl2sql.catalog import CatalogService, PromptSchema
from nl2sql.semantics import SemanticModel
from nl2sql.sqlguard import QueryFailed, QueryTimeout, SqlRefused, run, validate

__all__ = ["Readiness", "ReadinessItem", "readiness"]

MAX_DETAILS = 25
# identifiers an instruction may name: table.column, or a snake_case name
_DOTTED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@dataclass(frozen=True)
class ReadinessItem:
    key: str
    title: str
    ok: bool
    summary: str
    link: str
    details: tuple[str, ...] = ()
    more: int = 0  # details left out

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "ok": self.ok, "summary": self.summary, "link": self.link,
                "details": list(self.details), "more": self.more}


@dataclass(frozen=True)
class Readiness:
    connection: str
    items: tuple[ReadinessItem, ...] = field(default=())

    @property
    def ready(self) -> int:
        return sum(1 for i in self.items if i.ok)

    def to_json(self) -> dict[str, Any]:
        return {"connection": self.connection, "ready": self.ready, "total": len(self.items),
                "items": [i.to_json() for i in self.items]}


def _item(key: str, title: str, ok: bool, summary: str, link: str, details: list[str]) -> ReadinessItem:
    return ReadinessItem(key, title, ok, summary, link, tuple(details[:MAX_DETAILS]),
                         max(0, len(details) - MAX_DETAILS))


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.0%})" if whole else "none"


def _descriptions(schema: PromptSchema, name: str) -> list[ReadinessItem]:
    tables = schema.tables
    columns = [(t, c) for t in tables for c in t.columns]
    bare_tables = [t.qualified_name for t in tables if not (t.description or t.business_name)]
    bare_columns = [f"{t.qualified_name}.{c.name}" for t, c in columns
                    if not (c.description or c.business_name) and not c.primary_key]
    link = f"/catalog?connection={name}"
    plain = [c for _, c in columns if not c.primary_key]
    return [
        _item("table_descriptions", "Tables with a description", not bare_tables,
              f"{_share(len(tables) - len(bare_tables), len(tables))} tables are described", link, bare_tables),
        _item("column_descriptions", "Columns with a description", len(bare_columns) <= len(plain) // 5,
              f"{_share(len(plain) - len(bare_columns), len(plain))} columns are described (keys aside)", link, bare_columns),
    ]


def _semantics(model: SemanticModel, name: str) -> ReadinessItem:
    """Columns the reader can't place, entities without a display column, and pairs of columns it can't tell
    apart (the same words, nothing in their metadata to separate them)."""
    found: list[str] = []
    for entity in model.entities.values():
        # the semantics page's rule: a row is shown by its label, or its label's parts (first and last name);
        # only a table that falls back to its key, though it has text, lacks a display column
        if not entity.bridge and not (entity.label or entity.label_parts) and any(
                a.kind == "text" for a in entity.attributes):
            found.append(f"{entity.table}: no display column (which column names a row?)")
        same: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for a in entity.attributes:
            if a.kind == "other":
                found.append(f"{entity.table}.{a.name}: type {a.type} is not understood (set its role)")
            if a.role in ("key", "reference") or a.phrases or a.described:
                continue
            same[tuple(sorted(set(a.core_words)))].append(a.name)
        for words, names in same.items():
            if len(names) > 1 and words:
                found.append(f"{entity.table}: {', '.join(names)} answer to the same words "
                             f"({' '.join(words)}); describe them or give one a business name")
    return _item("semantics", "Columns the reader can place", not found,
                 "every column has a role and can be told apart" if not found else f"{len(found)} to look at",
                 f"/connections/{name}/semantics", found)


def _instructions(schema: PromptSchema, texts: list[tuple[int, str]], name: str) -> ReadinessItem:
    tables = {t.name.lower(): {c.name.lower() for c in t.columns} for t in schema.tables}
    columns = {c for cols in tables.values() for c in cols}
    found = []
    for number, raw in texts:
        text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", raw)  # quoted values are not names
        unknown: list[str] = []
        for table, column in _DOTTED.findall(text):
            t, c = table.lower(), column.lower()
            if t in tables and c not in tables[t]:
                unknown.append(f"{table}.{column}")
            elif t not in tables and (t in columns or "_" in t):
                unknown.append(f"{table}.{column}")
        for word in _SNAKE.findall(text):
            if word not in tables and word not in columns and not any(word in u for u in unknown):
                unknown.append(word)
        if unknown:
            found.append(f"instruction {number}: names {', '.join(dict.fromkeys(unknown))}, not in the catalog")
    return _item("instructions", "Instructions name what exists", not found,
                 f"{len(texts)} instructions; " + ("all names they use exist" if not found
                                                   else f"{len(found)} name unknown tables or columns"),
                 f"/connections/{name}/instructions", found)


_DEFINED = re.compile(r"^\s*(?:the\s+)?(?P<term>[A-Za-z][A-Za-z ]{1,40}?)\s+(?:of\s+an?\s+\w+\s+)?"
                      r"(?:means|is defined as|is computed as|is calculated as|=|is)\s", re.I)


def _business_words(model: SemanticModel, schema: PromptSchema, questions: list[str], instructions: list[str],
                    name: str) -> ReadinessItem:
    """Terms an instruction defines in words ("Revenue means ...") that golden questions use but no metric or
    segment of the layer defines, and definitions of the layer the reader can't use."""
    defined = {w.lower().rstrip("s") for m in schema.metrics for w in (m.name, *m.synonyms)}
    found = [f"not used: {problem}" for problem in model.layer_problems]
    for text in instructions:
        match = _DEFINED.match(text)
        if match is None:
            continue
        term = match.group("term").strip().lower()
        if len(term.split()) > 4 or term.rstrip("s") in defined:
            continue
        asked = [q for q in questions if re.search(rf"\b{re.escape(term)}\b", q, re.I)]
        if asked:
            found.append(f"the word '{term}' appears in {len(asked)} golden question(s) but no metric defines it")
    return _item("business_words", "Business words are metrics", not found,
                 f"{len(model.metrics)} metrics and {len(model.segments)} segments"
                 + ("" if not found else f"; {len(found)} to look at"), f"/connections/{name}/semantics#layer", found)


def _tables_of(sql: str, dialect: str) -> set[str]:
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except Exception:  # an unparsable golden query is reported by the execution check
        return set()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    return {t.name.lower() for t in tree.find_all(exp.Table) if t.name.lower() not in ctes}


async def readiness(user: User, connection_name: str, catalog: CatalogService, answers: SqlGenerationService) -> Readiness:
    connection = await catalog.visible_connection(user, connection_name)
    name = connection.name
    schema = await catalog.schema_for_prompt(connection.id)
    if not schema.tables:
        item = _item("tables", "Included tables", False, "no included tables: sync the connection",
                     f"/connections/{name}", [])
        return Readiness(name, (item,))
    model = (await anyio.to_thread.run_sync(answers.reader, schema)).model
    golden = await catalog.golden_queries(connection.id)
    instructions = await catalog.instructions(connection.id)
    items = _descriptions(schema, name)
    items.append(_semantics(model, name))

    policy = guard_policy(schema, 10, answers.settings.extra_function_set)
    engine = await catalog.engine(connection.id, "check")
    broken: list[str] = []

    def check(sql: str) -> str | None:
        try:
            run(validate(sql, policy), engine, timeout_s=answers.settings.check_timeout * 3, max_rows=10)
        except (SqlRefused, QueryFailed, QueryTimeout) as error:
            return error.detail
        return None

    for g in golden:
        error = await anyio.to_thread.run_sync(check, g.sql)
        if error:
            broken.append(f"#{g.id} {g.question}: {error}")
    link = f"/connections/{name}/golden-queries"
    items.append(_item("golden_run", "Golden queries still run", not broken,
                       f"{len(golden) - len(broken)} of {len(golden)} run" if golden else "no golden queries yet",
                       link, broken))
    items.append(_instructions(schema, [(i.id, i.text) for i in instructions], name))
    items.append(_business_words(model, schema, [g.question for g in golden], [i.text for i in instructions], name))
    covered: set[str] = set()
    for g in golden:
        covered |= _tables_of(g.sql, schema.dialect)
    uncovered = [t.qualified_name for t in sorted(schema.tables, key=lambda t: -(t.row_count or 0))
                 if t.name.lower() not in covered and not model.entity(t.qualified_name).bridge]
    entity_tables = [t for t in schema.tables if not model.entity(t.qualified_name).bridge]
    share = (len(entity_tables) - len(uncovered)) / len(entity_tables) if entity_tables else 1.0
    items.append(_item("golden_coverage", "Golden queries cover the tables", share >= 0.5,
                       f"{_share(len(entity_tables) - len(uncovered), len(entity_tables))} tables appear in a golden "
                       "query (bridge tables aside); the largest without one first", link, uncovered))
    policies, _ = await catalog.access_policies(connection.id)
    if policies:  # the item is there once the connection has row policies
        items.append(_policies(policies, name))
    return Readiness(name, tuple(items))


def _policies(policies: list, name: str) -> ReadinessItem:
    """Tables whose row policies no user they name has run a statement under yet (an admin tries one by asking
    as a test user the policy names: a filter that was never run may be wrong, or deny everything)."""
    untried = [f"{p.table} for {p.subject}: {p.condition}" for p in policies if p.exercised_at is None]
    tables = {p.table for p in policies}
    untried_tables = {p.table for p in policies if p.exercised_at is None}
    return _item("row_policies", "Row policies were tried", not untried,
                 f"{len(tables) - len(untried_tables)} of {len(tables)} tables with a row policy have had every "
                 "policy run by a (non-admin) user it names", f"/admin/access?connection={name}", untried)
