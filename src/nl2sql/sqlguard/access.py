"""A user's row policies and column masks, applied by rewriting a checked statement's tree.

Every reference to a policed table that reads the stored table (in a join, a subquery, a CTE's body, a branch
of a set operation, a lateral join, under any alias or column-alias list) becomes a derived table of the same
name: `(SELECT ... FROM t WHERE <filter>) AS alias`. A CTE's own name is not a stored table and is left alone;
the table inside the CTE's body is rewritten. Attribute values enter the tree as literal nodes, never as text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql.sqlguard.errors import SqlRefused

__all__ = ["MASK_MODES", "Access", "ColumnMask", "RowFilter", "condition_tree", "normalized", "real_tables", "restrict"]

# how a masked column's values are shown: every value as ***, its last four characters, a SHA-256 hash
MASK_MODES = ("redacted", "last4", "hash")
_PLACEHOLDER = re.compile(r"\{\s*user\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_MARK = "nl2sql_attribute_"
_DENY = "1 = 0"  # a condition that holds for no row, in every dialect (FALSE is not SQL Server's)


@dataclass(frozen=True)
class RowFilter:
    """Rows of `table` (`table` or `schema.table`) a user may read: those where `condition` holds.

    `condition` is SQL with `{user.<attribute>}` placeholders, filled from the user's attributes as literals."""

    table: str
    condition: str
    label: str = ""


@dataclass(frozen=True)
class ColumnMask:
    """A column (`table.column` or `schema.table.column`) whose values are shown masked (one of MASK_MODES)."""

    column: str
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in MASK_MODES:
            raise ValueError(f"mask mode must be one of {', '.join(MASK_MODES)}")
        if "." not in self.column:
            raise ValueError(f"masked column `{self.column}` must be written table.column")


