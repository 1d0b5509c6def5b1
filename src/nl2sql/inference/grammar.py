"""GBNF grammars: one read-only SQL statement over an allowed schema, or JSON matching a schema.

The SQL grammar is sound for base tables: every table name is one of the allowed tables and every
column name is one of their columns. A column qualified by a table name or one of that table's
aliases must belong to that table. Aliases come from a fixed set generated per table (its initials,
numbered variants) because a context-free grammar cannot tie an alias defined in FROM to its uses;
CTE and derived-table names come from a fixed set too (`cte`, `sub`, ...) and only expose the
allowed column names. Column aliases (`AS total`) may be defined freely but are never accepted
where a column is read, so no unknown name can reach a column position.
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

_CTE_NAMES = ("cte", "cte1", "cte2", "cte3", "sub", "sub1", "sub2", "sub3", "t", "t1", "t2", "x")

# Functions per dialect, beyond the aggregates and the special forms (CAST, EXTRACT, CASE).
_COMMON_FUNCTIONS = ("COALESCE", "NULLIF", "ROUND", "ABS", "LOWER", "UPPER", "LENGTH", "TRIM", "REPLACE", "CEIL", "FLOOR")
_FUNCTIONS = {
    "postgres": _COMMON_FUNCTIONS
    + ("DATE_TRUNC", "DATE_PART", "TO_CHAR", "CONCAT", "SUBSTRING", "AGE", "NOW", "GREATEST", "LEAST", "STRING_AGG"),
    "duckdb": _COMMON_FUNCTIONS
    + ("DATE_TRUNC", "DATE_PART", "STRFTIME", "CONCAT", "SUBSTRING", "NOW", "GREATEST", "LEAST", "STRING_AGG", "YEAR", "MONTH"),
    "mysql": _COMMON_FUNCTIONS
    + ("IFNULL", "CONCAT", "SUBSTRING", "DATE_FORMAT", "DATE", "YEAR", "MONTH", "DAY", "DATEDIFF", "NOW", "CURDATE",
       "GREATEST", "LEAST", "GROUP_CONCAT"),
    "sqlite": _COMMON_FUNCTIONS + ("IFNULL", "SUBSTR", "STRFTIME", "DATE", "DATETIME", "JULIANDAY", "GROUP_CONCAT"),
}
_TYPES = {
    "postgres": ("INTEGER", "BIGINT", "NUMERIC", "DECIMAL", "REAL", "DOUBLE PRECISION", "TEXT", "VARCHAR", "DATE",
                 "TIMESTAMP", "BOOLEAN"),
    "duckdb": ("INTEGER", "BIGINT", "NUMERIC", "DECIMAL", "REAL", "DOUBLE", "TEXT", "VARCHAR", "DATE", "TIMESTAMP",
               "BOOLEAN"),
    "mysql": ("SIGNED", "UNSIGNED", "DECIMAL", "CHAR", "DATE", "DATETIME", "DOUBLE"),
    "sqlite": ("INTEGER", "REAL", "TEXT", "NUMERIC"),
}
_DATE_FIELDS = ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "DOW")


def sql_grammar(tables: Mapping[str, Iterable[str]], dialect: str = "postgres") -> Grammar:
    """A grammar for one SELECT/WITH statement over `tables` (name -> column names) in `dialect`; cached."""
    dialect = _DIALECT_ALIASES.get(dialect.lower(), dialect.lower())
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL grammar for dialect {dialect!r} (have {', '.join(DIALECTS)})")
    normalized = tuple(sorted((str(t), tuple(sorted(set(map(str, cols))))) for t, cols in tables.items()))
    if not normalized:
        raise ValueError("a SQL grammar needs at least one table")
    for table, columns in normalized:
        if not table or not columns:
            raise ValueError(f"table {table!r} needs a name and at least one column")
    return _compiled_sql_grammar(normalized, dialect)


def json_grammar(schema: Mapping[str, Any]) -> Grammar:
    """A grammar for JSON matching `schema` (JSON Schema); cached."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return _compiled_json_grammar(text)


