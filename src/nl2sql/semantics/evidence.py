"""How well a SQL statement accounts for a question: the question's named columns, tables and literals it uses,
and the literals it uses that the question never named. Selection weighs candidates by it."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from nl2sql.semantics.lexicon import normalize

__all__ = ["QuestionTerms", "sql_fit"]


@dataclass(frozen=True)
class QuestionTerms:
    """What a question names, as the linker read it: per named word, every table, column or value it may mean."""

    words: tuple[frozenset[str], ...]  # per linked word: lower-case table and column names, "=value" literals
    values: frozenset[str]  # normalised literals: sampled values and quoted text
    numbers: frozenset[str]
    text: str  # the question, normalised
    aggregates: frozenset[str] = frozenset()  # aggregates the question's words ask for: count, sum, avg, min, max
    ordered: bool = False  # a superlative or an order ("the most", "sorted by")
    limit: int | None = None  # "top 5"

    @property
    def empty(self) -> bool:
        return not (self.words or self.values or self.numbers)


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)


def sql_fit(sql: str, terms: QuestionTerms, dialect: str) -> float:
    """0..1: the share of the question's terms the SQL uses, less its literals that come from nowhere."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return 0.0
    columns = {c.name.lower() for c in tree.find_all(exp.Column)}
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    strings, numbers = _literals(tree)
    if not terms.words and not terms.numbers:
        return 0.5
    recall = _recall(terms, columns | tables, strings, numbers)
    # literals the question never mentions: a query written for another question
    foreign = [s for s in strings if s not in terms.text and not any(s in v or v in s for v in terms.values)]
    foreign += [n for n in numbers if n not in terms.numbers and n not in ("0", "1", "100", "1.0", "1000")]
    named = len(strings) + len([n for n in numbers if n not in ("0", "1", "100", "1.0", "1000")])
    precision = 1.0 - (len(foreign) / named if named else 0.0)
    grammar = _grammar(tree, terms, columns)
    column_precision = _column_precision(tree, terms)
    fit = 0.4 * recall + 0.15 * column_precision + 0.15 * precision + 0.3 * grammar
    if len(foreign) - sum(1 for n in numbers if n in foreign):
        fit *= 0.7  # it filters on a value the question never names
    return round(fit, 4)


def _literals(tree: exp.Expression) -> tuple[set, set]:
    """The SQL's string literals (normalized, without `%`) and its numbers."""
    strings, numbers = set(), set()
    for literal in tree.find_all(exp.Literal):
        if literal.is_string:
            value = normalize(literal.this.strip("%"))
            if value:
                strings.add(value)
        else:
            numbers.add(_number(literal.this))
    return strings, numbers


def _recall(terms: QuestionTerms, names: set, strings: set, numbers: set) -> float:
    """The share of the question's words and numbers the SQL accounts for."""
    found = 0
    for meanings in terms.words:
        # a word is accounted for when the SQL uses one of the things it may name (or the value it is)
        if any(m in names for m in meanings if not m.startswith("=")) or any(
                m[1:] == s or (len(s) > 1 and m[1:] in s) for m in meanings if m.startswith("=") for s in strings):
            found += 1
    found += sum(1 for n in terms.numbers if n in numbers)
    return found / (len(terms.words) + len(terms.numbers))


def _grammar(tree: exp.Expression, terms: QuestionTerms, columns: set) -> float:
    """The question's grammar: the share of the aggregates, the ordering and the "top N" it asks for that the SQL
    keeps."""
    functions = {type(a).__name__.lower() for a in tree.find_all(exp.AggFunc)}
    asked = 0
    kept = 0
    for func in terms.aggregates:
        asked += 1
        kept += {"count": "count", "sum": "sum", "avg": "avg", "min": "min", "max": "max"}[func] in functions or (
            func == "sum" and any("total" in c or "sum" in c for c in columns))
    if terms.ordered:
        asked += 1
        kept += bool(tree.args.get("order")) or bool(functions & {"max", "min"})
    if terms.limit:
        asked += 1
        limit = tree.args.get("limit")
        kept += limit is not None and str(terms.limit) in limit.sql()
    return kept / asked if asked else 1.0


def _column_precision(tree: exp.Expression, terms: QuestionTerms) -> float:
    """1 less the share of the columns it reads (outside its joins) that no word of the question may mean."""
    bare = tree.copy()
    for join in bare.find_all(exp.Join):
        join.set("on", None)
    meant = set().union(*terms.words) if terms.words else set()
    used = {c.name.lower() for c in bare.find_all(exp.Column)} - {""}
    plain = [c for c in used if not c.endswith(("id", "code", "key"))]
    unasked = [c for c in plain if c not in meant]
    return 1.0 - (len(unasked) / len(plain) if plain else 0.0)
