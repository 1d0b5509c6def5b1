"""Turning SQL text into a ValidatedSql: one read-only query over allowed tables, row-capped."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql.sqlguard.access import normalized, real_tables, restrict
from nl2sql.sqlguard.errors import SqlRefused
from nl2sql.sqlguard.forbidden import (
    FORBIDDEN_NODES,
    STATEMENT_WORDS,
    forbidden_function_reason,
    function_names,
    statement_name,
)
from nl2sql.sqlguard.functions import function_allowed, function_name
from nl2sql.sqlguard.policy import GuardPolicy

__all__ = ["ValidatedSql", "validate"]

_PARAMETERS = "parameters cannot be filled in; write literal values"
_MINT = object()  # only this module holds it, so only validate() can build a ValidatedSql
_READ_ONLY = "only read-only queries run"


class ValidatedSql:
    """SQL that passed the guard: the text to run, its dialect, the tables it reads, whether a row cap was added,
    and what the user's row policies and column masks changed (`policies`, in words; empty when nothing)."""

    __slots__ = ("sql", "dialect", "tables", "limit_applied", "row_cap", "policies")

    sql: str
    dialect: str
    tables: tuple[str, ...]
    limit_applied: bool
    row_cap: int
    policies: tuple[str, ...]

    def __init__(
        self, *, sql: str, dialect: str, tables: tuple[str, ...], limit_applied: bool, row_cap: int,
        policies: tuple[str, ...] = (), _mint: object = None,
    ) -> None:
        if _mint is not _MINT:
            raise TypeError("a ValidatedSql comes only from nl2sql.sqlguard.validate()")
        for name, value in (
            ("sql", sql),
            ("dialect", dialect),
            ("tables", tuple(tables)),
            ("limit_applied", bool(limit_applied)),
            ("row_cap", int(row_cap)),
            ("policies", tuple(policies)),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ValidatedSql is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ValidatedSql is immutable")

    def __reduce__(self):
        # Unpickling would build one without validate(); a copy across processes must validate again.
        raise TypeError("a ValidatedSql can't be pickled or copied; validate the SQL again")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValidatedSql):
            return NotImplemented
        return (self.sql, self.dialect, self.tables, self.limit_applied, self.row_cap, self.policies) == (
            other.sql,
            other.dialect,
            other.tables,
            other.limit_applied,
            other.row_cap,
            other.policies,
        )

    def __hash__(self) -> int:
        return hash((self.sql, self.dialect, self.tables, self.limit_applied, self.row_cap))

    def __repr__(self) -> str:
        return f"ValidatedSql(dialect={self.dialect!r}, tables={self.tables!r}, limit_applied={self.limit_applied}, sql={self.sql!r})"


def validate(sql: str, policy: GuardPolicy) -> ValidatedSql:
    """Check that `sql` is one read-only query the policy allows; return it row-capped, or raise SqlRefused."""
    dialect = policy.read_dialect
    if len(sql) > policy.max_sql_chars:
        raise SqlRefused(f"the SQL is {len(sql):,} characters long; the guard checks at most {policy.max_sql_chars:,} "
                         "(a long IN (...) list can usually be a join, a range or a subquery)")
    tree = _single_statement(sql, dialect)
    nodes = sum(1 for _ in tree.walk())
    if nodes > policy.max_nodes:
        raise SqlRefused(f"the SQL has {nodes:,} parts (names, values, operators); the guard checks at most "
                         f"{policy.max_nodes:,}: simplify it (a long IN (...) list can usually be a join or a range)")
    _inspect(tree, policy, dialect)
    capped, limit_applied = _cap_rows(tree, policy.row_cap)
    final = _render(capped, dialect)
    # What runs is the text we generate, not the text we were given (comments gone, one spelling).
    # Check that text again from scratch, and that it is a fixed point of parse + generate, so the
    # database receives exactly what was inspected.
    again = _single_statement(final, dialect)
    tables = _inspect(again, policy, dialect)
    if _render(again, dialect) != final:
        raise SqlRefused("the SQL uses constructs the guard can't check reliably; write it more plainly")
    # The user's row policies and masks go in last, on the checked tree: every stored table it reads is known.
    restricted, notes = restrict(again, policy.access, dialect, policy.default_schema)
    if notes:
        final = _render(restricted, dialect)
        if _render(_single_statement(final, dialect), dialect) != final:
            raise SqlRefused("the SQL uses constructs the row policies can't be applied to reliably; write it more plainly")
    return ValidatedSql(sql=final, dialect=dialect, tables=tables, limit_applied=limit_applied,
                        row_cap=policy.row_cap, policies=notes, _mint=_MINT)