@dataclass(frozen=True)
class Access:
    """One user's row filters and masks on one connection, with the attributes the filters are written with and
    the columns of each masked table (in the database's order: a masked table is read column by column)."""

    filters: tuple[RowFilter, ...] = ()
    masks: tuple[ColumnMask, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    fingerprint: str = ""  # what makes two users' access the same, for caches keyed on it

    @property
    def restricts(self) -> bool:
        return bool(self.filters or self.masks)


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def condition_tree(condition: str, attributes: Mapping[str, Any], dialect: str) -> exp.Expression:
    """The filter's condition as a tree with the user's attribute values as literals; a condition that holds for
    no row when an attribute it names is missing (deny by default). SqlRefused when it is not one condition."""
    names: list[str] = []

    def mark(match: re.Match) -> str:
        names.append(match.group(1))
        return f"{_MARK}{len(names) - 1}"

    text = _PLACEHOLDER.sub(mark, condition or "")
    if not text.strip() or "{" in text:
        raise SqlRefused("a row policy's condition must be SQL, with attributes written {user.name}")
    try:
        select = sqlglot.parse_one(f"SELECT 1 WHERE {text}", read=dialect)
    except SqlglotError as error:
        raise SqlRefused(f"the row policy's condition could not be parsed: {str(error).splitlines()[0]}") from None
    where = select.args.get("where") if isinstance(select, exp.Select) else None
    if where is None or select.args.get("from") or len(select.expressions) != 1:
        raise SqlRefused("a row policy's condition must be one condition, as after WHERE")
    # detached from the SELECT it was parsed in: its own columns are those with no SELECT above them
    tree = exp.Paren(this=where.this.pop())
    marks = {f"{_MARK}{i}": name for i, name in enumerate(names)}
    placed = [c for c in tree.find_all(exp.Column) if c.name in marks and not c.table]
    if len(placed) != len(names):
        raise SqlRefused("write {user.name} outside quotes: its value is put in as a literal")
    for column in placed:
        value = attributes.get(marks[column.name])
        if value is None or value == [] or isinstance(value, dict):
            return exp.Paren(this=sqlglot.parse_one(_DENY))
        if isinstance(value, list):
            if not (isinstance(column.parent, exp.In) and column.arg_key == "expressions"):
                raise SqlRefused(f"the list attribute `{marks[column.name]}` can only be used as IN ({{user.name}})")
            column.parent.set("expressions", [_literal(v) for v in value])
        else:
            column.replace(_literal(value))
    return tree


def real_tables(tree: exp.Expression, scopes: list[Scope]) -> list[exp.Table]:
    """Every table node that names a stored table or view: not a CTE reference, not a table function."""
    cte_references: set[int] = set()
    for scope in scopes:
        for table in scope.tables:
            if not table.args.get("db") and not table.args.get("catalog") and table.name in scope.cte_sources:
                cte_references.add(id(table))
    # Tables sqlglot's scopes don't cover count as real, so the allow list still applies to them.
    return [
        table
        for table in tree.find_all(exp.Table)
        if id(table) not in cte_references and not isinstance(table.this, exp.Func)
    ]


def normalized(dialect: str, part: str) -> str:
    return Dialect.get_or_raise(dialect).normalize_identifier(exp.to_identifier(part, quoted=True)).name


def _key(dialect: str, entry: str, default_schema: str | None) -> tuple[str | None, str | None, str]:
    parts = [normalized(dialect, part) for part in entry.split(".")]
    if len(parts) == 1:
        return (None, normalized(dialect, default_schema) if default_schema else None, parts[0])
    if len(parts) == 2:
        return (None, parts[0], parts[1])
    return (parts[-3], parts[-2], parts[-1])


def sha256_hex(value: object) -> str | None:
    """SHA-256 of a value's text, in hex: the hash mask on SQLite, which has no hash function of its own (the guard
    registers it on each SQLite connection it runs a statement on, as SQLITE_HASH)."""
    return None if value is None else hashlib.sha256(str(value).encode()).hexdigest()


SQLITE_HASH = "nl2sql_sha256"


def _hash(text: exp.Expression, dialect: str) -> exp.Expression:
    if dialect == "sqlite":
        return exp.Anonymous(this=SQLITE_HASH, expressions=[text])
    if dialect in ("postgres", "redshift"):
        # PostgreSQL's sha256 takes bytes, not text
        tree = sqlglot.parse_one("ENCODE(SHA256(CONVERT_TO(x, 'UTF8')), 'hex')", read="postgres")
        tree.find(exp.Column).replace(text)
        return tree
    return exp.SHA2(this=text, length=exp.Literal.number(256))


def _mask(column: exp.Expression, mode: str, dialect: str) -> exp.Expression:
    text = exp.cast(column.copy(), exp.DataType.build("text"))
    if mode == "redacted":
        shown: exp.Expression = exp.Literal.string("***")
    elif mode == "last4":
        tail = (exp.Substring(this=text, start=exp.Literal.number(-4)) if dialect == "sqlite"
                else exp.Right(this=text, expression=exp.Literal.number(4)))
        shown = exp.DPipe(this=exp.Literal.string("***"), expression=tail, safe=True)
    else:
        shown = _hash(text, dialect)
    return exp.Case(ifs=[exp.If(this=exp.Is(this=column.copy(), expression=exp.Null()), true=exp.Null())],
                    default=shown)


class _Plan:
    """The access rules by table key, for one statement's rewrite."""

    def __init__(self, access: Access, dialect: str, default_schema: str | None) -> None:
        self.access, self.dialect = access, dialect
        self.filters: dict[tuple, list[RowFilter]] = {}
        self.masks: dict[tuple, dict[str, str]] = {}
        self.columns: dict[tuple, tuple[str, ...]] = {}
        self.names: dict[tuple, str] = {}  # a masked table as the admin named it
        for row_filter in access.filters:
            self.filters.setdefault(_key(dialect, row_filter.table, default_schema), []).append(row_filter)
        for mask in access.masks:
            table, column = mask.column.rsplit(".", 1)
            self.names[_key(dialect, table, default_schema)] = table
            self.masks.setdefault(_key(dialect, table, default_schema), {})[normalized(dialect, column)] = mask.mode
        for table, names in access.columns.items():
            self.columns[_key(dialect, table, default_schema)] = tuple(names)
        self.default_schema = normalized(dialect, default_schema) if default_schema else None
        self.notes: dict[str, None] = {}

    def key_of(self, table: exp.Table) -> tuple:
        return (table.catalog or None, table.db or self.default_schema, table.name)

    def derived(self, node: exp.Table, key: tuple) -> exp.Select:
        """`SELECT <columns, masked ones masked> FROM <the stored table> WHERE <the filters, any one>`."""
        source = exp.Table(this=node.this.copy(), db=_copied(node.args.get("db")),
                           catalog=_copied(node.args.get("catalog")))
        name = node.this.copy()
        masks = self.masks.get(key, {})
        if masks:
            names = self.columns.get(key)
            if not names:
                raise SqlRefused(f"table `{node.name}` has masked columns but its columns are not in the catalog; "
                                 "an admin syncs the connection again")
            projection = []
            for column in names:
                ident = exp.to_identifier(column, quoted=True)
                ref = exp.Column(this=ident.copy(), table=name.copy())
                mode = masks.get(normalized(self.dialect, column))
                projection.append(exp.alias_(_mask(ref, mode, self.dialect), ident.copy()) if mode else ref)
                if mode:
                    self.notes[f"column {self.names.get(key, node.name)}.{column} is masked ({mode})"] = None
        else:
            projection = [exp.Star()]
        select = exp.Select(expressions=projection).from_(source)
        filters = self.filters.get(key, [])
        if filters:
            conditions = [self._qualified(condition_tree(f.condition, self.access.attributes, self.dialect), name)
                          for f in filters]
            select = select.where(exp.or_(*conditions) if len(conditions) > 1 else conditions[0])
            for row_filter, condition in zip(filters, conditions):
                shown = condition.sql(dialect=self.dialect)
                self.notes[f"row policy on {row_filter.table}: {row_filter.label or shown}"] = None
        return select

    @staticmethod
    def _qualified(condition: exp.Expression, name: exp.Identifier) -> exp.Expression:
        # a column the condition names is the policed table's, never an outer query's of the same name
        for column in condition.find_all(exp.Column):
            # columns of a subquery in the condition belong to that subquery's tables
            if not column.table and not isinstance(column.this, exp.Star) and column.find_ancestor(exp.Select) is None:
                column.set("table", name.copy())
        return condition


def _copied(node: exp.Expression | None) -> exp.Expression | None:
    return node.copy() if node is not None else None


def restrict(tree: exp.Expression, access: Access, dialect: str,
             default_schema: str | None) -> tuple[exp.Expression, tuple[str, ...]]:
    """`tree` (changed in place) with every reference to a policed stored table read through its filters and
    masks, and notes saying which applied (none: nothing changed)."""
    if not access.restricts:
        return tree, ()
    plan = _Plan(access, dialect, default_schema)
    analysed = normalize_identifiers(tree.copy(), dialect=dialect)
    try:
        scopes = traverse_scope(analysed)
    except (SqlglotError, RecursionError) as error:
        raise SqlRefused(f"the query's structure could not be analysed: {str(error).splitlines()[0]}") from None
    # The normalized copy has the original's shape: the n-th node of one walk is the n-th of the other.
    position = {id(node): index for index, node in enumerate(analysed.walk())}
    original = list(tree.walk())
    targets = []
    for table in real_tables(analysed, scopes):
        key = plan.key_of(table)
        if key in plan.filters or key in plan.masks:
            node = original[position[id(table)]]
            if not isinstance(node, exp.Table):
                raise SqlRefused("the query's structure could not be analysed for the row policies")
            targets.append((node, key))
    for node, key in targets:
        inner = plan.derived(node, key)
        enclosing = node.find_ancestor(exp.Subquery)
        if enclosing is not None and enclosing.this.sql(dialect=dialect) == inner.sql(dialect=dialect):
            continue  # already read through this very filter (a re-run of a rewritten statement)
        alias = node.args.get("alias")
        alias = alias.copy() if alias is not None else exp.TableAlias(this=node.this.copy())
        node.replace(exp.Subquery(this=inner, alias=alias, pivots=node.args.get("pivots")))
    return tree, tuple(plan.notes)
