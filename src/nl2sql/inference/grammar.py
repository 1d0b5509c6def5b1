"""GBNF grammars: one read-only SQL statement over an allowed schema, or JSON matching a schema.

The SQL grammar is scoped: a statement is `SELECT ... FROM <scope> ...` where a scope is one allowed
table or a few tables connected by a declared join (foreign key or join hint), written with the real
key pairs in `JOIN ... ON`. Every column reference (select list, WHERE, GROUP BY, HAVING, ORDER BY,
aggregates) names a column of a table in that scope: qualified by the table's name, or bare when only
one table of the scope has it. So what the grammar accepts resolves on the database: no column of a
table missing from FROM, no SELECT without FROM, no ambiguous bare column, no aggregate in WHERE.
Tokens are separated by single spaces and every list is bounded, so a small model cannot pad or
repeat its way to the token limit.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from nl2sql.inference.protocol import Grammar

__all__ = ["DIALECTS", "json_grammar", "sql_grammar", "table_aliases"]

DIALECTS = ("postgres", "mysql", "sqlite", "duckdb")
_DIALECT_ALIASES = {"postgresql": "postgres", "mariadb": "mysql", "sqlite3": "sqlite"}

# Names that must be quoted as identifiers and can never be an alias.
_RESERVED = frozenset(
    """
    all and any array as asc between both by case cast check collate column constraint create cross current_date
    current_time current_timestamp current_user default delete desc distinct do drop else end except exists
    extract false fetch for foreign from full group having if ilike in inner insert intersect interval into is
    join key lateral leading left like limit natural not null offset on only or order outer over primary range
    references right rows select set some table then to trailing true union unique update user using values
    when where window with
    """.split()
)

# Functions per dialect with their argument counts, beyond aggregates and the special forms (CAST, EXTRACT).
# Only what the database really has: a wrong name or argument count is a runtime error the grammar can prevent.
_COMMON_FUNCTIONS = {"COALESCE": (2, 3), "NULLIF": (2, 2), "ROUND": (1, 2), "ABS": (1, 1), "LOWER": (1, 1),
                     "UPPER": (1, 1), "LENGTH": (1, 1), "TRIM": (1, 1), "REPLACE": (3, 3)}
_FUNCTIONS: dict[str, dict[str, tuple[int, int]]] = {
    "postgres": _COMMON_FUNCTIONS | {"DATE_TRUNC": (2, 2), "DATE_PART": (2, 2), "TO_CHAR": (2, 2), "CONCAT": (2, 3),
                                     "SUBSTRING": (2, 3), "CEIL": (1, 1), "FLOOR": (1, 1), "GREATEST": (2, 3),
                                     "LEAST": (2, 3)},
    "duckdb": _COMMON_FUNCTIONS | {"DATE_TRUNC": (2, 2), "DATE_PART": (2, 2), "STRFTIME": (2, 2), "CONCAT": (2, 3),
                                   "SUBSTRING": (2, 3), "CEIL": (1, 1), "FLOOR": (1, 1), "GREATEST": (2, 3),
                                   "LEAST": (2, 3), "YEAR": (1, 1), "MONTH": (1, 1)},
    "mysql": _COMMON_FUNCTIONS | {"IFNULL": (2, 2), "CONCAT": (2, 3), "SUBSTRING": (2, 3), "DATE_FORMAT": (2, 2),
                                  "DATE": (1, 1), "YEAR": (1, 1), "MONTH": (1, 1), "DAY": (1, 1), "DATEDIFF": (2, 2),
                                  "CEIL": (1, 1), "FLOOR": (1, 1), "GREATEST": (2, 3), "LEAST": (2, 3)},
    "sqlite": _COMMON_FUNCTIONS | {"IFNULL": (2, 2), "SUBSTR": (2, 3), "STRFTIME": (2, 3), "DATE": (1, 2),
                                   "DATETIME": (1, 2), "JULIANDAY": (1, 1)},
}
_NOW = {"postgres": ("CURRENT_DATE", "CURRENT_TIMESTAMP", "NOW()"), "duckdb": ("CURRENT_DATE", "CURRENT_TIMESTAMP", "NOW()"),
        "mysql": ("CURRENT_DATE", "CURRENT_TIMESTAMP", "NOW()", "CURDATE()"), "sqlite": ("CURRENT_DATE", "CURRENT_TIMESTAMP")}
_TYPES = {
    "postgres": ("INTEGER", "BIGINT", "NUMERIC", "REAL", "TEXT", "DATE", "TIMESTAMP"),
    "duckdb": ("INTEGER", "BIGINT", "NUMERIC", "DOUBLE", "TEXT", "DATE", "TIMESTAMP"),
    "mysql": ("SIGNED", "UNSIGNED", "DECIMAL", "CHAR", "DATE", "DATETIME"),
    "sqlite": ("INTEGER", "REAL", "TEXT", "NUMERIC"),
}
_DATE_FIELDS = ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "DOW")

# Bounds that keep a small model from repeating itself up to the token limit.
_MAX_SELECT_ITEMS = 8
_MAX_CONDITIONS = 6
_MAX_GROUP_ITEMS = 4
_MAX_ORDER_ITEMS = 3
_MAX_IN_ITEMS = 10
_MAX_ARITHMETIC = 4
_MAX_STRING = 60
# Scopes: every table alone, every declared join pair, and chains of three tables while there are few.
_MAX_JOIN_SCOPES = 24

Join = tuple[str, str, tuple[tuple[str, str], ...]]


def sql_grammar(
    tables: Mapping[str, Iterable[str]],
    dialect: str = "postgres",
    joins: Iterable[tuple[str, str, Iterable[tuple[str, str]]]] = (),
) -> Grammar:
    """A grammar for one SELECT over `tables` (name -> column names) and their `joins`, in `dialect`; cached.

    A join is `(left_table, right_table, ((left_column, right_column), ...))`: a foreign key or a join
    hint. Tables are only combined along joins; joins naming a table or column not in `tables` are ignored.
    """
    dialect = _DIALECT_ALIASES.get(dialect.lower(), dialect.lower())
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL grammar for dialect {dialect!r} (have {', '.join(DIALECTS)})")
    normalized = tuple(sorted((str(t), tuple(sorted(set(map(str, cols))))) for t, cols in tables.items()))
    if not normalized:
        raise ValueError("a SQL grammar needs at least one table")
    for table, columns in normalized:
        if not table or not columns:
            raise ValueError(f"table {table!r} needs a name and at least one column")
    known = dict(normalized)
    edges: set[Join] = set()
    for left, right, pairs in joins:
        pairs = tuple((str(a), str(b)) for a, b in pairs)
        if left == right or left not in known or right not in known or not pairs:
            continue
        if any(a not in known[left] or b not in known[right] for a, b in pairs):
            continue
        # one direction per join: the same key declared from both sides (FK and hint) is one edge
        if (left, right) > (right, left):
            left, right, pairs = right, left, tuple((b, a) for a, b in pairs)
        edges.add((left, right, tuple(sorted(pairs))))
    return _compiled_sql_grammar(normalized, dialect, tuple(sorted(edges)))


def json_grammar(schema: Mapping[str, Any]) -> Grammar:
    """A grammar for JSON matching `schema` (JSON Schema); cached."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return _compiled_json_grammar(text)