def _render(tree: exp.Expression, dialect: str) -> str:
    return tree.sql(dialect=dialect, comments=False, normalize_functions=False)


# --- one statement -------------------------------------------------------------------------------

_ALLOWED_CONTROL = {"\t", "\n", "\r"}


def _refuse_hidden_characters(text: str) -> None:
    for char in text:
        if char in _ALLOWED_CONTROL or char == " ":
            continue
        category = unicodedata.category(char)
        # Format (zero-width, bidi overrides), control, separators other than a plain space:
        # invisible in a review, and a way to split keywords so one reader sees what another doesn't.
        if category in {"Cf", "Cc", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"}:
            label = unicodedata.name(char, "unnamed character")
            raise SqlRefused(f"the SQL contains an invisible or unusual character (U+{ord(char):04X} {label}); remove it")


_NON_QUERY_WORDS = re.compile(r"^\s*\(*\s*([A-Za-z_]+(?:\s+[A-Za-z_]+)?)")
_FILE_WRITE = re.compile(r"\bINTO\s+(OUTFILE|DUMPFILE)\b", re.IGNORECASE)
_QUERY_STARTS = {"select", "with", "values", "table"}


def _single_statement(sql: str, dialect: str) -> exp.Expression:
    text = (sql or "").strip()
    if not text:
        raise SqlRefused("the SQL is empty")
    _refuse_hidden_characters(text)
    try:
        statements = [statement for statement in sqlglot.parse(text, read=dialect) if statement is not None]
    except SqlglotError as error:
        raise SqlRefused(_parse_failure(text, dialect, error)) from None
    except RecursionError:
        raise SqlRefused("the SQL is nested too deeply to check") from None
    if not statements:
        raise SqlRefused("the SQL contains no statement")
    if len(statements) > 1:
        raise SqlRefused(
            f"only one statement may run, found {len(statements)}: stacked statements separated by `;` are refused"
        )
    return statements[0]


def _parse_failure(text: str, dialect: str, error: SqlglotError) -> str:
    """A refusal message for SQL sqlglot can't parse: the statement kind when it is clearly a write, else where it broke."""
    if _FILE_WRITE.search(_without_strings(text)):
        return f"SELECT ... INTO {_FILE_WRITE.search(_without_strings(text)).group(1).upper()} writes files on the server: {_READ_ONLY}"
    match = _NON_QUERY_WORDS.match(_without_comments(text))
    if match and match.group(1).split()[0].lower() in STATEMENT_WORDS:
        return f"{match.group(1).split()[0].upper()} statements are not allowed: {_READ_ONLY}"
    return f"the SQL could not be parsed as {dialect}: {_syntax_error(text, dialect, error)}"


# Words a reader's typo is compared with; the whole tokenizer vocabulary would suggest type names.
_CLAUSE_WORDS = (
    "SELECT", "FROM", "WHERE", "GROUP", "ORDER", "BY", "HAVING", "LIMIT", "OFFSET", "JOIN", "LEFT", "RIGHT",
    "INNER", "OUTER", "FULL", "CROSS", "ON", "USING", "AS", "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE",
    "ILIKE", "BETWEEN", "EXISTS", "CASE", "WHEN", "THEN", "ELSE", "END", "DISTINCT", "UNION", "INTERSECT",
    "EXCEPT", "ALL", "WITH", "VALUES", "ASC", "DESC", "OVER", "PARTITION", "WINDOW", "FILTER", "CAST",
    "INTERVAL", "TRUE", "FALSE", "LATERAL", "RECURSIVE", "NULLS", "FIRST", "LAST", "QUALIFY", "TOP",
)
_MAX_REPAIRS = 30  # replacements tried when looking for the misspelt keyword; the text is already length-capped


def _syntax_error(text: str, dialect: str, error: SqlglotError) -> str:
    """Where the SQL broke, in words: a misspelt keyword with its likely spelling, or the spot the parser stopped."""
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(text)
    except SqlglotError:
        tokens = []
    words = [token for token in tokens if token.token_type.name == "VAR" and token.text.isalpha()]
    first = tokens[0] if tokens else None
    # A first word that no query starts with: the statement keyword itself is misspelt (SELEC).
    if first is not None and first in words and first.text.lower() not in _QUERY_STARTS:
        guess = difflib.get_close_matches(first.text.upper(), _CLAUSE_WORDS, n=1, cutoff=0.7)
        hint = f"did you mean {guess[0]}?" if guess else "a query starts with SELECT or WITH"
        return f"`{first.text}` is not a SQL keyword here; {hint}"
    # Elsewhere a name may look like a keyword (orders ~ ORDER): suggest one only if the fixed SQL parses.
    tries = 0
    for token in words:
        if len(token.text) < 3:
            continue
        for guess in difflib.get_close_matches(token.text.upper(), _CLAUSE_WORDS, n=2, cutoff=0.7):
            tries += 1
            if tries > _MAX_REPAIRS:
                break
            repaired = text[: token.start] + guess + text[token.end + 1 :]
            try:
                if any(sqlglot.parse(repaired, read=dialect)):
                    return f"`{token.text}` is not a SQL keyword here; did you mean {guess}?"
            except (SqlglotError, RecursionError):
                continue
    where = (getattr(error, "errors", None) or [{}])[0]
    detail = where.get("description") or (str(error).splitlines()[0] if str(error) else type(error).__name__)
    near = (where.get("highlight") or "").strip()
    if not (near and where.get("line")):
        return detail
    # sqlglot's descriptions name its own classes ("Required keyword: 'this' missing for <class ...>").
    if detail.startswith("Required keyword"):
        detail = "something is missing"
    elif detail.startswith("Invalid expression") or detail.startswith("Expecting"):
        detail = "unexpected text"
    return f"{detail} at `{near[:40]}` (line {where['line']}, column {where['col']})"


def _without_strings(text: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.|'')*'", "''", text)


def _without_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"(--|#)[^\n]*", " ", text)


