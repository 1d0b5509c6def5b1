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
    """What a question names, as the linker read it."""

    columns: frozenset[str]  # column names (lower case)
    tables: frozenset[str]
    values: frozenset[str]  # normalised literals: sampled values and quoted text
    numbers: frozenset[str]
    text: str  # the question, normalised

    @property
    def empty(self) -> bool:
        return not (self.columns or self.tables or self.values or self.numbers)


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
    strings, numbers = set(), set()
    for literal in tree.find_all(exp.Literal):
        if literal.is_string:
            value = normalize(literal.this.strip("%"))
            if value:
                strings.add(value)
        else:
            numbers.add(_number(literal.this))
    wanted = [("c", c) for c in terms.columns] + [("t", t) for t in terms.tables] + \
        [("v", v) for v in terms.values] + [("n", n) for n in terms.numbers]
    if not wanted:
        return 0.5
    found = 0.0
    for kind, item in wanted:
        if kind == "c" and item in columns:
            found += 1
        elif kind == "t" and item in tables:
            found += 1
        elif kind == "v" and any(item == s or item in s or s in item for s in strings if len(s) > 1):
            found += 1
        elif kind == "n" and item in numbers:
            found += 1
    recall = found / len(wanted)
    # literals the question never mentions: a query written for another question
    foreign = [s for s in strings if s not in terms.text and not any(s in v or v in s for v in terms.values)]
    foreign += [n for n in numbers if n not in terms.numbers and n not in ("0", "1", "100", "1.0", "1000")]
    named = len(strings) + len([n for n in numbers if n not in ("0", "1", "100", "1.0", "1000")])
    precision = 1.0 - (len(foreign) / named if named else 0.0)
    return round(0.7 * recall + 0.3 * precision, 4)