def table_aliases(tables: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Short, unique aliases for each table (initials, numbered variants); the scoped SQL grammar qualifies by table name instead."""
    names = sorted(set(tables))
    taken = set(_RESERVED) | {n.lower() for n in names}
    out: dict[str, tuple[str, ...]] = {}
    for index, name in enumerate(names):
        words = [w for w in re.split(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])", name.split(".")[-1]) if w]
        initials = "".join(w[0] for w in words).lower() or "t"
        if not initials[0].isalpha():
            initials = "t" + initials
        first = words[0].lower() if words else initials
        base = initials
        # Tables sharing initials (customers, categories): lengthen with letters of the first word.
        for extra in range(1, len(first)):
            if base not in taken:
                break
            base = initials[0] + first[1 : extra + 1] + initials[1:]
        if base in taken:
            base = f"{initials}{index}"
        candidates = [base, f"{base}1", f"{base}2", f"{base}3"]
        for word in (first, first[:4]):
            if 3 <= len(word) <= 8 and word not in taken and word != base:
                candidates.append(word)
                break
        chosen = tuple(dict.fromkeys(c for c in candidates if c not in taken))
        taken.update(chosen)
        out[name] = chosen
    return out


@lru_cache(maxsize=128)
def _compiled_json_grammar(schema_text: str) -> Grammar:
    # llama-cpp-python ships the reference JSON-schema-to-GBNF converter; it is pure Python.
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(schema_text)
    return Grammar(gbnf=gbnf, kind="json", key=_key("json", schema_text))


@lru_cache(maxsize=128)
def _compiled_sql_grammar(tables: tuple[tuple[str, tuple[str, ...]], ...], dialect: str, joins: tuple[Join, ...]) -> Grammar:
    gbnf = _SqlGrammarWriter(tables, dialect, joins).write()
    return Grammar(gbnf=gbnf, kind="sql", key=_key("sql", json.dumps([dialect, tables, joins])))


def _key(kind: str, text: str) -> str:
    return kind + ":" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _literal(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _alternatives(texts: Iterable[str]) -> str:
    return " | ".join(_literal(t) for t in dict.fromkeys(texts))


def _cased(name: str) -> list[str]:
    return [name, name.lower()] if name.lower() != name else [name]


def _scopes(names: list[str], joins: tuple[Join, ...]) -> list[tuple[int, ...]]:
    """Sets of table indexes a statement may read: each table, each joined pair, then joined chains of three."""
    index = {n: i for i, n in enumerate(names)}
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(names))}
    for left, right, _ in joins:
        neighbours[index[left]].add(index[right])
        neighbours[index[right]].add(index[left])
    pairs = sorted({tuple(sorted((index[l], index[r]))) for l, r, _ in joins})
    triples: set[tuple[int, ...]] = set()
    for middle, around in neighbours.items():
        ordered = sorted(around)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                triples.add(tuple(sorted((a, middle, b))))
    joined = [*pairs, *sorted(triples)][:_MAX_JOIN_SCOPES]
    return [(i,) for i in range(len(names))] + joined


class _SqlGrammarWriter:
    """Writes the GBNF text: upper-case keywords, single spaces, bounded lists, rules per scope."""

    def __init__(self, tables: tuple[tuple[str, tuple[str, ...]], ...], dialect: str, joins: tuple[Join, ...]) -> None:
        self.tables = tables
        self.dialect = dialect
        self.joins = joins
        self.quote = "`" if dialect == "mysql" else '"'
        self.rules: dict[str, str] = {}

    def identifier(self, name: str) -> list[str]:
        """How a name may be written: bare when it is a plain identifier, always quoted."""
        quoted = self.quote + name.replace(self.quote, self.quote * 2) + self.quote
        plain = r"[a-z_][a-z0-9_]*" if self.dialect == "postgres" else r"[A-Za-z_][A-Za-z0-9_]*"
        if re.fullmatch(plain, name) and name.lower() not in _RESERVED:
            return [name, quoted]
        return [quoted]

    def dotted(self, name: str) -> list[str]:
        """Spellings of a possibly schema-qualified table name."""
        spellings = [""]
        for part in name.split("."):
            spellings = [f"{s}.{p}" if s else p for s in spellings for p in self.identifier(part)]
        return spellings

    def write(self) -> str:
        r = self.rules
        names = [t for t, _ in self.tables]
        columns = dict(self.tables)
        scopes = _scopes(names, self.joins)
        r["root"] = '"SELECT " ("DISTINCT ")? (' + " | ".join(f"s{k}" for k in range(len(scopes))) + ') ";"?'
        self.shared()
        for i, (table, cols) in enumerate(self.tables):
            r[f"t{i}-name"] = _alternatives(self.dotted(table))
            r[f"t{i}-column"] = _alternatives(c for col in cols for c in self.identifier(col))
            r[f"t{i}-qualified"] = f't{i}-name "." t{i}-column'
        for k, scope in enumerate(scopes):
            owners: dict[str, list[int]] = {}
            for i in scope:
                for col in columns[names[i]]:
                    owners.setdefault(col, []).append(i)
            bare = [c for col, where in sorted(owners.items()) if len(where) == 1 for c in self.identifier(col)]
            refs = [f"t{i}-qualified" for i in scope] + ([_alternatives(bare)] if bare else [])
            r[f"s{k}-column"] = " | ".join(refs)
            r[f"s{k}-from"] = " | ".join(self.from_clauses(scope, names))
            self.expressions(f"s{k}")
            items = f'(s{k}-item (", " s{k}-item){{0,{_MAX_SELECT_ITEMS - 1}}} | "*")'
            group = f's{k}-value (", " s{k}-value){{0,{_MAX_GROUP_ITEMS - 1}}}'
            order = f's{k}-order-item (", " s{k}-order-item){{0,{_MAX_ORDER_ITEMS - 1}}}'
            r[f"s{k}"] = (
                f'{items} " FROM " s{k}-from (" WHERE " s{k}-where)? '
                f'(" GROUP BY " {group} (" HAVING " s{k}-having)?)? (" ORDER BY " {order})? limit?'
            )
            r[f"s{k}-item"] = f's{k}-avalue (" AS " column-alias)?'
            nulls = ' (" NULLS " ("FIRST" | "LAST"))?' if self.dialect != "mysql" else ""
            r[f"s{k}-order-item"] = f's{k}-avalue (" ASC" | " DESC")?{nulls}'
        # A subquery reads one table on its own: `IN (SELECT ...)`, `> (SELECT AVG(...) ...)`.
        r["subquery"] = '"SELECT " (' + " | ".join(
            f's{k}-avalue " FROM " t{scope[0]}-name (" WHERE " s{k}-where)?' for k, scope in enumerate(scopes) if len(scope) == 1
        ) + ")"
        return "\n".join(f"{name} ::= {body}" for name, body in r.items()) + "\n"

    def from_clauses(self, scope: tuple[int, ...], names: list[str]) -> list[str]:
        """`FROM` bodies for a scope: any table first, the others joined on their real key pairs."""
        if len(scope) == 1:
            return [f"t{scope[0]}-name"]
        index = {n: i for i, n in enumerate(names)}
        links: dict[tuple[int, int], list[tuple[tuple[str, str], ...]]] = {}
        for left, right, pairs in self.joins:
            a, b = index[left], index[right]
            links.setdefault((a, b), []).append(pairs)
            links.setdefault((b, a), []).append(tuple((y, x) for x, y in pairs))
        bodies = []
        for root in scope:
            seen, order, text = {root}, [root], [_literal(self.dotted(names[root])[0])]
            while len(seen) < len(scope):
                for child in scope:
                    parent = next((p for p in order if (child, p) in links), None)
                    if child in seen or parent is None:
                        continue
                    conditions = []
                    for pairs in links[(child, parent)]:
                        on = " AND ".join(
                            f"{self.dotted(names[child])[0]}.{self.identifier(a)[0]} = "
                            f"{self.dotted(names[parent])[0]}.{self.identifier(b)[0]}"
                            for a, b in pairs
                        )
                        conditions.append(_literal(f" ON {on}"))
                    text.append(f'(" JOIN " | " LEFT JOIN ") {_literal(self.dotted(names[child])[0])} ({" | ".join(conditions)})')
                    seen.add(child)
                    order.append(child)
                    break
                else:
                    break
            bodies.append("(" + " ".join(text) + ")")
        return bodies

    def shared(self) -> None:
        """Rules every scope uses: literals, operators, function names."""
        d, r = self.dialect, self.rules
        r["column-alias"] = "[a-z_] [a-z0-9_]{0,24}"
        r["number"] = '[0-9]{1,12} ("." [0-9]{1,6})?'
        r["string"] = f"\"'\" ([^'\\\\\\n] | \"''\"){{0,{_MAX_STRING}}} \"'\""
        literals = ["number", "string", '"NULL"', '"TRUE"', '"FALSE"', _alternatives(_NOW[d])]
        if d != "sqlite":
            literals.append('("DATE " | "TIMESTAMP ") string')
            literals.append('"INTERVAL " number " " date-field' if d == "mysql" else '"INTERVAL " string')
        r["literal"] = " | ".join(literals)
        r["literal-list"] = f'literal (", " literal){{0,{_MAX_IN_ITEMS - 1}}}'
        r["compare-op"] = '" = " | " <> " | " != " | " <= " | " >= " | " < " | " > "'
        r["arithmetic-op"] = '" + " | " - " | " * " | " / "' + (' | " || "' if d != "mysql" else "")
        r["like-op"] = '" LIKE " | " ILIKE "' if d in ("postgres", "duckdb") else '" LIKE "'
        r["aggregate-name"] = _alternatives(n for fn in ("SUM", "AVG", "MIN", "MAX", "COUNT") for n in _cased(fn))
        r["count-name"] = _alternatives(_cased("COUNT"))
        r["date-field"] = _alternatives(_DATE_FIELDS)
        r["type-name"] = _alternatives(_TYPES[d])
        r["limit"] = '" LIMIT " [1-9] [0-9]{0,3}'
        by_arity: dict[tuple[int, int], list[str]] = {}
        for name, arity in _FUNCTIONS[d].items():
            by_arity.setdefault(arity, []).extend(_cased(name))
        self.arities = sorted(by_arity)
        for low, high in self.arities:
            r[f"function-{low}-{high}"] = _alternatives(by_arity[(low, high)])

    def expressions(self, s: str) -> None:
        """Values, conditions and their aggregate forms over one scope's columns."""
        d, r = self.dialect, self.rules

        def calls(value: str) -> list[str]:
            out = []
            for low, high in self.arities:
                more = f' (", " {value}){{{low - 1},{high - 1}}}' if high > 1 else ""
                out.append(f'function-{low}-{high} "(" {value}{more} ")"')
            out.append(f'"CAST(" {value} " AS " type-name ")"')
            if d != "sqlite":
                out.append(f'"EXTRACT(" date-field " FROM " {value} ")"')
            return out

        # Plain values (WHERE, GROUP BY, aggregate arguments) never contain an aggregate.
        r[f"{s}-term"] = " | ".join(
            [f"{s}-column", "literal", *calls(f"{s}-value"), f'"(" {s}-value ")"', '"(" subquery ")"', f"{s}-case"]
        )
        r[f"{s}-value"] = f'"-"? {s}-term (arithmetic-op {s}-term){{0,{_MAX_ARITHMETIC - 1}}}'
        r[f"{s}-case"] = f'"CASE" (" WHEN " {s}-where " THEN " {s}-value){{1,3}} (" ELSE " {s}-value)? " END"'
        # Values that may aggregate (select list, HAVING, ORDER BY); aggregates never nest.
        r[f"{s}-aggregate"] = (
            f'count-name "(*)" | count-name "(DISTINCT " {s}-value ")" | aggregate-name "(" {s}-value ")"'
        )
        r[f"{s}-aterm"] = " | ".join(
            [f"{s}-aggregate", f"{s}-column", "literal", *calls(f"{s}-avalue"), f'"(" {s}-avalue ")"', f"{s}-case"]
        )
        r[f"{s}-avalue"] = f'"-"? {s}-aterm (arithmetic-op {s}-aterm){{0,{_MAX_ARITHMETIC - 1}}}'
        for kind, value in (("where", f"{s}-value"), ("having", f"{s}-avalue")):
            predicate = (
                f'{value} (compare-op {value} | " IS NULL" | " IS NOT NULL" | " NOT"? (" BETWEEN " {value} " AND " {value} '
                f'| like-op string | " IN (" (literal-list | subquery) ")"))'
            )
            r[f"{s}-{kind}-predicate"] = predicate
            r[f"{s}-{kind}-condition"] = f'"NOT "? ({s}-{kind}-predicate | "(" {s}-{kind} ")")'
            r[f"{s}-{kind}"] = (
                f'{s}-{kind}-condition ((" AND " | " OR ") {s}-{kind}-condition){{0,{_MAX_CONDITIONS - 1}}}'
            )