# --- inspection ----------------------------------------------------------------------------------


def _inspect(tree: exp.Expression, policy: GuardPolicy, dialect: str) -> tuple[str, ...]:
    """Refuse anything that isn't a plain read of allowed tables; return the tables read."""
    _require_query(tree)
    for node in tree.walk():
        _refuse_node(node)
        if isinstance(node, exp.Func) and not function_allowed(node, dialect, policy.extra_functions):
            raise SqlRefused(f"function `{function_name(node)}` is not allowed: queries may call aggregates, window, math, text, "
                             "date and time, cast, conditional and JSON functions (an admin can allow more with "
                             "NL2SQL_ENGINE_EXTRA_FUNCTIONS)")
    _refuse_look_alikes(tree)
    _refuse_catalog_casts(tree)
    analysed = normalize_identifiers(tree.copy(), dialect=dialect)
    try:
        scopes = traverse_scope(analysed)
    except (SqlglotError, RecursionError) as error:
        raise SqlRefused(f"the query's structure could not be analysed: {str(error).splitlines()[0]}") from None
    stored = real_tables(analysed, scopes)
    names = _check_tables(stored, policy, dialect)
    _check_table_functions(analysed, policy)
    _check_sensitive(analysed, scopes, stored, policy)
    return names


def _require_query(tree: exp.Expression) -> None:
    if isinstance(tree, (exp.Select, exp.SetOperation)):
        return
    if isinstance(tree, exp.Subquery) and isinstance(tree.unnest(), (exp.Select, exp.SetOperation)):
        return
    if isinstance(tree, exp.Command) or type(tree).__name__ in _statement_classes():
        raise SqlRefused(f"{statement_name(tree)} statements are not allowed: {_READ_ONLY}")
    # sqlglot reads unknown statements in odd shapes (LISTEN c parses as a column alias); name the
    # first word, which is what a person typed.
    first = tree.sql().split()[0].strip("(").upper() if tree.sql().split() else "this"
    raise SqlRefused(f"{first} statements are not allowed: {_READ_ONLY} (SELECT)")