def table_aliases(tables: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The aliases the SQL grammar accepts for each table (so prompts can show them)."""
    names = sorted(set(tables))
    taken = set(_RESERVED) | set(_CTE_NAMES) | {n.lower() for n in names}
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
        # The table's first word is what people (and models) often write: `FROM customers cust`.
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
def _compiled_sql_grammar(tables: tuple[tuple[str, tuple[str, ...]], ...], dialect: str) -> Grammar:
    gbnf = _SqlGrammarWriter(tables, dialect).write()
    return Grammar(gbnf=gbnf, kind="sql", key=_key("sql", json.dumps([dialect, tables])))


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


class _SqlGrammarWriter:
    """Writes the GBNF text; keywords are upper case and separated by one space or newline (keeps the parse cheap)."""

    def __init__(self, tables: tuple[tuple[str, tuple[str, ...]], ...], dialect: str) -> None:
        self.tables = tables
        self.dialect = dialect
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
        d = self.dialect
        r = self.rules
        aliases = table_aliases(t for t, _ in self.tables)
        all_columns = sorted({c for _, cols in self.tables for c in cols})
        r["root"] = 'query (osp ";")?'
        r["sp"] = '" " | "\\n" | "\\n  " | "\\n    "'
        r["osp"] = "sp?"
        r["query"] = '("WITH" sp cte (osp "," osp cte)* sp)? compound'
        r["cte"] = 'derived-name sp "AS" osp "(" osp query osp ")"'
        table_words = {part.lower() for t, _ in self.tables for part in t.split(".")}
        r["derived-name"] = _alternatives(n for n in _CTE_NAMES if n not in table_words)
        r["compound"] = "select-core (sp set-op sp select-core)* (sp order-by)? (sp limit)?"
        r["set-op"] = '"UNION ALL" | "UNION" | "INTERSECT" | "EXCEPT"'
        r["select-core"] = (
            '"SELECT" sp ("DISTINCT" sp)? select-item (osp "," osp select-item)* sp from-clause '
            '(sp "WHERE" sp expr)? (sp "GROUP BY" sp expr-list)? (sp "HAVING" sp expr)?'
        )
        r["select-item"] = '"*" | star-qualified | expr (sp "AS" sp column-alias)?'
        quoted_alias = _literal(self.quote) + " [a-zA-Z0-9_ ]+ " + _literal(self.quote)
        r["column-alias"] = "[a-z_] [a-zA-Z0-9_]* | " + quoted_alias
        r["from-clause"] = '"FROM" sp table-ref join*'
        joins = ['"JOIN"', '"INNER JOIN"', '"LEFT JOIN"', '"LEFT OUTER JOIN"']
        if d in ("postgres", "duckdb", "sqlite"):
            joins += ['"RIGHT JOIN"', '"FULL JOIN"', '"FULL OUTER JOIN"']
        elif d == "mysql":
            joins += ['"RIGHT JOIN"']
        r["join-kind"] = " | ".join(joins)
        r["join"] = (
            'osp "," osp table-ref | sp "CROSS JOIN" sp table-ref '
            '| sp join-kind sp table-ref sp ("ON" sp expr | "USING" osp "(" osp any-column (osp "," osp any-column)* osp ")")'
        )
        names = {t for t, _ in self.tables}
        table_refs = []
        qualified = []
        stars = []
        for i, (table, columns) in enumerate(self.tables):
            r[f"t{i}-name"] = _alternatives(self.dotted(table))
            r[f"t{i}-alias"] = _alternatives(aliases[table])
            qualifiers = self.dotted(table)
            last = table.split(".")[-1]
            # `orders.id` for `sales.orders` only when no other table could be meant by `orders`.
            if "." in table and sum(t.split(".")[-1] == last for t, _ in self.tables) == 1 and last not in names:
                qualifiers += self.identifier(last)
            r[f"t{i}-qualifier"] = _alternatives(qualifiers) + f" | t{i}-alias"
            r[f"t{i}-column"] = _alternatives(c for col in columns for c in self.identifier(col))
            table_refs.append(f't{i}-name ((sp "AS")? sp t{i}-alias)?')
            qualified.append(f't{i}-qualifier "." t{i}-column')
            stars.append(f't{i}-qualifier ".*"')
        table_refs.append('derived-name ((sp "AS")? sp derived-name)?')
        table_refs.append('"(" osp query osp ")" (sp "AS")? sp derived-name')
        r["table-ref"] = " | ".join(table_refs)
        r["any-column"] = _alternatives(c for col in all_columns for c in self.identifier(col))
        qualified.append('derived-name "." any-column')
        stars.append('derived-name ".*"')
        r["qualified-column"] = " | ".join(qualified)
        r["star-qualified"] = " | ".join(stars)
        r["column-ref"] = "qualified-column | any-column"

        r["expr-list"] = 'expr (osp "," osp expr)*'
        r["expr"] = 'and-expr (sp "OR" sp and-expr)*'
        r["and-expr"] = 'not-expr (sp "AND" sp not-expr)*'
        r["not-expr"] = '"NOT" sp not-expr | "EXISTS" osp "(" osp query osp ")" | predicate'
        like = '"LIKE" | "ILIKE"' if d in ("postgres", "duckdb") else '"LIKE"'
        r["like-op"] = like
        r["predicate"] = "sum predicate-tail?"
        r["predicate-tail"] = (
            'osp compare-op osp sum | sp "IS" sp ("NOT" sp)? "NULL" '
            '| sp ("NOT" sp)? ("IN" osp "(" osp (query | expr-list) osp ")" '
            '| "BETWEEN" sp sum sp "AND" sp sum | like-op sp sum)'
        )
        r["compare-op"] = '"=" | "<>" | "!=" | "<=" | ">=" | "<" | ">"'
        concat = ' | "||"' if d != "mysql" else ""
        r["sum"] = f'term (osp ("+" | "-"{concat}) osp term)*'
        r["term"] = 'unary (osp ("*" | "/" | "%") osp unary)*'
        r["unary"] = '"-"? primary'
        r["primary"] = (
            'literal | function-call | case-expr | column-ref | "(" osp (query | expr) osp ")"'
        )
        r["case-expr"] = '"CASE" (sp expr)? (sp "WHEN" sp expr sp "THEN" sp expr)+ (sp "ELSE" sp expr)? sp "END"'

        literals = ['number', 'string', '"NULL"', '"TRUE"', '"FALSE"', '"CURRENT_DATE"', '"CURRENT_TIMESTAMP"']
        r["number"] = '[0-9]+ ("." [0-9]+)?'
        r["string"] = "\"'\" ([^'\\\\\\n] | \"''\")* \"'\""
        if d != "sqlite":
            literals.append('("DATE" | "TIMESTAMP") sp string')
            if d == "mysql":
                literals.append('"INTERVAL" sp number sp date-field')
            else:
                literals.append('"INTERVAL" sp string')
        r["literal"] = " | ".join(literals)

        aggregates = [n for fn in ("COUNT", "SUM", "AVG", "MIN", "MAX") for n in _cased(fn)]
        functions = [n for fn in _FUNCTIONS[d] for n in _cased(fn)]
        r["aggregate-name"] = _alternatives(aggregates)
        r["function-name"] = _alternatives(functions)
        r["date-field"] = _alternatives(_DATE_FIELDS)
        r["type-name"] = _alternatives(_TYPES[d]) + ' | ("NUMERIC" | "DECIMAL") "(" [0-9]+ ("," osp [0-9]+)? ")"'
        calls = [
            'aggregate-name "(" osp ("*" | ("DISTINCT" sp)? expr) osp ")"',
            'function-name "(" osp expr-list? osp ")"',
            '"CAST" osp "(" osp expr sp "AS" sp type-name osp ")"',
        ]
        if d != "sqlite":
            calls.append('"EXTRACT" osp "(" osp date-field sp "FROM" sp expr osp ")"')
        r["function-call"] = " | ".join(calls)

        r["order-by"] = '"ORDER BY" sp order-item (osp "," osp order-item)*'
        nulls = ' (sp "NULLS" sp ("FIRST" | "LAST"))?' if d != "mysql" else ""
        r["order-item"] = f'expr (sp ("ASC" | "DESC"))?{nulls}'
        r["limit"] = '"LIMIT" sp [0-9]+ (sp "OFFSET" sp [0-9]+)?'
        return "\n".join(f"{name} ::= {body}" for name, body in r.items()) + "\n"