def _statement_classes() -> set[str]:
    return {cls.__name__ for cls, reason in FORBIDDEN_NODES if reason.endswith(_READ_ONLY)}


def _refuse_node(node: exp.Expression) -> None:
    if isinstance(node, exp.Command):
        raise SqlRefused(f"{statement_name(node)} statements are not allowed: {_READ_ONLY}")
    for cls, reason in FORBIDDEN_NODES:
        if isinstance(node, cls):
            raise SqlRefused(reason)
    if isinstance(node, exp.Func):
        reason = forbidden_function_reason(node)
        if reason:
            raise SqlRefused(reason)
    for comment in node.comments or ():
        # MySQL runs the body of /*! ... */; /*+ ... */ are hints that can change session settings.
        if comment.lstrip().startswith(("!", "+")):
            raise SqlRefused("executable comments (/*! ... */) and hints (/*+ ... */) are not allowed")


_SCRIPT = re.compile(r"^([A-Z]+)")

# PostgreSQL's object identifier types: a cast to one looks a name up in the database's own catalog, so
# `'hidden_tbl'::regclass` answers whether a table the connection excludes exists (and its oid).
_CATALOG_TYPES = frozenset({
    "oid", "regclass", "regcollation", "regconfig", "regdictionary", "regnamespace", "regoper", "regoperator",
    "regproc", "regprocedure", "regrole", "regtype", "xid", "xid8", "cid", "tid",
})


def _refuse_catalog_casts(tree: exp.Expression) -> None:
    # Any type node, wherever the dialect's parser puts it (a CAST's target, `x::t`, T-SQL's `x::t` read as a
    # scope resolution): innermost first, so the message names the type that does the lookup.
    for node in reversed(list(tree.find_all(exp.DataType, exp.ObjectIdentifier))):
        name = node.sql(dialect="postgres").strip('"').lower()
        if isinstance(node, exp.ObjectIdentifier) or name in _CATALOG_TYPES:
            raise SqlRefused(f"a cast to `{name}` looks names up in the database's own catalog; casts to catalog types "
                             "(regclass, regtype, oid and the like) are not allowed: cast to a value type such as text")


def _refuse_look_alikes(tree: exp.Expression) -> None:
    names: list[str] = [str(node.this) for node in tree.find_all(exp.Identifier) if not node.quoted]
    for name in names:
        if name.startswith(("$", "@", ":")):
            # Where sqlglot reads these as names, the database reads a parameter or a variable.
            raise SqlRefused(f"`{name}` looks like a query parameter or variable; {_PARAMETERS}")
    names += [str(node.name) for node in tree.find_all(exp.Anonymous)]
    for name in names:
        if name.isascii():
            continue
        if unicodedata.normalize("NFKC", name) != name:
            raise SqlRefused(f"the name `{name}` uses look-alike characters (e.g. full-width letters); quote it or use plain letters")
        scripts = {
            match.group(1)
            for char in name
            if char.isalpha() and (match := _SCRIPT.match(unicodedata.name(char, "UNKNOWN")))
        }
        if len(scripts) > 1:
            raise SqlRefused(f"the name `{name}` mixes alphabets ({', '.join(sorted(scripts))}), a look-alike trick")


def _allowed_keys(policy: GuardPolicy, dialect: str) -> set[tuple[str | None, str | None, str]]:
    default_schema = normalized(dialect, policy.default_schema) if policy.default_schema else None
    keys = set()
    for entry in policy.allowed_tables:
        parts = [normalized(dialect, part) for part in entry.split(".")]
        if len(parts) == 1:
            keys.add((None, default_schema, parts[0]))
        elif len(parts) == 2:
            keys.add((None, parts[0], parts[1]))
        else:
            keys.add((parts[-3], parts[-2], parts[-1]))
    return keys


def _check_tables(tables: Iterable[exp.Table], policy: GuardPolicy, dialect: str) -> tuple[str, ...]:
    allowed = _allowed_keys(policy, dialect)
    default_schema = normalized(dialect, policy.default_schema) if policy.default_schema else None
    seen: dict[str, None] = {}
    for table in tables:
        if not isinstance(table.this, exp.Identifier):
            raise SqlRefused(f"`{table.sql()}` is not a table of this connection's catalog")
        key = (table.catalog or None, table.db or default_schema, table.name)
        written = ".".join(part for part in (table.catalog, table.db, table.name) if part)
        if key not in allowed:
            raise SqlRefused(f"table `{written}` is not in this connection's catalog")
        seen[".".join(part for part in key if part)] = None
    return tuple(sorted(seen))


def _check_table_functions(tree: exp.Expression, policy: GuardPolicy) -> None:
    sources = [table.this for table in tree.find_all(exp.Table) if isinstance(table.this, exp.Func)]
    sources += [lateral.this for lateral in tree.find_all(exp.Lateral) if isinstance(lateral.this, exp.Func)]
    sources += list(tree.find_all(exp.Unnest))
    for function in sources:
        names = function_names(function) | ({"unnest"} if isinstance(function, exp.Unnest) else set())
        if not names & policy.table_functions:
            shown = function.name if isinstance(function, exp.Anonymous) else sorted(names)[0]
            raise SqlRefused(f"table function `{shown}` is not allowed in FROM; only {', '.join(sorted(policy.table_functions)[:6])}, ... are")


# --- sensitive columns ---------------------------------------------------------------------------


def _check_sensitive(tree: exp.Expression, scopes: list[Scope], tables: list[exp.Table], policy: GuardPolicy) -> None:
    sensitive: dict[str, set[str]] = {}
    for entry in policy.sensitive_columns:
        *table_parts, column = entry.split(".")
        sensitive.setdefault(table_parts[-1].casefold(), set()).add(column.casefold())
    aliases: dict[str, set[str]] = {}
    for table in tables:
        name = table.name.casefold()
        aliases.setdefault(name, set()).add(name)
        aliases.setdefault(table.alias_or_name.casefold(), set()).add(name)
    referenced = {name for names in aliases.values() for name in names}
    exposed = {column for name in referenced for column in sensitive.get(name, ())}
    if not exposed:
        return

    def sensitive_in(table_names: Iterable[str]) -> list[str]:
        return sorted(f"{name}.{column}" for name in table_names for column in sensitive.get(name, ()))

    _refuse_positional_renames(tree, sensitive_in)

    for column in tree.find_all(exp.Column):
        qualifier = column.table.casefold()
        if isinstance(column.this, exp.Star):
            hidden = sensitive_in(aliases.get(qualifier, ()))
            if hidden and not _inside_exists(column):
                raise SqlRefused(f"`{column.sql()}` would expose the sensitive column `{hidden[0]}`; list the columns you need")
            continue
        name = column.name.casefold()
        if not qualifier and name in aliases and sensitive_in(aliases[name]):
            # PostgreSQL reads a bare table name or alias as the whole row, sensitive columns included.
            raise SqlRefused(f"`{column.sql()}` refers to whole rows of a table with sensitive columns; list the columns you need")
        if qualifier:
            hit = any(name in sensitive.get(table, ()) for table in aliases.get(qualifier, ()))
        else:
            hit = name in exposed
        if not hit:
            continue
        if policy.sensitive_in_predicates and _in_predicate(column):
            continue
        where = "only filter on it in WHERE or JOIN ... ON" if policy.sensitive_in_predicates else "it can't be used in queries"
        raise SqlRefused(f"column `{column.name}` is sensitive: its values can't be shown or computed on; {where}")

    # joins that compare columns without naming them: NATURAL on a shared sensitive name, USING (sensitive)
    for join in tree.find_all(exp.Join):
        if str(join.args.get("method") or "").upper() == "NATURAL":
            raise SqlRefused("NATURAL JOIN is not allowed on a connection with sensitive columns: it compares every "
                             "column two tables share; write JOIN ... ON with the columns you mean")
        for ident in join.args.get("using") or ():
            if ident.name.casefold() in exposed and not policy.sensitive_in_predicates:
                raise SqlRefused(f"column `{ident.name}` is sensitive: it can't be used in queries, USING (...) included")

    by_select = {id(scope.expression): scope for scope in scopes}
    for star in tree.find_all(exp.Star):
        select = star.parent
        if not isinstance(select, exp.Select) or star.arg_key != "expressions" or _inside_exists(star):
            continue
        scope = by_select.get(id(select))
        sources = scope.sources.values() if scope else [t for t in tables if t.find_ancestor(exp.Select) is select]
        names = {source.name.casefold() for source in sources if isinstance(source, exp.Table)}
        hidden = sensitive_in(names)
        if hidden:
            raise SqlRefused(f"`SELECT *` would expose the sensitive column `{hidden[0]}`; list the columns you need")


def _refuse_positional_renames(tree: exp.Expression, sensitive_in) -> None:
    """Refuse column alias lists over anything that reads a table with sensitive columns.

    Every other way a value reaches a result or a predicate names its source, and each name is checked where
    it is written (a CTE's, a subquery's or a set operation's own select list included), so following an
    output back through aliases ends at a checked name. An alias list (`people AS q(a, b, c)`, a CTE's
    `x(a, b) AS (...)`, a derived table's `(SELECT ...) t(a, b)`) renames columns by position instead: the
    guard can't tell which name stands for which column (the database's column order, excluded columns
    included, is not in the policy), so none of them may stand for a sensitive one. Alias lists over
    literal rows (`(VALUES ...) v(a, b)`) read no table and stay allowed."""
    for alias in tree.find_all(exp.TableAlias):
        if not alias.args.get("columns"):
            continue
        source = alias.parent
        if isinstance(source, exp.Values):
            source = None if not any(True for _ in source.find_all(exp.Table)) else source
        if source is None:
            continue
        read = [source] if isinstance(source, exp.Table) else list(source.find_all(exp.Table))
        hidden = sensitive_in({table.name.casefold() for table in read})
        if hidden:
            name = alias.name or "the alias"
            raise SqlRefused(f"the column list of `{name}` renames columns by position over a table with the sensitive "
                             f"column `{hidden[0]}`; name each column you need instead (`column AS new_name`)")


def _inside_exists(node: exp.Expression) -> bool:
    """Whether `node` is an item of the select list of an EXISTS subquery (`EXISTS (SELECT * ...)`, which
    yields only true or false). A star anywhere else inside it (`ROW(q.*)`, `to_json(q.*)` in its WHERE) is
    a row value like any other."""
    select = node.parent
    if not isinstance(select, exp.Select) or node.arg_key != "expressions":
        return False
    parent = select.parent
    while isinstance(parent, exp.Subquery):
        parent = parent.parent
    return isinstance(parent, exp.Exists)


def _in_predicate(node: exp.Expression) -> bool:
    """Whether the node sits in the WHERE or JOIN ... ON of its own SELECT (filters rows, shows nothing)."""
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.Join) and child.arg_key in {"on", "using"}:
            return True
        if isinstance(parent, exp.Select):
            return child.arg_key == "where"
        if isinstance(parent, (exp.Subquery, exp.SetOperation)):
            return False
        child, parent = parent, parent.parent
    return False


# --- row cap -------------------------------------------------------------------------------------


def _literal_count(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return int(node.this)
    return None


def _bends_count(node: exp.Expression) -> bool:
    """Whether a LIMIT/FETCH means something other than "at most n rows" (PERCENT, WITH TIES)."""
    options = node.args.get("limit_options")
    flags = (node.args.get("percent"), node.args.get("with_ties"))
    if options is not None:
        flags += (options.args.get("percent"), options.args.get("with_ties"))
    return any(flags)


def _cap_rows(tree: exp.Expression, cap: int) -> tuple[exp.Expression, bool]:
    """Add LIMIT cap, or lower a larger or non-literal limit to it; a smaller literal limit stays."""
    query = tree.unnest() if isinstance(tree, exp.Subquery) and not tree.args.get("limit") else tree
    # sqlglot keeps LIMIT n, TOP n and FETCH FIRST n ROWS ONLY under "limit" (older releases: "fetch").
    for bound in (query.args.get("limit"), query.args.get("fetch")):
        if bound is None:
            continue
        count = _literal_count(bound.args.get("count") if isinstance(bound, exp.Fetch) else bound.expression)
        if count is not None and count <= cap and not _bends_count(bound):
            return query, False
    query = query.copy()
    query.set("limit", None)
    query.set("fetch", None)
    return query.limit(cap, copy=False), True
